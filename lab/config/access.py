"""Rules of credentials: the nodes' root login key pair, and the RHEL subscription."""
from __future__ import annotations

import re
from typing import Any

from lab.config.model import RhelSubscription
from lab.config.reader import Reader


def read(r: Reader, os_flavor: str) -> dict[str, Any]:
    """LabConfig's access fields."""
    public, private = r.get("sshPublicKey"), r.get("sshPrivateKey")
    if (public is None) != (private is None):
        r.problem(
            "sshPublicKey" if public is None else "sshPrivateKey",
            "set both sshPublicKey and sshPrivateKey (--secret), or neither to let the lab generate a key pair",
        )
    if public is not None and not _is_public_key(public):
        r.problem("sshPublicKey", "is not an OpenSSH public key line (ssh-ed25519 AAAA... comment)")
    if private is not None and "PRIVATE KEY-----" not in private.value:
        r.problem("sshPrivateKey", "is not a PEM/OpenSSH private key (-----BEGIN ... PRIVATE KEY-----)")
    elif public is not None and private is not None and _is_public_key(public):
        derived = _public_of(private.value)
        if derived is None:
            r.problem("sshPrivateKey", "cannot be read (a passphrase-protected key is not supported; "
                                       "give an unencrypted key as a secret)")
        elif derived != " ".join(public.split()[:2]):
            r.problem("sshPublicKey", "does not belong to sshPrivateKey: set the pair's public half "
                                      "(ssh-keygen -y -f <private key file>)")
    return {"ssh_public_key": public, "ssh_private_key": private, "rhel": _rhel(r, os_flavor)}


def _is_public_key(line: str) -> bool:
    return re.match(r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+", line) is not None


def _public_of(private_pem: str) -> str | None:
    """`<type> <base64>` of a private key's public half, or None when it cannot be loaded."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

    data = private_pem.strip().encode() + b"\n"
    key: PrivateKeyTypes
    try:
        if b"OPENSSH PRIVATE KEY" in data:
            key = serialization.load_ssh_private_key(data, password=None)
        else:
            key = serialization.load_pem_private_key(data, password=None)
        public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    except (ValueError, TypeError):
        return None
    return " ".join(public.decode().split()[:2])


def _rhel(r: Reader, os_flavor: str) -> RhelSubscription | None:
    user, password = r.get("rhelUsername"), r.get("rhelPassword")
    if os_flavor != "rhel":
        return None
    if user is None:
        r.problem("rhelUsername", "osFlavor rhel needs subscription credentials: set rhelUsername")
    if password is None:
        r.problem("rhelPassword", "osFlavor rhel needs `pulumi config set --secret rhelPassword`")
    return RhelSubscription(user, password) if user and password else None

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
    if public is not None and not re.match(r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+", public):
        r.problem("sshPublicKey", "is not an OpenSSH public key line (ssh-ed25519 AAAA... comment)")
    if private is not None and "PRIVATE KEY-----" not in private.value:
        r.problem("sshPrivateKey", "is not a PEM/OpenSSH private key (-----BEGIN ... PRIVATE KEY-----)")
    return {"ssh_public_key": public, "ssh_private_key": private, "rhel": _rhel(r, os_flavor)}


def _rhel(r: Reader, os_flavor: str) -> RhelSubscription | None:
    user, password = r.get("rhelUsername"), r.get("rhelPassword")
    if os_flavor != "rhel":
        return None
    if user is None:
        r.problem("rhelUsername", "osFlavor rhel needs subscription credentials: set rhelUsername")
    if password is None:
        r.problem("rhelPassword", "osFlavor rhel needs `pulumi config set --secret rhelPassword`")
    return RhelSubscription(user, password) if user and password else None

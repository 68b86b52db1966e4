"""`SshKeyPair`: an Ed25519 key pair generated once and kept in the (encrypted) state.

Used for every node's SSH host key (installed by cloud-init and pinned in every
remote connection) and for the stack's login key when none is configured.
Pulumi pickles the provider by reference (this module's path and the class name), so the path is
part of every stack's state: do not move or rename the module.
"""
from __future__ import annotations

import hashlib
from typing import Any, Optional

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider

from providers.resource import LabResource


def generate_ed25519(comment: str) -> tuple[str, str]:
    """(OpenSSH private key PEM, `ssh-ed25519 AAAA... comment` public line)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return private, f"{public.decode()} {comment}".strip()


class SshKeyPairProvider(ResourceProvider):
    # read and delete are the SDK's: the state is the truth (the key only lives in the state).
    def create(self, props: dict[str, Any]) -> CreateResult:
        private, public = generate_ed25519(props.get("comment") or "")
        fingerprint = hashlib.sha256(public.split()[1].encode()).hexdigest()[:16]
        return CreateResult(f"ed25519-{fingerprint}", {**props, "private_key": private, "public_key": public})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # A new comment means a new key: keys are never edited in place.
        changed = olds.get("comment") != news.get("comment")
        return DiffResult(changes=changed, replaces=["comment"] if changed else [],
                          stables=["private_key", "public_key"])


class SshKeyPair(LabResource):
    private_key: pulumi.Output[str]
    public_key: pulumi.Output[str]

    def __init__(self, name: str, comment: str, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(SshKeyPairProvider(), name, {"comment": comment}, opts,
                         outputs=("private_key", "public_key"), secret_outputs=("private_key",))

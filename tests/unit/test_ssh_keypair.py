"""providers/ssh_keypair.py: the lab's ed25519 keys."""
from cryptography.hazmat.primitives import serialization

from providers.ssh_keypair import SshKeyPairProvider


def test_keypair_create_gives_matching_ed25519_keys():
    outs = SshKeyPairProvider().create({"comment": "host key of x"}).outs
    private = serialization.load_ssh_private_key(outs["private_key"].encode(), password=None)
    public_line = private.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    assert outs["public_key"].startswith("ssh-ed25519 ")
    assert outs["public_key"].split()[:2] == public_line.decode().split()
    assert outs["public_key"].endswith("host key of x")


def test_keypair_is_replaced_only_when_comment_changes():
    provider = SshKeyPairProvider()
    outs = provider.create({"comment": "a"}).outs
    assert provider.diff("id", outs, {"comment": "a"}).changes is False
    diff = provider.diff("id", outs, {"comment": "b"})
    assert diff.changes is True and diff.replaces == ["comment"]


def test_keypairs_are_unique():
    provider = SshKeyPairProvider()
    assert provider.create({"comment": "a"}).outs["public_key"] != provider.create({"comment": "a"}).outs["public_key"]

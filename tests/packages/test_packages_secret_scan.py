"""What the whole tier left: the proxy password in no command output and in no file of the session except the
root-only dnf.conf the lab renders for it."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest

from packagessupport import SquidLogin
from support.command_log import CommandLog
from support.secret_scan import Secrets, assert_absent

pytestmark = pytest.mark.tier_end


def test_the_proxy_password_is_only_in_root_only_dnf_conf(base: Path, command_log: CommandLog,
                                                          proxy_login: SquidLogin) -> None:
    secret = Secrets(packageProxyPassword=proxy_login.password)
    assert command_log.chunks, "no dnf run was logged: nothing to scan"
    assert_absent(secret, command_log.text(), "the tier's command log")
    holders = []
    for path in sorted(base.rglob("*")):
        if path.is_file() and not path.is_symlink() and proxy_login.password.encode() in path.read_bytes():
            holders.append(path)
    assert holders, "no rendered dnf.conf held the password: the login test did not run"
    for path in holders:
        assert path.name == "dnf.conf" and path.parent.name == "dnf", f"the password is in {path.relative_to(base)}"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{path.relative_to(base)} is not root-only"

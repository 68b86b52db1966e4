"""The test harness every tier shares (tests/support/):

- `support`          ROOT, IN_CI, require() (skip locally, fail under CI=true), tail()
- `support.packages` Debian packages through tools/ensure-packages.sh, then a check of the commands used
- `support.debian_archive` a package of any Debian suite, downloaded through a private apt state and unpacked
- `support.program`  a copy of the lab program in a work dir (stack files never land in the checkout)
- `support.pulumi`   the checkout's Pulumi CLI through pulumi.automation's LocalWorkspace: file backend and
                     passphrase in a temp dir, none of the caller's PULUMI_*, optionally inside a netns
- `support.libvirtd` a private libvirtd in its own mount + network namespace (libvirtd.sh; also used by the
                     toolchain's plugin smoke test)
- `support.lan`      the LAN two private libvirtds share (bridges, veths, host A the router)
- `support.sshd`     a real OpenSSH sshd on a private libvirtd's host, for qemu+ssh:// (own config and keys)
- overlay/           the test overlay (OPENSTACK_LAB_TEST_OVERLAY, see overlay/README.md); support.program.overlay_env

Tier-specific helpers live in the tier's own `<tier>support.py` (apisupport, e2esupport); tests/engine
needs none. Scenario state lives in fixtures and objects they return, never in module- or class-level globals.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI") == "true"
SUPPORT = Path(__file__).resolve().parent


def require(condition: object, reason: str) -> None:
    """Skip locally when a tier's prerequisite is missing; under CI=true fail instead."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"prerequisite missing under CI=true (a skipped tier is a failure): {reason}", pytrace=False)
    pytest.skip(reason)


def makefile_value(name: str) -> str:
    """A simple `NAME := value` of the Makefile (one source for a value the tests run as `make` would)."""
    for line in (ROOT / "Makefile").read_text().splitlines():
        key, sep, value = line.partition(" := ")
        if sep and key == name:
            return value.strip()
    raise AssertionError(f"no {name} := ... in the Makefile")


def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])

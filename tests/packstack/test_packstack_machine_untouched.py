"""After every other test of the tier (marker tier_end, tests/conftest.py): the machine is as the tier found it.
Packstack ran as root with real SSH, ssh-keygen, tar and a var dir, yet the machine's /root/.ssh,
/var/tmp/packstack, /etc/hosts and /etc/resolv.conf are unchanged, and no namespace or sshd of the tier is left."""
from __future__ import annotations

import os
import subprocess

import pytest

from machine_state import differences, snapshot

pytestmark = pytest.mark.tier_end


def test_the_machine_is_unchanged_after_the_tier(packstack_runs, machine_before):
    run = packstack_runs["default"]  # at least one real run (every other set of the session ran before this)
    assert run.ok, run.summary()
    assert "/root/.ssh" in machine_before and "/var/tmp/packstack" in machine_before
    changed = differences(machine_before, snapshot())
    assert not changed, "the Packstack tier changed the machine: " + "; ".join(changed)


def test_no_namespace_or_sshd_of_the_tier_is_left(packstack_runs):
    assert packstack_runs.finished, "no Packstack run in this session: nothing to check"
    ours = f"osl-pks-{os.getpid()}-"
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=30).stdout
    assert ours not in namespaces
    processes = subprocess.run(["pgrep", "-af", "sshd"], capture_output=True, text=True, timeout=30).stdout
    left = [line for line in processes.splitlines() if str(packstack_runs.base) in line]
    assert not left, f"sshd of the tier still running: {left}"


def test_no_password_reaches_output_or_messages_and_the_scratch_is_private(packstack_runs):
    runs = packstack_runs.finished
    assert runs, "no Packstack run in this session: nothing to check"
    for name, run in runs.items():
        assert len(run.passwords) >= 30, name
        shown = [repr(run), run.summary(), run.output, run.answers_output]
        leaked = [i for i, text in enumerate(shown) if any(p in text for p in run.passwords)]
        assert not leaked, f"set {name}: a generated password appears in {leaked} (repr, summary, output, answers)"
    assert packstack_runs.base.stat().st_mode & 0o077 == 0, "the session scratch must be mode 0700"

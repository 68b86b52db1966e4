"""Engine tier: a stack made by the program as it was before the plan became the one source (issue 18 items
1+3) previews no change under today's program. The old program (git archive of BEFORE) does a real `up` of
stopAfter=nodes on a private libvirtd (TCG guests on an empty disk); then the same work dir gets today's
program: `preview --expect-no-changes` and a preview without a single non-`same` step, and an `up` that keeps
every output as the old program left it. The unit tier compares every stage's declared resources and
outputs under mocks; this is the real engine on a real state, pickled dynamic providers included.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

import pytest

from support import ROOT, require
from support.libvirtd import PrivateLibvirtd, nodes_stage_config, require_host
from support.program import OVERLAY_VARIABLE, PROGRAM_ENTRIES, VENV, copy_program
from support.pulumi import Workspace, require_toolchain

OVERLAY = "tests/support/overlay"
# main just before issue 18 items 1+3 (LabPlan with `config`, lab_answers(config), hand-listed exports).
BEFORE = "674e8b4"


def old_program(dest: Path) -> Path:
    """The program entries as they were at BEFORE, from git, with the checkout's venv."""
    found = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{BEFORE}^{{commit}}"],
                           capture_output=True, check=False)
    require(found.returncode == 0, f"the checkout's git history (commit {BEFORE}) is needed for the upgrade test")
    entries = [e for e in PROGRAM_ENTRIES if (ROOT / e).exists()]
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", BEFORE, "--", *entries],
                             capture_output=True, check=True).stdout
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    (dest / ".venv").symlink_to(VENV.resolve())
    return dest


def place_overlay(dest: Path, commit: str | None) -> dict[str, str]:
    """The Debian test overlay (tests/support/overlay/) as it was at `commit` (None: today's) in dest, and the
    environment that selects it: the old program refuses keys today's overlay has (packageManager)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("debian-test.yaml", "prep-debian-test.sh"):
        if commit is None:
            shutil.copyfile(ROOT / OVERLAY / name, dest / name)
        else:
            (dest / name).write_bytes(subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:{OVERLAY}/{name}"],
                                                     capture_output=True, check=True).stdout)
    return {OVERLAY_VARIABLE: str(dest / "debian-test.yaml")}


def swap_in_todays_program(work_dir: Path) -> None:
    """Replace the program entries in place (the stack's own Pulumi.<stack>.yaml stays)."""
    for entry in (*PROGRAM_ENTRIES, ".venv"):
        path = work_dir / entry
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
    copy_program(work_dir)


@pytest.fixture(scope="module")
def upgraded():
    require_host()
    require_toolchain()
    base = Path(tempfile.mkdtemp(prefix="osl-engine-upgrade-", dir="/tmp"))
    os.chmod(base, 0o755)  # libvirt/QEMU must reach the pool and image
    stack = None
    try:
        with PrivateLibvirtd(prefix="osl-upgrade") as daemon:
            work_dir = old_program(base / "proj")
            env = place_overlay(base / "overlay", BEFORE)
            stack = Workspace(work_dir, base / "state", env=env).create_stack("upgrade")
            stack.set_config(nodes_stage_config(daemon, base, computes=1, dataDisksGiB=[1]))
            stack.up(timeout=1200)
            before = stack.outputs(show_secrets=True)
            swap_in_todays_program(work_dir)
            place_overlay(base / "overlay", None)  # the same path, today's files
            yield stack, before
            stack.destroy(check=False, timeout=1200)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_the_old_program_made_the_stack(upgraded):
    _, before = upgraded
    assert set(before["nodes"]) == {"controller", "compute1"}
    assert before["sshPrivateKey"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")


def test_todays_program_previews_no_change(upgraded):
    stack, _ = upgraded
    # today's program is the one that runs now
    assert (stack.workspace.work_dir / "__main__.py").read_text() == (ROOT / "__main__.py").read_text()
    stack.preview("--expect-no-changes")
    steps = stack.preview_json()["steps"]
    assert steps and {step["op"] for step in steps} == {"same"}, [(s["op"], s["urn"]) for s in steps]


def test_todays_program_keeps_every_output(upgraded):
    stack, before = upgraded
    stack.up("--expect-no-changes", timeout=1200)
    assert stack.outputs(show_secrets=True) == before

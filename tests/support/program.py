"""The lab program copied into a work dir: each test's stack files (Pulumi.<stack>.yaml) live there, never in
the checkout; the copy's .venv links to the checkout's."""
from __future__ import annotations

import shutil
from pathlib import Path

from support import ROOT, SUPPORT

VENV = ROOT / ".venv"
# What `pulumi` needs of the checkout to run the program.
PROGRAM_ENTRIES = ("Pulumi.yaml", "__main__.py", "lab", "components", "providers", "scripts", "requirements.txt")
OVERLAY_VARIABLE = "OPENSTACK_LAB_TEST_OVERLAY"


def copy_program(dest: Path) -> Path:
    """Copy the program entries to `dest` (created) and link `.venv` to the checkout's."""
    dest.mkdir(parents=True, exist_ok=True)
    for entry in PROGRAM_ENTRIES:
        src = ROOT / entry
        if src.is_dir():
            shutil.copytree(src, dest / entry, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif src.exists():
            shutil.copy2(src, dest / entry)
    (dest / ".venv").symlink_to(VENV.resolve())
    return dest


def tiny_program(dest: Path, project: str, program: str, packages: tuple[str, ...] = ()) -> Path:
    """A Pulumi project of its own in `dest` (created): `program` as __main__.py on the checkout's venv, with
    links to the checkout's `packages` (e.g. "lab", "providers") it imports."""
    dest.mkdir(parents=True)
    (dest / "Pulumi.yaml").write_text(
        f"name: {project}\nruntime:\n  name: python\n  options:\n    toolchain: pip\n"
        f"    virtualenv: {VENV.resolve()}\n")
    (dest / "__main__.py").write_text(program)
    for package in packages:
        (dest / package).symlink_to(ROOT / package)
    return dest


def overlay_env(name: str) -> dict[str, str]:
    """The environment that selects the test overlay tests/support/overlay/<name>.yaml (see its README)."""
    path = SUPPORT / "overlay" / f"{name}.yaml"
    return {OVERLAY_VARIABLE: str(path)}

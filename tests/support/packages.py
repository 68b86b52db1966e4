"""Debian packages a tier needs, installed when missing through tools/ensure-packages.sh (no service starts)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from support import ROOT, require, tail


def find_command(name: str) -> str | None:
    """`name` on PATH or in /usr/sbin (libvirtd and friends are not on a non-root PATH)."""
    found = shutil.which(name)
    if found:
        return found
    sbin = Path("/usr/sbin") / name
    return str(sbin) if sbin.exists() else None


def ensure(packages: tuple[str, ...] | list[str], commands: tuple[str, ...] | list[str] = ()) -> None:
    """Install what is missing of `packages`, then check that every one of `commands` exists: a package list
    that misses one fails here, by name, instead of deep inside a test. require() semantics on failure."""
    script = ROOT / "tools" / "ensure-packages.sh"
    if packages and script.exists() and Path("/usr/bin/dpkg-query").exists():
        proc = subprocess.run(["bash", str(script), *packages], capture_output=True, text=True, timeout=1800,
                              stdin=subprocess.DEVNULL)
        require(proc.returncode == 0, f"tools/ensure-packages.sh {' '.join(packages)} failed: "
                + tail(proc.stdout + proc.stderr, 10))
    for command in commands:
        require(find_command(command), f"{command} not found after installing {' '.join(packages)}")

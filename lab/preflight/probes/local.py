"""This machine read directly: /proc, /sys and the file system (for a host on this machine, its facts)."""
from __future__ import annotations

import os
import re
import shutil
import stat
from pathlib import Path


def read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def usable(path: str) -> bool:
    """This user may read and write `path` (a device or a socket)."""
    return os.access(path, os.R_OK | os.W_OK)


def cpu_virtualization() -> bool:
    """vmx or svm among the CPU flags."""
    return re.search(r"^flags\s*:.*\b(vmx|svm)\b", read("/proc/cpuinfo"), re.MULTILINE) is not None


def mem_available_mib() -> int:
    for line in read("/proc/meminfo").splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) // 1024
    return 0


def closed_dirs(path: str) -> tuple[str, ...]:
    """The directories on the way to `path` that others cannot enter."""
    closed = []
    probe = Path(path)
    for parent in [*reversed(probe.parents), probe]:
        try:
            mode = parent.stat().st_mode
        except OSError:
            break  # the lab creates what does not exist yet
        if not mode & stat.S_IXOTH:
            closed.append(str(parent))
    return tuple(closed)


def free_bytes(path: str) -> int:
    """Free space of the file system that holds `path`, or would once the lab creates it."""
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def sysfs_type(name: str) -> str:
    """What this machine's network namespace has by that name: "bridge", "non-bridge" or "missing"."""
    net = Path("/sys/class/net") / name
    if not net.exists():
        return "missing"
    return "bridge" if (net / "bridge").is_dir() else "non-bridge"

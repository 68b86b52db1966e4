"""What of the machine the Packstack tier must leave exactly as it found it: the places a run escaping its
sandbox would write first (Packstack's SSH keys into root's ~/.ssh, its var dir, the resolver and host
names the sandbox replaces). A snapshot is each entry's type, mode, size, mtime and content digest."""
from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Any

WATCHED = (Path("/root/.ssh"), Path("/var/tmp/packstack"), Path("/etc/hosts"), Path("/etc/resolv.conf"))


def _entry(path: Path) -> tuple[Any, ...]:
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode):
        return ("link", os.readlink(path))
    if stat.S_ISDIR(st.st_mode):
        return ("dir", stat.S_IMODE(st.st_mode), st.st_mtime_ns)
    return ("file", stat.S_IMODE(st.st_mode), st.st_size, st.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())


PACKSTACK_VAR = Path("/var/tmp/packstack")


def _bare_start(path: Path) -> bool:
    """An entry Packstack's import alone makes: the var dir itself (its mtime), `latest`, an empty run dir."""
    if path == PACKSTACK_VAR or path == PACKSTACK_VAR / "latest":
        return True
    return path.parent == PACKSTACK_VAR and path.is_dir() and not path.is_symlink() and not any(path.iterdir())


def snapshot(watched: tuple[Path, ...] = WATCHED) -> dict[str, Any]:
    """path -> entry for every watched path and everything under it; a missing path maps to None."""
    found: dict[str, Any] = {}
    for top in watched:
        if not top.exists() and not top.is_symlink():
            found[str(top)] = None
            continue
        found[str(top)] = ("dir",) if top == PACKSTACK_VAR else _entry(top)  # its mtime moves with a bare start
        if top.is_dir() and not top.is_symlink():
            for dirpath, dirnames, filenames in os.walk(top):
                for name in dirnames + filenames:
                    path = Path(dirpath, name)
                    if not _bare_start(path):
                        found[str(path)] = _entry(path)
    return found


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What changed, one line per path (no content: the paths may hold keys)."""
    lines = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if old != new:
            what = "appeared" if old is None else "disappeared" if new is None else "changed"
            lines.append(f"{path} {what}")
    return lines

"""Processes of this host read from /proc: argv, environment, name, parent, state, listening ports."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path


def proc_argv(pid: int) -> list[str]:
    try:
        return [a.decode(errors="replace") for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
    except OSError:
        return []


def proc_env(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    return dict(item.decode(errors="replace").split("=", 1) for item in raw.split(b"\0") if b"=" in item)


def proc_comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def proc_stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name: state, ppid, ...; [] when the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return stat.rsplit(")", 1)[1].split()


def proc_ppid(pid: int) -> int:
    fields = proc_stat_fields(pid)
    return int(fields[1]) if fields else 0


def proc_state(pid: int) -> str:
    """"R", "S", "Z" (a zombie, gone but not reaped) ...; "" when the process is gone."""
    fields = proc_stat_fields(pid)
    return fields[0] if fields else ""


def exists(pid: int) -> bool:
    """The process is still there: its /proc entry, with a name."""
    return Path(f"/proc/{pid}").exists() and bool(proc_comm(pid))


def all_pids() -> Iterator[int]:
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            yield int(entry)


def listening(pid: int, port: int) -> bool:
    """A LISTEN socket on `port` in the network namespace of `pid` (its /proc/<pid>/net/tcp*)."""
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False

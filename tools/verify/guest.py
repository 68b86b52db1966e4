"""Reaching a server from this host: ping, and SSH with the demo key (`ssh -i`, batch mode, its host key
accepted into a known_hosts file of this run only: the server is new, nothing could have pinned its key)."""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Protocol

Run = Callable[..., subprocess.CompletedProcess]


@dataclass(frozen=True)
class Reply:
    code: int
    output: str  # stdout, then stderr


class Guest(Protocol):
    def ping(self, address: str) -> bool: ...

    def ssh(self, address: str, user: str, command: str, stdin: str = "") -> Reply: ...

    @property
    def key_note(self) -> str: ...


class HostGuest:
    """ping(8) and ssh(1) of this host; `key_file` None: ssh's own keys and agent (a configured demo key)."""

    def __init__(self, key_file: Optional[Path], known_hosts: Path, run: Run = subprocess.run) -> None:
        self.key_file = key_file
        self.known_hosts = known_hosts
        self._run = run

    @property
    def key_note(self) -> str:
        return "the stack's key" if self.key_file else "ssh's own keys (the demo key is not the stack's)"

    def ping(self, address: str) -> bool:
        proc = self._run(["ping", "-c", "1", "-W", "2", address], capture_output=True, text=True, timeout=10,
                         stdin=subprocess.DEVNULL)
        return proc.returncode == 0

    def ssh(self, address: str, user: str, command: str, stdin: str = "") -> Reply:
        argv = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "StrictHostKeyChecking=accept-new",
                "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "LogLevel=ERROR"]
        if self.key_file:
            argv += ["-o", "IdentitiesOnly=yes", "-i", str(self.key_file)]
        try:
            proc = self._run([*argv, f"{user}@{address}", command], input=stdin, capture_output=True, text=True,
                             timeout=60)
        except subprocess.TimeoutExpired:
            return Reply(255, "ssh did not finish within 60 s")
        return Reply(proc.returncode, (proc.stdout or "") + (proc.stderr or ""))

"""The local file backend (PULUMI_BACKEND_URL=file://...): its directory, the program's project, the stack's
state file and its lock files, each lock read as who wrote it and whether that pulumi still runs here."""
from __future__ import annotations

import json
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from .messages import Failure
from .processes import is_pulumi_cli


@dataclass(frozen=True)
class Lock:
    """One lock file `<backend>/.pulumi/locks/.../<stack>/<id>.json` ({pid, username, hostname, timestamp})."""

    path: Path
    pid: int
    host: str
    user: str
    time: str
    local: bool  # written on this host
    alive: bool  # its pid is a pulumi CLI of this host


def backend_dir(url: str) -> Path:
    parsed = urlparse(url)
    if parsed.scheme != "file":
        raise Failure(f"PULUMI_BACKEND_URL={url!r} is not a file backend: recover handles the local file backend "
                      "only (source toolchain/env.sh)")
    path = unquote(parsed.netloc + parsed.path)
    return Path(os.path.expanduser(path))


def project_name(cwd: Path) -> str:
    try:
        text = (cwd / "Pulumi.yaml").read_text()
    except OSError as err:
        raise Failure(f"no Pulumi.yaml in {cwd}: run from the checkout or pass --cwd ({err})") from err
    for line in text.splitlines():
        m = re.match(r"^name:\s*['\"]?([^'\"#\s]+)", line)
        if m:
            return m.group(1)
    raise Failure(f"{cwd / 'Pulumi.yaml'} names no project")


def stack_file(backend: Path, project: str, stack: str) -> Path | None:
    """The stack's state in the backend (project-scoped layout, else the legacy one); None: no such stack."""
    return next(iter(backend.glob(f".pulumi/stacks/{project}/{stack}.json*")), None) or \
        next(iter(backend.glob(f".pulumi/stacks/{stack}.json*")), None)


def lock_files(backend: Path, project: str, stack: str) -> list[Path]:
    locks = backend / ".pulumi" / "locks"
    return sorted([*locks.glob(f"*/{project}/{stack}/*.json"), *locks.glob(f"{stack}/*.json")])


def describe_lock(path: Path) -> Lock:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        doc = {}
    pid = int(doc.get("pid") or 0)
    host = doc.get("hostname", "?")
    local = host == socket.gethostname()
    alive = local and pid > 0 and is_pulumi_cli(pid)
    return Lock(path, pid, host, doc.get("username", "?"), doc.get("timestamp", "?"), local, alive)


def remove_lock(lock: Lock) -> None:
    """The lock file and the `.attrs` file the backend may write beside it."""
    for path in (lock.path, lock.path.with_name(lock.path.name + ".attrs")):
        path.unlink(missing_ok=True)

"""recover's steps in order (nothing is changed until no pulumi of the stack runs and the passphrase opens it),
and its command line."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .backend import (
    Lock,
    backend_dir,
    describe_lock,
    lock_files,
    project_name,
    remove_lock,
    stack_file,
)
from .cli import Cli
from .libvirt_orphans import resolve_pending
from .messages import Failure, say
from .processes import orphaned_plugins, running_clis, stop


def idle_stack_locks(backend_url: str, backend: Path, project: str, stack: str, force: bool = False) -> list[Lock]:
    """The stack's locks once no pulumi of it runs (stale ones: their run was killed); Failure (code 2) naming the
    pid to wait for or interrupt while a pulumi of the stack still runs here, or another host's lock (`force`:
    taken as stale)."""
    locks = [describe_lock(p) for p in lock_files(backend, project, stack)]
    for lock in locks:
        if lock.alive:
            raise Failure(f"pulumi (pid {lock.pid}, since {lock.time}) still runs on stack {stack} and holds its "
                          f"lock: wait for it, or interrupt it with `kill -INT {lock.pid}` (it finishes the "
                          "operations in flight, then releases the lock) and run this again", code=2)
        if not lock.local and not force:
            raise Failure(f"stack {stack} is locked by {lock.user}@{lock.host} (pid {lock.pid}, since "
                          f"{lock.time}): recover on that host, or pass --force when that run is surely gone",
                          code=2)
    others = running_clis(backend_url, stack)
    if others:
        listing = "\n  ".join(f"pid {pid}: {cmd}" for pid, cmd in others)
        raise Failure(f"a pulumi of stack {stack} still runs, nothing changed:\n  {listing}\n  wait for it or "
                      "interrupt it (kill -INT <pid>), then run this again", code=2)
    return locks


def recover(stack: str, cwd: Path, force: bool) -> int:
    backend_url = os.environ.get("PULUMI_BACKEND_URL", "")
    if not backend_url:
        raise Failure("PULUMI_BACKEND_URL is not set: source toolchain/env.sh (make recover does)")
    backend = backend_dir(backend_url)
    project = project_name(cwd)
    cli = Cli(stack, cwd)
    if stack_file(backend, project, stack) is None:
        raise Failure(f"no stack {stack} of project {project} in {backend}", code=3)

    # 1. Who holds the stack? Nothing is changed until no pulumi of it runs.
    locks = idle_stack_locks(backend_url, backend, project, stack, force)

    # 2. The passphrase, before anything is changed.
    cli.check_passphrase()

    # 3. Plugins of a killed run still at work.
    orphans = orphaned_plugins(backend_url, project)
    for pid, cmd in orphans:
        say(f"stopping plugin pid {pid} of a killed pulumi run (its engine is gone): {cmd}")
    stop([pid for pid, _ in orphans])

    # 4. Stale locks.
    for lock in locks:
        say(f"removing the stale lock of pid {lock.pid} ({lock.user}@{lock.host}, {lock.time}; that "
            f"process is gone): {lock.path}")
        remove_lock(lock)

    # 5. Pending operations, then a refresh that drops interrupted creates and reads what libvirt has.
    deployment = cli.export()
    count = resolve_pending(deployment)
    if not locks and not orphans and not count:
        say(f"stack {stack}: no lock, no orphaned plugin, no pending operation; refreshing the state anyway")
    proc = cli.run("refresh", "--yes", "--skip-preview", "--clear-pending-creates", "--parallel", "1", echo=True)
    if proc.returncode != 0:
        raise Failure(f"`pulumi refresh` failed:\n  {proc.stderr.strip()}")
    left = cli.export().get("pending_operations") or []
    if left:
        raise Failure(f"{len(left)} pending operation(s) remain after the refresh: "
                      + ", ".join(f"{op.get('type')} {op.get('resource', {}).get('urn')}" for op in left))
    say(f"stack {stack} recovered: `make up STACK={stack}` converges from here")
    return 0


def main(argv: list[str] | None = None, description: str = "") -> int:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--stack", default=os.environ.get("STACK") or os.environ.get("USER") or "dev")
    parser.add_argument("--cwd", type=Path, default=Path.cwd(), help="the program dir (default: here)")
    parser.add_argument("--force", action="store_true", help="also remove a lock another host wrote")
    args = parser.parse_args(argv)
    try:
        return recover(args.stack, args.cwd.resolve(), args.force)
    except Failure as err:
        print(f"recover: {err}", file=sys.stderr)
        return err.code

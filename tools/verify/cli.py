"""`make verify` (python -m tools.verify --stack NAME): read the stack, connect with its cloudsYaml, run the
checks, clean up. SIGTERM counts as Ctrl-C: the clean-up still runs.

Exit status: 0 passed, 1 a check failed, 2 the stack cannot be read, 130 interrupted."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from tools.verify.cleanup import Cleanup
from tools.verify.cloud import CloudLogin, CloudsYamlError, connect, read_login
from tools.verify.context import Context
from tools.verify.guest import Guest, HostGuest
from tools.verify.runner import Printer
from tools.verify.session import verify
from tools.verify.stack import StackError, StackFacts, StackReader, expectations
from tools.verify.steps import steps

ROOT = Path(__file__).resolve().parents[2]
UNREADABLE = 2


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def private_dir() -> Iterator[Path]:
    """A mode-700 directory of this run (the demo key, mode 600, and the servers' known_hosts), removed after."""
    with tempfile.TemporaryDirectory(prefix="openstack-lab-verify-") as name:
        os.chmod(name, 0o700)
        yield Path(name)


def key_file(directory: Path, private_key: Optional[str], given: Optional[str]) -> Optional[Path]:
    """The key ssh uses: --ssh-key, else the stack's own written mode 600, else none (ssh's own keys)."""
    if given:
        return Path(given)
    if not private_key:
        return None
    path = directory / "demo_key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(private_key if private_key.endswith("\n") else private_key + "\n")
    return path


def describe_run(stack: str, facts: StackFacts, login: CloudLogin) -> str:
    expect = expectations(facts)
    if expect.existing_cloud:
        return f"verify stack {stack}: existing cloud {login.auth_url}, names {expect.names.stem}*"
    return (f"verify stack {stack}: lab computes {', '.join(expect.computes)}, {expect.l2_agent}, "
            f"names {expect.names.stem}*")


def run(stack: str, reader: StackReader, write: Callable[[str], None], ssh_key: Optional[str] = None,
        connector: Callable[[CloudLogin], Any] = connect,
        guest_factory: Callable[[Optional[Path], Path], Guest] = HostGuest) -> int:
    try:
        facts = reader.read(key_needed=ssh_key is None)
        login = read_login(facts.clouds_yaml, facts.plan.networking.names.cloud)
    except (StackError, CloudsYamlError) as err:
        write(f"verify: {err}")
        return UNREADABLE
    printer = Printer(write, secrets=(login.password, *facts.secrets))
    expect = expectations(facts)
    with sigterm_interrupts(), private_dir() as directory:
        printer(describe_run(stack, facts, login))
        conn = connector(login)
        try:
            guest = guest_factory(key_file(directory, facts.private_key, ssh_key), directory / "known_hosts")
            ctx = Context(conn, expect, Cleanup(conn, expect.names, expect.timeouts), guest)
            return verify(ctx, steps(expect), printer)
        finally:
            close = getattr(conn, "close", None)
            if close is not None:
                close()


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Smoke-test the lab's cloud through the stack's cloudsYaml.")
    parser.add_argument("--stack", default=os.environ.get("STACK") or os.environ.get("USER") or "dev")
    parser.add_argument("--cwd", default=str(ROOT), help="the program directory (Pulumi.yaml)")
    parser.add_argument("--ssh-key", default=os.environ.get("VERIFY_SSH_KEY") or None,
                        help="private key of the demo keypair (default: the stack's own, when it holds it)")
    args = parser.parse_args(argv)

    def write(line: str) -> None:
        print(line, flush=True)

    try:
        return run(args.stack, StackReader(args.stack, Path(args.cwd)), write, args.ssh_key)
    except KeyboardInterrupt:  # before the checks began: nothing was created
        write("verify: interrupted before any check")
        return 130


if __name__ == "__main__":
    sys.exit(main())

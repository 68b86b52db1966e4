"""`make stop`, `make start` and `make up`'s stopped-lab check (tools/lifecycle/power.py) run for an e2e stack as the
Makefile runs them: the checkout's module on the stack's program copy (`--cwd`), inside host A's network namespace
(where the harness's pulumi and ssh run), with the workspace's backend, passphrase and overlay; and the domain states
the test reads with its own virsh."""
from __future__ import annotations

import subprocess
import time
from typing import Iterable

from e2esupport import LabStack, log
from support import ROOT
from support.libvirtd import PrivateLibvirtd
from support.pulumi import clean_env

TOOL_TIMEOUT = 1800  # a bound on one stop or start of the tool (its own waits are bounded lower)


def power(stack: LabStack, daemon: PrivateLibvirtd, command: str, *extra: str) -> subprocess.CompletedProcess:
    argv = daemon.ns([str(ROOT / ".venv" / "bin" / "python"), "-m", "tools.lifecycle.power", command,
                      "--stack", stack.name, "--cwd", str(stack.workspace.work_dir), *extra])
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, env=clean_env(stack.workspace.env), capture_output=True, text=True,
                          timeout=TOOL_TIMEOUT, stdin=subprocess.DEVNULL)
    log(f"power {command} of {stack.name}: exit {proc.returncode} after {time.monotonic() - started:.1f} s\n"
        f"{proc.stdout}{proc.stderr}")
    return proc


def states(daemon: PrivateLibvirtd, domains: Iterable[str]) -> dict[str, str]:
    return {domain: daemon.virsh("domstate", domain).strip() for domain in domains}


def lines_naming(text: str, words: Iterable[str]) -> list[str]:
    """The lines of `text` that name one of `words`, in order (which node the tool acted on first)."""
    return [line for line in text.splitlines() if any(word in line for word in words)]


def wait_ssh(stack: LabStack, addresses: Iterable[str], bound: float) -> float:
    """Seconds until every address accepts the stack's login with its pinned host key (at most `bound`: then
    the addresses that did not, as an AssertionError)."""
    started, left = time.monotonic(), list(addresses)
    while left and time.monotonic() - started < bound:
        left = [a for a in left
                if subprocess.run(stack.ssh_argv(a, "true", connect_timeout=3), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, timeout=30).returncode != 0]
        if left:
            time.sleep(2)
    assert not left, f"no SSH login on {left} within {bound:.0f} s"
    return round(time.monotonic() - started, 1)

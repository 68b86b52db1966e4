"""The pulumi processes of this host that matter to a stack: CLIs of the stack still running, and plugins of a
killed run (language host, dynamic providers, the libvirt plugin) whose engine is gone; stopping those."""
from __future__ import annotations

import os
import re
import signal
import time

from .procfs import (
    all_pids,
    exists,
    listening,
    proc_argv,
    proc_comm,
    proc_env,
    proc_ppid,
    proc_state,
)

# A plugin's argv names its engine's address.
ENGINE_ADDR = re.compile(r"^127\.0\.0\.1:(\d+)$")
# How long stopped plugins get to exit after SIGTERM before SIGKILL.
STOP_GRACE_S = 5


def is_pulumi_cli(pid: int) -> bool:
    return proc_comm(pid) == "pulumi"


def has_pulumi_ancestor(pid: int) -> bool:
    seen = set()
    pid = proc_ppid(pid)
    while pid > 1 and pid not in seen:
        seen.add(pid)
        if is_pulumi_cli(pid):
            return True
        pid = proc_ppid(pid)
    return False


def same_backend(env: dict[str, str], backend_url: str) -> bool:
    return env.get("PULUMI_BACKEND_URL", "").rstrip("/") == backend_url.rstrip("/")


def stack_of(argv: list[str]) -> str | None:
    for i, arg in enumerate(argv):
        if arg in ("--stack", "-s") and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--stack="):
            return arg.split("=", 1)[1]
    return None


def running_clis(backend_url: str, stack: str) -> list[tuple[int, str]]:
    """pulumi CLI processes on this backend that name this stack (or name none: they use the selected one)."""
    found = []
    for pid in all_pids():
        if not is_pulumi_cli(pid) or not same_backend(proc_env(pid), backend_url):
            continue
        argv = proc_argv(pid)
        if stack_of(argv) in (stack, None) and len(argv) > 1 and argv[1:2] != ["version"]:
            found.append((pid, " ".join(argv)))
    return found


def orphaned_plugins(backend_url: str, project: str) -> list[tuple[int, str]]:
    """Plugin processes of this backend (and project, where they say) whose engine (the CLI) is gone."""
    found = []
    for pid in all_pids():
        argv = proc_argv(pid)
        ports = [int(m.group(1)) for m in map(ENGINE_ADDR.match, argv[1:]) if m]
        if not ports or is_pulumi_cli(pid):
            continue
        env = proc_env(pid)
        if not same_backend(env, backend_url) or env.get("PULUMI_PROJECT", project) != project:
            continue
        if has_pulumi_ancestor(pid) or any(listening(pid, port) for port in ports):
            continue
        found.append((pid, " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(argv[:6]))))
    return found


def stop(pids: list[int]) -> None:
    """SIGTERM, a bounded wait for them to exit, then SIGKILL for those still running (not a zombie)."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < deadline and any(exists(p) for p in pids):
        time.sleep(0.2)
    for pid in pids:
        if proc_state(pid) not in ("", "Z"):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

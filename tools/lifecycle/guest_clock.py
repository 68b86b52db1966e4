"""A reverted node's clock set to this host's time: the guest agent's `virsh domtime --sync` where the domain has
an agent channel (org.qemu.guest_agent.0) and an agent answers on it, otherwise scripts/clock-set.sh over SSH as root
with the stack's login key and pinned host keys. The script says `ready`, this side answers with its time at once
(the one-line round trip is the error), the script sets the clock and prints the offset it corrected. Bounded: SSH's
connect timeout, the script's 30 s read, CLOCK_TIMEOUT_S in all."""
from __future__ import annotations

import re
import select
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from providers.libvirt_virsh import VirshError, run_virsh

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "clock-set.sh"
AGENT_CHANNEL = "org.qemu.guest_agent.0"
# What libvirt says when the channel exists but no qemu-guest-agent runs in the guest (libvirt 7-10).
AGENT_ABSENT = ("not connected", "not responding", "not configured")
CLOCK_TIMEOUT_S = 90
SSH_CONNECT_TIMEOUT_S = 20


class ClockFailed(Exception):
    pass


@dataclass(frozen=True)
class Login:
    """Root login to the nodes: the stack's key and the nodes' pinned host keys, as files of this run (mode 600)."""

    key_file: Path
    known_hosts: Path


def has_agent(uri: str, domain: str) -> bool:
    return re.search(rf"name=['\"]{re.escape(AGENT_CHANNEL)}['\"]", run_virsh(uri, "dumpxml", domain)) is not None


def sync_by_agent(uri: str, domain: str) -> str:
    try:
        run_virsh(uri, "domtime", domain, "--sync", timeout=CLOCK_TIMEOUT_S)
    except VirshError as err:
        raise ClockFailed(f"guest agent of {domain}: {err}") from None
    return "guest agent (domtime --sync)"


def ssh_argv(login: Login, address: str) -> list[str]:
    return ["ssh", "-i", str(login.key_file), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", f"ConnectTimeout={SSH_CONNECT_TIMEOUT_S}", "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={login.known_hosts}", "-o", "LogLevel=ERROR", f"root@{address}",
            SCRIPT.read_text()]


def sync_by_ssh(login: Login, address: str, now: Callable[[], float] = time.time) -> str:
    """clock-set.sh on the node; what it corrected."""
    proc = subprocess.Popen(ssh_argv(login, address), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + CLOCK_TIMEOUT_S
    try:
        ready, _, _ = select.select([proc.stdout], [], [], CLOCK_TIMEOUT_S)
        # The script sends nothing after `ready` until it has the time: nothing more waits in stdout's buffer.
        line = proc.stdout.readline() if ready else ""
        answer = f"{now():.6f}\n" if line.strip() == "ready" else ""
        out, err = proc.communicate(answer, timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise ClockFailed(f"root@{address}: clock-set.sh did not finish within {CLOCK_TIMEOUT_S} s") from None
    found = re.search(r"offset_seconds=(-?[0-9.]+)", out)
    if proc.returncode != 0 or found is None:
        said = (err.strip() or out.strip() or f"exit {proc.returncode}").splitlines()[-1]
        raise ClockFailed(f"root@{address}: setting the clock over SSH failed: {said}")
    return f"SSH, corrected {float(found.group(1)):+.1f} s"


def sync(uri: str, domain: str, address: str, login: Login) -> str:
    """The node's clock set to this host's time; how, and what it corrected. The libvirt provider gives every domain
    the agent channel, but only a guest that runs qemu-guest-agent answers on it: otherwise SSH."""
    try:
        agent = has_agent(uri, domain)
    except VirshError as err:
        raise ClockFailed(str(err)) from None
    if agent:
        try:
            return sync_by_agent(uri, domain)
        except ClockFailed as err:
            if not any(mark in str(err) for mark in AGENT_ABSENT):
                raise
            return f"{sync_by_ssh(login, address)} (no guest agent answers)"
    return sync_by_ssh(login, address)

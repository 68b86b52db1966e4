"""A reverted node's clock set to this host's time: the guest agent's `virsh domtime --sync` where the domain has
an agent channel (org.qemu.guest_agent.0) and an agent answers on it, otherwise scripts/clock-set.sh over SSH as root
with the stack's login key and pinned host keys. The script says `ready`, this side answers with its time at once
(the one-line round trip is the error), the script sets the clock and prints the offset it corrected. Bounded: SSH's
connect timeout, the script's 30 s read, CLOCK_TIMEOUT_S a try. A node just resumed from its snapshot may not answer
at once (CI saw `No route to host` right after the resume: the new tap's bridge port forwards only after the bridge's
forward delay, and the host's neighbour entry for the node failed meanwhile), so connect-level failures are tried
again for at most SSH_REACH_TIMEOUT_S; a refused login or a failing script is not."""
from __future__ import annotations

import re
import select
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from providers.libvirt_virsh import VirshError, run_virsh
from providers.polling import NotYet, TimedOut, poll

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "clock-set.sh"
AGENT_CHANNEL = "org.qemu.guest_agent.0"
# What libvirt says when the channel exists but no qemu-guest-agent runs in the guest (libvirt 7-10).
AGENT_ABSENT = ("not connected", "not responding", "not configured")
CLOCK_TIMEOUT_S = 90
SSH_CONNECT_TIMEOUT_S = 20
SSH_REACH_TIMEOUT_S = 180
SSH_RETRY_PAUSE_S = 3.0
# What OpenSSH says (exit 255) when it did not reach the node's sshd: worth another try; anything else is not.
CONNECT_FAILURES = ("No route to host", "Connection refused", "Connection timed out", "Network is unreachable",
                    "Connection reset", "Connection closed by", "kex_exchange_identification")


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


def sync_by_ssh(login: Login, address: str, now: Callable[[], float] = time.time,
                sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                reach_timeout: float = SSH_REACH_TIMEOUT_S) -> str:
    """clock-set.sh on the node once its sshd answers (bounded by reach_timeout); what it corrected."""
    try:
        answer = poll(lambda: clock_set_once(login, address, now), reach_timeout, SSH_RETRY_PAUSE_S,
                      clock=clock, sleep=sleep)
    except TimedOut as err:
        raise ClockFailed(f"root@{address}: SSH did not answer within {reach_timeout:.0f} s of the resume "
                          f"({err.attempts} tries): {err.last_error}") from None
    tries = f", SSH answered on try {answer.attempts} after {answer.seconds} s" if answer.attempts > 1 else ""
    return f"{answer.value}{tries}"


def clock_set_once(login: Login, address: str, now: Callable[[], float]) -> str:
    """One SSH run of clock-set.sh; NotYet when SSH did not reach the node."""
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
        if proc.returncode == 255 and not line and any(mark in said for mark in CONNECT_FAILURES):
            raise NotYet(said)
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

"""Powering a lab's nodes off and on in order (`make stop`, `make start`), and telling whether a lab is stopped
(`make up` refuses a stopped lab: see `stopped()`).

A node's domain is `NodePlan.libvirt_name` on its host's URI (components/lab_node.py names the domain so), read
and driven with virsh (`domstate`, `shutdown`, `destroy`, `start`, `resume`) through a `Virsh` callable: in use
providers/libvirt_virsh.run_virsh on the URI `reached()` gave, in the unit tier a fake. Existing machines
(existingComputes) are never stopped or started: the lab does not own them.

Stop: the computes first, all at once (`virsh shutdown`: an ACPI power-button press the guest's systemd turns
into a clean poweroff), waiting until `virsh domstate` reads `shut off` for each, at most `shutdown_timeout` s;
then the controller the same way, so that the services the computes report to (RabbitMQ, Nova's conductor, OVN's
southbound database) are the last to go. A domain still on at its deadline is forced off (`virsh destroy`: the
plug pulled), with a warning naming it, and waited for another `FORCED_OFF_TIMEOUT_S`.
Start: see `start()`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Protocol, Sequence

from lab.libvirt_ssh import console_command
from lab.plan import LabPlan
from providers.libvirt_virsh import VirshError
from providers.polling import NotYet, TimedOut, poll

Virsh = Callable[..., str]  # virsh(uri, *args) -> stdout; VirshError on failure
Say = Callable[[str], None]

SHUT_OFF = "shut off"
ABSENT = "absent"  # no such domain on its host (never created, or destroyed)
PAUSE_S = 2.0
FORCED_OFF_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class LabDomain:
    node: str
    role: str  # controller | compute
    domain: str
    uri: str  # the host's URI as configured (what messages name)
    address: str  # management IP

    def label(self) -> str:
        return f"{self.node} ({self.domain} on {self.uri})"


def lab_domains(lab: LabPlan) -> list[LabDomain]:
    """The lab's own nodes, controller first (the plan's order)."""
    domains = []
    for node in lab.lab_nodes:
        assert node.libvirt_uri is not None  # a node the lab creates sits on a host
        domains.append(LabDomain(node.name, node.role, node.libvirt_name, node.libvirt_uri, node.management_ip))
    return domains


def existing_note(lab: LabPlan) -> Optional[str]:
    names = [machine.name for machine in lab.existing_machines]
    if not names:
        return None
    return f"existing machines {', '.join(names)}: not stopped or started by the lab (it does not own them)"


class Power:
    """virsh on the lab's domains: `usable` maps a configured host URI to the one virsh reaches it by."""

    def __init__(self, virsh: Virsh, usable: dict[str, str], say: Say = print,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.virsh, self.usable, self.say, self.clock, self.sleep = virsh, usable, say, clock, sleep

    def run(self, domain: LabDomain, *args: str) -> str:
        return self.virsh(self.usable.get(domain.uri, domain.uri), *args)

    def state(self, domain: LabDomain) -> str:
        try:
            return self.run(domain, "domstate", domain.domain).strip()
        except VirshError as err:
            if "failed to get domain" in err.detail or "Domain not found" in err.detail:
                return ABSENT
            raise

    def wait_off(self, domains: Sequence[LabDomain], timeout: float) -> list[LabDomain]:
        """Wait until each domain reads `shut off` (or is gone), at most `timeout` s; those still on."""
        left = list(domains)

        def all_off() -> None:
            left[:] = [d for d in left if self.state(d) not in (SHUT_OFF, ABSENT)]
            if left:
                raise NotYet(", ".join(d.node for d in left))

        try:
            poll(all_off, timeout, PAUSE_S, clock=self.clock, sleep=self.sleep)
        except TimedOut:
            pass
        return left

    def stop_group(self, domains: Sequence[LabDomain], shutdown_timeout: float) -> StopResult:
        result = StopResult()
        on = [d for d in domains if self.state(d) not in (SHUT_OFF, ABSENT)]
        result.already_off = [d.node for d in domains if d not in on]
        if not on:
            return result
        started = self.clock()
        for domain in on:
            self.say(f"stop: {domain.label()}: virsh shutdown")
            self.run(domain, "shutdown", domain.domain)
        left = self.wait_off(on, shutdown_timeout)
        result.clean = [d.node for d in on if d not in left]
        if result.clean:
            self.say(f"stop: {', '.join(result.clean)} shut off after {self.clock() - started:.1f} s")
        for domain in left:
            self.say(f"warning: {domain.label()} did not shut down within {shutdown_timeout:.0f} s (waited for "
                     "`virsh domstate` to read `shut off`); forcing it off with `virsh destroy` (as pulling the "
                     "plug: what it had not written to disk is lost)")
            self.run(domain, "destroy", domain.domain)
            result.forced.append(domain.node)
        still = self.wait_off(left, FORCED_OFF_TIMEOUT_S)
        if still:
            raise PowerError(f"{', '.join(d.label() for d in still)} still not shut off {FORCED_OFF_TIMEOUT_S:.0f} s "
                             "after `virsh destroy`: look at the host (`virsh domstate`, libvirtd's log)")
        return result

    def power_on(self, domains: Sequence[LabDomain]) -> list[str]:
        """Start (or resume) each domain not running; the nodes it started."""
        started = []
        for domain in domains:
            state = self.state(domain)
            if state == ABSENT:
                raise PowerError(f"{domain.label()} does not exist: `make up` creates it")
            if state == "running":
                continue
            action = "resume" if state == "paused" else "start"
            self.say(f"start: {domain.label()}: virsh {action} (was {state})")
            self.run(domain, action, domain.domain)
            started.append(domain.node)
        return started


class PowerError(Exception):
    """The lab could not be stopped or started; the message says which node and what to look at."""


@dataclass
class StopResult:
    clean: list[str] = field(default_factory=list)
    forced: list[str] = field(default_factory=list)
    already_off: list[str] = field(default_factory=list)


def stop(domains: Sequence[LabDomain], power: Power, shutdown_timeout: float) -> StopResult:
    """The computes, then the controller: each group shut down, bounded, the rest forced off."""
    result = StopResult()
    for group in ([d for d in domains if d.role != "controller"], [d for d in domains if d.role == "controller"]):
        part = power.stop_group(group, shutdown_timeout)
        result.clean += part.clean
        result.forced += part.forced
        result.already_off += part.already_off
    return result


def stopped(domains: Sequence[LabDomain], power: Power) -> list[LabDomain]:
    """The lab's domains that exist and are shut off."""
    return [d for d in domains if power.state(d) == SHUT_OFF]


class SshProbe(Protocol):
    def __call__(self, address: str) -> Optional[str]: ...  # None when sshd answers, else what was seen


class CloudWaits(Protocol):
    """What start waits for in a cloud Packstack made (tools/lifecycle/cloud_ready.py)."""

    def ready(self, timeout: float) -> dict[str, str]: ...  # Keystone + Nova API up: host -> last heartbeat

    def computes_up(self, hosts: Sequence[str], before: dict[str, str], timeout: float) -> None: ...


@dataclass(frozen=True)
class Timeouts:
    ssh: float  # bootTimeout
    keystone: float  # keystoneTimeout
    computes: float


def wait_ssh(domains: Sequence[LabDomain], probe: SshProbe, timeout: float, power: Power) -> None:
    left = list(domains)
    seen: dict[str, str] = {}

    def all_answer() -> None:
        for domain in list(left):
            problem = probe(domain.address)
            if problem is None:
                left.remove(domain)
            else:
                seen[domain.node] = problem
        if left:
            raise NotYet("; ".join(f"{d.node} {d.address}:22: {seen[d.node]}" for d in left))

    if not left:
        return
    try:
        answer = poll(all_answer, timeout, PAUSE_S, clock=power.clock, sleep=power.sleep)
    except TimedOut as err:
        raise PowerError(f"gave up waiting for SSH after {timeout:.0f} s (bootTimeout): {err.last_error}; its "
                         f"console: {console_command(domains[0].uri, domains[0].domain)}") from None
    power.say(f"start: SSH answers on {', '.join(d.node for d in domains)} after {answer.seconds:.1f} s")


def start(domains: Sequence[LabDomain], power: Power, probe: SshProbe, cloud: Optional[CloudWaits],
          timeouts: Timeouts, compute_hosts: Sequence[str] = ()) -> None:
    """The controller first, until its SSH answers and, in a cloud Packstack made (`cloud`), Keystone issues a
    token and Nova's API answers; then the computes until their SSH answers; then until Nova lists each of
    `compute_hosts` (the lab's computes and existing machines, which were never stopped) up with a heartbeat newer
    than the one seen before the computes started."""
    controller = [d for d in domains if d.role == "controller"]
    computes = [d for d in domains if d.role != "controller"]
    power.power_on(controller)
    wait_ssh(controller, probe, timeouts.ssh, power)
    before: dict[str, str] = {}
    if cloud is not None:
        before = cloud.ready(timeouts.keystone)
    power.power_on(computes)
    wait_ssh(computes, probe, timeouts.ssh, power)
    if cloud is not None and compute_hosts:
        cloud.computes_up(compute_hosts, before, timeouts.computes)

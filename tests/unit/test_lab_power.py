"""tools/lifecycle/lab_power.py: the order of `make stop` and `make start`, their bounded waits on an injected clock,
the forced-off warning, existing machines left alone, and the stopped-lab check; on a simulated libvirt host whose
guests take a set time to power off or to answer SSH."""
from __future__ import annotations

from typing import Optional

import pytest

from harness import BASE, LOGIN, TWO_HOSTS, lab_config
from lab.plan import plan
from providers.libvirt_virsh import VirshError, run_virsh
from fake_clock import FakeClock as Clock
from tools.lifecycle.lab_power import (ABSENT, LabDomain, Power, PowerError, Timeouts, existing_note, lab_domains,
                                       start, stop, stopped)


class Host:
    """libvirt domains on a virtual clock: `shutdown` powers a domain off `off_after[name]` s later (never when
    None: the guest ignores the power button), `start` makes it answer SSH `ssh_after` s later."""

    def __init__(self, clock: Clock, states: dict[str, str], off_after: Optional[dict[str, Optional[float]]] = None,
                 ssh_after: float = 30.0) -> None:
        self.clock, self.states = clock, dict(states)
        self.off_after = off_after or {}
        self.ssh_after = ssh_after
        self.off_at: dict[str, float] = {}
        self.ssh_at: dict[str, float] = {name: 0.0 for name, s in states.items() if s == "running"}
        self.calls: list[tuple[float, str, str, str]] = []  # time, uri, verb, domain

    def virsh(self, uri: str, verb: str, name: str) -> str:
        self.calls.append((self.clock.now, uri, verb, name))
        if name not in self.states:
            raise VirshError(["virsh", verb, name], f"failed to get domain '{name}'")
        self._settle()
        if verb == "domstate":
            return self.states[name] + "\n"
        if verb == "shutdown":
            delay = self.off_after.get(name, 20.0)
            if delay is not None:
                self.off_at[name] = self.clock.now + delay
        elif verb == "destroy":
            self.states[name] = "shut off"
        elif verb in ("start", "resume"):
            self.states[name] = "running"
            self.ssh_at[name] = self.clock.now + self.ssh_after
        return ""

    def _settle(self) -> None:
        for name, at in list(self.off_at.items()):
            if self.clock.now >= at:
                self.states[name] = "shut off"
                self.ssh_at.pop(name, None)
                del self.off_at[name]

    def verbs(self, *verbs: str) -> list[tuple[str, str]]:
        return [(verb, name) for _, _, verb, name in self.calls if verb in verbs]

    def first(self, verb: str, name: str) -> float:
        return next(t for t, _, v, n in self.calls if v == verb and n == name)


def domains(*computes: str) -> list[LabDomain]:
    nodes = [("controller", "controller", "10.0.0.10")] + [(c, "compute", f"10.0.0.{11 + i}")
                                                           for i, c in enumerate(computes)]
    return [LabDomain(name, role, f"lab-{name}", "qemu:///system", address) for name, role, address in nodes]


def power(host: Host, clock: Clock, lines: list[str]) -> Power:
    return Power(host.virsh, {"qemu:///system": "qemu:///system"}, lines.append, clock=clock, sleep=clock.sleep)


def setup(states: dict[str, str], **host_options) -> tuple[Clock, Host, list[str], Power]:
    clock, lines = Clock(), []
    host = Host(clock, states, **host_options)
    return clock, host, lines, power(host, clock, lines)


ALL_ON = {"lab-controller": "running", "lab-compute1": "running", "lab-compute2": "running"}


def test_stop_shuts_down_the_computes_first_and_the_controller_once_they_are_off():
    clock, host, lines, pw = setup(ALL_ON, off_after={"lab-compute1": 10, "lab-compute2": 25, "lab-controller": 15})
    result = stop(domains("compute1", "compute2"), pw, shutdown_timeout=180)
    assert host.verbs("shutdown") == [("shutdown", "lab-compute1"), ("shutdown", "lab-compute2"),
                                      ("shutdown", "lab-controller")]
    assert host.first("shutdown", "lab-controller") >= 25  # after the slower compute read shut off
    assert set(host.states.values()) == {"shut off"}
    assert (sorted(result.clean), result.forced) == (["compute1", "compute2", "controller"], [])
    assert not [line for line in lines if line.startswith("warning")]


def test_a_guest_that_ignores_shutdown_is_forced_off_at_the_bound_with_a_warning():
    clock, host, lines, pw = setup(ALL_ON, off_after={"lab-compute2": None})
    result = stop(domains("compute1", "compute2"), pw, shutdown_timeout=60)
    assert result.forced == ["compute2"] and sorted(result.clean) == ["compute1", "controller"]
    destroyed_at = host.first("destroy", "lab-compute2")
    assert 60 - 2 <= destroyed_at <= 60 + 2  # at the bound (one poll pause), not before
    calls = host.verbs("shutdown", "destroy")
    assert calls.index(("shutdown", "lab-controller")) > calls.index(("destroy", "lab-compute2"))  # still last
    warning = [line for line in lines if line.startswith("warning")]
    assert len(warning) == 1 and "compute2" in warning[0] and "within 60 s" in warning[0] \
        and "virsh destroy" in warning[0] and "shut off" in warning[0]


def test_a_domain_that_stays_on_after_destroy_fails_naming_it():
    clock, host, lines, pw = setup({"lab-controller": "running"}, off_after={"lab-controller": None})
    host_virsh = host.virsh

    def stuck(uri: str, verb: str, name: str) -> str:
        return "" if verb == "destroy" else host_virsh(uri, verb, name)

    pw.virsh = stuck
    with pytest.raises(PowerError, match=r"controller .*still not shut off 30 s after `virsh destroy`"):
        stop(domains(), pw, shutdown_timeout=10)


def test_stop_leaves_domains_already_off_alone():
    clock, host, lines, pw = setup({**ALL_ON, "lab-compute1": "shut off"})
    result = stop(domains("compute1", "compute2"), pw, shutdown_timeout=180)
    assert ("shutdown", "lab-compute1") not in host.verbs("shutdown") and result.already_off == ["compute1"]


def ssh_probe(host: Host, clock: Clock, by_address: dict[str, str]):
    def probe(address: str) -> Optional[str]:
        name = by_address[address]
        at = host.ssh_at.get(name)
        return None if at is not None and clock.now >= at and host.states[name] == "running" else "Connection refused"
    return probe


class Cloud:
    """Keystone and Nova as start sees them: ready once the controller has run `ready_after` s."""

    def __init__(self, host: Host, clock: Clock, ready_after: float = 50.0) -> None:
        self.host, self.clock, self.ready_after = host, clock, ready_after
        self.events: list[tuple[str, float]] = []

    def ready(self, timeout: float) -> dict[str, str]:
        self.events.append(("ready", self.clock.now))
        self.clock.now = max(self.clock.now, self.host.first("start", "lab-controller") + self.ready_after)
        return {"compute1": "down@before"}

    def computes_up(self, hosts, before, timeout) -> None:
        self.events.append(("computes_up", self.clock.now))
        self.hosts, self.before, self.timeout = list(hosts), before, timeout


OFF = {"lab-controller": "shut off", "lab-compute1": "shut off", "lab-compute2": "shut off"}
ADDRESSES = {"10.0.0.10": "lab-controller", "10.0.0.11": "lab-compute1", "10.0.0.12": "lab-compute2"}


def test_start_brings_the_controller_and_keystone_first_then_the_computes_then_waits_for_nova():
    clock, host, lines, pw = setup(OFF, ssh_after=40)
    cloud = Cloud(host, clock)
    start(domains("compute1", "compute2"), pw, ssh_probe(host, clock, ADDRESSES), cloud,
          Timeouts(ssh=900, keystone=900, computes=600), ["compute1", "compute2", "phys1"])
    assert host.verbs("start") == [("start", "lab-controller"), ("start", "lab-compute1"), ("start", "lab-compute2")]
    controller_ssh = host.first("start", "lab-controller") + 40
    assert cloud.events[0][0] == "ready" and cloud.events[0][1] >= controller_ssh  # after its SSH answered
    # the computes after Keystone answered (50 s after the controller's start, 10 s after its SSH)
    assert host.first("start", "lab-compute1") >= max(controller_ssh, host.first("start", "lab-controller") + 50)
    assert host.verbs("start").index(("start", "lab-compute1")) == 1
    assert cloud.events[1] == ("computes_up", cloud.events[1][1]) and cloud.events[1][1] >= \
        host.first("start", "lab-compute2") + 40
    assert cloud.hosts == ["compute1", "compute2", "phys1"] and cloud.before == {"compute1": "down@before"}
    assert cloud.timeout == 600
    assert [line for line in lines if "SSH answers" in line] == [
        "start: SSH answers on controller after 40.0 s", "start: SSH answers on compute1, compute2 after 40.0 s"]


def test_start_without_a_cloud_waits_for_ssh_only_and_skips_running_domains():
    clock, host, lines, pw = setup({**OFF, "lab-compute2": "running"})
    start(domains("compute1", "compute2"), pw, ssh_probe(host, clock, ADDRESSES), None,
          Timeouts(ssh=900, keystone=900, computes=600), ["compute1", "compute2"])
    assert host.verbs("start") == [("start", "lab-controller"), ("start", "lab-compute1")]
    assert set(host.states.values()) == {"running"}


def test_start_resumes_a_paused_domain():
    clock, host, lines, pw = setup({"lab-controller": "paused"})
    start(domains(), pw, ssh_probe(host, clock, ADDRESSES), None, Timeouts(900, 900, 600))
    assert host.verbs("start", "resume") == [("resume", "lab-controller")]


def test_the_ssh_wait_is_bounded_and_names_the_node_and_its_console():
    clock, host, lines, pw = setup(OFF, ssh_after=10_000)
    with pytest.raises(PowerError) as err:
        start(domains("compute1"), pw, ssh_probe(host, clock, ADDRESSES), None, Timeouts(120, 900, 600))
    message = str(err.value)
    assert "after 120 s (bootTimeout)" in message and "controller 10.0.0.10:22: Connection refused" in message
    assert "virsh -c qemu:///system console lab-controller" in message
    assert 118 <= clock.now <= 122 and ("start", "lab-compute1") not in host.verbs("start")


def test_start_of_a_domain_that_does_not_exist_says_make_up():
    clock, host, lines, pw = setup({"lab-controller": "running"})
    with pytest.raises(PowerError, match=r"compute1 .*does not exist: `make up` creates it"):
        start(domains("compute1"), pw, ssh_probe(host, clock, ADDRESSES), None, Timeouts(900, 900, 600))


def test_stopped_names_the_shut_off_domains_only():
    clock, host, lines, pw = setup({"lab-controller": "shut off", "lab-compute1": "running"})
    assert [d.node for d in stopped(domains("compute1", "compute2"), pw)] == ["controller"]  # compute2: absent


def test_domains_come_from_the_plan_with_their_hosts_and_existing_machines_are_left_out():
    machine = {"name": "phys1", "address": "10.40.0.200", "trustFirstContact": True}
    lab = plan(lab_config({**BASE, **TWO_HOSTS, **LOGIN, "existingComputes": [machine]},
                          secrets=("sshPrivateKey",)))
    got = [(d.node, d.role, d.domain, d.uri, d.address) for d in lab_domains(lab)]
    assert got[0][:2] == ("controller", "controller") and "phys1" not in [g[0] for g in got]
    assert {g[3] for g in got} == {"qemu:///system", "qemu+ssh://root@host-b.example/system"}
    assert all(g[2] == n.libvirt_name for g, n in zip(got, lab.lab_nodes, strict=True))
    assert existing_note(lab) == ("existing machines phys1: not stopped or started by the lab (it does not own "
                                  "them)")
    assert existing_note(plan(lab_config(dict(BASE)))) is None


def test_state_through_virsh_reads_a_missing_domain_as_absent(fake_virsh):
    fake_virsh.domains(lab_controller={"state": "shut off"})
    pw = Power(run_virsh, {})
    controller, compute1 = domains("compute1")[:2]
    assert pw.state(controller) == "shut off" and pw.state(compute1) == ABSENT
    assert [d.node for d in stopped([controller, compute1], pw)] == ["controller"]
    assert fake_virsh.calls("domstate")[0] == ["qemu:///system", "domstate", "lab-controller"]

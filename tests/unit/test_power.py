"""tools/lifecycle/power.py: `make stop`/`start`/`up`'s check on a stack read through a fake reader and the fake
virsh; the SSH probe against listeners on 127.0.0.1."""
from __future__ import annotations

import argparse
from contextlib import contextmanager

from harness import BASE, CLOUD, LOGIN, TWO_HOSTS, lab_config
from lab.plan import plan
from tools.lifecycle import power
from tools.verify.stack import StackError


class Reader:
    def __init__(self, raw: dict, secrets: tuple[str, ...] = (), outputs: dict | None = None) -> None:
        self.stack, self.raw, self.secrets, self._outputs = "alice", raw, secrets, outputs or {}

    def config(self):
        return lab_config(self.raw, secrets=self.secrets), ()

    def outputs(self) -> dict:
        return self._outputs


OPTIONS = argparse.Namespace(shutdown_timeout=180.0, compute_timeout=600.0)
PREFIX = "openstack-lab-alice"


def test_check_fails_on_a_stopped_lab_naming_the_domains_and_make_start(fake_virsh, capsys):
    fake_virsh.domains(**{f"{PREFIX}-controller": {"state": "shut off"}, f"{PREFIX}-compute1": {"state": "running"},
                          f"{PREFIX}-compute2": {"state": "shut off"}})
    assert power.run("check", Reader(dict(BASE)), OPTIONS) == 1
    err = capsys.readouterr().err
    assert "the lab is stopped: controller (openstack-lab-alice-controller on qemu:///system)" in err
    assert "compute2 (" in err and "compute1 (" not in err and "run `make start` first" in err


def test_check_passes_a_running_lab_and_one_not_created_yet(fake_virsh):
    fake_virsh.domains(**{f"{PREFIX}-controller": {}})  # compute1 and compute2 do not exist yet
    assert power.run("check", Reader(dict(BASE)), OPTIONS) == 0


def test_stop_shuts_down_computes_then_controller_and_says_how_it_went(fake_virsh, capsys, monkeypatch):
    # the fake virsh has no shutdown: a host whose shutdown powers off at once stands in through run_virsh's seam
    states = {f"{PREFIX}-{n}": "running" for n in ("controller", "compute1", "compute2")}
    calls = []

    def virsh(uri: str, verb: str, name: str) -> str:
        calls.append((verb, name))
        if verb == "shutdown":
            states[name] = "shut off"
        return states[name] + "\n" if verb == "domstate" else ""

    monkeypatch.setattr(power, "run_virsh", virsh)
    assert power.run("stop", Reader(dict(BASE)), OPTIONS) == 0
    assert [name for verb, name in calls if verb == "shutdown"] == [f"{PREFIX}-compute1", f"{PREFIX}-compute2",
                                                                     f"{PREFIX}-controller"]
    out = capsys.readouterr().out
    assert "stop: 3 node(s) shut down cleanly in" in out


def test_an_existing_cloud_has_no_nodes_to_stop(capsys):
    assert power.run("stop", Reader({**CLOUD}, secrets=("cloudPassword",)), OPTIONS) == 0
    assert "existing cloud" in capsys.readouterr().out
    assert power.run("check", Reader({**CLOUD}, secrets=("cloudPassword",)), OPTIONS) == 0
    assert capsys.readouterr().out == ""  # make up on an existing cloud says nothing about stopped nodes


@contextmanager
def reached_as_is(uris):
    yield {uri: uri for uri in uris}


def test_existing_machines_are_named_as_left_alone(monkeypatch, capsys):
    machine = {"name": "phys1", "address": "10.40.0.200", "trustFirstContact": True}
    monkeypatch.setattr(power, "run_virsh", lambda uri, verb, name: "shut off\n")
    monkeypatch.setattr(power, "reached", reached_as_is)  # host b is a qemu+ssh host: no tunnel here
    raw = {**BASE, **TWO_HOSTS, **LOGIN, "existingComputes": [machine]}
    assert power.run("stop", Reader(raw, secrets=("sshPrivateKey",)), OPTIONS) == 0
    assert "existing machines phys1: not stopped or started by the lab" in capsys.readouterr().out


def test_compute_hosts_are_the_computes_and_existing_machines_or_an_all_in_ones_controller():
    machine = {"name": "phys1", "address": "10.40.0.200", "trustFirstContact": True}
    lab = plan(lab_config({**BASE, **TWO_HOSTS, **LOGIN, "existingComputes": [machine]}, secrets=("sshPrivateKey",)))
    computes = [node.name for node in lab.lab_nodes if node.role == "compute"]
    assert len(computes) == 3 and power.compute_hosts(lab) == [*computes, "phys1"]
    assert power.compute_hosts(plan(lab_config({**BASE, "computeCount": 0}))) == ["controller"]


def test_main_reports_an_unreadable_stack_and_check_does_not_block_on_it(monkeypatch, capsys):
    def unreadable(command, reader, options):
        raise StackError("`pulumi config` failed")

    monkeypatch.setattr(power, "run", unreadable)
    assert power.main(["start", "--stack", "alice"]) == power.UNREADABLE
    assert power.main(["check", "--stack", "alice"]) == 0
    assert "start: `pulumi config` failed" in capsys.readouterr().err


def test_ssh_answers_is_the_ssh_banner_or_what_was_seen_instead(monkeypatch):
    seen = []

    def banner(address: str, port: int, timeout: float) -> str:
        seen.append((address, port))
        if address == "10.0.0.11":
            raise OSError("not an SSH server: 'HTTP/1.1 400'")
        if address == "10.0.0.12":
            raise ConnectionRefusedError(111, "Connection refused")
        return "SSH-2.0-OpenSSH_8.7"

    monkeypatch.setattr(power, "ssh_banner", banner)
    assert power.ssh_answers("10.0.0.10") is None
    assert power.ssh_answers("10.0.0.11") == "not an SSH server: 'HTTP/1.1 400'"
    assert "Connection refused" in (power.ssh_answers("10.0.0.12") or "")
    assert seen[0] == ("10.0.0.10", 22)

"""tools/stage_times.py: the stage of each resource of the real program, the table and the record of an update's
engine events (constructed as `pulumi up --event-log` writes them: one JSON object per line, whole seconds)."""
from __future__ import annotations

import datetime
import json

import pytest

from harness import BASE, DYNAMIC, LOGIN, TWO_HOSTS, run_lab
from tools import stage_times
from tools.stage_times import read_events, record, stage_of, table, up_times

T0 = 1_800_000_000
LAB = "openstack-lab:lab:OpenStackLab"


def urn(chain: str, name: str) -> str:
    return f"urn:pulumi:alice::openstack-lab::{chain}::{name}"


def step(kind: str, at: int, op: str, chain: str, name: str, custom: bool = True) -> dict:
    state = {"type": chain.split("$")[-1], "urn": urn(chain, name), "custom": custom}
    return {"sequence": 0, "timestamp": T0 + at,
            kind: {"metadata": {"op": op, "urn": urn(chain, name), "type": state["type"], "new": state}}}


def run(at: int, took: int, op: str, chain: str, name: str, custom: bool = True) -> list[dict]:
    return [step("resourcePreEvent", at, op, chain, name, custom), step("resOutputsEvent", at + took, op, chain, name,
                                                                          custom)]


def summary(at: int, result: str = "succeeded", preview: bool = False) -> dict:
    return {"timestamp": T0 + at, "summaryEvent": {"result": result, "isPreview": preview}}


NODE = f"{LAB}$openstack-lab:lab:LabNode$libvirt:index/domain:Domain"
PREP = f"{LAB}$openstack-lab:lab:HostPrep$command:remote:Command"
PACK = f"{LAB}$openstack-lab:lab:Packstack"


def a_lab_up() -> list[dict]:
    return [
        {"timestamp": T0, "preludeEvent": {"config": {}}},
        *run(1, 0, "create", LAB, "lab", custom=False),  # a component: not timed
        *run(1, 0, "create", "pulumi:providers:command", "default_1_2_1"),  # a default provider: not timed
        *run(2, 40, "create", NODE, "controller-domain"),
        *run(3, 45, "create", NODE, "compute1-domain"),
        *run(50, 200, "create", PREP, "controller-prep-os"),
        *run(48, 180, "create", PREP, "compute1-prep-os"),
        *run(251, 1, "create", f"{PACK}$pulumi-python:dynamic:Resource", "packstack-answers"),
        *run(252, 9, "create", f"{PACK}$command:remote:Command", "packstack-answer-file"),
        *run(262, 1800, "create", f"{PACK}$command:remote:Command", "packstack-apply"),
        *run(2062, 30, "create", f"{PACK}$pulumi-python:dynamic:Resource", "packstack-keystone-ready"),
        *run(2093, 5, "create", f"{LAB}$openstack-lab:lab:OpenStackNetworking$openstack:networking/network:Network",
             "external"),
        *run(2099, 60, "create", f"{LAB}$openstack-lab:lab:DemoCloud$openstack:images/image:Image", "cirros"),
        summary(2160),
    ]


def test_each_stage_spans_its_resources_first_start_to_last_end():
    times = up_times(a_lab_up())
    got = {s.stage: (s.start_s, s.seconds, s.resources, s.changed) for s in times.stages}
    assert got == {"nodes": (2, 46, 2, 2), "prep": (48, 202, 2, 2), "answers": (251, 10, 2, 2),
                   "packstack": (262, 1830, 2, 2), "networking": (2093, 5, 1, 1), "demo": (2099, 60, 1, 1)}
    assert [s.stage for s in times.stages] == ["nodes", "prep", "answers", "packstack", "networking", "demo"]
    assert (times.result, times.total_s) == ("succeeded", 2160)


def test_no_change_up_shows_stages_near_zero():
    events = [{"timestamp": T0, "preludeEvent": {}}, *run(1, 0, "same", NODE, "controller-domain"),
              *run(1, 0, "same", PREP, "controller-prep-os"), summary(2)]
    times = up_times(events)
    assert [(s.stage, s.seconds, s.resources, s.changed) for s in times.stages] == [
        ("nodes", 0, 1, 0), ("prep", 0, 1, 0)]
    assert "0 changed of 1" in table(times)


def test_a_failed_up_shows_what_ran_with_the_failure_and_the_unfinished():
    events = [{"timestamp": T0, "preludeEvent": {}}, *run(1, 30, "create", NODE, "controller-domain"),
              step("resourcePreEvent", 31, "create", PREP, "controller-prep-os"),
              step("resOpFailedEvent", 90, "create", PREP, "controller-prep-os"),
              step("resourcePreEvent", 31, "create", PREP, "compute1-prep-os"),  # cancelled: no end
              summary(95, result="failed")]
    times = up_times(events)
    prep = times.stages[1]
    assert (prep.stage, prep.seconds, prep.failed, prep.unfinished) == ("prep", 64, 1, 1)
    assert times.result == "failed"
    shown = table(times)
    assert "1 failed, 1 unfinished" in shown and "failed;" in shown


def test_an_up_killed_before_its_summary_is_unfinished():
    times = up_times([{"timestamp": T0}, step("resourcePreEvent", 5, "create", NODE, "controller-domain")])
    assert times.result == "unfinished" and times.stages[0].unfinished == 1 and times.stages[0].seconds == 0


def test_an_up_that_stopped_in_its_preview_records_no_stage():
    times = up_times([{"timestamp": T0, "preludeEvent": {}}, summary(3, result="failed", preview=True)])
    assert times.result == "preview-only" and not times.stages
    assert "no stage ran" in table(times)


def test_a_replacement_counts_its_resource_once():
    events = [{"timestamp": T0}, *run(1, 5, "create-replacement", NODE, "compute1-domain"),
              *run(7, 2, "delete-replaced", NODE, "compute1-domain"), summary(10)]
    nodes = up_times(events).stages[0]
    assert (nodes.resources, nodes.changed, nodes.seconds) == (1, 1, 8)


@pytest.mark.parametrize("chain,name,stage", [
    (f"{LAB}$openstack-lab:lab:LabNetwork$libvirt:index/network:Network", "network-management", "nodes"),
    (f"{LAB}$openstack-lab:lab:LabStorage$libvirt:index/volume:Volume", "storage-base", "nodes"),
    (f"{LAB}$openstack-lab:lab:LabNode$pulumi-python:dynamic:Resource", "controller-host-key", "nodes"),
    (f"{LAB}$pulumi:providers:libvirt", "libvirt-b", "nodes"),
    (f"{LAB}$pulumi-python:dynamic:Resource", "login-key", "nodes"),
    (f"{LAB}$pulumi-python:dynamic:Resource", "phys1-host-key", "nodes"),
    (f"{LAB}$pulumi-python:dynamic:Resource", "keystone-ready", "networking"),
    (f"{LAB}$openstack-lab:lab:LabSnapshots$pulumi-python:dynamic:Resource", "snapshot-installed", "snapshots"),
    (f"{LAB}$openstack-lab:lab:Packstack$command:remote:Command", "packstack-bridge-compute1", "packstack"),
    ("pulumi:providers:pulumi-python", "default", "other"),
])
def test_stage_of_a_urn(chain, name, stage):
    assert stage_of(urn(chain, name)) == stage


def engine_urns(config: dict, secrets: tuple[str, ...] = ()) -> dict[str, str]:
    """name -> the URN the real engine gives each custom resource of the program: the full type chain of its parents
    (pulumi pkg/resource/deploy/deployment.go generateURN), where the mocks put only the parent's own type."""
    lab = run_lab(config, secrets=secrets)
    by_urn = {r.urn: r for r in lab.resources}

    def chain(resource) -> list[str]:
        parent = by_urn.get(resource.parent)
        above = chain(parent) if parent is not None and parent.type != "pulumi:pulumi:Stack" else []
        return above + [resource.type]

    return {r.name: urn("$".join(chain(r)), r.name) for r in lab.resources
            if r.type != "pulumi:pulumi:Stack" and not r.type.startswith("openstack-lab:")}


def test_every_resource_of_the_whole_lab_has_its_stage():
    urns = engine_urns({**BASE, "demoInstance": True})
    stages = {name: stage_of(u) for name, u in urns.items()}
    assert not [name for name, stage in stages.items() if stage == "other"], stages
    assert set(stages.values()) == {"nodes", "prep", "answers", "packstack", "networking", "demo"}
    expected = {"login-key": "nodes", "controller-domain": "nodes", "compute2-cloud-init": "nodes",
                "packstack-answers": "answers", "packstack-answer-file": "answers", "packstack-apply": "packstack",
                "packstack-keystone-ready": "packstack", "libvirt": "nodes"}
    assert {name: stages[name] for name in expected} == expected
    assert {stages[n] for n in urns if n.startswith("compute1-prep")} == {"prep"}


def test_an_existing_machine_scanned_on_first_contact_is_stage_nodes():
    machine = {"name": "phys1", "address": "10.40.0.200", "trustFirstContact": True}
    urns = engine_urns({**BASE, **TWO_HOSTS, **LOGIN, "stopAfter": "prep", "existingComputes": [machine]},
                       secrets=("sshPrivateKey",))
    assert urns["phys1-host-key"].split("::")[2].endswith(DYNAMIC)
    assert stage_of(urns["phys1-host-key"]) == "nodes"
    assert {stage_of(u) for n, u in urns.items() if n.startswith("phys1-prep")} == {"prep"}


def test_record_appends_one_json_line_per_run(tmp_path):
    times = up_times(a_lab_up())
    when = datetime.datetime(2026, 12, 3, 7, 0, tzinfo=datetime.timezone.utc)
    record(times, "alice", tmp_path / ".lab" / "alice", now=when)
    path = record(times, "alice", tmp_path / ".lab" / "alice", now=when)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 2
    assert lines[0]["date"] == "2026-12-03T07:00:00+00:00" and lines[0]["stack"] == "alice"
    assert lines[0]["total_s"] == 2160 and lines[0]["stages"][3] == {
        "stage": "packstack", "start_s": 262, "seconds": 1830, "resources": 2, "changed": 2, "failed": 0,
        "unfinished": 0}


def test_main_prints_records_and_removes_the_event_log(tmp_path, capsys):
    log = tmp_path / "up-events.jsonl"
    log.write_text("\n".join(json.dumps(e) for e in a_lab_up()) + "\n{\"cut short")
    assert stage_times.main(["--stack", "alice", "--events", str(log), "--dir", str(tmp_path / "rec")]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines()}
    assert rows["packstack"][:4] == ["packstack", "+4m22s", "30m30s", "2"] and rows["stage"][:3] == [
        "stage", "start", "took"]
    assert (tmp_path / "rec" / "stage-times.jsonl").is_file() and not log.exists()
    assert len(read_events(tmp_path / "rec" / "stage-times.jsonl")) == 1


def test_main_without_an_event_log_says_so(tmp_path, capsys):
    assert stage_times.main(["--stack", "alice", "--events", str(tmp_path / "none.jsonl")]) == 1
    assert "no event log" in capsys.readouterr().err

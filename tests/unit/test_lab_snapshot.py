"""providers/lab_snapshot.py against the fake virsh (conftest.fake_virsh): every node suspended before any
snapshot and resumed after, also on failure (and then no snapshot kept); delete tolerates what is already gone;
diff replaces (delete first) when a node or the name changes."""
import pytest

from providers.lab_snapshot import LabSnapshotProvider, SnapshotFailed

URI = "qemu:///system"
NODES = [{"node": n, "host_uri": URI, "domain": f"lab-{n}", "domain_id": f"uuid-{n}"}
         for n in ("controller", "compute1")]
PROPS = {"snapshot": "installed", "nodes": NODES}


def verbs(fake):
    return [(verb, args[-1] if verb in ("suspend", "resume") else args[args.index("--domain") + 1])
            for _, verb, *args in fake.calls() if verb != "domstate"]


def test_create_pauses_every_node_then_snapshots_each_then_resumes_all(fake_virsh):
    fake_virsh.domains(lab_controller={}, lab_compute1={})
    result = LabSnapshotProvider().create(dict(PROPS))
    assert verbs(fake_virsh) == [
        ("suspend", "lab-controller"), ("suspend", "lab-compute1"),
        ("snapshot-create-as", "lab-controller"), ("snapshot-create-as", "lab-compute1"),
        ("resume", "lab-controller"), ("resume", "lab-compute1"),
    ]
    state = fake_virsh.read()["domains"]
    assert {d: (s["state"], s["snapshots"], s["taken_in"]["installed"]) for d, s in state.items()} == {
        "lab-controller": ("running", ["installed"], "paused"), "lab-compute1": ("running", ["installed"], "paused")}
    [create] = fake_virsh.calls("snapshot-create-as")[:1]
    assert ["--name", "installed", "--atomic"] == create[4:7]
    assert result.id == "installed@lab-controller"
    assert result.outs["nodes"] == NODES and set(result.outs) >= {"seconds", "paused_seconds"}


def test_a_shut_off_node_is_snapshotted_as_it_is(fake_virsh):
    fake_virsh.domains(lab_controller={}, lab_compute1={"state": "shut off"})
    LabSnapshotProvider().create(dict(PROPS))
    assert ("suspend", "lab-compute1") not in verbs(fake_virsh)
    assert fake_virsh.read()["domains"]["lab-compute1"] == {"state": "shut off", "snapshots": ["installed"],
                                                             "taken_in": {"installed": "shut off"}}


def test_a_failed_snapshot_resumes_every_node_and_keeps_none(fake_virsh):
    fake_virsh.domains(lab_controller={}, lab_compute1={})
    fake_virsh.update(fail={"snapshot-create-as": "lab-compute1"})
    with pytest.raises(SnapshotFailed) as err:
        LabSnapshotProvider().create(dict(PROPS))
    assert "snapshot installed:" in str(err.value) and "injected" in str(err.value)
    assert "nothing kept" in str(err.value)
    state = fake_virsh.read()["domains"]
    assert {d: (s["state"], s["snapshots"]) for d, s in state.items()} == {
        "lab-controller": ("running", []), "lab-compute1": ("running", [])}


def test_a_name_already_taken_fails_and_leaves_the_other_nodes_clean(fake_virsh):
    fake_virsh.domains(lab_controller={}, lab_compute1={"snapshots": ["installed"]})
    with pytest.raises(SnapshotFailed, match="domain snapshot 'installed' already exists"):
        LabSnapshotProvider().create(dict(PROPS))
    state = fake_virsh.read()["domains"]
    assert state["lab-controller"]["snapshots"] == [] and state["lab-compute1"]["snapshots"] == ["installed"]
    assert {s["state"] for s in state.values()} == {"running"}


def test_delete_removes_the_name_everywhere_and_tolerates_what_is_gone(fake_virsh):
    fake_virsh.domains(lab_controller={"snapshots": ["installed", "other"]}, lab_compute1={})
    nodes = [*NODES, {"node": "compute2", "host_uri": URI, "domain": "lab-compute2", "domain_id": "uuid-compute2"}]
    LabSnapshotProvider().delete("installed@lab-controller", {"snapshot": "installed", "nodes": nodes})
    state = fake_virsh.read()["domains"]
    assert state["lab-controller"]["snapshots"] == ["other"]
    assert len(fake_virsh.calls("snapshot-delete")) == 3  # compute1 had none, compute2 is gone: no failure


def test_delete_fails_on_any_other_error(fake_virsh):
    fake_virsh.domains(lab_controller={"snapshots": ["installed"]}, lab_compute1={"snapshots": ["installed"]})
    fake_virsh.update(fail={"snapshot-delete": "lab-controller"})
    with pytest.raises(SnapshotFailed, match="deleting snapshot installed: .*injected"):
        LabSnapshotProvider().delete("x", dict(PROPS))


@pytest.mark.parametrize("change, replaces", [
    ({}, []),
    ({"snapshot": "other"}, ["snapshot"]),
    ({"nodes": [NODES[0], {**NODES[1], "domain_id": "uuid-new"}]}, ["nodes"]),  # a node replaced
    ({"nodes": [*NODES, {**NODES[1], "node": "compute2", "domain": "lab-compute2"}]}, ["nodes"]),  # a node added
])
def test_diff_replaces_delete_first_when_a_node_or_the_name_changes(change, replaces):
    olds = {**PROPS, "seconds": 3.0, "paused_seconds": 2.0}
    diff = LabSnapshotProvider().diff("installed@lab-controller", olds, {**PROPS, **change})
    assert diff.replaces == replaces and diff.changes == bool(replaces)
    assert diff.delete_before_replace  # the name is taken on each domain: the old one goes first

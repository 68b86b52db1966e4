"""components/lab_snapshots.py (and its place in components/lab.py) under mocks: one LabSnapshot per name after
the last stage declared, holding every lab node's domain and never an existing machine; no `snapshots`, nothing
declared (an existing stack previews no change)."""
import pulumi
import pytest

from harness import BASE, DOMAIN, DYNAMIC, WITH_EXISTING, run_lab

SNAPSHOT_COMPONENT = "openstack-lab:lab:LabSnapshots"


def snapshots_of(run):
    return [r for r in run.of_type(DYNAMIC) if "snapshot" in r.inputs]


def test_no_snapshots_key_declares_nothing():
    run = run_lab(BASE)
    assert not snapshots_of(run) and not run.of_type(SNAPSHOT_COMPONENT)


def test_one_snapshot_per_name_holding_every_lab_node():
    run = run_lab({**BASE, "snapshots": ["installed", "before-upgrade"]})
    [component] = run.of_type(SNAPSHOT_COMPONENT)
    snaps = {r.name: r for r in snapshots_of(run)}
    assert sorted(snaps) == ["snapshot-before-upgrade", "snapshot-installed"]
    installed = snaps["snapshot-installed"]
    assert installed.parent == component.urn and run.ancestors(installed)[:2] == ["snapshots", "lab"]
    assert installed.inputs["snapshot"] == "installed"
    domains = {d.inputs["name"]: f"{d.name}-id" for d in run.of_type(DOMAIN)}
    assert [(n["node"], n["host_uri"], n["domain"], n["domain_id"]) for n in installed.inputs["nodes"]] == [
        ("controller", "qemu:///system", "openstack-lab-alice-controller", domains["openstack-lab-alice-controller"]),
        ("compute1", "qemu:///system", "openstack-lab-alice-compute1", domains["openstack-lab-alice-compute1"]),
        ("compute2", "qemu:///system", "openstack-lab-alice-compute2", domains["openstack-lab-alice-compute2"]),
    ]
    for domain in run.of_type(DOMAIN):  # destroy deletes the snapshots before the domains
        assert domain.urn in installed.dependencies, f"{installed.name} does not depend on {domain.name}"


# stopAfter -> the last resource that stage declares, which the snapshot must wait for.
LAST_OF_STAGE = {"nodes": "controller-domain", "prep": "compute2-prep-trust", "answers": "packstack-answer-file",
                 "demo": "demo-secgroup"}


@pytest.mark.parametrize("stop_after, last", LAST_OF_STAGE.items())
def test_the_snapshot_waits_for_the_last_stage(stop_after, last):
    run = run_lab({**BASE, "stopAfter": stop_after, "snapshots": ["installed"]})
    snapshot = run.named("snapshot-installed")
    assert run.depends_on(snapshot, last), f"stopAfter {stop_after}: the snapshot does not wait for {last}"


def test_existing_machines_are_never_snapshotted_and_preview_says_so(monkeypatch):
    said = []
    monkeypatch.setattr(pulumi.log, "info", lambda msg, resource=None, *a, **k: said.append(msg))
    run = run_lab({**WITH_EXISTING, "snapshots": ["installed"]}, secrets=("sshPrivateKey",))
    nodes = [n["node"] for n in run.named("snapshot-installed").inputs["nodes"]]
    assert "phys1" not in nodes and nodes == ["controller", "compute1", "b-compute1", "b-compute2"]
    uris = {n["node"]: n["host_uri"] for n in run.named("snapshot-installed").inputs["nodes"]}
    assert uris["b-compute1"].startswith("qemu+ssh://") and uris["controller"] == "qemu:///system"
    assert [m for m in said if "existing machines phys1 are never snapshotted" in m], said

"""components/lab_node.py under Pulumi mocks: a node's volumes (root disk, data disks)."""
from harness import BASE, run_lab


def test_data_disks_are_stack_named_volumes_attached_after_the_root_disk(disks):
    data = disks.named("controller-data2")
    assert data.inputs["name"] == "openstack-lab-alice-controller-data2.qcow2"
    assert data.inputs["size"] == 20 * 1024**3 and "baseVolumeId" not in data.inputs
    domain = disks.named("controller-domain")
    assert [d["volumeId"] for d in domain.inputs["disks"]] == [
        "controller-disk-id", "controller-data1-id", "controller-data2-id"]
    assert disks.ancestors(data)[0] == "controller"
    assert disks.named("compute2-data1").inputs["size"] == 10 * 1024**3


def test_growing_the_disk_count_adds_volumes_and_changes_no_other_resource_name():
    before = run_lab({**BASE, "controller": {"dataDisksGiB": [40]}})
    after = run_lab({**BASE, "controller": {"dataDisksGiB": [40, 20]}})
    assert after.names() - before.names() == {"controller-data2"}
    assert not (before.names() - after.names())
    assert before.named("controller-data1").inputs == after.named("controller-data1").inputs


def test_without_data_disks_nothing_new_on_the_nodes():
    run = run_lab(dict(BASE))
    assert not any("-data" in name for name in run.names())
    assert "controller-prep-storage" not in run.names()

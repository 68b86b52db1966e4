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


def test_a_cloud_init_disk_left_with_an_init_error_is_replaced_delete_first():
    """Its provider has no update: the engine's retry of a disk whose read-back failed would fail forever. Only the
    cloud-init disks carry it (the real engine and provider: tests/engine/test_engine_nodes.py)."""
    run = run_lab(dict(BASE))
    disks = run.of_type("libvirt:index/cloudInitDisk:CloudInitDisk")
    assert sorted(d.name for d in disks) == ["compute1-cloud-init", "compute2-cloud-init", "controller-cloud-init"]
    assert all(d.replace_on_changes == ["*"] and d.delete_before_replace for d in disks)
    others = [r.name for r in run.resources if r not in disks and (r.replace_on_changes or r.delete_before_replace)]
    assert not [name for name in others if "domain" in name or "disk" in name], others

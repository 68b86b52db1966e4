"""components/host_prep.py under Pulumi mocks: what each node's prep runs."""


def test_host_prep_makes_the_volume_group_on_the_controller_only(disks):
    storage = disks.named("controller-prep-storage")
    assert storage.inputs["environment"] == {
        "LAB_CINDER_DEVICE": "/dev/vdb", "LAB_CINDER_SIZE_GIB": "40", "LAB_CINDER_VG": "cinder-volumes",
        "LAB_SWIFT_DEVICE": "/dev/vdc", "LAB_SWIFT_SIZE_GIB": "20"}
    assert "vgcreate" in storage.inputs["create"]
    assert disks.depends_on(storage, "controller-prep-prep")
    assert "compute1-prep-storage" not in disks.names()
    assert disks.named("packstack-answers").inputs["CONFIG_CINDER_VOLUMES_CREATE"] == "n"

"""The lab's plan: every node's facts computed once, immutable, consistent with naming."""
import dataclasses

import pytest

from harness import BRIDGE, HOST_B, LAN, WITH_EXISTING, lab_config, login_pair
from lab import naming
from lab.plan import HostEntry, plan


def lab_plan(**raw):
    return plan(lab_config(raw))


def test_every_node_has_its_facts_once():
    p = lab_plan(managementCidr="10.1.2.0/24", externalCidr="10.1.3.0/24", computeCount=2)
    assert [n.name for n in p.nodes] == ["controller", "compute1", "compute2"]
    assert [n.role for n in p.nodes] == ["controller", "compute", "compute"]
    compute1 = p.nodes[1]
    assert compute1.management_ip == "10.1.2.11" and compute1.fqdn == "compute1.alice.lab.internal"
    assert compute1.identity.management_mac == naming.mac_address("openstack-lab", "alice", "compute1", 0)
    assert compute1.identity.external_mac == naming.mac_address("openstack-lab", "alice", "compute1", 1)
    assert compute1.libvirt_name == "openstack-lab-alice-compute1"
    assert compute1.size.memory_mib == 4096 and p.controller.size.memory_mib == 8192
    assert compute1.host_entry == HostEntry("10.1.2.11", "compute1.alice.lab.internal", "compute1")
    assert p.host_entries[0].short == "controller"


def test_networks_and_storage_carry_the_stack_names():
    p = lab_plan(storagePoolPath="/var/lib/osl")
    assert p.management.name == "openstack-lab-alice-management" and len(p.management.bridge) <= 15
    assert (p.management.cidr, p.external.cidr) == naming.derived_cidrs("alice", "10.208.0.0/12")
    assert p.external.gateway == naming.host_address(p.external.cidr, 1)
    assert p.management.gateway == naming.host_address(p.management.cidr, 1)
    assert p.storage.pool_name == "openstack-lab-alice-pool" and p.storage.pool_path == "/var/lib/osl"
    assert lab_plan().storage.pool_name == "default"


def test_plan_is_immutable():
    p = lab_plan()
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.prefix = "x"  # type: ignore[misc]
    assert isinstance(p.nodes, tuple)


def test_answers_are_computed_once_from_the_planned_nodes():
    p = lab_plan(managementCidr="10.1.2.0/24", externalCidr="10.1.3.0/24", computeCount=2,
                 controller={"dataDisksGiB": [40]})
    assert p.answers["CONFIG_CONTROLLER_HOST"] == p.controller.management_ip
    assert p.answers["CONFIG_COMPUTE_HOSTS"] == ",".join(n.management_ip for n in p.nodes[1:])
    assert p.answers["CONFIG_CINDER_VOLUME_NAME"] == "cinder-volumes" and p.storage_disks.cinder is not None
    with pytest.raises(TypeError):
        p.answers["CONFIG_HEAT_INSTALL"] = "y"  # type: ignore[index]
    assert list(p.answers) == sorted(p.answers)


def test_volumes_openstack_names_and_key_files_are_planned():
    p = lab_plan(controller={"dataDisksGiB": [40, 20]})
    controller = p.controller
    assert controller.volumes.root == "openstack-lab-alice-controller.qcow2"
    assert controller.volumes.cloud_init == "openstack-lab-alice-controller-cloudinit.iso"
    assert [name for name, _ in controller.volumes.data] == [
        "openstack-lab-alice-controller-data1.qcow2", "openstack-lab-alice-controller-data2.qcow2"]
    names = p.networking.names
    assert (names.private_network, names.external_network, names.keypair, names.cloud) == (
        "openstack-lab-alice-private", "openstack-lab-alice-external", "openstack-lab-alice-key", "openstack-lab-alice")
    assert p.login.key_file == ".lab/alice/id_ed25519" and p.login.known_hosts_file == ".lab/alice/known_hosts"
    assert p.ssh_command(controller).startswith("ssh -i .lab/alice/id_ed25519 -o UserKnownHostsFile=.lab/alice/")
    assert p.demo is not None and p.demo.ssh_key_file == p.login.key_file
    assert p.demo.existing_flavors == {"m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge"}


def test_stages_follow_stop_after():
    p = lab_plan(stopAfter="answers")
    assert p.stages == ("nodes", "prep", "answers") and p.runs("answers") and not p.runs("packstack")
    assert p.demo is None


def test_an_existing_machine_sits_on_no_host():
    p = plan(lab_config({"network": BRIDGE, **LAN, **login_pair(),
                         "existingComputes": [{"name": "phys1", "address": "10.40.0.200", "trustFirstContact": True}]},
                        secrets=("sshPrivateKey",)))
    phys1 = p.nodes[-1]
    assert phys1.existing is not None and phys1.host is None and phys1.libvirt_uri is None
    assert phys1 not in p.lab_nodes and phys1 not in p.host_nodes(0)
    assert p.controller.host == 0 and p.controller.libvirt_uri == "qemu:///system"
    assert p.answers["CONFIG_COMPUTE_HOSTS"].endswith(",10.40.0.200")


def test_snapshots_plan_every_lab_node_on_its_host_and_skip_existing_machines():
    assert plan(lab_config({})).snapshots.names == ()
    lab = plan(lab_config({**WITH_EXISTING, "snapshots": ["installed"]}, secrets=("sshPrivateKey",))).snapshots
    assert lab.names == ("installed",) and lab.skipped == ("phys1",)
    assert [(n.node, n.domain, n.host_uri) for n in lab.nodes] == [
        ("controller", "openstack-lab-alice-controller", "qemu:///system"),
        ("compute1", "openstack-lab-alice-compute1", "qemu:///system"),
        ("b-compute1", "openstack-lab-alice-b-compute1", HOST_B),
        ("b-compute2", "openstack-lab-alice-b-compute2", HOST_B),
    ]
    assert lab.host_uris == ("qemu:///system", HOST_B)
    assert lab.domains_on(HOST_B) == ("openstack-lab-alice-b-compute1", "openstack-lab-alice-b-compute2")

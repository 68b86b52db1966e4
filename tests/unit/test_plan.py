"""The lab's plan: every node's facts computed once, immutable, consistent with naming."""
import dataclasses

import pytest

from lab import naming
from lab.config import parse
from lab.plan import HostEntry, plan


def lab_plan(**raw):
    return plan(parse(raw, "openstack-lab", "alice", path_exists=lambda p: True))


def test_every_node_has_its_facts_once():
    p = lab_plan(managementCidr="10.1.2.0/24", externalCidr="10.1.3.0/24", computeCount=2)
    assert [n.name for n in p.nodes] == ["controller", "compute1", "compute2"]
    assert [n.role for n in p.nodes] == ["controller", "compute", "compute"]
    compute1 = p.nodes[1]
    assert compute1.management_ip == "10.1.2.11" and compute1.fqdn == "compute1.alice.lab.internal"
    assert compute1.identity.management_mac == naming.mac_address("openstack-lab", "alice", "compute1", 0)
    assert compute1.identity.external_mac == naming.mac_address("openstack-lab", "alice", "compute1", 1)
    assert compute1.libvirt_name == "openstack-lab-alice-compute1"
    assert compute1.size == p.config.compute and p.controller.size == p.config.controller
    assert compute1.host_entry == HostEntry("10.1.2.11", "compute1.alice.lab.internal", "compute1")
    assert p.host_entries[0].short == "controller"


def test_networks_and_storage_carry_the_stack_names():
    p = lab_plan(storagePoolPath="/var/lib/osl")
    assert p.management.name == "openstack-lab-alice-management" and len(p.management.bridge) <= 15
    assert p.external.cidr == p.config.external_cidr
    assert p.storage.pool_name == "openstack-lab-alice-pool" and p.storage.pool_path == "/var/lib/osl"
    assert lab_plan().storage.pool_name == "default"


def test_plan_is_immutable():
    p = lab_plan()
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.prefix = "x"  # type: ignore[misc]
    assert isinstance(p.nodes, tuple)

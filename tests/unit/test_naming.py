"""Naming and addressing: deterministic, collision-free across stacks, within Linux limits."""
import ipaddress
import re

from lab import naming


def test_bridge_names_fit_linux_limit_for_long_names():
    name = naming.bridge_name("a-very-long-project-name", "a-very-long-developer-stack-name", "management")
    assert len(name) <= 15
    assert re.fullmatch(r"[a-z0-9]+", name)


def test_bridge_names_differ_per_stack_and_role():
    names = {naming.bridge_name("openstack-lab", s, r) for s in ("alice", "bob") for r in ("management", "external")}
    assert len(names) == 4


def test_macs_are_deterministic_and_libvirt_prefixed():
    mac = naming.mac_address("openstack-lab", "alice", "controller", 0)
    assert mac == naming.mac_address("openstack-lab", "alice", "controller", 0)
    assert mac.startswith("52:54:00:")
    assert re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", mac)


def test_macs_differ_per_stack_node_and_nic():
    macs = {
        naming.mac_address("openstack-lab", stack, node, nic)
        for stack in ("alice", "bob")
        for node in naming.node_names(3)
        for nic in (0, 1)
    }
    assert len(macs) == 2 * 4 * 2


def test_libvirt_names_carry_project_and_stack():
    assert naming.libvirt_name("openstack-lab", "alice-dev", "compute1") == "openstack-lab-alice-dev-compute1"
    # A name that is not already a clean label keeps a tag of its exact spelling.
    name = naming.libvirt_name("openstack-lab", "Alice_Dev", "compute1")
    assert re.fullmatch(r"openstack-lab-alice-dev-[0-9a-f]{6}-compute1", name)


def test_stacks_differing_in_case_or_punctuation_never_share_a_name():
    stacks = ("alice_lab", "alice-lab", "Alice.Lab", "alice.lab", "ALICE-LAB", "alice--lab")
    for derive in (lambda s: naming.resource_prefix("openstack-lab", s), naming.dns_domain,
                   lambda s: naming.bridge_name("openstack-lab", s, "management"),
                   lambda s: naming.mac_address("openstack-lab", s, "controller", 0)):
        assert len({derive(s) for s in stacks}) == len(stacks)


def test_derived_names_are_valid_where_they_are_used():
    for stack in ("a" * 100, "Ünïcode stack", "---", "dev", "x.y_z"):
        domain = naming.dns_domain(stack)
        assert all(re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", part) for part in domain.split(".")), domain
        fqdn = naming.fqdn("compute99", stack)
        assert len(fqdn) <= 253 and len(naming.fqdn("compute99", stack).split(".")[0]) <= 63
        assert re.fullmatch(r"[a-z0-9-]+", naming.resource_prefix("openstack-lab", stack))
        assert len(naming.bridge_name("openstack-lab", stack, "external")) <= 15


def test_node_names_controller_first():
    assert naming.node_names(2) == ["controller", "compute1", "compute2"]
    assert naming.node_names(0) == ["controller"]


def test_fqdn_uses_reserved_internal_domain():
    assert naming.fqdn("controller", "alice") == "controller.alice.lab.internal"


def test_derived_cidrs_are_stable_and_adjacent_24s():
    first = naming.derived_cidrs("alice", "10.208.0.0/12")
    assert first == naming.derived_cidrs("alice", "10.208.0.0/12")
    mgmt, ext = (ipaddress.ip_network(c) for c in first)
    assert mgmt.prefixlen == ext.prefixlen == 24
    assert int(ext.network_address) - int(mgmt.network_address) == 256


def test_derived_cidrs_follow_a_configured_supernet():
    mgmt, ext = naming.derived_cidrs("alice", "192.168.0.0/16")
    assert ipaddress.ip_network(mgmt).subnet_of(ipaddress.ip_network("192.168.0.0/16"))
    assert ipaddress.ip_network(ext).subnet_of(ipaddress.ip_network("192.168.0.0/16"))


def test_many_stacks_rarely_share_networks():
    stacks = [f"dev{i}" for i in range(20)]
    pairs = {naming.derived_cidrs(s, "10.208.0.0/12") for s in stacks}
    assert len(pairs) == 20


def test_node_addresses_start_at_ten():
    assert naming.node_address("10.1.2.0/24", 0) == "10.1.2.10"
    assert naming.node_address("10.1.2.0/24", 2) == "10.1.2.12"

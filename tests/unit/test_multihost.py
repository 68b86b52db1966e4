"""Several hosts, bridge-mode networks and existing machines (issue 11): the config rules, the
placement of every node, and what the program declares on which host (under Pulumi mocks)."""
from __future__ import annotations

import pytest

from harness import BRIDGE, HOST_B, LAN, config_problems, lab_config, login_pair, run_lab

DOMAIN = "libvirt:index/domain:Domain"
NETWORK = "libvirt:index/network:Network"
COMMAND = "command:remote:Command"
DYNAMIC = "pulumi-python:dynamic:Resource"
HOSTS = [{"name": "a", "uri": "qemu:///system", "computes": 1},
         {"name": "b", "uri": HOST_B, "computes": 2, "storagePoolPath": "/srv/lab-pool"}]
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyOfPhys1ForTheTestOnlyxxxxxxxxxxxxxx"
LOGIN = login_pair()
TWO_HOSTS = {"hosts": HOSTS, "network": BRIDGE, **LAN}
WITH_EXISTING = {**TWO_HOSTS, **LOGIN, "existingComputes": [{"name": "phys1", "address": "10.40.0.200",
                                                            "hostKey": HOST_KEY + " root@phys1"}]}


# -- placement ---------------------------------------------------------------------------------
def test_one_host_without_the_new_keys_is_placed_as_before():
    cfg = lab_config({"computeCount": 2})
    assert [(n.name, n.host, n.address) for n in cfg.placed_nodes] == [
        ("controller", 0, cfg.node_address("controller")), ("compute1", 0, cfg.node_address("compute1")),
        ("compute2", 0, cfg.node_address("compute2"))]
    assert cfg.network.mode == "nat" and cfg.lab_hosts[0].uri == cfg.libvirt_uri == "qemu:///system"


def test_computes_are_named_and_addressed_per_host():
    cfg = lab_config(TWO_HOSTS)
    assert [(n.name, n.host, n.address) for n in cfg.placed_nodes] == [
        ("controller", 0, "10.40.0.10"), ("compute1", 0, "10.40.0.11"),
        ("b-compute1", 1, "10.40.0.51"), ("b-compute2", 1, "10.40.0.52")]
    assert cfg.libvirt_uri == "qemu:///system" and cfg.management_gateway == "10.40.0.1"


def test_adding_a_compute_on_one_host_moves_no_node_of_another():
    before = {n.name: n.address for n in lab_config(TWO_HOSTS).placed_nodes}
    grown = [dict(HOSTS[0], computes=3), HOSTS[1]]
    after = {n.name: n.address for n in lab_config({**TWO_HOSTS, "hosts": grown}).placed_nodes}
    assert {k: after[k] for k in before} == before
    assert set(after) - set(before) == {"compute2", "compute3"}


def test_existing_machines_come_last_with_their_own_address():
    cfg = lab_config(WITH_EXISTING, secrets=("sshPrivateKey",))
    last = cfg.placed_nodes[-1]
    assert (last.name, last.host, last.address) == ("phys1", None, "10.40.0.200")
    assert last.existing.host_key == HOST_KEY  # the comment is dropped: known_hosts takes type and key


def test_answers_list_every_compute_of_every_host_and_the_existing_machines():
    from lab.plan import plan

    answers = plan(lab_config(WITH_EXISTING, secrets=("sshPrivateKey",))).answers
    assert answers["CONFIG_COMPUTE_HOSTS"].split(",") == ["10.40.0.11", "10.40.0.51", "10.40.0.52", "10.40.0.200"]
    assert answers["CONFIG_CONTROLLER_HOST"] == "10.40.0.10"


# -- validation: one problem per key, with the fix -------------------------------------------
def test_hosts_replace_the_one_host_keys():
    found = config_problems({**TWO_HOSTS, "libvirtUri": HOST_B, "computeCount": 5})
    assert "hosts[0].uri" in found["libvirtUri"] and "hosts[0].computes" in found["computeCount"]


def test_two_hosts_need_bridge_mode():
    found = config_problems({"hosts": HOSTS})
    assert "network.mode bridge" in found["network.mode"]


@pytest.mark.parametrize("host, key, words", [
    ({"name": "B_2", "uri": HOST_B}, "hosts[1].name", "lower-case"),
    ({"name": "a", "uri": HOST_B}, "hosts[1].name", "unique"),
    ({"name": "b"}, "hosts[1].uri", "required"),
    ({"name": "b", "uri": "ssh://host-b"}, "hosts[1].uri", "not a libvirt QEMU URI"),
    ({"name": "b", "uri": HOST_B, "computes": 40}, "hosts[1].computes", "0 to 39"),
    ({"name": "b", "uri": HOST_B, "storagePoolPath": "pool"}, "hosts[1].storagePoolPath", "absolute"),
    ({"name": "b", "uri": HOST_B, "cpus": 4}, "hosts[1].cpus", "unknown key"),
])
def test_each_bad_host_field_is_named(host, key, words):
    found = config_problems({**TWO_HOSTS, "hosts": [HOSTS[0], host]})
    assert words in found[key]


def test_bridge_mode_takes_the_lans_addresses_explicitly():
    found = config_problems({"network": {"mode": "bridge", "managementBridge": "br-mgmt", "externalBridge": "br-mgmt"}})
    for key in ("managementCidr", "externalCidr", "externalGateway"):
        assert "explicitly" in found[key]
    assert "router" in found["network.managementGateway"]
    assert "must differ" in found["network.externalBridge"]


def test_bridge_mode_checks_bridge_names_gateway_and_nameservers():
    found = config_problems({**LAN, "network": {"mode": "bridge", "managementBridge": "a-bridge-name-too-long",
                                         "externalBridge": "br-ext", "managementGateway": "10.99.0.1",
                                         "nameservers": ["dns.example"]}})
    assert "15 characters" in found["network.managementBridge"]
    assert "not in managementCidr" in found["network.managementGateway"]
    assert "not an IPv4 address" in found["network.nameservers[0]"]


def test_nat_mode_refuses_bridge_settings():
    found = config_problems({"network": {"mode": "nat", "managementBridge": "br0"}})
    assert "only with network.mode bridge" in found["network.managementBridge"]


def test_existing_machines_need_bridge_mode_and_the_login_pair():
    found = config_problems({"existingComputes": [{"name": "phys1", "address": "10.40.0.200", "hostKey": HOST_KEY}]})
    assert "network.mode bridge" in found["existingComputes"] or "sshPublicKey" in found["existingComputes"]
    found = config_problems({**TWO_HOSTS, "existingComputes": [{"name": "phys1", "address": "10.40.0.200",
                                                        "hostKey": HOST_KEY}]})
    assert "sshPublicKey" in found["existingComputes"]


@pytest.mark.parametrize("machine, key, words", [
    ({"name": "compute3", "address": "10.40.0.200", "hostKey": HOST_KEY}, "existingComputes[0].name", "does not use"),
    ({"name": "phys1", "address": "10.40.0.200"}, "existingComputes[0].hostKey", "trustFirstContact"),
    ({"name": "phys1", "address": "10.40.0.200", "hostKey": "AAAA"}, "existingComputes[0].hostKey", "host public key"),
    ({"name": "phys1", "address": "10.40.0.200", "hostKey": HOST_KEY, "trustFirstContact": True},
     "existingComputes[0].trustFirstContact", "meaningless"),
    ({"name": "phys1", "address": "10.50.0.7", "hostKey": HOST_KEY}, "existingComputes[0].address", "managementCidr"),
    ({"name": "phys1", "address": "10.40.0.51", "hostKey": HOST_KEY}, "existingComputes[0].address", "lab node"),
    ({"name": "phys1", "address": "10.40.0.1", "hostKey": HOST_KEY}, "existingComputes[0].address", "gateway"),
])
def test_each_bad_existing_machine_field_is_named(machine, key, words):
    found = config_problems({**TWO_HOSTS, **LOGIN, "existingComputes": [machine]}, secrets=("sshPrivateKey",))
    assert words in found[key]


def test_the_management_network_must_hold_every_hosts_block():
    found = config_problems({**TWO_HOSTS, "managementCidr": "10.40.0.0/27",
                      "network": dict(BRIDGE, managementGateway="10.40.0.1")})
    assert "no room" in found["managementCidr"]


# -- what the program declares ---------------------------------------------------------------
@pytest.fixture(scope="module")
def multi():
    return run_lab({"hypervisor": "qemu", "baseImage": "https://images.example/el9.qcow2", **WITH_EXISTING},
                   secrets=("sshPrivateKey",))


def test_one_libvirt_provider_per_host_and_each_node_on_its_own(multi):
    a, b = multi.named("libvirt"), multi.named("libvirt-b")
    assert (a.inputs["uri"], b.inputs["uri"]) == ("qemu:///system", HOST_B)
    for node, provider in (("controller", a), ("compute1", a), ("b-compute1", b), ("b-compute2", b)):
        for part in ("domain", "disk", "cloud-init"):
            assert provider.urn in multi.named(f"{node}-{part}").provider, (node, part)
    assert multi.names(DOMAIN) == {"controller-domain", "compute1-domain", "b-compute1-domain", "b-compute2-domain"}


def test_bridge_mode_attaches_nics_to_each_hosts_bridges_and_gives_every_host_its_storage(multi):
    # No libvirt network in bridge mode: the provider reads a NIC on a bridge-mode network back as a
    # bridge NIC, so a network_id there would show a change on every preview.
    assert not multi.of_type(NETWORK)
    for node in ("controller", "b-compute1"):
        nics = multi.named(f"{node}-domain").inputs["networkInterfaces"]
        assert [(nic.get("bridge"), nic.get("networkId")) for nic in nics] == [("br-mgmt", None), ("br-ext", None)]
    for suffix, provider in (("", "libvirt"), ("-b", "libvirt-b")):
        assert multi.named(provider).urn in multi.named(f"storage{suffix}-base").provider
    assert multi.named("storage-b-pool").inputs["target"]["path"] == "/srv/lab-pool"


def test_nodes_use_the_lans_gateway_and_dns(multi):
    import yaml

    config = yaml.safe_load(multi.named("b-compute1-cloud-init").inputs["networkConfig"])
    eth0 = config["ethernets"]["eth0"]
    assert eth0["routes"] == [{"to": "0.0.0.0/0", "via": "10.40.0.1"}]
    assert eth0["nameservers"]["addresses"] == ["10.40.0.1"] and eth0["addresses"] == ["10.40.0.51/24"]


def test_an_existing_machine_is_joined_not_created(multi):
    assert not any(r.name.startswith("phys1-") and r.type.startswith("libvirt:") for r in multi.resources)
    wait = multi.named("phys1-prep-wait")
    assert wait.inputs["connection"]["host"] == "10.40.0.200"
    assert wait.inputs["connection"]["hostKey"] == HOST_KEY
    joined = multi.named("phys1-prep-joined")
    assert "existing-machine-left" in joined.inputs["delete"] or "leaving existing machine" in joined.inputs["delete"]
    assert joined.urn in multi.named("phys1-prep-prep").dependencies
    nic = multi.named("phys1-prep-external-nic")
    assert "interface-name=eth1" in nic.inputs["environment"]["LAB_NIC_KEYFILE"]
    assert "phys1" in multi.named("controller-prep-hosts").inputs["stdin"]


def test_trust_first_contact_scans_the_host_key_once():
    machine = {"name": "phys1", "address": "10.40.0.200", "trustFirstContact": True}
    run = run_lab({"hypervisor": "qemu", "baseImage": "https://images.example/el9.qcow2", **TWO_HOSTS, **LOGIN,
                   "existingComputes": [machine]}, secrets=("sshPrivateKey",))
    scan = run.named("phys1-host-key")
    assert scan.type == DYNAMIC and scan.inputs["host"] == "10.40.0.200"
    assert scan.urn in run.named("phys1-prep-wait").dependencies


def test_a_one_host_lab_keeps_its_resource_names():
    run = run_lab({"hypervisor": "qemu", "baseImage": "https://images.example/el9.qcow2"})
    assert {"libvirt", "network", "network-management", "network-external", "storage", "storage-base"} <= run.names()
    assert not any(name.startswith(("libvirt-", "storage-local", "network-local")) for name in run.names())


def test_first_contact_scan_is_bounded_and_names_the_machine():
    from providers.host_key_scan import NoHostKey, first_contact

    now = [0.0]
    props = {"subject": "phys1", "host": "10.40.0.200", "timeout_seconds": 30}
    with pytest.raises(NoHostKey, match=r"phys1 \(10.40.0.200\) offered no ssh-ed25519 host key within 30 s"):
        first_contact(props, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s),
                      scan=lambda host, timeout: None)
    assert now[0] <= 30
    answers = iter([None, "ssh-ed25519 AAAAkey"])
    assert first_contact(props, clock=lambda: 0.0, sleep=lambda s: None,
                         scan=lambda host, timeout: next(answers)) == "ssh-ed25519 AAAAkey"

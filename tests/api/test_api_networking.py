"""The program's networking stage through the real Pulumi engine in existing-cloud mode against the
fixture Keystone + Neutron: up, read back (through Neutron, and what Neutron's OVN driver wrote into OVN's
northbound database), idempotent preview, a pool change that updates only the subnet, destroy. Tests run in
file order and share one stack."""
import ipaddress
import json

import pytest

from apisupport import LOG, Opaque, cloud_config, init_stack
from support.secret_scan import assert_absent
from ovn_nb import as_list, northbound

STACK = "apinet"
EXT_CIDR = "203.0.113.0/24"
EXT_GATEWAY = "203.0.113.1"
POOL = {"start": "203.0.113.100", "end": "203.0.113.150"}
POOL2 = {"start": "203.0.113.160", "end": "203.0.113.200"}
PRIVATE_CIDR = "192.168.77.0/24"
PHYSNET = "extnet"  # lab/packstack_facts.py PHYSNET: the physnet of Packstack's OVN bridge mapping
SUBNET_TYPE = "openstack:networking/subnet:Subnet"


@pytest.fixture(scope="module")
def stack(fixture_cloud, pulumi_workspace):
    """What the steps below share (a dict whose repr shows no value: it holds the admin password)."""
    config = cloud_config(fixture_cloud, externalCidr=EXT_CIDR, externalGateway=EXT_GATEWAY, externalPool=POOL,
                          privateCidr=PRIVATE_CIDR, dnsServers=["192.0.2.53"])
    pulumi = init_stack(pulumi_workspace, STACK, config, fixture_cloud.admin_password)
    state = Opaque(pulumi=pulumi, cloud=fixture_cloud)
    yield state
    # Safety net when a test in the middle failed: leave nothing in Neutron.
    if not state.get("destroyed"):
        pulumi.destroy(check=False, timeout=900)


def _up(stack):
    return stack["pulumi"].up(timeout=900)


def _by_id(items, id_):
    found = [i for i in items if i["id"] == id_]
    assert len(found) == 1, f"{id_} not found exactly once"
    return found[0]


def _check_networking(stack, pool):
    outputs = stack["pulumi"].outputs()
    stack["outputs"] = outputs
    neutron = stack["cloud"].neutron()
    ext = _by_id(neutron["networks"], outputs["externalNetworkId"])
    assert ext["provider_network_type"] == "flat"
    assert ext["provider_physical_network"] == "extnet"
    assert ext["is_router_external"] is True
    assert ext["is_shared"] is True

    public = _by_id(neutron["subnets"], outputs["publicSubnetId"])
    assert public["network_id"] == ext["id"]
    assert public["cidr"] == EXT_CIDR
    assert public["is_dhcp_enabled"] is False
    assert public["gateway_ip"] == EXT_GATEWAY
    assert public["allocation_pools"] == [pool]

    router = _by_id(neutron["routers"], outputs["routerId"])
    gw = router["external_gateway_info"]
    assert gw and gw["network_id"] == ext["id"]
    assert [ip["subnet_id"] for ip in gw["external_fixed_ips"]] == [public["id"]]

    private_net = _by_id(neutron["networks"], outputs["privateNetworkId"])
    private_subnets = [s for s in neutron["subnets"] if s["network_id"] == private_net["id"]]
    assert [s["cidr"] for s in private_subnets] == [PRIVATE_CIDR]
    assert private_subnets[0]["dns_nameservers"] == ["192.0.2.53"]
    interfaces = [p for p in neutron["ports"]
                  if p["device_id"] == router["id"] and p["device_owner"] == "network:router_interface"]
    assert [ip["subnet_id"] for p in interfaces for ip in p["fixed_ips"]] == [private_subnets[0]["id"]], \
        "private subnet not attached to the router"
    assert outputs["keystoneUrl"] == stack["cloud"].auth_url
    return neutron


def test_up_declares_the_networking(stack):
    _up(stack)
    neutron = _check_networking(stack, POOL)
    stack["ids"] = {
        "networks": {stack["outputs"]["externalNetworkId"], stack["outputs"]["privateNetworkId"]},
        "routers": {stack["outputs"]["routerId"]},
    }
    stack["ids"]["subnets"] = {s["id"] for s in neutron["subnets"] if s["network_id"] in stack["ids"]["networks"]}
    export = stack["pulumi"].cli("stack", "export").stdout
    LOG.add("stack export after up", export)
    stack["export"] = export


def _one(rows, what, **match):
    found = [r for r in rows if all(r.get(k) == v for k, v in match.items())]
    assert len(found) == 1, f"{what}: {len(found)} rows match {match}"
    return found[0]


def test_ovn_northbound_has_the_external_network_and_router(stack):
    """Neutron's ML2/OVN driver, as users run it, turns the stage into OVN: the external network's switch has a
    localnet port on the physnet, the router its gateway port on the public subnet and SNAT for the private
    subnet, the private subnet's interface is a router port."""
    outputs = stack["outputs"]
    neutron = stack["cloud"].neutron()
    nb = northbound(stack["cloud"])

    ext_switch = _one(nb["Logical_Switch"], "external network's switch", name=f"neutron-{outputs['externalNetworkId']}")
    ext_ports = [p for p in nb["Logical_Switch_Port"] if p["_uuid"] in as_list(ext_switch["ports"])]
    localnet = [p for p in ext_ports if p["type"] == "localnet"]
    assert len(localnet) == 1, [(p["name"], p["type"]) for p in ext_ports]
    assert localnet[0]["options"].get("network_name") == PHYSNET, localnet[0]["options"]

    router = _one(nb["Logical_Router"], "router", name=f"neutron-{outputs['routerId']}")
    router_ports = {p["name"]: p for p in nb["Logical_Router_Port"] if p["_uuid"] in as_list(router["ports"])}
    gw_port = _one(neutron["ports"], "router gateway port in Neutron", device_id=outputs["routerId"],
                   device_owner="network:router_gateway")
    gw_ip = gw_port["fixed_ips"][0]["ip_address"]
    assert ipaddress.ip_address(gw_ip) in ipaddress.ip_network(EXT_CIDR)
    gw_lrp = router_ports.get(f"lrp-{gw_port['id']}")
    assert gw_lrp is not None, f"no gateway router port lrp-{gw_port['id']} in {sorted(router_ports)}"
    assert as_list(gw_lrp["networks"]) == [f"{gw_ip}/{ipaddress.ip_network(EXT_CIDR).prefixlen}"], gw_lrp["networks"]
    # The gateway port's peer is a router-type port on the external network's switch.
    assert [p["name"] for p in ext_ports if p["type"] == "router"] == [gw_port["id"]]

    interface = _one(neutron["ports"], "router interface in Neutron", device_id=outputs["routerId"],
                     device_owner="network:router_interface")
    if_lrp = router_ports.get(f"lrp-{interface['id']}")
    assert if_lrp is not None, f"no interface router port lrp-{interface['id']} in {sorted(router_ports)}"
    if_address = f"{interface['fixed_ips'][0]['ip_address']}/{ipaddress.ip_network(PRIVATE_CIDR).prefixlen}"
    assert as_list(if_lrp["networks"]) == [if_address], if_lrp["networks"]

    nats = [n for n in nb["NAT"] if n["_uuid"] in as_list(router["nat"])]
    assert [(n["type"], n["logical_ip"], n["external_ip"]) for n in nats] == [("snat", PRIVATE_CIDR, gw_ip)], nats
    stack["ovn_names"] = {ext_switch["name"], router["name"], f"neutron-{outputs['privateNetworkId']}"}


def test_second_preview_has_no_changes(stack):
    stack["pulumi"].preview("--expect-no-changes", timeout=600)


def test_pool_change_previews_as_subnet_update_only(stack):
    stack["pulumi"].set_config({"externalPool": POOL2})
    preview = stack["pulumi"].preview_json(timeout=600)
    changed = [s for s in preview["steps"] if s["op"] not in ("same", "read")]
    summary = [(s["op"], s["urn"].split("::")[-2], s["urn"].split("::")[-1]) for s in changed]
    assert len(changed) == 1, f"expected one subnet update, got {summary}"
    step = changed[0]
    assert step["op"] == "update", summary
    assert step["urn"].split("::")[-2].endswith(SUBNET_TYPE), summary
    assert step["urn"].endswith("::networking-public"), summary
    assert "allocationPools" in (step.get("diffReasons") or []), step.get("diffReasons")
    assert preview["changeSummary"].get("update") == 1, preview["changeSummary"]


def test_up_applies_the_pool_change(stack):
    before = dict(stack["outputs"])
    _up(stack)
    _check_networking(stack, POOL2)
    for key in ("externalNetworkId", "publicSubnetId", "routerId", "privateNetworkId"):
        assert stack["outputs"][key] == before[key], f"{key} was replaced"
    stack["pulumi"].preview("--expect-no-changes", timeout=600)


def test_destroy_leaves_nothing_in_neutron(stack):
    stack["pulumi"].destroy(timeout=900)
    stack["destroyed"] = True
    neutron = stack["cloud"].neutron()
    ids = stack.get("ids") or {"networks": set(), "routers": set(), "subnets": set()}
    prefix_hits = [x["name"] for kind in ("networks", "subnets", "routers", "ports") for x in neutron[kind]
                   if STACK in (x.get("name") or "")]
    assert not prefix_hits, f"left in Neutron: {prefix_hits}"
    assert not [n for n in neutron["networks"] if n["id"] in ids["networks"]]
    assert not [s for s in neutron["subnets"] if s["id"] in ids["subnets"]]
    assert not [r for r in neutron["routers"] if r["id"] in ids["routers"]]
    assert not [p for p in neutron["ports"] if p["network_id"] in ids["networks"] or p["device_id"] in ids["routers"]]
    resources = stack["pulumi"].export()
    assert len(resources.get("deployment", {}).get("resources") or []) == 0
    nb = northbound(stack["cloud"])
    left = {r["name"] for table in ("Logical_Switch", "Logical_Router") for r in nb[table]}
    assert stack.get("ovn_names"), "the OVN read-back did not run"
    assert not stack["ovn_names"] & left, f"left in OVN's northbound database: {stack['ovn_names'] & left}"


def test_export_holds_no_plaintext_secret(stack):
    export = stack.get("export")
    assert export, "no stack export recorded (the up test failed?)"
    password = stack["cloud"].admin_password
    assert_absent({"the admin password": password}, export, "`pulumi stack export` (plain text)")
    doc = json.loads(export)
    assert doc["deployment"]["secrets_providers"]["type"] == "passphrase"
    ciphertexts = export.count('"ciphertext"')
    assert ciphertexts >= 1, "no encrypted secret in the export (cloudPassword/adminPassword must be secrets)"

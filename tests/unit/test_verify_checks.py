"""`make verify`'s checks (tools/verify/checks/) on a fake cloud (verify_fake.py): a healthy lab passes every
check and leaves nothing behind; each way a cloud can be broken fails exactly its check, with a message that
says what is wrong, skips what depends on it, and still cleans up. Existing-cloud mode and clouds without
Cinder, Swift or stage demo run the checks that apply."""
from __future__ import annotations

import pytest
from keystoneauth1.exceptions import Unauthorized
from openstack import exceptions

from tools.verify.checks.instances import create_servers
from tools.verify.runner import CheckFailed
from verify_fake import (FQDN, PREFIX, assert_nothing_left, healthy_state, lab_expectations, make_context, obj,
                         run_all)

LAB_STEPS = ["token", "catalog", "leftovers", "compute services", "hypervisors", "network agents", "networks",
             "boot kit", "servers", "server compute1", "floating IP compute1", "ssh compute1", "server compute2",
             "floating IP compute2", "ssh compute2", "volume create", "volume attach", "volume detach",
             "object store", "clean-up"]


def test_healthy_lab_passes_every_check_and_leaves_nothing():
    state = healthy_state()
    code, lines, results = run_all(make_context(state))
    assert code == 0, "\n".join(lines)
    assert list(results) == LAB_STEPS
    assert all(status == "ok" for status, _ in results.values()), "\n".join(lines)
    assert results["hypervisors"][1] == f"exactly {FQDN.format('compute1')}, {FQDN.format('compute2')}"
    assert results["network agents"][1].startswith(f"alive on {FQDN.format('compute1')}")
    assert results["server compute2"][1] == f"{PREFIX}-verify-compute2 ACTIVE on {FQDN.format('compute2')}"
    assert "answers ping" in results["floating IP compute1"][1]
    assert results["ssh compute1"][1].startswith("cirros@10.209.1.")
    assert "the guest sees /dev/vdb (serial volume-" in results["volume attach"][1]
    assert results["clean-up"][1] == (f"removed 2 server(s), 2 floating IP(s), 1 volume(s), 1 container(s); "
                                      f"nothing named {PREFIX}-verify-* left")
    assert lines[-1].startswith("verify passed: 20 ok, 0 failed, 0 skipped in ")
    assert_nothing_left(state)
    created = [name for kind, name in state.calls if kind.startswith("create")]
    assert created == [f"{PREFIX}-verify-compute1", f"{PREFIX}-verify-compute2", f"{PREFIX}-verify-fip",
                       f"{PREFIX}-verify-fip", f"{PREFIX}-verify-volume", f"{PREFIX}-verify-objects"]


def test_servers_are_pinned_to_their_compute_with_the_marker():
    state = healthy_state()
    ctx = make_context(state)
    seen = []
    original = ctx.conn.compute.create_server

    def spy(**kw):
        seen.append(kw)
        return original(**kw)

    ctx.conn.compute.create_server = spy
    run_all(ctx)
    assert [kw["availability_zone"] for kw in seen] == [f"nova:{FQDN.format('compute1')}",
                                                         f"nova:{FQDN.format('compute2')}"]
    assert all(kw["metadata"] == {"openstack-lab-verify": PREFIX} for kw in seen)
    assert all(kw["key_name"] == f"{PREFIX}-key" and kw["security_groups"] == [{"name": f"{PREFIX}-demo"}]
               for kw in seen)


def _service(state, node):
    return next(s for s in state.services if s.host.startswith(node + "."))


BREAKS = {
    "token refused": (lambda s, c: setattr(c, "token_error", Unauthorized(
        "The request you have made requires authentication. (HTTP 401)")), "token",
        "Unauthorized: The request you have made requires authentication."),
    "no placement": (lambda s, c: s.catalog.pop(4), "catalog", "the catalog lacks placement"),
    "no cinder": (lambda s, c: s.catalog.pop(5), "catalog", "volumev3 (Cinder: CONFIG_CINDER_INSTALL=y)"),
    "compute down": (lambda s, c: setattr(_service(s, "compute2"), "state", "down"), "compute services",
                     f"{FQDN.format('compute2')} is down"),
    "compute disabled": (lambda s, c: setattr(_service(s, "compute1"), "status", "disabled"), "compute services",
                         f"{FQDN.format('compute1')} is disabled"),
    "compute missing": (lambda s, c: s.services.pop(1), "compute services", "no nova-compute service on compute2"),
    "foreign compute": (lambda s, c: s.services.append(obj(
        host="compute9.elsewhere", state="up", status="enabled", availability_zone="nova", updated_at="",
        disabled_reason=None)),
                        "compute services", "nova-compute on hosts that are not the lab's computes: compute9"),
    "no computes": (lambda s, c: s.services.clear(), "compute services", "Nova lists no nova-compute service"),
    "hypervisor missing": (lambda s, c: s.hypervisors.pop(0), "hypervisors", "no hypervisor for compute1"),
    "hypervisor extra": (lambda s, c: s.hypervisors.append(obj(name="compute3.x", state="up", service_details={})),
                         "hypervisors", "hypervisors that are not the lab's computes: compute3.x"),
    "hypervisor down": (lambda s, c: setattr(s.hypervisors[1], "state", "down"), "hypervisors", "is down"),
    "chassis dead": (lambda s, c: setattr(s.agents[1], "is_alive", False), "network agents",
                     f"OVN Controller agent on {FQDN.format('compute1')} is not alive"),
    "no chassis on controller": (lambda s, c: s.agents.pop(0), "network agents",
                                 "no OVN Controller agent or OVN Controller Gateway agent on controller"),
    "no agents": (lambda s, c: s.agents.clear(), "network agents", "Neutron lists no OVN Controller agent"),
    "no private network": (lambda s, c: s.networks.pop(f"{PREFIX}-private"), "networks",
                           f"not found: {PREFIX}-private (run `make up`)"),
    "router gateway elsewhere": (lambda s, c: s.routers[f"{PREFIX}-router"].external_gateway_info.update(
        network_id="other"), "networks", f"{PREFIX}-router's gateway is not on {PREFIX}-external"),
    "router not on private": (lambda s, c: s.ports.clear(), "networks", f"has no interface on {PREFIX}-private"),
    "image missing": (lambda s, c: s.images.clear(), "boot kit", f"not found: image {PREFIX}-cirros-0.6.3"),
    "server error": (lambda s, c: setattr(s, "boot_status", "ERROR"), "server compute1",
                     "went to ERROR: No valid host was found."),
    "server never active": (lambda s, c: setattr(s, "boot_status", "BUILD"), "server compute1",
                            f"gave up waiting for {PREFIX}-verify-compute1 to become ACTIVE after 0 s"),
    "server elsewhere": (lambda s, c: setattr(s, "land_on", FQDN.format("compute2")), "server compute1",
                         f"is ACTIVE on {FQDN.format('compute2')}, not on compute1"),
    "no ping": (lambda s, c: setattr(s, "pingable", False), "floating IP compute1",
                "to answer ping after 1 s (1 tries; last: no echo reply)"),
    "no ssh": (lambda s, c: setattr(s, "ssh_ok", False), "ssh compute1",
               "gave up waiting for SSH of cirros@10.209.1.130 with the demo key after 1 s"),
    "volume unseen": (lambda s, c: setattr(s, "guest_sees_volumes", False), "volume attach",
                      "to see a disk with serial volume-"),
    "volume stays in the guest": (lambda s, c: setattr(s, "stale_disk", True), "volume detach",
                                  "gave up waiting for the volume's disk (serial volume-"),
    "object corrupted": (lambda s, c: setattr(s, "corrupt_objects", True), "object store",
                         "read back 4096 bytes that differ from the 4096 written"),
}


@pytest.mark.parametrize("name", sorted(BREAKS))
def test_a_broken_cloud_fails_its_check_and_still_cleans_up(name):
    breaker, failing, message = BREAKS[name]
    state = healthy_state()
    ctx = make_context(state)
    breaker(state, ctx.conn)
    code, lines, results = run_all(ctx)
    assert code == 1, "\n".join(lines)
    status, detail = results[failing]
    assert status == "FAIL" and message in detail, "\n".join(lines)
    failed = [n for n, (s, _) in results.items() if s == "FAIL"]
    # Only this check fails (for each compute where the break hits every server).
    assert failed[0] == failing and all(n.split()[0] == failing.split()[0] for n in failed), "\n".join(lines)
    for dependant in {"hypervisors": ["servers"], "server compute1": ["floating IP compute1", "ssh compute1",
                                                                      "volume attach"]}.get(failing, []):
        assert results[dependant][0] == "skip" and "not run: needs" in results[dependant][1]
    assert results["clean-up"][0] in ("ok", "skip"), "\n".join(lines)
    assert lines[-1].startswith("verify FAILED: ")
    assert_nothing_left(state)


def test_without_stage_demo_the_instance_checks_say_why_and_the_rest_runs():
    state = healthy_state()
    code, lines, results = run_all(make_context(state, lab_expectations(boot=None)))
    assert results["boot kit"] == ("skip", "stage demo not declared (stopAfter): no image, keypair or security "
                                           "group to boot with")
    assert results["servers"] == ("skip", "not run: needs boot kit")
    assert results["volume create"][0] == "ok" and results["volume attach"][0] == "skip"
    assert code == 0
    assert_nothing_left(state)


def test_without_stage_networking_networks_skip():
    state = healthy_state()
    expect = lab_expectations(private_network=None, external_network=None, router=None)
    code, _, results = run_all(make_context(state, expect))
    assert results["networks"] == ("skip", "stage networking not declared (stopAfter): no lab networks to check "
                                           "or boot on")
    assert code == 0


def test_cloud_without_cinder_or_swift_skips_their_checks():
    state = healthy_state()
    state.catalog = [e for e in state.catalog if e["type"] not in ("volumev3", "object-store")]
    code, _, results = run_all(make_context(state, lab_expectations(cinder=False, swift=False)))
    assert results["volume create"] == ("skip", "no Cinder (volumev3) in the catalog")
    assert results["object store"] == ("skip", "no Swift (object-store) in the catalog")
    assert code == 0


def test_all_in_one_boots_on_the_controller():
    state = healthy_state(computes=("controller",))
    state.agents = state.agents[:1]
    expect = lab_expectations(computes=("controller",), network_nodes=("controller",))
    code, lines, results = run_all(make_context(state, expect))
    assert code == 0, "\n".join(lines)
    assert results["server controller"][1].endswith(f"ACTIVE on {FQDN.format('controller')}")


def existing_cloud_expectations(**overrides):
    return lab_expectations(existing_cloud=True, computes=(), network_nodes=(), l2_agent=None, cinder=None,
                            swift=None, **overrides)


def test_existing_cloud_boots_one_unpinned_server_and_takes_what_exists():
    state = healthy_state(computes=("c1", "c2", "c3"))
    state.agents.append(obj(agent_type="Open vSwitch agent", host="net1", is_alive=True, last_heartbeat_at="now"))
    ctx = make_context(state, existing_cloud_expectations())
    code, lines, results = run_all(ctx)
    assert code == 0, "\n".join(lines)
    assert results["compute services"][1].startswith("3 up: ")
    assert "server instance" in results and "server c1" not in results
    assert results["server instance"][1] == f"{PREFIX}-verify-instance ACTIVE"
    assert_nothing_left(state)


def test_existing_cloud_without_admin_skips_the_admin_listings_and_still_boots():
    state = healthy_state()
    ctx = make_context(state, existing_cloud_expectations())
    forbidden = exceptions.ForbiddenException(message="Policy doesn't allow os_compute_api:os-services:list")

    def refuse(*args, **kwargs):
        raise forbidden

    ctx.conn.compute.services = refuse
    ctx.conn.compute.hypervisors = refuse
    ctx.conn.network.agents = refuse
    code, lines, results = run_all(ctx)
    assert results["compute services"] == ("skip", "listing compute services needs the admin role on this cloud "
                                                   "(HTTP 403)")
    assert results["network agents"][0] == "skip"
    assert results["servers"][0] == "ok" and results["ssh instance"][0] == "ok", "\n".join(lines)
    assert code == 0


def test_a_lab_user_refused_the_admin_listing_fails():
    state = healthy_state()
    ctx = make_context(state)

    def refuse(*args, **kwargs):
        raise exceptions.ForbiddenException(message="Policy doesn't allow")

    ctx.conn.compute.services = refuse
    code, _, results = run_all(ctx)
    assert results["compute services"][0] == "FAIL" and "ForbiddenException" in results["compute services"][1]
    assert code == 1


def test_a_lab_without_computes_to_boot_on_fails_instead_of_passing_empty():
    state = healthy_state(computes=())
    code, _, results = run_all(make_context(state, lab_expectations(computes=(), network_nodes=("controller",))))
    assert results["compute services"] == ("FAIL", "Nova lists no nova-compute service: nothing can boot a server")
    ctx = make_context(healthy_state(), lab_expectations(computes=()))
    with pytest.raises(CheckFailed, match="no compute to boot on"):
        create_servers(ctx)
    assert code == 1


def test_a_guest_kernel_without_disk_serials_is_matched_by_the_new_disk():
    state = healthy_state()
    state.kernel_serials = False
    code, lines, results = run_all(make_context(state))
    assert code == 0, "\n".join(lines)
    assert results["volume attach"][1].endswith("the guest sees /dev/vdb (the new disk; this kernel shows no serials)")
    assert results["volume detach"][0] == "ok"


"""Neutron: every node's L2 agent alive (an OVN chassis, or the Open vSwitch agent), and the lab's networks:
the private network routed to the external one."""
from __future__ import annotations

from tools.verify.checks import short
from tools.verify.checks.compute import admin_listing
from tools.verify.context import Context
from tools.verify.runner import CheckFailed, Skipped


def l2_agents(ctx: Context) -> str:
    expect = ctx.expect
    agents = [a for a in admin_listing(ctx, "network agents", ctx.conn.network.agents)
              if a.agent_type in expect.agent_types]
    kinds = " or ".join(expect.agent_types)
    if not agents:
        raise CheckFailed(f"Neutron lists no {kinds}")
    problems = [f"{a.agent_type} on {a.host} is not alive (last heartbeat {a.last_heartbeat_at})"
                for a in agents if not a.is_alive]
    if not expect.existing_cloud:
        hosts = {short(a.host) for a in agents}
        problems += [f"no {kinds} on {node}" for node in expect.network_nodes if node not in hosts]
    if problems:
        raise CheckFailed("; ".join(problems))
    return f"alive on {', '.join(sorted(a.host for a in agents))}"


def networks(ctx: Context) -> str:
    """`<prefix>-private` with a subnet, behind `<prefix>-router`, whose gateway is `<prefix>-external`."""
    expect, net = ctx.expect, ctx.conn.network
    if expect.private_network is None or expect.external_network is None or expect.router is None:
        raise Skipped("stage networking not declared (stopAfter): no lab networks to check or boot on")
    private = net.find_network(expect.private_network, ignore_missing=True)
    external = net.find_network(expect.external_network, ignore_missing=True)
    router = net.find_router(expect.router, ignore_missing=True)
    missing = [name for name, obj in ((expect.private_network, private), (expect.external_network, external),
                                      (expect.router, router)) if obj is None]
    if missing:
        raise CheckFailed(f"not found: {', '.join(missing)} (run `make up`)")
    problems = []
    if not private.subnet_ids:
        problems.append(f"{private.name} has no subnet")
    if not external.is_router_external:
        problems.append(f"{external.name} is not router:external")
    gateway = (router.external_gateway_info or {}).get("network_id")
    if gateway != external.id:
        problems.append(f"{router.name}'s gateway is not on {external.name}")
    if not list(net.ports(device_id=router.id, network_id=private.id)):
        problems.append(f"{router.name} has no interface on {private.name}")
    if problems:
        raise CheckFailed("; ".join(problems))
    ctx.found.boot_ids.update(network=private.id, external_network=external.id)
    cidrs = [net.get_subnet(subnet).cidr for subnet in private.subnet_ids]
    return f"{private.name} ({', '.join(cidrs)}) routed by {router.name} to {external.name}"

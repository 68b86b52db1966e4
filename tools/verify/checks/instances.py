"""Servers: on each compute one server of stage demo's image and flavor on the private network (pinned with
`<zone>:<host>` in a lab), ACTIVE on that host, a floating IP on its port that answers ping from this host,
and SSH with the demo key."""
from __future__ import annotations

from typing import Any, Callable

from tools.verify.checks import short
from tools.verify.context import Context
from tools.verify.expectations import MARKER, BootKit
from tools.verify.runner import CheckFailed, Skipped
from tools.verify.waits import NotYet, wait_for


def kit_of(ctx: Context) -> BootKit:
    if ctx.expect.boot is None:
        raise Skipped("stage demo not declared (stopAfter): no image, keypair or security group to boot with")
    return ctx.expect.boot


def boot_kit(ctx: Context) -> str:
    """Stage demo's image, flavor, keypair and security group exist."""
    kit, conn = kit_of(ctx), ctx.conn
    image = conn.image.find_image(kit.image, ignore_missing=True)
    flavor = conn.compute.find_flavor(kit.flavor, ignore_missing=True)
    keypair = conn.compute.find_keypair(kit.keypair, ignore_missing=True)
    group = conn.network.find_security_group(kit.security_group, ignore_missing=True)
    missing = [f"{what} {name}" for what, name, obj in (
        ("image", kit.image, image), ("flavor", kit.flavor, flavor), ("keypair", kit.keypair, keypair),
        ("security group", kit.security_group, group)) if obj is None]
    if missing:
        raise CheckFailed(f"not found: {', '.join(missing)} (stage demo; run `make up`)")
    if image.status != "active":
        raise CheckFailed(f"image {kit.image} is {image.status}, not active")
    ctx.found.boot_ids.update(image=image.id, flavor=flavor.id)
    return f"image {kit.image}, flavor {kit.flavor}, keypair {kit.keypair}, security group {kit.security_group}"


def create_servers(ctx: Context) -> str:
    """One server per target, all created before any is awaited (they boot side by side)."""
    kit, expect, found = kit_of(ctx), ctx.expect, ctx.found
    if not expect.targets:
        raise CheckFailed("no compute to boot on (the stack's `nodes` output names none)")
    placed = []
    for target in expect.targets:
        zone = None if expect.existing_cloud else f"{found.zones[target]}:{found.compute_hosts[target]}"
        server = ctx.conn.compute.create_server(
            name=expect.names.server(target), image_id=found.boot_ids["image"], flavor_id=found.boot_ids["flavor"],
            networks=[{"uuid": found.boot_ids["network"]}], key_name=kit.keypair,
            security_groups=[{"name": kit.security_group}], metadata={MARKER: expect.prefix},
            **({"availability_zone": zone} if zone else {}),
        )
        ctx.cleanup.server(server)
        found.servers[target] = server
        placed.append(f"{expect.names.server(target)}" + (f" on {zone}" if zone else ""))
    return f"{len(placed)} created: {', '.join(placed)}"


def server_active(target: str) -> Callable[[Context], str]:
    def check(ctx: Context) -> str:
        created = ctx.found.servers[target]

        def attempt() -> Any:
            server = ctx.conn.compute.get_server(created.id)
            if server.status == "ERROR":
                fault = (server.fault or {}).get("message", "no fault recorded")
                raise CheckFailed(f"{server.name} went to ERROR: {fault}")
            if server.status != "ACTIVE":
                raise NotYet(f"status {server.status}, task {server.task_state}")
            return server

        server = wait_for(f"{created.name} to become ACTIVE", attempt, ctx.expect.timeouts.server_active)
        ctx.found.servers[target] = server
        if ctx.expect.existing_cloud:
            return f"{server.name} ACTIVE"
        if short(server.compute_host or "") != target:
            raise CheckFailed(f"{server.name} is ACTIVE on {server.compute_host}, not on {target}")
        return f"{server.name} ACTIVE on {server.compute_host}"
    return check


def floating_ip(target: str) -> Callable[[Context], str]:
    def check(ctx: Context) -> str:
        conn, server, expect = ctx.conn, ctx.found.servers[target], ctx.expect

        def port() -> Any:
            ports = list(conn.network.ports(device_id=server.id))
            if not ports:
                raise NotYet("no port yet")
            return ports[0]

        bound = wait_for(f"the port of {server.name}", port, expect.timeouts.floating_ip)
        fip = conn.network.create_ip(floating_network_id=ctx.found.boot_ids["external_network"], port_id=bound.id,
                                     description=expect.names.floating_ip)
        ctx.cleanup.floating_ip(fip)
        address = fip.floating_ip_address
        ctx.found.addresses[target] = address

        def answers() -> None:
            if not ctx.guest.ping(address):
                raise NotYet("no echo reply")

        # The guest's boot comes first: as long as its SSH may take (demo.waitSeconds).
        wait_for(f"{address} ({server.name}) to answer ping", answers, kit_of(ctx).ssh_wait_seconds)
        fixed = ", ".join(ip["ip_address"] for ip in bound.fixed_ips or [])
        return f"{address} (fixed {fixed}) answers ping"
    return check


def ssh(target: str) -> Callable[[Context], str]:
    def check(ctx: Context) -> str:
        kit, address = kit_of(ctx), ctx.found.addresses[target]

        def attempt() -> str:
            reply = ctx.guest.ssh(address, kit.login_user, "uname -n")
            if reply.code != 0:
                lines = reply.output.strip().splitlines()
                raise NotYet(lines[-1] if lines else f"ssh exited {reply.code}")
            return reply.output.strip()

        name = wait_for(f"SSH of {kit.login_user}@{address} with the demo key", attempt, kit.ssh_wait_seconds, 5)
        return f"{kit.login_user}@{address} logged in with {ctx.guest.key_note} (guest {name})"
    return check

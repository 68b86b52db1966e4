"""Nova: every compute service up, and the hypervisors exactly the lab's computes (an existing cloud: the
ones there are, at least one)."""
from __future__ import annotations

from typing import Any

from openstack import exceptions

from tools.verify.checks import short
from tools.verify.context import Context
from tools.verify.runner import CheckFailed, Skipped


def admin_listing(ctx: Context, what: str, listing: Any) -> list[Any]:
    """An admin-only list; on an existing cloud a user without the admin role skips the check."""
    try:
        return list(listing())
    except exceptions.ForbiddenException:
        if ctx.expect.existing_cloud:
            raise Skipped(f"listing {what} needs the admin role on this cloud (HTTP 403)") from None
        raise


def compute_services(ctx: Context) -> str:
    services = admin_listing(ctx, "compute services", lambda: ctx.conn.compute.services(binary="nova-compute"))
    if not services:
        raise CheckFailed("Nova lists no nova-compute service: nothing can boot a server")
    expect, problems = ctx.expect, []
    if expect.existing_cloud:
        usable = [s for s in services if s.state == "up" and s.status == "enabled"]
        problems += [f"{s.host} is down" for s in services if s.state != "up" and s.status == "enabled"]
        if not usable:
            problems.append("no enabled nova-compute service is up")
    else:
        by_node = {short(s.host): s for s in services}
        problems += [f"no nova-compute service on {node}" for node in expect.computes if node not in by_node]
        extra = sorted(s.host for s in services if short(s.host) not in expect.computes)
        if extra:
            problems.append(f"nova-compute on hosts that are not the lab's computes: {', '.join(extra)}")
        for node in expect.computes:
            service = by_node.get(node)
            if service is None:
                continue
            if service.state != "up":
                problems.append(f"{service.host} is down (last report {service.updated_at})")
            elif service.status != "enabled":
                problems.append(f"{service.host} is disabled ({service.disabled_reason or 'no reason given'})")
            ctx.found.compute_hosts[node] = service.host
            ctx.found.zones[node] = service.availability_zone or "nova"
    if problems:
        raise CheckFailed("; ".join(problems))
    return f"{len(services)} up: {', '.join(sorted(s.host for s in services))}"


def hypervisors(ctx: Context) -> str:
    found = admin_listing(ctx, "hypervisors", lambda: ctx.conn.compute.hypervisors(details=True))
    hosts = {(h.service_details or {}).get("host") or h.name: h for h in found}
    expect, problems = ctx.expect, []
    if expect.existing_cloud:
        if not hosts:
            problems.append("Nova lists no hypervisor")
    else:
        seen = {short(host) for host in hosts}
        missing = [node for node in expect.computes if node not in seen]
        extra = sorted(host for host in hosts if short(host) not in expect.computes)
        if missing:
            problems.append(f"no hypervisor for {', '.join(missing)}")
        if extra:
            problems.append(f"hypervisors that are not the lab's computes: {', '.join(extra)}")
    problems += [f"hypervisor {host} is {h.state}" for host, h in sorted(hosts.items()) if h.state != "up"]
    if problems:
        raise CheckFailed("; ".join(problems))
    return f"exactly {', '.join(sorted(h.name for h in found))}" if not expect.existing_cloud \
        else f"{len(found)}: {', '.join(sorted(h.name for h in found))}"

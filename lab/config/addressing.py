"""Rules of the lab's addresses: derived or given CIDRs, disjoint networks, room for every node,
and a public gateway and floating-IP pool that fit the external network."""
from __future__ import annotations

from typing import Any

from lab import naming
from lab.config.model import AddressPool
from lab.config.reader import Reader

# Where the CIDRs fall back to when the supernet itself is unusable (a problem is reported then).
FALLBACK_CIDRS = ("10.208.0.0/24", "10.208.1.0/24")


def read(r: Reader, stack: str, last_node_index: int) -> dict[str, Any]:
    """LabConfig's addressing fields."""
    supernet = r.get("supernet")
    mgmt_cidr, ext_cidr = r.get("managementCidr"), r.get("externalCidr")
    if r.network("supernet", supernet) is not None and (mgmt_cidr is None or ext_cidr is None):
        try:
            derived_mgmt, derived_ext = naming.derived_cidrs(stack, supernet)
            mgmt_cidr, ext_cidr = mgmt_cidr or derived_mgmt, ext_cidr or derived_ext
        except ValueError as err:
            r.problem("supernet", f"{err}; use a /23 or larger")
    mgmt_cidr, ext_cidr = mgmt_cidr or FALLBACK_CIDRS[0], ext_cidr or FALLBACK_CIDRS[1]

    # No defaults when externalCidr is not a network (a problem names it).
    default_start: str | None = None
    default_end: str | None = None
    default_gateway: str | None = None
    try:
        default_start, default_end = naming.default_pool(ext_cidr)
        default_gateway = naming.host_address(ext_cidr, 1)
    except ValueError:
        pass
    pool_given = r.get("externalPool")
    r.unknown_fields("externalPool", pool_given, ("start", "end"))
    start, end = pool_given.get("start", default_start), pool_given.get("end", default_end)
    fields = {
        "supernet": supernet,
        "management_cidr": mgmt_cidr,
        "external_cidr": ext_cidr,
        "external_gateway": r.get("externalGateway") or default_gateway,
        "external_pool": (str(start) if start else None, str(end) if end else None),
        "private_cidr": r.get("privateCidr"),
        "dns_servers": r.get("dnsServers"),
    }
    _check(r, fields, last_node_index)
    # An absent gateway or pool address is left only with a problem reported, so the config is never used.
    fields["external_gateway"] = fields["external_gateway"] or ""
    fields["external_pool"] = AddressPool(*(address or "" for address in fields["external_pool"]))
    fields["dns_servers"] = tuple(str(s) for s in fields["dns_servers"])
    return fields


def _check(r: Reader, cfg: dict[str, Any], last_node_index: int) -> None:
    mgmt = r.network("managementCidr", cfg["management_cidr"])
    ext = r.network("externalCidr", cfg["external_cidr"])
    private = r.network("privateCidr", cfg["private_cidr"])
    named = [("managementCidr", mgmt), ("externalCidr", ext), ("privateCidr", private)]
    for i, (key_a, a) in enumerate(named):
        for key_b, b in named[i + 1:]:
            if a is not None and b is not None and a.overlaps(b):
                r.problem(key_b, f"{b} overlaps {key_a} {a}; the lab's networks must be disjoint")
    if mgmt is not None:
        last_offset = naming.FIRST_NODE_HOST + last_node_index
        if last_offset >= mgmt.num_addresses - 1:
            r.problem(
                "managementCidr",
                f"{mgmt} has no room for node addresses from .{naming.FIRST_NODE_HOST} to .{last_offset} "
                f"(the last would be beyond the broadcast address); use a larger network or fewer computes",
            )
    if ext is not None:
        _check_external(r, ext, cfg)
    for i, server in enumerate(cfg["dns_servers"]):
        r.address(f"dnsServers[{i}]", server if isinstance(server, str) else repr(server))


def _check_external(r: Reader, ext: Any, cfg: dict[str, Any]) -> None:
    gateway = r.address("externalGateway", cfg["external_gateway"])
    pool_start, pool_end = cfg["external_pool"]
    start = r.address("externalPool.start", pool_start)
    end = r.address("externalPool.end", pool_end)

    def usable(a: Any) -> bool:
        return a in ext and a not in (ext.network_address, ext.broadcast_address)

    if gateway is not None and not usable(gateway):
        r.problem("externalGateway", f"{gateway} is not a usable address of externalCidr {ext}")
    for key, addr in (("externalPool.start", start), ("externalPool.end", end)):
        if addr is not None and not usable(addr):
            r.problem(key, f"{addr} is outside externalCidr {ext} (or its network/broadcast address)")
    if start is not None and end is not None and usable(start) and usable(end):
        if start > end:
            r.problem("externalPool", f"start {start} comes after end {end}; swap them")
        elif gateway is not None and start <= gateway <= end:
            r.problem(
                "externalGateway",
                f"{gateway} lies inside externalPool {start}-{end}; move the pool or the gateway "
                "so Neutron never hands the gateway out as a floating IP",
            )

"""The IPv4 networks in use on this machine besides the stack's own: other libvirt networks' addresses
(virsh net-list, net-dumpxml) and the host's routes (ip route)."""
from __future__ import annotations

import ipaddress
import re

from lab.plan import LabPlan
from lab.preflight.probes import command


def networks_in_use(lab: LabPlan, virsh: bool) -> tuple[tuple[str, str], ...]:
    """Other libvirt networks' addresses and the host's routes, without this stack's own: (what, cidr)."""
    own_prefix, own_bridges, uri = lab.prefix + "-", {lab.management.bridge, lab.external.bridge}, lab.hosts[0].uri
    used = []
    listing = command.probe(["virsh", "-c", uri, "net-list", "--all", "--name"]) if virsh else None
    for name in (listing.stdout.split() if listing and listing.returncode == 0 else []):
        if name.startswith(own_prefix):
            continue
        xml = command.probe(["virsh", "-c", uri, "net-dumpxml", name])
        for ip in re.finditer(r"<ip\b[^>]*>", xml.stdout if xml and xml.returncode == 0 else ""):
            address = re.search(r"address='([0-9.]+)'", ip.group(0))
            prefix = re.search(r"prefix='(\d+)'", ip.group(0)) or re.search(r"netmask='([0-9.]+)'", ip.group(0))
            if address and prefix:
                network = ipaddress.ip_network(f"{address[1]}/{prefix[1]}", strict=False)
                used.append((f"libvirt network {name}", str(network)))
    routes = command.probe(["ip", "-o", "-4", "route", "show"])
    for line in (routes.stdout.splitlines() if routes and routes.returncode == 0 else []):
        fields = line.split()
        dev = fields[fields.index("dev") + 1] if "dev" in fields else ""
        if fields and fields[0] != "default" and "/" in fields[0] and dev not in own_bridges:
            used.append((f"host route via {dev}", fields[0]))
    return tuple(dict.fromkeys(used))

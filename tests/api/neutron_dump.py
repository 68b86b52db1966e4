#!/usr/bin/python3
"""Dump Neutron networks, subnets, routers and ports as JSON (run with Debian's python3,
which has openstacksdk). Credentials come from the OS_* environment, never argv; the
output holds no credential or token."""
import json
import sys

import openstack


def main():
    conn = openstack.connect()
    net = conn.network
    out = {
        "networks": [
            {
                "id": n.id, "name": n.name, "is_router_external": n.is_router_external,
                "is_shared": n.is_shared, "provider_network_type": n.provider_network_type,
                "provider_physical_network": n.provider_physical_network, "subnet_ids": list(n.subnet_ids or []),
            }
            for n in net.networks()
        ],
        "subnets": [
            {
                "id": s.id, "name": s.name, "network_id": s.network_id, "cidr": s.cidr,
                "gateway_ip": s.gateway_ip, "is_dhcp_enabled": s.is_dhcp_enabled,
                "allocation_pools": s.allocation_pools, "dns_nameservers": list(s.dns_nameservers or []),
            }
            for s in net.subnets()
        ],
        "routers": [
            {"id": r.id, "name": r.name, "external_gateway_info": r.external_gateway_info}
            for r in net.routers()
        ],
        "ports": [
            {
                "id": p.id, "name": p.name, "network_id": p.network_id, "device_id": p.device_id,
                "device_owner": p.device_owner, "fixed_ips": p.fixed_ips,
            }
            for p in net.ports()
        ],
    }
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

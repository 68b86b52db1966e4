"""`LabNetwork`: the lab's two libvirt networks on one host.

- management: NAT network with a static address per node (no DHCP); the libvirt
  host is its gateway and DNS forwarder, and every SSH connection uses it;
- external (provider): NAT network that OpenStack's `extnet` flat network and
  floating IPs live on; the nodes' eth1 joins it with no address (br-ex takes it).

In bridge mode (several hosts) there is no LabNetwork: the nodes' NICs are ports of the bridges
every host already has on a shared LAN (see LabNodeArgs), which gives the gateway and DNS.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_libvirt as libvirt

from lab.plan import NetworkPlan

TYPE = "openstack-lab:lab:LabNetwork"


@dataclass(frozen=True)
class LabNetworkArgs:
    management: NetworkPlan
    external: NetworkPlan
    dns_domain: str


class LabNetwork(pulumi.ComponentResource):
    management_network_id: pulumi.Output[str]
    external_network_id: pulumi.Output[str]

    def __init__(self, name: str, args: LabNetworkArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        def nat_network(role: str, plan: NetworkPlan, **extra: Any) -> libvirt.Network:
            # No DHCP on either: nodes get static addresses (eth0) or none (eth1).
            return libvirt.Network(
                f"{name}-{role}", name=plan.name, bridge=plan.bridge, mode="nat", addresses=[plan.cidr],
                autostart=True, dhcp=libvirt.NetworkDhcpArgs(enabled=False), opts=child, **extra,
            )

        # The management network also answers the nodes' DNS (their names, local only).
        self.management = nat_network("management", args.management, domain=args.dns_domain,
                                      dns=libvirt.NetworkDnsArgs(enabled=True, local_only=True))
        self.external = nat_network("external", args.external)
        self.management_network_id = self.management.id
        self.external_network_id = self.external.id
        self.register_outputs(
            {"management_network_id": self.management.id, "external_network_id": self.external.id}
        )

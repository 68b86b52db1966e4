"""`OpenStackNetworking`: the lab's Neutron networking as typed pulumi-openstack resources.

External flat network on `extnet` (router:external, shared), the public subnet
(allocation pool, no DHCP, the libvirt gateway), a router with its external
gateway, a private network and subnet, and the router interface. It talks to
the cloud through an explicit provider built from the lab's own credentials, so
the same component works against a lab it built or a cloud that already exists.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_openstack as openstack

from lab.openstack_plan import NetworkingPlan
from providers.keystone_ready import CloudAuth

TYPE = "openstack-lab:lab:OpenStackNetworking"


@dataclass(frozen=True)
class OpenStackNetworkingArgs:
    auth: CloudAuth
    plan: NetworkingPlan  # names and addresses


class OpenStackNetworking(pulumi.ComponentResource):
    external_network_id: pulumi.Output[str]
    public_subnet_id: pulumi.Output[str]
    router_id: pulumi.Output[str]
    private_network_id: pulumi.Output[str]
    private_subnet_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: OpenStackNetworkingArgs, opts: Optional[pulumi.ResourceOptions] = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        auth = args.auth
        self.provider = openstack.Provider(
            f"{name}-cloud",
            auth_url=auth.auth_url,
            region=auth.region,
            user_name=auth.username,
            password=pulumi.Output.secret(auth.password),
            tenant_name=auth.project_name,
            user_domain_name=auth.user_domain_name,
            project_domain_name=auth.project_domain_name,
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, provider=self.provider)
        plan, names = args.plan, args.plan.names
        self.external_network = openstack.networking.Network(
            f"{name}-external",
            name=names.external_network,
            external=True,
            shared=True,
            segments=[
                openstack.networking.NetworkSegmentArgs(network_type="flat", physical_network=plan.physical_network)
            ],
            opts=child,
        )

        def ipv4_subnet(resource_name: str, subnet_name: str, network: openstack.networking.Network, cidr: str,
                        **settings: Any) -> openstack.networking.Subnet:
            return openstack.networking.Subnet(resource_name, name=subnet_name, network_id=network.id,
                                               cidr=cidr, ip_version=4, opts=child, **settings)

        self.public_subnet = ipv4_subnet(
            f"{name}-public", names.public_subnet, self.external_network, plan.external_cidr,
            enable_dhcp=False,
            gateway_ip=plan.external_gateway,
            allocation_pools=[openstack.networking.SubnetAllocationPoolArgs(start=plan.pool_start, end=plan.pool_end)],
        )
        self.router = openstack.networking.Router(
            f"{name}-router",
            name=names.router,
            external_network_id=self.external_network.id,
            # The gateway port needs an address from the public subnet.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.public_subnet])),
        )
        self.private_network = openstack.networking.Network(
            f"{name}-private", name=names.private_network, opts=child
        )
        self.private_subnet = ipv4_subnet(
            f"{name}-private-subnet", names.private_subnet, self.private_network, plan.private_cidr,
            enable_dhcp=True,
            dns_nameservers=list(plan.dns_servers),
        )
        self.router_interface = openstack.networking.RouterInterface(
            f"{name}-router-private",
            router_id=self.router.id,
            subnet_id=self.private_subnet.id,
            opts=child,
        )
        self.external_network_id = self.external_network.id
        self.public_subnet_id = self.public_subnet.id
        self.router_id = self.router.id
        self.private_network_id = self.private_network.id
        self.private_subnet_id = self.private_subnet.id
        self.register_outputs(
            {
                "external_network_id": self.external_network.id,
                "public_subnet_id": self.public_subnet.id,
                "router_id": self.router.id,
                "private_network_id": self.private_network.id,
                "private_subnet_id": self.private_subnet.id,
            }
        )

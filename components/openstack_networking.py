"""`OpenStackNetworking`: the lab's Neutron networking as typed pulumi-openstack resources.

External flat network on `extnet` (router:external, shared), the public subnet
(allocation pool, no DHCP, the libvirt gateway), a router with its external
gateway, a private network and subnet, and the router interface. It talks to
the cloud through an explicit provider built from the lab's own credentials, so
the same component works against a lab it built or a cloud that already exists.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_openstack as openstack

from providers.keystone_ready import CloudAuth

TYPE = "openstack-lab:lab:OpenStackNetworking"


@dataclass(frozen=True)
class OpenStackNetworkingArgs:
    auth: CloudAuth
    name_prefix: str
    physical_network: str
    external_cidr: str
    external_gateway: str
    pool_start: str
    pool_end: str
    private_cidr: str
    dns_servers: tuple[str, ...]


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
        prefix = args.name_prefix
        self.external_network = openstack.networking.Network(
            f"{name}-external",
            name=f"{prefix}-external",
            external=True,
            shared=True,
            segments=[
                openstack.networking.NetworkSegmentArgs(network_type="flat", physical_network=args.physical_network)
            ],
            opts=child,
        )

        def ipv4_subnet(resource_name: str, suffix: str, network: openstack.networking.Network, cidr: str,
                        **settings) -> openstack.networking.Subnet:
            return openstack.networking.Subnet(resource_name, name=f"{prefix}-{suffix}", network_id=network.id,
                                               cidr=cidr, ip_version=4, opts=child, **settings)

        self.public_subnet = ipv4_subnet(
            f"{name}-public", "public", self.external_network, args.external_cidr,
            enable_dhcp=False,
            gateway_ip=args.external_gateway,
            allocation_pools=[openstack.networking.SubnetAllocationPoolArgs(start=args.pool_start, end=args.pool_end)],
        )
        self.router = openstack.networking.Router(
            f"{name}-router",
            name=f"{prefix}-router",
            external_network_id=self.external_network.id,
            # The gateway port needs an address from the public subnet.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.public_subnet])),
        )
        self.private_network = openstack.networking.Network(f"{name}-private", name=f"{prefix}-private", opts=child)
        self.private_subnet = ipv4_subnet(
            f"{name}-private-subnet", "private", self.private_network, args.private_cidr,
            enable_dhcp=True,
            dns_nameservers=list(args.dns_servers),
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

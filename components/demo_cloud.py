"""`DemoCloud`: what a cloud needs before anything can boot, as typed pulumi-openstack resources.

An image (CirrOS by default, its file's sha256 verified on this host before the upload, Glance's
checksum verified after), the demo flavors the cloud does not have yet, a keypair, and a security
group whose rules let ICMP and SSH in. With `demoInstance`, one server on the private network behind
its own port, a floating IP on that port, and `SshReady`, which waits (bounded) until the
server answers SSH from this host.

Flavors the cloud already has are never created (nor deleted): name-only entries of `demo.flavors`,
and in a lab Packstack's m1.tiny..m1.xlarge (CONFIG_NOVA_MANAGE_FLAVORS). It talks to the cloud
through the networking stage's explicit provider.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pulumi
import pulumi_openstack as openstack

from lab.openstack_plan import DemoPlan
from providers.image_file import ImageFile, ImageFileArgs
from providers.ssh_ready import SshReady, SshReadyArgs

TYPE = "openstack-lab:lab:DemoCloud"
IMAGE_CACHE = Path.home() / ".cache" / "openstack-lab" / "images"
# The name a user's own server gets in the ready `openstack server create` line.
USER_SERVER = "demo1"


def login_user(source: str) -> str:
    return "cirros" if "cirros" in source.lower() else "<the image's login user>"


@dataclass(frozen=True)
class DemoCloudArgs:
    # Settings, names (the clouds.yaml entry the commands use too), the flavors the cloud already has (only
    # used, never created), the image's visibility, the key file the user's ssh line names.
    plan: DemoPlan
    public_key: pulumi.Input[str]  # of the keypair
    private_network_id: pulumi.Input[str]
    # What a server's port and floating IP need first (the private subnet, the router's interface on it).
    network_ready: tuple[pulumi.Resource, ...] = ()
    cache_dir: str = field(default_factory=lambda: str(IMAGE_CACHE))


class DemoCloud(pulumi.ComponentResource):
    image_id: pulumi.Output[str]
    keypair_name: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    server_create: str
    floating_ip_commands: str
    server_ip: Optional[pulumi.Output[str]]

    def __init__(self, name: str, args: DemoCloudArgs, provider: openstack.Provider,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        plan, names, demo = args.plan, args.plan.names, args.plan.settings

        self.image_file = ImageFile(
            f"{name}-image-file",
            ImageFileArgs(source=demo.image, sha256=demo.image_sha256, cache_dir=args.cache_dir,
                          proxy=pulumi.Output.secret(plan.download_proxy.value) if plan.download_proxy else None),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.image = openstack.images.Image(
            f"{name}-image",
            name=plan.image_name,
            local_file_path=self.image_file.path,
            container_format="bare",
            disk_format=demo.disk_format,
            visibility=plan.image_visibility,
            verify_checksum=True,
            opts=child,
        )
        self.flavors: dict[str, openstack.compute.Flavor] = {}
        for flavor in demo.flavors:
            if flavor.existing or flavor.name in plan.existing_flavors:
                continue
            self.flavors[flavor.name] = openstack.compute.Flavor(
                f"{name}-flavor-{flavor.name}",
                name=flavor.name,
                vcpus=flavor.vcpus,
                ram=flavor.ram_mib,
                disk=flavor.disk_gib,
                is_public=True,
                opts=child,
            )
        self.keypair = openstack.compute.Keypair(
            f"{name}-keypair", name=names.keypair, public_key=args.public_key, opts=child
        )
        self.security_group = openstack.networking.SecGroup(
            f"{name}-secgroup", name=names.security_group, description="openstack-lab demo: ICMP and SSH in", opts=child
        )
        self.rules = [
            openstack.networking.SecGroupRule(
                f"{name}-{rule}",
                direction="ingress",
                ethertype="IPv4",
                protocol=protocol,
                port_range_min=port,
                port_range_max=port,
                remote_ip_prefix="0.0.0.0/0",
                security_group_id=self.security_group.id,
                description=f"openstack-lab demo: {rule}",
                opts=child,
            )
            for rule, protocol, port in (("icmp", "icmp", None), ("ssh", "tcp", 22))
        ]

        server_flavor = demo.flavors[0].name
        self.server_create = (
            f"OS_CLOUD={names.cloud} openstack server create --flavor {server_flavor} --image {plan.image_name} "
            f"--network {names.private_network} --key-name {names.keypair} --security-group {names.security_group} "
            f"--wait {USER_SERVER}"
        )
        self.floating_ip_commands = "\n".join([
            f"export OS_CLOUD={names.cloud}",
            f"FIP=$(openstack floating ip create -f value -c floating_ip_address {names.external_network})",
            f'openstack server add floating ip {USER_SERVER} "$FIP"',
            'ping -c 3 "$FIP"',
            f'ssh -i {plan.ssh_key_file} {login_user(demo.image)}@"$FIP"',
        ]) + "\n"

        self.server_ip = None
        if demo.instance:
            self._server(name, args, child, server_flavor)

        self.image_id = self.image.id
        self.keypair_name = self.keypair.name
        self.security_group_id = self.security_group.id
        self.register_outputs({
            "image_id": self.image.id,
            "keypair_name": self.keypair.name,
            "security_group_id": self.security_group.id,
            "server_create": self.server_create,
            **({"server_ip": self.server_ip} if self.server_ip is not None else {}),
        })

    def _server(self, name: str, args: DemoCloudArgs, child: pulumi.ResourceOptions, flavor: str) -> None:
        """The opt-in demo server: port (with the group), server, floating IP on the port, the wait."""
        names, demo = args.plan.names, args.plan.settings
        server_name = names.demo_server
        after_network = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=list(args.network_ready)))
        self.port = openstack.networking.Port(
            f"{name}-port",
            name=server_name,
            network_id=args.private_network_id,
            security_group_ids=[self.security_group.id],
            opts=after_network,
        )
        created = self.flavors.get(flavor)
        self.server = openstack.compute.Instance(
            f"{name}-server",
            name=server_name,
            flavor_id=created.id if created is not None else None,
            flavor_name=None if created is not None else flavor,
            image_id=self.image.id,
            key_pair=self.keypair.name,
            networks=[openstack.compute.InstanceNetworkArgs(port=self.port.id)],
            opts=child,
        )
        self.floating_ip = openstack.networking.FloatingIp(
            f"{name}-floating-ip",
            pool=names.external_network,
            port_id=self.port.id,
            description=f"openstack-lab demo: {server_name}",
            opts=after_network,
        )
        self.ready = SshReady(
            f"{name}-ready",
            SshReadyArgs(
                subject=f"server {server_name}",
                host=self.floating_ip.address,
                identity=self.server.id,
                timeout_seconds=demo.wait_seconds,
                timeout_setting="demo.waitSeconds",
                hint=f"See why with `openstack console log show {server_name}` and `openstack port show {server_name}`",
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.server, *self.rules]),
        )
        self.server_ip = pulumi.Output.all(self.floating_ip.address, self.ready.id).apply(lambda v: v[0])

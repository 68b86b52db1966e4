"""`LabNode`: one KVM/QEMU virtual machine of the lab.

A copy-on-write volume on the stack's base volume, its role's empty data disks (virtio
vdb, vdc, ... in order; Cinder's and Swift's on the controller), a cloud-init disk (hostname,
static management address, login key, the node's own SSH host key, /etc/hosts)
and a domain with two NICs: eth0 on the management network, eth1 on the
external network with no address, so br-ex can take eth1 without ever cutting
the management SSH path.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_libvirt as libvirt

from lab.cloudinit import meta_data, network_config, user_data
from lab.config import BootSettings
from lab.node_plan import HostEntry, NodePlan
from providers.ssh_keypair import SshKeyPair

TYPE = "openstack-lab:lab:LabNode"
GIB = 1024**3
# Upstream's cloud-init disk create uploads the ISO, then reads it back through a libvirt stream; that read once came
# back empty ("error while retrieving remote ISO: ... corrupted-image: EOF", e2e tier, host A's local socket; the
# plugin toolchain/ builds reads nothing back, but a user's ~/.pulumi may hold upstream's). The bridge
# then records the disk with initialization errors, and every later `up` fails on it: the engine retries with an
# update, which the provider has none of ("doesn't support update"). Replacing on "*" covers the init error (the
# engine's `#initerror` path): the next `up` replaces the disk instead; delete first, the volume's name is fixed
# (create-before-delete fails: "storage volume ... exists already"). Every other change of the disk replaces it anyway.
CLOUD_INIT_RECOVERY = pulumi.ResourceOptions(replace_on_changes=["*"], delete_before_replace=True)


@dataclass(frozen=True)
class LabNodeArgs:
    node: NodePlan
    hypervisor: str  # libvirt domain type: kvm or qemu
    pool: pulumi.Input[str]
    base_volume_id: pulumi.Input[str]
    # Each NIC joins a libvirt network (NAT mode) or, in bridge mode, the host's own bridge on the shared LAN
    # as a plain bridge port: a libvirt network in bridge mode would add only a name, and the provider reads
    # such a NIC back as a bridge NIC (bridge set, no network ID), so every preview would show a change.
    management_network_id: Optional[pulumi.Input[str]]
    external_network_id: Optional[pulumi.Input[str]]
    authorized_key: pulumi.Input[str]
    hosts: tuple[HostEntry, ...]  # /etc/hosts entries known at first boot
    boot: Optional[BootSettings] = None
    management_bridge: Optional[str] = None  # bridge mode: the host's bridges
    external_bridge: Optional[str] = None


def kernel_cmdline(cmdline: str) -> list[dict[str, str]]:
    """A kernel command line in the canonical form the libvirt provider reads back.

    terraform-provider-libvirt 0.8 writes the arguments sorted and reads them back as one map
    of key=value arguments (a new map only when a key repeats) followed by one map
    {"_": "<keyless arguments joined by spaces>"}; any other form shows as a change (and a
    replaced domain) on every preview.
    """
    keyed: list[dict[str, str]] = [{}]
    keyless: list[str] = []
    for arg in sorted(cmdline.split()):
        key, sep, value = arg.partition("=")
        if not sep:
            keyless.append(arg)
            continue
        if key in keyed[-1]:
            keyed.append({})
        keyed[-1][key] = value
    parts = [m for m in keyed if m]
    if keyless:
        parts.append({"_": " ".join(keyless)})
    return parts


def cpu_mode(hypervisor: str) -> str:
    """The libvirt CPU mode of a node.

    KVM: the host CPU, since computes run guests of their own. TCG: every feature QEMU can
    emulate (libvirt >= 7.1), because EL9 userspace needs x86-64-v2 (SSE4.2, POPCNT) and
    QEMU's default TCG model (qemu64) lacks it: glibc stops with "CPU does not support x86-64-v2".
    """
    return "host-passthrough" if hypervisor == "kvm" else "maximum"


class LabNode(pulumi.ComponentResource):
    domain_id: pulumi.Output[str]
    host_public_key: pulumi.Output[str]
    management_ip: pulumi.Output[str]

    def __init__(self, name: str, args: LabNodeArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ident = args.node.identity
        libvirt_name, size = args.node.libvirt_name, args.node.size
        self.host_key = SshKeyPair(f"{name}-host-key", comment=f"host key of {ident.fqdn}", opts=child)

        keys = pulumi.Output.all(args.authorized_key, self.host_key.private_key, self.host_key.public_key)
        # Typed as the Input it is: mypy solves Output.secret's type variable from an Input, not an Output.
        rendered_user_data: pulumi.Input[str] = keys.apply(
            lambda k: user_data(ident, k[0], k[1], k[2], list(args.hosts))
        )
        self.cloud_init = libvirt.CloudInitDisk(
            f"{name}-cloud-init",
            name=args.node.volumes.cloud_init,
            pool=args.pool,
            user_data=pulumi.Output.secret(rendered_user_data),
            meta_data=meta_data(libvirt_name, ident.hostname),
            network_config=network_config(ident),
            opts=pulumi.ResourceOptions.merge(child, CLOUD_INIT_RECOVERY),
        )
        self.disk = libvirt.Volume(
            f"{name}-disk",
            name=args.node.volumes.root,
            pool=args.pool,
            base_volume_id=args.base_volume_id,
            size=size.disk_gib * GIB,
            format="qcow2",
            opts=child,
        )
        # Empty data disks, attached after the root disk (vdb, vdc, ...). A new one is a create, but the
        # domain is replaced: the provider cannot change its disk list in place (ForceNew); the volumes stay.
        self.data_disks = [
            libvirt.Volume(
                f"{name}-data{disk.index + 1}",
                name=volume_name,
                pool=args.pool,
                size=disk.size_gib * GIB,
                format="qcow2",
                opts=child,
            )
            for volume_name, disk in args.node.volumes.data
        ]
        boot = args.boot
        self.domain = libvirt.Domain(
            f"{name}-domain",
            name=libvirt_name,
            type=args.hypervisor,
            vcpu=size.vcpus,
            memory=size.memory_mib,
            cpu=libvirt.DomainCpuArgs(mode=cpu_mode(args.hypervisor)),
            cloudinit=self.cloud_init.id,
            disks=[libvirt.DomainDiskArgs(volume_id=v.id) for v in (self.disk, *self.data_disks)],
            network_interfaces=[
                libvirt.DomainNetworkInterfaceArgs(
                    network_id=args.management_network_id, bridge=args.management_bridge,
                    mac=ident.management_mac, wait_for_lease=False,
                ),
                libvirt.DomainNetworkInterfaceArgs(
                    network_id=args.external_network_id, bridge=args.external_bridge,
                    mac=ident.external_mac, wait_for_lease=False,
                ),
            ],
            consoles=[libvirt.DomainConsoleArgs(type="pty", target_port="0", target_type="serial")],
            graphics=libvirt.DomainGraphicsArgs(type="vnc", listen_type="none"),
            kernel=boot.kernel if boot else None,
            initrd=boot.initrd if boot else None,
            cmdlines=kernel_cmdline(boot.cmdline) if boot and boot.cmdline else None,
            autostart=True,
            running=True,
            opts=child,
        )
        self.domain_id = self.domain.id
        self.host_public_key = self.host_key.public_key
        self.management_ip = pulumi.Output.from_input(ident.management_ip)
        self.register_outputs(
            {
                "domain_id": self.domain.id,
                "host_public_key": self.host_key.public_key,
                "management_ip": ident.management_ip,
            }
        )

"""The lab's plan: every fact the components need, computed once from the config.

Pure and immutable: every node (name, role, addresses, FQDN, MACs, libvirt name, size), both
libvirt networks, the storage and the name prefix. Components take their part of it instead of
recomputing names and addresses.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional

from lab import naming
from lab.answers import DataDisk, StorageDisks, storage_disks
from lab.cloudinit import NodeIdentity
from lab.config import LabConfig, NodeSize
from lab.config.model import ExistingCompute


class HostEntry(NamedTuple):
    """One node's line of /etc/hosts and known_hosts."""

    ip: str
    fqdn: str
    short: str


@dataclass(frozen=True)
class NetworkPlan:
    name: str  # libvirt name
    bridge: str  # Linux bridge, <= 15 characters: the lab's own (nat), or the one each host has (bridge)
    cidr: str
    mode: str = "nat"  # nat: a NAT network of the one host; bridge: the hosts' bridge on a shared LAN


@dataclass(frozen=True)
class StoragePlan:
    pool_name: str
    pool_path: Optional[str]  # None: use the existing pool `pool_name`
    base_volume_name: str
    base_image: str  # path or URL of a qcow2


@dataclass(frozen=True)
class HostPlan:
    """One KVM host: its libvirt provider, networks and storage carry `suffix` in their Pulumi names."""

    name: str
    uri: str
    suffix: str  # "" on the first host (a one-host lab keeps its names), "-<name>" on the others
    storage: StoragePlan


@dataclass(frozen=True)
class NodePlan:
    identity: NodeIdentity  # what cloud-init writes: hostname, FQDN, management address, MACs
    role: str  # controller | compute
    libvirt_name: str  # prefix of the node's libvirt objects, carries project and stack
    size: NodeSize
    host: int = 0  # index into LabPlan.hosts; ignored for an existing machine
    existing: Optional[ExistingCompute] = None  # a machine the lab joins but does not create

    @property
    def name(self) -> str:
        return self.identity.hostname

    @property
    def fqdn(self) -> str:
        return self.identity.fqdn

    @property
    def management_ip(self) -> str:
        return self.identity.management_ip

    @property
    def host_entry(self) -> HostEntry:
        return HostEntry(self.management_ip, self.fqdn, self.name)

    @property
    def data_disks(self) -> tuple[tuple[str, DataDisk], ...]:
        """(libvirt volume name, disk) of each data disk, in attachment order after the root disk."""
        return tuple(
            (f"{self.libvirt_name}-data{i + 1}.qcow2", DataDisk(i, size))
            for i, size in enumerate(self.size.data_disks_gib)
        )


@dataclass(frozen=True)
class LabPlan:
    config: LabConfig
    prefix: str  # of every libvirt and OpenStack name of the stack
    dns_domain: str
    management: NetworkPlan
    external: NetworkPlan
    storage: StoragePlan  # the first host's
    nodes: tuple[NodePlan, ...]  # controller first
    hosts: tuple[HostPlan, ...] = ()

    @property
    def bridged(self) -> bool:
        """Bridge mode: the nodes' NICs are ports of each host's own LAN bridges (no libvirt network)."""
        return self.management.mode == "bridge"

    @property
    def lab_nodes(self) -> tuple[NodePlan, ...]:
        """The nodes the lab creates (not the existing machines it joins)."""
        return tuple(node for node in self.nodes if node.existing is None)

    @property
    def controller(self) -> NodePlan:
        return self.nodes[0]

    @property
    def storage_disks(self) -> StorageDisks:
        """The controller's data disks Cinder and Swift use."""
        return storage_disks(self.config.controller.data_disks_gib, self.config.packstack_answers)

    @property
    def host_entries(self) -> tuple[HostEntry, ...]:
        return tuple(node.host_entry for node in self.nodes)

    def ssh_command(self, node: NodePlan) -> str:
        """How to log in to a node with the files `make ssh-config` writes."""
        stack = self.config.stack
        return f"ssh -i .lab/{stack}/id_ed25519 -o UserKnownHostsFile=.lab/{stack}/known_hosts root@{node.management_ip}"


def plan(config: LabConfig) -> LabPlan:
    project, stack = config.project, config.stack
    dns_domain = naming.dns_domain(stack)

    bridges = {"management": config.network.management_bridge, "external": config.network.external_bridge}

    def network(role: str, cidr: str) -> NetworkPlan:
        if config.network.mode == "bridge":  # the hosts' bridge; no libvirt network carries the name
            return NetworkPlan(naming.libvirt_name(project, stack, role), bridges[role], cidr, "bridge")
        return NetworkPlan(naming.libvirt_name(project, stack, role), naming.bridge_name(project, stack, role), cidr)

    def node(placed) -> NodePlan:
        name = placed.name
        identity = NodeIdentity(
            hostname=name,
            fqdn=naming.fqdn(name, stack),
            management_ip=placed.address,
            management_cidr=config.management_cidr,
            management_gateway=config.management_gateway,
            management_mac=naming.mac_address(project, stack, name, 0),
            external_mac=naming.mac_address(project, stack, name, 1),
            dns_domain=dns_domain,
            nameservers=config.network.nameservers,
        )
        role = "controller" if name == naming.CONTROLLER else "compute"
        return NodePlan(identity, role, naming.libvirt_name(project, stack, name), config.size_of(name),
                        placed.host or 0, placed.existing)

    def storage(host) -> StoragePlan:
        # Every host holds its own copy of the base image in its own pool (same libvirt names: other hosts).
        own_pool = host.storage_pool_path is not None
        return StoragePlan(
            pool_name=naming.libvirt_name(project, stack, "pool") if own_pool else host.storage_pool,
            pool_path=host.storage_pool_path,
            base_volume_name=naming.libvirt_name(project, stack, "base") + ".qcow2",
            base_image=config.base_image,
        )

    hosts = tuple(
        HostPlan(host.name, host.uri, "" if k == 0 else f"-{host.name}", storage(host))
        for k, host in enumerate(config.lab_hosts)
    )
    return LabPlan(
        config=config,
        prefix=naming.resource_prefix(project, stack),
        dns_domain=dns_domain,
        management=network("management", config.management_cidr),
        external=network("external", config.external_cidr),
        storage=hosts[0].storage,
        nodes=tuple(node(placed) for placed in config.placed_nodes),
        hosts=hosts,
    )

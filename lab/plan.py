"""The lab's plan: every fact the components, preflight and the tools need, computed once from the config.

Pure and immutable: every node (lab/node_plan.py: name, role, host, addresses, FQDN, MACs, libvirt
name, size, volumes), both networks, each host's storage, the prefix, the stages declared, host
prep's settings, the login key and its files, the Packstack answers (computed once, from the
nodes), and what the lab declares in OpenStack (lab/openstack_plan.py: names, networking, demo).
Components take their part of it; none of them reads the config.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping, Optional

from lab import naming
from lab.answers import lab_answers
from lab.cloudinit import NodeIdentity
from lab.config.model import (STAGES, BootSettings, ExistingCloud, ExistingCompute, LabConfig, LabHost, PlacedNode,
                              PrepProfile, RhelSubscription, Secret)
from lab.node_plan import HostEntry, NodePlan, NodeVolumes, node_volumes
from lab.openstack_plan import DemoPlan, NetworkingPlan, OpenStackNames, image_name, openstack_names
from lab.package_sources import PackageSourcesPlan, download_proxy, package_sources_plan
from lab.packstack_facts import KEYSTONE_PORT, PHYSNET, StorageDisks, cloud_flavors, storage_disks
from lab.snapshot_plan import SnapshotPlan, snapshot_plan

__all__ = [
    "DemoPlan", "HostEntry", "HostPlan", "LabPlan", "LoginPlan", "NetworkPlan", "NetworkingPlan", "NodePlan",
    "NodeVolumes", "OpenStackNames", "PrepPlan", "SnapshotPlan", "StoragePlan", "plan",
]


@dataclass(frozen=True)
class NetworkPlan:
    name: str  # libvirt name
    bridge: str  # Linux bridge, <= 15 characters: the lab's own (nat), or the one each host has (bridge)
    cidr: str
    mode: str = "nat"  # nat: a NAT network of the one host; bridge: the hosts' bridge on a shared LAN
    gateway: Optional[str] = None  # management: the libvirt host or the LAN's router; external: the public gateway


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
    keys: str = ""  # where its settings are in the config, for messages: "hosts[1]." or "" (the top-level keys)


@dataclass(frozen=True)
class PrepPlan:
    """How host prep prepares every node."""

    profile: PrepProfile
    os_flavor: str
    openstack_release: str
    package_update: bool
    rhel: Optional[RhelSubscription]
    boot_timeout: int  # seconds a node may take to answer SSH, and again to finish cloud-init
    package_sources: Optional[PackageSourcesPlan] = None  # proxy and mirrors (lab/package_sources.py); None: unset


@dataclass(frozen=True)
class LoginPlan:
    """Root login key of every node (the configured pair, or one the lab generates) and the files
    `make ssh-config` writes for the user's ssh lines."""

    public_key: Optional[str]  # None: the lab generates the pair
    private_key: Optional[Secret]
    comment: str  # of a generated key
    key_file: str  # .lab/<stack>/id_ed25519
    known_hosts_file: str  # .lab/<stack>/known_hosts

    @property
    def configured(self) -> bool:
        return bool(self.public_key and self.private_key)


@dataclass(frozen=True)
class LabPlan:
    prefix: str  # of every libvirt and OpenStack name of the stack
    dns_domain: str
    stages: tuple[str, ...]  # the stages declared, in order (up to stopAfter)
    management: NetworkPlan
    external: NetworkPlan
    storage: StoragePlan  # the first host's
    nodes: tuple[NodePlan, ...]  # controller first, existing machines last
    hosts: tuple[HostPlan, ...]
    hypervisor: str  # libvirt domain type: kvm or qemu
    boot: Optional[BootSettings]
    prep: PrepPlan
    login: LoginPlan
    answers: Mapping[str, str]  # the lab's Packstack answer edits, read-only
    storage_disks: StorageDisks  # the controller's data disks Cinder and Swift use
    keystone_url: str  # the lab's Keystone on the controller (Packstack's endpoint)
    horizon_url: str
    keystone_timeout: int
    networking: NetworkingPlan
    demo: Optional[DemoPlan]  # None: stage demo not declared
    cloud: Optional[ExistingCloud] = None  # an existing cloud: only networking and demo are declared there
    snapshots: SnapshotPlan = SnapshotPlan()  # lab-wide snapshots, taken after the last stage

    def runs(self, stage: str) -> bool:
        """Whether a stage is declared."""
        return stage in self.stages

    @property
    def bridged(self) -> bool:
        """Bridge mode: the nodes' NICs are ports of each host's own LAN bridges (no libvirt network)."""
        return self.management.mode == "bridge"

    @property
    def lab_nodes(self) -> tuple[NodePlan, ...]:
        """The nodes the lab creates (not the existing machines it joins)."""
        return tuple(node for node in self.nodes if node.existing is None)

    @property
    def existing_machines(self) -> tuple[ExistingCompute, ...]:
        """The machines the lab joins (existingComputes), in the config's order."""
        return tuple(node.existing for node in self.nodes if node.existing is not None)

    @property
    def controller(self) -> NodePlan:
        return self.nodes[0]

    @property
    def host_entries(self) -> tuple[HostEntry, ...]:
        return tuple(node.host_entry for node in self.nodes)

    def host_nodes(self, index: int) -> tuple[NodePlan, ...]:
        """The nodes the lab creates on host `index`."""
        return tuple(node for node in self.nodes if node.host == index)

    def ssh_command(self, node: NodePlan) -> str:
        """How to log in to a node with the files `make ssh-config` writes."""
        return (f"ssh -i {self.login.key_file} -o UserKnownHostsFile={self.login.known_hosts_file} "
                f"root@{node.management_ip}")


def plan(config: LabConfig) -> LabPlan:
    project, stack = config.project, config.stack
    prefix = naming.resource_prefix(project, stack)
    dns_domain = naming.dns_domain(stack)
    hosts = tuple(
        HostPlan(host.name, host.uri, "" if k == 0 else f"-{host.name}", _storage(config, host),
                 f"hosts[{k}]." if config.hosts else "")
        for k, host in enumerate(config.lab_hosts)
    )
    nodes = tuple(_node(config, placed, dns_domain, hosts) for placed in config.placed_nodes)
    controller = nodes[0]
    disks = storage_disks(controller.size.data_disks_gib, config.packstack_answers)
    answers = lab_answers(
        controller=controller.management_ip,
        computes=[node.management_ip for node in nodes[1:]],
        management_cidr=config.management_cidr,
        l2_agent=config.l2_agent,
        storage=disks,
        extra=config.packstack_answers,
    )
    names = openstack_names(prefix)
    login = LoginPlan(
        public_key=config.ssh_public_key,
        private_key=config.ssh_private_key,
        comment=f"{prefix} login",
        key_file=f".lab/{stack}/id_ed25519",
        known_hosts_file=f".lab/{stack}/known_hosts",
    )
    return LabPlan(
        prefix=prefix,
        dns_domain=dns_domain,
        stages=tuple(stage for stage in STAGES if config.runs(stage)),
        management=_network(config, "management", config.management_cidr, config.management_gateway),
        external=_network(config, "external", config.external_cidr, config.external_gateway),
        storage=hosts[0].storage,
        nodes=nodes,
        hosts=hosts,
        hypervisor=config.hypervisor,
        boot=config.boot,
        prep=PrepPlan(config.prep_profile, config.os_flavor, config.openstack_release, config.package_update,
                      config.rhel, config.boot_timeout, package_sources_plan(config, dns_domain)),
        login=login,
        answers=MappingProxyType(answers),
        storage_disks=disks,
        keystone_url=f"http://{controller.management_ip}:{KEYSTONE_PORT}/v3",
        horizon_url=f"http://{controller.management_ip}/dashboard",
        keystone_timeout=config.keystone_timeout,
        networking=NetworkingPlan(names, PHYSNET, config.external_cidr, config.external_gateway,
                                  config.external_pool.start, config.external_pool.end, config.private_cidr,
                                  config.dns_servers),
        demo=_demo(config, prefix, names, login, cloud_flavors(answers)),
        cloud=config.cloud,
        snapshots=snapshot_plan(config.snapshots, nodes),
    )


def _network(config: LabConfig, role: str, cidr: str, gateway: str) -> NetworkPlan:
    name = naming.libvirt_name(config.project, config.stack, role)
    if config.network.mode == "bridge":  # the hosts' bridge; no libvirt network carries the name
        bridges = {"management": config.network.management_bridge, "external": config.network.external_bridge}
        host_bridge = bridges[role]
        if host_bridge is None:  # the config rules name both bridges in bridge mode
            raise ValueError(f"network.mode bridge without network.{role}Bridge")
        return NetworkPlan(name, host_bridge, cidr, "bridge", gateway)
    return NetworkPlan(name, naming.bridge_name(config.project, config.stack, role), cidr, "nat", gateway)


def _storage(config: LabConfig, host: LabHost) -> StoragePlan:
    # Every host holds its own copy of the base image in its own pool (same libvirt names: other hosts).
    own_pool = host.storage_pool_path is not None
    return StoragePlan(
        pool_name=naming.libvirt_name(config.project, config.stack, "pool") if own_pool else host.storage_pool,
        pool_path=host.storage_pool_path,
        base_volume_name=naming.libvirt_name(config.project, config.stack, "base") + ".qcow2",
        base_image=config.base_image,
    )


def _node(config: LabConfig, placed: PlacedNode, dns_domain: str, hosts: tuple[HostPlan, ...]) -> NodePlan:
    project, stack, name = config.project, config.stack, placed.name
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
    libvirt_name = naming.libvirt_name(project, stack, name)
    size = config.size_of(name)
    return NodePlan(
        identity=identity,
        role="controller" if name == naming.CONTROLLER else "compute",
        libvirt_name=libvirt_name,
        size=size,
        volumes=node_volumes(libvirt_name, size),
        host=placed.host,
        libvirt_uri=hosts[placed.host].uri if placed.host is not None else None,
        existing=placed.existing,
    )


def _demo(config: LabConfig, prefix: str, names: OpenStackNames, login: LoginPlan,
          lab_flavors: frozenset[str]) -> Optional[DemoPlan]:
    demo = config.demo
    if demo is None or not config.runs("demo"):
        return None
    existing_cloud = config.cloud is not None
    return DemoPlan(
        settings=demo,
        names=names,
        image_name=image_name(prefix, demo.image),
        public_key=demo.public_key,
        # Packstack's flavors exist only in a lab the lab built.
        existing_flavors=frozenset() if existing_cloud else lab_flavors,
        image_visibility="private" if existing_cloud else "public",
        ssh_key_file="<private key of demo.publicKey>" if demo.public_key else login.key_file,
        download_proxy=download_proxy(package_sources_plan(config, naming.dns_domain(config.stack)), demo.image),
    )

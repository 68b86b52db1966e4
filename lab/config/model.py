"""The lab's configuration as values: typed, immutable, already validated."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

from lab import naming

# Stages in the order they run; `stopAfter` names the last one to declare.
STAGES = ("nodes", "prep", "answers", "packstack", "networking", "demo")


class Secret:
    """A secret config value: its repr never shows the value."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "Secret(***)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other.value == self.value

    def __hash__(self) -> int:
        return hash(self.value)


@dataclass(frozen=True)
class NodeSize:
    vcpus: int
    memory_mib: int
    disk_gib: int
    data_disks_gib: tuple[int, ...] = ()  # extra virtio disks after the root disk, in order (vdb, vdc, ...)


@dataclass(frozen=True)
class AddressPool:
    start: str
    end: str


@dataclass(frozen=True)
class BootSettings:
    """Direct kernel boot (paths on the libvirt host), e.g. for the Debian test image."""

    kernel: str
    initrd: Optional[str]
    cmdline: Optional[str]


@dataclass(frozen=True)
class RhelSubscription:
    username: str
    password: Secret


@dataclass(frozen=True)
class PackageMirrors:
    """Base URLs of the local mirrors the nodes install from (packageSources.mirrors; centos-stream only)."""

    baseos: str
    appstream: str
    crb: str
    rdo: str  # the Cloud SIG's openstack-<release> repository
    rdo_deps: Mapping[str, str]  # rabbitmq, openvswitch, ceph: the SIG repositories the release package enables
    extras: Optional[str] = None  # extras-common, where centos-release-openstack-<release> comes from


@dataclass(frozen=True)
class PackageSources:
    """Where the nodes' packages come from (packageSources, packageProxyPassword); empty: the public mirrors."""

    proxy: Optional[str] = None  # http://host:port, no credentials
    proxy_user: Optional[str] = None
    proxy_password: Optional[Secret] = None
    no_proxy: tuple[str, ...] = ()  # extra hosts/domains; the lab adds its own (lab/package_sources.py)
    mirrors: Optional[PackageMirrors] = None
    gpg_keys: str = "release-package"  # or the http(s) URL of a directory holding the SIG key files

    @property
    def configured(self) -> bool:
        return self.proxy is not None or self.mirrors is not None


@dataclass(frozen=True)
class ExistingCloud:
    """Credentials of a cloud that already exists (skips nodes and Packstack)."""

    auth_url: str
    username: str
    password: Secret
    project_name: str
    user_domain_name: str
    project_domain_name: str
    region: str


@dataclass(frozen=True)
class PrepProfile:
    """How nodes are prepared: el9 for users; a test overlay may add others (see lab/config/profiles.py)."""

    name: str
    script: str  # a script under scripts/, or an absolute path (a test overlay's own)
    last_stage: str  # stopAfter may not go beyond it
    min_memory_mib: Mapping[str, int]  # role -> MiB; a role missing here has no fixed minimum
    min_disk_gib: Mapping[str, int]  # role -> GiB
    package_manager: str = "dnf"  # what packageSources configures on the node: dnf (el9) or apt (a Debian guest)

    @property
    def runs_packstack(self) -> bool:
        return STAGES.index(self.last_stage) >= STAGES.index("packstack")


@dataclass(frozen=True)
class DemoFlavor:
    """A flavor of the demo set: created by the lab, or (no sizes) one the cloud already has."""

    name: str
    vcpus: Optional[int] = None
    ram_mib: Optional[int] = None
    disk_gib: Optional[int] = None

    @property
    def existing(self) -> bool:
        return self.vcpus is None


@dataclass(frozen=True)
class DemoSettings:
    """What stage demo declares: an image, flavors, a keypair, a security group; optionally a server."""

    image: str  # http(s) URL or absolute path of a qcow2/raw image
    image_sha256: Optional[str]  # the published checksum; None only for a local file
    disk_format: str
    flavors: tuple[DemoFlavor, ...]  # the first is the demo server's
    public_key: Optional[str]  # None: the lab's login key
    instance: bool  # demoInstance: boot one server with a floating IP and wait for its SSH
    wait_seconds: int


@dataclass(frozen=True)
class LabHost:
    """A KVM host of the lab: its libvirt URI, how many computes it carries, where its volumes go."""

    name: str  # suffix of its Pulumi resource names (none on the first host) and of its computes' names
    uri: str
    computes: int
    storage_pool: str
    storage_pool_path: Optional[str]  # None: the existing pool `storage_pool`


@dataclass(frozen=True)
class NetworkSettings:
    """How the lab's two networks reach the nodes: NAT networks of the one host (nat), or libvirt
    networks in bridge mode on bridges every host has on a LAN they share (bridge)."""

    mode: str = "nat"
    management_bridge: Optional[str] = None  # bridge mode: the hosts' existing bridges
    external_bridge: Optional[str] = None
    management_gateway: Optional[str] = None  # bridge mode: the LAN's router; nat: the libvirt host
    nameservers: tuple[str, ...] = ()  # bridge mode: the nodes' DNS servers


@dataclass(frozen=True)
class ExistingCompute:
    """An EL9 machine the lab does not create, joined as a compute by address and login key."""

    name: str
    address: str
    host_key: Optional[str]  # pinned `type base64`; None with trust_first_contact
    trust_first_contact: bool


@dataclass(frozen=True)
class PlacedNode:
    """Where a node runs: its name, the index of its host in `hosts` (None: an existing machine) and its
    management address."""

    name: str
    host: Optional[int]
    address: str
    existing: Optional[ExistingCompute] = None


# Management address blocks: host k's computes take node indexes k*HOST_BLOCK+1, ..., so adding a compute
# on one host never moves a node of another.
HOST_BLOCK = 40


@dataclass(frozen=True)
class LabConfig:
    project: str
    stack: str
    libvirt_uri: str
    storage_pool: str
    storage_pool_path: Optional[str]
    base_image: str
    hypervisor: str
    controller: NodeSize
    compute: NodeSize
    compute_count: int
    supernet: str
    management_cidr: str
    external_cidr: str
    external_gateway: str
    external_pool: AddressPool
    private_cidr: str
    dns_servers: tuple[str, ...]
    os_flavor: str
    rhel: Optional[RhelSubscription]
    openstack_release: str
    l2_agent: str
    ssh_public_key: Optional[str]
    ssh_private_key: Optional[Secret]
    packstack_answers: Mapping[str, str]
    stop_after: str
    prep_profile: PrepProfile
    boot: Optional[BootSettings]
    package_update: bool
    cloud: Optional[ExistingCloud]
    boot_timeout: int
    keystone_timeout: int
    demo: Optional[DemoSettings] = None  # None: stage demo not declared
    # Placement: one host (libvirtUri, computeCount, storagePool[Path]) unless `hosts` lists several;
    # libvirt_uri, compute_count and storage_pool[_path] above are the first host's.
    hosts: tuple[LabHost, ...] = ()
    network: NetworkSettings = NetworkSettings()
    existing_computes: tuple[ExistingCompute, ...] = ()
    snapshots: tuple[str, ...] = ()  # lab-wide snapshot names, taken after the last stage
    package_sources: PackageSources = PackageSources()  # proxy and mirrors of the nodes' packages

    @property
    def existing_cloud(self) -> bool:
        return self.cloud is not None

    @property
    def lab_hosts(self) -> tuple[LabHost, ...]:
        """The hosts; one built from libvirtUri/computeCount/storagePool[Path] when `hosts` is unset."""
        return self.hosts or (
            LabHost("local", self.libvirt_uri, self.compute_count, self.storage_pool, self.storage_pool_path),
        )

    @property
    def placed_nodes(self) -> tuple[PlacedNode, ...]:
        """Every node, controller first (on the first host), then each host's computes, then existing machines."""
        nodes = [PlacedNode(naming.CONTROLLER, 0, naming.node_address(self.management_cidr, 0))]
        for k, host in enumerate(self.lab_hosts):
            for j in range(1, host.computes + 1):
                name = f"compute{j}" if k == 0 else f"{host.name}-compute{j}"
                nodes.append(PlacedNode(name, k, naming.node_address(self.management_cidr, k * HOST_BLOCK + j)))
        nodes += [PlacedNode(e.name, None, e.address, e) for e in self.existing_computes]
        return tuple(nodes)

    @property
    def all_in_one(self) -> bool:
        """No compute anywhere: the controller is the compute too."""
        return not self.existing_computes and not any(host.computes for host in self.lab_hosts)

    @property
    def node_names(self) -> list[str]:
        return [node.name for node in self.placed_nodes]

    @property
    def management_gateway(self) -> str:
        return self.network.management_gateway or naming.host_address(self.management_cidr, 1)

    @property
    def node_nameservers(self) -> tuple[str, ...]:
        """The nodes' DNS: the NAT network's dnsmasq (the gateway), or the LAN's servers in bridge mode."""
        return self.network.nameservers or (self.management_gateway,)

    def node_address(self, node: str) -> str:
        return next(n.address for n in self.placed_nodes if n.name == node)

    def size_of(self, node: str) -> NodeSize:
        return self.controller if node == naming.CONTROLLER else self.compute

    def runs(self, stage: str) -> bool:
        """Whether a stage is declared (all stages up to and including stopAfter)."""
        return STAGES.index(stage) <= STAGES.index(self.stop_after)

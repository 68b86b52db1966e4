"""One node of the lab, planned: where it runs, what it is called, its addresses, size and disks.

Pure and immutable; lab/plan.py makes one per placed node.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional

from lab.cloudinit import NodeIdentity
from lab.config.model import ExistingCompute, NodeSize
from lab.packstack_facts import DataDisk


class HostEntry(NamedTuple):
    """One node's line of /etc/hosts and known_hosts."""

    ip: str
    fqdn: str
    short: str


@dataclass(frozen=True)
class NodeVolumes:
    """The libvirt volumes of a node the lab creates, by name."""

    root: str  # copy-on-write layer on the host's base volume
    cloud_init: str  # NoCloud ISO
    data: tuple[tuple[str, DataDisk], ...]  # (volume name, disk) in attachment order after the root disk


def node_volumes(libvirt_name: str, size: NodeSize) -> NodeVolumes:
    return NodeVolumes(
        root=f"{libvirt_name}.qcow2",
        cloud_init=f"{libvirt_name}-cloudinit.iso",
        data=tuple(
            (f"{libvirt_name}-data{i + 1}.qcow2", DataDisk(i, gib)) for i, gib in enumerate(size.data_disks_gib)
        ),
    )


@dataclass(frozen=True)
class NodePlan:
    identity: NodeIdentity  # what cloud-init writes: hostname, FQDN, management address, MACs
    role: str  # controller | compute
    libvirt_name: str  # prefix of the node's libvirt objects, carries project and stack
    size: NodeSize
    volumes: NodeVolumes
    host: Optional[int] = 0  # index into LabPlan.hosts; None: an existing machine (on no lab host)
    libvirt_uri: Optional[str] = None  # its host's libvirt URI; None for an existing machine
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

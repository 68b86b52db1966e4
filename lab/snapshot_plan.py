"""What the lab-wide snapshots need (`snapshots`): their names and, per lab node, where its domain lives.

Existing machines (`existingComputes`) are never snapshotted: the lab does not own them (they run on no lab host,
and a revert of the lab must not roll back a machine it only joined); `skipped` names them for preview and revert.
"""
from __future__ import annotations

from dataclasses import dataclass

from lab.node_plan import NodePlan


@dataclass(frozen=True)
class SnapshotNode:
    node: str  # the lab's node name (controller, compute1, b-compute1, ...)
    domain: str  # its libvirt domain
    host_uri: str  # its host's libvirt URI (qemu:///system, qemu+ssh://...)


@dataclass(frozen=True)
class SnapshotPlan:
    names: tuple[str, ...] = ()  # each one lab-wide snapshot, in the order given
    nodes: tuple[SnapshotNode, ...] = ()  # every lab node, controller first
    skipped: tuple[str, ...] = ()  # existing machines: never snapshotted

    def domains_on(self, uri: str) -> tuple[str, ...]:
        return tuple(n.domain for n in self.nodes if n.host_uri == uri)

    @property
    def host_uris(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(n.host_uri for n in self.nodes))


def snapshot_plan(names: tuple[str, ...], nodes: tuple[NodePlan, ...]) -> SnapshotPlan:
    lab = tuple(SnapshotNode(n.name, n.libvirt_name, n.libvirt_uri) for n in nodes
                if n.existing is None and n.libvirt_uri is not None)
    return SnapshotPlan(names, lab, tuple(n.name for n in nodes if n.existing is not None))

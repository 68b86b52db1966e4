"""`LabSnapshot`: one lab-wide snapshot (`snapshots: [name]`), the same name on every lab node, taken together.

Consistent across nodes and hosts: every running domain is suspended first (none runs ahead of the others: a
controller's database and a compute's agent see the same moment), then each domain gets an internal snapshot
with its memory (`virsh snapshot-create-as --atomic`: QEMU's savevm into the qcow2 disks; a read-only cloud-init
CD-ROM holds none), then all are resumed, also when a snapshot fails (a failure removes the snapshots this try
took, so the next `up` starts clean). Hosts are reached as the libvirt provider reaches them
(providers/libvirt_virsh.py). `make revert SNAPSHOT=name` (tools/lifecycle/revert.py) goes back to it.

Inputs: the name and, per node, its host URI, domain name and domain ID: a node replaced (new ID) or added
replaces the snapshot, deleted first (the name is taken on each domain). `delete` removes the name from every
domain, tolerating a domain or snapshot already gone; the resource depends on the domains, so `destroy` deletes
it before them.

Pulumi pickles the provider by reference (this module's path and the class name): do not move or rename them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider

from providers.libvirt_virsh import SshFailure, VirshError, all_paused, reached, run_virsh
from providers.resource import LabResource, fields_of

OUTPUTS = ("seconds", "paused_seconds")
# One domain's snapshot: QEMU writes its whole memory into the qcow2 (minutes for a big guest on a slow disk).
SNAPSHOT_TIMEOUT_S = 1800
# What virsh says when the domain or the snapshot is already gone (libvirt 7-10).
GONE = ("failed to get domain", "Domain not found", "no domain with matching", "Domain snapshot not found",
        "no domain snapshot with matching name")


class SnapshotFailed(Exception):
    pass


def _targets(props: dict[str, Any], usable: dict[str, str]) -> list[tuple[str, str]]:
    return [(usable[node["host_uri"]], node["domain"]) for node in props["nodes"]]


def take(props: dict[str, Any]) -> dict[str, float]:
    """The snapshot on every node, all suspended together; seconds in all and seconds the nodes stood paused."""
    name = props["snapshot"]
    started = time.monotonic()
    taken: list[tuple[str, str]] = []
    try:
        with reached(node["host_uri"] for node in props["nodes"]) as usable:
            targets = _targets(props, usable)
            with all_paused(targets):
                paused_at = time.monotonic()
                try:
                    for uri, domain in targets:
                        run_virsh(uri, "snapshot-create-as", "--domain", domain, "--name", name, "--atomic",
                                  "--description", f"openstack-lab snapshot {name}", timeout=SNAPSHOT_TIMEOUT_S)
                        taken.append((uri, domain))
                except VirshError:
                    for uri, domain in taken:  # none or all: the next try starts clean
                        _remove(uri, domain, name)
                    raise
                paused = time.monotonic() - paused_at
    except (VirshError, SshFailure) as err:
        raise SnapshotFailed(f"snapshot {name}: {err} (nothing kept: every node runs as before)") from None
    return {"seconds": round(time.monotonic() - started, 1), "paused_seconds": round(paused, 1)}


def _remove(uri: str, domain: str, name: str) -> bool:
    """The snapshot off one domain; False when the domain or snapshot is already gone."""
    try:
        run_virsh(uri, "snapshot-delete", "--domain", domain, "--snapshotname", name, timeout=SNAPSHOT_TIMEOUT_S)
        return True
    except VirshError as err:
        if any(mark in err.detail for mark in GONE):
            return False
        raise


def drop(props: dict[str, Any]) -> list[str]:
    """The snapshot off every node; the domains that no longer had it (gone, or removed by hand)."""
    name, missing = props["snapshot"], []
    try:
        with reached(node["host_uri"] for node in props["nodes"]) as usable:
            for uri, domain in _targets(props, usable):
                if not _remove(uri, domain, name):
                    missing.append(domain)
    except (VirshError, SshFailure) as err:
        raise SnapshotFailed(f"deleting snapshot {name}: {err}") from None
    return missing


def _identity(props: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(n.get("node"), n.get("host_uri"), n.get("domain"), n.get("domain_id")) for n in props.get("nodes", [])]


class LabSnapshotProvider(ResourceProvider):
    # read is the SDK's (the state is the truth); delete removes what libvirt holds.
    def create(self, props: dict[str, Any]) -> CreateResult:
        times = take(props)
        pulumi.log.info(f"snapshot {props['snapshot']} of {len(props['nodes'])} node(s) in {times['seconds']} s "
                        f"(paused {times['paused_seconds']} s)")
        first = props["nodes"][0]["domain"] if props["nodes"] else "none"
        return CreateResult(id_=f"{props['snapshot']}@{first}", outs={**props, **times})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [key for key, same in (("snapshot", olds.get("snapshot") == news.get("snapshot")),
                                          ("nodes", _identity(olds) == _identity(news))) if not same]
        return DiffResult(changes=bool(replaces), replaces=replaces, stables=list(OUTPUTS),
                          delete_before_replace=True)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        missing = drop(props)
        if missing:
            pulumi.log.info(f"snapshot {props['snapshot']}: already gone from {', '.join(missing)}")


@dataclass(frozen=True)
class LabSnapshotArgs:
    snapshot: str  # the libvirt snapshot name on every node
    nodes: Sequence[dict[str, Any]]  # {node, host_uri, domain, domain_id}: every lab node, controller first


class LabSnapshot(LabResource):
    seconds: pulumi.Output[float]
    paused_seconds: pulumi.Output[float]

    def __init__(self, name: str, args: LabSnapshotArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(LabSnapshotProvider(), name, fields_of(args), opts, outputs=OUTPUTS)

"""A host's memory and disk against what the nodes placed on it need (lab/preflight/needs.py), each
shortage naming the keys to lower."""
from __future__ import annotations

from lab.plan import LabPlan
from lab.preflight.check import Check, HostScope
from lab.preflight.facts import HostFacts
from lab.preflight.needs import (
    GIB,
    HOST_RESERVE_MIB,
    host_nodes,
    needed_disk_bytes,
    needed_memory_mib,
)


def memory(lab: LabPlan, scope: HostScope, facts: HostFacts) -> Check | None:
    if facts.mem_available_mib is None:
        return None
    need = needed_memory_mib(lab, scope.index)
    ok = facts.mem_available_mib >= need
    have = (f"{facts.mem_available_mib} MiB in total (the host reports no free memory)" if facts.mem_total_only
            else f"{facts.mem_available_mib} MiB available")
    nodes = len(host_nodes(lab, scope.index))
    return scope.check(
        "memory", ok,
        f"{have}, the lab needs {need} MiB ({nodes} nodes + {HOST_RESERVE_MIB} MiB for the host)"
        + ("" if ok else f"; lower controller.memoryMiB / compute.memoryMiB or {scope.count_key}, or free memory"))


def disk(lab: LabPlan, scope: HostScope, facts: HostFacts) -> Check | None:
    need = needed_disk_bytes(lab, scope.index)
    if facts.disk_free_bytes is not None:
        ok = facts.disk_free_bytes >= need
        return scope.check(
            "disk", ok,
            f"{facts.disk_free_bytes // GIB} GiB free in {facts.disk_path}, the disks may grow to {need // GIB} GiB"
            + ("" if ok else f"; free space there, set {scope.key}storagePoolPath to a larger disk, or lower diskGiB"))
    if scope.host.storage.pool_path and not scope.local:
        return scope.check(
            "disk", False,
            f"{scope.key}storagePoolPath {scope.host.storage.pool_path}: not checked, libvirt reports free space only "
            "for pools that exist and the lab creates this one on `up`; make sure that disk has "
            f"{need // GIB} GiB free", fatal=False)
    return None  # unknown: nothing to say

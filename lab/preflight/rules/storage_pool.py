"""The existing storage pool a host's nodes use (storagePool, when the lab does not make its own): it
exists and is active."""
from __future__ import annotations

from lab.preflight.check import Check, HostScope
from lab.preflight.facts import HostFacts
from lab.preflight.hosts import DEFAULT_POOL_DIR


def storage_pool(scope: HostScope, facts: HostFacts) -> Check | None:
    host, pool = scope.host, scope.host.storage.pool_name
    if facts.pool_exists is False:
        virsh = "virsh" if scope.local and host.uri == "qemu:///system" else f"virsh -c '{host.uri}'"
        return scope.check(
            "storage pool", False,
            f"libvirt has no storage pool {pool!r}: create it ({virsh} pool-define-as {pool} "
            f"dir --target {DEFAULT_POOL_DIR}; {virsh} pool-start {pool}; "
            f"{virsh} pool-autostart {pool}), or set {scope.key}storagePoolPath to let the lab make "
            "its own")
    if facts.pool_exists and facts.pool_active is False:
        return scope.check("storage pool", False, f"storage pool {pool!r} is inactive: `virsh -c "
                                                  f"'{host.uri}' pool-start {pool}` (and pool-autostart)")
    if facts.pool_exists:
        return scope.check("storage pool", True, f"{pool!r} exists and is active")
    return None  # not asked: the lab makes its own pool, or libvirt did not say

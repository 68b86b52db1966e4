"""What the configured lab asks of each libvirt host: the nodes placed on it, their memory and disk, the
bridges of bridge mode. Pure: read from the lab's plan (lab/plan.py), where placement and sizes are decided."""
from __future__ import annotations

from lab.plan import LabPlan

MIB = 1024**2
GIB = 1024**3
# Room the host itself keeps besides the guests.
HOST_RESERVE_MIB = 1024


def host_nodes(lab: LabPlan, index: int) -> list[str]:
    return [node.name for node in lab.host_nodes(index)]


def needed_memory_mib(lab: LabPlan, index: int = 0) -> int:
    return sum(node.size.memory_mib for node in lab.host_nodes(index)) + HOST_RESERVE_MIB


def needed_disk_bytes(lab: LabPlan, index: int = 0) -> int:
    # Copy-on-write disks (root and data disks, all in the host's pool) grow up to their virtual size; plan for it.
    return sum(node.size.disk_gib + sum(node.size.data_disks_gib) for node in lab.host_nodes(index)) * GIB


def needed_bridges(lab: LabPlan) -> tuple[tuple[str, str], ...]:
    """Bridge mode: (network.<field>, bridge name) of the LAN bridges every host must have; none in NAT mode.
    The config's rules make bridge mode name both (lab/config/placement.py)."""
    if not lab.bridged:
        return ()
    named = (("managementBridge", lab.management.bridge), ("externalBridge", lab.external.bridge))
    return tuple((field, bridge) for field, bridge in named if bridge)

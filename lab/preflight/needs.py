"""What the configured lab asks of each libvirt host: the nodes placed on it, their memory and disk, the
bridges of bridge mode. Pure: read from the config."""
from __future__ import annotations

from lab.config import LabConfig

MIB = 1024**2
GIB = 1024**3
# Room the host itself keeps besides the guests.
HOST_RESERVE_MIB = 1024


def host_nodes(cfg: LabConfig, index: int) -> list[str]:
    return [n.name for n in cfg.placed_nodes if n.host == index]


def needed_memory_mib(cfg: LabConfig, index: int = 0) -> int:
    return sum(cfg.size_of(n).memory_mib for n in host_nodes(cfg, index)) + HOST_RESERVE_MIB


def needed_disk_bytes(cfg: LabConfig, index: int = 0) -> int:
    # Copy-on-write disks (root and data disks, all in the host's pool) grow up to their virtual size; plan for it.
    return sum(cfg.size_of(n).disk_gib + sum(cfg.size_of(n).data_disks_gib) for n in host_nodes(cfg, index)) * GIB


def needed_bridges(cfg: LabConfig) -> tuple[tuple[str, str], ...]:
    """Bridge mode: (network.<field>, bridge name) of the LAN bridges every host must have; none in NAT mode.
    The config's rules make bridge mode name both (lab/config/placement.py)."""
    if cfg.network.mode != "bridge":
        return ()
    named = (("managementBridge", cfg.network.management_bridge), ("externalBridge", cfg.network.external_bridge))
    return tuple((field, bridge) for field, bridge in named if bridge)

"""What every check gets: the SDK connection, the expectations, the clean-up registry, the guest access from
this host, and what earlier checks found (for the checks after them)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tools.verify.cleanup import Cleanup
from tools.verify.expectations import Expectations
from tools.verify.guest import Guest


@dataclass
class Found:
    services: frozenset[str] = frozenset()  # service types of the catalog
    compute_hosts: dict[str, str] = field(default_factory=dict)  # target -> Nova host (lab: pinned there)
    zones: dict[str, str] = field(default_factory=dict)  # target -> its compute service's availability zone
    boot_ids: dict[str, str] = field(default_factory=dict)  # image, flavor, network, external_network ids
    servers: dict[str, Any] = field(default_factory=dict)  # target -> server
    addresses: dict[str, str] = field(default_factory=dict)  # target -> floating IP address
    volume: Any = None  # the volume the storage checks made
    disks_before: frozenset[str] = frozenset()  # the guest's disks before the volume was attached


@dataclass
class Context:
    conn: Any  # openstack.connection.Connection (a test's fake has the same attributes)
    expect: Expectations
    cleanup: Cleanup
    guest: Guest
    found: Found = field(default_factory=Found)

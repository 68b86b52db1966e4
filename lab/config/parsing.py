"""`parse()`: raw stack-config values (and a test overlay) in, a validated `LabConfig` out, every
problem reported at once. Pure: `load()` (pulumi_source.py) calls it with what the Pulumi runtime holds."""
from __future__ import annotations

import os
from types import MappingProxyType
from typing import Any, Callable, Mapping

from lab.config import (access, addressing, cloud, demo, flow, host, packages, placement, profiles, sizes, snapshots,
                        software)
from lab.config.model import LabConfig
from lab.config.reader import ConfigError, Reader


def parse(
    raw: Mapping[str, Any],
    project: str,
    stack: str,
    secret_keys: frozenset[str] = frozenset(),
    path_exists: Callable[[str], bool] = os.path.exists,
    overlay: Mapping[str, Any] = MappingProxyType({}),
) -> LabConfig:
    """Validate raw stack config (key -> value, values as Pulumi stores them)."""
    r = Reader(raw, secret_keys)
    profile = profiles.read(r, overlay)
    node_sizes = sizes.read(r, profile)
    software_fields = software.read(r)
    place = {**host.read(r, path_exists), "compute_count": node_sizes.pop("compute_count")}
    place.update(placement.read(r))
    config = LabConfig(
        project=project,
        stack=stack,
        **place,
        **node_sizes,
        **addressing.read(r, stack, _last_node_index(place)),
        **software_fields,
        **access.read(r, software_fields["os_flavor"]),
        **flow.read(r, profile),
        cloud=cloud.read(r),
        **demo.read(r),
        **snapshots.read(r),
        **packages.read(r, software_fields["os_flavor"], software_fields["openstack_release"],
                        dict(software_fields["packstack_answers"])),
    )
    if config.existing_computes and not r.problems:  # (node addresses need a valid managementCidr)
        placement.check_addresses(r, config.management_cidr, config.management_gateway,
                                  [n.address for n in config.placed_nodes if n.existing is None],
                                  config.existing_computes)
    sizes.check_controller_memory(r, config)
    sizes.check_storage_answers(r, config)
    if r.problems:
        raise ConfigError(project, r.problems)
    return config


def _last_node_index(place: dict[str, Any]) -> int:
    """The highest management index a lab node takes (see LabConfig.placed_nodes)."""
    hosts = place["hosts"]
    if not hosts:
        return place["compute_count"]
    return max([k * placement.HOST_BLOCK + h.computes for k, h in enumerate(hosts) if h.computes] or [0])

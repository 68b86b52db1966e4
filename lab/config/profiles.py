"""Host-prep profiles: el9, the users' only one, and those a test overlay adds.

A test overlay (tests/support/overlay/README.md) is a mapping
`{prepProfiles: {name: {script, lastStage, minMemoryMiB, minDiskGiB, packageManager}}, prepProfile: name}`;
the Pulumi source reads it from the file OPENSTACK_LAB_TEST_OVERLAY names, with `script`
already made absolute, and `parse()` gets it as an argument.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping, Optional

from lab.packstack_facts import COMPUTE_MIB
from lab.config.model import STAGES, PrepProfile
from lab.config.reader import Reader

OVERLAY_ENV = "OPENSTACK_LAB_TEST_OVERLAY"
ROLES = ("controller", "compute")

# An el9 controller has no fixed memory minimum: its memory follows the Packstack services it will
# run instead (sizes.check_controller_memory).
EL9 = PrepProfile(
    name="el9",
    script="prep-el9.sh",
    last_stage=STAGES[-1],
    min_memory_mib=MappingProxyType({"compute": COMPUTE_MIB}),
    min_disk_gib=MappingProxyType({"controller": 20, "compute": 10}),
)


def read(r: Reader, overlay: Mapping[str, Any]) -> PrepProfile:
    """The profile every node is prepared with: the overlay's choice, el9 without one."""
    r.unknown_fields("overlay", overlay, ("prepProfile", "prepProfiles"))
    profiles = {EL9.name: EL9}
    for name, spec in dict(overlay.get("prepProfiles") or {}).items():
        profile = _profile(r, f"overlay.prepProfiles.{name}", name, spec)
        if profile is not None:
            profiles[name] = profile
    chosen = overlay.get("prepProfile", EL9.name)
    if chosen not in profiles:
        r.problem("overlay.prepProfile", f"{chosen!r} is not one of {', '.join(profiles)}")
        return EL9
    return profiles[chosen]


def _profile(r: Reader, where: str, name: str, spec: Any) -> Optional[PrepProfile]:
    fields = ("script", "lastStage", "minMemoryMiB", "minDiskGiB", "packageManager")
    if not isinstance(spec, dict) or not str(spec.get("script", "")).startswith("/"):
        r.problem(where, f"expected {{{', '.join(fields)}}} with an absolute script path")
        return None
    r.unknown_fields(where, spec, fields)
    last_stage = spec.get("lastStage", STAGES[-1])
    if last_stage not in STAGES:
        r.problem(f"{where}.lastStage", f"{last_stage!r} is not one of {', '.join(STAGES)}")
        last_stage = STAGES[0]
    minimums = {}
    for field in ("minMemoryMiB", "minDiskGiB"):
        given = spec.get(field) or {}
        if not all(role in ROLES and isinstance(v, int) and v > 0 for role, v in given.items()):
            r.problem(f"{where}.{field}", f"expected positive whole numbers for {', '.join(ROLES)}")
            given = {}
        minimums[field] = MappingProxyType(dict(given))
    manager = spec.get("packageManager", "dnf")
    if manager not in ("dnf", "apt"):
        r.problem(f"{where}.packageManager", f"{manager!r} is not one of dnf, apt")
        manager = "dnf"
    return PrepProfile(name, spec["script"], last_stage, minimums["minMemoryMiB"], minimums["minDiskGiB"], manager)

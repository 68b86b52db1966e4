"""Rules of node sizes and count: positive whole numbers, the profile's minimums, and the
controller memory the chosen Packstack services need."""
from __future__ import annotations

from typing import Any

from lab.packstack_facts import controller_memory_need, storage_disks
from lab.config.model import LabConfig, NodeSize, PrepProfile
from lab.config.reader import Reader
from lab.config.schema import SCHEMA

ROLES = ("controller", "compute")
DATA_DISKS = "dataDisksGiB"
# virtio disks vdb..vdz after the root disk vda
MAX_DATA_DISKS = 25


def read(r: Reader, profile: PrepProfile) -> dict[str, Any]:
    """LabConfig's size fields."""
    compute_count = r.get("computeCount")
    if compute_count < 0:
        r.problem("computeCount", f"{compute_count} is negative; use 0 (all-in-one) or more")
        compute_count = 0
    return {**{role: _size(r, role, profile) for role in ROLES}, "compute_count": compute_count}


def _size(r: Reader, role: str, profile: PrepProfile) -> NodeSize:
    default = SCHEMA[role].default
    given = r.get(role)
    r.unknown_fields(role, given, (*default, DATA_DISKS))
    values = {}
    for key, fallback in default.items():
        v = given.get(key, fallback)
        if isinstance(v, str) and v.isdigit():
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            r.problem(f"{role}.{key}", f"expected a positive whole number, got {v!r}")
            v = fallback
        values[key] = v
    need = profile.min_memory_mib.get(role)
    if need is not None and values["memoryMiB"] < need:
        r.problem(
            f"{role}.memoryMiB",
            f"{values['memoryMiB']} MiB is below the {need} MiB a {role} needs "
            f"(host-prep profile {profile.name}); raise it to at least {need}",
        )
    disk = profile.min_disk_gib.get(role)
    if disk is not None and values["diskGiB"] < disk:
        r.problem(f"{role}.diskGiB", f"{values['diskGiB']} GiB is below the {disk} GiB a {role} needs")
    return NodeSize(values["vcpus"], values["memoryMiB"], values["diskGiB"], _data_disks(r, role, given))


def _data_disks(r: Reader, role: str, given: dict[str, Any]) -> tuple[int, ...]:
    """Sizes (GiB) of the role's extra disks, in attachment order."""
    disks = given.get(DATA_DISKS, [])
    if isinstance(disks, (int, str)) and not isinstance(disks, bool):
        disks = [disks]
    if not isinstance(disks, list):
        r.problem(f"{role}.{DATA_DISKS}", f"expected a list of sizes in GiB such as [40, 20], got {disks!r}")
        return ()
    if len(disks) > MAX_DATA_DISKS:
        r.problem(f"{role}.{DATA_DISKS}", f"{len(disks)} disks; at most {MAX_DATA_DISKS} (vdb..vdz)")
        return ()
    sizes = []
    for i, v in enumerate(disks):
        if isinstance(v, str) and v.isdigit():
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            r.problem(f"{role}.{DATA_DISKS}[{i}]", f"expected a positive whole number of GiB, got {v!r}")
            continue
        sizes.append(v)
    return tuple(sizes)


def check_controller_memory(r: Reader, config: LabConfig) -> None:
    """The controller must hold the Packstack services the answers turn on."""
    if not config.prep_profile.runs_packstack or config.existing_cloud:
        return
    need = controller_memory_need(config.packstack_answers, config.controller.vcpus, config.all_in_one)
    have = config.controller.memory_mib
    if have < need.mib:
        r.problem(
            "controller.memoryMiB",
            f"{have} MiB is below the {need.mib} MiB the controller needs for its Packstack services "
            f"({' + '.join(need.reasons)} MiB); raise controller.memoryMiB to at least {need.mib}, "
            "or turn services off in packstackAnswers",
        )


def check_storage_answers(r: Reader, config: LabConfig) -> None:
    """While Cinder and Swift live on the controller's data disks, their disk answers are the lab's."""
    if config.existing_cloud:
        return
    disks = storage_disks(config.controller.data_disks_gib, config.packstack_answers)
    for key in disks.managed_answers:
        if key in config.packstack_answers:
            r.problem(
                f"packstackAnswers.{key}",
                f"is managed by the lab while controller.{DATA_DISKS} holds Cinder's and Swift's storage "
                f"(disk 1: the {'cinder-volumes LVM group' if disks.cinder else 'Swift device'}); remove it, "
                f"or remove controller.{DATA_DISKS} to get Packstack's loopback files",
            )

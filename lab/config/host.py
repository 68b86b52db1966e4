"""Rules of where the lab lives: libvirt connection, storage, base image, hypervisor, direct kernel boot."""
from __future__ import annotations

import re
from typing import Any, Callable

from lab.config.model import BootSettings
from lab.config.reader import Reader


def read(r: Reader, path_exists: Callable[[str], bool]) -> dict[str, Any]:
    """LabConfig's host fields."""
    libvirt_uri = r.get("libvirtUri")
    if not re.match(r"^[a-z][a-z0-9+]*://", libvirt_uri):
        r.problem("libvirtUri", f"{libvirt_uri!r} is not a libvirt URI such as qemu:///system")

    storage_pool_path = r.get("storagePoolPath")
    if storage_pool_path is not None and not storage_pool_path.startswith("/"):
        r.problem("storagePoolPath", f"{storage_pool_path!r} must be an absolute directory path")

    base_image = r.get("baseImage")
    if not re.match(r"^https?://", base_image) and not path_exists(base_image):
        r.problem("baseImage", f"file {base_image} does not exist; give an existing qcow2 path or an http(s) URL")

    return {
        "libvirt_uri": libvirt_uri,
        "storage_pool": r.get("storagePool"),
        "storage_pool_path": storage_pool_path,
        "base_image": base_image,
        "hypervisor": r.get("hypervisor"),
        "boot": _boot(r),
    }


def _boot(r: Reader) -> BootSettings | None:
    given = r.get("boot")
    if not given:
        return None
    r.unknown_fields("boot", given, ("kernel", "initrd", "cmdline"))
    if not given.get("kernel"):
        r.problem("boot.kernel", "direct kernel boot needs the kernel path (or remove boot)")
    return BootSettings(str(given.get("kernel", "")), given.get("initrd"), given.get("cmdline"))

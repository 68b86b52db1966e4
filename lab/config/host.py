"""Rules of where the lab lives: libvirt connection, storage, base image, hypervisor, direct kernel boot."""
from __future__ import annotations

import re
from typing import Any, Callable
from urllib.parse import urlparse

from lab import libvirt_ssh
from lab.config.model import BootSettings
from lab.config.reader import Reader


# libvirt's QEMU driver over the transports the libvirt provider implements (terraform-provider-libvirt 0.8.3
# libvirt/uri/connection_uri.go:71-83: tcp, tls, unix, ssh; not libssh, libssh2 or ext); the test driver serves
# the engine tier's previews.
LIBVIRT_SCHEMES = ("qemu", "qemu+ssh", "qemu+tcp", "qemu+tls", "qemu+unix", "test", "test+unix")


def libvirt_uri_problem(uri: str) -> str | None:
    parsed = urlparse(uri)
    if not re.match(r"^[a-z][a-z0-9+]*://", uri) or parsed.scheme not in LIBVIRT_SCHEMES:
        schemes = ", ".join(s for s in LIBVIRT_SCHEMES if not s.startswith("test"))
        return (f"{uri!r} is not a libvirt QEMU URI the libvirt provider opens; use qemu:///system, or "
                f"qemu+ssh://user@host/system for another host (schemes: {schemes})")
    if parsed.scheme.startswith("qemu") and parsed.path not in ("/system", "/session"):
        return f"{uri!r} names no QEMU daemon: its path must be /system (or /session), e.g. qemu:///system"
    return libvirt_ssh.uri_problem(uri)


def read(r: Reader, path_exists: Callable[[str], bool]) -> dict[str, Any]:
    """LabConfig's host fields."""
    libvirt_uri = r.get("libvirtUri")
    problem = libvirt_uri_problem(libvirt_uri)
    if problem:
        r.problem("libvirtUri", problem)

    storage_pool_path = r.get("storagePoolPath")
    if storage_pool_path is not None and not storage_pool_path.startswith("/"):
        r.problem("storagePoolPath", f"{storage_pool_path!r} must be an absolute directory path")

    base_image = r.get("baseImage")
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", base_image):
        if not re.match(r"^https?://[^/\s]+/", base_image):
            r.problem("baseImage",
                      f"{base_image!r}: libvirt downloads only http(s) URLs; give one, or a local qcow2 path")
    elif not path_exists(base_image):
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

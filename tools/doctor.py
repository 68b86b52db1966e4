"""Host preflight: checks what the libvirt host needs for the configured lab, before
anything is created, and says what to install or change.

Usage: python tools/doctor.py [--stack NAME]  (reads Pulumi.<stack>.yaml; exit 1 on a failure)
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lab.config import ConfigError, LabConfig, parse  # noqa: E402

MIB = 1024**2
GIB = 1024**3
# Room the host itself keeps besides the guests.
HOST_RESERVE_MIB = 1024


@dataclass(frozen=True)
class HostFacts:
    """What the checks look at; gathered from the real host by `gather()`, built by hand in tests."""

    libvirt_socket_ok: bool
    commands: frozenset[str]
    kvm_usable: bool
    mem_available_mib: int
    disk_free_bytes: int
    disk_path: str


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fatal: bool = True


def needed_memory_mib(cfg: LabConfig) -> int:
    return sum(cfg.size_of(n).memory_mib for n in cfg.node_names) + HOST_RESERVE_MIB


def needed_disk_bytes(cfg: LabConfig) -> int:
    # Copy-on-write disks grow up to their virtual size; plan for it.
    return sum(cfg.size_of(n).disk_gib for n in cfg.node_names) * GIB


def run_checks(cfg: LabConfig, facts: HostFacts) -> list[Check]:
    if cfg.existing_cloud:
        return [Check("existing cloud", True, f"cloud.authUrl {cfg.cloud.auth_url}: no libvirt host needed")]
    checks = []
    local = cfg.libvirt_uri.startswith(("qemu:///", "qemu+unix:///"))
    if local:
        checks.append(Check(
            "libvirt socket", facts.libvirt_socket_ok,
            "libvirtd answers" if facts.libvirt_socket_ok else
            "cannot reach libvirtd: install libvirt-daemon-system, start it (systemctl enable --now libvirtd) "
            "and add yourself to group libvirt (then log in again)",
        ))
    checks.append(Check(
        "qemu-img", "qemu-img" in facts.commands,
        "found" if "qemu-img" in facts.commands else "install qemu-utils (Debian/Ubuntu) or qemu-img (Fedora/EL)",
    ))
    # The libvirt provider runs `mkisofs` by that name, on this machine, for every cloud-init disk.
    checks.append(Check(
        "mkisofs", "mkisofs" in facts.commands,
        "found" if "mkisofs" in facts.commands else
        "the libvirt provider builds cloud-init disks with mkisofs: install genisoimage (Debian/Ubuntu, Fedora/EL)",
    ))
    if local:
        # libvirt starts dnsmasq for every network it starts (DNS for the nodes), DHCP or not.
        checks.append(Check(
            "dnsmasq", "dnsmasq" in facts.commands,
            "found" if "dnsmasq" in facts.commands else
            "libvirt cannot start the lab's networks without dnsmasq: install dnsmasq-base (Debian/Ubuntu) "
            "or dnsmasq (Fedora/EL)",
        ))
    if cfg.hypervisor == "kvm":
        checks.append(Check(
            "KVM", facts.kvm_usable,
            "/dev/kvm usable" if facts.kvm_usable else
            "/dev/kvm is missing or not accessible: enable virtualisation in the firmware, load kvm_intel/kvm_amd, "
            "or set `pulumi config set hypervisor qemu` to use TCG (slow but works everywhere)",
        ))
    else:
        has_qemu = "qemu-system-x86_64" in facts.commands
        checks.append(Check(
            "QEMU (TCG)", has_qemu, "qemu-system-x86_64 found" if has_qemu else "install qemu-system-x86",
        ))
    need_mem = needed_memory_mib(cfg)
    checks.append(Check(
        "memory", facts.mem_available_mib >= need_mem,
        f"{facts.mem_available_mib} MiB available, the lab needs {need_mem} MiB "
        f"({len(cfg.node_names)} nodes + {HOST_RESERVE_MIB} MiB for the host)"
        + ("" if facts.mem_available_mib >= need_mem else
           "; lower controller.memoryMiB / compute.memoryMiB or computeCount, or free memory"),
    ))
    need_disk = needed_disk_bytes(cfg)
    checks.append(Check(
        "disk", facts.disk_free_bytes >= need_disk,
        f"{facts.disk_free_bytes // GIB} GiB free in {facts.disk_path}, the disks may grow to {need_disk // GIB} GiB"
        + ("" if facts.disk_free_bytes >= need_disk else
           "; free space there, set storagePoolPath to a larger disk, or lower diskGiB"),
    ))
    return checks


def _mem_available_mib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) // 1024
    return 0


def gather(cfg: LabConfig, which: Callable[[str], Optional[str]] = shutil.which) -> HostFacts:
    tools = ("qemu-img", "mkisofs", "dnsmasq", "qemu-system-x86_64", "virsh")
    # dnsmasq lives in /usr/sbin, which a normal user's PATH may lack.
    commands = frozenset(t for t in tools if which(t) or which(t, path="/usr/sbin:/sbin"))
    socket = "/run/libvirt/libvirt-sock" if cfg.libvirt_uri.endswith("/system") else \
        f"{os.environ.get('XDG_RUNTIME_DIR', '/run/user/%d' % os.getuid())}/libvirt/libvirt-sock"
    disk_path = cfg.storage_pool_path or "/var/lib/libvirt/images"
    probe = Path(disk_path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return HostFacts(
        libvirt_socket_ok=os.path.exists(socket) and os.access(socket, os.R_OK | os.W_OK),
        commands=commands,
        kvm_usable=os.access("/dev/kvm", os.R_OK | os.W_OK),
        mem_available_mib=_mem_available_mib(),
        disk_free_bytes=shutil.disk_usage(probe).free,
        disk_path=disk_path,
    )


def stack_config(stack: str) -> dict:
    import yaml

    path = ROOT / f"Pulumi.{stack}.yaml"
    if not path.exists():
        return {}
    values = (yaml.safe_load(path.read_text()) or {}).get("config", {}) or {}
    # Secure values are encrypted here; the preflight only needs to know they are set.
    return {
        key.split(":", 1)[1]: ("<secret>" if isinstance(value, dict) and "secure" in value else value)
        for key, value in values.items()
        if key.startswith("openstack-lab:")
    }


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default=os.environ.get("STACK") or os.environ.get("USER") or "dev")
    args = parser.parse_args(argv)
    raw = stack_config(args.stack)
    secret_keys = frozenset(k for k, v in raw.items() if v == "<secret>")
    try:
        cfg = parse(raw, "openstack-lab", args.stack, secret_keys)
    except ConfigError as err:
        print(f"doctor: {err}", file=sys.stderr)
        return 1
    checks = run_checks(cfg, gather(cfg))
    for check in checks:
        mark = "ok  " if check.ok else ("FAIL" if check.fatal else "warn")
        print(f"[{mark}] {check.name}: {check.detail}")
    failed = [c for c in checks if c.fatal and not c.ok]
    if failed:
        print(f"doctor: {len(failed)} problem(s) must be fixed before `pulumi up` (stack {args.stack})", file=sys.stderr)
        return 1
    print(f"doctor: host ready for stack {args.stack}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

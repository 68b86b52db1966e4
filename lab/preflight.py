"""Host preflight: what the libvirt host needs for the configured lab, checked before
anything is created, each failure saying what to install or change.

`gather()` reads the real host (commands, /proc, sysfs, `virsh`, `virt-host-validate`,
`iptables`); `run_checks()` is pure, so every rule is tested with facts built by hand.
`make doctor` prints every check (tools/doctor.py); the program itself runs the fatal
ones before declaring any resource when libvirt is on this machine.
"""
from __future__ import annotations

import ipaddress
import os
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import parse_qs, urlparse

from lab import naming
from lab.config import LabConfig

MIB = 1024**2
GIB = 1024**3
# Room the host itself keeps besides the guests.
HOST_RESERVE_MIB = 1024
DEFAULT_POOL_DIR = "/var/lib/libvirt/images"
# Every external command gather() runs is bounded.
PROBE_TIMEOUT_S = 20


@dataclass(frozen=True)
class HostFacts:
    """What the checks look at; gathered from the real host by `gather()`, built by hand in tests."""

    libvirt_socket_ok: bool
    commands: frozenset[str]
    kvm_device_ok: bool  # /dev/kvm exists and is read/writable
    cpu_virtualization: bool  # vmx or svm among the CPU flags
    # virt-host-validate's verdict on hardware virtualization ("PASS", "FAIL (...)"); None: not installed.
    hardware_virt_check: Optional[str]
    mem_available_mib: int
    disk_free_bytes: int
    disk_path: str
    pool_exists: Optional[bool] = None  # None: not checked (own pool, remote host or no virsh)
    # Directories on the way to storagePoolPath that others cannot enter (QEMU runs as its own user).
    closed_dirs: tuple[str, ...] = ()
    selinux_enforcing: bool = False
    bridge_nf_call_iptables: bool = False
    forward_policy_drop: bool = False
    # IPv4 networks already in use on the host, other than this stack's own: (what, cidr).
    networks_in_use: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fatal: bool = True


def is_local(uri: str) -> bool:
    """A libvirt URI whose daemon runs on this machine (so this machine's facts are its facts)."""
    parsed = urlparse(uri)
    return parsed.scheme in ("qemu", "qemu+unix") and parsed.netloc in ("", "localhost")


def libvirt_socket(uri: str) -> str:
    parsed = urlparse(uri)
    given = parse_qs(parsed.query).get("socket")
    if given:
        return given[0]
    if parsed.path == "/session":
        return f"{os.environ.get('XDG_RUNTIME_DIR', '/run/user/%d' % os.getuid())}/libvirt/libvirt-sock"
    return "/run/libvirt/libvirt-sock"


def needed_memory_mib(cfg: LabConfig) -> int:
    return sum(cfg.size_of(n).memory_mib for n in cfg.node_names) + HOST_RESERVE_MIB


def needed_disk_bytes(cfg: LabConfig) -> int:
    # Copy-on-write disks grow up to their virtual size; plan for it.
    return sum(cfg.size_of(n).disk_gib for n in cfg.node_names) * GIB


def kvm_check(facts: HostFacts) -> Check:
    if not facts.kvm_device_ok:
        why = "/dev/kvm is missing or not accessible: load kvm_intel/kvm_amd and add yourself to group kvm"
    elif not facts.cpu_virtualization:
        # /dev/kvm can exist in a VM without nested virtualisation; KVM guests then hang at boot.
        why = "the CPU shows no virtualisation extensions (no vmx/svm flag), so KVM guests would hang at boot"
    elif facts.hardware_virt_check is not None and not facts.hardware_virt_check.startswith("PASS"):
        why = f"virt-host-validate: hardware virtualization {facts.hardware_virt_check}"
    else:
        source = "virt-host-validate PASS" if facts.hardware_virt_check else "vmx/svm present (virt-host-validate not installed)"
        return Check("KVM", True, f"/dev/kvm usable, {source}")
    return Check(
        "KVM", False,
        f"{why}; enable virtualisation (nested virtualisation for a VM) or "
        "`pulumi config set hypervisor qemu` to use TCG (slow but works everywhere)",
    )


def run_checks(cfg: LabConfig, facts: HostFacts) -> list[Check]:
    if cfg.existing_cloud:
        return [Check("existing cloud", True, f"cloud.authUrl {cfg.cloud.auth_url}: no libvirt host needed")]
    checks = []
    local = is_local(cfg.libvirt_uri)
    if not local:
        checks.append(Check(
            "remote libvirt host", True,
            f"{cfg.libvirt_uri}: only this machine's tools are checked here; check that host with `make doctor` on it",
            fatal=False,
        ))
    # The libvirt provider runs `mkisofs` by that name, on this machine, for every cloud-init disk.
    checks.append(Check(
        "mkisofs", "mkisofs" in facts.commands,
        "found" if "mkisofs" in facts.commands else
        "the libvirt provider builds cloud-init disks with mkisofs: install genisoimage (Debian/Ubuntu, Fedora/EL)",
    ))
    if not local:
        return checks
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
    # libvirt starts dnsmasq for every network it starts (DNS for the nodes), DHCP or not.
    checks.append(Check(
        "dnsmasq", "dnsmasq" in facts.commands,
        "found" if "dnsmasq" in facts.commands else
        "libvirt cannot start the lab's networks without dnsmasq: install dnsmasq-base (Debian/Ubuntu) "
        "or dnsmasq (Fedora/EL)",
    ))
    if cfg.hypervisor == "kvm":
        checks.append(kvm_check(facts))
    else:
        has_qemu = "qemu-system-x86_64" in facts.commands
        checks.append(Check(
            "QEMU (TCG)", has_qemu, "qemu-system-x86_64 found" if has_qemu else "install qemu-system-x86",
        ))
    if facts.pool_exists is False:
        checks.append(Check(
            "storage pool", False,
            f"libvirt has no storage pool {cfg.storage_pool!r}: create it (virsh pool-define-as {cfg.storage_pool} dir "
            f"--target {DEFAULT_POOL_DIR}; virsh pool-start {cfg.storage_pool}; virsh pool-autostart {cfg.storage_pool}), "
            "or set storagePoolPath to let the lab make its own",
        ))
    if cfg.storage_pool_path:
        checks.append(Check(
            "pool directory access", not facts.closed_dirs,
            f"QEMU can reach {cfg.storage_pool_path}" if not facts.closed_dirs else
            f"QEMU runs as its own user and cannot enter {', '.join(facts.closed_dirs)}: "
            "chmod o+x those directories or choose a storagePoolPath outside your home "
            "(fine if your libvirt runs QEMU as root)",
            fatal=False,
        ))
        if facts.selinux_enforcing:
            checks.append(Check(
                "SELinux label", False,
                f"SELinux is enforcing: label the pool for QEMU with `semanage fcontext -a -t virt_image_t "
                f"'{cfg.storage_pool_path}(/.*)?' && restorecon -R {cfg.storage_pool_path}`",
                fatal=False,
            ))
    for key, cidr in (("managementCidr", cfg.management_cidr), ("externalCidr", cfg.external_cidr)):
        clashes = [f"{what} ({used})" for what, used in facts.networks_in_use if _overlap(cidr, used)]
        checks.append(Check(
            f"{key} free", not clashes,
            f"{cidr} is not in use on the host" if not clashes else
            f"{key} {cidr} overlaps {', '.join(clashes)}: set {key} to a free /24 "
            "(`pulumi config set managementCidr ...` / `externalCidr ...`) or another supernet",
        ))
    dropped = facts.bridge_nf_call_iptables and facts.forward_policy_drop
    checks.append(Check(
        "bridged traffic", not dropped,
        "not filtered by a FORWARD DROP policy" if not dropped else
        "br_netfilter passes bridged frames through iptables and the FORWARD policy is DROP (as Docker sets it up), "
        "so traffic between the nodes is dropped: `sysctl -w net.bridge.bridge-nf-call-iptables=0` or "
        "`iptables -I FORWARD -i osl+ -o osl+ -j ACCEPT` (the lab's bridges are named osl...)",
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


def _overlap(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_network(a, strict=False).overlaps(ipaddress.ip_network(b, strict=False))
    except ValueError:
        return False


def fatal_problems(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.fatal and not c.ok]


# --- reading the real host -------------------------------------------------------------------------

def _probe(argv: list[str]) -> Optional[subprocess.CompletedProcess]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _mem_available_mib() -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) // 1024
    return 0


def _hardware_virt_check(which: Callable[..., Optional[str]]) -> Optional[str]:
    if not which("virt-host-validate"):
        return None
    proc = _probe(["virt-host-validate", "qemu"])
    for line in (proc.stdout if proc else "").splitlines():
        if "hardware virtualization" in line and ":" in line:
            return line.rsplit(":", 1)[1].strip()
    return None


def _closed_dirs(path: str) -> tuple[str, ...]:
    closed = []
    probe = Path(path)
    for parent in [*reversed(probe.parents), probe]:
        try:
            mode = parent.stat().st_mode
        except OSError:
            break  # the lab creates what does not exist yet
        if not mode & stat.S_IXOTH:
            closed.append(str(parent))
    return tuple(closed)


def _networks_in_use(cfg: LabConfig, virsh: bool) -> tuple[tuple[str, str], ...]:
    """Other libvirt networks' addresses and the host's routes, without this stack's own."""
    own_prefix = naming.resource_prefix(cfg.project, cfg.stack) + "-"
    own_bridges = {naming.bridge_name(cfg.project, cfg.stack, role) for role in ("management", "external")}
    used = []
    listing = _probe(["virsh", "-c", cfg.libvirt_uri, "net-list", "--all", "--name"]) if virsh else None
    for name in (listing.stdout.split() if listing and listing.returncode == 0 else []):
        if name.startswith(own_prefix):
            continue
        xml = _probe(["virsh", "-c", cfg.libvirt_uri, "net-dumpxml", name])
        for ip in re.finditer(r"<ip\b[^>]*>", xml.stdout if xml and xml.returncode == 0 else ""):
            address = re.search(r"address='([0-9.]+)'", ip.group(0))
            prefix = re.search(r"prefix='(\d+)'", ip.group(0)) or re.search(r"netmask='([0-9.]+)'", ip.group(0))
            if address and prefix:
                used.append((f"libvirt network {name}", str(ipaddress.ip_network(f"{address[1]}/{prefix[1]}", strict=False))))
    routes = _probe(["ip", "-o", "-4", "route", "show"])
    for line in (routes.stdout.splitlines() if routes and routes.returncode == 0 else []):
        fields = line.split()
        dev = fields[fields.index("dev") + 1] if "dev" in fields else ""
        if fields and fields[0] != "default" and "/" in fields[0] and dev not in own_bridges:
            used.append((f"host route via {dev}", fields[0]))
    return tuple(dict.fromkeys(used))


def gather(cfg: LabConfig, which: Callable[..., Optional[str]] = shutil.which) -> HostFacts:
    tools = ("qemu-img", "mkisofs", "dnsmasq", "qemu-system-x86_64", "virsh")
    # dnsmasq lives in /usr/sbin, which a normal user's PATH may lack.
    commands = frozenset(t for t in tools if which(t) or which(t, path="/usr/sbin:/sbin"))
    socket = libvirt_socket(cfg.libvirt_uri)
    disk_path = cfg.storage_pool_path or DEFAULT_POOL_DIR
    probe = Path(disk_path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    socket_ok = os.path.exists(socket) and os.access(socket, os.R_OK | os.W_OK)
    pool_exists = None  # only asked of a libvirtd that answers (the socket check covers the rest)
    if is_local(cfg.libvirt_uri) and socket_ok and not cfg.storage_pool_path and "virsh" in commands:
        proc = _probe(["virsh", "-c", cfg.libvirt_uri, "pool-info", cfg.storage_pool])
        pool_exists = None if proc is None else proc.returncode == 0
    forward = _probe(["iptables", "-S", "FORWARD"]) if which("iptables") or which("iptables", path="/usr/sbin:/sbin") else None
    return HostFacts(
        libvirt_socket_ok=socket_ok,
        commands=commands,
        kvm_device_ok=os.access("/dev/kvm", os.R_OK | os.W_OK),
        cpu_virtualization=re.search(r"^flags\s*:.*\b(vmx|svm)\b", _read("/proc/cpuinfo"), re.M) is not None,
        hardware_virt_check=_hardware_virt_check(which) if cfg.hypervisor == "kvm" else None,
        mem_available_mib=_mem_available_mib(),
        disk_free_bytes=shutil.disk_usage(probe).free,
        disk_path=disk_path,
        pool_exists=pool_exists,
        closed_dirs=_closed_dirs(cfg.storage_pool_path) if cfg.storage_pool_path else (),
        selinux_enforcing=_read("/sys/fs/selinux/enforce").strip() == "1",
        bridge_nf_call_iptables=_read("/proc/sys/net/bridge/bridge-nf-call-iptables").strip() == "1",
        forward_policy_drop=bool(forward and forward.returncode == 0 and "-P FORWARD DROP" in forward.stdout),
        networks_in_use=_networks_in_use(cfg, socket_ok and "virsh" in commands) if is_local(cfg.libvirt_uri) else (),
    )


class HostNotReady(Exception):
    """Fatal preflight problems of a libvirt host on this machine, one line each."""

    def __init__(self, problems: list[Check]) -> None:
        self.problems = [f"host.{c.name.replace(' ', '-')}: {c.detail}" for c in problems]
        super().__init__("\n".join(self.problems))


def require_host_ready(cfg: LabConfig) -> None:
    """The fatal checks of `make doctor`, before any resource is declared, for a libvirt on this
    machine. A remote libvirt host is not probed from here: `make doctor` on that host checks it."""
    if cfg.existing_cloud or not is_local(cfg.libvirt_uri):
        return
    problems = fatal_problems(run_checks(cfg, gather(cfg)))
    if problems:
        raise HostNotReady(problems)

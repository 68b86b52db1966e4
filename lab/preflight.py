"""Host preflight: what this machine and every libvirt host of the lab need for the configured lab,
checked before anything is created, each failure saying what to install or change.

`gather()` reads the real hosts: this machine's commands, /proc, sysfs, `virt-host-validate` and
`iptables`, and each lab host over its libvirt URI (`virsh -c URI`: reachability, memory, pool,
bridges), remote ones too. `run_checks()` is pure, so every rule is tested with facts built by hand.
`make doctor` prints every check, this machine's first, then each host's (tools/doctor.py); the
program itself runs the fatal ones for every host before declaring any resource.
"""
from __future__ import annotations

import ipaddress
import os
import re
import shutil
import signal
import socket
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
# Every external command gather() runs is bounded (a remote host that does not answer costs this once).
PROBE_TIMEOUT_S = 20
# An existing machine's SSH port must answer within this.
SSH_PROBE_TIMEOUT_S = 3


@dataclass(frozen=True)
class MachineFacts:
    """This machine (where Pulumi runs): gathered by `gather()`, built by hand in tests. Most of it matters
    only when the first lab host is this machine (its KVM, kernel and networks are then the host's)."""

    commands: frozenset[str]
    kvm_device_ok: bool  # /dev/kvm exists and is read/writable
    cpu_virtualization: bool  # vmx or svm among the CPU flags
    # virt-host-validate's verdict on hardware virtualization ("PASS", "FAIL (...)"); None: not installed.
    hardware_virt_check: Optional[str]
    # Directories on the way to the first host's storagePoolPath that others cannot enter (QEMU runs as its own user).
    closed_dirs: tuple[str, ...] = ()
    selinux_enforcing: bool = False
    bridge_nf_call_iptables: bool = False
    forward_policy_drop: bool = False
    # IPv4 networks already in use on the host, other than this stack's own: (what, cidr).
    networks_in_use: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class HostFacts:
    """One lab host as its libvirt URI shows it (`virsh -c URI`); for a host on this machine, memory and
    disk are this machine's."""

    reachable: Optional[bool]  # libvirtd answered; None: not asked (no virsh here, remote host)
    error: str = ""  # virsh's last error line when it did not
    test_driver: bool = False  # libvirt's in-memory test driver: nothing real to size
    mem_available_mib: Optional[int] = None  # None: unknown
    mem_total_only: bool = False  # the host reported only its total memory (nodeinfo), not what is free
    pool_exists: Optional[bool] = None  # the existing pool storagePool; None: not asked (own pool, unreachable)
    pool_active: Optional[bool] = None
    disk_free_bytes: Optional[int] = None  # None: unknown
    disk_path: str = ""  # where disk_free_bytes was measured: a directory, or "pool <name>"
    # Bridge mode: (bridge, what the host has by that name: "bridge", another interface type, "missing",
    # or None: could not tell).
    bridges: tuple[tuple[str, Optional[str]], ...] = ()


@dataclass(frozen=True)
class LabFacts:
    machine: MachineFacts
    hosts: tuple[HostFacts, ...]  # one per cfg.lab_hosts entry, in order
    # One per existing compute: its SSH port answered from here; None: not probed.
    existing_ssh: tuple[Optional[bool], ...] = ()


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fatal: bool = True
    host: Optional[int] = None  # index in cfg.lab_hosts; None: this machine or an existing machine
    where: str = ""  # "hosts[1] (b)" in a multi-host config, "existingComputes[0] (phys1)"; "" otherwise

    @property
    def title(self) -> str:
        return f"{self.where} {self.name}" if self.where else self.name


def is_local(uri: str) -> bool:
    """A libvirt URI whose daemon runs on this machine (so this machine's facts are its facts)."""
    parsed = urlparse(uri)
    return parsed.scheme in ("qemu", "qemu+unix") and parsed.netloc in ("", "localhost")


def is_test_driver(uri: str) -> bool:
    """libvirt's in-memory test driver (test:///default, test+unix://...): a fake host with fixed numbers."""
    return urlparse(uri).scheme.split("+")[0] == "test"


def libvirt_socket(uri: str) -> str:
    parsed = urlparse(uri)
    given = parse_qs(parsed.query).get("socket")
    if given:
        return given[0]
    if parsed.path == "/session":
        return f"{os.environ.get('XDG_RUNTIME_DIR', '/run/user/%d' % os.getuid())}/libvirt/libvirt-sock"
    return "/run/libvirt/libvirt-sock"


def probe_uri(uri: str) -> str:
    """The URI virsh probes with: an ssh transport gets no_tty=1 (libvirt then runs ssh in batch mode), so a
    host that would ask for a password or a host key fails at once instead of prompting."""
    parsed = urlparse(uri)
    if not parsed.scheme.endswith("+ssh") or "no_tty" in parse_qs(parsed.query):
        return uri
    return parsed._replace(query=f"{parsed.query}&no_tty=1" if parsed.query else "no_tty=1").geturl()


def host_nodes(cfg: LabConfig, index: int) -> list[str]:
    return [n.name for n in cfg.placed_nodes if n.host == index]


def needed_memory_mib(cfg: LabConfig, index: int = 0) -> int:
    return sum(cfg.size_of(n).memory_mib for n in host_nodes(cfg, index)) + HOST_RESERVE_MIB


def needed_disk_bytes(cfg: LabConfig, index: int = 0) -> int:
    # Copy-on-write disks (root and data disks, all in the host's pool) grow up to their virtual size; plan for it.
    return sum(cfg.size_of(n).disk_gib + sum(cfg.size_of(n).data_disks_gib) for n in host_nodes(cfg, index)) * GIB


def kvm_check(facts: MachineFacts) -> Check:
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


def run_checks(cfg: LabConfig, facts: LabFacts) -> list[Check]:
    if cfg.existing_cloud:
        return [Check("existing cloud", True, f"cloud.authUrl {cfg.cloud.auth_url}: no libvirt host needed")]
    checks = machine_checks(cfg, facts.machine)
    for index, host_facts in enumerate(facts.hosts):
        checks += host_checks(cfg, index, host_facts)
    for k, (machine, answered) in enumerate(zip(cfg.existing_computes, facts.existing_ssh)):
        if answered is None:
            continue
        checks.append(Check(
            "SSH", answered,
            f"{machine.address}:22 answers" if answered else
            f"{machine.address}:22 does not answer from this machine within {SSH_PROBE_TIMEOUT_S} s: `up` joins it over "
            "SSH, so it must be running with sshd on the management LAN (fine if only this machine cannot reach "
            "that LAN and Pulumi runs elsewhere)",
            fatal=False, where=f"existingComputes[{k}] ({machine.name})",
        ))
    return checks


def machine_checks(cfg: LabConfig, facts: MachineFacts) -> list[Check]:
    """This machine's tools; when the first host is this machine, also its KVM, kernel and networks."""
    first = cfg.lab_hosts[0]
    # The libvirt provider runs `mkisofs` by that name, on this machine, for every cloud-init disk.
    checks = [Check(
        "mkisofs", "mkisofs" in facts.commands,
        "found" if "mkisofs" in facts.commands else
        "the libvirt provider builds cloud-init disks with mkisofs: install genisoimage (Debian/Ubuntu, Fedora/EL)",
    )]
    if not is_local(first.uri):
        return checks
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
    if first.storage_pool_path:
        checks.append(Check(
            "pool directory access", not facts.closed_dirs,
            f"QEMU can reach {first.storage_pool_path}" if not facts.closed_dirs else
            f"QEMU runs as its own user and cannot enter {', '.join(facts.closed_dirs)}: "
            "chmod o+x those directories or choose a storagePoolPath outside your home "
            "(fine if your libvirt runs QEMU as root)",
            fatal=False,
        ))
        if facts.selinux_enforcing:
            checks.append(Check(
                "SELinux label", False,
                f"SELinux is enforcing: label the pool for QEMU with `semanage fcontext -a -t virt_image_t "
                f"'{first.storage_pool_path}(/.*)?' && restorecon -R {first.storage_pool_path}`",
                fatal=False,
            ))
    for key, cidr in (("managementCidr", cfg.management_cidr), ("externalCidr", cfg.external_cidr)):
        if cfg.network.mode == "bridge":
            # The LAN's own networks: the hosts have routes into them by design.
            checks.append(Check(f"{key} free", True, f"{cidr} is the LAN's (network.mode bridge): not checked "
                                                     "against this host's routes", fatal=False))
            continue
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
    return checks


def host_checks(cfg: LabConfig, index: int, facts: HostFacts) -> list[Check]:
    """One lab host over its libvirt URI: reachable, its pool, its bridges (bridge mode), memory and disk for
    the nodes placed on it."""
    host = cfg.lab_hosts[index]
    multi = bool(cfg.hosts)
    where = f"hosts[{index}] ({host.name})" if multi else ""
    key = f"hosts[{index}]." if multi else ""
    uri_key = f"{key}uri" if multi else "libvirtUri"
    local = is_local(host.uri)
    checks: list[Check] = []

    def add(name: str, ok: bool, detail: str, fatal: bool = True) -> None:
        checks.append(Check(name, ok, detail, fatal, index, where))

    if facts.reachable is None:
        add("libvirt", False, f"{uri_key} {host.uri}: not checked, this machine has no virsh: install libvirt-clients "
                              "so that `make doctor` and `pulumi up` can check the host before any change", fatal=False)
        return checks
    if not facts.reachable:
        said = f" ({facts.error})" if facts.error else ""
        if local:
            fix = ("install libvirt-daemon-system, start it (systemctl enable --now libvirtd) and add yourself to "
                   "group libvirt (then log in again)")
        else:
            fix = (f"check {uri_key}, that libvirtd runs on that host and that this machine logs in there without a "
                   "prompt (qemu+ssh: key-based SSH as that user, its host key in ~/.ssh/known_hosts); "
                   f"`virsh -c '{host.uri}' nodeinfo` must work from here")
        add("libvirt", False, f"cannot reach libvirtd at {uri_key} {host.uri}{said}: {fix}")
        if not local:
            return checks  # nothing more to learn about that host from here
    elif facts.test_driver:
        add("libvirt", True, f"{host.uri} answers: libvirt's test driver, an in-memory fake host, so its memory, "
                             "disk, pool and bridges are not checked")
        return checks
    else:
        add("libvirt", True, f"libvirtd answers at {host.uri}")

    if facts.pool_exists is False:
        virsh = "virsh" if local and host.uri == "qemu:///system" else f"virsh -c '{host.uri}'"
        add("storage pool", False,
            f"libvirt has no storage pool {host.storage_pool!r}: create it ({virsh} pool-define-as {host.storage_pool} "
            f"dir --target {DEFAULT_POOL_DIR}; {virsh} pool-start {host.storage_pool}; "
            f"{virsh} pool-autostart {host.storage_pool}), or set {key}storagePoolPath to let the lab make its own")
    elif facts.pool_exists and facts.pool_active is False:
        add("storage pool", False, f"storage pool {host.storage_pool!r} is inactive: `virsh -c '{host.uri}' pool-start "
                                   f"{host.storage_pool}` (and pool-autostart)")
    elif facts.pool_exists:
        add("storage pool", True, f"{host.storage_pool!r} exists and is active")

    if cfg.network.mode == "bridge":
        for field, bridge in (("managementBridge", cfg.network.management_bridge),
                              ("externalBridge", cfg.network.external_bridge)):
            found = dict(facts.bridges).get(bridge)
            name = f"bridge {bridge}"
            if found == "bridge":
                add(name, True, f"network.{field} {bridge} is a bridge on the host")
            elif found is None:
                add(name, False, f"network.{field} {bridge}: not checked, libvirt on that host has no interface "
                                 "driver (`virsh iface-dumpxml` failed); make sure the bridge exists there", fatal=False)
            else:
                what = ("no interface" if found == "missing" else "an interface that is not a Linux bridge"
                        if found == "non-bridge" else f"an interface of type {found} (not a Linux bridge)")
                add(name, False, f"the host has {what} named {bridge} (network.{field}): create the bridge on its LAN "
                                 f"NIC (README: Preparing a host) or set network.{field} to the bridge every host has")

    nodes = host_nodes(cfg, index)
    count_key = f"{key}computes" if multi else "computeCount"
    if facts.mem_available_mib is not None:
        need_mem = needed_memory_mib(cfg, index)
        ok = facts.mem_available_mib >= need_mem
        have = (f"{facts.mem_available_mib} MiB in total (the host reports no free memory)" if facts.mem_total_only
                else f"{facts.mem_available_mib} MiB available")
        add("memory", ok,
            f"{have}, the lab needs {need_mem} MiB ({len(nodes)} nodes + {HOST_RESERVE_MIB} MiB for the host)"
            + ("" if ok else f"; lower controller.memoryMiB / compute.memoryMiB or {count_key}, or free memory"))

    if facts.disk_free_bytes is not None:
        need_disk = needed_disk_bytes(cfg, index)
        ok = facts.disk_free_bytes >= need_disk
        add("disk", ok,
            f"{facts.disk_free_bytes // GIB} GiB free in {facts.disk_path}, the disks may grow to {need_disk // GIB} GiB"
            + ("" if ok else f"; free space there, set {key}storagePoolPath to a larger disk, or lower diskGiB"))
    elif host.storage_pool_path and not local:
        add("disk", False,
            f"{key}storagePoolPath {host.storage_pool_path}: not checked, libvirt reports free space only for pools "
            "that exist and the lab creates this one on `up`; make sure that disk has "
            f"{needed_disk_bytes(cfg, index) // GIB} GiB free", fatal=False)
    return checks


def _overlap(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_network(a, strict=False).overlaps(ipaddress.ip_network(b, strict=False))
    except ValueError:
        return False


def fatal_problems(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.fatal and not c.ok]


# --- reading the real hosts ------------------------------------------------------------------------

def _probe(argv: list[str]) -> Optional[subprocess.CompletedProcess]:
    """argv, bounded; in a session of its own, so an ssh under virsh can neither prompt on this terminal nor
    outlive the timeout."""
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                text=True, start_new_session=True)
    except OSError:
        return None
    try:
        out, err = proc.communicate(timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.communicate()
        return None
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def _virsh(uri: str, *args: str) -> Optional[subprocess.CompletedProcess]:
    return _probe(["virsh", "-c", probe_uri(uri), *args])


def _error_of(proc: Optional[subprocess.CompletedProcess]) -> str:
    if proc is None:
        return f"no answer within {PROBE_TIMEOUT_S} s"
    lines = [l.strip() for l in proc.stderr.splitlines() if l.strip()]
    return (lines[-1].removeprefix("error: ") if lines else f"virsh exited {proc.returncode}")[:300]


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


def _kib_fields(text: str) -> dict[str, int]:
    """`name : 123 KiB` lines (virsh nodememstats, nodeinfo) -> {name: KiB}."""
    return {m[1].strip().lower(): int(m[2]) for m in re.finditer(r"^([^:\n]+):\s*(\d+)\s*KiB\s*$", text, re.M)}


def _remote_memory(uri: str) -> tuple[Optional[int], bool]:
    """(MiB free, total only) over the URI: nodememstats' free + buffers + cached (what the host can give up,
    like MemAvailable), else nodeinfo's total."""
    stats = _virsh(uri, "nodememstats")
    fields = _kib_fields(stats.stdout) if stats and stats.returncode == 0 else {}
    if "free" in fields:
        return (fields["free"] + fields.get("buffers", 0) + fields.get("cached", 0)) // 1024, False
    info = _virsh(uri, "nodeinfo")
    total = _kib_fields(info.stdout).get("memory size") if info and info.returncode == 0 else None
    return (None, False) if total is None else (total // 1024, True)


def _pool_info(uri: str, pool: str) -> tuple[Optional[bool], Optional[bool], Optional[int]]:
    """(exists, active, available bytes) of a pool over the URI; None where libvirt did not say."""
    proc = _virsh(uri, "pool-info", "--bytes", pool)
    if proc is None:
        return None, None, None
    if proc.returncode != 0:
        return (False if "not found" in proc.stderr.lower() else None), None, None
    state = re.search(r"^State:\s*(\S+)", proc.stdout, re.M)
    available = re.search(r"^Available:\s*(\d+)", proc.stdout, re.M)
    return True, (state[1] == "running") if state else None, int(available[1]) if available else None


def _interface_type(uri: str, local: bool, name: str) -> Optional[str]:
    """What the host has by that name: "bridge", another type, "missing"; None: cannot tell.

    Asked of the host's libvirt (`virsh iface-dumpxml`: with libvirt's udev interface backend, as Debian's
    libvirt 9 has, it lists every interface of the daemon's own network namespace with type='bridge' for a
    Linux bridge), because that daemon attaches the guests: `nodedev-list --cap net` misses interfaces of a
    daemon in another network namespace, and this machine's /sys shows the caller's namespace, not the
    daemon's. Only when libvirt has no interface driver does a host on this machine fall back to sysfs."""
    proc = _virsh(uri, "iface-dumpxml", name)
    if proc is not None and proc.returncode == 0:
        kind = re.search(r"<interface\b[^>]*\btype=['\"]([^'\"]+)", proc.stdout)
        return kind[1] if kind else None
    if proc is not None and "not found" in proc.stderr.lower():
        return "missing"
    return _sysfs_type(name) if local else None


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


def _free_bytes(path: str) -> int:
    """Free space of the file system that holds `path`, or would once the lab creates it."""
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


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


def _ssh_answers(address: str, port: int = 22, timeout: float = SSH_PROBE_TIMEOUT_S) -> bool:
    """A TCP connection to the machine's SSH port opens within the timeout (nothing is sent)."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def gather_machine(cfg: LabConfig, which: Callable[..., Optional[str]] = shutil.which) -> MachineFacts:
    tools = ("qemu-img", "mkisofs", "dnsmasq", "qemu-system-x86_64", "virsh")
    # dnsmasq lives in /usr/sbin, which a normal user's PATH may lack.
    commands = frozenset(t for t in tools if which(t) or which(t, path="/usr/sbin:/sbin"))
    first = cfg.lab_hosts[0]
    local = is_local(first.uri)
    socket_ok = local and os.access(libvirt_socket(first.uri), os.R_OK | os.W_OK)
    forward = _probe(["iptables", "-S", "FORWARD"]) if which("iptables") or which("iptables", path="/usr/sbin:/sbin") else None
    return MachineFacts(
        commands=commands,
        kvm_device_ok=os.access("/dev/kvm", os.R_OK | os.W_OK),
        cpu_virtualization=re.search(r"^flags\s*:.*\b(vmx|svm)\b", _read("/proc/cpuinfo"), re.M) is not None,
        hardware_virt_check=_hardware_virt_check(which) if cfg.hypervisor == "kvm" and local else None,
        closed_dirs=_closed_dirs(first.storage_pool_path) if local and first.storage_pool_path else (),
        selinux_enforcing=_read("/sys/fs/selinux/enforce").strip() == "1",
        bridge_nf_call_iptables=_read("/proc/sys/net/bridge/bridge-nf-call-iptables").strip() == "1",
        forward_policy_drop=bool(forward and forward.returncode == 0 and "-P FORWARD DROP" in forward.stdout),
        networks_in_use=(_networks_in_use(cfg, socket_ok and "virsh" in commands)
                         if local and cfg.network.mode != "bridge" else ()),
    )


def gather_host(cfg: LabConfig, index: int, virsh: bool) -> HostFacts:
    """One lab host over its URI (virsh, bounded); a host on this machine also from /proc and the file system."""
    host = cfg.lab_hosts[index]
    local = is_local(host.uri)
    if virsh:
        info = _virsh(host.uri, "nodeinfo")
        reachable: Optional[bool] = info is not None and info.returncode == 0
        error = "" if reachable else _error_of(info)
    elif local:  # without virsh, whether the socket is there for us
        socket_path = libvirt_socket(host.uri)
        reachable = os.path.exists(socket_path) and os.access(socket_path, os.R_OK | os.W_OK)
        error = "" if reachable else f"no usable socket {socket_path}"
    else:
        return HostFacts(reachable=None)
    if is_test_driver(host.uri):
        return HostFacts(reachable=reachable, error=error, test_driver=True)
    if not reachable and not local:
        return HostFacts(reachable=False, error=error)
    asked = bool(reachable and virsh)
    exists = active = available = None
    if asked and not host.storage_pool_path:
        exists, active, available = _pool_info(host.uri, host.storage_pool)
    if local:
        mem, total_only = _mem_available_mib(), False
    else:
        mem, total_only = _remote_memory(host.uri)
    if available is not None:
        disk, disk_path = available, f"pool {host.storage_pool}"
    elif local:
        disk_path = host.storage_pool_path or DEFAULT_POOL_DIR
        disk = _free_bytes(disk_path)
    else:
        disk, disk_path = None, ""
    bridges: tuple[tuple[str, Optional[str]], ...] = ()
    if cfg.network.mode == "bridge" and (asked or local):
        names = (cfg.network.management_bridge, cfg.network.external_bridge)
        bridges = tuple((b, _interface_type(host.uri, local, b) if asked else _sysfs_type(b)) for b in names)
    return HostFacts(reachable=reachable, error=error, mem_available_mib=mem, mem_total_only=total_only,
                     pool_exists=exists, pool_active=active, disk_free_bytes=disk, disk_path=disk_path, bridges=bridges)


def _sysfs_type(name: str) -> str:
    net = Path("/sys/class/net") / name
    if not net.exists():
        return "missing"
    return "bridge" if (net / "bridge").is_dir() else "non-bridge"


def gather(cfg: LabConfig, which: Callable[..., Optional[str]] = shutil.which, existing: bool = True) -> LabFacts:
    """Every fact the checks read; `existing=False` skips the existing machines' SSH probes (warnings only)."""
    machine = gather_machine(cfg, which)
    if cfg.existing_cloud:
        return LabFacts(machine, ())
    virsh = "virsh" in machine.commands
    hosts = tuple(gather_host(cfg, i, virsh) for i in range(len(cfg.lab_hosts)))
    probes = tuple(_ssh_answers(m.address) if existing and m.address else None for m in cfg.existing_computes)
    return LabFacts(machine, hosts, probes)


class HostNotReady(Exception):
    """Fatal preflight problems of this machine or a libvirt host of the lab, one line each."""

    def __init__(self, problems: list[Check]) -> None:
        self.problems = [f"{c.title}: {c.detail}" if c.where else f"host.{c.name.replace(' ', '-')}: {c.detail}"
                         for c in problems]
        super().__init__("\n".join(self.problems))


def require_host_ready(cfg: LabConfig) -> None:
    """The fatal checks of `make doctor`, for this machine and every host of the lab (over its URI), before
    any resource is declared."""
    if cfg.existing_cloud:
        return
    problems = fatal_problems(run_checks(cfg, gather(cfg, existing=False)))
    if problems:
        raise HostNotReady(problems)

"""One lab host's facts (HostFacts) over its libvirt URI (`virsh -c URI`, bounded): reachable, memory, its
pool, its bridges; a host on this machine also from /proc and the file system. A `qemu+ssh://` host is asked
the way the libvirt provider reaches it (lab/libvirt_ssh.py: its login, its known_hosts, a forwarded socket),
not through virsh's own ssh, which trusts other files."""
from __future__ import annotations

import re

from lab import libvirt_ssh
from lab.plan import LabPlan
from lab.preflight.facts import HostFacts
from lab.preflight.hosts import (
    DEFAULT_POOL_DIR,
    is_local,
    is_test_driver,
    libvirt_socket,
)
from lab.preflight.needs import needed_bridges
from lab.preflight.probes import command, local


def gather_host(lab: LabPlan, index: int, virsh: bool) -> HostFacts:
    """One lab host over its URI (virsh, bounded); a host on this machine also from /proc and the file system."""
    target = libvirt_ssh.ssh_target(lab.hosts[index].uri)
    if target is None or not virsh:
        return _gather(lab, index, virsh, lab.hosts[index].uri)
    try:
        with libvirt_ssh.forwarded(target, command.PROBE_TIMEOUT_S) as tunnel:
            facts = _gather(lab, index, virsh, tunnel.uri)
            said = tunnel.messages()
    except libvirt_ssh.SshFailure as failure:
        return HostFacts(reachable=False, error=failure.detail, ssh_failure=failure.kind)
    if not facts.reachable and said:  # logged in, but sshd did not connect the socket: ssh says why
        return HostFacts(reachable=False, error=said, ssh_failure=libvirt_ssh.kind_of(said))
    return facts


def _gather(lab: LabPlan, index: int, virsh: bool, uri: str) -> HostFacts:
    """The host's facts, its libvirt asked at `uri` (its own, or the local end of the provider's SSH path)."""
    host = lab.hosts[index]
    pool, pool_path = host.storage.pool_name, host.storage.pool_path
    here = is_local(host.uri)
    reachable: bool | None
    if virsh:
        info = command.virsh(uri, "nodeinfo")
        reachable = info is not None and info.returncode == 0
        error = "" if reachable else command.error_of(info)
    elif here:  # without virsh, whether the socket is there for us
        socket_path = libvirt_socket(host.uri)
        reachable = local.usable(socket_path)
        error = "" if reachable else f"no usable socket {socket_path}"
    else:
        return HostFacts(reachable=None)
    if is_test_driver(host.uri):
        return HostFacts(reachable=reachable, error=error, test_driver=True)
    if not reachable and not here:
        return HostFacts(reachable=False, error=error)
    asked = bool(reachable and virsh)
    exists: bool | None = None
    active: bool | None = None
    available: int | None = None
    if asked and not pool_path:
        exists, active, available = pool_info(uri, pool)
    mem: int | None
    if here:
        mem, total_only = local.mem_available_mib(), False
    else:
        mem, total_only = remote_memory(uri)
    disk: int | None
    if available is not None:
        disk, disk_path = available, f"pool {pool}"
    elif here:
        disk_path = pool_path or DEFAULT_POOL_DIR
        disk = local.free_bytes(disk_path)
    else:
        disk, disk_path = None, ""
    bridges: tuple[tuple[str, str | None], ...] = ()
    if lab.bridged and (asked or here):
        names = [bridge for _, bridge in needed_bridges(lab)]
        bridges = tuple((b, interface_type(uri, here, b) if asked else local.sysfs_type(b)) for b in names)
    return HostFacts(reachable=reachable, error=error, mem_available_mib=mem, mem_total_only=total_only,
                     pool_exists=exists, pool_active=active, disk_free_bytes=disk, disk_path=disk_path, bridges=bridges)


def kib_fields(text: str) -> dict[str, int]:
    """`name : 123 KiB` lines (virsh nodememstats, nodeinfo) -> {name: KiB}."""
    return {m[1].strip().lower(): int(m[2]) for m in re.finditer(r"^([^:\n]+):\s*(\d+)\s*KiB\s*$", text, re.MULTILINE)}


def remote_memory(uri: str) -> tuple[int | None, bool]:
    """(MiB free, total only) over the URI: nodememstats' free + buffers + cached (what the host can give up,
    like MemAvailable), else nodeinfo's total."""
    stats = command.virsh(uri, "nodememstats")
    fields = kib_fields(stats.stdout) if stats and stats.returncode == 0 else {}
    if "free" in fields:
        return (fields["free"] + fields.get("buffers", 0) + fields.get("cached", 0)) // 1024, False
    info = command.virsh(uri, "nodeinfo")
    total = kib_fields(info.stdout).get("memory size") if info and info.returncode == 0 else None
    return (None, False) if total is None else (total // 1024, True)


def pool_info(uri: str, pool: str) -> tuple[bool | None, bool | None, int | None]:
    """(exists, active, available bytes) of a pool over the URI; None where libvirt did not say."""
    proc = command.virsh(uri, "pool-info", "--bytes", pool)
    if proc is None:
        return None, None, None
    if proc.returncode != 0:
        return (False if "not found" in proc.stderr.lower() else None), None, None
    state = re.search(r"^State:\s*(\S+)", proc.stdout, re.MULTILINE)
    available = re.search(r"^Available:\s*(\d+)", proc.stdout, re.MULTILINE)
    return True, (state[1] == "running") if state else None, int(available[1]) if available else None


def interface_type(uri: str, here: bool, name: str) -> str | None:
    """What the host has by that name: "bridge", another type, "missing"; None: cannot tell.

    Asked of the host's libvirt (`virsh iface-dumpxml`: with libvirt's udev interface backend, as Debian's
    libvirt 9 has, it lists every interface of the daemon's own network namespace with type='bridge' for a
    Linux bridge), because that daemon attaches the guests: `nodedev-list --cap net` misses interfaces of a
    daemon in another network namespace, and this machine's /sys shows the caller's namespace, not the
    daemon's. Only when libvirt has no interface driver does a host on this machine fall back to sysfs."""
    proc = command.virsh(uri, "iface-dumpxml", name)
    if proc is not None and proc.returncode == 0:
        kind = re.search(r"<interface\b[^>]*\btype=['\"]([^'\"]+)", proc.stdout)
        return kind[1] if kind else None
    if proc is not None and "not found" in proc.stderr.lower():
        return "missing"
    return local.sysfs_type(name) if here else None

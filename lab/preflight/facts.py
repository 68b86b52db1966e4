"""What preflight knows of the world: the facts the probes gather and the rules read (built by hand in tests)."""
from __future__ import annotations

from dataclasses import dataclass

# An existing machine's SSH port must answer within this.
SSH_PROBE_TIMEOUT_S = 3
# A package proxy or mirror must connect and answer within this (each step of a request).
PACKAGE_PROBE_TIMEOUT_S = 10


@dataclass(frozen=True)
class MachineFacts:
    """This machine (where Pulumi runs): gathered by `gather()`, built by hand in tests. Most of it matters
    only when the first lab host is this machine (its KVM, kernel and networks are then the host's)."""

    commands: frozenset[str]
    kvm_device_ok: bool  # /dev/kvm exists and is read/writable
    cpu_virtualization: bool  # vmx or svm among the CPU flags
    # virt-host-validate's verdict on hardware virtualization ("PASS", "FAIL (...)"); None: not installed.
    hardware_virt_check: str | None
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

    reachable: bool | None  # libvirtd answered; None: not asked (no virsh here, remote host)
    error: str = ""  # virsh's last error line when it did not (or ssh's, over qemu+ssh)
    # qemu+ssh: how the provider's SSH path failed (lab/libvirt_ssh.py: host-key, login, forward, keyfile, connect).
    ssh_failure: str = ""
    test_driver: bool = False  # libvirt's in-memory test driver: nothing real to size
    mem_available_mib: int | None = None  # None: unknown
    mem_total_only: bool = False  # the host reported only its total memory (nodeinfo), not what is free
    pool_exists: bool | None = None  # the existing pool storagePool; None: not asked (own pool, unreachable)
    pool_active: bool | None = None
    disk_free_bytes: int | None = None  # None: unknown
    disk_path: str = ""  # where disk_free_bytes was measured: a directory, or "pool <name>"
    # Bridge mode: (bridge, what the host has by that name: "bridge", another interface type, "missing",
    # or None: could not tell).
    bridges: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True)
class SourceAnswer:
    """What one request for a mirror's repodata/repomd.xml (packageSources) got from this machine."""

    key: str  # the config key it is about: packageSources.mirrors.<name>, or packageSources.proxy (public BaseOS)
    url: str
    proxy: str = ""  # host:port asked as the proxy; "" when the request went direct (no proxy, or noProxy)
    proxy_answered: bool | None = None  # the proxy took the request and answered; None: not through a proxy
    status: int | None = None  # the HTTP status (from the proxy: 407, a 5xx of its own); None: no answer
    repomd: bool = False  # 200 and the body is a repomd.xml
    error: str = ""  # why there was no answer (refused, timed out, TLS)
    login_sent: bool = False  # the proxy login went with it (not by `make doctor`, which cannot read the secret)


@dataclass(frozen=True)
class LabFacts:
    machine: MachineFacts
    hosts: tuple[HostFacts, ...]  # one per LabPlan.hosts entry, in order
    # One per existing compute: its SSH port answered from here within SSH_PROBE_TIMEOUT_S; None: not probed.
    existing_ssh: tuple[bool | None, ...] = ()
    # packageSources' proxy and mirrors as asked from here (`make doctor`); empty: not asked, or nothing configured.
    package_sources: tuple[SourceAnswer, ...] = ()

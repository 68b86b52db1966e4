"""This machine's facts (MachineFacts): the commands it has, KVM, the kernel's bridge filtering and FORWARD
policy, the pool directory's access, the networks in use."""
from __future__ import annotations

import shutil
from collections.abc import Callable

from lab.plan import LabPlan
from lab.preflight.facts import MachineFacts
from lab.preflight.hosts import is_local, libvirt_socket
from lab.preflight.probes import command, local
from lab.preflight.probes.networks import networks_in_use

# Looks a command up: shutil.which's signature (a test passes its own).
Which = Callable[..., str | None]
TOOLS = ("qemu-img", "mkisofs", "dnsmasq", "qemu-system-x86_64", "virsh")
# Where dnsmasq and iptables live, which a normal user's PATH may lack.
SBIN = "/usr/sbin:/sbin"


def gather_machine(lab: LabPlan, which: Which = shutil.which) -> MachineFacts:
    commands = frozenset(t for t in TOOLS if which(t) or which(t, path=SBIN))
    first = lab.hosts[0]
    here = is_local(first.uri)
    socket_ok = here and local.usable(libvirt_socket(first.uri))
    return MachineFacts(
        commands=commands,
        kvm_device_ok=local.usable("/dev/kvm"),
        cpu_virtualization=local.cpu_virtualization(),
        hardware_virt_check=hardware_virt_check(which) if lab.hypervisor == "kvm" and here else None,
        closed_dirs=local.closed_dirs(first.storage.pool_path) if here and first.storage.pool_path else (),
        selinux_enforcing=local.read("/sys/fs/selinux/enforce").strip() == "1",
        bridge_nf_call_iptables=local.read("/proc/sys/net/bridge/bridge-nf-call-iptables").strip() == "1",
        forward_policy_drop=forward_policy_drop(which),
        networks_in_use=(networks_in_use(lab, socket_ok and "virsh" in commands)
                         if here and not lab.bridged else ()),
    )


def hardware_virt_check(which: Which) -> str | None:
    """virt-host-validate's verdict on hardware virtualization; None without virt-host-validate."""
    if not which("virt-host-validate"):
        return None
    proc = command.probe(["virt-host-validate", "qemu"])
    for line in (proc.stdout if proc else "").splitlines():
        if "hardware virtualization" in line and ":" in line:
            return line.rsplit(":", 1)[1].strip()
    return None


def forward_policy_drop(which: Which) -> bool:
    """iptables' FORWARD chain drops by default (as Docker sets it up)."""
    if not (which("iptables") or which("iptables", path=SBIN)):
        return False
    forward = command.probe(["iptables", "-S", "FORWARD"])
    return bool(forward and forward.returncode == 0 and "-P FORWARD DROP" in forward.stdout)

"""The lab's own pool directory (storagePoolPath) on this machine: QEMU, running as its own user, can
enter it, and SELinux lets it (warnings: a libvirt that runs QEMU as root needs neither)."""
from __future__ import annotations

from lab.plan import HostPlan
from lab.preflight.check import Check
from lab.preflight.facts import MachineFacts


def pool_access(host: HostPlan, facts: MachineFacts) -> list[Check]:
    path = host.storage.pool_path
    if not path:
        return []
    checks = [Check(
        "pool directory access", not facts.closed_dirs,
        f"QEMU can reach {path}" if not facts.closed_dirs else
        f"QEMU runs as its own user and cannot enter {', '.join(facts.closed_dirs)}: "
        "chmod o+x those directories or choose a storagePoolPath outside your home "
        "(fine if your libvirt runs QEMU as root)",
        fatal=False,
    )]
    if facts.selinux_enforcing:
        checks.append(Check(
            "SELinux label", False,
            f"SELinux is enforcing: label the pool for QEMU with `semanage fcontext -a -t virt_image_t "
            f"'{path}(/.*)?' && restorecon -R {path}`",
            fatal=False,
        ))
    return checks

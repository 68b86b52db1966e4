"""The hypervisor of a host on this machine: KVM usable (device, CPU extensions, virt-host-validate), or
QEMU's emulator for `hypervisor: qemu` (TCG)."""
from __future__ import annotations

from lab.plan import LabPlan
from lab.preflight.check import Check
from lab.preflight.facts import MachineFacts


def hypervisor(lab: LabPlan, facts: MachineFacts) -> Check:
    return kvm(facts) if lab.hypervisor == "kvm" else tcg(facts)


def kvm(facts: MachineFacts) -> Check:
    if not facts.kvm_device_ok:
        why = "/dev/kvm is missing or not accessible: load kvm_intel/kvm_amd and add yourself to group kvm"
    elif not facts.cpu_virtualization:
        # /dev/kvm can exist in a VM without nested virtualisation; KVM guests then hang at boot.
        why = "the CPU shows no virtualisation extensions (no vmx/svm flag), so KVM guests would hang at boot"
    elif facts.hardware_virt_check is not None and not facts.hardware_virt_check.startswith("PASS"):
        why = f"virt-host-validate: hardware virtualization {facts.hardware_virt_check}"
    else:
        source = ("virt-host-validate PASS" if facts.hardware_virt_check
                  else "vmx/svm present (virt-host-validate not installed)")
        return Check("KVM", True, f"/dev/kvm usable, {source}")
    return Check(
        "KVM", False,
        f"{why}; enable virtualisation (nested virtualisation for a VM) or "
        "`pulumi config set hypervisor qemu` to use TCG (slow but works everywhere)",
    )


def tcg(facts: MachineFacts) -> Check:
    has_qemu = "qemu-system-x86_64" in facts.commands
    return Check("QEMU (TCG)", has_qemu, "qemu-system-x86_64 found" if has_qemu else "install qemu-system-x86")

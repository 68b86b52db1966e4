"""The commands the lab runs on this machine (mkisofs always; qemu-img and dnsmasq when the first host is
this machine), each with the package that brings it."""
from __future__ import annotations

from lab.preflight.check import Check
from lab.preflight.facts import MachineFacts


def mkisofs(facts: MachineFacts) -> Check:
    # The libvirt provider runs `mkisofs` by that name, on this machine, for every cloud-init disk.
    return Check(
        "mkisofs", "mkisofs" in facts.commands,
        "found" if "mkisofs" in facts.commands else
        "the libvirt provider builds cloud-init disks with mkisofs: install genisoimage (Debian/Ubuntu, Fedora/EL)",
    )


def qemu_img(facts: MachineFacts) -> Check:
    return Check(
        "qemu-img", "qemu-img" in facts.commands,
        "found" if "qemu-img" in facts.commands else "install qemu-utils (Debian/Ubuntu) or qemu-img (Fedora/EL)",
    )


def dnsmasq(facts: MachineFacts) -> Check:
    # libvirt starts dnsmasq for every network it starts (DNS for the nodes), DHCP or not.
    return Check(
        "dnsmasq", "dnsmasq" in facts.commands,
        "found" if "dnsmasq" in facts.commands else
        "libvirt cannot start the lab's networks without dnsmasq: install dnsmasq-base (Debian/Ubuntu) "
        "or dnsmasq (Fedora/EL)",
    )

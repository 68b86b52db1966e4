"""Bridge mode: every host has both LAN bridges (network.managementBridge, network.externalBridge) as Linux
bridges, as its libvirt daemon sees them."""
from __future__ import annotations

from lab.plan import LabPlan
from lab.preflight.check import Check, HostScope
from lab.preflight.facts import HostFacts
from lab.preflight.needs import needed_bridges


def bridges(lab: LabPlan, scope: HostScope, facts: HostFacts) -> list[Check]:
    found_by_name = dict(facts.bridges)
    checks = []
    for field, bridge in needed_bridges(lab):
        found = found_by_name.get(bridge)
        name = f"bridge {bridge}"
        if found == "bridge":
            checks.append(scope.check(name, True, f"network.{field} {bridge} is a bridge on the host"))
        elif found is None:
            checks.append(scope.check(name, False, f"network.{field} {bridge}: not checked, libvirt on that host "
                                                   "has no interface driver (`virsh iface-dumpxml` failed); make sure "
                                                   "the bridge exists there", fatal=False))
        else:
            what = ("no interface" if found == "missing" else "an interface that is not a Linux bridge"
                    if found == "non-bridge" else f"an interface of type {found} (not a Linux bridge)")
            checks.append(scope.check(name, False, f"the host has {what} named {bridge} (network.{field}): create the "
                                                   "bridge on its LAN NIC (README: Preparing a host) or set "
                                                   f"network.{field} to the bridge every host has"))
    return checks

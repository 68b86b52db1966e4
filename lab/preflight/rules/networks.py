"""The lab's networks on a host on this machine: its NAT networks' CIDRs free (no other libvirt network or
route overlaps them), and bridged traffic between the nodes not dropped by the FORWARD policy."""
from __future__ import annotations

import ipaddress

from lab.plan import LabPlan
from lab.preflight.check import Check
from lab.preflight.facts import MachineFacts


def cidrs_free(lab: LabPlan, facts: MachineFacts) -> list[Check]:
    checks = []
    for key, cidr in (("managementCidr", lab.management.cidr), ("externalCidr", lab.external.cidr)):
        if lab.bridged:
            # The LAN's own networks: the hosts have routes into them by design.
            checks.append(Check(f"{key} free", True, f"{cidr} is the LAN's (network.mode bridge): not checked "
                                                     "against this host's routes", fatal=False))
            continue
        clashes = [f"{what} ({used})" for what, used in facts.networks_in_use if overlap(cidr, used)]
        checks.append(Check(
            f"{key} free", not clashes,
            f"{cidr} is not in use on the host" if not clashes else
            f"{key} {cidr} overlaps {', '.join(clashes)}: set {key} to a free /24 "
            "(`pulumi config set managementCidr ...` / `externalCidr ...`) or another supernet",
        ))
    return checks


def bridged_traffic(facts: MachineFacts) -> Check:
    dropped = facts.bridge_nf_call_iptables and facts.forward_policy_drop
    return Check(
        "bridged traffic", not dropped,
        "not filtered by a FORWARD DROP policy" if not dropped else
        "br_netfilter passes bridged frames through iptables and the FORWARD policy is DROP (as Docker sets it up), "
        "so traffic between the nodes is dropped: `sysctl -w net.bridge.bridge-nf-call-iptables=0` or "
        "`iptables -I FORWARD -i osl+ -o osl+ -j ACCEPT` (the lab's bridges are named osl...)",
    )


def overlap(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_network(a, strict=False).overlaps(ipaddress.ip_network(b, strict=False))
    except ValueError:
        return False

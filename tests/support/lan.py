"""The LAN two private libvirtds (support.libvirtd.PrivateLibvirtd) share, as a user's KVM hosts share one.

In each host's network namespace two Linux bridges with the same names on both hosts (as a user's hosts would
have, e.g. `labmgmt`, `labext`), and for each kind one veth pair across the two namespaces, one end a port of
host A's bridge, the other of host B's. Host A also plays the LAN's router: its management bridge carries the
management gateway address, its external bridge the external gateway address. Host B's own address on the
management LAN (`host_b_address`, what its sshd listens on, support.sshd) sits on B's management bridge, as a
host's address sits on its bridge. Nothing is routed out of the namespaces: no uplink, every packet stays inside.
Used by the engine tier's second host over SSH and the e2e multi-host test.
"""
from __future__ import annotations

import ipaddress
import subprocess
from dataclasses import dataclass

MGMT_BRIDGE = "labmgmt"
EXT_BRIDGE = "labext"
# veth ends (the same names in both namespaces: each end lives in its own).
VETH = {MGMT_BRIDGE: "lanmgmt", EXT_BRIDGE: "lanext"}


def ns(netns: str, argv: list[str]) -> list[str]:
    return ["ip", "netns", "exec", netns, *argv]


def _run(argv: list[str]) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


@dataclass
class Lan:
    """Two bridges per host, joined across the hosts' network namespaces (see the module docstring)."""

    netns_a: str
    netns_b: str
    management_cidr: str
    external_cidr: str

    @property
    def management_gateway(self) -> str:
        return str(next(ipaddress.ip_network(self.management_cidr).hosts()))

    @property
    def external_gateway(self) -> str:
        return str(next(ipaddress.ip_network(self.external_cidr).hosts()))

    @property
    def host_b_address(self) -> str:
        """Host B's own management address: the CIDR's second host (.2), below every node's (.10 and up)."""
        return str(ipaddress.ip_network(self.management_cidr).network_address + 2)

    def create(self) -> "Lan":
        for netns in (self.netns_a, self.netns_b):
            for bridge in (MGMT_BRIDGE, EXT_BRIDGE):
                # No STP, no forwarding delay: a guest's tap forwards at once.
                _run(ns(netns, ["ip", "link", "add", bridge, "type", "bridge", "stp_state", "0", "forward_delay", "0"]))
                _run(ns(netns, ["ip", "link", "set", bridge, "up"]))
        for bridge, veth in VETH.items():
            _run(ns(self.netns_a, ["ip", "link", "add", veth, "type", "veth", "peer", "name", veth,
                                   "netns", self.netns_b]))
            for netns in (self.netns_a, self.netns_b):
                _run(ns(netns, ["ip", "link", "set", veth, "master", bridge]))
                _run(ns(netns, ["ip", "link", "set", veth, "up"]))
        for netns, bridge, cidr, address in (
                (self.netns_a, MGMT_BRIDGE, self.management_cidr, self.management_gateway),
                (self.netns_a, EXT_BRIDGE, self.external_cidr, self.external_gateway),
                (self.netns_b, MGMT_BRIDGE, self.management_cidr, self.host_b_address)):
            prefix = ipaddress.ip_network(cidr).prefixlen
            _run(ns(netns, ["ip", "addr", "add", f"{address}/{prefix}", "dev", bridge]))
        return self

    def describe(self) -> str:
        return (f"LAN: {MGMT_BRIDGE} {self.management_cidr} (gateway {self.management_gateway} on A, host B "
                f"{self.host_b_address}), {EXT_BRIDGE} {self.external_cidr} (gateway {self.external_gateway} on A), "
                f"veths {list(VETH.values())} between {self.netns_a} and {self.netns_b}")

    def ports(self, netns: str, bridge: str) -> list[str]:
        """The ports of a bridge (`ip -o link show master BRIDGE`)."""
        out = _run(ns(netns, ["ip", "-o", "link", "show", "master", bridge]))
        return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line]

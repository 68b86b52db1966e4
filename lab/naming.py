"""Naming and addressing of a lab: pure functions of project, stack and node.

Everything here is deterministic, so a stack always gets the same names, MACs and
CIDRs, and two stacks on one libvirt host get different ones.
"""
from __future__ import annotations

import hashlib
import ipaddress
import re

# Linux limits interface names to IFNAMSIZ-1 = 15 characters.
MAX_BRIDGE_NAME = 15
# libvirt's own OUI for locally administered guest NICs.
MAC_PREFIX = (0x52, 0x54, 0x00)
CONTROLLER = "controller"
FIRST_NODE_HOST = 10


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\0".join(parts).encode()).digest()


# A DNS label has at most 63 characters; the stack label leaves room in libvirt and host names.
MAX_LABEL = 40


def slug(text: str) -> str:
    """Lower-case DNS-label form of a name (letters, digits, inner hyphens)."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return re.sub(r"-{2,}", "-", cleaned) or "lab"


def label(text: str) -> str:
    """A DNS label that is unique per name: the slug itself when it is the name unchanged, else the
    slug plus a tag of the exact name, so `alice_lab`, `alice-lab` and `Alice.Lab` stay apart."""
    cleaned = slug(text)
    if cleaned == text and len(cleaned) <= MAX_LABEL:
        return cleaned
    tag = _digest("label", text).hex()[:6]
    return f"{cleaned[:MAX_LABEL - 7].rstrip('-')}-{tag}"


def resource_prefix(project: str, stack: str) -> str:
    """Prefix of every libvirt object of a stack: carries project and stack."""
    return f"{label(project)}-{label(stack)}"


def libvirt_name(project: str, stack: str, *parts: str) -> str:
    return "-".join([resource_prefix(project, stack), *(slug(p) for p in parts)])


def bridge_name(project: str, stack: str, network: str) -> str:
    """Linux bridge name (<= 15 chars) unique per project, stack and network role."""
    tag = _digest("bridge", project, stack).hex()[:8]
    name = f"osl{tag}{network[:1]}"
    assert len(name) <= MAX_BRIDGE_NAME
    return name


def mac_address(project: str, stack: str, node: str, nic: int) -> str:
    tail = _digest("mac", project, stack, node, str(nic))[:3]
    return ":".join(f"{b:02x}" for b in (*MAC_PREFIX, *tail))


def node_names(compute_count: int) -> list[str]:
    return [CONTROLLER] + [f"compute{i}" for i in range(1, compute_count + 1)]


def dns_domain(stack: str) -> str:
    # .internal is reserved for private use (ICANN, 2024), so it never leaks to real DNS.
    return f"{label(stack)}.lab.internal"


def fqdn(node: str, stack: str) -> str:
    return f"{node}.{dns_domain(stack)}"


def derived_cidrs(stack: str, supernet: str) -> tuple[str, str]:
    """Management and external /24 of a stack, chosen by hashing the stack name.

    The supernet is cut into pairs of adjacent /24s; the stack name picks one pair.
    """
    net = ipaddress.ip_network(supernet)
    if net.prefixlen > 23:
        raise ValueError(f"supernet {supernet} is smaller than two /24 networks")
    pairs = 2 ** (23 - net.prefixlen)
    index = int.from_bytes(_digest("cidr", stack)[:4], "big") % pairs
    first = ipaddress.ip_network((int(net.network_address) + index * 512, 24))
    second = ipaddress.ip_network((int(net.network_address) + index * 512 + 256, 24))
    return str(first), str(second)


def host_address(cidr: str, offset: int) -> str:
    """The offset-th address of a network (offset 1 is the usual gateway)."""
    net = ipaddress.ip_network(cidr)
    return str(net.network_address + offset)


def node_address(cidr: str, index: int, first_host: int = FIRST_NODE_HOST) -> str:
    """Management address of node `index` (0 = controller, 1.. = computes)."""
    return host_address(cidr, first_host + index)


def default_pool(cidr: str) -> tuple[str, str]:
    """Default floating-IP pool: the upper part of the external network."""
    net = ipaddress.ip_network(cidr)
    size = net.num_addresses
    return str(net.network_address + size // 2), str(net.network_address + size - 2)

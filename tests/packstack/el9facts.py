"""The facts a lab node (a CentOS Stream 9 KVM guest, RDO Epoxy's Puppet 7.27 / Facter 4.2) would report to
`puppet apply` before Packstack's first run, for a bare catalog compile that runs no Facter of its own.

Four layers, as a real agent assembles them:
- Facter's core facts (structured `os`, `networking`, `processors`, ... and the legacy flat ones Packstack's own
  module still reads: `interfaces`, `ipaddress_eth0`, `osfamily`, ...), as a node of the lab looks before
  Packstack: eth0 with the static management address and IPv6 link-local only, eth1 up with no address at
  all (the lab's `lab-eth1` profile), no br-ex yet;
- the custom facts the modules' `lib/facter` would add on the node (plugin sync), computed here from the core
  facts with the modules' rules: openstacklib's `os_workers*` (processors.count), stdlib's
  `service_provider`/`package_provider`/`root_home`, camptocamp-systemd's `systemd`, puppetlabs-mysql's
  `mysql_server_id` (the MAC as a number), Packstack's own `default_hypervisor` (qemu: `is_virtual`),
  `home_dir`, `gateway_device`, and openstacklib's external facts (facts.d: `os_service_default`,
  `os_immutable`, the markers every OpenStack module compares against);
- what `puppet apply` adds itself (Puppet::Node::Facts#add_local_facts): `clientcert`, `clientversion`,
  `clientnoop`; the compiler adds the server facts.
Agent-side facts of software not installed yet (mysql_version, rabbitmq_version, ovs, ...) are absent, as on a
fresh node.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

# RDO Epoxy for EL9 ships these (rdoinfo buildsys-tags/cloud9s-openstack-epoxy-release.yml).
RDO_PUPPET_VERSION = "7.27.0"
RDO_FACTER_VERSION = "4.2.10"
EL9_KERNEL = "5.14.0-570.el9.x86_64"


@dataclass(frozen=True)
class NodeSpec:
    """What a lab node is: its names and management address (eth0), its MACs and size."""

    hostname: str
    fqdn: str
    ip: str
    cidr: str  # the management network, e.g. 10.210.3.0/24
    gateway: str
    mac_eth0: str
    mac_eth1: str
    vcpus: int
    memory_mib: int


def link_local(mac: str) -> str:
    """An IPv6 link-local address for eth0 (EUI-64 of its MAC; NetworkManager may pick a stable-privacy one
    instead: the value reaches no catalog, Packstack's choose_my_ip only looks for HOST_LIST among them)."""
    octets = [int(part, 16) for part in mac.split(":")]
    octets[0] ^= 0x02
    eui = octets[:3] + [0xFF, 0xFE] + octets[3:]
    return str(ipaddress.IPv6Address(bytes([0xFE, 0x80] + [0] * 6 + eui)))


def _os() -> dict:
    release = {"full": "9", "major": "9"}
    return {
        "architecture": "x86_64",
        "family": "RedHat",
        "hardware": "x86_64",
        "name": "CentOS",
        "release": release,
        "selinux": {"enabled": True, "enforced": False, "current_mode": "permissive",
                    "config_mode": "permissive", "config_policy": "targeted", "policy_version": "33"},
        "distro": {"codename": "n/a", "description": "CentOS Stream release 9", "id": "CentOS",
                   "release": release},
    }


def _networking(node: NodeSpec) -> dict:
    net = ipaddress.ip_network(node.cidr, strict=False)
    ll = link_local(node.mac_eth0)
    eth0 = {
        "bindings": [{"address": node.ip, "netmask": str(net.netmask), "network": str(net.network_address)}],
        "bindings6": [{"address": ll, "netmask": "ffff:ffff:ffff:ffff::", "network": "fe80::", "scope6": "link"}],
        "ip": node.ip, "ip6": ll, "mac": node.mac_eth0, "mtu": 1500,
        "netmask": str(net.netmask), "netmask6": "ffff:ffff:ffff:ffff::",
        "network": str(net.network_address), "network6": "fe80::", "scope6": "link", "operational_state": "up",
    }
    eth1 = {"mac": node.mac_eth1, "mtu": 1500, "operational_state": "up"}
    lo = {
        "bindings": [{"address": "127.0.0.1", "netmask": "255.0.0.0", "network": "127.0.0.0"}],
        "bindings6": [{"address": "::1", "netmask": "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "network": "::1",
                       "scope6": "host"}],
        "ip": "127.0.0.1", "ip6": "::1", "mtu": 65536, "netmask": "255.0.0.0",
        "netmask6": "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "network": "127.0.0.0", "network6": "::1",
        "scope6": "host", "operational_state": "unknown",
    }
    domain = node.fqdn.partition(".")[2]
    return {
        "hostname": node.hostname, "domain": domain, "fqdn": node.fqdn, "primary": "eth0",
        "ip": node.ip, "ip6": ll, "mac": node.mac_eth0, "mtu": 1500, "netmask": str(net.netmask),
        "netmask6": "ffff:ffff:ffff:ffff::", "network": str(net.network_address), "network6": "fe80::",
        "scope6": "link", "interfaces": {"eth0": eth0, "eth1": eth1, "lo": lo},
    }


def _legacy(networking: dict) -> dict:
    """The flat facts Facter 4 still reports (Packstack's module reads `interfaces`, `ipaddress_<if>`, ...)."""
    facts = {"interfaces": ",".join(sorted(networking["interfaces"])),
             "hostname": networking["hostname"], "domain": networking["domain"], "fqdn": networking["fqdn"],
             "ipaddress": networking["ip"], "ipaddress6": networking["ip6"], "macaddress": networking["mac"],
             "netmask": networking["netmask"], "network": networking["network"]}
    for name, iface in networking["interfaces"].items():
        for key, fact in (("ip", "ipaddress"), ("ip6", "ipaddress6"), ("mac", "macaddress"), ("mtu", "mtu"),
                          ("netmask", "netmask"), ("netmask6", "netmask6"), ("network", "network"),
                          ("network6", "network6")):
            if key in iface:
                facts[f"{fact}_{name}"] = iface[key]
    return facts


def _workers(count: int) -> dict:
    """openstacklib/lib/facter/os_workers.rb: the worker defaults of every OpenStack module."""
    return {
        "os_workers_small": min(max(count // 4, 2), 8),
        "os_workers": min(max(count // 2, 2), 12),
        "os_workers_large": max(count // 2, 1),
        "os_workers_heat_engine": min(max(count // 2, 4), 24),
        "os_workers_keystone": min(max(count, 4), 24),
    }


def node_facts(node: NodeSpec) -> dict:
    """Every fact of `node` as `puppet apply` on it would hand them to the compiler."""
    networking = _networking(node)
    memory_bytes = node.memory_mib * 1024 * 1024
    facts: dict = {
        "os": _os(),
        "networking": networking,
        **_legacy(networking),
        "osfamily": "RedHat", "operatingsystem": "CentOS", "operatingsystemmajrelease": "9",
        "operatingsystemrelease": "9", "architecture": "x86_64", "hardwaremodel": "x86_64", "hardwareisa": "x86_64",
        "kernel": "Linux", "kernelrelease": EL9_KERNEL, "kernelversion": "5.14.0", "kernelmajversion": "5.14",
        "processors": {"count": node.vcpus, "physicalcount": node.vcpus, "isa": "x86_64",
                       "models": ["QEMU Virtual CPU version 2.5+"] * node.vcpus},
        "processorcount": node.vcpus, "physicalprocessorcount": node.vcpus,
        "memory": {"system": {"total_bytes": memory_bytes, "total": f"{node.memory_mib / 1024:.2f} GiB"}},
        "memorysize_mb": f"{node.memory_mib:.2f}",
        "is_virtual": True, "virtual": "kvm",
        "selinux": True, "selinux_enforced": False, "selinux_current_mode": "permissive",
        "path": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/root/bin",
        "identity": {"user": "root", "uid": 0, "group": "root", "gid": 0, "privileged": True},
        "puppetversion": RDO_PUPPET_VERSION, "facterversion": RDO_FACTER_VERSION,
        "ruby": {"version": "3.0.7", "platform": "x86_64-linux", "sitedir": "/usr/local/share/ruby/site_ruby"},
        "rubyversion": "3.0.7",
        "timezone": "UTC",
        # custom facts of the modules (their lib/facter rules)
        **_workers(node.vcpus),
        "service_provider": "systemd", "package_provider": "dnf", "root_home": "/root",
        "systemd": True, "systemd_version": "252",
        "mysql_server_id": int(node.mac_eth0.replace(":", ""), 16) % (4_294_967_295 - 1) + 1,
        "default_hypervisor": "qemu", "home_dir": "/root", "gateway_device": "eth0",
        # openstacklib's external facts (its facts.d/*.txt, which Debian's package leaves out)
        "os_service_default": "<SERVICE DEFAULT>", "os_immutable": "<_IMMUTABLE_>",
        # what puppet apply adds (Puppet::Node::Facts#add_local_facts)
        "clientcert": node.fqdn, "clientversion": RDO_PUPPET_VERSION, "clientnoop": False,
    }
    return facts

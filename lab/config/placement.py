"""Rules of where the nodes run: the KVM hosts and how many computes each carries, how the lab's two
networks reach them (NAT networks of one host, or bridges every host has on a LAN they share), and
existing machines joined as computes.

Without `hosts`, `network` and `existingComputes` the lab is one host, as libvirtUri, computeCount and
storagePool[Path] say. With `hosts`, those keys live per host and must not be set at the top level too.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Any, Optional

from lab import naming
from lab.config.host import libvirt_uri_problem
from lab.config.model import HOST_BLOCK, ExistingCompute, LabHost, NetworkSettings
from lab.config.reader import Reader
from lab.config.schema import SCHEMA

HOST_FIELDS = ("name", "uri", "computes", "storagePool", "storagePoolPath")
NETWORK_FIELDS = ("mode", "managementBridge", "externalBridge", "managementGateway", "nameservers")
EXISTING_FIELDS = ("name", "address", "hostKey", "trustFirstContact")
NETWORK_MODES = ("nat", "bridge")
# Per-host settings that `hosts` replaces (top-level key -> its field in a host).
PER_HOST = {"libvirtUri": "uri", "computeCount": "computes", "storagePool": "storagePool",
            "storagePoolPath": "storagePoolPath"}
# A host's name ends its Pulumi resource names and starts its computes' host names (<host>-computeN).
HOST_NAME = re.compile(r"^[a-z][a-z0-9]{0,9}$")
NODE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")
BRIDGE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")  # IFNAMSIZ - 1
HOST_KEY = re.compile(r"^(ssh-ed25519|ecdsa-sha2-nistp\d+|ssh-rsa) [A-Za-z0-9+/=]+$")


def read(r: Reader) -> dict[str, Any]:
    """LabConfig's placement fields; with `hosts`, the first host's values stand for the one-host keys."""
    hosts = _hosts(r)
    network = _network(r, len(hosts))
    existing = _existing(r, network)
    head = hosts[0] if hosts else None
    fields: dict[str, Any] = {"hosts": hosts, "network": network, "existing_computes": existing}
    if head is not None:
        fields.update(libvirt_uri=head.uri, storage_pool=head.storage_pool, storage_pool_path=head.storage_pool_path,
                      compute_count=head.computes)
    return fields


def _hosts(r: Reader) -> tuple[LabHost, ...]:
    given = r.get("hosts")
    if not given:
        return ()
    for key, field in PER_HOST.items():
        value = r.raw.get(key)
        if value not in (None, "") and str(value) != str(SCHEMA[key].pulumi_default):
            r.problem(key, f"is set per host with `hosts`; move it to hosts[0].{field} and remove it")
    hosts, names = [], set()
    for at, spec in r.objects("hosts", given, HOST_FIELDS):
        name = str(spec.get("name", ""))
        if not HOST_NAME.match(name):
            r.problem(f"{at}.name", f"{name!r} must be 1-10 lower-case letters or digits, starting with a letter "
                                    "(it names the host's resources and computes)")
        elif name in names:
            r.problem(f"{at}.name", f"{name!r} is already the name of another host; host names must be unique")
        names.add(name)
        uri = spec.get("uri")
        problem = libvirt_uri_problem(uri) if isinstance(uri, str) and uri else "is required: the host's libvirt URI"
        if problem:
            r.problem(f"{at}.uri", problem)
        computes = spec.get("computes", 0)
        if isinstance(computes, bool) or not isinstance(computes, int) or not 0 <= computes < HOST_BLOCK:
            r.problem(f"{at}.computes", f"expected a whole number from 0 to {HOST_BLOCK - 1}, got {computes!r}")
            computes = 0
        pool_path = spec.get("storagePoolPath") or None
        if pool_path is not None and not str(pool_path).startswith("/"):
            r.problem(f"{at}.storagePoolPath", f"{pool_path!r} must be an absolute directory path")
        hosts.append(LabHost(name, str(uri or ""), computes, str(spec.get("storagePool") or "default"), pool_path))
    return tuple(hosts)


def _network(r: Reader, host_count: int) -> NetworkSettings:
    given = r.get("network")
    r.unknown_fields("network", given, NETWORK_FIELDS)
    mode = given.get("mode", "nat")
    if mode not in NETWORK_MODES:
        r.problem("network.mode", f"{mode!r} is not one of {', '.join(NETWORK_MODES)}")
        mode = "nat"
    if mode == "nat":
        for field in NETWORK_FIELDS[1:]:
            if given.get(field):
                r.problem(f"network.{field}", "is read only with network.mode bridge; remove it or set the mode")
        if host_count > 1:
            r.problem("network.mode", f"{host_count} hosts need network.mode bridge: NAT networks are private to one "
                                      "host (see the README's multi-host section)")
        return NetworkSettings()
    bridges = {}
    for field in ("managementBridge", "externalBridge"):
        value = str(given.get(field) or "")
        if not BRIDGE_NAME.match(value):
            r.problem(f"network.{field}", f"{value!r}: bridge mode needs the name of a Linux bridge every host has "
                                          "on the shared LAN (at most 15 characters)")
        bridges[field] = value
    if bridges["managementBridge"] and bridges["managementBridge"] == bridges["externalBridge"]:
        r.problem("network.externalBridge", "must differ from network.managementBridge: the external network is "
                                            "a segment of its own (Neutron's flat extnet)")
    # Addresses on the LAN are the user's: none is derived from the stack name.
    for key in ("managementCidr", "externalCidr", "externalGateway"):
        if r.get(key) is None:
            r.problem(key, "network.mode bridge takes the addresses of your LAN: set it explicitly")
    gateway = given.get("managementGateway")
    if not gateway:
        r.problem("network.managementGateway", "bridge mode needs the management LAN's router address")
    else:
        address = r.address("network.managementGateway", str(gateway))
        cidr = _network_of(r.get("managementCidr"))
        if address is not None and cidr is not None and address not in cidr:
            r.problem("network.managementGateway", f"{address} is not in managementCidr {cidr}")
    servers = given.get("nameservers") or []
    if isinstance(servers, str):
        servers = [s.strip() for s in servers.split(",") if s.strip()]
    for i, server in enumerate(servers):
        r.address(f"network.nameservers[{i}]", str(server))
    return NetworkSettings("bridge", bridges["managementBridge"], bridges["externalBridge"],
                           str(gateway) if gateway else None, tuple(str(s) for s in servers))


def _existing(r: Reader, network: NetworkSettings) -> tuple[ExistingCompute, ...]:
    given = r.get("existingComputes")
    if not given:
        return ()
    if network.mode != "bridge":
        r.problem("existingComputes", "existing machines join over the management LAN: set network.mode bridge "
                                      "with the LAN's bridges and addresses")
    if r.get("sshPublicKey") is None:
        r.problem("existingComputes", "existing machines must already trust the lab's login key: set sshPublicKey "
                                      "and sshPrivateKey (--secret) to that key pair")
    machines = []
    for at, spec in r.objects("existingComputes", given, EXISTING_FIELDS):
        name = str(spec.get("name", ""))
        if not NODE_NAME.match(name) or name == naming.CONTROLLER or re.match(r"^([a-z0-9]+-)?compute\d+$", name):
            r.problem(f"{at}.name", f"{name!r}: give a host name of lower-case letters, digits and inner hyphens "
                                    "that the lab does not use itself (controller, computeN, <host>-computeN)")
        address = r.address(f"{at}.address", str(spec.get("address", "")))
        host_key = spec.get("hostKey") or None
        trust = spec.get("trustFirstContact", False)
        if not isinstance(trust, bool):
            r.problem(f"{at}.trustFirstContact", f"expected true or false, got {trust!r}")
            trust = False
        if host_key is not None:
            host_key = " ".join(str(host_key).split()[:2])
            if not HOST_KEY.match(host_key):
                r.problem(f"{at}.hostKey", "is not an SSH host public key (`ssh-ed25519 AAAA...`, as in "
                                           "/etc/ssh/ssh_host_ed25519_key.pub of the machine)")
            if trust:
                r.problem(f"{at}.trustFirstContact", "is meaningless with a pinned hostKey; remove one of them")
        elif not trust:
            r.problem(f"{at}.hostKey", "pin the machine's SSH host key (ssh-keyscan -t ed25519 <address>, checked "
                                       "out of band), or set trustFirstContact: true to take it on first contact")
        machines.append(ExistingCompute(name, str(address or ""), host_key, trust))
    names = [m.name for m in machines]
    for i, m in enumerate(machines):
        if names.index(m.name) != i:
            r.problem(f"existingComputes[{i}].name", f"{m.name!r} is listed twice")
    return tuple(machines)


def check_addresses(r: Reader, management_cidr: str, gateway: str, lab_addresses: list[str],
                    existing: tuple[ExistingCompute, ...]) -> None:
    """Existing machines sit on the management network, on addresses no lab node and no gateway uses."""
    cidr = _network_of(management_cidr)
    taken = set(lab_addresses) | {gateway}
    for i, machine in enumerate(existing):
        if not machine.address:
            continue
        address = ipaddress.IPv4Address(machine.address)
        if cidr is not None and (address not in cidr or address in (cidr.network_address, cidr.broadcast_address)):
            r.problem(f"existingComputes[{i}].address", f"{address} is not a usable address of managementCidr {cidr}")
        elif machine.address in taken:
            r.problem(f"existingComputes[{i}].address", f"{address} is already the gateway's or a lab node's "
                                                        "address; give the machine's own address")
        taken.add(machine.address)


def _network_of(cidr: Optional[str]) -> Optional[ipaddress.IPv4Network]:
    """managementCidr as a network, None when it is not an IPv4 one (Reader.network names that problem)."""
    try:
        return ipaddress.IPv4Network(cidr) if cidr else None
    except ValueError:
        return None

"""Cloud-init documents of a lab node (NoCloud: user-data, meta-data, network-config).

Pure rendering: values in, YAML text out. The user-data carries the node's SSH
host key, so callers must treat it as a secret.
"""
from __future__ import annotations

import configparser
import io
import ipaddress
import uuid
from dataclasses import dataclass

import yaml

# sshd must accept these so scripts get their inputs (secrets included) through
# the environment instead of argv.
ACCEPT_ENV = "LAB_*"
SSHD_DROP_IN = "/etc/ssh/sshd_config.d/50-openstack-lab.conf"
# The external NIC's own NetworkManager profile: no IPv4, no IPv6 (not even link-local), whatever
# cloud-init's network renderer wrote. cloud-init's NetworkManager renderer gives an interface without
# subnets no [ipv4]/[ipv6] section, and NetworkManager's default for that is DHCPv4 + IPv6 auto.
EXTERNAL_NIC_PROFILE = "lab-eth1"
EXTERNAL_NIC_KEYFILE = f"/etc/NetworkManager/system-connections/{EXTERNAL_NIC_PROFILE}.nmconnection"
# NetworkManager autoconnects the matching profile with the highest priority (cloud-init 22.4's
# profiles have none, i.e. 0; newer cloud-init writes 120).
EXTERNAL_NIC_PRIORITY = 200


@dataclass(frozen=True)
class NodeIdentity:
    hostname: str
    fqdn: str
    management_ip: str
    management_cidr: str
    management_gateway: str
    management_mac: str
    external_mac: str
    dns_domain: str
    nameservers: tuple[str, ...] = ()  # none: the management gateway (the NAT network's dnsmasq)


def hosts_file(entries: list[tuple[str, str, str]]) -> str:
    """/etc/hosts text for (ip, fqdn, short name) entries, loopback first."""
    lines = ["127.0.0.1 localhost localhost.localdomain", "::1 localhost ip6-localhost ip6-loopback"]
    lines += [f"{ip} {fqdn} {short}" for ip, fqdn, short in entries]
    return "\n".join(lines) + "\n"


class _KeyfileParser(configparser.ConfigParser):
    """A NetworkManager keyfile: its keys are case-sensitive (ConfigParser lower-cases them)."""

    def optionxform(self, optionstr: str) -> str:
        return optionstr


def external_nic_keyfile(mac: str = "", interface: str = "") -> str:
    """NetworkManager keyfile that keeps the external NIC (matched by MAC, or by name on a machine the
    lab did not create) up without any address.

    It stays right once Packstack makes eth1 a port of br-ex: NetworkManager only keeps the link up.
    """
    profile = _KeyfileParser(interpolation=None)
    profile["connection"] = {
        "id": EXTERNAL_NIC_PROFILE,
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"openstack-lab:{EXTERNAL_NIC_PROFILE}:{mac.lower() or interface}")),
        "type": "ethernet",
        "autoconnect": "true",
        "autoconnect-priority": str(EXTERNAL_NIC_PRIORITY),
    }
    if mac:
        profile["ethernet"] = {"mac-address": mac.upper()}
    else:
        profile["connection"]["interface-name"] = interface
    profile["ipv4"] = {"method": "disabled"}
    profile["ipv6"] = {"method": "disabled"}
    out = io.StringIO()
    profile.write(out, space_around_delimiters=False)
    return out.getvalue()


def user_data(
    node: NodeIdentity,
    authorized_key: str,
    host_key_private: str,
    host_key_public: str,
    hosts: list[tuple[str, str, str]],
) -> str:
    document = {
        "hostname": node.hostname,
        "fqdn": node.fqdn,
        "prefer_fqdn_over_hostname": True,
        # /etc/hosts comes from the lab (and is kept current by the hosts command).
        "manage_etc_hosts": False,
        "disable_root": False,
        "ssh_pwauth": False,
        "ssh_authorized_keys": [authorized_key.strip()],
        # Only the lab's host key exists, so the key pinned in every connection is the one sshd offers
        # (with ssh_keys given cloud-init generates no other key; ssh_genkeytypes is not read).
        "ssh_deletekeys": True,
        "ssh_keys": {
            "ed25519_private": host_key_private.strip() + "\n",
            "ed25519_public": host_key_public.strip(),
        },
        "write_files": [
            {"path": "/etc/hosts", "permissions": "0644", "content": hosts_file(hosts)},
            {
                "path": SSHD_DROP_IN,
                "permissions": "0600",
                "content": f"AcceptEnv {ACCEPT_ENV}\nPermitRootLogin prohibit-password\n",
            },
            {"path": EXTERNAL_NIC_KEYFILE, "permissions": "0600", "content": external_nic_keyfile(node.external_mac)},
        ],
        # No runcmd: write_files runs in cloud-init's network stage, which systemd orders before
        # sshd.service, so sshd starts with the drop-in already in place. (A reload naming both
        # sshd.service and ssh.service failed on EL9: systemctl exits 5 for a unit that does not exist.)
    }
    return "#cloud-config\n" + yaml.safe_dump(document, sort_keys=False, width=4096)


def meta_data(instance_id: str, hostname: str) -> str:
    return yaml.safe_dump({"instance-id": instance_id, "local-hostname": hostname}, sort_keys=False)


def network_config(node: NodeIdentity) -> str:
    """eth0: static management address; eth1: up with no address (br-ex takes it later)."""
    prefix = ipaddress.ip_network(node.management_cidr).prefixlen
    document = {
        "version": 2,
        "ethernets": {
            "eth0": {
                "match": {"macaddress": node.management_mac},
                "set-name": "eth0",
                "dhcp4": False,
                "dhcp6": False,
                "addresses": [f"{node.management_ip}/{prefix}"],
                "routes": [{"to": "0.0.0.0/0", "via": node.management_gateway}],
                "nameservers": {"addresses": list(node.nameservers or (node.management_gateway,)),
                                "search": [node.dns_domain]},
            },
            # No addresses: sysconfig and networkd render it up without any; NetworkManager gets the
            # lab's own profile from the user-data (external_nic_keyfile), which wins on priority.
            "eth1": {
                "match": {"macaddress": node.external_mac},
                "set-name": "eth1",
                "dhcp4": False,
                "dhcp6": False,
                "accept-ra": False,
            },
        },
    }
    return yaml.safe_dump(document, sort_keys=False)

"""Every config key the lab reads, in one table: type, default, secrecy, description, rule.

The reader (lab/config/reader.py) works from it; `Pulumi.yaml`'s `config:` block is generated
from it (`.venv/bin/python -m lab.config` rewrites that block) and the README's
configuration table is checked against it (tests/unit/test_project_files.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from lab.config.model import STAGES

DEFAULT_BASE_IMAGE = (
    "https://cloud.centos.org/centos/9-stream/x86_64/images/"
    "CentOS-Stream-GenericCloud-9-latest.x86_64.qcow2"
)
RELEASES = ("antelope", "bobcat", "caracal", "dalmatian", "epoxy")
HYPERVISORS = ("kvm", "qemu")
OS_FLAVORS = ("centos-stream", "rhel")
L2_AGENTS = ("ovn", "openvswitch")
# CirrOS as published on download.cirros-cloud.net (sha256 from its SHA256SUMS).
CIRROS_URL = "https://download.cirros-cloud.net/0.6.3/cirros-0.6.3-x86_64-disk.img"
CIRROS_SHA256 = "7d6355852aeb6dbcd191bcda7cd74f1536cfe5cbf8a10495a7283a8396e4b75b"
DEMO_DEFAULT = {
    "image": CIRROS_URL,
    "imageSha256": CIRROS_SHA256,
    "diskFormat": "qcow2",
    "flavors": [
        {"name": "m1.nano", "vcpus": 1, "ramMiB": 256, "diskGiB": 1},
        {"name": "m1.micro", "vcpus": 1, "ramMiB": 512, "diskGiB": 2},
    ],
    "publicKey": "",
    "waitSeconds": 600,
}

# What Pulumi.yaml declares for a key without a value of its own: every key needs a default
# there, or Pulumi would make it required.
UNSET = {"string": "", "array": [], "object": {}}


@dataclass(frozen=True)
class Key:
    name: str
    type: str  # string | integer | boolean | array | object (as Pulumi.yaml spells it)
    default: Any  # the value when unset; None: none, or one the key's rule derives
    description: str  # Pulumi.yaml's
    group: str  # the comment above its group in Pulumi.yaml
    rule: str  # the module under lab/config/ whose rules read it
    secret: bool = False  # must be set with `pulumi config set --secret`
    choices: tuple[str, ...] = ()
    shown: Optional[str] = None  # the README table's default, where the value itself is not it
    items: str = "string"  # an array's items; Pulumi.yaml cannot type a list of objects, so such a key has no type

    @property
    def pulumi_default(self) -> Any:
        # Objects merge with their default key by key, so Pulumi.yaml's default stays empty.
        if self.default is None or self.type in ("array", "object"):
            return UNSET[self.type]
        return self.default

    @property
    def readme_default(self) -> str:
        if self.shown is not None:
            return self.shown
        return "—" if self.default is None else f"`{_flow(self.default)}`"

    def pulumi_spec(self) -> dict[str, Any]:
        untyped = self.type == "object" or self.items == "object"
        spec: dict[str, Any] = {} if untyped else {"type": self.type}
        if self.type == "array" and not untyped:
            spec["items"] = {"type": "string"}
        spec["default"] = self.pulumi_default
        spec["description"] = self.description
        return spec


def _flow(value: Any) -> str:
    """A default as the README writes it: YAML flow style without quotes."""
    if isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return str(value)


PLACE, SIZES, ADDRESSING, SOFTWARE, ACCESS, FLOW, CLOUD, DEMO, HOSTS = (
    "Where the lab lives", "Node sizes and count", "Addressing", "Software", "Access", "Flow", "Existing cloud",
    "Demo resources", "Several hosts and existing machines",
)

SCHEMA: dict[str, Key] = {k.name: k for k in (
    Key("libvirtUri", "string", "qemu:///system",
         "libvirt connection URI (qemu:///system, qemu+ssh://root@host/system, ...).", PLACE, "host"),
    Key("storagePool", "string", "default",
         "Existing libvirt storage pool for the stack's volumes (ignored when storagePoolPath is set).", PLACE, "host"),
    Key("storagePoolPath", "string", None,
         "If set, the stack creates its own dir pool at this absolute path and removes it on destroy.", PLACE, "host"),
    Key("baseImage", "string", DEFAULT_BASE_IMAGE,
         "Path or http(s) URL of the EL9 cloud qcow2 every node's disk is a copy-on-write layer of.", PLACE, "host",
         shown="CentOS Stream 9 GenericCloud URL"),
    Key("hypervisor", "string", "kvm",
         "libvirt domain type, kvm or qemu (TCG, for hosts without working nested virtualisation).", PLACE, "host",
         choices=HYPERVISORS),
    Key("boot", "object", None,
         "Optional direct kernel boot, paths on the libvirt host: {kernel, initrd, cmdline}.", PLACE, "host"),
    Key("controller", "object", {"vcpus": 4, "memoryMiB": 8192, "diskGiB": 40},
         "Controller size {vcpus, memoryMiB, diskGiB, dataDisksGiB}; default {4, 8192, 40} and no data disks. "
         "Data disk 1 holds Cinder's cinder-volumes LVM group, disk 2 Swift's storage.", SIZES, "sizes"),
    Key("compute", "object", {"vcpus": 2, "memoryMiB": 4096, "diskGiB": 20},
         "Compute size {vcpus, memoryMiB, diskGiB, dataDisksGiB}; default {2, 4096, 20} and no data disks.",
         SIZES, "sizes"),
    Key("computeCount", "integer", 2,
         "Number of compute nodes (0 makes the controller an all-in-one).", SIZES, "sizes"),
    Key("supernet", "string", "10.208.0.0/12",
         "Where the default management and external /24s are derived from the stack name.", ADDRESSING, "addressing"),
    Key("managementCidr", "string", None,
         "Management network (default derived from the stack name inside supernet).", ADDRESSING, "addressing",
         shown="derived"),
    Key("externalCidr", "string", None,
         "External/provider network of extnet and floating IPs (default derived from the stack name).",
         ADDRESSING, "addressing", shown="derived"),
    Key("externalGateway", "string", None,
         "Gateway of the public subnet (default the first address, i.e. the libvirt host).", ADDRESSING, "addressing",
         shown="first address"),
    Key("externalPool", "object", None,
         "Floating-IP allocation pool {start, end}; default the upper half of externalCidr.", ADDRESSING, "addressing",
         shown="upper half"),
    Key("privateCidr", "string", "192.168.100.0/24", "The tenant network behind the router.", ADDRESSING, "addressing"),
    Key("dnsServers", "array", ["1.1.1.1", "8.8.8.8"],
         "DNS servers of the private subnet (default 1.1.1.1, 8.8.8.8).", ADDRESSING, "addressing"),
    Key("osFlavor", "string", "centos-stream",
         "centos-stream or rhel (rhel needs rhelUsername and the secret rhelPassword).", SOFTWARE, "software",
         choices=OS_FLAVORS),
    Key("rhelUsername", "string", None, "Red Hat Subscription Management user (osFlavor rhel).", SOFTWARE, "access"),
    Key("rhelPassword", "string", None,
         "Red Hat Subscription Management password; set with --secret (plain text is refused).", SOFTWARE, "access",
         secret=True),
    Key("openstackRelease", "string", "epoxy",
         "RDO release (antelope, bobcat, caracal, dalmatian, epoxy).", SOFTWARE, "software", choices=RELEASES),
    Key("l2Agent", "string", "ovn",
         "Neutron L2 agent, ovn (Packstack's default) or openvswitch.", SOFTWARE, "software", choices=L2_AGENTS),
    Key("packageUpdate", "boolean", True,
         "Run a full package update (dnf update) once during host prep, as RDO's documented path does; "
         "false opts out.", SOFTWARE, "software"),
    Key("packageSources", "object", None,
         "Where the nodes' packages come from: {proxy: http://host:port, proxyUser, noProxy: [hosts], mirrors: "
         "{baseos, appstream, crb, extras, rdo, rdoDeps: {rabbitmq, openvswitch, ceph}}, gpgKeys: release-package "
         "or the URL of a directory with the SIG keys}; unset: the public mirrors, directly.", SOFTWARE, "packages",
         shown="public mirrors, no proxy"),
    Key("packageProxyPassword", "string", None,
         "Password of packageSources.proxyUser at the proxy; set with --secret (plain text is refused).", SOFTWARE,
         "packages", secret=True),
    Key("packstackAnswers", "object", {},
         "Extra Packstack answers {CONFIG_KEY: value}; every key must be one that `packstack -o` lists, "
         "every value pass Packstack's own validators (checked at preview).",
         SOFTWARE, "software"),
    Key("sshPublicKey", "string", None,
         "Public key installed for root on every node (default a generated key pair).", ACCESS, "access",
         shown="generated pair"),
    Key("sshPrivateKey", "string", None,
         "Private half of sshPublicKey; set with --secret (plain text is refused).", ACCESS, "access",
         secret=True, shown="generated pair"),
    Key("stopAfter", "string", "demo",
         "Last stage to declare: nodes, prep, answers, packstack, networking or demo (existing cloud: networking "
         "or demo).", FLOW, "flow", choices=STAGES),
    Key("bootTimeout", "integer", 900,
         "Seconds a node may take to answer SSH, and again to finish cloud-init; then up fails naming the node.",
         FLOW, "flow"),
    Key("keystoneTimeout", "integer", 900, "Seconds KeystoneReady waits for a token.", FLOW, "flow"),
    Key("snapshots", "array", [],
         "Lab-wide snapshots [name, ...]: each name one consistent snapshot (memory included) of every lab node, "
         "taken after the last stage; `make revert SNAPSHOT=name` goes back to it. Names: a-z, 0-9, '-'.",
         FLOW, "snapshots", shown="none"),
    Key("cloud", "object", None,
         "Existing cloud {authUrl, username, projectName, userDomainName, projectDomainName, region}: "
         "skips nodes and Packstack.", CLOUD, "cloud"),
    Key("cloudPassword", "string", None,
         "Password of the existing cloud's user; set with --secret (plain text is refused).", CLOUD, "cloud",
         secret=True),
    Key("demo", "object", DEMO_DEFAULT,
         "Stage demo {image, imageSha256, diskFormat, flavors, publicKey, waitSeconds}: a checksum-verified image "
         "(CirrOS 0.6.3 by default), flavors, a keypair and a security group letting ICMP and SSH in.", DEMO, "demo",
         shown="CirrOS 0.6.3, `m1.nano`, `m1.micro`, login key"),
    Key("demoInstance", "boolean", False,
         "Boot one demo server on the private network with a floating IP and wait (demo.waitSeconds) until its "
         "SSH answers from this host.", DEMO, "demo"),
    Key("hosts", "array", [],
         "KVM hosts of one lab [{name, uri, computes, storagePool, storagePoolPath}]; the controller sits on the "
         "first. Replaces libvirtUri, computeCount and storagePool[Path]; two or more need network.mode bridge.",
         HOSTS, "placement", items="object", shown="one host: libvirtUri"),
    Key("network", "object", None,
         "How the networks reach the nodes: {mode: nat} (one host) or {mode: bridge, managementBridge, "
         "externalBridge, managementGateway, nameservers} on bridges every host has on a shared LAN.",
         HOSTS, "placement", shown="`{mode: nat}`"),
    Key("existingComputes", "array", [],
         "EL9 machines joined as computes [{name, address, hostKey | trustFirstContact}]; they trust "
         "sshPublicKey; destroy leaves them as they are.", HOSTS, "placement", items="object", shown="none"),
)}

# Keys that were once read and now say where their value went instead.
RETIRED = {
    "prepProfile": "is not a stack config key: the test guest's host-prep profile comes from the test overlay "
                   "(set OPENSTACK_LAB_TEST_OVERLAY=<repo>/tests/support/overlay/debian-test.yaml); remove it",
}

PULUMI_YAML_HEADER = """\
# Generated from lab/config/schema.py by `.venv/bin/python -m lab.config`; edit the schema, not this block.
# Optional keys default to empty values (a key without a default would be required).
# Secret keys carry no `secret: true`: Pulumi would then reject their empty default; the
# program itself refuses them unless they are set with `pulumi config set --secret`.
"""


def pulumi_config_block() -> str:
    """Pulumi.yaml's `config:` block, with a comment above each group."""
    import yaml

    lines, group = [PULUMI_YAML_HEADER + "config:"], None
    for key in SCHEMA.values():
        if key.group != group:
            group = key.group
            lines.append(f"  # {group}")
        spec = yaml.safe_dump({key.name: key.pulumi_spec()}, sort_keys=False, width=4096, default_flow_style=False)
        lines += ["  " + line for line in spec.splitlines()]
    return "\n".join(lines) + "\n"


def write_pulumi_yaml(path: Path) -> None:
    """Replace the `config:` block (the file's last) and the comment lines right above it."""
    lines = path.read_text().splitlines(keepends=True)
    start = lines.index("config:\n")
    while start > 0 and lines[start - 1].startswith("#"):
        start -= 1
    path.write_text("".join(lines[:start]) + pulumi_config_block())

"""What the stand-ins (tests/packstack/standins/) answer for each lab node, written from the lab's plan.

One directory per management address under `<scratch>/nodes` (the stand-ins find it through
$STANDIN_NODES and the address an SSH session came in on; `local` names the controller, where Packstack
runs): `facts` (facter's `key => value` lines, a CentOS Stream 9 guest of the node's size), `packages`
(what host prep installed that Packstack asks rpm about), `kernel`, `volume-groups` (Cinder's group on the
controller only when the lab makes it: data disks, host prep's storage-lvm.sh).
"""
from __future__ import annotations

import ast
import ipaddress
import warnings
from pathlib import Path

from lab.answers import CINDER_VOLUME_GROUP, EXTERNAL_NIC
from lab.plan import LabPlan, NodePlan

# The management NIC of a lab node (cloud-init names it so); the external one is lab.answers.EXTERNAL_NIC.
MANAGEMENT_NIC = "eth0"
EL9_KERNEL = "kernel-5.14.0-611.el9.x86_64"


def release_package(plan: LabPlan) -> str:
    """The repository package host prep installs (scripts/prep-el9.sh): CentOS's Cloud SIG release package
    on CentOS Stream, RDO's on RHEL. Packstack looks for both on the controller (prescript_000.py
    manage_centos_release_openstack, manage_rdo) and then checks the one it found on every node."""
    release = plan.prep.openstack_release
    if plan.prep.os_flavor == "rhel":
        return f"rdo-release-{release}-1.el9s.noarch"
    return f"centos-release-openstack-{release}-1-1.el9s.noarch"


def facts(plan: LabPlan, node: NodePlan) -> dict[str, str]:
    network = ipaddress.ip_network(plan.management.cidr)
    return {
        "fqdn": node.fqdn,
        "hostname": node.name,
        "domain": plan.dns_domain,
        "interfaces": f"{MANAGEMENT_NIC},{EXTERNAL_NIC},lo",
        "ipaddress": node.management_ip,
        f"ipaddress_{MANAGEMENT_NIC}": node.management_ip,
        f"netmask_{MANAGEMENT_NIC}": str(network.netmask),
        f"network_{MANAGEMENT_NIC}": str(network.network_address),
        "ipaddress_lo": "127.0.0.1",
        "osfamily": "RedHat",
        "operatingsystem": "RedHat" if plan.prep.os_flavor == "rhel" else "CentOS",
        "operatingsystemmajrelease": "9",
        "processorcount": str(node.size.vcpus),
        "is_virtual": "true",
        "virtual": "kvm",
    }


def volume_groups(plan: LabPlan, node: NodePlan) -> list[str]:
    if node.role == "controller" and plan.storage_disks.cinder is not None:
        return [CINDER_VOLUME_GROUP]
    return []


def copied_modules(puppet_plugin: Path) -> tuple[str, ...]:
    """The Puppet modules Packstack's puppet step tars and copies to every host (the names joined in
    puppet_950.py copy_puppet_modules), read from the installed plugin's source."""
    with warnings.catch_warnings():  # the plugin's own invalid escape sequences (finalize's sed) are not ours
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        tree = ast.parse(puppet_plugin.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "copy_puppet_modules":
            for inner in ast.walk(node):
                if isinstance(inner, ast.Tuple) and inner.elts and all(
                        isinstance(e, ast.Constant) and isinstance(e.value, str) for e in inner.elts):
                    return tuple(e.value for e in inner.elts)
    raise LookupError(f"no module list in copy_puppet_modules of {puppet_plugin}")


def write_puppet_dir(directory: Path, packstack_package: Path) -> Path:
    """What RDO's packages put in /usr/share/openstack-puppet (PACKSTACK_PUPPETDIR): modules/packstack is
    Packstack's own module (in its wheel), every other module an empty stand-in: a dry-run only copies
    them to the hosts, it applies nothing (the catalog compile uses Debian's real modules)."""
    modules = directory / "modules"
    modules.mkdir(parents=True)
    for name in copied_modules(packstack_package / "plugins" / "puppet_950.py"):
        if name == "packstack":
            (modules / name).symlink_to(packstack_package / "puppet" / "modules" / "packstack")
        else:
            (modules / name).mkdir()
    return directory


def write_nodes(directory: Path, plan: LabPlan) -> Path:
    """The stand-ins' state for every node of the plan; returns the directory ($STANDIN_NODES)."""
    directory.mkdir(mode=0o700)
    for node in plan.nodes:
        own = directory / node.management_ip
        own.mkdir()
        (own / "facts").write_text("".join(f"{k} => {v}\n" for k, v in facts(plan, node).items()))
        (own / "packages").write_text(release_package(plan) + "\n")
        (own / "kernel").write_text(EL9_KERNEL + "\n")
        (own / "volume-groups").write_text("".join(f"{vg}\n" for vg in volume_groups(plan, node)))
    (directory / "local").write_text(plan.controller.management_ip)
    return directory

"""Facts and configs the preflight tests build by hand (tests/unit/test_preflight_*.py): a ready machine and
host, changed field by field, and the two-host bridge-mode lab."""
import dataclasses


from harness import BRIDGE, HOST_B, LAN
from lab.plan import plan
from lab.preflight.check import fatal_problems
from lab.preflight.facts import HostFacts, LabFacts, MachineFacts
from lab.preflight.needs import GIB
from lab.preflight.rules import run_checks

MACHINE = MachineFacts(
    commands=frozenset({"qemu-img", "mkisofs", "dnsmasq", "qemu-system-x86_64", "virsh"}),
    kvm_device_ok=True,
    cpu_virtualization=True,
    hardware_virt_check="PASS",
)
HOST = HostFacts(
    reachable=True,
    mem_available_mib=64000,
    pool_exists=True,
    pool_active=True,
    disk_free_bytes=500 * GIB,
    disk_path="pool default",
)
TWO_HOSTS = {"hosts": [{"name": "a", "uri": "qemu:///system", "computes": 1},
                       {"name": "b", "uri": HOST_B, "computes": 2}], "network": BRIDGE, **LAN}
BRIDGES = (("br-mgmt", "bridge"), ("br-ext", "bridge"))


def facts(*hosts, existing=(), **machine):
    return LabFacts(dataclasses.replace(MACHINE, **machine), hosts or (HOST,), existing)


def host(**changes):
    return dataclasses.replace(HOST, **changes)


def with_(**changes):
    """One host: changes to this machine's facts or the host's, by field name."""
    mine = {k: v for k, v in changes.items() if k in MachineFacts.__dataclass_fields__}
    return facts(host(**{k: v for k, v in changes.items() if k not in mine}), **mine)


GOOD = facts()


def failed(config, lab_facts):
    return {c.title: c.detail for c in fatal_problems(run_checks(plan(config), lab_facts))}


def by_title(config, lab_facts):
    return {c.title: c for c in run_checks(plan(config), lab_facts)}


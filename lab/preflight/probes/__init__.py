"""Preflight's probes: the only code of preflight that runs commands (command.py: bounded virsh, ip,
iptables, virt-host-validate), opens sockets (ssh.py; package_sources.py: HTTP to packageSources' proxy and
mirrors, for `make doctor` only) or reads /proc, /sys and the file system (local.py).
Each probe module turns what it reads into facts (lab/preflight/facts.py): machine.py this machine's,
host.py one lab host's over its libvirt URI, networks.py the networks in use. `gather` asks them all.
"""
from __future__ import annotations

import shutil

from lab.plan import LabPlan
from lab.preflight.facts import LabFacts
from lab.preflight.probes.host import gather_host
from lab.preflight.probes.machine import Which, gather_machine
from lab.preflight.probes.package_sources import local_proxy, probe_sources
from lab.preflight.probes.ssh import ssh_answers


def gather(lab: LabPlan, which: Which = shutil.which, existing: bool = True, sources: bool = False) -> LabFacts:
    """Every fact the checks read; `existing=False` skips the existing machines' SSH probes (warnings only),
    `sources=True` asks packageSources' proxy and mirrors (`make doctor`; not every preview)."""
    machine = gather_machine(lab, which)
    if lab.cloud is not None:
        return LabFacts(machine, ())
    virsh = "virsh" in machine.commands
    hosts = tuple(gather_host(lab, i, virsh) for i in range(len(lab.hosts)))
    probes = tuple(ssh_answers(m.address) if existing and m.address else None for m in lab.existing_machines)
    packages = lab.prep.package_sources
    answers = probe_sources(packages, local_proxy(lab)) if sources and packages is not None else ()
    return LabFacts(machine, hosts, probes, answers)

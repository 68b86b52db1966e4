"""Preflight's rules: pure functions of the lab's plan (lab/plan.py) and the gathered facts
(lab/preflight/facts.py), one module per concern, each failing check naming what to install, run or set.
`run_checks` runs them in the order `make doctor` prints them: this machine's, then each lab host's, then each
existing machine's, then packageSources' proxy and mirrors (asked by `make doctor` only).

A new rule: a function in the module of its concern (or a new module here) returning a Check, added below;
the fact it reads goes into facts.py and the probe that gathers it into lab/preflight/probes/.
"""
from __future__ import annotations

from lab.plan import LabPlan
from lab.preflight.check import Check, HostScope
from lab.preflight.facts import HostFacts, LabFacts, MachineFacts
from lab.preflight.hosts import is_local
from lab.preflight.rules import (
    bridges,
    capacity,
    existing,
    libvirt,
    networks,
    package_sources,
    pool_access,
    storage_pool,
    tools,
    virtualization,
)


def run_checks(lab: LabPlan, facts: LabFacts) -> list[Check]:
    if lab.cloud is not None:
        return [Check("existing cloud", True, f"cloud.authUrl {lab.cloud.auth_url}: no libvirt host needed")]
    checks = machine_checks(lab, facts.machine)
    for index, host_facts in enumerate(facts.hosts):
        checks += host_checks(lab, index, host_facts)
    checks += existing.existing_ssh(lab, facts.existing_ssh)
    # Fatal when the nodes download through this machine (the first host here), else warnings.
    return checks + package_sources.package_sources(lab.prep.package_sources, facts.package_sources,
                                                    fatal=is_local(lab.hosts[0].uri))


def machine_checks(lab: LabPlan, facts: MachineFacts) -> list[Check]:
    """This machine's tools; when the first host is this machine, also its KVM, kernel and networks."""
    first = lab.hosts[0]
    checks = [tools.mkisofs(facts)]
    if not is_local(first.uri):
        return checks
    checks += [tools.qemu_img(facts), tools.dnsmasq(facts), virtualization.hypervisor(lab, facts)]
    checks += pool_access.pool_access(first, facts)
    checks += networks.cidrs_free(lab, facts)
    checks.append(networks.bridged_traffic(facts))
    return checks


def host_checks(lab: LabPlan, index: int, facts: HostFacts) -> list[Check]:
    """One lab host over its libvirt URI: reachable, its pool, its bridges (bridge mode), memory and disk for
    the nodes placed on it."""
    scope = HostScope.of(lab, index)
    checks = [libvirt.libvirt(scope, facts)]
    if not libvirt.judged(scope, facts):
        return checks
    found: list[Check | None] = [storage_pool.storage_pool(scope, facts)]
    found += bridges.bridges(lab, scope, facts)
    found += [capacity.memory(lab, scope, facts), capacity.disk(lab, scope, facts)]
    return checks + [check for check in found if check is not None]

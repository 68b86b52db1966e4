"""Preflight's rules: pure functions of the config and the gathered facts (lab/preflight/facts.py), one
module per concern, each failing check naming what to install, run or set. `run_checks` runs them in the
order `make doctor` prints them: this machine's, then each lab host's, then each existing machine's.

A new rule: a function in the module of its concern (or a new module here) returning a Check, added below;
the fact it reads goes into facts.py and the probe that gathers it into lab/preflight/probes/.
"""
from __future__ import annotations

from lab.config import LabConfig
from lab.preflight.check import Check, HostScope
from lab.preflight.facts import HostFacts, LabFacts, MachineFacts
from lab.preflight.hosts import is_local
from lab.preflight.rules import (
    bridges,
    capacity,
    existing,
    libvirt,
    networks,
    pool_access,
    storage_pool,
    tools,
    virtualization,
)


def run_checks(cfg: LabConfig, facts: LabFacts) -> list[Check]:
    if cfg.cloud is not None:
        return [Check("existing cloud", True, f"cloud.authUrl {cfg.cloud.auth_url}: no libvirt host needed")]
    checks = machine_checks(cfg, facts.machine)
    for index, host_facts in enumerate(facts.hosts):
        checks += host_checks(cfg, index, host_facts)
    return checks + existing.existing_ssh(cfg, facts.existing_ssh)


def machine_checks(cfg: LabConfig, facts: MachineFacts) -> list[Check]:
    """This machine's tools; when the first host is this machine, also its KVM, kernel and networks."""
    first = cfg.lab_hosts[0]
    checks = [tools.mkisofs(facts)]
    if not is_local(first.uri):
        return checks
    checks += [tools.qemu_img(facts), tools.dnsmasq(facts), virtualization.hypervisor(cfg, facts)]
    checks += pool_access.pool_access(first, facts)
    checks += networks.cidrs_free(cfg, facts)
    checks.append(networks.bridged_traffic(facts))
    return checks


def host_checks(cfg: LabConfig, index: int, facts: HostFacts) -> list[Check]:
    """One lab host over its libvirt URI: reachable, its pool, its bridges (bridge mode), memory and disk for
    the nodes placed on it."""
    scope = HostScope.of(cfg, index)
    checks = [libvirt.libvirt(scope, facts)]
    if not libvirt.judged(scope, facts):
        return checks
    found: list[Check | None] = [storage_pool.storage_pool(scope, facts)]
    found += bridges.bridges(cfg, scope, facts)
    found += [capacity.memory(cfg, scope, facts), capacity.disk(cfg, scope, facts)]
    return checks + [check for check in found if check is not None]

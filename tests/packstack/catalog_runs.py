"""The catalogs of the tier's dry-runs (issue 17 item 3): every manifest Packstack would apply, per node and role,
compiled once per session from the run that `packstack_runs` made (catalog.py does the compiling).

A run's nodes (names, MACs, sizes: the facts) come from the lab's plan of the same answer set (answer_sets.py),
so the compile sees the nodes the dry-run's stand-ins described. Manifests of hosts Packstack does not apply
(EXCLUDE_SERVERS, role "excluded") are skipped: they cannot compile (no address of their own among the run's
hosts) and Packstack never applies them (puppet_950.py applies only filtered_hosts).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from answer_sets import ANSWER_SETS
from catalog import Catalog, Chroot, Compiled, CompileWorkspace, node_specs
from dryrun import PackstackRun
from lab.plan import plan

CATALOG_RUNS_KEY = pytest.StashKey["CompiledRuns"]()

# The roles whose manifests Packstack writes for a host of each role (templates/*.pp, puppet_950.py).
MANIFESTS_OF_ROLE = {"controller": ("controller", "controller_post"), "network": ("network",),
                     "compute": ("compute",)}


def split_hosts(value: str) -> list[str]:
    return [h.strip() for h in value.split(",") if h.strip()]


@dataclass
class CompiledRun:
    """One dry-run's catalogs: `results[(host, role)]`; `skipped[(host, role)]` says why a manifest was not."""

    run: PackstackRun
    workspace: CompileWorkspace
    results: dict[tuple[str, str], Compiled] = field(default_factory=dict)
    skipped: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def controller(self) -> str:
        return self.run.answers["CONFIG_CONTROLLER_HOST"]

    @property
    def computes(self) -> list[str]:
        return split_hosts(self.run.answers["CONFIG_COMPUTE_HOSTS"])

    @property
    def network_hosts(self) -> list[str]:
        return split_hosts(self.run.answers["CONFIG_NETWORK_HOSTS"])

    @property
    def applied_computes(self) -> list[str]:
        return [h for h in self.computes if h in self.run.applied_hosts]

    def failure(self, compiled: Compiled) -> str:
        """A failed compile for an assertion message: its first errors, passwords masked."""
        return self.run.redact(f"set {self.run.name}: {compiled.host} {compiled.role} did not compile (rc "
                               f"{compiled.rc}): " + " | ".join(compiled.errors[:3]))

    def catalog(self, host: str, role: str) -> Catalog:
        compiled = self.results.get((host, role))
        assert compiled is not None, f"set {self.run.name}: no manifest {host}_{role}.pp was compiled " \
                                     f"(skipped: {self.skipped.get((host, role), 'not written by Packstack')})"
        assert compiled.ok, self.failure(compiled)
        return compiled.catalog

    def catalogs(self, role: str) -> dict[str, Catalog]:
        """host -> catalog of every compiled manifest of `role`."""
        return {host: self.catalog(host, r) for host, r in self.results if r == role}


class CompiledRuns:
    """Answer set name -> its CompiledRun, compiled on first use and kept for the session."""

    def summary_lines(self) -> list[str]:
        """The measured figures for the terminal summary (not asserted: tests do not time)."""
        info = self.chroot.info
        how = "built" if self.chroot.built else "cached"
        lines = [f"chroot {how} in {self.chroot.seconds:.1f} s ({self.chroot.path.name}; cold build: debootstrap "
                 f"{info.get('base_seconds', '?')} s + packages {info.get('packages_seconds', '?')} s = "
                 f"{info.get('total_seconds', '?')} s; Puppet {info.get('puppet', '?')})"]
        for name, compiled in self.done.items():
            total = sum(c.seconds for c in compiled.results.values())
            lines.append(f"{name}: {len(compiled.results)} catalogs in {total:.1f} s"
                         + (f", {len(compiled.skipped)} skipped (excluded)" if compiled.skipped else ""))
            for (host, role), c in sorted(compiled.results.items()):
                size = f"{len(c.catalog.resources)} resources" if c.ok else f"failed (rc {c.rc})"
                lines.append(f"  {host:15} {role:16} {c.seconds:5.1f} s  {size}")
        return lines

    def __init__(self, runs, chroot: Chroot, base: Path) -> None:
        self._runs, self.chroot, self._base = runs, chroot, base
        self.done: dict[str, CompiledRun] = {}

    def __getitem__(self, name: str) -> CompiledRun:
        if name not in self.done:
            self.done[name] = self._compile(name)
        return self.done[name]

    def _compile(self, name: str) -> CompiledRun:
        run = self._runs[name]
        if not run.ok:
            pytest.fail(f"set {name}: no catalog without a finished dry-run: {run.summary()}", pytrace=False)
        nodes = node_specs(plan(ANSWER_SETS[name].configs()[-1]))
        unknown = set(run.hosts) - set(nodes)
        assert not unknown, f"set {name}: hosts {sorted(unknown)} of the answers are not nodes of the lab's plan"
        compiled = CompiledRun(run, CompileWorkspace(self.chroot, run.run_dir, nodes, self._base / name))
        wanted, compiled.skipped = manifests_to_compile(run)
        for host, role in wanted:
            compiled.results[(host, role)] = compiled.workspace.compile(host, role)
        return compiled


def manifests_to_compile(run: PackstackRun) -> tuple[list[tuple[str, str]], dict[tuple[str, str], str]]:
    """(host, role) of every manifest the run wrote for a host Packstack applies, and the skipped ones with why."""
    wanted, skipped = [], {}
    for manifest in sorted(run.manifests.glob("*.pp")):
        host, role = manifest.stem.split("_", 1)
        if host in run.applied_hosts:
            wanted.append((host, role))
        else:
            skipped[(host, role)] = "EXCLUDE_SERVERS: Packstack writes it but never applies it"
    return wanted, skipped

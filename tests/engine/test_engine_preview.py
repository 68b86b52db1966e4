"""Engine tier, part 2: `pulumi preview --json` of the real program with the built CLI, language host and
resource plugins, for a fresh stack on a local file backend.

The libvirt provider connects to libvirt when it is configured (also during a preview), so the tier starts a
private libvirtd (own mount + network namespace, unix socket in a temp dir) and points `libvirtUri` at its
in-memory test driver (`test+unix:///default?socket=...`). Nothing is created: only previews run here.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Iterator

import pytest

from enginesupport import (PrivateLibvirtd, Pulumi, copy_program, make_qcow2, plugins_problem, require,
                           toolchain_problem, venv_problem)

NS = "openstack-lab"
STACK = "enginetest"


@pytest.fixture(scope="module")
def libvirtd() -> Iterator[PrivateLibvirtd]:
    problem = PrivateLibvirtd.problem()
    require(problem is None, problem or "")
    daemon = PrivateLibvirtd()
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture(scope="module")
def lab(tmp_path_factory, libvirtd):
    for problem in (toolchain_problem(), plugins_problem(), venv_problem()):
        require(problem is None, problem or "")
    base = tmp_path_factory.mktemp("engine-preview")
    proj = copy_program(base / "proj")
    pulumi = Pulumi(proj, base / "state")
    pulumi.run("stack", "init", STACK)
    pulumi.config_set(f"{NS}:hypervisor", "qemu")
    pulumi.config_set(f"{NS}:libvirtUri", libvirtd.uri())
    pulumi.config_set(f"{NS}:baseImage", str(make_qcow2(base / "base.qcow2")))
    pulumi.config_set(f"{NS}:computeCount", "2")
    return pulumi


@contextmanager
def overridden(pulumi: Pulumi, **values: str) -> Iterator[None]:
    """Temporarily change plain config keys of the stack."""
    before = json.loads(pulumi.run("config", "--json").stdout)
    for key, value in values.items():
        pulumi.config_set(f"{NS}:{key}", value)
    try:
        yield
    finally:
        for key in values:
            old = before.get(f"{NS}:{key}")
            if old is None:
                pulumi.run("config", "rm", f"{NS}:{key}")
            else:
                pulumi.config_set(f"{NS}:{key}", str(old["value"]))


def steps(preview: dict) -> dict[str, dict]:
    """URN -> step."""
    return {s["urn"]: s for s in preview["steps"]}


def short(urn: str) -> tuple[str, str]:
    """(type without parents, name) of a URN."""
    parts = urn.split("::")
    return parts[2].split("$")[-1], parts[-1]


def names_of(preview: dict, rtype: str) -> set[str]:
    return {short(u)[1] for u in steps(preview) if short(u)[0] == rtype}


@pytest.fixture(scope="module")
def fresh(lab) -> dict:
    return lab.preview_json()


def test_fresh_stack_plans_only_creates(fresh):
    ops = {s["op"] for s in fresh["steps"]}
    assert ops == {"create"}, ops
    assert fresh["changeSummary"] == {"create": len(fresh["steps"])}
    assert not [d for d in fresh.get("diagnostics", []) if d.get("severity") == "error"]


def test_nodes_declared(fresh):
    nodes = ["controller", "compute1", "compute2"]
    assert names_of(fresh, "openstack-lab:lab:LabNode") == set(nodes)
    assert names_of(fresh, "libvirt:index/domain:Domain") == {f"{n}-domain" for n in nodes}
    assert names_of(fresh, "libvirt:index/cloudInitDisk:CloudInitDisk") == {f"{n}-cloud-init" for n in nodes}
    assert {f"{n}-disk" for n in nodes} <= names_of(fresh, "libvirt:index/volume:Volume")
    assert len(names_of(fresh, "libvirt:index/network:Network")) == 2
    domains = {short(u)[1]: s["newState"]["inputs"] for u, s in steps(fresh).items()
               if short(u)[0] == "libvirt:index/domain:Domain"}
    # hypervisor=qemu reaches the provider (checked by the provider: defaults filled in).
    assert {d["type"] for d in domains.values()} == {"qemu"}
    assert all(d["running"] for d in domains.values())
    assert all(len(d["networkInterfaces"]) == 2 for d in domains.values())


def test_libvirt_provider_uses_configured_uri(fresh, libvirtd):
    providers = [s["newState"]["inputs"] for u, s in steps(fresh).items() if short(u)[0] == "pulumi:providers:libvirt"]
    assert providers and all(p.get("uri") == libvirtd.uri() for p in providers), providers


def test_prep_packstack_and_networking_declared(fresh):
    assert names_of(fresh, "openstack-lab:lab:HostPrep") == {"controller-prep", "compute1-prep", "compute2-prep"}
    commands = names_of(fresh, "command:remote:Command")
    for node in ("controller", "compute1", "compute2"):
        assert any(c.startswith(f"{node}-prep-") for c in commands), (node, commands)
    assert names_of(fresh, "openstack-lab:lab:Packstack") == {"packstack"}
    assert any(c.startswith("packstack-") for c in commands), commands
    assert names_of(fresh, "openstack-lab:lab:OpenStackNetworking") == {"networking"}
    assert len(names_of(fresh, "openstack:networking/network:Network")) == 2
    assert len(names_of(fresh, "openstack:networking/subnet:Subnet")) == 2
    assert len(names_of(fresh, "openstack:networking/router:Router")) == 1
    assert len(names_of(fresh, "openstack:networking/routerInterface:RouterInterface")) == 1


def test_stop_after_nodes_declares_no_later_stage(lab):
    with overridden(lab, stopAfter="nodes"):
        preview = lab.preview_json()
    types = {short(u)[0] for u in steps(preview)}
    assert "libvirt:index/domain:Domain" in types
    assert not {t for t in types if t.startswith(("command:", "openstack:"))}, types
    assert "openstack-lab:lab:Packstack" not in types


def test_compute_count_change_adds_one_node(lab, fresh):
    with overridden(lab, computeCount="3"):
        more = lab.preview_json()
    before, after = steps(fresh), steps(more)
    added = {short(u) for u in after.keys() - before.keys()}
    assert not before.keys() - after.keys(), "raising computeCount must not drop resources"
    added_names = {name for _, name in added}
    assert {"compute3", "compute3-domain", "compute3-disk", "compute3-cloud-init", "compute3-prep"} <= added_names
    # Everything new belongs to compute3.
    assert all(name.startswith("compute3") for name in added_names), added_names
    # The answer file lists the new compute host; nothing of the existing nodes' machines changes.
    changed = {short(u)[1] for u in before.keys() & after.keys()
               if before[u]["newState"].get("inputs") != after[u]["newState"].get("inputs")}
    assert not {n for n in changed if n.endswith(("-domain", "-disk"))}, changed
    answers = [u for u in after if short(u)[1] == "packstack-answers"]
    assert answers and "packstack-answers" in changed, changed

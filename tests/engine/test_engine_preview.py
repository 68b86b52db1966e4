"""Engine tier, part 2: `pulumi preview --json` of the real program with the built CLI, language host and
resource plugins, for a fresh stack on a local file backend.

The libvirt provider connects to libvirt when it is configured (also during a preview), so the tier starts a
private libvirtd (own mount + network namespace, unix socket in a temp dir) and points `libvirtUri` at its
in-memory test driver (`test+unix:///default?socket=...`). Nothing is created: only previews run here.
"""
from __future__ import annotations

import pytest

from support.libvirtd import PrivateLibvirtd, make_qcow2, require_host
from support.program import copy_program
from support.pulumi import Stack, Workspace, json_docs, require_toolchain, urn_name, urn_type

STACK = "enginetest"


@pytest.fixture(scope="module")
def libvirtd():
    require_host()
    with PrivateLibvirtd(prefix="osl-engine") as daemon:
        yield daemon


@pytest.fixture(scope="module")
def lab(tmp_path_factory, libvirtd) -> Stack:
    require_toolchain()
    base = tmp_path_factory.mktemp("engine-preview")
    stack = Workspace(copy_program(base / "proj"), base / "state").create_stack(STACK)
    stack.set_config({"hypervisor": "qemu", "libvirtUri": libvirtd.uri("test"),
                      "baseImage": str(make_qcow2(base / "base.qcow2")), "computeCount": 2})
    return stack


def steps(preview: dict) -> dict[str, dict]:
    """URN -> step."""
    return {s["urn"]: s for s in preview["steps"]}


def names_of(preview: dict, rtype: str) -> set[str]:
    return {urn_name(u) for u in steps(preview) if urn_type(u) == rtype}


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
    domains = {urn_name(u): s["newState"]["inputs"] for u, s in steps(fresh).items()
               if urn_type(u) == "libvirt:index/domain:Domain"}
    # hypervisor=qemu reaches the provider (checked by the provider: defaults filled in).
    assert {d["type"] for d in domains.values()} == {"qemu"}
    assert all(d["running"] for d in domains.values())
    assert all(len(d["networkInterfaces"]) == 2 for d in domains.values())


def test_libvirt_provider_uses_configured_uri(fresh, libvirtd):
    providers = [s["newState"]["inputs"] for u, s in steps(fresh).items() if urn_type(u) == "pulumi:providers:libvirt"]
    assert providers and all(p.get("uri") == libvirtd.uri("test") for p in providers), providers


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
    with lab.config_changed({"stopAfter": "nodes"}):
        preview = lab.preview_json()
    types = {urn_type(u) for u in steps(preview)}
    assert "libvirt:index/domain:Domain" in types
    assert not {t for t in types if t.startswith(("command:", "openstack:"))}, types
    assert "openstack-lab:lab:Packstack" not in types


def test_compute_count_change_adds_one_node(lab, fresh):
    with lab.config_changed({"computeCount": 3}):
        more = lab.preview_json()
    before, after = steps(fresh), steps(more)
    assert not before.keys() - after.keys(), "raising computeCount must not drop resources"
    added_names = {urn_name(u) for u in after.keys() - before.keys()}
    assert {"compute3", "compute3-domain", "compute3-disk", "compute3-cloud-init", "compute3-prep"} <= added_names
    # Everything new belongs to compute3 (its machine, its prep, its br-ex check of the packstack stage).
    assert all("compute3" in name for name in added_names), added_names
    # The answer file lists the new compute host; nothing of the existing nodes' machines changes.
    changed = {urn_name(u) for u in before.keys() & after.keys()
               if before[u]["newState"].get("inputs") != after[u]["newState"].get("inputs")}
    assert not {n for n in changed if n.endswith(("-domain", "-disk"))}, changed
    answers = [u for u in after if urn_name(u) == "packstack-answers"]
    assert answers and "packstack-answers" in changed, changed


def test_answers_packstack_refuses_stop_preview_before_any_resource(lab):
    """Packstack's own validators at preview (issue 17 item 1): every refused answer is one error diagnostic
    with Packstack's message, the key and the fix, and the program declares nothing."""
    answers = {"CONFIG_NOVA_MANAGE_FLAVORS": "yes", "CONFIG_REDIS_PORT": "70000", "CONFIG_SERVICE_WORKERS": "two"}
    with lab.config_changed({"packstackAnswers": answers}):
        proc = lab.preview("--json", check=False)
    assert proc.returncode != 0
    doc = next(d for d in json_docs(proc.stdout) if "diagnostics" in d or "steps" in d)
    errors = "\n".join(d.get("message", "") for d in doc.get("diagnostics", []) if d.get("severity") == "error")
    assert ("openstack-lab:packstackAnswers.CONFIG_NOVA_MANAGE_FLAVORS: Packstack refuses it: Given value is not member"
            " of allowed values ['y', 'n']: yes; use one of: y, n") in errors
    assert ("openstack-lab:packstackAnswers.CONFIG_REDIS_PORT: Packstack refuses it: Given value is outside the range"
            " of (0, 65535): 70000; use a port number from 0 to 65534") in errors
    assert "openstack-lab:packstackAnswers.CONFIG_SERVICE_WORKERS: 'two' is no number of workers" in errors
    assert "3 problem(s) with the configuration" in errors
    assert not [s for s in doc.get("steps", []) if urn_type(s["urn"]) != "pulumi:pulumi:Stack"], doc.get("steps")

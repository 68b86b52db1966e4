"""Engine tier, part 3: a real `pulumi up` of the program's first stage (stopAfter=nodes) on a private libvirtd
(qemu driver, TCG, own network namespace, own dir pool in a temp dir; guests boot an empty disk), then:
a no-change preview is clean, raising computeCount 2 -> 3 previews as creates of compute3's resources only,
and `destroy` removes every domain, network, volume and the pool.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from support.libvirtd import PrivateLibvirtd, nodes_stage_config, require_host
from support.program import copy_program, overlay_env
from support.pulumi import Workspace, require_toolchain

NODES = ("controller", "compute1", "compute2")


@pytest.fixture(scope="module")
def deployed():
    require_host()
    require_toolchain()
    # libvirt/QEMU must reach the pool and image: a world-traversable temp dir.
    base = Path(tempfile.mkdtemp(prefix="osl-engine-nodes-", dir="/tmp"))
    os.chmod(base, 0o755)
    stack = None
    try:
        with PrivateLibvirtd(prefix="osl-engine") as daemon:
            stack = Workspace(copy_program(base / "proj"), base / "state",
                              env=overlay_env("debian-test")).create_stack("enginenodes")
            stack.set_config(nodes_stage_config(daemon, base, computes=2))
            stack.up(timeout=1200)
            yield stack, daemon
            stack.destroy(check=False, timeout=1200)  # nothing left when test_destroy ran
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_up_created_the_nodes(deployed):
    _, daemon = deployed
    running = daemon.virsh("list", "--name").split()
    assert sorted(running) == sorted(f"openstack-lab-enginenodes-{n}" for n in NODES)
    assert len(daemon.virsh("net-list", "--name").split()) == 2


def test_no_change_preview_is_clean(deployed):
    stack, _ = deployed
    stack.preview("--expect-no-changes")


def test_compute_count_3_creates_only_compute3(deployed):
    stack, _ = deployed
    with stack.config_changed({"computeCount": 3}):
        preview = stack.preview_json()
    changes = {(s["op"], s["urn"].split("::")[-1]) for s in preview["steps"] if s["op"] != "same"}
    creates = {name for op, name in changes if op == "create"}
    assert {"compute3", "compute3-domain", "compute3-disk", "compute3-cloud-init"} <= creates, changes
    assert all(name.startswith("compute3") for name in creates), changes
    others = {(op, name) for op, name in changes if op != "create"}
    # Existing machines are neither replaced nor deleted by adding a compute node.
    assert not {(op, name) for op, name in others if op in ("delete", "replace", "create-replacement",
                                                            "delete-replaced")}, others
    assert preview["changeSummary"].get("create", 0) == len(creates)


def test_destroy_removes_everything(deployed):
    stack, daemon = deployed
    stack.destroy(timeout=1200)
    for kind in ("list", "net-list", "pool-list"):
        assert daemon.names(kind) == [], kind

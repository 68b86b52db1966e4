"""Engine tier, part 3: a real `pulumi up` of the program's first stage (stopAfter=nodes) on a private libvirtd
(qemu driver, TCG, own network namespace, own dir pool in a temp dir; guests boot an empty disk), then:
the engine's event log of that up (`--event-log`, as `make up` writes it) gives stage nodes its resources and time
(tools/stage_times.py), a no-change preview is clean, raising computeCount 2 -> 3 previews as creates of compute3's
resources only, and `destroy` removes every domain, network, volume and the pool.
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
from tools.stage_times import read_events, up_times

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
            # PULUMI_DEBUG_COMMANDS: the CLI offers --event-log only with it (as the Makefile's up sets it).
            stack = Workspace(copy_program(base / "proj"), base / "state",
                              env={**overlay_env("debian-test"), "PULUMI_DEBUG_COMMANDS": "true"}
                              ).create_stack("enginenodes")
            stack.set_config(nodes_stage_config(daemon, base, computes=2))
            events = base / "up-events.jsonl"
            stack.up("--event-log", str(events), timeout=1200)
            yield stack, daemon, read_events(events)
            stack.destroy(check=False, timeout=1200)  # nothing left when test_destroy ran
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_up_created_the_nodes(deployed):
    _, daemon, _ = deployed
    running = daemon.virsh("list", "--name").split()
    assert sorted(running) == sorted(f"openstack-lab-enginenodes-{n}" for n in NODES)
    assert len(daemon.virsh("net-list", "--name").split()) == 2


def test_event_log_of_the_up_times_stage_nodes(deployed):
    _, _, events = deployed
    assert any("resourcePreEvent" in e for e in events), f"no resource event among {len(events)} logged"
    times = up_times(events)
    assert times.result == "succeeded"
    stages = {s.stage: s for s in times.stages}
    assert set(stages) == {"nodes"}, times  # stopAfter nodes: nothing else, nothing unattributed ("other")
    nodes = stages["nodes"]
    # Per node a host key, disk, cloud-init disk and domain; the networks, pool, base volume, libvirt provider.
    assert nodes.resources >= 4 * len(NODES) + 4 and nodes.changed == nodes.resources, nodes
    assert nodes.failed == 0 and nodes.unfinished == 0, nodes


def test_no_change_preview_is_clean(deployed):
    stack, _, _ = deployed
    stack.preview("--expect-no-changes")


def test_compute_count_3_creates_only_compute3(deployed):
    stack, _, _ = deployed
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
    stack, daemon, _ = deployed
    stack.destroy(timeout=1200)
    for kind in ("list", "net-list", "pool-list"):
        assert daemon.names(kind) == [], kind

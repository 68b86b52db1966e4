"""Engine tier, part 3: a real `pulumi up` of the program's first stage (stopAfter=nodes) on a private libvirtd
(qemu driver, TCG, own network namespace, own dir pool in a temp dir; guests boot an empty disk), then:
a no-change preview is clean, raising computeCount 2 -> 3 previews as creates of compute3's resources only,
and `destroy` removes every domain, network, volume and the pool.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from enginesupport import (PrivateLibvirtd, Pulumi, copy_program, make_qcow2, plugins_problem, require,
                           toolchain_problem, venv_problem)

NS = "openstack-lab"


def virsh(daemon: PrivateLibvirtd, *args: str) -> str:
    proc = subprocess.run(["virsh", "-c", daemon.uri("qemu", "/system"), *args], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def deployed():
    problem = PrivateLibvirtd.problem()
    require(problem is None, problem or "")
    for problem in (toolchain_problem(), plugins_problem(), venv_problem()):
        require(problem is None, problem or "")
    require(os.path.exists("/usr/bin/qemu-system-x86_64"), "qemu-system-x86_64 missing (apt-get install qemu-system-x86)")
    daemon = PrivateLibvirtd()
    daemon.start()
    # libvirt/QEMU must reach the pool and image: a world-traversable temp dir.
    base = Path(tempfile.mkdtemp(prefix="osl-engine-nodes-", dir="/tmp"))
    os.chmod(base, 0o755)
    pulumi = None
    try:
        proj = copy_program(base / "proj")
        pulumi = Pulumi(proj, base / "state")
        pulumi.run("stack", "init", "enginenodes")
        image = make_qcow2(base / "base.qcow2")
        os.chmod(image, 0o644)
        (base / "pool").mkdir(mode=0o755)
        for key, value in {"hypervisor": "qemu", "libvirtUri": daemon.uri("qemu", "/system"),
                           "baseImage": str(image), "computeCount": "2", "stopAfter": "nodes",
                           "prepProfile": "debian-test", "storagePoolPath": str(base / "pool")}.items():
            pulumi.config_set(f"{NS}:{key}", value)
        for role in ("controller", "compute"):
            for key, value in {"vcpus": "1", "memoryMiB": "512", "diskGiB": "2"}.items():
                pulumi.config_set(f"{NS}:{role}.{key}", value, path=True)
        pulumi.run("up", "--yes", "--skip-preview", timeout=1200)
        yield pulumi, daemon
    finally:
        if pulumi is not None:
            pulumi.run("destroy", "--yes", "--skip-preview", check=False, timeout=1200)
        daemon.stop()
        subprocess.run(["rm", "-rf", str(base)], check=False)


def test_up_created_the_nodes(deployed):
    pulumi, daemon = deployed
    running = virsh(daemon, "list", "--name").split()
    assert sorted(running) == sorted(f"openstack-lab-enginenodes-{n}" for n in ("controller", "compute1", "compute2"))
    assert len(virsh(daemon, "net-list", "--name").split()) == 2


def test_no_change_preview_is_clean(deployed):
    pulumi, _ = deployed
    pulumi.run("preview", "--expect-no-changes")


def test_compute_count_3_creates_only_compute3(deployed):
    pulumi, _ = deployed
    pulumi.config_set(f"{NS}:computeCount", "3")
    try:
        preview = pulumi.preview_json()
    finally:
        pulumi.config_set(f"{NS}:computeCount", "2")
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
    pulumi, daemon = deployed
    pulumi.run("destroy", "--yes", "--skip-preview", timeout=1200)
    assert virsh(daemon, "list", "--all", "--name").split() == []
    assert virsh(daemon, "net-list", "--all", "--name").split() == []
    assert virsh(daemon, "pool-list", "--all", "--name").split() == []

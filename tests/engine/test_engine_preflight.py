"""Engine tier: the per-host preflight's probes for real (lab/preflight/probes/), against a private libvirtd
(its own network namespace, a bridge and a dummy NIC made there, a dir pool in a temp dir) and against a
qemu+ssh:// URI on loopback where nothing answers. No Pulumi run: only `virsh -c URI` as the program runs it.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from lab.config import parse, read_overlay
from lab.preflight import gate, probes
from lab.preflight.check import fatal_problems
from lab.preflight.facts import HostFacts
from lab.preflight.probes import command
from lab.plan import plan
from lab.preflight.probes.host import gather_host
from lab.preflight.rules import run_checks
from support.libvirtd import PrivateLibvirtd, require_host
from support.program import overlay_env

BRIDGE, NOT_A_BRIDGE, POOL = "labbr0", "labnic0", "labpool"
# Loopback port 1: refused at once; no packet leaves this machine.
UNREACHABLE = "qemu+ssh://root@127.0.0.1:1/system"
# Small nodes: the memory check must pass on a loaded test machine.
SMALL = {"vcpus": 1, "memoryMiB": 512, "diskGiB": 2}


@pytest.fixture(scope="module")
def daemon():
    require_host()
    base = Path(tempfile.mkdtemp(prefix="osl-engine-preflight-", dir="/tmp"))
    os.chmod(base, 0o755)
    with PrivateLibvirtd(prefix="osl-engine") as lv:
        for argv in (["ip", "link", "add", BRIDGE, "type", "bridge"],
                     ["ip", "link", "add", NOT_A_BRIDGE, "type", "veth", "peer", "name", f"{NOT_A_BRIDGE}p"]):
            subprocess.run(lv.ns(argv), check=True, capture_output=True, timeout=30)
        (base / "pool").mkdir()
        lv.virsh("pool-define-as", POOL, "dir", "--target", str(base / "pool"))
        lv.virsh("pool-start", POOL)
        yield lv
    subprocess.run(["rm", "-rf", str(base)], timeout=60)


def config(**raw):
    # The Debian test profile's overlay allows the small nodes.
    return parse(raw, "openstack-lab", "enginepf", frozenset(), path_exists=lambda p: True,
                 overlay=read_overlay(overlay_env("debian-test")))


def two_hosts(a: str, b: str, bridges=(BRIDGE, NOT_A_BRIDGE)):
    return config(hosts=[{"name": "a", "uri": a, "computes": 0, "storagePool": POOL},
                         {"name": "b", "uri": b, "computes": 1, "storagePoolPath": "/srv/osl-nowhere"}],
                  network={"mode": "bridge", "managementBridge": bridges[0], "externalBridge": bridges[1],
                           "managementGateway": "10.40.0.1"},
                  managementCidr="10.40.0.0/24", externalCidr="10.41.0.0/24", externalGateway="10.41.0.1",
                  hypervisor="qemu", stopAfter="nodes", controller=SMALL, compute=SMALL)


def test_a_host_over_its_uri(daemon):
    got = gather_host(plan(two_hosts(daemon.uri(), UNREACHABLE)), 0, virsh=True)
    assert got.reachable and got.error == ""
    assert (got.pool_exists, got.pool_active, got.disk_path) == (True, True, f"pool {POOL}")
    assert got.disk_free_bytes and got.disk_free_bytes > 0
    # The daemon's own namespace: its bridge, a veth that is not one; neither exists where this test runs.
    assert dict(got.bridges) == {BRIDGE: "bridge", NOT_A_BRIDGE: "ethernet"}
    assert not Path("/sys/class/net", BRIDGE).exists()
    assert got.mem_available_mib and got.mem_available_mib > 0
    missing = gather_host(plan(two_hosts(daemon.uri(), UNREACHABLE, ("nosuchbr0", BRIDGE))), 0, virsh=True)
    assert dict(missing.bridges) == {"nosuchbr0": "missing", BRIDGE: "bridge"}


def test_a_host_that_does_not_answer_is_one_bounded_problem_naming_it(daemon):
    cfg = two_hosts(daemon.uri(), UNREACHABLE)
    started = time.monotonic()
    lab = probes.gather(plan(cfg), existing=False)
    assert time.monotonic() - started < 2 * command.PROBE_TIMEOUT_S + 30
    assert lab.hosts[1].reachable is False and lab.hosts[1].error
    problems = {c.title: c.detail for c in fatal_problems(run_checks(plan(cfg), lab))}
    assert "hosts[1] (b) libvirt" in problems and f"hosts[1].uri {UNREACHABLE}" in problems["hosts[1] (b) libvirt"]
    assert "hosts[0] (a) bridge labnic0" in problems  # a veth, not a bridge
    assert not [t for t in problems if t.startswith("hosts[0] (a)") and t != "hosts[0] (a) bridge labnic0"], problems
    with pytest.raises(gate.HostNotReady) as err:
        gate.require_host_ready(cfg)
    assert any(p.startswith("hosts[1] (b) libvirt: cannot reach libvirtd at hosts[1].uri") for p in err.value.problems)


def test_the_test_driver_is_reached_and_not_sized(daemon):
    got = gather_host(plan(config(libvirtUri=daemon.uri("test"), hypervisor="qemu", stopAfter="nodes")), 0, virsh=True)
    assert got == HostFacts(reachable=True, test_driver=True)

"""Faults a lab user meets, on the private libvirtd of the tier (issue 10 items 1 and 6). Every stack here stops after
the nodes stage and boots an empty disk (no guest has to come up), so each costs seconds, not minutes.

- test_sigint_while_domains_are_created: Ctrl-C of `pulumi up` once a domain create is pending: Pulumi finishes the
  creates in flight, records them, releases the lock; the next `up` converges and libvirt holds exactly the state's
  objects (README "When things go wrong").
- test_sigkill_while_domains_are_created_then_recover: SIGKILL of `pulumi up` at the same point: the next `up` says
  the stack is locked; `tools/recover.py` (`make recover`) stops the orphaned plugins, removes the stale lock and the
  libvirt objects of interrupted creates, refreshes; then `up` converges to exactly the state's objects. The recovery
  time goes to the tier timings (not asserted).
- test_neighbours_whose_names_differ_in_case_and_punctuation: two stacks whose names differ only in case and
  punctuation come up side by side on one libvirtd without sharing a libvirt name, Linux bridge, MAC or CIDR; both
  destroy cleanly.

"Converges" is checked against libvirt (`_reconcile`): the stack's domains, networks, pools and volumes in libvirt are
exactly the names its state holds, each name once in the state, and the files of its pool dir are exactly its volumes.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
import xml.etree.ElementTree as ET
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from e2esupport import PROJECT, log, run
from support import ROOT, tail
from support.libvirtd import make_qcow2
from support.pulumi import PULUMI, clean_env

RECOVER = ROOT / "tools" / "recover.py"
LOCKED = "the stack is currently locked"
# Two nodes: two domain creates in flight at once.
FAULT_CONFIG = {"computeCount": 1, "stopAfter": "nodes", "controller": {"vcpus": 1, "memoryMiB": 512, "diskGiB": 2},
                "compute": {"vcpus": 1, "memoryMiB": 512, "diskGiB": 2}}
# Libvirt object kinds of the state: resource type -> kind.
KINDS = {"libvirt:index/domain:Domain": "domains", "libvirt:index/network:Network": "networks",
         "libvirt:index/pool:Pool": "pools", "libvirt:index/volume:Volume": "volumes",
         "libvirt:index/cloudInitDisk:CloudInitDisk": "volumes"}
DOMAIN = "libvirt:index/domain:Domain"
# Timeouts against hangs, not benchmarks.
WAIT = 600


@pytest.fixture(scope="module")
def empty_disk(base_dir):
    """A blank base image: the guests find nothing to boot (SeaBIOS idles), which is all the nodes stage needs."""
    path = make_qcow2(base_dir / "empty-base.qcow2")
    os.chmod(path, 0o644)
    return str(path)


def _name(tag: str) -> str:
    return f"e2e{tag}{secrets.token_hex(3)}"


def _fault_stack(stacks, tag: str, empty_disk: str):
    # No `boot`: the blank disk has no kernel (None drops the tier's direct-boot default).
    return stacks.create(_name(tag), {**FAULT_CONFIG, "baseImage": empty_disk, "boot": None})


# -- the state and libvirt -----------------------------------------------------------------------------
def _checkpoint_path(stack) -> Path:
    backend = Path(stack.workspace.env["PULUMI_BACKEND_URL"].removeprefix("file://"))
    return backend / ".pulumi" / "stacks" / PROJECT / f"{stack.name}.json"


def _checkpoint(stack) -> dict:
    """The latest deployment as the file backend holds it (what a killed run leaves, pending operations included)."""
    for _ in range(50):
        try:
            return json.loads(_checkpoint_path(stack).read_text())["checkpoint"].get("latest") or {}
        except (OSError, ValueError, KeyError):
            time.sleep(0.05)  # not yet written
    return {}


def _pending(deployment: dict) -> list[tuple[str, str, str]]:
    """(op, type, name input) of each pending operation."""
    return [(op.get("type"), op["resource"].get("type"), (op["resource"].get("inputs") or {}).get("name"))
            for op in deployment.get("pending_operations") or []]


def _locks(stack) -> list[Path]:
    backend = Path(stack.workspace.env["PULUMI_BACKEND_URL"].removeprefix("file://"))
    return sorted((backend / ".pulumi" / "locks").glob(f"*/{PROJECT}/{stack.name}/*.json"))


def _state_names(stack) -> dict[str, list[str]]:
    """Names of the stack's libvirt objects in its state, by kind (a list: duplicates show)."""
    names: dict[str, list[str]] = {kind: [] for kind in set(KINDS.values())}
    for res in stack.export()["deployment"].get("resources") or []:
        kind = KINDS.get(res["type"])
        if kind:
            names[kind].append((res.get("outputs") or {}).get("name") or (res.get("inputs") or {}).get("name"))
    return names


def _libvirt_names(lab, baseline: dict | None = None) -> dict[str, set[str]]:
    """Domains, networks and pools in libvirt that are not in `baseline` (what a test's stacks made), and every
    volume of those pools. (Not by name prefix: `openstack-lab-alice-lab-` is a prefix of the names of stack
    `Alice.Lab`, `openstack-lab-alice-lab-<tag>-...`.)"""
    baseline = baseline or {}
    found = {kind: set(lab.names(verb)) - baseline.get(kind, set())
             for kind, verb in (("domains", "list"), ("networks", "net-list"), ("pools", "pool-list"))}
    found["volumes"] = set()
    for pool in found["pools"]:
        found["volumes"] |= {line.split()[0] for line in lab.virsh("vol-list", pool).splitlines() if line.strip()}
    return found


def _volume_paths(lab, pools: set[str]) -> set[str]:
    paths = set()
    for pool in pools:
        paths |= {line.split()[-1] for line in lab.virsh("vol-list", pool).splitlines() if line.strip()}
    return paths


def _reconcile(lab, stack, baseline: dict, nodes: int) -> dict:
    """Asserts libvirt holds exactly the stack's state (no orphan, no duplicate): everything libvirt gained since
    `baseline` is the stack's; returns the counts."""
    state = _state_names(stack)
    dups = {kind: [n for n, c in Counter(names).items() if c > 1] for kind, names in state.items()}
    assert not any(dups.values()), f"a libvirt name held twice in the state: {dups}"
    have = _libvirt_names(lab, baseline)
    for kind, names in state.items():
        orphans, missing = have[kind] - set(names), set(names) - have[kind]
        assert not orphans, f"{kind} in libvirt that the state does not hold (orphans): {sorted(orphans)}"
        assert not missing, f"{kind} of the state that libvirt does not have: {sorted(missing)}"
    assert len(state["domains"]) == nodes and len(state["networks"]) == 2 and len(state["pools"]) == 1, state
    # base volume + root disk and cloud-init disk per node
    assert len(state["volumes"]) == 1 + 2 * nodes, state["volumes"]
    files, volumes = {str(p) for p in stack.pool_path.iterdir()}, _volume_paths(lab, have["pools"])
    assert files == volumes, f"the pool dir's files are not exactly its volumes: extra {sorted(files - volumes)}"
    assert not stack.export()["deployment"].get("pending_operations")
    assert not _locks(stack)
    return {kind: len(names) for kind, names in state.items()}


def _assert_gone(lab, stack, baseline: dict) -> None:
    left = {kind: sorted(names) for kind, names in _libvirt_names(lab, baseline).items() if names}
    assert not left, f"left in libvirt after destroy: {left}"
    assert not stack.pool_path.exists(), f"pool dir left: {stack.pool_path}"


# -- an up that is interrupted ---------------------------------------------------------------------------
def _start_up(stack, lab, log_file: Path) -> subprocess.Popen:
    """`pulumi up` as the harness runs it (netns, clean environment), in the background. `ip netns exec` execs the
    CLI, so the returned pid is pulumi's own; its plugins run in process groups of their own, as for a user."""
    argv = lab.ns([str(PULUMI), "--non-interactive", "--color", "never", "up", "--yes", "--skip-preview",
                   "--stack", stack.name])
    out = log_file.open("w")
    proc = subprocess.Popen(argv, cwd=stack.workspace.work_dir, env=clean_env(stack.workspace.env), stdout=out,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, text=True)
    out.close()
    return proc


def _wait_domain_create(stack, proc: subprocess.Popen, log_file: Path) -> list[tuple[str, str, str]]:
    """Polls the checkpoint until a domain create is pending: the moment to interrupt."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"`up` ended (exit {proc.returncode}) before a domain was being created:\n"
                        f"{tail(log_file.read_text())}", pytrace=False)
        if _checkpoint_path(stack).exists():
            pending = _pending(_checkpoint(stack))
            if any(op == "creating" and rtype == DOMAIN for op, rtype, _ in pending):
                return pending
        time.sleep(0.1)
    pytest.fail(f"no domain create pending after {WAIT} s:\n{tail(log_file.read_text())}", pytrace=False)


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _recover(stack, lab) -> subprocess.CompletedProcess:
    """`make recover STACK=<stack>` for this stack: tools/recover.py on its program copy, inside the netns (its pulumi
    and virsh see what the harness's commands see), with the workspace's backend and passphrase."""
    argv = lab.ns(["python3", str(RECOVER), "--stack", stack.name, "--cwd", str(stack.workspace.work_dir)])
    proc = subprocess.run(argv, env=clean_env(stack.workspace.env), capture_output=True, text=True, timeout=WAIT,
                          stdin=subprocess.DEVNULL)
    log(f"recover of {stack.name} (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc


def _interrupt_up(stacks, lab, empty_disk, base_dir, tag: str, sig: int):
    """A new fault stack's `up`, sent `sig` once a domain create is pending: the libvirt names before it, the
    stack, the pulumi process, its log file and the pending operations seen."""
    baseline = _libvirt_names(lab)
    stack = _fault_stack(stacks, tag, empty_disk)
    log_file = base_dir / f"up-{stack.name}.log"
    proc = _start_up(stack, lab, log_file)
    pending = _wait_domain_create(stack, proc, log_file)
    assert _comm(proc.pid) == "pulumi", f"pid {proc.pid} is {_comm(proc.pid)!r}, not the pulumi CLI"
    proc.send_signal(sig)
    return baseline, stack, proc, log_file, pending


def test_sigint_while_domains_are_created(stacks, lab, empty_disk, base_dir, timings):
    """Ctrl-C once: Pulumi finishes the creates in flight and records them, releases the lock, leaves no pending
    operation and no orphan in libvirt; the next `up` converges (README: "Ctrl-C once is safe")."""
    baseline, stack, proc, log_file, pending = _interrupt_up(stacks, lab, empty_disk, base_dir, "int", signal.SIGINT)
    code = proc.wait(timeout=WAIT)
    text = log_file.read_text()
    log(f"SIGINT while {pending} were pending: exit {code}")
    assert code != 0, f"an interrupted `up` exited 0:\n{tail(text)}"
    assert "^C received; cancelling" in text, tail(text)
    assert not _locks(stack), "Ctrl-C left a lock"
    deployment = _checkpoint(stack)
    assert _pending(deployment) == [], f"Ctrl-C left pending operations: {_pending(deployment)}"
    # The domain whose create was pending finished and is in the state; libvirt holds nothing the state does not.
    state, have = _state_names(stack), _libvirt_names(lab, baseline)
    interrupted = [name for op, rtype, name in pending if rtype == DOMAIN]
    assert set(interrupted) <= set(state["domains"]), f"{interrupted} not recorded: {state['domains']}"
    for kind, names in state.items():
        assert have[kind] == set(names), f"{kind}: libvirt {sorted(have[kind])}, state {sorted(names)}"

    start = time.monotonic()
    stack.up(timeout=WAIT)
    timings.record("faults_sigint_up_after_seconds", round(time.monotonic() - start, 1))
    _reconcile(lab, stack, baseline, nodes=2)
    stack.destroy(timeout=WAIT)
    stacks.forget(stack)
    _assert_gone(lab, stack, baseline)


def test_sigkill_while_domains_are_created_then_recover(stacks, lab, empty_disk, base_dir, timings):
    """SIGKILL: a lock, plugins still at work and pending creates stay behind; `up` refuses (locked);
    `make recover` then `up` converge with no duplicate or orphaned domain, volume, network or pool."""
    baseline, stack, proc, _, _ = _interrupt_up(stacks, lab, empty_disk, base_dir, "kill", signal.SIGKILL)
    proc.wait(timeout=60)
    killed_at = time.monotonic()
    deployment = _checkpoint(stack)
    pending = _pending(deployment)
    log(f"SIGKILL; pending afterwards: {pending}")
    creating = {name for op, rtype, name in pending if op == "creating" and rtype == DOMAIN}
    assert creating, f"no domain create pending after the kill: {pending}"
    [lock] = _locks(stack)
    assert json.loads(lock.read_text())["pid"] == proc.pid
    # The killed run's libvirt plugin finishes its creates: libvirt holds domains the state does not (orphans).
    deadline = time.monotonic() + 120
    while not creating <= _libvirt_names(lab, baseline)["domains"] and time.monotonic() < deadline:
        time.sleep(0.5)
    have = _libvirt_names(lab, baseline)["domains"]
    assert creating <= have, f"the interrupted domain creates never reached libvirt: {sorted(creating - have)}"
    assert not creating & set(_state_names(stack)["domains"]), "the interrupted creates are in the state"

    # The next up refuses, naming the lock's pid.
    refused = stack.up(check=False, timeout=300)
    text = refused.stdout + refused.stderr
    assert refused.returncode != 0 and LOCKED in text and f"(pid {proc.pid})" in text, tail(text)

    start = time.monotonic()
    rec = _recover(stack, lab)
    timings.record("faults_recover_seconds", round(time.monotonic() - start, 1))
    assert rec.returncode == 0, rec.stdout + rec.stderr
    assert "stopping plugin pid" in rec.stdout, rec.stdout
    assert f"removing the stale lock of pid {proc.pid}" in rec.stdout, rec.stdout
    for name in sorted(creating):
        assert f"removed the orphaned domain {name} " in rec.stdout, rec.stdout
    assert "recovered" in rec.stdout, rec.stdout
    assert not _locks(stack)
    assert not stack.export()["deployment"].get("pending_operations")
    # What recover left in libvirt is what the state holds.
    state, have = _state_names(stack), _libvirt_names(lab, baseline)
    for kind, names in state.items():
        assert have[kind] == set(names), f"{kind} after recover: libvirt {sorted(have[kind])}, state {sorted(names)}"

    start = time.monotonic()
    stack.up(timeout=WAIT)
    up_seconds = round(time.monotonic() - start, 1)
    timings.record("faults_up_after_recover_seconds", up_seconds)
    timings.record("faults_kill_to_converged_seconds", round(time.monotonic() - killed_at, 1))
    counts = _reconcile(lab, stack, baseline, nodes=2)
    log(f"converged after recover: {counts}")
    stack.destroy(timeout=WAIT)
    stacks.forget(stack)
    _assert_gone(lab, stack, baseline)


def _inventory(lab, stack) -> dict:
    """Names (from the stack's state, each checked in libvirt), Linux bridges, MACs, CIDRs and pool paths of one
    stack, read from libvirt."""
    inv = {kind: set(names) for kind, names in _state_names(stack).items()}
    inv.update(bridges=set(), macs=set(), cidrs=set(), pool_paths=set())
    for net in inv["networks"]:
        xml = ET.fromstring(lab.virsh("net-dumpxml", net))
        inv["bridges"].add(xml.find("bridge").get("name"))
        ip = xml.find("ip")
        inv["cidrs"].add(f"{ip.get('address')}/{ip.get('prefix') or ip.get('netmask')}")
    for dom in inv["domains"]:
        inv["macs"] |= {m.get("address") for m in ET.fromstring(lab.virsh("dumpxml", dom)).iter("mac")}
    for pool in inv["pools"]:
        inv["pool_paths"].add(ET.fromstring(lab.virsh("pool-dumpxml", pool)).find("target/path").text)
    return inv


def test_neighbours_whose_names_differ_in_case_and_punctuation(stacks, lab, empty_disk):
    """Issue 10 item 6: `e2eAlice.Lab<tag>` and `e2ealice-lab<tag>` (one slug) up side by side on one libvirtd share
    no libvirt name, Linux bridge, MAC or CIDR, and both destroy cleanly."""
    from lab import naming

    while True:  # two random tags whose hashed CIDRs collide would be refused by preflight: draw again
        tag = secrets.token_hex(3)
        names = (f"e2eAlice.Lab{tag}", f"e2ealice-lab{tag}")
        cidrs = [set(naming.derived_cidrs(name, "10.208.0.0/12")) for name in names[:2]]
        if not cidrs[0] & cidrs[1]:
            break
    assert naming.slug(names[0]) == naming.slug(names[1])
    config = {"computeCount": 0, "stopAfter": "nodes", "baseImage": empty_disk, "boot": None,
              "controller": {"vcpus": 1, "memoryMiB": 512, "diskGiB": 2}}
    baseline = _libvirt_names(lab)
    pair = [stacks.create(name, config) for name in names]
    with ThreadPoolExecutor(max_workers=2) as pool:  # side by side, at the same time
        for future in [pool.submit(s.up, timeout=WAIT) for s in pair]:
            future.result()
    invs = [_inventory(lab, s) for s in pair]
    for stack, inv in zip(pair, invs, strict=True):
        log(f"{stack.name}: {({k: sorted(v) for k, v in inv.items()})}")
        assert len(inv["domains"]) == 1 and len(inv["networks"]) == 2 and len(inv["pools"]) == 1, inv
        assert len(inv["bridges"]) == 2 and len(inv["cidrs"]) == 2 and len(inv["macs"]) == 2, inv
        assert len(inv["volumes"]) == 3 and len(inv["pool_paths"]) == 1, inv  # base, root disk, cloud-init disk
    for key in invs[0]:
        shared = invs[0][key] & invs[1][key]
        assert not shared, f"{key} shared by {names[0]} and {names[1]}: {sorted(shared)}"
    # Together the two states hold exactly what libvirt gained: no object of one stack hides under the other's name.
    have = _libvirt_names(lab, baseline)
    for kind in have:
        assert have[kind] == invs[0][kind] | invs[1][kind], \
            f"{kind}: libvirt {sorted(have[kind])}, the two states {sorted(invs[0][kind] | invs[1][kind])}"
    # The bridges exist in the netns.
    links = run(lab.ns(["ip", "-o", "link", "show", "type", "bridge"])).stdout
    present = {line.split(":")[1].strip().split("@")[0] for line in links.splitlines() if line.strip()}
    for inv in invs:
        assert inv["bridges"] <= present, f"bridges {sorted(inv['bridges'] - present)} missing in the netns"
    for stack, inv in zip(pair, invs, strict=True):
        stack.destroy(timeout=WAIT)
        stacks.forget(stack)
        left = {kind: sorted(names & inv[kind]) for kind, names in _libvirt_names(lab, baseline).items()
                if names & inv[kind]}
        assert not left, f"left in libvirt after destroying {stack.name}: {left}"
        assert not stack.pool_path.exists(), f"pool dir left: {stack.pool_path}"
    _assert_gone(lab, pair[0], baseline)

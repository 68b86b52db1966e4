"""Issue 11 end to end: one lab across two KVM hosts, an existing machine joined, scale-out previewed, destroy.

Two "hosts" are two private libvirtds (support.libvirtd.PrivateLibvirtd, virtlogd=True), each in its own
network namespace. `support.lan.Lan` joins them the way a user's LAN does: in each namespace two Linux
bridges of the same names (`labmgmt`, `labext`), and for each kind a veth pair across the namespaces; host A
plays the LAN's router (its `labmgmt` carries the management gateway, its `labext` the external gateway), host
B has its own address on its `labmgmt`. Pulumi and every SSH run in host A's namespace. Host A is this
machine's kind of host (its unix socket); host B is reached as users configure a second host (issue 19 item
3): `qemu+ssh://root@<B>/system?keyfile=…&knownhosts=…`, a real OpenSSH sshd on B's address
(support.sshd.PrivateSshd: its own config and keys, in B's network and mount namespaces), login key and host
key pinned; the preflight probes B over that URI too. (The untrusted-key cases are the engine tier's,
tests/engine/test_engine_ssh_host.py.)

The stack (network mode `bridge` on `labmgmt`/`labext`, stopAfter answers): the controller on host A, one
compute (`b-compute1`) on host B, and `extra1`, a guest the test starts on host B with virsh outside the stack
(multihost_support.ExistingGuest), joined through `existingComputes` with its host key pinned. At most three
TCG guests run at once; the scale-out to a second compute on B is previewed only.

The steps run in file order and depend on each other (a failed step makes the later ones fail early).
"""
from __future__ import annotations

import ipaddress
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest

from e2esupport import OVERLAY, LabStack, SshReadyWatcher, answer_file, log, new_keypair, run
from lab_power_support import lines_naming, power, states, wait_ssh
from multihost_support import ExistingGuest
from recording_proxy import BODY, RecordingProxy
from support import require
from support.lan import EXT_BRIDGE, MGMT_BRIDGE, Lan
from support.secret_scan import Secrets, assert_absent
from support.libvirtd import PrivateLibvirtd
from support.program import copy_program, overlay_env
from support.pulumi import Workspace, step_type, urn_name
from support.sshd import PrivateSshd

MANAGEMENT_CIDR = "10.231.0.0/24"
EXTERNAL_CIDR = "10.231.1.0/24"
EXTRA = "extra1"
EXTRA_ADDRESS = "10.231.0.200"
EXTRA_MACS = ("52:54:00:e2:31:01", "52:54:00:e2:31:02")  # eth0, eth1 (outside every stack's derived MACs)
MARKER = "/var/lib/openstack-lab/prep-runs"
UNTOUCHED = "/root/osl-e2e-untouched"  # a file the test writes on extra1 before up, compared after destroy
# eth1 check: a temporary namespace on each guest with a macvlan on eth1 (eth1 itself keeps no address).
ETH1_NETNS = "osle2e"
ETH1_PROBE = {"controller": "10.231.1.21", "b-compute1": "10.231.1.22", EXTRA: "10.231.1.23"}
REPLACE_OPS = ("replace", "create-replacement", "delete-replaced", "delete", "discard", "discard-replaced")
# Packstack's prescript option (not a CONFIG_ key): the servers a run skips. An earlier lab answered it with the
# old computes on a scale-out; the lab never does now (providers/packstack_answers.py RETIRED_KEYS).
EXCLUDE_KEY = "EXCLUDE_SERVERS"
EXISTING_BOOT_BOUND = 900  # seconds extra1 may take to answer SSH (a bound, not a benchmark)
# packageSources (issue 21): the nodes' apt goes through a proxy on host A's management address (the test's
# recording stand-in, tests/e2e/recording_proxy.py), with a user and the secret password.
PROXY_PORT = 3128
PROXY_USER = "osl-e2e"
APT_PROXY_FILE = "/etc/apt/apt.conf.d/80openstack-lab-proxy"


def _node_address(index: int) -> str:
    from lab import naming  # the program's own addressing: host k compute j = k*40 + j

    return naming.node_address(MANAGEMENT_CIDR, index)


EXPECTED = {"controller": _node_address(0), "b-compute1": _node_address(41), EXTRA: EXTRA_ADDRESS}
SCALED = {"b-compute2": _node_address(42)}


@dataclass
class Hosts:
    a: PrivateLibvirtd
    b: PrivateLibvirtd
    lan: Lan
    sshd: PrivateSshd  # host B's: the stack reaches B over qemu+ssh through it
    pool_a: Path
    pool_b: Path

    def logins_from_a(self) -> int:
        """Logins B's sshd accepted from host A (its log): the provider's and the preflight's."""
        text = self.sshd.log.read_text(errors="replace") if self.sshd.log.exists() else ""
        return text.count(f"Accepted publickey for root from {self.lan.management_gateway} ")


@dataclass
class MultiHost:
    """The scenario's state: the stack, its login key, the existing machine and the steps that failed."""

    hosts: Hosts
    existing: ExistingGuest
    key_file: Path
    public_key: str
    host_key_public: str
    stack: Optional[LabStack] = None
    config: dict = field(default_factory=dict)
    untouched_sha256: str = ""
    boot_id: str = ""
    failed: list[str] = field(default_factory=list)
    lab_boot_ids: dict = field(default_factory=dict)  # node -> boot id before `make stop` (test_07b)
    proxy_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))

    def need(self, *steps: str) -> None:
        for step in steps:
            if step in self.failed:
                pytest.fail(f"depends on {step}, which failed", pytrace=False)

    def ssh(self, host: str, command: str, check: bool = True, input: Optional[str] = None,
            secret_output: bool = False) -> str:
        return run(self.stack.ssh_argv(host, command), check=check, input=input, timeout=300,
                   secret_output=secret_output).stdout


@pytest.fixture(scope="module")
def hosts(host_ready, base_dir):
    a = PrivateLibvirtd(state_dir=base_dir / "mh-a", virtlogd=True, prefix="osl-mha")
    b = PrivateLibvirtd(state_dir=base_dir / "mh-b", virtlogd=True, prefix="osl-mhb")
    started = []
    sshd = None
    try:
        for daemon in (a, b):
            try:
                daemon.start()
            except RuntimeError as exc:
                require(False, f"libvirtd in a netns did not start: {exc}")
            started.append(daemon)
        lan = Lan(a.netns, b.netns, MANAGEMENT_CIDR, EXTERNAL_CIDR).create()
        log(lan.describe())
        sshd = PrivateSshd(b, lan.host_b_address, base_dir / "mh-b-sshd").start()
        log(f"host A: netns {a.netns}, {a.uri()}; host B: netns {b.netns}, {sshd.uri()} (test's own view: {b.uri()})")
        yield Hosts(a, b, lan, sshd, base_dir / "mh-pool-a", base_dir / "mh-pool-b")
    finally:
        if sshd is not None:
            sshd.stop()
        for daemon in reversed(started):
            daemon.stop()  # kills every guest left, deletes the netns (and the veths and bridges in it)


@pytest.fixture(scope="module")
def mh(hosts, image, base_dir, host_ready, tier_log):
    key_file, public, _ = new_keypair(base_dir, "id-multihost")
    _, host_public, host_private = new_keypair(base_dir, f"hostkey-{EXTRA}")
    guest = ExistingGuest(
        EXTRA, hosts.b.uri(), base_dir / f"existing-{EXTRA}", EXTRA_ADDRESS,
        ipaddress.ip_network(MANAGEMENT_CIDR).prefixlen, hosts.lan.management_gateway, *EXTRA_MACS,
        image=image, authorized_key=public, host_key_private=host_private, host_key_public=host_public,
        hypervisor=host_ready)
    # Started now: it boots while the stack is configured (a user's machine is already running).
    guest.start()
    state = MultiHost(hosts, guest, key_file, public, " ".join(host_public.split()[:2]))
    try:
        yield state
    finally:
        if state.stack is not None:
            proc = state.stack.destroy("--refresh", check=False, timeout=900)
            if proc.returncode != 0:
                log("teardown: destroy of the multi-host stack failed (the netns teardown kills what is left)")
        guest.remove()


@pytest.fixture
def mh_step(request, mh):
    """Records the test as failed in the scenario when its call did not pass."""
    yield request.node.name
    rep = getattr(request.node, "rep_call", None)
    if rep is None or rep.failed:
        mh.failed.append(request.node.name)


def _stack_config(mh: MultiHost, image: dict, hypervisor: str, b_computes: int = 1) -> dict:
    hosts = mh.hosts
    return {
        "hosts": [
            {"name": "a", "uri": hosts.a.uri(), "computes": 0, "storagePoolPath": str(hosts.pool_a)},
            {"name": "b", "uri": hosts.sshd.uri(), "computes": b_computes, "storagePoolPath": str(hosts.pool_b)},
        ],
        "network": {"mode": "bridge", "managementBridge": MGMT_BRIDGE, "externalBridge": EXT_BRIDGE,
                    "managementGateway": hosts.lan.management_gateway},
        "managementCidr": MANAGEMENT_CIDR,
        "externalCidr": EXTERNAL_CIDR,
        "externalGateway": hosts.lan.external_gateway,
        "existingComputes": [{"name": EXTRA, "address": EXTRA_ADDRESS, "hostKey": mh.host_key_public}],
        "stopAfter": "answers",
        "packageSources": {"proxy": f"http://{hosts.lan.management_gateway}:{PROXY_PORT}", "proxyUser": PROXY_USER},
        "hypervisor": hypervisor,
        "baseImage": image["disk"],
        "boot": {"kernel": image["kernel"], "initrd": image["initrd"], "cmdline": image["cmdline"]},
        "controller": {"vcpus": 1, "memoryMiB": 1024, "diskGiB": 4},
        "compute": {"vcpus": 1, "memoryMiB": 768, "diskGiB": 4},
    }


def _wait_for_existing(mh: MultiHost, timings) -> None:
    """extra1 answers SSH with its pinned host key (from host A's namespace, across the veth)."""
    known = mh.key_file.parent / f"known_hosts.{EXTRA}"
    known.write_text(f"{EXTRA_ADDRESS} {mh.host_key_public}\n")
    argv = mh.hosts.a.ns(["ssh", "-i", str(mh.key_file), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                          "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR", "-o", "StrictHostKeyChecking=yes",
                          "-o", f"UserKnownHostsFile={known}", f"root@{EXTRA_ADDRESS}",
                          f"cloud-init status --wait >/dev/null; head -c 32 /dev/urandom | base64 > {UNTOUCHED}; "
                          f"sha256sum {UNTOUCHED}; cat /proc/sys/kernel/random/boot_id"])
    start = time.monotonic()
    proc = None
    while time.monotonic() - start < EXISTING_BOOT_BOUND:
        proc = run(argv, check=False, timeout=600)
        if proc.returncode == 0:
            break
        time.sleep(3)
    else:
        console = mh.existing.console_log.read_text(errors="replace")[-3000:] if mh.existing.console_log.exists() \
            else "(no console log)"
        pytest.fail(f"{EXTRA} did not answer SSH within {EXISTING_BOOT_BOUND} s: {proc and proc.stderr}\n"
                    f"--- console (tail)\n{console}", pytrace=False)
    timings.record("multihost_existing_ssh_ready_seconds", round(time.monotonic() - start, 1))
    digest, _, boot_id = proc.stdout.strip().partition("\n")
    mh.untouched_sha256, mh.boot_id = digest.split()[0], boot_id.strip()


def _domains(daemon: PrivateLibvirtd) -> list[str]:
    return daemon.names("list")


def _prep_runs(mh: MultiHost, ip: str) -> int:
    out = mh.ssh(ip, f"cat {MARKER} 2>/dev/null || true")
    return len([line for line in out.splitlines() if "prep-debian-test" in line])


def test_01_up_across_two_hosts(mh, image, host_ready, base_dir, tier_log, timings, mh_step):
    name = f"e2emh{secrets.token_hex(3)}"
    work = copy_program(base_dir / f"work-{name}")
    workspace = Workspace(work, base_dir / "pulumi", netns=mh.hosts.a.netns, env=overlay_env(OVERLAY),
                          log=tier_log.add)
    stack = LabStack(workspace, name, mh.hosts.a, mh.key_file, mh.hosts.pool_a)
    mh.stack = stack
    mh.config = _stack_config(mh, image, host_ready)
    stack.set_config({**mh.config, "sshPublicKey": mh.public_key})
    stack.set_secret("sshPrivateKey", mh.key_file.read_text())  # through stdin, never argv
    stack.set_secret("packageProxyPassword", mh.proxy_password)
    _wait_for_existing(mh, timings)

    logins = mh.hosts.logins_from_a()
    start = time.monotonic()
    with SshReadyWatcher(stack, list(EXPECTED.values())[:2]) as watcher:
        stack.up(timeout=2400)
    timings.record("multihost_up_seconds", round(time.monotonic() - start, 1))
    timings.record("multihost_ssh_ready_2_nodes_seconds", watcher.all_ready_seconds())
    outputs = stack.outputs()
    known = outputs["knownHosts"]
    if EXTRA_ADDRESS not in known:  # the pinned key, as the stack connects with it
        known = known.rstrip("\n") + f"\n{EXTRA_ADDRESS} {mh.host_key_public}\n"
    stack.known_hosts.write_text(known)
    assert outputs["nodes"] == EXPECTED, f"nodes output {outputs['nodes']}, want {EXPECTED}"

    # Placement: the controller's domain on host A, b-compute1's on host B, extra1 only the test's.
    on_a, on_b = _domains(mh.hosts.a), _domains(mh.hosts.b)
    assert len(on_a) == 1 and on_a[0].startswith(f"openstack-lab-{name}") and on_a[0].endswith("-controller"), \
        f"host A runs {on_a}, want the controller only"
    ours_b = sorted(d for d in on_b if d != EXTRA)
    assert len(ours_b) == 1 and ours_b[0].startswith(f"openstack-lab-{name}") and ours_b[0].endswith("-b-compute1"), \
        f"host B runs {on_b}, want b-compute1 and {EXTRA}"
    assert EXTRA in on_b
    # Host B's objects came over qemu+ssh: its sshd logged the preflight's and the provider's logins from A.
    assert mh.hosts.logins_from_a() > logins, f"B's sshd ({mh.hosts.sshd.log}) logged no login from host A during up"
    # Bridge mode makes no libvirt network: each domain's NICs are plain ports of its host's LAN bridges.
    for daemon, label, domain in ((mh.hosts.a, "A", on_a[0]), (mh.hosts.b, "B", ours_b[0])):
        nets = daemon.names("net-list")
        assert nets == [], f"host {label} has libvirt networks in bridge mode: {nets}"
        xml = daemon.virsh("dumpxml", domain)
        nics = re.findall(r"<interface type='(\w+)'>.*?<source bridge='([^']+)'", xml, re.S)
        assert nics == [("bridge", MGMT_BRIDGE), ("bridge", EXT_BRIDGE)], f"host {label} {domain} NICs: {nics}"
    # The guests' NICs are ports of the LAN bridges of their own host (tap + the veth to the other host).
    for daemon, label in ((mh.hosts.a, "A"), (mh.hosts.b, "B")):
        for bridge in (MGMT_BRIDGE, EXT_BRIDGE):
            ports = mh.hosts.lan.ports(daemon.netns, bridge)
            want = 2 if label == "A" else 3  # the veth + one tap per guest
            assert len(ports) == want, f"host {label} {bridge} ports {ports}, want {want}"


def test_02_every_node_answers_ssh_and_prep_ran_once(mh, mh_step):
    mh.need("test_01_up_across_two_hosts")
    for node, ip in EXPECTED.items():
        # Strict host key checking: the lab's pinned keys (and extra1's given one).
        fqdn = mh.ssh(ip, "hostname -f").strip()
        assert fqdn.split(".")[0] == node, f"{ip}: hostname -f is {fqdn!r}, want {node}.<domain>"
        runs = _prep_runs(mh, ip)
        assert runs == 1, f"{node}: prep ran {runs} times, want once"
        hosts = mh.ssh(ip, "cat /etc/hosts")
        for other, other_ip in EXPECTED.items():
            assert re.search(rf"^{re.escape(other_ip)}\s+\S*\b{re.escape(other)}\b", hosts, re.M), \
                f"{node}: /etc/hosts lacks {other} ({other_ip}):\n{hosts}"
        addr = mh.ssh(ip, "ip -4 -o addr show dev eth0; ip -o addr show dev eth1; ip -o link show dev eth1")
        assert f"inet {ip}/24" in addr, f"{node}: eth0 lacks {ip}/24: {addr}"
        assert not re.search(r"eth1\s+inet", addr), f"{node}: eth1 carries an address: {addr}"
        link = re.search(r"eth1: <([^>]*)>", addr)
        assert link and "UP" in link.group(1).split(","), f"{node}: eth1 is not up: {addr}"


def test_02b_apt_goes_through_the_package_proxy(mh, base_dir, tier_log, timings, mh_step):
    """packageSources.proxy on the Debian profile (issue 21): every node, the existing machine too, has the lab's apt
    proxy file (root-only: it holds the password) and its apt reaches the proxy, which sees the node's address,
    the URL and the proxy user; the lab's own network goes DIRECT."""
    mh.need("test_01_up_across_two_hosts")
    gateway = mh.hosts.lan.management_gateway
    start = time.monotonic()
    with RecordingProxy(mh.hosts.a.netns, gateway, PROXY_PORT, base_dir / "mh-package-proxy.log") as proxy:
        for node, ip in EXPECTED.items():
            owner = mh.ssh(ip, f"stat -c '%a %U' {APT_PROXY_FILE}").strip()
            assert owner == "600 root", f"{node}: {APT_PROXY_FILE} is {owner!r}, want 600 root"
            dump = mh.ssh(ip, "apt-config dump | grep -i proxy", secret_output=True)
            lab_settings = f"@{gateway}:{PROXY_PORT}/" in dump and f'Proxy::{gateway} "DIRECT"' in dump
            assert lab_settings, f"{node}: apt's proxy settings are not the lab's"  # (dump holds the password)
            got = mh.ssh(ip, "/usr/lib/apt/apt-helper download-file "
                             f"http://packages.osl-e2e.invalid/{node} /tmp/osl-proxy-probe >/dev/null 2>&1; "
                             "cat /tmp/osl-proxy-probe")
            assert got == BODY.decode(), f"{node}: apt's download did not come from the proxy: {got!r}"
        seen = {(r["client"], r["target"], r["user"]) for r in proxy.requests()}
    for node, ip in EXPECTED.items():
        assert (ip, f"http://packages.osl-e2e.invalid/{node}", PROXY_USER) in seen, \
            f"{node}: the proxy logged no request from {ip} as {PROXY_USER}: {sorted(seen)}"
    timings.record("multihost_package_proxy_seconds", round(time.monotonic() - start, 1))
    # The password travels as a secret: not in the state's plain export, the stack's config file or the tier's log.
    password = Secrets(packageProxyPassword=mh.proxy_password)
    assert_absent(password, json.dumps(mh.stack.export()), "`pulumi stack export`")
    assert_absent(password, mh.stack.config_file.read_text(), "the stack's config file")
    assert_absent(password, tier_log.text(), "the tier's pulumi log")


def test_03_nodes_reach_each_other_across_hosts(mh, mh_step):
    mh.need("test_01_up_across_two_hosts")
    # eth0: every pair, both directions, across the veth between host A and host B.
    for node, ip in EXPECTED.items():
        for other, other_ip in EXPECTED.items():
            if other != node:
                out = mh.ssh(ip, f"ping -c 2 -W 3 -I eth0 {other_ip}", check=False)
                assert " 0% packet loss" in out, f"{node} -> {other} ({other_ip}) over eth0:\n{out}"
    # eth1: a temporary namespace per guest with a macvlan on eth1 and an address of the external CIDR;
    # the namespace has no other interface, so each ping can only travel over eth1 and the labext bridges.
    prefix = ipaddress.ip_network(EXTERNAL_CIDR).prefixlen
    try:
        for node, addr in ETH1_PROBE.items():
            mh.ssh(EXPECTED[node], f"set -e; ip netns del {ETH1_NETNS} 2>/dev/null || true; ip netns add {ETH1_NETNS}; "
                                   f"ip link add {ETH1_NETNS}0 link eth1 type macvlan mode bridge; "
                                   f"ip link set {ETH1_NETNS}0 netns {ETH1_NETNS}; "
                                   f"ip -n {ETH1_NETNS} link set {ETH1_NETNS}0 up; "
                                   f"ip -n {ETH1_NETNS} addr add {addr}/{prefix} dev {ETH1_NETNS}0")
        targets = {**{f"{n} (eth1)": a for n, a in ETH1_PROBE.items()},
                   "host A's external gateway": mh.hosts.lan.external_gateway}
        for node in ETH1_PROBE:
            for target, addr in targets.items():
                if addr == ETH1_PROBE[node]:
                    continue
                out = mh.ssh(EXPECTED[node], f"ip netns exec {ETH1_NETNS} ping -c 2 -W 3 {addr}", check=False)
                assert " 0% packet loss" in out, f"{node} -> {target} ({addr}) over eth1:\n{out}"
    finally:
        for node in ETH1_PROBE:
            mh.ssh(EXPECTED[node], f"ip netns del {ETH1_NETNS} 2>/dev/null || true", check=False)
    # eth1 itself still carries no address.
    for node, ip in EXPECTED.items():
        addr = mh.ssh(ip, "ip -o addr show dev eth1")
        assert addr.strip() == "", f"{node}: eth1 carries an address after the check: {addr}"


def test_04_answer_file_lists_every_host(mh, mh_step):
    mh.need("test_01_up_across_two_hosts")
    answers = answer_file(mh.ssh, EXPECTED["controller"])
    assert answers["CONFIG_CONTROLLER_HOST"] == EXPECTED["controller"]
    assert answers["CONFIG_NETWORK_HOSTS"] == EXPECTED["controller"]
    computes = sorted(answers["CONFIG_COMPUTE_HOSTS"].split(","))
    assert computes == sorted([EXPECTED["b-compute1"], EXPECTED[EXTRA]]), \
        f"CONFIG_COMPUTE_HOSTS={answers['CONFIG_COMPUTE_HOSTS']}, want b-compute1 and {EXTRA}"
    # --gen-answer-file writes prescript's option empty and the lab never answers it: Packstack runs on every
    # server; an earlier lab's exclusion goes back to this value (scripts/packstack-answers.sh).
    assert answers.get(EXCLUDE_KEY) == "", f"{EXCLUDE_KEY}={answers.get(EXCLUDE_KEY)!r}, want Packstack's empty default"


def test_05_preview_no_changes(mh, timings, mh_step):
    mh.need("test_01_up_across_two_hosts")
    start = time.monotonic()
    # --show-sames: without it `preview --json` lists only the root stack's step.
    steps = mh.stack.preview_json("--show-sames")["steps"]
    timings.record("multihost_preview_seconds", round(time.monotonic() - start, 1))
    assert steps, "no step parsed from `preview --json`"
    changed = [_describe(s) for s in steps if s["op"] != "same"]
    assert changed == [], "preview without changes shows:\n" + "\n".join(changed)
    mh.stack.preview("--expect-no-changes")


def _provider_name(step: dict) -> str:
    """The provider resource's name of a step (`libvirt`, `libvirt-b`, ...)."""
    ref = step.get("provider") or (step.get("newState") or {}).get("provider") \
        or (step.get("oldState") or {}).get("provider") or ""
    return urn_name(ref.rsplit("::", 1)[0]) if ref else ""


def _describe(step: dict) -> str:
    """One changed step: op, resource name, provider and what differs (inputs old -> new, shortened)."""
    old = (step.get("oldState") or {}).get("inputs") or {}
    new = (step.get("newState") or {}).get("inputs") or {}
    diffs = {k: f"{json.dumps(old.get(k))[:300]} -> {json.dumps(new.get(k))[:300]}"
             for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)}
    return (f"{step['op']} {urn_name(step['urn'])} ({step_type(step)}, provider {_provider_name(step) or '-'}): "
            f"diffReasons {step.get('diffReasons')}, detailedDiff {json.dumps(step.get('detailedDiff'))[:500]}, "
            f"inputs {diffs}")


def _changed_answer_keys(step: dict) -> list[str]:
    old = (step.get("oldState") or {}).get("inputs") or {}
    new = (step.get("newState") or {}).get("inputs") or {}
    answer = lambda k: k.startswith("CONFIG_") or k == EXCLUDE_KEY  # noqa: E731
    keys = {k for k in set(old) | set(new) if answer(k) and old.get(k) != new.get(k)}
    keys |= {k for k in step.get("diffReasons") or [] if answer(k)}
    return sorted(keys)


@pytest.fixture(scope="module")
def scale_out(mh, timings):
    """The scale-out's preview (2 computes on host B, config restored afterwards), run once for test_06/07."""
    mh.need("test_01_up_across_two_hosts")
    config = json.loads(json.dumps(mh.config))
    config["hosts"][1]["computes"] = 2
    start = time.monotonic()
    with mh.stack.config_changed({"hosts": config["hosts"]}):
        all_steps = mh.stack.preview_json()["steps"]
    timings.record("multihost_scale_out_preview_seconds", round(time.monotonic() - start, 1))
    assert all_steps, "no step parsed from `preview --json`"
    steps = [s for s in all_steps if s.get("op") not in ("same", "read")]
    log(f"scale-out preview: {sorted((s['op'], urn_name(s['urn']), _provider_name(s)) for s in steps)}")
    answers = [s for s in steps if urn_name(s["urn"]) == "packstack-answers"]
    return {"steps": steps, "answers": answers}


def test_06_scale_out_on_b_previews_creates_on_b_only(mh, scale_out, mh_step):
    mh.need("test_01_up_across_two_hosts")
    steps = scale_out["steps"]
    bad = [_describe(s) for s in steps if s["op"] in REPLACE_OPS or s["op"] not in ("create", "update")]
    assert not bad, "adding a compute must only create and update:\n" + "\n".join(bad)
    creates = [s for s in steps if s["op"] == "create"]
    assert creates, "the scale-out creates nothing"
    not_new = [urn_name(s["urn"]) for s in creates if not urn_name(s["urn"]).startswith("b-compute2")]
    assert not not_new, f"creates beyond b-compute2: {not_new}"
    created_types = {step_type(s) for s in creates}
    for t in ("libvirt:index/domain:Domain", "libvirt:index/volume:Volume",
              "libvirt:index/cloudInitDisk:CloudInitDisk"):
        assert t in created_types, f"b-compute2 gets no {t}"
    libvirt_steps = [s for s in steps if step_type(s).startswith(("libvirt:", "pulumi:providers:libvirt"))]
    # Host A's libvirt objects (provider `libvirt`) are not touched at all; on host B (`libvirt-b`) only creates
    # of b-compute2 (checked above) and, at most, updates in place.
    off_b = [_describe(s) for s in libvirt_steps if _provider_name(s) != "libvirt-b"]
    assert not off_b, "libvirt changes outside host B's provider (libvirt-b):\n" + "\n".join(off_b)
    answers = scale_out["answers"]
    assert [s["op"] for s in answers] == ["update"], f"PackstackAnswers steps: {[s['op'] for s in answers]}"
    keys = _changed_answer_keys(answers[0])
    assert "CONFIG_COMPUTE_HOSTS" in keys, f"the answers update names {keys}, not CONFIG_COMPUTE_HOSTS"
    new_inputs = (answers[0].get("newState") or {}).get("inputs") or {}
    hosts = sorted(str(new_inputs.get("CONFIG_COMPUTE_HOSTS", "")).split(","))
    assert hosts == sorted([EXPECTED["b-compute1"], EXPECTED[EXTRA], SCALED["b-compute2"]]), \
        f"CONFIG_COMPUTE_HOSTS after the scale-out: {hosts}"


def test_07_scale_out_answers_change_only_the_computes(mh, scale_out, mh_step):
    """The answers' update on a scale-out changes CONFIG_COMPUTE_HOSTS and nothing else: no EXCLUDE_SERVERS, so
    Packstack's re-run covers b-compute1 and extra1 too and gives every compute the run's one migration key, every
    compute's host key and migration firewall rules for every compute (README, "Scale-out re-runs")."""
    mh.need("test_01_up_across_two_hosts")
    answers = scale_out["answers"]
    assert [s["op"] for s in answers] == ["update"], f"PackstackAnswers steps: {[s['op'] for s in answers]}"
    keys = _changed_answer_keys(answers[0])
    assert keys == ["CONFIG_COMPUTE_HOSTS"], f"the scale-out's answers update names {keys}, want the computes only"
    new_inputs = (answers[0].get("newState") or {}).get("inputs") or {}
    assert EXCLUDE_KEY not in new_inputs, \
        f"{EXCLUDE_KEY}={new_inputs.get(EXCLUDE_KEY)}: the re-run would skip those computes and break migration"


LAB_NODES = {node: ip for node, ip in EXPECTED.items() if node != EXTRA}  # what stop/start act on
RESTART_BOUND = 900  # seconds every lab node may take to answer SSH after a start (bootTimeout's default)


def _lab_states(mh: MultiHost) -> dict[str, str]:
    """Every lab domain on either host (not extra1) -> its state."""
    return {**states(mh.hosts.a, _domains(mh.hosts.a)),
            **states(mh.hosts.b, [d for d in _domains(mh.hosts.b) if d != EXTRA])}


def _boot_id(mh: MultiHost, ip: str) -> str:
    return mh.ssh(ip, "cat /proc/sys/kernel/random/boot_id").strip()


def test_07b_stop_shuts_every_lab_domain_off_computes_first(mh, timings, mh_step):
    """`make stop` (issue 20 item 4): b-compute1 is shut down before the controller, both cleanly (the Debian guest
    powers off on ACPI's power button), both hosts' lab domains read `shut off`; extra1 is left running."""
    mh.need("test_01_up_across_two_hosts")
    before = _lab_states(mh)
    assert sorted(before.values()) == ["running", "running"], before
    for daemon in (mh.hosts.a, mh.hosts.b):  # after a host's reboot libvirtd starts them (test_07f)
        for domain in (d for d in _domains(daemon) if d != EXTRA):
            assert re.search(r"^Autostart:\s+enable", daemon.virsh("dominfo", domain), re.M), f"{domain}: no autostart"
    mh.lab_boot_ids = {node: _boot_id(mh, ip) for node, ip in LAB_NODES.items()}
    start = time.monotonic()
    proc = power(mh.stack, mh.hosts.a, "stop")
    timings.record("multihost_stop_seconds", round(time.monotonic() - start, 1))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    after = _lab_states(mh)
    assert set(after.values()) == {"shut off"}, after
    shutdowns = lines_naming(proc.stdout, ["virsh shutdown"])
    assert len(shutdowns) == 2 and "b-compute1" in shutdowns[0] and "controller" in shutdowns[1], shutdowns
    assert "warning" not in proc.stdout and "2 node(s) shut down cleanly" in proc.stdout, proc.stdout
    assert f"existing machines {EXTRA}: not stopped or started by the lab" in proc.stdout
    assert mh.existing.state() == "running", f"{EXTRA} is {mh.existing.state()!r} after stop"


def test_07c_stopped_lab_previews_no_replacement(mh, timings, mh_step):
    """A stopped lab: the plain preview is clean (the state still says running: `pulumi up` would do nothing and
    leave the nodes off, hence make up's check); with --refresh the provider reads running=false and previews an
    in-place update of each domain's `running` (terraform-provider-libvirt 0.8.3: `running` is not ForceNew, its
    Update starts a domain that is not running), never a replacement; nothing starts.

    The refresh reads the domains only (`--target`): the provider's refresh of a CloudInitDisk downloads the ISO
    from its volume (a libvirt stream), and over host B's `qemu+ssh://` that download once hung until the 900 s
    bound (the cold proof run of the fifth session: host B's provider blocked in it with the temporary file at 0
    bytes); what a stopped lab changes is the domains' state, which this reads."""
    mh.need("test_07b_stop_shuts_every_lab_domain_off_computes_first")
    steps = mh.stack.preview_json("--show-sames")["steps"]
    assert steps and [_describe(s) for s in steps if s["op"] != "same"] == []
    mh.stack.preview("--expect-no-changes")
    domains = [s["urn"] for s in steps if step_type(s) == "libvirt:index/domain:Domain"]
    assert len(domains) == 2, domains
    start = time.monotonic()
    targets = [arg for urn in domains for arg in ("--target", urn)]
    refreshed = mh.stack.preview_json("--refresh", "--show-sames", *targets, timeout=300)["steps"]
    timings.record("multihost_stopped_preview_refresh_seconds", round(time.monotonic() - start, 1))
    assert refreshed, "no step parsed from `preview --refresh --json`"
    replaced = [_describe(s) for s in refreshed if s["op"] in REPLACE_OPS]
    assert not replaced, "a stopped lab previews replacements:\n" + "\n".join(replaced)
    changed = [s for s in refreshed if s["op"] not in ("same", "read", "refresh")]
    log("preview --refresh of the stopped lab: " + "; ".join(_describe(s) for s in changed))
    assert sorted((s["op"], step_type(s)) for s in changed) == [("update", "libvirt:index/domain:Domain")] * 2, \
        "\n".join(_describe(s) for s in changed)
    for step in changed:
        assert "running" in json.dumps(step.get("detailedDiff") or step.get("diffReasons")), _describe(step)
    assert set(_lab_states(mh).values()) == {"shut off"}


def test_07d_up_on_a_stopped_lab_is_refused_with_make_start(mh, mh_step):
    """`make up` runs the stopped-lab check first: exit 1 naming each shut-off domain and `make start`."""
    mh.need("test_07b_stop_shuts_every_lab_domain_off_computes_first")
    proc = power(mh.stack, mh.hosts.a, "check")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "the lab is stopped" in proc.stderr and "run `make start` first" in proc.stderr, proc.stderr
    assert "controller (" in proc.stderr and "b-compute1 (" in proc.stderr, proc.stderr
    assert set(_lab_states(mh).values()) == {"shut off"}


def test_07e_start_brings_the_controller_first_then_ssh_on_every_node(mh, timings, mh_step):
    """`make start`: the controller, its SSH, then b-compute1 and its SSH (stopAfter answers: no Keystone, no Nova);
    each node booted anew (boot id), its prep not re-run, eth1 still up without an address."""
    mh.need("test_07b_stop_shuts_every_lab_domain_off_computes_first")
    start = time.monotonic()
    proc = power(mh.stack, mh.hosts.a, "start")
    timings.record("multihost_start_seconds", round(time.monotonic() - start, 1))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    starts = lines_naming(proc.stdout, ["virsh start"])
    assert len(starts) == 2 and "controller" in starts[0] and "b-compute1" in starts[1], starts
    answers = lines_naming(proc.stdout, ["SSH answers on"])
    assert len(answers) == 2 and "controller" in answers[0] and "b-compute1" in answers[1], answers
    assert "no Keystone or Nova to wait for" in proc.stdout
    assert set(_lab_states(mh).values()) == {"running"}
    _after_restart(mh)


def _after_restart(mh: MultiHost) -> None:
    for node, ip in LAB_NODES.items():
        assert mh.ssh(ip, "hostname -f").strip().split(".")[0] == node
        assert _boot_id(mh, ip) != mh.lab_boot_ids[node], f"{node} did not boot anew"
        assert _prep_runs(mh, ip) == 1, f"{node}: prep re-ran"
        addr = mh.ssh(ip, "ip -o addr show dev eth1; ip -o link show dev eth1")
        assert not re.search(r"eth1\s+inet", addr) and re.search(r"eth1: <[^>]*\bUP\b", addr), f"{node}: {addr}"


def test_07f_unordered_start_as_after_a_host_reboot_comes_back(mh, timings, mh_step):
    """A host's reboot: libvirtd starts every autostart domain at boot, one after the other, waiting for none to
    boot, so the controller gets no head start. Stand-in: the lab stopped, then b-compute1 started before the
    controller, at once; every node answers SSH again, booted anew, prep not re-run. (What Nova and OVN do on such
    a start is the README's "Host reboot" note.)"""
    mh.need("test_07e_start_brings_the_controller_first_then_ssh_on_every_node")
    mh.lab_boot_ids = {node: _boot_id(mh, ip) for node, ip in LAB_NODES.items()}
    assert power(mh.stack, mh.hosts.a, "stop").returncode == 0
    assert set(_lab_states(mh).values()) == {"shut off"}
    start = time.monotonic()
    for daemon in (mh.hosts.b, mh.hosts.a):  # computes first: the order the lab's start avoids
        for domain in (d for d in _domains(daemon) if d != EXTRA):
            daemon.virsh("start", domain)
    timings.record("multihost_unordered_start_ssh_seconds", wait_ssh(mh.stack, LAB_NODES.values(), RESTART_BOUND))
    log(f"unordered start: every lab node answered SSH after {time.monotonic() - start:.1f} s")
    _after_restart(mh)


def _inventory(daemon: PrivateLibvirtd) -> dict:
    volumes = []
    for pool in daemon.names("pool-list"):
        for line in daemon.virsh("vol-list", pool).splitlines():
            if line.strip():
                volumes.append(line.split()[-1])
    return {"domains": daemon.names("list"), "networks": daemon.names("net-list"),
            "pools": daemon.names("pool-list"), "volumes": volumes}


def test_08_destroy_leaves_nothing_on_either_host_and_extra1_untouched(mh, timings, mh_step):
    mh.need("test_01_up_across_two_hosts")
    stack = mh.stack
    before = {"A": _inventory(mh.hosts.a), "B": _inventory(mh.hosts.b)}
    volumes = before["A"]["volumes"] + before["B"]["volumes"]
    assert before["A"]["volumes"] and before["B"]["volumes"], f"no volumes listed before destroy: {before}"
    uuid = mh.existing.domain_id()
    start = time.monotonic()
    proc = stack.destroy(timeout=900)
    timings.record("multihost_destroy_seconds", round(time.monotonic() - start, 1))
    mh.stack = None  # nothing left for the teardown
    text = proc.stdout + proc.stderr
    said = [line for line in text.splitlines() if EXTRA in line]
    log(f"destroy on {EXTRA}: {said}")
    assert any(re.search(r"\b(left|leav\w*|untouched|as it is)\b", line, re.I) for line in said), \
        f"destroy does not say it left {EXTRA} as it is; lines naming it: {said}\n--- output (tail)\n{text[-3000:]}"

    after = {"A": _inventory(mh.hosts.a), "B": _inventory(mh.hosts.b)}
    assert after["A"] == {"domains": [], "networks": [], "pools": [], "volumes": []}, f"left on host A: {after['A']}"
    assert after["B"] == {"domains": [EXTRA], "networks": [], "pools": [], "volumes": []}, \
        f"left on host B: {after['B']}"
    left = [v for v in volumes if Path(v).exists()]
    assert left == [], f"volume files left: {left}"
    for pool in (mh.hosts.pool_a, mh.hosts.pool_b):
        assert not pool.exists(), f"pool dir left: {pool} ({sorted(p.name for p in pool.iterdir())})"

    # extra1: the same domain, still running, not rebooted, the test's file unchanged.
    assert mh.existing.state() == "running", f"{EXTRA} is {mh.existing.state()!r} after destroy"
    assert mh.existing.domain_id() == uuid, f"{EXTRA}'s domain was redefined"
    known = mh.key_file.parent / f"known_hosts.{EXTRA}"
    out = run(mh.hosts.a.ns(["ssh", "-i", str(mh.key_file), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                             "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", "-o", "StrictHostKeyChecking=yes",
                             "-o", f"UserKnownHostsFile={known}", f"root@{EXTRA_ADDRESS}",
                             f"sha256sum {UNTOUCHED}; cat /proc/sys/kernel/random/boot_id"]), timeout=120).stdout
    digest, _, boot_id = out.strip().partition("\n")
    assert digest.split()[0] == mh.untouched_sha256, f"{UNTOUCHED} on {EXTRA} changed"
    assert boot_id.strip() == mh.boot_id, f"{EXTRA} rebooted (boot_id {mh.boot_id} -> {boot_id.strip()})"

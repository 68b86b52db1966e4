"""Engine tier: the second host over real SSH (issue 19 item 3), no guest boot.

Host A and host B are private libvirtds (support.libvirtd), joined by support.lan.Lan (B has its own address on
the management LAN). Host B runs a real OpenSSH sshd (support.sshd: its own config, host key, login key and
authorized_keys, in B's network and mount namespaces, where libvirtd's socket is at its default path). The lab
reaches B as a user configures it: hosts[1].uri = qemu+ssh://root@<B>/system?keyfile=…&knownhosts=… (login key
and host key pinned, the provider's parameters; see lab/libvirt_ssh.py). Pulumi and the preflight run in host
A's namespace, so every libvirt call to B crosses the LAN and B's sshd.

In file order: the preflight's probes over that URI (B reachable, its memory and bridges, no problem); a host
key not trusted, only the host's ECDSA key known, a host not in known_hosts, a login key not authorized: each
one problem naming hosts[1] (b), the URI and the fix; `preview` and `up` with the untrusted key stop at that
problem and create nothing on either host; the libvirt provider on its own (a tiny program, no preflight)
refuses those keys too and accepts the pinned one; a real `up` of stopAfter=nodes places the controller on A
and b-compute1 on B (volumes uploaded over SSH), previews no change, and `destroy` leaves nothing on either host.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from support import ROOT, require
from support.lan import EXT_BRIDGE, MGMT_BRIDGE, Lan
from support.libvirtd import PrivateLibvirtd, make_qcow2, require_host
from support.program import VENV, copy_program, overlay_env, tiny_program
from support.pulumi import Workspace, require_toolchain
from support.sshd import COMMANDS as SSHD_COMMANDS, PACKAGES as SSHD_PACKAGES, PrivateSshd

MANAGEMENT_CIDR = "10.233.0.0/24"
EXTERNAL_CIDR = "10.233.1.0/24"
SMALL = {"vcpus": 1, "memoryMiB": 512, "diskGiB": 2}
HOST_FACTS = Path(__file__).with_name("host_facts.py")
OVERLAY = overlay_env("debian-test")  # allows the small nodes
PROVIDER_ONLY = textwrap.dedent('''\
    import pulumi
    import pulumi_libvirt as libvirt

    cfg = pulumi.Config()
    host_b = libvirt.Provider("libvirt-b", uri=cfg.require("uri"))
    libvirt.Pool("probe-pool", name="osl-ssh-probe", type="dir",
                 target=libvirt.PoolTargetArgs(path=cfg.require("path")), opts=pulumi.ResourceOptions(provider=host_b))
    ''')


@dataclass
class Hosts:
    a: PrivateLibvirtd
    b: PrivateLibvirtd
    lan: Lan
    sshd: PrivateSshd
    base: Path
    image: Path

    def config(self, uri_b: str) -> dict:
        """The lab's stack config: controller on A (its unix socket), one compute on B over `uri_b`."""
        return {
            "hosts": [{"name": "a", "uri": self.a.uri(), "computes": 0, "storagePoolPath": str(self.base / "pool-a")},
                      {"name": "b", "uri": uri_b, "computes": 1, "storagePoolPath": str(self.base / "pool-b")}],
            "network": {"mode": "bridge", "managementBridge": MGMT_BRIDGE, "externalBridge": EXT_BRIDGE,
                        "managementGateway": self.lan.management_gateway},
            "managementCidr": MANAGEMENT_CIDR, "externalCidr": EXTERNAL_CIDR,
            "externalGateway": self.lan.external_gateway,
            "hypervisor": "qemu", "baseImage": str(self.image), "stopAfter": "nodes",
            "controller": SMALL, "compute": SMALL,
        }

    def workspace(self, name: str, program: Path | None = None) -> Workspace:
        return Workspace(program or copy_program(self.base / f"proj-{name}"), self.base / f"state-{name}",
                         netns=self.a.netns, env=OVERLAY)

    def inventory(self) -> dict:
        """Every domain, network, pool and volume on each host (over the unix sockets: the test's own view)."""
        found = {}
        for label, daemon in (("A", self.a), ("B", self.b)):
            volumes = [line.split()[0] for pool in daemon.names("pool-list")
                       for line in daemon.virsh("vol-list", pool).splitlines() if line.strip()]
            found[label] = {"domains": daemon.names("list"), "networks": daemon.names("net-list"),
                            "pools": daemon.names("pool-list"), "volumes": volumes}
        return found

    def logins(self) -> int:
        """Logins B's sshd accepted from host A (its log)."""
        text = self.sshd.log.read_text(errors="replace") if self.sshd.log.exists() else ""
        return text.count(f"Accepted publickey for root from {self.lan.management_gateway} ")


EMPTY = {"domains": [], "networks": [], "pools": [], "volumes": []}


@pytest.fixture(scope="module")
def hosts():
    require_host(packages=SSHD_PACKAGES, commands=SSHD_COMMANDS)
    require_toolchain()
    base = Path(tempfile.mkdtemp(prefix="osl-engine-ssh-", dir="/tmp"))
    os.chmod(base, 0o755)  # libvirt/QEMU reach the pools and the image
    daemons = [PrivateLibvirtd(prefix="osl-esa"), PrivateLibvirtd(prefix="osl-esb")]
    started: list[PrivateLibvirtd] = []
    server = None
    try:
        for daemon in daemons:
            try:
                started.append(daemon.start())
            except RuntimeError as exc:
                require(False, f"libvirtd in a netns did not start: {exc}")
        lan = Lan(daemons[0].netns, daemons[1].netns, MANAGEMENT_CIDR, EXTERNAL_CIDR).create()
        server = PrivateSshd(daemons[1], lan.host_b_address, base / "sshd-b").start()
        image = make_qcow2(base / "base.qcow2")
        os.chmod(image, 0o644)
        yield Hosts(daemons[0], daemons[1], lan, server, base, image)
    finally:
        if server is not None:
            server.stop()
        for daemon in reversed(started):
            daemon.stop()
        shutil.rmtree(base, ignore_errors=True)


def preflight_in_a(hosts: Hosts, uri_b: str) -> dict:
    """The preflight as the program runs it, from host A's namespace: host B's facts and every fatal problem."""
    proc = subprocess.run(hosts.a.ns([str(VENV / "bin" / "python"), str(HOST_FACTS)]), cwd=ROOT, text=True,
                          input=json.dumps({"config": hosts.config(uri_b), "host": 1}), capture_output=True,
                          timeout=300, env={**os.environ, **OVERLAY})
    assert proc.returncode == 0, f"host_facts.py exited {proc.returncode}: {proc.stderr[-3000:]}"
    return json.loads(proc.stdout)


def test_preflight_probes_host_b_over_ssh(hosts):
    before = hosts.logins()
    got = preflight_in_a(hosts, hosts.sshd.uri())
    host = got["host"]
    assert host["reachable"] is True and host["error"] == "", host
    # B's own bridges (its namespace), seen through libvirt over SSH; its memory from B's libvirtd.
    assert dict(map(tuple, host["bridges"])) == {MGMT_BRIDGE: "bridge", EXT_BRIDGE: "bridge"}, host
    assert host["mem_available_mib"] and host["mem_available_mib"] > 0 and not host["mem_total_only"], host
    assert got["problems"] == {}, got["problems"]
    assert hosts.logins() > before, "B's sshd logged no login from host A: the probes did not go over SSH"


@pytest.mark.parametrize("case", ["another host key", "only its ECDSA key known", "host not in known_hosts",
                                  "login key not authorized"])
def test_a_host_not_trusted_is_one_problem_naming_it_and_the_fix(hosts, case):
    sshd = hosts.sshd
    if case == "another host key":
        uri, says = sshd.uri(sshd.untrusted_known_hosts()), ("is not trusted", str(sshd.untrusted_known_hosts()),
                                                             "has changed and you have requested strict checking")
    elif case == "only its ECDSA key known":  # the provider offers ed25519 first (lab/libvirt_ssh.py)
        uri, says = sshd.uri(sshd.ecdsa_known_hosts()), ("is not trusted", str(sshd.ecdsa_known_hosts()),
                                                         "Host key verification failed.")
    elif case == "host not in known_hosts":
        empty = sshd.directory / "known_hosts.empty"
        empty.write_text("")
        uri, says = sshd.uri(empty), ("is not trusted", f"ssh-keyscan -t ed25519 {sshd.address} >> {empty}",
                                      f"No ED25519 host key is known for {sshd.address}")
    else:
        stranger = sshd.directory / "id_stranger"
        if not stranger.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True, timeout=60)
        uri = sshd.uri().replace(f"keyfile={sshd.login_key}", f"keyfile={stranger}")
        says = ("refused the login key", str(stranger), "Permission denied (publickey)")
    problems = preflight_in_a(hosts, uri)["problems"]
    assert list(problems) == ["hosts[1] (b) libvirt"], problems
    detail = problems["hosts[1] (b) libvirt"]
    assert f"hosts[1].uri {uri}" in detail, detail
    for fragment in says:
        assert fragment in detail, f"{fragment!r} not in: {detail}"


@pytest.mark.parametrize("command", ["preview", "up"])
def test_an_untrusted_host_stops_preview_and_up_before_anything_is_created(hosts, command):
    untrusted = hosts.sshd.untrusted_known_hosts()
    stack = hosts.workspace(f"untrusted-{command}").create_stack(f"untrusted{command}")
    stack.set_config(hosts.config(hosts.sshd.uri(untrusted)))
    proc = stack.preview(check=False) if command == "preview" else stack.up(check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, f"{command} with an untrusted host key passed:\n{text[-3000:]}"
    lines = [line for line in text.splitlines() if "hosts[1] (b) libvirt" in line]
    assert lines, f"no problem names hosts[1] (b):\n{text[-3000:]}"
    print(f"{command} says: {lines[0].strip()}")  # what the user reads (pytest -rP shows it)
    assert f"the host key of {hosts.sshd.address} is not trusted" in lines[0] and str(untrusted) in lines[0], lines
    assert "1 problem(s)" in text, text[-3000:]
    assert hosts.inventory() == {"A": EMPTY, "B": EMPTY}
    assert not (hosts.base / "pool-a").exists() and not (hosts.base / "pool-b").exists()


def test_the_provider_itself_refuses_an_untrusted_host_key_and_accepts_the_pinned_one(hosts):
    """What the preflight's login reproduces, checked on the provider itself: the same two refusals."""
    program = tiny_program(hosts.base / "proj-provider", "engine-ssh-provider", PROVIDER_ONLY)
    stack = hosts.workspace("provider", program).create_stack("provider")
    stack.set_config({"engine-ssh-provider:path": str(hosts.base / "provider-pool")})
    for known_hosts in (hosts.sshd.untrusted_known_hosts(), hosts.sshd.ecdsa_known_hosts()):
        stack.set_config({"engine-ssh-provider:uri": hosts.sshd.uri(known_hosts)})
        proc = stack.up(check=False)
        text = proc.stdout + proc.stderr
        assert proc.returncode != 0, f"{known_hosts.name}: {text[-3000:]}"
        assert "knownhosts: key mismatch" in text and hosts.sshd.address in text, f"{known_hosts.name}: {text[-3000:]}"
        assert hosts.b.names("pool-list") == []
    with stack.config_changed({"engine-ssh-provider:uri": hosts.sshd.uri()}):
        stack.up()
        assert hosts.b.names("pool-list") == ["osl-ssh-probe"]
        stack.destroy()
    assert hosts.b.names("pool-list") == []


@pytest.fixture(scope="module")
def deployed(hosts):
    stack = hosts.workspace("lab").create_stack("enginessh")
    stack.set_config(hosts.config(hosts.sshd.uri()))
    before = hosts.logins()
    stack.up(timeout=1200)
    yield stack, before
    stack.destroy(check=False, timeout=1200)  # nothing left when test_destroy ran


def test_up_places_the_nodes_on_both_hosts_over_ssh(hosts, deployed):
    _, before = deployed
    found = hosts.inventory()
    assert [d.rsplit("-", 1)[-1] for d in found["A"]["domains"]] == ["controller"], found
    assert [d.rsplit("-", 2)[-2:] for d in found["B"]["domains"]] == [["b", "compute1"]], found
    assert found["B"]["volumes"], f"no volume on host B: {found}"  # base image, disk, cloud-init: over SSH
    assert not [v for v in found["A"]["volumes"] if "compute1" in v], found
    assert hosts.logins() > before, "B's sshd logged no login from host A during up"


def test_no_change_preview_over_ssh_is_clean(deployed):
    stack, _ = deployed
    stack.preview("--expect-no-changes")


def test_destroy_over_ssh_leaves_nothing_on_either_host(hosts, deployed):
    stack, _ = deployed
    stack.destroy(timeout=1200)
    assert hosts.inventory() == {"A": EMPTY, "B": EMPTY}
    assert not (hosts.base / "pool-b").exists(), sorted(p.name for p in (hosts.base / "pool-b").iterdir())

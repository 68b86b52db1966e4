"""tools/lifecycle/revert.py (`make revert SNAPSHOT=name`) against fakes: the fake virsh (conftest.fake_virsh), the
stack read through a faked Pulumi CLI (harness.FakePulumi), `pulumi refresh` a script that records its argv, and a
Keystone on 127.0.0.1. Every node reverted while all are paused, resumed together, clocks set, then the refresh;
refused while a pulumi of the stack runs; a missing snapshot named with the ones that exist."""
import http.server
import json
import threading

import pytest

from harness import FakePulumi, entry
from tools.lifecycle import revert as revert_tool
from tools.recovery.messages import Failure
from tools.verify.stack import StackReader

DOMAINS = ("openstack-lab-alice-controller", "openstack-lab-alice-compute1", "openstack-lab-alice-compute2")
CONFIG = {"hypervisor": entry("qemu"), "baseImage": entry("https://images.example/el9.qcow2"),
          "stopAfter": entry("prep"), "snapshots": entry(["installed"])}
OUTPUTS = {"nodes": {"controller": "10.209.0.10", "compute1": "10.209.0.11", "compute2": "10.209.0.12"},
           "knownHosts": "10.209.0.10 ssh-ed25519 AAAAc\n", "sshPrivateKey": "[secret]"}
KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
URN = ("urn:pulumi:alice::openstack-lab::openstack-lab:lab:OpenStackLab$openstack-lab:lab:LabNode"
       "$libvirt:index/domain:Domain::")
# The stack's state as `pulumi stack export` prints it: the three domains among the rest.
EXPORTED = [*({"urn": f"{URN}{d.rsplit('-', 1)[1]}-domain", "type": "libvirt:index/domain:Domain",
               "outputs": {"name": d, "running": True}} for d in DOMAINS),
            {"urn": "urn:pulumi:alice::openstack-lab::libvirt:index/cloudInitDisk:CloudInitDisk::controller-cloudinit",
             "type": "libvirt:index/cloudInitDisk:CloudInitDisk", "outputs": {"name": "controller-cloudinit.iso"}}]


@pytest.fixture
def stack(tmp_path, monkeypatch, fake_virsh):
    """A project dir and file backend holding stack alice, a recording `pulumi`, three running domains (with a guest
    agent: their clocks go through domtime) holding snapshot `installed`."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: openstack-lab\nruntime: python\n")
    state = tmp_path / "backend" / ".pulumi" / "stacks" / "openstack-lab"
    state.mkdir(parents=True)
    (state / "alice.json").write_text("{}")
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{tmp_path / 'backend'}")
    recorded = tmp_path / "pulumi-argv.json"
    exported = tmp_path / "export.json"
    exported.write_text(json.dumps({"deployment": {"resources": EXPORTED}}))
    cli = tmp_path / "pulumi"
    cli.write_text(f"#!/bin/sh\ncase \" $* \" in *\" stack export \"*) cat {exported}; exit 0;; esac\n"
                   f"printf '%s\\n' \"$@\" >> {recorded}\n")
    cli.chmod(0o755)
    monkeypatch.setenv("PULUMI_CLI", str(cli))
    fake_virsh.domains(**{d.replace("-", "_"): {"snapshots": ["installed", "other"], "agent": True}
                          for d in DOMAINS})
    return project, recorded


def reader(project, config=CONFIG):
    return StackReader("alice", project, run=FakePulumi(config, OUTPUTS, {"sshPrivateKey": KEY}))


def test_revert_pauses_all_reverts_each_resumes_all_sets_clocks_then_refreshes(stack, fake_virsh, capsys):
    project, recorded = stack
    assert revert_tool.revert("alice", "installed", project, reader(project)) == 0
    asks = ("domstate", "snapshot-list", "snapshot-info", "dumpxml")
    calls = [(verb, args[args.index("--domain") + 1] if "--domain" in args else args[0])
             for _, verb, *args in fake_virsh.calls() if verb not in asks]
    assert calls[:9] == [*(("suspend", d) for d in DOMAINS), *(("snapshot-revert", d) for d in DOMAINS),
                         *(("resume", d) for d in DOMAINS)]
    assert sorted(calls[9:]) == sorted(("domtime", d) for d in DOMAINS)  # the clocks: one node each, in parallel
    assert all(call[-1] == "--paused" for call in fake_virsh.calls("snapshot-revert"))
    domains = fake_virsh.read()["domains"]
    assert {d: (s["state"], s["reverted_to"], s["synced"]) for d, s in domains.items()} == \
        {d: ("running", "installed", True) for d in DOMAINS}
    # Only the domains are refreshed (a CloudInitDisk's refresh downloads its ISO: it once hung over qemu+ssh).
    targets = [arg for r in EXPORTED[:3] for arg in ("--target", r["urn"])]
    assert recorded.read_text().split() == ["--non-interactive", "--color", "never", "refresh", "--yes",
                                            "--skip-preview", *targets, "--stack", "alice"]
    out = capsys.readouterr().out
    assert "controller: clock set to this host's time by guest agent (domtime --sync)" in out
    assert "stack alice reverted to snapshot installed in" in out and "(revert " in out and "refresh " in out
    assert "keystone" not in out  # stopAfter prep: no Packstack, no Keystone to wait for


def test_a_missing_snapshot_is_named_with_the_ones_that_exist_and_nothing_changes(stack, fake_virsh):
    project, recorded = stack
    with pytest.raises(Failure) as err:
        revert_tool.revert("alice", "nope", project, reader(project))
    assert err.value.code == 1
    assert str(err.value).startswith("snapshot nope does not exist on controller, compute1, compute2; "
                                     "this lab's snapshots: installed, other")
    assert not fake_virsh.calls("suspend") and not fake_virsh.calls("snapshot-revert") and not recorded.exists()


def test_a_snapshot_on_some_nodes_only_names_the_others(stack, fake_virsh):
    project, _ = stack
    state = fake_virsh.read()
    state["domains"]["openstack-lab-alice-compute2"]["snapshots"] = ["other"]
    fake_virsh.write(state)
    with pytest.raises(Failure, match="snapshot installed does not exist on compute2; this lab's snapshots: other"):
        revert_tool.revert("alice", "installed", project, reader(project))


def test_a_failed_revert_resumes_every_node(stack, fake_virsh):
    project, recorded = stack
    fake_virsh.update(fail={"snapshot-revert": "openstack-lab-alice-compute1"})
    with pytest.raises(Failure, match="reverting to installed: .*injected") as err:
        revert_tool.revert("alice", "installed", project, reader(project))
    assert err.value.code == 1 and not recorded.exists()
    assert {s["state"] for s in fake_virsh.read()["domains"].values()} == {"running"}


def test_refused_while_a_pulumi_of_the_stack_runs(stack, fake_virsh, monkeypatch):
    project, _ = stack
    monkeypatch.setattr("tools.recovery.run.running_clis", lambda url, name: [(4242, "pulumi up --stack alice")])
    with pytest.raises(Failure, match="pid 4242: pulumi up --stack alice") as err:
        revert_tool.revert("alice", "installed", project, reader(project))
    assert err.value.code == 2 and fake_virsh.calls() == []


def test_a_killed_runs_lock_asks_for_make_recover(stack, tmp_path, fake_virsh):
    project, _ = stack
    locks = tmp_path / "backend" / ".pulumi" / "locks" / "organization" / "openstack-lab" / "alice"
    locks.mkdir(parents=True)
    (locks / "x.json").write_text(json.dumps({"pid": 999999, "hostname": "elsewhere", "username": "bob"}))
    with pytest.raises(Failure, match="locked by bob@elsewhere") as err:
        revert_tool.revert("alice", "installed", project, reader(project))
    assert err.value.code == 2 and fake_virsh.calls() == []


class Keystone(http.server.BaseHTTPRequestHandler):
    answers: list = []

    def do_GET(self):
        self.send_response(self.answers.pop(0) if self.answers else 300)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_keystone_is_awaited_until_it_answers_and_the_wait_is_bounded():
    server = http.server.HTTPServer(("127.0.0.1", 0), Keystone)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/v3"
    try:
        Keystone.answers = [503, 502]
        pauses = []
        revert_tool.wait_keystone(url, 60, sleep=pauses.append)
        assert pauses == [revert_tool.KEYSTONE_PAUSE_S] * 2
        Keystone.answers = [503] * 10
        with pytest.raises(Failure, match=r"did not answer within 1 s \(keystoneTimeout\): HTTP 503"):
            revert_tool.wait_keystone(url, 1, sleep=lambda s: None)
    finally:
        server.shutdown()


def test_a_node_snapshotted_while_shut_off_is_reverted_off_and_left_off(stack, fake_virsh, capsys):
    project, recorded = stack
    state = fake_virsh.read()
    for name, dom in state["domains"].items():
        dom["taken_in"] = {"installed": "shut off" if name.endswith("compute2") else "paused"}
    fake_virsh.write(state)
    assert revert_tool.revert("alice", "installed", project, reader(project)) == 0
    reverts = {call[3]: call[6:] for call in fake_virsh.calls("snapshot-revert")}
    assert reverts == {"openstack-lab-alice-controller": ["--paused"], "openstack-lab-alice-compute1": ["--paused"],
                       "openstack-lab-alice-compute2": []}
    domains = fake_virsh.read()["domains"]
    assert {d: s["state"] for d, s in domains.items()} == {
        "openstack-lab-alice-controller": "running", "openstack-lab-alice-compute1": "running",
        "openstack-lab-alice-compute2": "shut off"}
    assert "synced" not in domains["openstack-lab-alice-compute2"]
    assert "compute2: shut off in the snapshot, left off (make start)" in capsys.readouterr().out
    assert recorded.exists()


def test_a_state_without_a_reverted_domain_is_one_failure_naming_the_way_out(stack):
    project, recorded = stack
    (recorded.parent / "export.json").write_text(json.dumps({"deployment": {"resources": EXPORTED[1:]}}))
    with pytest.raises(Failure, match=r"the state holds 2 of the 3 reverted domains .*run `make up`"):
        revert_tool.revert("alice", "installed", project, reader(project))
    assert not recorded.exists()  # no refresh ran

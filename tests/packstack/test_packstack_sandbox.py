"""The sandbox itself (dryrun_sandbox.py, sandbox.sh): inside, /root, /var/tmp and /run are the scratch, the
lab's names resolve from its /etc/hosts with no resolver but 127.0.0.1, everything else is read-only, and
the nodes' sshd runs the stand-ins per address; a sandbox that cannot be made stops before anything runs."""
from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from lab.plan import plan

from answer_sets import lab_config
from dryrun import require_tier
from dryrun_nodes import write_nodes
from dryrun_sandbox import SandboxError, sandbox

SSH = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
       "-o", "ConnectTimeout=10"]


@pytest.fixture(scope="module")
def lab_plan():
    require_tier()
    return plan(lab_config({}))


def open_sandbox(lab_plan, scratch: Path, **kwargs):
    nodes = write_nodes(scratch / "nodes", lab_plan) if not (scratch / "nodes").exists() else scratch / "nodes"
    prefix = ipaddress.ip_network(lab_plan.management.cidr).prefixlen
    return sandbox(scratch, lab_plan.host_entries, lab_plan.management.gateway, prefix,
                   {"STANDIN_NODES": str(nodes)}, **kwargs)


def test_inside_only_the_scratch_is_writable_and_names_stay_inside(lab_plan, tmp_path):
    scratch = tmp_path / "box"
    scratch.mkdir(mode=0o700)
    probe = Path("/etc/osl-packstack-sandbox-probe")
    with open_sandbox(lab_plan, scratch) as box:
        wrote = box.run(["bash", "-c", "echo x > /root/probe && echo x > /var/tmp/probe"], "scratch writes", 30)
        assert wrote.returncode == 0, wrote.stdout
        refused = box.run(["touch", str(probe)], "a write outside the scratch", 30)
        assert refused.returncode != 0 and "Read-only file system" in refused.stdout
        assert box.run(["cat", "/etc/resolv.conf"], "resolv.conf", 30).stdout == "nameserver 127.0.0.1\n"
        controller = lab_plan.controller
        looked_up = box.run(["getent", "hosts", controller.fqdn], "a lab name", 30).stdout.split()
        assert looked_up[:1] == [controller.management_ip]
        route = box.run(["ip", "route", "show", "default"], "the default route", 30).stdout
        assert f"default via {lab_plan.management.gateway}" in route
    assert (scratch / "root" / "probe").read_text() == "x\n" and (scratch / "var-tmp" / "probe").exists()
    assert not probe.exists()


def test_sshd_answers_on_every_node_address_with_that_nodes_stand_ins(lab_plan, tmp_path):
    scratch = tmp_path / "box"
    scratch.mkdir(mode=0o700)
    with open_sandbox(lab_plan, scratch) as box:
        made = box.run(["bash", "-c", "install -d -m 0700 /root/.ssh && ssh-keygen -q -t ed25519 -N '' -f "
                        "/root/.ssh/id_ed25519 && cp /root/.ssh/id_ed25519.pub /root/.ssh/authorized_keys"],
                       "root's key, trusted", 30)
        assert made.returncode == 0, made.stdout
        for node in lab_plan.nodes:
            out = box.run([*SSH, f"root@{node.management_ip}", "facter -p"], f"facter over SSH on {node.name}", 60)
            assert f"hostname => {node.name}\n" in out.stdout, out.stdout


def test_a_sandbox_whose_mounts_fail_stops_before_anything_runs(lab_plan, tmp_path):
    scratch = tmp_path / "box"
    scratch.mkdir(mode=0o700)
    with pytest.raises(SandboxError, match="stopped before anything ran: .*SANDBOX_KEEP"):
        with open_sandbox(lab_plan, scratch, keep=("/root/no-such-interpreter-dir",)):
            pytest.fail("a command could have run")
    assert not (scratch / "ready").exists()

"""The stand-ins for the EL9 tools (tests/packstack/standins/) on their own: each answers for the node the
SSH session came in on (or the controller, for Packstack's local steps) and fails loudly on a call it does
not model, so a new Packstack step shows up instead of passing."""
from __future__ import annotations

import os
import subprocess

import pytest

from lab.plan import plan

from answer_sets import lab_config
from dryrun_nodes import EL9_KERNEL, copied_modules, write_nodes
from dryrun import packstack_package, require_tier
from dryrun_sandbox import STANDINS


@pytest.fixture
def nodes(tmp_path):
    lab_plan = plan(lab_config({"controller": {"dataDisksGiB": [40, 20]}}))
    return lab_plan, write_nodes(tmp_path / "nodes", lab_plan)


def standin(nodes_dir, argv, address=None):
    env = {"PATH": os.environ["PATH"], "STANDIN_NODES": str(nodes_dir)}
    if address:
        env["SSH_CONNECTION"] = f"10.0.0.1 50000 {address} 22"
    return subprocess.run([str(STANDINS / argv[0]), *argv[1:]], capture_output=True, text=True, env=env, timeout=30)


def test_facter_answers_for_the_node_the_session_came_in_on(nodes):
    lab_plan, nodes_dir = nodes
    for node in lab_plan.nodes:
        out = standin(nodes_dir, ["facter", "-p"], node.management_ip)
        facts = dict(line.split(" => ", 1) for line in out.stdout.splitlines())
        assert (facts["hostname"], facts["ipaddress_eth0"], facts["fqdn"]) == (node.name, node.management_ip, node.fqdn)
        assert facts["operatingsystemmajrelease"] == "9" and facts["osfamily"] == "RedHat"
    local = standin(nodes_dir, ["facter", "-p"])
    assert f"hostname => {lab_plan.controller.name}" in local.stdout


def test_vgdisplay_finds_cinder_volumes_only_where_the_lab_makes_it(nodes):
    lab_plan, nodes_dir = nodes
    controller, compute = lab_plan.nodes[0].management_ip, lab_plan.nodes[1].management_ip
    assert standin(nodes_dir, ["vgdisplay", "cinder-volumes"], controller).returncode == 0
    missing = standin(nodes_dir, ["vgdisplay", "cinder-volumes"], compute)
    assert missing.returncode == 5 and 'Volume group "cinder-volumes" not found' in missing.stderr
    no_disks = plan(lab_config({}))
    other = write_nodes(nodes_dir.parent / "plain", no_disks)
    assert standin(other, ["vgdisplay", "cinder-volumes"], no_disks.controller.management_ip).returncode == 5


def test_rpm_answers_packstacks_queries(nodes):
    lab_plan, nodes_dir = nodes
    ip = lab_plan.controller.management_ip
    provides = standin(nodes_dir, ["rpm", "-q", "--whatprovides", "puppet", "tar"], ip)
    assert provides.returncode == 0 and len(provides.stdout.splitlines()) == 2
    assert standin(nodes_dir, ["rpm", "-q", "kernel", "--last"], ip).stdout.startswith(EL9_KERNEL + " ")
    assert "centos-release-openstack-epoxy" in standin(nodes_dir, ["rpm", "-qa"], ip).stdout
    assert standin(nodes_dir, ["rpm", "-q", "centos-release-openstack-epoxy"], ip).returncode == 0
    absent = standin(nodes_dir, ["rpm", "-q", "rdo-release"], ip)
    assert absent.returncode == 1 and "package rdo-release is not installed" in absent.stdout


@pytest.mark.parametrize("argv", [["rpm", "-e", "kernel"], ["yum", "remove", "x"], ["facter", "os"],
                                  ["puppet", "apply", "x.pp"], ["vgdisplay"]])
def test_a_call_the_stand_ins_do_not_model_fails_loudly(nodes, argv):
    lab_plan, nodes_dir = nodes
    out = standin(nodes_dir, argv, lab_plan.controller.management_ip)
    assert out.returncode == 2 and "unsupported call" in out.stderr


def test_puppet_names_a_hiera_config_of_the_node(nodes):
    lab_plan, nodes_dir = nodes
    ip = lab_plan.controller.management_ip
    out = standin(nodes_dir, ["puppet", "config", "print", "hiera_config"], ip)
    assert out.stdout.strip() == str(nodes_dir / ip / "hiera.yaml")
    assert ":datadir:" in (nodes_dir / ip / "hiera.yaml").read_text()


def test_packstacks_module_list_is_read_from_its_puppet_plugin():
    require_tier()
    modules = copied_modules(packstack_package() / "plugins" / "puppet_950.py")
    assert "packstack" in modules and "nova" in modules and "vswitch" in modules and len(modules) > 30

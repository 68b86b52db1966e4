"""How `make verify` reads its stack (tools/verify/stack.py) through a faked Pulumi CLI, and what it then
expects (a lab's computes and nodes from the `nodes` output, names from the plan, Cinder's backend, the
existing-cloud mode); the clouds.yaml login (tools/verify/cloud.py) and the ssh/ping argv (guest.py).
Secrets reach the checker only through the CLI's stdout (never argv) and a failing command's stdout is
never shown."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from harness import FakePulumi, entry
from tools.verify.cloud import CloudsYamlError, read_login
from tools.verify.guest import HostGuest
from tools.verify.stack import StackError, StackReader, expectations
from verify_fake import PASSWORD

PREFIX = "openstack-lab-alice"
CLOUDS = ("clouds:\n  openstack-lab-alice:\n    auth:\n      auth_url: http://10.209.0.10:5000/v3\n"
          f"      username: admin\n      password: {PASSWORD}\n      project_name: admin\n"
          "      user_domain_name: Default\n      project_domain_name: Default\n    region_name: RegionOne\n")
KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"


@pytest.fixture
def project(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: openstack-lab\nruntime: python\n")
    return tmp_path


LAB_OUTPUTS = {"nodes": {"controller": "10.209.0.10", "compute1": "10.209.0.11", "compute2": "10.209.0.12"},
               "cloudsYaml": "[secret]", "sshPrivateKey": "[secret]", "adminPassword": "[secret]"}


def read(project, config, outputs=LAB_OUTPUTS, secrets=None, fail=None, key_needed=True):
    fake = FakePulumi(config, outputs, secrets or {"cloudsYaml": CLOUDS, "sshPrivateKey": KEY}, fail,
                      failing_stdout=f"{PASSWORD}\n")
    facts = StackReader("alice", project, run=fake).read(key_needed=key_needed)
    return facts, fake


def test_a_lab_stack_is_read_and_expected_from_its_outputs_and_plan(project):
    facts, fake = read(project, {"computeCount": entry("2"), "controller": entry({"dataDisksGiB": [40, 20]})})
    assert facts.clouds_yaml == CLOUDS and facts.private_key == KEY
    assert PASSWORD not in repr(facts) and "PRIVATE KEY" not in repr(facts)
    # Secrets come out of the stdout of three --show-secrets calls (the config, two outputs); no argv holds one.
    shown = [argv[2:-2] for argv in fake.argvs if "--show-secrets" in argv]
    output = ["stack", "output", "--json", "--show-secrets"]
    assert shown == [["config", "--json", "--show-secrets"], output + ["cloudsYaml"], output + ["sshPrivateKey"]]
    assert all(PASSWORD not in " ".join(argv) and "PRIVATE" not in " ".join(argv) for argv in fake.argvs)
    expect = expectations(facts)
    assert expect.computes == ("compute1", "compute2")
    assert expect.network_nodes == ("controller", "compute1", "compute2")
    assert (expect.prefix, expect.l2_agent, expect.existing_cloud) == (PREFIX, "ovn", False)
    assert (expect.private_network, expect.external_network, expect.router) == (
        f"{PREFIX}-private", f"{PREFIX}-external", f"{PREFIX}-router")
    assert expect.boot.image == f"{PREFIX}-cirros-0.6.3-x86_64-disk" and expect.boot.login_user == "cirros"
    assert (expect.boot.keypair, expect.boot.security_group) == (f"{PREFIX}-key", f"{PREFIX}-demo")
    assert expect.cinder and expect.swift
    assert expect.cinder_backend == "LVM group cinder-volumes on the controller's data disk /dev/vdb"
    assert expect.targets == ("compute1", "compute2")


def test_all_in_one_and_openvswitch_and_no_cinder(project):
    facts, _ = read(project, {"computeCount": entry("0"), "l2Agent": entry("openvswitch"),
                              "packstackAnswers": entry({"CONFIG_CINDER_INSTALL": "n"})},
                    outputs={**LAB_OUTPUTS, "nodes": {"controller": "10.209.0.10"}})
    expect = expectations(facts)
    assert expect.computes == ("controller",) and expect.network_nodes == ("controller",)
    assert expect.agent_types == ("Open vSwitch agent",)
    assert expect.cinder is False and expect.cinder_backend == ""


def test_stop_after_networking_declares_nothing_to_boot(project):
    facts, fake = read(project, {"stopAfter": entry("networking")})
    expect = expectations(facts)
    assert expect.boot is None and expect.private_network == f"{PREFIX}-private"
    assert facts.private_key is None
    assert not any("sshPrivateKey" in argv for argv in fake.argvs), "read a key nothing will use"


def test_a_configured_login_pair_is_read_from_the_config(project):
    private = ed25519.Ed25519PrivateKey.generate()
    key = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption()).decode()
    public = private.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                               serialization.PublicFormat.OpenSSH).decode()
    facts, fake = read(project, {"sshPublicKey": entry(f"{public} me"), "sshPrivateKey": entry(key, secret=True)},
                       outputs={k: v for k, v in LAB_OUTPUTS.items() if k != "sshPrivateKey"},
                       secrets={"cloudsYaml": CLOUDS})
    assert facts.private_key == key
    assert key in facts.secrets and "PRIVATE" not in repr(facts)


def test_the_users_own_demo_key_is_not_read(project):
    facts, _ = read(project, {"demo": entry({"publicKey": "ssh-ed25519 AAAAC3Nza mine"})})
    assert facts.private_key is None
    facts, fake = read(project, {}, key_needed=False)
    assert facts.private_key is None and not any("sshPrivateKey" in argv for argv in fake.argvs)


def test_an_existing_cloud_expects_what_exists(project):
    config = {"cloud": entry({"authUrl": "https://keystone.example:5000/v3"}),
              "cloudPassword": entry(PASSWORD, secret=True)}
    facts, _ = read(project, config, outputs={"cloudsYaml": "[secret]", "sshPrivateKey": "[secret]"})
    assert PASSWORD in facts.secrets and PASSWORD not in repr(facts)
    expect = expectations(facts)
    assert expect.existing_cloud and expect.computes == () and expect.network_nodes == ()
    assert expect.l2_agent is None and len(expect.agent_types) == 4
    assert expect.cinder is None and expect.swift is None
    assert expect.targets == ("instance",)


def test_a_stack_without_cloudsyaml_says_run_make_up(project):
    with pytest.raises(StackError, match=r"stack alice has no cloudsYaml output yet: run `make up`"):
        read(project, {}, outputs={"nodes": LAB_OUTPUTS["nodes"]})


def test_a_failing_pulumi_shows_its_stderr_never_its_stdout(project):
    with pytest.raises(StackError) as err:
        read(project, {}, fail="--show-secrets")
    assert "error: no stack named 'alice' found" in str(err.value) and PASSWORD not in str(err.value)


def test_a_config_that_does_not_parse_is_one_message(project):
    with pytest.raises(StackError, match="the stack's config does not parse: (.|\n)*computeCount: -1 is negative"):
        read(project, {"computeCount": entry("-1")})


def test_clouds_yaml_login_and_its_errors_never_quote_the_text():
    login = read_login(CLOUDS, PREFIX)
    assert login.password == PASSWORD and login.auth_url == "http://10.209.0.10:5000/v3"
    assert PASSWORD not in repr(login)
    for text, message in ((f"clouds: [{PASSWORD}", "not valid YAML"), (f"x: {PASSWORD}", "no `clouds` mapping"),
                          (CLOUDS.replace(f"password: {PASSWORD}", "password: ''"), "lacks auth.password")):
        with pytest.raises(CloudsYamlError) as err:
            read_login(text, PREFIX)
        assert message in str(err.value) and PASSWORD not in str(err.value)
    with pytest.raises(CloudsYamlError, match="no cloud 'other'"):
        read_login(CLOUDS, "other")


def test_guest_ssh_and_ping_argv(tmp_path):
    calls = []

    def run(argv, **kw):
        calls.append((argv, kw))
        return subprocess.CompletedProcess(argv, 0, "host\n", "")

    guest = HostGuest(tmp_path / "key", tmp_path / "known_hosts", run=run)
    assert guest.ping("10.209.1.130")
    reply = guest.ssh("10.209.1.130", "cirros", "sh -s", stdin="echo hi\n")
    assert reply.code == 0 and reply.output == "host\n"
    assert calls[0][0] == ["ping", "-c", "1", "-W", "2", "10.209.1.130"]
    argv, kw = calls[1]
    assert argv[-2:] == ["cirros@10.209.1.130", "sh -s"] and kw["input"] == "echo hi\n"
    for option in ("BatchMode=yes", "StrictHostKeyChecking=accept-new", f"UserKnownHostsFile={tmp_path}/known_hosts",
                   "IdentitiesOnly=yes"):
        assert option in argv
    assert argv[argv.index("-i") + 1] == str(tmp_path / "key")
    no_key = HostGuest(None, Path("/k"), run=run)
    no_key.ssh("a", "cirros", "true")
    assert "-i" not in calls[-1][0] and "ssh's own keys" in no_key.key_note

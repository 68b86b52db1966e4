"""scripts/: shellcheck clean, and run for real against temp dirs with fake tools on PATH."""
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from harness import SCRIPTS, run_script
from labtest import require

OVERLAY = Path(__file__).resolve().parents[2] / "tests" / "support" / "overlay"  # the test overlay's own scripts
GUEST = SCRIPTS / "guest"  # run inside OpenStack servers (CirrOS: busybox sh, no bash), e.g. by make verify
PACKSTACK_TIER = Path(__file__).resolve().parents[2] / "tests" / "packstack"  # its sandbox and EL9 stand-ins


def packstack_tier_scripts():
    """The Packstack tier's shell: its *.sh and the stand-ins (named as the EL9 tools they stand in for)."""
    standins = PACKSTACK_TIER / "standins"
    return [*PACKSTACK_TIER.glob("*.sh"), *(p for p in standins.iterdir() if p.is_file())]


def test_every_script_passes_shellcheck():
    require(shutil.which("shellcheck") is not None, "shellcheck is not installed (make deps installs it)")
    libraries = list((PACKSTACK_TIER / "standins" / "lib").glob("*.sh"))  # sourced by the stand-ins
    scripts = sorted(str(p) for p in [*SCRIPTS.glob("*.sh"), *OVERLAY.glob("*.sh"), *packstack_tier_scripts(),
                                      *libraries, *GUEST.glob("*.sh")])
    assert len(scripts) >= 9 and len(packstack_tier_scripts()) >= 7
    result = subprocess.run(["shellcheck", "-x", *scripts], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_script_is_strict_bash():
    for script in [*SCRIPTS.glob("*.sh"), *OVERLAY.glob("*.sh"), *packstack_tier_scripts()]:
        text = script.read_text()
        assert text.startswith("#!/usr/bin/env bash\n"), script.name
        assert "set -euo pipefail" in text, script.name


def test_every_guest_script_is_strict_posix_sh():
    require(shutil.which("shellcheck") is not None, "shellcheck is not installed (make deps installs it)")
    scripts = list(GUEST.glob("*.sh"))
    assert scripts, "no guest script found"
    for script in scripts:
        text = script.read_text()
        assert text.startswith("#!/bin/sh\n") and "\nset -eu\n" in text, script.name
        result = subprocess.run(["shellcheck", "--shell=sh", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout


FAKE_PACKSTACK = r'''
case "$1" in
  --gen-answer-file=*)
    echo "generated" >> "$PACKSTACK_CALLS"
    printf '%s\n' '[general]' '# comment' CONFIG_CONTROLLER_HOST=127.0.0.1 CONFIG_COMPUTE_HOSTS=127.0.0.1 \
      EXCLUDE_SERVERS= CONFIG_KEYSTONE_ADMIN_PW=random1 CONFIG_PROVISION_DEMO=y > "${1#--gen-answer-file=}";;
  --version) echo "packstack 26.0.0";;
esac
'''


def answers_env(tmp_path):
    return {"LAB_ANSWER_DIR": str(tmp_path / "answers"), "PACKSTACK_CALLS": str(tmp_path / "calls")}


def test_answer_edits_land_in_the_generated_file(tmp_path):
    edits = "CONFIG_COMPUTE_HOSTS=10.0.0.11,10.0.0.12\nCONFIG_KEYSTONE_ADMIN_PW=s3cret\nCONFIG_PROVISION_DEMO=n\n"
    result = run_script("packstack-answers.sh", tmp_path, answers_env(tmp_path), edits, {"packstack": FAKE_PACKSTACK})
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "answers" / "answers.txt").read_text()
    assert "CONFIG_COMPUTE_HOSTS=10.0.0.11,10.0.0.12\n" in text
    assert "CONFIG_KEYSTONE_ADMIN_PW=s3cret\n" in text and "random1" not in text
    assert "CONFIG_PROVISION_DEMO=n\n" in text
    assert "[general]\n# comment\n" in text  # untouched lines kept
    assert "s3cret" not in result.stdout + result.stderr
    assert stat.S_IMODE((tmp_path / "answers" / "answers.txt").stat().st_mode) == 0o600
    assert list((tmp_path / "answers").glob("edits.*")) == []  # the secret edits do not linger


def test_answer_file_is_generated_once_and_second_run_changes_nothing(tmp_path):
    edits = "CONFIG_PROVISION_DEMO=n\n"
    fakes = {"packstack": FAKE_PACKSTACK}
    first = run_script("packstack-answers.sh", tmp_path, answers_env(tmp_path), edits, fakes)
    before = (tmp_path / "answers" / "answers.txt").stat().st_mtime_ns
    second = run_script("packstack-answers.sh", tmp_path, answers_env(tmp_path), edits, fakes)
    assert first.returncode == second.returncode == 0
    assert "unchanged" in second.stdout
    assert (tmp_path / "answers" / "answers.txt").stat().st_mtime_ns == before
    assert (tmp_path / "calls").read_text().count("generated") == 1


def test_unknown_answer_key_fails_loudly(tmp_path):
    result = run_script("packstack-answers.sh", tmp_path, answers_env(tmp_path), "CONFIG_TYPO=1\n",
                 {"packstack": FAKE_PACKSTACK})
    assert result.returncode != 0
    assert "unknown answer key: CONFIG_TYPO" in result.stderr


# Scale-out: the answer file keeps Packstack's empty EXCLUDE_SERVERS (prescript's option, written into [general]
# by --gen-answer-file), so every run covers every server; an earlier lab's exclusion goes (issue 17 item 4).
TWO = "CONFIG_CONTROLLER_HOST=10.0.0.10\nCONFIG_COMPUTE_HOSTS=10.0.0.11,10.0.0.12\nCONFIG_PROVISION_DEMO=n\n"
THREE = ("CONFIG_CONTROLLER_HOST=10.0.0.10\nCONFIG_COMPUTE_HOSTS=10.0.0.11,10.0.0.12,10.0.0.13\n"
         "CONFIG_PROVISION_DEMO=n\n")


def answer_lines(tmp_path):
    return (tmp_path / "answers" / "answers.txt").read_text().splitlines()


def run_answers(tmp_path, edits):
    return run_script("packstack-answers.sh", tmp_path, answers_env(tmp_path), edits, {"packstack": FAKE_PACKSTACK})


def test_a_scale_outs_answer_file_excludes_no_server(tmp_path):
    assert run_answers(tmp_path, TWO).returncode == 0
    result = run_answers(tmp_path, THREE)
    assert result.returncode == 0, result.stderr
    assert "CONFIG_COMPUTE_HOSTS=10.0.0.11,10.0.0.12,10.0.0.13" in answer_lines(tmp_path)
    assert [line for line in answer_lines(tmp_path) if line.startswith("EXCLUDE_SERVERS")] == ["EXCLUDE_SERVERS="]
    assert "answer file written" in result.stdout


def test_an_earlier_labs_exclusion_goes_back_to_packstacks_empty_default(tmp_path):
    # the answer file an earlier lab left after its scale-out: the old computes excluded
    earlier = run_answers(tmp_path, THREE + "EXCLUDE_SERVERS=10.0.0.11,10.0.0.12\n")
    assert earlier.returncode == 0 and "EXCLUDE_SERVERS=10.0.0.11,10.0.0.12" in answer_lines(tmp_path)
    result = run_answers(tmp_path, THREE)
    assert result.returncode == 0, result.stderr
    assert [line for line in answer_lines(tmp_path) if line.startswith("EXCLUDE_SERVERS")] == ["EXCLUDE_SERVERS="]
    assert "CONFIG_COMPUTE_HOSTS=10.0.0.11,10.0.0.12,10.0.0.13" in answer_lines(tmp_path)
    assert "answer file written" in result.stdout


FAKE_SSH = 'for a; do case "$a" in root@*) echo "node-${a#root@}.lab.internal";; esac; done'  # a name per address
FAKE_SU = 'eval "$4"'  # su -s /bin/sh -c CMD nova
# nova-manage: each discover_hosts maps one more of the registered hosts (as computes register one by one)
FAKE_NOVA_MANAGE = r"""
case "$*" in
  *discover_hosts*) echo discover >> "$NOVA_CALLS"; echo "Found 1 unmapped computes in cell";;
  *list_hosts*)
    echo '+-----------+------+----------+'; echo '| Cell Name | Cell UUID | Hostname |'
    n=$(grep -c discover "$NOVA_CALLS")
    for h in $REGISTERED; do [ "$n" -gt 0 ] || break; echo "| cell1 | 1234 | $h |"; n=$((n - 1)); done;;
esac
"""


def discover(tmp_path, registered, timeout="30"):
    env = {"LAB_COMPUTE_HOSTS": "10.0.0.11,10.0.0.12", "LAB_DISCOVER_INTERVAL": "0",
           "LAB_DISCOVER_TIMEOUT": timeout, "NOVA_CALLS": str(tmp_path / "nova-calls"), "REGISTERED": registered}
    (tmp_path / "nova-calls").write_text("")
    return run_script("packstack-discover-hosts.sh", tmp_path, env,
               fakes={"ssh": FAKE_SSH, "su": FAKE_SU, "nova-manage": FAKE_NOVA_MANAGE})


def test_discover_hosts_repeats_until_every_compute_is_mapped(tmp_path):
    result = discover(tmp_path, "node-10.0.0.11.lab.internal node-10.0.0.12.lab.internal")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "nova-calls").read_text().count("discover") == 2  # the second compute registered later
    assert "waiting for nova-compute on node-10.0.0.12.lab.internal" in result.stdout
    assert "every compute is mapped to a cell" in result.stdout


def test_discover_hosts_is_bounded_and_names_the_missing_compute(tmp_path):
    # a name that merely contains the wanted one does not count (b-node-... vs node-...)
    result = discover(tmp_path, "node-10.0.0.11.lab.internal b-node-10.0.0.12.lab.internal", timeout="0")
    assert result.returncode == 1
    assert "not mapped to a cell after 0s: node-10.0.0.12.lab.internal" in result.stderr


def test_discover_hosts_demands_the_computes(tmp_path):
    result = run_script("packstack-discover-hosts.sh", tmp_path, {}, fakes={"ssh": "exit 1"})
    assert result.returncode != 0 and "LAB_COMPUTE_HOSTS" in result.stderr


def test_packstack_failure_surfaces_the_log_tail(tmp_path):
    runs = tmp_path / "runs"
    (runs / "latest").mkdir(parents=True)
    setup_log = "".join(f"line {i}\n" for i in range(100)) + "ERROR: puppet failed\n"
    (runs / "latest" / "openstack-setup.log").write_text(setup_log)
    (tmp_path / "answers").mkdir()
    (tmp_path / "answers" / "answers.txt").write_text("CONFIG_X=1\n")
    env = {"LAB_ANSWER_DIR": str(tmp_path / "answers"), "LAB_PACKSTACK_RUNS": str(runs)}
    result = run_script("packstack-apply.sh", tmp_path, env, fakes={"packstack": "echo applying; exit 3"})
    assert result.returncode == 3
    assert "ERROR: puppet failed" in result.stderr and "line 99" in result.stderr
    assert "line 10\n" not in result.stderr  # only the tail
    assert "applying" in result.stdout  # progress is streamed


def test_packstack_failure_shows_the_newest_puppet_log(tmp_path):
    manifests = tmp_path / "runs" / "latest" / "manifests"
    manifests.mkdir(parents=True)
    (tmp_path / "runs" / "latest" / "openstack-setup.log").write_text("ERROR : Error appeared during Puppet run\n")
    older, newest = manifests / "10.0.0.10_controller.pp.log", manifests / "10.0.0.11_compute.pp.log"
    older.write_text("older run: fine\n")
    newest.write_text("".join(f"notice {i}\n" for i in range(60))
                      + "Error: Execution of '/usr/bin/dnf -y install openstack-nova-compute' returned 1\n")
    os.utime(older, (1_000_000, 1_000_000))
    (tmp_path / "answers").mkdir()
    (tmp_path / "answers" / "answers.txt").write_text("CONFIG_X=1\n")
    env = {"LAB_ANSWER_DIR": str(tmp_path / "answers"), "LAB_PACKSTACK_RUNS": str(tmp_path / "runs")}
    result = run_script("packstack-apply.sh", tmp_path, env, fakes={"packstack": "exit 1"})
    assert result.returncode == 1
    assert "Error appeared during Puppet run" in result.stderr  # Packstack's summary
    assert f"newest Puppet log, {newest}" in result.stderr
    assert "returned 1" in result.stderr and "notice 59" in result.stderr and "notice 5\n" not in result.stderr
    assert "older run" not in result.stderr


def test_packstack_apply_uses_the_lab_answer_file(tmp_path):
    (tmp_path / "answers").mkdir()
    (tmp_path / "answers" / "answers.txt").write_text("CONFIG_X=1\n")
    result = run_script("packstack-apply.sh", tmp_path, {"LAB_ANSWER_DIR": str(tmp_path / "answers")},
                 fakes={"packstack": 'echo "args: $*"'})
    assert result.returncode == 0
    assert f"--answer-file={tmp_path}/answers/answers.txt" in result.stdout
    assert "packstack finished" in result.stdout


def test_packstack_apply_refuses_without_answers(tmp_path):
    result = run_script("packstack-apply.sh", tmp_path, {"LAB_ANSWER_DIR": str(tmp_path / "none")},
                 fakes={"packstack": "exit 0"})
    assert result.returncode != 0 and "no answer file" in result.stderr


def test_sync_hosts_writes_once(tmp_path):
    target = tmp_path / "hosts"
    content = "127.0.0.1 localhost\n10.0.0.10 controller.a.lab.internal controller\n"
    first = run_script("sync-hosts.sh", tmp_path, {"LAB_HOSTS_FILE": str(target)}, content)
    second = run_script("sync-hosts.sh", tmp_path, {"LAB_HOSTS_FILE": str(target)}, content)
    assert first.returncode == 0 and "updated" in first.stdout
    assert second.returncode == 0 and "unchanged" in second.stdout
    assert target.read_text() == content


def test_sync_hosts_refuses_empty_input(tmp_path):
    target = tmp_path / "hosts"
    target.write_text("keep\n")
    result = run_script("sync-hosts.sh", tmp_path, {"LAB_HOSTS_FILE": str(target)}, "")
    assert result.returncode != 0 and target.read_text() == "keep\n"


def test_controller_root_key_is_made_once(tmp_path):
    env = {"LAB_SSH_DIR": str(tmp_path / "ssh")}
    first = run_script("controller-root-key.sh", tmp_path, env)
    second = run_script("controller-root-key.sh", tmp_path, env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("ssh-ed25519 ") and first.stdout == second.stdout
    assert stat.S_IMODE((tmp_path / "ssh").stat().st_mode) == 0o700


def test_trust_adds_the_controller_key_once_and_installs_known_hosts(tmp_path):
    env = {"LAB_SSH_DIR": str(tmp_path / "ssh"), "LAB_CONTROLLER_KEY": "ssh-ed25519 AAAAroot packstack@controller"}
    known = "10.0.0.10,controller ssh-ed25519 AAAAhost\n"
    first = run_script("trust-controller-key.sh", tmp_path, env, known)
    second = run_script("trust-controller-key.sh", tmp_path, env, known)
    assert first.returncode == second.returncode == 0
    keys = (tmp_path / "ssh" / "authorized_keys").read_text().splitlines()
    assert keys == ["ssh-ed25519 AAAAroot packstack@controller"]
    assert (tmp_path / "ssh" / "known_hosts").read_text() == known
    assert second.stdout == ""  # nothing to do the second time


FAKE_CLOUD_INIT = r'''
case "$*" in
  "status --wait") exit "$STATUS";;
  "status --long") printf 'status: error\nerrors:\n\t- %s\n' \
    '(scripts_user) Runparts: 1 failures (runcmd) in 1 attempted commands';;
esac
'''


@pytest.mark.parametrize("status", [1, 2])
def test_wait_for_boot_accepts_only_a_clean_cloud_init(tmp_path, status):
    # 1 = error, 2 = done with recoverable errors ("degraded"): both fail the node, with cloud-init's account.
    result = run_script("wait-for-boot.sh", tmp_path, {"STATUS": str(status)}, fakes={"cloud-init": FAKE_CLOUD_INIT})
    assert result.returncode == 1
    assert f"cloud-init status exit {status}" in result.stderr
    assert "(scripts_user) Runparts: 1 failures (runcmd)" in result.stderr  # the failing module, from status --long


def test_wait_for_boot_passes_a_clean_finish(tmp_path):
    result = run_script("wait-for-boot.sh", tmp_path, {"STATUS": "0"},
                 fakes={"cloud-init": FAKE_CLOUD_INIT, "hostname": "echo node1.lab.internal"})
    assert result.returncode == 0 and result.stdout.strip() == "node1.lab.internal"


def test_wait_for_boot_is_bounded(tmp_path):
    result = run_script("wait-for-boot.sh", tmp_path, {"LAB_BOOT_TIMEOUT": "1"},
                 fakes={"cloud-init": 'case "$*" in "status --wait") sleep 30;; *) echo "status: running";; esac'})
    assert result.returncode == 1
    assert "did not finish" in result.stderr and "within 1 s (LAB_BOOT_TIMEOUT)" in result.stderr


def test_prep_scripts_demand_their_inputs(tmp_path):
    for script in ("prep-el9.sh", str(OVERLAY / "prep-debian-test.sh")):
        result = run_script(script, tmp_path, {})
        assert result.returncode != 0 and "LAB_" in result.stderr, script


def test_rhel_register_keeps_credentials_out_of_argv():
    text = (SCRIPTS / "rhel-register.sh").read_text()
    assert "--password" not in text and "--username" not in text
    assert 'os.environ["LAB_RHSM_PASSWORD"]' in text


# --- prep-el9.sh, run with fake EL9 tools that log their calls --------------------------------------

FAKE_EL9 = {
    "hostnamectl": 'case "$1" in --static) echo "$LAB_FQDN";; *) echo "hostnamectl $*" >> "$CALLS";; esac',
    "rpm": 'shift; for p in "$@"; do case " $INSTALLED " in *" $p "*) ;; *) exit 1;; esac; done',
    "dnf": 'echo "dnf $*" >> "$CALLS"; case "$*" in "repolist --enabled") echo "crb  CentOS Stream 9 - CRB";; esac',
    "localectl": 'echo "localectl $*" >> "$CALLS"',
    "systemctl": 'exit 1',
    "getenforce": 'echo Permissive',
    "subscription-manager": 'echo "subscription-manager $*" >> "$CALLS"',
}


def run_prep_el9(tmp_path, flavor="centos-stream", update="true", installed=""):
    selinux = tmp_path / "selinux-config"
    selinux.write_text("SELINUX=permissive\n")
    env = {"LAB_FQDN": "controller.a.lab.internal", "LAB_ROLE": "controller", "LAB_OS_FLAVOR": flavor,
           "LAB_RELEASE": "epoxy", "LAB_PACKAGE_UPDATE": update, "LAB_STATE_DIR": str(tmp_path / "state"),
           "LAB_SELINUX_CONFIG": str(selinux), "CALLS": str(tmp_path / "calls"),
           "INSTALLED": f"glibc-langpack-en dnf-plugins-core {installed}"}
    result = run_script("prep-el9.sh", tmp_path, env, fakes=FAKE_EL9)
    calls = (tmp_path / "calls").read_text().splitlines() if (tmp_path / "calls").exists() else []
    return result, calls


def test_prep_el9_centos_stream_adds_the_release_disables_mariadb_streams_then_updates_once(tmp_path):
    first, calls = run_prep_el9(tmp_path)
    assert first.returncode == 0, first.stderr
    install_release = calls.index("dnf -y -q install centos-release-openstack-epoxy")
    disable = calls.index("dnf -y -q module disable mariadb")
    update = calls.index("dnf -y -q update")
    assert install_release < disable < update < calls.index("dnf -y -q install openstack-packstack")
    (tmp_path / "calls").unlink()
    second, calls = run_prep_el9(tmp_path, installed="centos-release-openstack-epoxy openstack-packstack")
    assert second.returncode == 0 and "dnf -y -q update" not in calls  # once per VM


def test_prep_el9_package_update_can_be_turned_off(tmp_path):
    result, calls = run_prep_el9(tmp_path, update="false")
    assert result.returncode == 0 and "dnf -y -q update" not in calls


def test_prep_el9_rhel_uses_the_el9s_rdo_release(tmp_path):
    result, calls = run_prep_el9(tmp_path, flavor="rhel")
    assert result.returncode == 0, result.stderr
    rdo = [c for c in calls if "rdo-release" in c]
    # The dist tag every real source uses (Packstack's manage_rdo, RDO's repos page); .el9.rpm does not exist.
    assert rdo == ["dnf -y -q install https://trunk.rdoproject.org/rdo_release/openstack-epoxy/rdo-release-epoxy.el9s.rpm"]
    assert "subscription-manager repos --enable codeready-builder-for-rhel-9-x86_64-rpms" in calls
    assert not any("module disable" in c for c in calls)


def test_prep_el9_removes_the_ifup_ifdown_package(tmp_path):
    # With ifup/ifdown present puppet-vswitch's vs_port switches to its ifcfg provider for br-ex:eth1.
    result, calls = run_prep_el9(tmp_path, installed="NetworkManager-initscripts-updown")
    assert result.returncode == 0
    assert "dnf -y -q remove NetworkManager-initscripts-updown" in calls
    (tmp_path / "calls").unlink()
    _, calls = run_prep_el9(tmp_path, update="false")
    assert not any("remove" in c for c in calls)


# --- the external NIC ------------------------------------------------------------------------------

def fake_ip(flags="BROADCAST,MULTICAST,UP,LOWER_UP", addresses=""):
    return (f'case "$*" in\n'
            f'  "link show dev eth1") echo ok;;\n'
            f'  "-o link show dev eth1") echo "3: eth1: <{flags}> mtu 1500 qdisc fq_codel state UP";;\n'
            f'  "-o addr show dev eth1") printf "%b" "{addresses}";;\n'
            f'  *) echo "ip $*" >> "$CALLS";;\n'
            f'esac')


FAKE_NMCLI = r'''
echo "nmcli $*" >> "$CALLS"
case "$*" in
  "-t -f RUNNING general") echo running;;
  "-t -f NAME connection show") printf 'cloud-init eth0\ncloud-init eth1\nlab-eth1\n';;
  "-g GENERAL.CONNECTION device show eth1") cat "$ACTIVE";;
  "--wait 30 connection up lab-eth1 ifname eth1") echo lab-eth1 > "$ACTIVE";;
esac
'''


def nic_env(tmp_path, active="cloud-init eth1"):
    (tmp_path / "active").write_text(active + "\n")
    return {"CALLS": str(tmp_path / "calls"), "ACTIVE": str(tmp_path / "active")}


def test_external_nic_activates_the_lab_profile_once(tmp_path):
    env = nic_env(tmp_path)
    fakes = {"nmcli": FAKE_NMCLI, "ip": fake_ip(), "hostname": "echo node1"}
    first = run_script("external-nic.sh", tmp_path, env, fakes=fakes)
    assert first.returncode == 0, first.stderr
    assert "activating lab-eth1 (was: cloud-init eth1)" in first.stdout and "no address" in first.stdout
    second = run_script("external-nic.sh", tmp_path, env, fakes=fakes)
    assert second.returncode == 0 and "activating" not in second.stdout
    calls = (tmp_path / "calls").read_text()
    assert calls.count("connection up") == 1 and calls.count("connection reload") == 2


def test_external_nic_fails_when_the_nic_has_an_address(tmp_path):
    link_local = "3: eth1    inet6 fe80::5054:ff:fe00:2/64 scope link \\\\       valid_lft forever\\n"
    fakes = {"nmcli": FAKE_NMCLI, "ip": fake_ip(addresses=link_local), "hostname": "echo node1"}
    result = run_script("external-nic.sh", tmp_path, nic_env(tmp_path, "lab-eth1"), fakes=fakes)
    assert result.returncode == 1
    assert "node1: eth1 must carry no address" in result.stderr and "fe80::5054:ff:fe00:2/64" in result.stderr


def test_external_nic_fails_when_the_nic_is_down(tmp_path):
    fakes = {"nmcli": FAKE_NMCLI, "ip": fake_ip(flags="BROADCAST,MULTICAST"), "hostname": "echo node1"}
    result = run_script("external-nic.sh", tmp_path, nic_env(tmp_path, "lab-eth1"), fakes=fakes)
    assert result.returncode == 1 and "eth1 is not up" in result.stderr


def test_external_nic_fails_without_the_lab_profile(tmp_path):
    nmcli = FAKE_NMCLI.replace(r"printf 'cloud-init eth0\ncloud-init eth1\nlab-eth1\n'", r"printf 'cloud-init eth1\n'")
    result = run_script("external-nic.sh", tmp_path, nic_env(tmp_path),
                 fakes={"nmcli": nmcli, "ip": fake_ip(), "hostname": "echo n1"})
    assert result.returncode == 1 and "no profile lab-eth1" in result.stderr


# --- br-ex after Packstack ---------------------------------------------------------------------------

def fake_ovs(ports):
    return f'case "$1" in br-exists) [ "$2" = br-ex ];; list-ports) printf "%b" "{ports}";; esac'


def test_bridge_check_passes_with_eth1_on_br_ex(tmp_path):
    result = run_script("verify-external-bridge.sh", tmp_path, {"CALLS": str(tmp_path / "calls")},
                 fakes={"ovs-vsctl": fake_ovs("eth1\\nphy-br-ex\\n"), "ip": fake_ip(), "hostname": "echo compute1"})
    assert result.returncode == 0, result.stderr
    assert "compute1: br-ex has eth1 as a port" in result.stdout


def test_bridge_check_names_the_node_when_eth1_is_missing(tmp_path):
    result = run_script("verify-external-bridge.sh", tmp_path, {"CALLS": str(tmp_path / "calls")},
                 fakes={"ovs-vsctl": fake_ovs("patch-provnet\\n"), "ip": fake_ip(), "hostname": "echo compute2"})
    assert result.returncode == 1
    assert "compute2: eth1 is not a port of br-ex (ports: patch-provnet)" in result.stderr


def test_bridge_check_names_the_node_when_br_ex_is_missing(tmp_path):
    result = run_script("verify-external-bridge.sh", tmp_path, {"LAB_BRIDGE": "br-missing"},
                 fakes={"ovs-vsctl": fake_ovs(""), "ip": fake_ip(), "hostname": "echo controller"})
    assert result.returncode == 1 and "controller: Open vSwitch bridge br-missing does not exist" in result.stderr


def test_an_earlier_labs_run_record_is_removed(tmp_path):
    # labs before the full-run scale-out kept answers.applied.txt, a copy of the answers with passwords
    record = tmp_path / "answers" / "answers.applied.txt"
    record.parent.mkdir(mode=0o700)
    record.write_text("CONFIG_KEYSTONE_ADMIN_PW=old\n")
    assert run_answers(tmp_path, TWO).returncode == 0
    assert not record.exists()

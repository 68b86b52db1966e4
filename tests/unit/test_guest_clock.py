"""tools/lifecycle/guest_clock.py and scripts/clock-set.sh: a reverted node's clock set to this host's time, by
the guest agent where the domain has its channel, else over SSH (a fake `ssh` on PATH; the script itself with a
fake `date`, never this host's clock)."""
import time

import pytest

from harness import run_script
from tools.lifecycle import guest_clock
from tools.lifecycle.guest_clock import ClockFailed, Login

FAKE_DATE = 'if [ "$1" = "+%s.%N" ]; then echo 1733199000.000000000; else echo "$@" >> "$HOME/date-args"; fi'


def test_clock_set_sets_the_time_it_is_sent_and_prints_the_offset(tmp_path):
    proc = run_script("clock-set.sh", tmp_path, stdin="1733200000.500000\n",
                      fakes={"date": FAKE_DATE, "hwclock": 'echo "$@" >> "$HOME/hwclock-args"'})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["ready", "offset_seconds=1000.500"]
    assert (tmp_path / "date-args").read_text() == "-u -s @1733200000.500000\n"
    assert (tmp_path / "hwclock-args").read_text() == "--systohc\n"


@pytest.mark.parametrize("sent, said", [("now\n", "not a time: now"), ("", "no time from the lab host")])
def test_clock_set_refuses_anything_but_a_time(tmp_path, sent, said):
    proc = run_script("clock-set.sh", tmp_path, stdin=sent, fakes={"date": FAKE_DATE})
    assert proc.returncode == 1 and said in proc.stderr
    assert not (tmp_path / "date-args").exists()


@pytest.fixture
def fake_ssh(tmp_path, monkeypatch):
    """`ssh` that logs its options, says ready, keeps the time it gets and claims a 2 s correction."""
    bin_dir = tmp_path / "ssh-bin"
    bin_dir.mkdir()
    ssh = bin_dir / "ssh"
    ssh.write_text(f"#!/bin/bash\nprintf '%s\\n' \"${{@:1:$(($#-1))}}\" > {tmp_path}/ssh-argv\n"
                   f"echo x >> {tmp_path}/tries\n"
                   f"if [ -e {tmp_path}/unreachable ] && [ $(wc -l < {tmp_path}/tries) -le "
                   f"$(cat {tmp_path}/unreachable) ]; then\n"
                   "  echo 'ssh: connect to host 10.209.0.11 port 22: No route to host' >&2; exit 255; fi\n"
                   "echo ready\n"
                   f"read -r t\necho \"$t\" > {tmp_path}/sent\n"
                   f"if [ -e {tmp_path}/refuse ]; then echo 'Permission denied (publickey).' >&2; exit 255; fi\n"
                   "echo offset_seconds=2.000\n")
    ssh.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{tmp_path / 'fake-bin'}:/usr/bin:/bin")
    return Login(tmp_path / "key", tmp_path / "known_hosts")


def test_over_ssh_the_host_sends_its_time_once_the_script_is_ready(tmp_path, fake_ssh):
    assert guest_clock.sync_by_ssh(fake_ssh, "10.209.0.11") == "SSH, corrected +2.0 s"
    assert abs(float((tmp_path / "sent").read_text()) - time.time()) < 2
    argv = (tmp_path / "ssh-argv").read_text().splitlines()
    for option in ("StrictHostKeyChecking=yes", f"UserKnownHostsFile={tmp_path}/known_hosts", "BatchMode=yes"):
        assert option in argv
    assert argv[argv.index("-i") + 1] == f"{tmp_path}/key" and argv[-1] == "root@10.209.0.11"


def test_a_refused_login_is_one_message(tmp_path, fake_ssh):
    (tmp_path / "refuse").touch()
    with pytest.raises(ClockFailed, match=r"root@10.209.0.11: setting the clock over SSH failed: Permission denied"):
        guest_clock.sync_by_ssh(fake_ssh, "10.209.0.11")


def test_a_node_whose_network_is_not_back_yet_is_tried_again(tmp_path, fake_ssh):
    """Right after a resume the node may be unreachable for seconds (CI: `No route to host`): tried again."""
    (tmp_path / "unreachable").write_text("2")
    pauses: list[float] = []
    said = guest_clock.sync_by_ssh(fake_ssh, "10.209.0.11", sleep=pauses.append)
    assert said.startswith("SSH, corrected +2.0 s, SSH answered on try 3 after ")
    assert pauses == [guest_clock.SSH_RETRY_PAUSE_S] * 2
    assert len((tmp_path / "sent").read_text().splitlines()) == 1  # the time was sent once, to the answering node


def test_a_node_that_never_answers_ends_the_bounded_wait_naming_it(tmp_path, fake_ssh):
    (tmp_path / "unreachable").write_text("1000")
    elapsed = [0.0]
    with pytest.raises(ClockFailed, match=r"root@10.209.0.11: SSH did not answer within 7 s of the resume "
                                          r"\(3 tries\): ssh: connect to host .*No route to host"):
        guest_clock.sync_by_ssh(fake_ssh, "10.209.0.11", sleep=lambda s: elapsed.append(elapsed.pop() + s),
                                clock=lambda: elapsed[-1], reach_timeout=7)


def test_a_refused_login_is_not_tried_again(tmp_path, fake_ssh):
    (tmp_path / "refuse").touch()
    with pytest.raises(ClockFailed, match="Permission denied"):
        guest_clock.sync_by_ssh(fake_ssh, "10.209.0.11", sleep=lambda s: pytest.fail("a refused login was retried"))
    assert len((tmp_path / "tries").read_text().splitlines()) == 1


def test_a_domain_with_the_agent_channel_is_synced_by_the_agent(fake_virsh, tmp_path):
    fake_virsh.domains(lab_a={"agent": True}, lab_b={})
    login = Login(tmp_path / "key", tmp_path / "known_hosts")
    assert guest_clock.sync("qemu:///system", "lab-a", "10.0.0.1", login) == "guest agent (domtime --sync)"
    assert fake_virsh.calls("domtime") == [["qemu:///system", "domtime", "lab-a", "--sync"]]
    assert not guest_clock.has_agent("qemu:///system", "lab-b")


def test_a_channel_without_an_agent_in_the_guest_falls_back_to_ssh(fake_virsh, tmp_path, fake_ssh):
    fake_virsh.domains(lab_a={"agent": "silent"}, lab_b={"agent": True})
    fake_virsh.update(fail={"domtime": "lab-b"})
    assert guest_clock.sync("qemu:///system", "lab-a", "10.0.0.1", fake_ssh) == \
        "SSH, corrected +2.0 s (no guest agent answers)"
    with pytest.raises(ClockFailed, match="guest agent of lab-b: .*injected"):  # any other failure is one
        guest_clock.sync("qemu:///system", "lab-b", "10.0.0.2", fake_ssh)

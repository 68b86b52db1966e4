"""lab/libvirt_ssh.py: a qemu+ssh:// URI read as the libvirt provider reads it, the ssh that reproduces its login,
failures sorted with their fix. The real login against a real sshd: tests/engine/test_engine_ssh_host.py."""
from __future__ import annotations

import shutil

import pytest

from labtest import require
from lab import libvirt_ssh
from lab.libvirt_ssh import SshFailure, SshTarget

PINNED = "qemu+ssh://root@10.40.0.2/system?keyfile=/home/alice/.ssh/id_lab&knownhosts=/home/alice/.ssh/lab_hosts"


def test_the_uri_read_as_the_provider_reads_it(monkeypatch):
    monkeypatch.setenv("HOME", "/home/alice")
    assert libvirt_ssh.ssh_target(PINNED) == SshTarget(
        "root", "10.40.0.2", None, "/home/alice/.ssh/id_lab", "/home/alice/.ssh/lab_hosts", True,
        "/var/run/libvirt/libvirt-sock")
    plain = libvirt_ssh.ssh_target("qemu+ssh://admin@b.lan:2222/system?socket=/run/libvirt/virtqemud-sock")
    assert (plain.user, plain.port, plain.keyfile, plain.known_hosts, plain.socket) == \
        ("admin", 2222, None, None, "/run/libvirt/virtqemud-sock")
    assert plain.known_hosts_file() == "/home/alice/.ssh/known_hosts"  # the provider's $HOME default
    assert libvirt_ssh.ssh_target("qemu+ssh://root@b/system?knownhosts=$HOME/kh").known_hosts == "/home/alice/kh"
    assert not libvirt_ssh.ssh_target("qemu+ssh://root@b/system?no_verify=1").verify
    assert not libvirt_ssh.ssh_target("qemu+ssh://root@b/system?known_hosts_verify=ignore").verify
    assert libvirt_ssh.ssh_target("qemu:///system") is None
    assert libvirt_ssh.ssh_target("qemu+unix:///system?socket=/s") is None


def test_the_tunnel_logs_in_as_the_provider_does():
    argv = libvirt_ssh.tunnel_argv(libvirt_ssh.ssh_target(PINNED), "/tmp/x/sock", 20)
    options = [argv[i + 1] for i, a in enumerate(argv) if a == "-o"]
    assert "BatchMode=yes" in options and "StrictHostKeyChecking=yes" in options
    assert "UserKnownHostsFile=/home/alice/.ssh/lab_hosts" in options
    assert "GlobalKnownHostsFile=/dev/null" in options  # the provider never reads /etc/ssh/ssh_known_hosts
    assert "UpdateHostKeys=no" in options  # a probe writes no known_hosts
    assert "HostKeyAlgorithms=ssh-ed25519,ssh-rsa," in ",".join(options) + ","
    assert argv[argv.index("-i") + 1] == "/home/alice/.ssh/id_lab"
    assert argv[-6:] == ["-l", "root", "-L", "/tmp/x/sock:/var/run/libvirt/libvirt-sock", "--", "10.40.0.2"]
    assert "-p" not in argv
    unpinned = libvirt_ssh.tunnel_argv(libvirt_ssh.ssh_target("qemu+ssh://root@b:2222/system?no_verify"), "/s", 5)
    assert "StrictHostKeyChecking=no" in unpinned and "UserKnownHostsFile=/dev/null" in unpinned
    assert unpinned[unpinned.index("-p") + 1] == "2222" and "-i" not in unpinned


@pytest.mark.parametrize("said, kind", [
    ("Host key verification failed.", "host-key"),
    ("No ED25519 host key is known for 10.40.0.2 and you have requested strict checking. Host key verification "
     "failed.", "host-key"),
    ("@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n@@@@@@@@", "host-key"),
    ("root@10.40.0.2: Permission denied (publickey).", "login"),
    ("channel 2: open failed: connect failed: open failed", "forward"),
    ("ssh: connect to host 10.40.0.2 port 22: Connection refused", "connect"),
    ("ssh: Could not resolve hostname b.lan: Name or service not known", "connect"),
])
def test_what_ssh_said_is_sorted(said, kind):
    assert libvirt_ssh.kind_of(said) == kind


def test_what_ssh_said_is_kept_to_the_lines_that_say_what_failed():
    changed = ("@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
               "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n"
               "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
               "IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\n"
               "The fingerprint for the ED25519 key sent by the remote host is\nSHA256:abc.\n"
               "Add correct host key in /k/known_hosts to get rid of this message.\n"
               "Offending ED25519 key in /k/known_hosts:1\n  remove with:\n"
               "  ssh-keygen -f \"/k/known_hosts\" -R \"10.40.0.2\"\n"
               "Host key for 10.40.0.2 has changed and you have requested strict checking.\n"
               "Host key verification failed.\n")
    assert libvirt_ssh.said(changed) == ("Host key for 10.40.0.2 has changed and you have requested strict checking. "
                                         "Host key verification failed.")
    assert libvirt_ssh.kind_of(libvirt_ssh.said(changed)) == "host-key"
    assert libvirt_ssh.said("kex_exchange_identification: read: Connection reset by peer\n") == \
        "kex_exchange_identification: read: Connection reset by peer"


def test_every_fix_names_what_to_change():
    target = libvirt_ssh.ssh_target(PINNED)
    host_key = libvirt_ssh.fix("host-key", target, "hosts[1].uri")
    assert "/home/alice/.ssh/lab_hosts" in host_key and "knownhosts= of hosts[1].uri" in host_key
    assert "ssh-keyscan -t ed25519 10.40.0.2" in host_key and "fingerprint" in host_key
    assert "/home/alice/.ssh/id_lab" in libvirt_ssh.fix("login", target, "hosts[1].uri")
    forward = libvirt_ssh.fix("forward", target, "hosts[1].uri")
    assert "AllowTcpForwarding" in forward and "socket=" in forward
    assert "keyfile=" in libvirt_ssh.fix("keyfile", target, "hosts[1].uri")
    assert "does not answer" in libvirt_ssh.fix("connect", target, "hosts[1].uri")


def test_missing_files_fail_before_any_ssh(tmp_path):
    target = libvirt_ssh.ssh_target(f"qemu+ssh://root@127.0.0.1:1/system?keyfile={tmp_path}/nokey"
                                    f"&knownhosts={tmp_path}/kh")
    with pytest.raises(SshFailure) as err:
        with libvirt_ssh.forwarded(target, 5):
            pass
    assert err.value.kind == "keyfile" and f"{tmp_path}/nokey" in err.value.detail
    (tmp_path / "key").write_text("x")
    target = libvirt_ssh.ssh_target(f"qemu+ssh://root@127.0.0.1:1/system?keyfile={tmp_path}/key&knownhosts={tmp_path}/kh")
    with pytest.raises(SshFailure) as err:
        with libvirt_ssh.forwarded(target, 5):
            pass
    assert err.value.kind == "host-key" and "does not exist" in err.value.detail


def test_a_port_where_nothing_listens_is_a_connect_failure(tmp_path):
    require(shutil.which("ssh"), "needs OpenSSH's ssh (openssh-client), as the preflight does")
    (tmp_path / "kh").write_text("")
    target = libvirt_ssh.ssh_target(f"qemu+ssh://root@127.0.0.1:1/system?knownhosts={tmp_path}/kh")  # loopback only
    with pytest.raises(SshFailure) as err:
        with libvirt_ssh.forwarded(target, 5):
            pass
    assert err.value.kind == "connect" and "Connection refused" in err.value.detail


@pytest.mark.parametrize("uri, command", [
    ("qemu:///system", "virsh -c qemu:///system console lab-compute1"),
    (PINNED, "ssh -t -i /home/alice/.ssh/id_lab -o UserKnownHostsFile=/home/alice/.ssh/lab_hosts root@10.40.0.2 "
             "virsh -c qemu:///system console lab-compute1"),
    ("qemu+ssh://admin@host-b:2222/session?no_verify=1",
     "ssh -t -p 2222 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null admin@host-b "
     "virsh -c qemu:///session console lab-compute1"),
])
def test_the_console_command_logs_in_as_the_provider_does(uri, command):
    """virsh's own qemu+ssh would read neither keyfile= nor knownhosts=: on a remote host, ssh there with them."""
    assert libvirt_ssh.console_command(uri, "lab-compute1") == command

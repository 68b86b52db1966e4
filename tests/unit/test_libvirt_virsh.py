"""providers/libvirt_virsh.py: virsh run bounded with virsh's own message on failure, and every host URI reached
once per block (one tunnel per qemu+ssh host, local URIs as they are). The tunnel itself: test_libvirt_ssh.py."""
import contextlib

import pytest

from providers import libvirt_virsh
from providers.libvirt_virsh import VirshError, reached, run_virsh


def test_run_virsh_returns_stdout_and_records_the_uri(fake_virsh):
    fake_virsh.domains(lab_controller={})
    assert run_virsh("qemu:///system", "domstate", "lab-controller") == "running\n"
    assert fake_virsh.calls() == [["qemu:///system", "domstate", "lab-controller"]]


def test_run_virsh_fails_with_virshs_message(fake_virsh):
    with pytest.raises(VirshError) as err:
        run_virsh("qemu:///system", "domstate", "lab-gone")
    assert err.value.detail == "failed to get domain 'lab-gone'"  # "error: " dropped
    assert "virsh -q -c qemu:///system domstate lab-gone" in str(err.value)


def test_run_virsh_is_bounded(fake_virsh):
    fake_virsh.domains(lab_controller={})
    fake_virsh.update(hang="domstate")
    with pytest.raises(VirshError, match=r"no answer within 1 s"):
        run_virsh("qemu:///system", "domstate", "lab-controller", timeout=1)


def test_run_virsh_without_virsh_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(VirshError, match="install libvirt-clients"):
        run_virsh("qemu:///system", "list")


def test_reached_opens_one_tunnel_per_ssh_host_for_the_whole_block(monkeypatch):
    opened, closed = [], []

    class Tunnel:
        def __init__(self, host):
            self.uri = f"qemu+unix:///system?socket=/tmp/{host}/libvirt-sock"

    @contextlib.contextmanager
    def forwarded(target, timeout):
        opened.append((target.host, timeout))
        yield Tunnel(target.host)
        closed.append(target.host)

    monkeypatch.setattr(libvirt_virsh, "forwarded", forwarded)
    b = "qemu+ssh://root@b/system?knownhosts=/k"
    c = "qemu+ssh://root@c/system?knownhosts=/k"
    with reached(["qemu:///system", b, c, b], ssh_timeout=7) as usable:
        assert usable == {"qemu:///system": "qemu:///system", b: "qemu+unix:///system?socket=/tmp/b/libvirt-sock",
                          c: "qemu+unix:///system?socket=/tmp/c/libvirt-sock"}
        assert closed == []
    assert opened == [("b", 7), ("c", 7)] and sorted(closed) == ["b", "c"]


def test_reached_closes_the_tunnels_opened_when_a_later_host_fails(monkeypatch):
    closed = []

    @contextlib.contextmanager
    def forwarded(target, timeout):
        if target.host == "c":
            raise libvirt_virsh.SshFailure("login", "Permission denied (publickey).")
        try:
            yield type("T", (), {"uri": "qemu+unix:///system?socket=/s"})
        finally:
            closed.append(target.host)

    monkeypatch.setattr(libvirt_virsh, "forwarded", forwarded)
    with pytest.raises(libvirt_virsh.SshFailure) as err:
        with reached(["qemu+ssh://root@b/system", "qemu+ssh://root@c/system"]):
            pass
    assert err.value.kind == "login" and closed == ["b"]

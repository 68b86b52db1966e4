"""SshReady: a wall-clock bound on a node's boot, with an error that names the node and its console."""
import socket
import threading

import pytest

from fake_clock import FakeClock
from harness import BASE, run_lab
from providers.ssh_ready import NotAnswering, _SshReadyProvider, ssh_banner, wait_for_ssh

PROPS = {"subject": "compute2", "host": "10.1.2.12", "port": 22, "identity": "uuid-1", "timeout_seconds": 60,
         "timeout_setting": "bootTimeout",
         "hint": "Watch its boot with `virsh -c qemu:///system console openstack-lab-alice-compute2`; "
                 "QEMU's own log is /var/log/libvirt/qemu/openstack-lab-alice-compute2.log"}


def serve_once(payload: bytes):
    """A listener on 127.0.0.1 that sends `payload` to each of a few connections."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(10)

    def loop():
        for _ in range(4):
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(payload)

    threading.Thread(target=loop, daemon=True).start()
    return server, server.getsockname()[1]


def test_banner_of_a_real_listener():
    server, port = serve_once(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
    with server:
        assert ssh_banner("127.0.0.1", port) == "SSH-2.0-OpenSSH_9.2p1 Debian-2"


def test_a_listener_that_is_not_sshd_does_not_count():
    server, port = serve_once(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    with server, pytest.raises(OSError, match="not an SSH server"):
        ssh_banner("127.0.0.1", port)


def test_waits_until_sshd_answers():
    clock, calls = FakeClock(), []

    def probe(host, port):
        calls.append(clock.now)
        if len(calls) < 4:
            raise ConnectionRefusedError("Connection refused")
        return "SSH-2.0-x"

    result = wait_for_ssh(PROPS, clock=clock, sleep=clock.sleep, probe=probe)
    assert result == {"seconds": 6.0, "attempts": 4, "banner": "SSH-2.0-x"}


def test_gives_up_at_the_deadline_naming_node_and_console():
    clock = FakeClock()

    def probe(host, port):
        clock.now += 5  # a dial that times out
        raise TimeoutError("timed out")

    with pytest.raises(NotAnswering) as info:
        wait_for_ssh(PROPS, clock=clock, sleep=clock.sleep, probe=probe)
    message = str(info.value)
    assert message.startswith("compute2 did not answer SSH on 10.1.2.12:22 within 60 s (bootTimeout")
    assert "last: timed out" in message
    assert "virsh -c qemu:///system console openstack-lab-alice-compute2" in message
    assert "/var/log/libvirt/qemu/openstack-lab-alice-compute2.log" in message
    assert clock.now <= 60 + 5  # never past the deadline by more than one dial


def test_a_closed_local_port_fails_for_real_within_the_bound():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    with pytest.raises(NotAnswering, match="Connection refused|refused"):
        wait_for_ssh({**PROPS, "host": "127.0.0.1", "port": port, "timeout_seconds": 3})


def test_a_new_domain_replaces_the_wait_and_a_new_timeout_does_not():
    provider = _SshReadyProvider()
    olds = {**PROPS, "seconds": 10.0, "attempts": 3, "banner": "SSH-2.0-x"}
    assert provider.diff("id", olds, {**PROPS, "identity": "uuid-2"}).replaces == ["identity"]
    timeout_only = provider.diff("id", olds, {**PROPS, "timeout_seconds": 300})
    assert timeout_only.changes and timeout_only.replaces == []
    assert not provider.diff("id", olds, dict(PROPS)).changes


def test_the_provider_is_pickled_by_reference_to_its_module():
    # What the state holds: the module path and class name, which the provider process imports.
    import base64

    from pulumi.dynamic.dynamic import serialize_provider

    pickled = base64.b64decode(serialize_provider(_SshReadyProvider()))
    assert b"providers.ssh_ready" in pickled and b"_SshReadyProvider" in pickled and len(pickled) < 200


def test_the_message_prints_the_port_as_pulumi_hands_it_over():
    # Numbers come back from the engine as floats (22.0); the message shows the port users type.
    clock = FakeClock()

    def probe(host, port):
        raise ConnectionRefusedError("Connection refused")

    with pytest.raises(NotAnswering, match=r"on 10\.1\.2\.12:22 within"):
        wait_for_ssh({**PROPS, "port": 22.0}, clock=clock, sleep=clock.sleep, probe=probe)


# -- the demo instance's readiness -----------------------------------------------------------------------
def test_instance_ready_answers_from_a_local_listener():
    from providers.ssh_ready import wait_for_ssh

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve():
        conn, _ = listener.accept()
        conn.sendall(b"SSH-2.0-dropbear_2022.83\r\n")
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    props = {"subject": "server demo", "host": "127.0.0.1", "port": listener.getsockname()[1], "timeout_seconds": 10,
             "timeout_setting": "demo.waitSeconds", "hint": ""}
    got = wait_for_ssh(props)
    listener.close()
    assert got["banner"].startswith("SSH-2.0-dropbear") and got["attempts"] == 1


def test_instance_ready_gives_up_at_its_deadline_naming_the_server():
    from providers.ssh_ready import NotAnswering, wait_for_ssh

    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()  # nothing listens there now
    now = [0.0]
    # The wait the program declares for the demo server, pointed at a closed port on 127.0.0.1.
    props = {**run_lab({**BASE, "demoInstance": True}).named("demo-ready").inputs,
             "host": "127.0.0.1", "port": port, "timeout_seconds": 30}
    with pytest.raises(NotAnswering) as err:
        wait_for_ssh(props, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    message = str(err.value)
    assert "server openstack-lab-alice-demo did not answer SSH" in message
    assert "within 30 s (demo.waitSeconds" in message
    assert "openstack console log show openstack-lab-alice-demo" in message

"""KeystoneReady (providers/keystone_ready.py) against the real fixture Keystone: it waits for
Keystone, and fails fast with a clear message on a wrong password or a closed port."""
import secrets
import socket
import threading
import time

import pytest

from apisupport import cloud_config, init_stack, require
from support.secret_scan import assert_absent

try:
    from providers.keystone_ready import KeystoneNotReady, KeystoneReadyProvider
except ImportError as err:  # pulumi SDK missing from the interpreter running pytest
    KeystoneReadyProvider = None
    IMPORT_ERROR = str(err)


@pytest.fixture
def provider():
    require(KeystoneReadyProvider is not None, f"providers.keystone_ready not importable: "
            f"{globals().get('IMPORT_ERROR')} (run pytest from the project venv)")
    return KeystoneReadyProvider()


def _props(cloud, **over):
    props = {
        "auth_url": cloud.auth_url,
        "username": "admin",
        "password": cloud.admin_password,
        "project_name": "admin",
        "user_domain_name": "Default",
        "project_domain_name": "Default",
        "region": None,
        "timeout_seconds": 30,
    }
    props.update(over)
    return props


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DelayedProxy:
    """A TCP forwarder 127.0.0.1:<port> -> the fixture Keystone that starts listening only after
    `delay` seconds: Keystone 'comes up' while KeystoneReady is already waiting."""

    def __init__(self, target_port: int, delay: float) -> None:
        self.port = _free_port()
        self.target_port = target_port
        self.delay = delay
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=10)

    def _serve(self) -> None:
        if self.stop.wait(self.delay):
            return
        with socket.socket() as srv:
            srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            srv.bind(("127.0.0.1", self.port))
            srv.listen(8)
            srv.settimeout(0.5)
            while not self.stop.is_set():
                try:
                    client, _ = srv.accept()
                except socket.timeout:
                    continue
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=30)
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def test_ready_returns_normalized_url_and_region(fixture_cloud, provider):
    port = fixture_cloud.ports["keystone"]
    outs = provider.create(_props(fixture_cloud, auth_url=f"http://127.0.0.1:{port}/")).outs
    # (copy single values out: an assertion on `outs` itself would print the password it holds)
    auth_url, region = outs["auth_url"], outs["region"]
    assert auth_url == f"http://127.0.0.1:{port}/v3"
    assert region == "RegionOne"  # discovered from the catalog


def test_ready_waits_until_keystone_answers(fixture_cloud, provider):
    with DelayedProxy(fixture_cloud.ports["keystone"], delay=6) as proxy:
        started = time.monotonic()
        region = provider.create(_props(fixture_cloud, auth_url=f"http://127.0.0.1:{proxy.port}/v3",
                                        timeout_seconds=60)).outs["region"]
        elapsed = time.monotonic() - started
    assert region == "RegionOne"
    assert 5 <= elapsed < 45, f"KeystoneReady returned after {elapsed:.1f}s"


def test_wrong_password_fails_fast_with_clear_message(fixture_cloud, provider):
    wrong = secrets.token_hex(12)
    started = time.monotonic()
    with pytest.raises(KeystoneNotReady) as err:
        provider.create(_props(fixture_cloud, password=wrong, timeout_seconds=120))
    elapsed = time.monotonic() - started
    msg = str(err.value)
    assert "rejected the credentials" in msg and "401" in msg, msg
    assert_absent({"the wrong password": wrong, "the admin password": fixture_cloud.admin_password}, msg,
                  "the error message")
    assert elapsed < 20, f"a wrong password took {elapsed:.1f}s to be reported (timeout was 120s)"


def test_closed_port_fails_within_timeout(fixture_cloud, provider):
    port = _free_port()
    started = time.monotonic()
    with pytest.raises(KeystoneNotReady) as err:
        provider.create(_props(fixture_cloud, auth_url=f"http://127.0.0.1:{port}/v3", timeout_seconds=8))
    elapsed = time.monotonic() - started
    msg = str(err.value)
    assert "did not issue a token within 8 s" in msg, msg
    assert "refused" in msg.lower(), msg
    assert elapsed < 8 + 15, f"closed port reported after {elapsed:.1f}s (timeout 8s)"


def test_engine_wrong_password_fails_cleanly(fixture_cloud, pulumi_workspace):
    """Through the real engine: `pulumi up` on a stack with a wrong cloudPassword stops at
    KeystoneReady with the clear message and declares nothing in Neutron."""
    wrong = secrets.token_hex(12)
    stack = init_stack(pulumi_workspace, "apibadpw", cloud_config(fixture_cloud, keystoneTimeout=60), wrong)
    started = time.monotonic()
    proc = stack.up(check=False, timeout=600)
    elapsed = time.monotonic() - started
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "rejected the credentials" in out, out[-3000:]
    assert_absent({"the wrong password": wrong, "the admin password": fixture_cloud.admin_password}, out,
                  "pulumi output")
    assert elapsed < 300, f"pulumi up took {elapsed:.0f}s to fail"
    neutron = fixture_cloud.neutron()
    assert not [n for n in neutron["networks"] if stack.name in n["name"]]
    assert not [r for r in neutron["routers"] if stack.name in r["name"]]
    stack.destroy(timeout=600)

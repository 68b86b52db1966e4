"""providers/keystone_ready.py: waiting for Keystone's token and catalog (a fake Keystone on 127.0.0.1)."""
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from providers.keystone_ready import KeystoneNotReady, KeystoneReadyProvider, changed_inputs, wait_for_token


class FakeKeystone(BaseHTTPRequestHandler):
    password = "right"
    failures_before_ready = 0
    calls = 0

    def do_POST(self):
        cls = type(self)
        cls.calls += 1
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/v3/auth/tokens":
            self.send_response(404)
            self.end_headers()
            return
        if cls.calls <= cls.failures_before_ready:
            self.send_response(503)
            self.end_headers()
            return
        user = body["auth"]["identity"]["password"]["user"]
        if user["password"] != cls.password:
            self.send_response(401)
            self.end_headers()
            return
        payload = {"token": {"catalog": [{"type": "identity", "endpoints": [{"region_id": "LabRegion"}]}]}}
        data = json.dumps(payload).encode()
        self.send_response(201)
        self.send_header("X-Subject-Token", "tok")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def keystone():
    handler = type("Handler", (FakeKeystone,), {"calls": 0, "failures_before_ready": 0})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def props(url, password="right", timeout=5, region=None):
    return {"auth_url": url, "username": "admin", "password": password, "project_name": "admin",
            "user_domain_name": "Default", "project_domain_name": "Default", "region": region,
            "timeout_seconds": timeout}


def test_keystone_ready_returns_auth_url_and_catalog_region(keystone):
    _, url = keystone
    result = KeystoneReadyProvider().create(props(url))
    assert result.outs["auth_url"] == url + "/v3"
    assert result.outs["region"] == "LabRegion"


def test_keystone_ready_waits_through_errors(keystone, monkeypatch):
    handler, url = keystone
    handler.failures_before_ready = 2
    sleeps = []
    result = wait_for_token(props(url, timeout=60), sleep=sleeps.append)
    assert result["region"] == "LabRegion"
    assert len(sleeps) == 2


def test_keystone_ready_fails_fast_on_wrong_password(keystone):
    handler, url = keystone
    with pytest.raises(KeystoneNotReady, match="rejected the credentials.*HTTP 401"):
        wait_for_token(props(url, password="wrong", timeout=600), sleep=lambda s: pytest.fail("must not retry a 401"))
    assert handler.calls == 1


def test_keystone_ready_times_out_on_closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    with pytest.raises(KeystoneNotReady, match=r"did not issue a token within 10 s \(last error: .*refused"):
        wait_for_token(props(f"http://127.0.0.1:{port}", timeout=10), clock=lambda: now[0], sleep=sleep)


def test_keystone_ready_diff_ignores_normalization_and_discovered_region():
    olds = {**props("http://k:5000"), "auth_url": "http://k:5000/v3", "region": "RegionOne"}
    assert changed_inputs(olds, props("http://k:5000")) == []
    assert changed_inputs(olds, props("http://k:5000", password="new")) == ["password"]
    assert KeystoneReadyProvider().diff("id", olds, props("http://other:5000")).changes is True

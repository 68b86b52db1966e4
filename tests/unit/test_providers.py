"""The dynamic providers, called directly: create/diff/update/read/delete.

KeystoneReady talks to a small Keystone stand-in served on 127.0.0.1 (real HTTP).
"""
import hashlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from cryptography.hazmat.primitives import serialization

from providers.keystone_ready import KeystoneNotReady, KeystoneReadyProvider, changed_inputs, wait_for_token
from pulumi.runtime.rpc import UNKNOWN

from providers.packstack_answers import (
    ADMIN_PASSWORD_KEY,
    PASSWORD_KEYS,
    PackstackAnswersProvider,
    changed_keys,
)
from providers.ssh_keypair import SshKeyPairProvider

ANSWERS = {"CONFIG_CONTROLLER_HOST": "10.0.0.10", "CONFIG_COMPUTE_HOSTS": "10.0.0.11,10.0.0.12"}


# -- PackstackAnswers ----------------------------------------------------------------
def test_answers_create_generates_every_password():
    result = PackstackAnswersProvider().create(dict(ANSWERS))
    passwords = result.outs["passwords"]
    assert set(passwords) == set(PASSWORD_KEYS)
    assert len(set(passwords.values())) == len(PASSWORD_KEYS)  # all different
    assert all(len(p) >= 32 for p in passwords.values())
    assert result.outs["admin_password"] == passwords[ADMIN_PASSWORD_KEY]


def test_answer_file_holds_answers_and_passwords():
    outs = PackstackAnswersProvider().create(dict(ANSWERS)).outs
    lines = outs["answer_file"].splitlines()
    assert "CONFIG_COMPUTE_HOSTS=10.0.0.11,10.0.0.12" in lines
    assert f"CONFIG_KEYSTONE_ADMIN_PW={outs['admin_password']}" in lines
    assert lines == sorted(lines)


def test_diff_names_each_changed_key():
    provider = PackstackAnswersProvider()
    olds = provider.create(dict(ANSWERS)).outs
    news = {**ANSWERS, "CONFIG_COMPUTE_HOSTS": "10.0.0.11,10.0.0.12,10.0.0.13", "CONFIG_HEAT_INSTALL": "y"}
    assert changed_keys(olds, news) == ["CONFIG_COMPUTE_HOSTS", "CONFIG_HEAT_INSTALL"]
    diff = provider.diff("id", olds, news)
    assert diff.changes is True and diff.replaces == []


def test_diff_without_changes_is_empty():
    provider = PackstackAnswersProvider()
    olds = provider.create(dict(ANSWERS)).outs
    assert provider.diff("id", olds, dict(ANSWERS)).changes is False


def test_update_keeps_passwords_stable():
    provider = PackstackAnswersProvider()
    olds = provider.create(dict(ANSWERS)).outs
    news = {**ANSWERS, "CONFIG_COMPUTE_HOSTS": "10.0.0.11"}
    outs = provider.update("id", olds, news).outs
    assert outs["passwords"] == olds["passwords"]
    assert outs["CONFIG_COMPUTE_HOSTS"] == "10.0.0.11"
    assert outs["answer_file_sha256"] != olds["answer_file_sha256"]


def test_user_answer_overrides_generated_password():
    outs = PackstackAnswersProvider().create({**ANSWERS, "CONFIG_MARIADB_PW": "pinned"}).outs
    assert "CONFIG_MARIADB_PW=pinned" in outs["answer_file"].splitlines()


def test_answers_read_returns_state_and_delete_is_harmless():
    provider = PackstackAnswersProvider()
    created = provider.create(dict(ANSWERS))
    read = provider.read(created.id, created.outs)
    assert read.id == created.id and read.outs == created.outs
    assert provider.delete(created.id, created.outs) is None


# -- PackstackAnswers: a scale-out re-runs Packstack on every server ---------------------------
# Packstack's prescript option an earlier lab answered with the old computes on a scale-out (issue 17 item 4).
EXCLUDE = "EXCLUDE_SERVERS"
TUNNEL = {"CONFIG_NEUTRON_OVN_TUNNEL_SUBNETS": "10.0.0.0/24"}
LAB = {**ANSWERS, "CONFIG_NETWORK_HOSTS": "10.0.0.10", **TUNNEL}


def stored(provider, answers):
    """What the engine keeps after an up: the checked inputs and the outputs."""
    inputs = provider.check({}, dict(answers)).inputs
    return inputs, provider.create(inputs).outs


def scale(olds_inputs, olds_outs, news, provider=None):
    """preview/up of `news` on a stack holding olds: checked inputs, and the diff's changed keys."""
    provider = provider or PackstackAnswersProvider()
    checked = provider.check(olds_inputs, dict(news)).inputs
    return checked, changed_keys(olds_outs, checked), provider.diff("id", olds_outs, checked).changes


THREE = {**LAB, "CONFIG_COMPUTE_HOSTS": "10.0.0.11,10.0.0.12,10.0.0.13"}


def scaled_out(provider):
    """A stack after `up` of the scale-out 2 -> 3 computes: its checked inputs and outputs."""
    inputs, outs = stored(provider, LAB)
    checked, _, _ = scale(inputs, outs, THREE, provider)
    return checked, provider.update("id", outs, checked).outs


def test_adding_a_compute_changes_only_the_computes_and_reruns_packstack():
    provider = PackstackAnswersProvider()
    inputs, outs = stored(provider, LAB)
    checked, keys, changes = scale(inputs, outs, THREE, provider)
    assert keys == ["CONFIG_COMPUTE_HOSTS"] and changes is True
    assert EXCLUDE not in checked
    outs2 = provider.update("id", outs, checked).outs
    lines = outs2["answer_file"].splitlines()
    assert "CONFIG_COMPUTE_HOSTS=10.0.0.11,10.0.0.12,10.0.0.13" in lines
    assert not [line for line in lines if line.startswith(EXCLUDE)]  # Packstack's empty default: every server
    assert outs2["answer_file_sha256"] != outs["answer_file_sha256"]  # the Packstack run's trigger


@pytest.mark.parametrize("before, after", [
    ("10.0.0.11,10.0.0.12", "10.0.0.11,10.0.0.12,10.0.0.13"),  # computes added
    ("10.0.0.11,10.0.0.12", "10.0.0.11"),  # one removed
    ("10.0.0.11,10.0.0.12", "10.0.0.11,10.0.0.13"),  # one removed, one added
    ("10.0.0.10", "10.0.0.11"),  # all-in-one to the first compute
    ("10.0.0.10", "10.0.0.10,10.0.0.11"),  # a compute next to the all-in-one controller
])
def test_no_compute_change_answers_an_exclusion(before, after):
    inputs, outs = stored(PackstackAnswersProvider(), {**LAB, "CONFIG_COMPUTE_HOSTS": before})
    checked, keys, _ = scale(inputs, outs, {**LAB, "CONFIG_COMPUTE_HOSTS": after})
    assert keys == ["CONFIG_COMPUTE_HOSTS"] and EXCLUDE not in checked


def test_after_a_scale_out_a_no_change_preview_is_clean_and_the_next_one_is_the_computes_only():
    provider = PackstackAnswersProvider()
    checked, outs = scaled_out(provider)
    again, keys, changes = scale(checked, outs, THREE, provider)
    assert keys == [] and changes is False
    four = {**LAB, "CONFIG_COMPUTE_HOSTS": "10.0.0.11,10.0.0.12,10.0.0.13,10.0.0.14"}
    grown, keys, _ = scale(checked, outs, four, provider)
    assert keys == ["CONFIG_COMPUTE_HOSTS"] and EXCLUDE not in grown


def test_the_program_cannot_set_the_exclusion():
    provider = PackstackAnswersProvider()
    assert EXCLUDE not in provider.check({}, {**LAB, EXCLUDE: "10.0.0.11"}).inputs
    inputs, _ = stored(provider, LAB)
    assert EXCLUDE not in provider.check(inputs, {**THREE, EXCLUDE: "10.0.0.11,10.0.0.12"}).inputs


def excluded_scale_out(provider):
    """The state an earlier lab left after its scale-out 2 -> 3: inputs and outputs holding EXCLUDE_SERVERS
    with the old computes, and the line in the answer file (sorted, as that lab wrote it)."""
    exclusion = {EXCLUDE: "10.0.0.11,10.0.0.12"}
    inputs, outs = stored(provider, THREE)
    text = "".join(sorted([*outs["answer_file"].splitlines(keepends=True), f"{EXCLUDE}=10.0.0.11,10.0.0.12\n"]))
    outs = {**outs, **exclusion, "answer_file": text,
            "answer_file_sha256": hashlib.sha256(text.encode()).hexdigest()}
    return {**inputs, **exclusion}, outs


def test_a_stack_that_did_an_excluded_scale_out_drops_it_and_reruns_packstack_everywhere():
    """Its first preview after the upgrade shows `- EXCLUDE_SERVERS`; the update writes an answer file without it
    (a new hash: Packstack re-runs, on every server, which repairs migration); afterwards the stack is clean."""
    provider = PackstackAnswersProvider()
    inputs, outs = excluded_scale_out(provider)
    checked, keys, changes = scale(inputs, outs, THREE, provider)
    assert keys == [EXCLUDE] and changes is True
    assert EXCLUDE not in checked and checked["CONFIG_COMPUTE_HOSTS"] == THREE["CONFIG_COMPUTE_HOSTS"]
    repaired = provider.update("id", outs, checked).outs
    assert EXCLUDE not in repaired and EXCLUDE not in repaired["answer_file"]
    assert repaired["answer_file_sha256"] != outs["answer_file_sha256"]
    assert repaired["passwords"] == outs["passwords"]  # the same cloud, re-run
    assert repaired["answer_file"] == outs["answer_file"].replace(f"{EXCLUDE}=10.0.0.11,10.0.0.12\n", "")
    _, keys, changes = scale(checked, repaired, THREE, provider)
    assert keys == [] and changes is False


def test_an_excluded_stack_changing_another_answer_drops_the_exclusion_too():
    provider = PackstackAnswersProvider()
    inputs, outs = excluded_scale_out(provider)
    checked, keys, _ = scale(inputs, outs, {**THREE, "CONFIG_HEAT_INSTALL": "y"}, provider)
    assert keys == ["CONFIG_HEAT_INSTALL", EXCLUDE] and EXCLUDE not in checked


def test_a_stack_without_tunnel_subnets_adopts_them_only_with_another_change():
    """Stacks made before the lab wrote the tunnel subnets: a no-change preview stays clean; any Packstack
    run (a scale-out, another answer) brings them along."""
    old = {k: v for k, v in LAB.items() if k not in TUNNEL}
    inputs, outs = stored(PackstackAnswersProvider(), old)
    same, keys, changes = scale(inputs, outs, LAB)
    assert keys == [] and changes is False and not set(TUNNEL) & set(same)
    grown, keys, _ = scale(inputs, outs, THREE)
    assert keys == ["CONFIG_COMPUTE_HOSTS", *TUNNEL] and EXCLUDE not in grown
    _, keys, _ = scale(inputs, outs, {**LAB, "CONFIG_HEAT_INSTALL": "y"})
    assert keys == sorted(["CONFIG_HEAT_INSTALL", *TUNNEL])


def test_an_unknown_answer_in_preview_is_a_change():
    old = {k: v for k, v in LAB.items() if k not in TUNNEL}
    checked = PackstackAnswersProvider().check(old, {**LAB, "CONFIG_HEAT_INSTALL": UNKNOWN}).inputs
    assert checked["CONFIG_HEAT_INSTALL"] == UNKNOWN and set(TUNNEL) <= set(checked)


def test_check_keeps_the_non_answer_properties():
    news = {**LAB, "passwords": None, "answer_file": None, "__provider": "pickled"}
    checked = PackstackAnswersProvider().check({}, news).inputs
    assert checked["__provider"] == "pickled" and "passwords" in checked and "answer_file" in checked


# -- SshKeyPair ---------------------------------------------------------------------
def test_keypair_create_gives_matching_ed25519_keys():
    outs = SshKeyPairProvider().create({"comment": "host key of x"}).outs
    private = serialization.load_ssh_private_key(outs["private_key"].encode(), password=None)
    public_line = private.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    assert outs["public_key"].startswith("ssh-ed25519 ")
    assert outs["public_key"].split()[:2] == public_line.decode().split()
    assert outs["public_key"].endswith("host key of x")


def test_keypair_is_replaced_only_when_comment_changes():
    provider = SshKeyPairProvider()
    outs = provider.create({"comment": "a"}).outs
    assert provider.diff("id", outs, {"comment": "a"}).changes is False
    diff = provider.diff("id", outs, {"comment": "b"})
    assert diff.changes is True and diff.replaces == ["comment"]


def test_keypairs_are_unique():
    provider = SshKeyPairProvider()
    assert provider.create({"comment": "a"}).outs["public_key"] != provider.create({"comment": "a"}).outs["public_key"]


# -- KeystoneReady against a stand-in on 127.0.0.1 ------------------------------------
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

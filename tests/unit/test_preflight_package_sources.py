"""`make doctor` on packageSources: the probe (lab/preflight/probes/package_sources.py) against a fake mirror and a
fake proxy on loopback (the mirror on 127.0.0.2: 127.0.0.1 is among the lab's never-proxied addresses), and the
rule (lab/preflight/rules/package_sources.py) on what it found."""
from __future__ import annotations

import base64
import http.client
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import MappingProxyType
from typing import Optional
from urllib.parse import urlsplit

import pytest
from harness import HOST_B, lab_config
from preflight_facts import GOOD

from lab.config.model import PackageMirrors, PackageSources, Secret
from lab.package_sources import PackageSourcesPlan
from lab.plan import plan as plan_of
from lab.preflight import probes
from lab.preflight.check import fatal_problems
from lab.preflight.facts import SourceAnswer
from lab.preflight.probes.package_sources import UNREAD_SECRET, address_is_here, local_proxy, probe_sources, repomd_url
from lab.preflight.rules import run_checks
from lab.preflight.rules.package_sources import package_sources

REPOMD = b'<?xml version="1.0"?>\n<repomd xmlns="http://linux.duke.edu/metadata/repo"></repomd>\n'
MIRROR_HOST = "127.0.0.2"
NAMES = ("baseos", "appstream", "crb", "extras", "rdo")
DEPS = ("rabbitmq", "openvswitch", "ceph")


class MirrorHandler(BaseHTTPRequestHandler):
    """/<name>/repodata/repomd.xml answers a repomd for every repository; /html/... a web page; else 404."""

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path.endswith("/repodata/repomd.xml") and not path.startswith("/missing/"):
            body = b"<html>a directory listing</html>" if path.startswith("/html/") else REPOMD
            self.send_response(200)
        else:
            body = b"not found"
            self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class ProxyState:
    login: Optional[str] = None  # "user:password" the proxy asks for; None: open
    tunnel: bool = False  # CONNECT accepted (then the "mirror" behind it speaks no TLS); False: refused (403)
    seen: list[tuple[str, str, bool]] = field(default_factory=list)  # method, target, with a login header


def proxy_handler(state: ProxyState) -> type[BaseHTTPRequestHandler]:
    class ProxyHandler(BaseHTTPRequestHandler):
        """A forward proxy: absolute-URI GETs forwarded to loopback only; CONNECT refused (407 or 403)."""

        def _authorized(self) -> bool:
            given = self.headers.get("Proxy-Authorization", "")
            state.seen.append((self.command, self.path, bool(given)))
            if state.login is None:
                return True
            return given == "Basic " + base64.b64encode(state.login.encode()).decode()

        def _deny(self) -> None:
            self.send_response(407)
            self.send_header("Proxy-Authenticate", 'Basic realm="fake"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_CONNECT(self) -> None:
            if not self._authorized():
                return self._deny()
            if state.tunnel:
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"HTTP/1.1 400 no TLS here\r\n\r\n")
                self.close_connection = True
                return None
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            if not self._authorized():
                return self._deny()
            target = urlsplit(self.path)
            assert target.hostname in ("127.0.0.1", MIRROR_HOST), self.path  # nothing leaves loopback
            try:
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=5)
                conn.request("GET", target.path)
                upstream = conn.getresponse()
                status, body = upstream.status, upstream.read()
            except OSError:
                status, body = 502, b"bad gateway"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return ProxyHandler


def serve(address: str, handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer((address, 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"{address}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def mirror() -> Iterator[str]:
    yield from serve(MIRROR_HOST, MirrorHandler)


@pytest.fixture
def proxy_state() -> ProxyState:
    return ProxyState()


@pytest.fixture
def proxy(proxy_state: ProxyState) -> Iterator[str]:
    yield from serve("127.0.0.1", proxy_handler(proxy_state))


def closed_port() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def plan(mirror: Optional[str] = None, proxy: Optional[str] = None, user: Optional[str] = None,
         password: Optional[str] = None, no_proxy: tuple[str, ...] = (), broken: str = "") -> PackageSourcesPlan:
    """packageSources with every mirror on `mirror` (host:port); `broken` names one served from /missing/."""
    mirrors = None
    if mirror is not None:
        def url(name: str) -> str:
            return f"http://{mirror}/{'missing' if name == broken else 'el9'}/{name}/"
        mirrors = PackageMirrors(baseos=url("baseos"), appstream=url("appstream"), crb=url("crb"), rdo=url("rdo"),
                                 rdo_deps=MappingProxyType({d: url(d) for d in DEPS}), extras=url("extras"))
    sources = PackageSources(proxy=f"http://{proxy}" if proxy else None, proxy_user=user,
                             proxy_password=Secret(password) if password is not None else None,
                             no_proxy=no_proxy, mirrors=mirrors)
    return PackageSourcesPlan(sources, "epoxy", ("localhost", "127.0.0.1"))


def by_name(checks: list) -> dict:
    return {c.name: c for c in checks}


def test_an_address_of_this_machine_is_told_apart() -> None:
    assert address_is_here("127.0.0.1") and not address_is_here("192.0.2.77")


def test_repomd_url_joins_the_base_and_fills_dnf_variables() -> None:
    assert repomd_url("http://m/$releasever-stream/BaseOS/$basearch/os") == \
        "http://m/9-stream/BaseOS/x86_64/os/repodata/repomd.xml"
    assert repomd_url("http://m/os/") == "http://m/os/repodata/repomd.xml"


def test_every_mirror_answers_directly(mirror: str) -> None:
    sources = plan(mirror)
    answers = probe_sources(sources)
    assert {a.key.rsplit(".", 1)[1] for a in answers} == {*NAMES, *DEPS}
    assert all(a.repomd and a.proxy == "" for a in answers)
    checks = package_sources(sources, answers, fatal=True)
    assert len(checks) == 8 and all(c.ok for c in checks)
    assert by_name(checks)["mirrors.rdoDeps.ceph"].detail.endswith("/el9/ceph/repodata/repomd.xml answers")


def test_a_mirror_without_repodata_fails_naming_its_key(mirror: str) -> None:
    sources = plan(mirror, broken="crb")
    failed = [c for c in package_sources(sources, probe_sources(sources), fatal=True) if not c.ok]
    assert [c.name for c in failed] == ["mirrors.crb"]
    assert failed[0].fatal and failed[0].where == "packageSources"
    assert "packageSources.mirrors.crb: http://" in failed[0].detail and "answers 404" in failed[0].detail
    assert "directory that holds repodata/" in failed[0].detail


def test_a_page_that_is_no_repomd_is_refused() -> None:
    answer = SourceAnswer("packageSources.mirrors.baseos", "http://m/html/repodata/repomd.xml", status=200)
    (check,) = package_sources(plan("m:1"), (answer,), fatal=True)
    assert not check.ok and "not with a repomd.xml" in check.detail


def test_a_mirror_that_does_not_answer() -> None:
    sources = plan(closed_port())
    checks = package_sources(sources, probe_sources(sources, timeout=3), fatal=True)
    assert checks and not any(c.ok for c in checks)
    assert "does not answer from this machine" in checks[0].detail


def test_mirrors_through_the_proxy(mirror: str, proxy: str, proxy_state: ProxyState) -> None:
    sources = plan(mirror, proxy=proxy)
    answers = probe_sources(sources)
    assert all(a.repomd and a.proxy == proxy and a.proxy_answered for a in answers)
    assert len(proxy_state.seen) == 8 and all(m == "GET" and t.startswith(f"http://{mirror}/") for m, t, _ in
                                              proxy_state.seen)
    checks = by_name(package_sources(sources, answers, fatal=True))
    assert checks["proxy"].ok and "8 request(s) through it" in checks["proxy"].detail
    assert checks["mirrors.baseos"].detail.endswith("answers through the proxy")


def test_no_proxy_mirrors_go_direct(mirror: str, proxy: str, proxy_state: ProxyState) -> None:
    sources = plan(mirror, proxy=proxy, no_proxy=(MIRROR_HOST,))
    answers = probe_sources(sources)
    assert proxy_state.seen == [] and all(a.repomd and a.proxy == "" for a in answers)
    checks = package_sources(sources, answers, fatal=True)
    assert "proxy" not in by_name(checks) and all(c.ok for c in checks)


def test_a_proxy_that_does_not_answer_is_one_problem(mirror: str) -> None:
    sources = plan(mirror, proxy=closed_port())
    checks = package_sources(sources, probe_sources(sources, timeout=3), fatal=True)
    proxy_check = by_name(checks)["proxy"]
    assert not proxy_check.ok and proxy_check.fatal and "does not answer from this machine" in proxy_check.detail
    assert "make caching-proxy" in proxy_check.detail
    # The mirrors behind it are not blamed: not checked, and not fatal.
    assert all(not c.fatal and "not checked" in c.detail for c in checks if c.name != "proxy")


def test_a_proxy_asking_for_a_login_without_a_user(mirror: str, proxy: str, proxy_state: ProxyState) -> None:
    proxy_state.login = "lab:s3cret"
    sources = plan(mirror, proxy=proxy)
    proxy_check = by_name(package_sources(sources, probe_sources(sources), fatal=True))["proxy"]
    assert not proxy_check.ok and "asks for a login (407)" in proxy_check.detail
    assert "packageSources.proxyUser" in proxy_check.detail and "packageProxyPassword" in proxy_check.detail


def test_the_login_goes_in_a_header_and_works(mirror: str, proxy: str, proxy_state: ProxyState) -> None:
    proxy_state.login = "lab:s3cret"
    sources = plan(mirror, proxy=proxy, user="lab", password="s3cret")
    answers = probe_sources(sources)
    assert all(a.repomd and a.login_sent for a in answers)
    assert all(with_login for _, _, with_login in proxy_state.seen)
    checks = package_sources(sources, answers, fatal=True)
    assert all(c.ok for c in checks) and "logged in as lab" in by_name(checks)["proxy"].detail
    assert not any("s3cret" in c.detail for c in checks)


def test_a_wrong_password_is_refused_without_showing_it(mirror: str, proxy: str, proxy_state: ProxyState) -> None:
    proxy_state.login = "lab:s3cret"
    sources = plan(mirror, proxy=proxy, user="lab", password="wrong-one")
    checks = package_sources(sources, probe_sources(sources), fatal=True)
    proxy_check = by_name(checks)["proxy"]
    assert not proxy_check.ok and proxy_check.fatal and "refuses the login of packageSources.proxyUser lab" in \
        proxy_check.detail
    assert not any("wrong-one" in c.detail for c in checks)


def test_doctor_cannot_read_the_secret_so_sends_no_login(mirror: str, proxy: str, proxy_state: ProxyState) -> None:
    proxy_state.login = "lab:s3cret"
    sources = plan(mirror, proxy=proxy, user="lab", password=UNREAD_SECRET)
    answers = probe_sources(sources)
    assert not any(with_login for _, _, with_login in proxy_state.seen)
    proxy_check = by_name(package_sources(sources, answers, fatal=True))["proxy"]
    assert not proxy_check.ok and not proxy_check.fatal and "not tried here" in proxy_check.detail


def test_without_mirrors_the_proxy_is_asked_for_the_public_baseos(proxy: str, proxy_state: ProxyState) -> None:
    """The public mirror is https: the probe asks the proxy for a tunnel (the fake refuses it: nothing leaves)."""
    proxy_state.login = "lab:s3cret"
    sources = plan(proxy=proxy)
    (answer,) = probe_sources(sources)
    assert answer.key == "packageSources.proxy" and answer.url.startswith("https://mirror.stream.centos.org/")
    assert proxy_state.seen[0][0] == "CONNECT" and proxy_state.seen[0][1] == "mirror.stream.centos.org:443"
    assert answer.proxy_answered and answer.status == 407
    proxy_check = by_name(package_sources(sources, (answer,), fatal=True))["proxy"]
    assert not proxy_check.ok and "asks for a login" in proxy_check.detail


def test_a_mirror_tls_failure_behind_a_tunnel_is_the_mirrors(proxy: str, proxy_state: ProxyState) -> None:
    proxy_state.tunnel = True
    sources = plan(proxy=proxy)
    (answer,) = probe_sources(sources, timeout=5)
    assert answer.proxy_answered and answer.status is None and answer.error
    checks = by_name(package_sources(sources, (answer,), fatal=True))
    assert checks["proxy"].ok
    assert not checks["public mirror"].ok and "does not answer from this machine through the proxy" in \
        checks["public mirror"].detail


def test_warnings_only_when_the_nodes_do_not_download_through_this_machine(mirror: str) -> None:
    sources = plan(mirror, broken="rdo")
    checks = package_sources(sources, probe_sources(sources), fatal=False)
    assert [c.name for c in checks if not c.ok] == ["mirrors.rdo"] and not any(c.fatal for c in checks)


def test_nothing_configured_or_not_asked_reports_nothing(mirror: str) -> None:
    assert package_sources(None, (), fatal=True) == []
    assert package_sources(plan(mirror), (), fatal=True) == []
    assert probe_sources(replace(plan(), sources=PackageSources())) == ()


def test_the_lab_hosts_own_proxy_is_asked_on_loopback() -> None:
    config = lab_config({})
    gateway = config.management_gateway
    on_gateway = plan_of(lab_config({"packageSources": {"proxy": f"http://{gateway}:3128"}}))
    assert local_proxy(on_gateway) == "127.0.0.1:3128"
    assert local_proxy(on_gateway, is_here=lambda address: True) is None  # the network exists: ask it there
    assert local_proxy(plan_of(lab_config({"packageSources": {"proxy": "http://proxy.corp:8080"}}))) is None
    remote = lab_config({"libvirtUri": HOST_B, "packageSources": {"proxy": f"http://{gateway}:3128"}})
    assert local_proxy(plan_of(remote)) is None  # the gateway is that host's, not this machine's
    answer = SourceAnswer("packageSources.proxy", "https://x/repodata/repomd.xml", proxy="127.0.0.1:3128",
                          proxy_answered=True, status=200, repomd=True)
    proxy_check = by_name(package_sources(on_gateway.prep.package_sources, (answer,), fatal=True))["proxy"]
    assert proxy_check.ok and f"http://{gateway}:3128 (asked at 127.0.0.1:3128" in proxy_check.detail


def test_doctor_reports_them_under_their_heading_fatal_only_for_a_local_host() -> None:
    bad = (SourceAnswer("packageSources.mirrors.baseos", "http://m/repodata/repomd.xml", status=404),)
    sources = {"packageSources": {"mirrors": {**{n: f"http://m/{n}/" for n in NAMES},
                                              "rdoDeps": {d: f"http://m/{d}/" for d in DEPS}}}}
    local = plan_of(lab_config(sources))
    found = [c for c in run_checks(local, replace(GOOD, package_sources=bad)) if c.where == "packageSources"]
    assert [(c.name, c.ok, c.fatal) for c in found] == [("mirrors.baseos", False, True)]
    assert fatal_problems(found)
    remote = plan_of(lab_config({**sources, "libvirtUri": HOST_B}))
    found = [c for c in run_checks(remote, replace(GOOD, package_sources=bad)) if c.where == "packageSources"]
    assert found and not fatal_problems(found)


def test_only_doctor_asks_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gate (every preview and up) gathers without the package probes; `make doctor` asks for them."""
    asked = []
    monkeypatch.setattr(probes, "probe_sources", lambda sources, at: asked.append(at) or ())
    monkeypatch.setattr(probes, "gather_machine", lambda lab, which: GOOD.machine)
    monkeypatch.setattr(probes, "gather_host", lambda lab, index, virsh: GOOD.hosts[0])
    lab = plan_of(lab_config({"packageSources": {"proxy": "http://proxy.corp:8080"}}))
    probes.gather(lab, existing=False)
    assert asked == []
    probes.gather(lab, sources=True)
    assert asked == [None]


def test_doctor_reads_the_proxy_password_through_the_cli_when_it_can(monkeypatch: pytest.MonkeyPatch) -> None:
    import tools.doctor as doctor

    calls = []

    def run(argv, **kwargs):
        calls.append((argv, kwargs))
        return subprocess.CompletedProcess(argv, 0, "s3cret\n", "")

    monkeypatch.setattr(doctor.shutil, "which", lambda name: "/usr/bin/pulumi")
    assert doctor.read_secret("alice", "packageProxyPassword", run) == "s3cret"
    assert calls[0][0] == ["pulumi", "--non-interactive", "config", "get", "packageProxyPassword", "--stack", "alice"]
    assert calls[0][1]["capture_output"]  # into memory, never this terminal
    failing = lambda argv, **kwargs: subprocess.CompletedProcess(argv, 255, "", "error: no stack named 'alice'")  # noqa: E731
    assert doctor.read_secret("alice", "packageProxyPassword", failing) is None
    monkeypatch.setattr(doctor.shutil, "which", lambda name: None)
    assert doctor.read_secret("alice", "packageProxyPassword", run) is None


def test_doctor_checks_the_proxy_login_with_the_stacks_secret(mirror: str, proxy: str, proxy_state: ProxyState,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    import tools.doctor as doctor

    proxy_state.login = "lab:s3cret"
    mirrors = {**{n: f"http://{mirror}/el9/{n}/" for n in NAMES}, "rdoDeps": {d: f"http://{mirror}/el9/{d}/"
                                                                             for d in DEPS}}
    monkeypatch.setattr(doctor, "stack_config", lambda stack: {
        "packageSources": {"proxy": f"http://{proxy}", "proxyUser": "lab", "mirrors": mirrors},
        "packageProxyPassword": UNREAD_SECRET})
    monkeypatch.setattr(doctor, "read_secret", lambda stack, key: "s3cret")
    monkeypatch.setattr(doctor, "gather", lambda lab, sources: replace(
        GOOD, package_sources=probe_sources(lab.prep.package_sources) if sources else ()))
    doctor.main(["--stack", "alice"])
    out = capsys.readouterr()
    assert f"[ok  ] proxy: http://{proxy} answers (8 request(s) through it, logged in as lab)" in out.out
    assert "[ok  ] mirrors.rdoDeps.ceph:" in out.out and "s3cret" not in out.out + out.err
    assert all(with_login for _, _, with_login in proxy_state.seen)

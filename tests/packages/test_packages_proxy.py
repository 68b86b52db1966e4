"""The lab's dnf proxy settings (lab/package_sources.py) under the real dnf, through a real squid started from
the caching-proxy recipe's configuration (lab/caching_proxy.py): squid's log shows every request, a second
download of the same package (a rebuilt node: a fresh root) is a cache hit while repomd.xml is fetched from the
mirror again, a mirror in noProxy goes direct, and a proxy login works from the root-only dnf.conf without the
password ever reaching a command line, a log or another file."""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import pytest

from packagessupport import (MIRROR_ADDRESS, MIRROR_URL, OUTSIDER_ADDRESS, PROXY_ADDRESS, CmdlineWatch, Mirror,
                             Namespace, Squid, SquidLogin, dnf_argv, installed, proxy_get, render_el9, run_dnf,
                             sources, sources_plan)
from support.command_log import CommandLog
from support.secret_scan import Secrets, assert_absent

PROBE_RPM = "/appstream/Packages/osl-probe-1.0-1.noarch.rpm"
HITS = ("TCP_HIT/", "TCP_MEM_HIT/")


@dataclass(frozen=True)
class TwoDownloads:
    first: list[tuple[str, str]]  # squid's (result, URL) of the first node's install
    second: list[tuple[str, str]]  # ... and of the rebuilt node's
    mirror_gets: list[str]  # the mirror's request lines during both


def results_for(entries: list[tuple[str, str]], path: str) -> list[str]:
    return [code for code, url in entries if url.endswith(path)]


@pytest.fixture(scope="module")
def two_downloads(ns: Namespace, mirror: Mirror, squid: Squid, base: Path, command_log: CommandLog) -> TwoDownloads:
    """osl-probe installed on a node, then on the same node rebuilt (a new root, nothing kept), through squid."""
    plan = sources_plan(sources(proxy=squid.url))
    seen, mirrored = len(squid.entries()), len(mirror.requests())
    logs = []
    for name in ("first-node", "rebuilt-node"):
        root = base / "roots" / f"proxy-{name}"
        render_el9(root, plan, command_log)
        proc = run_dnf(ns, root, command_log, "install", "osl-probe")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert installed(ns, root, "osl-probe")
        logs.append(squid.entries()[seen:])
        seen += len(logs[-1])
    return TwoDownloads(logs[0], logs[1], mirror.requests()[mirrored:])


def test_every_request_goes_through_the_proxy(two_downloads: TwoDownloads) -> None:
    urls = [url for _, url in two_downloads.first]
    assert any(url.endswith(PROBE_RPM) for url in urls), urls
    for repo in ("baseos", "appstream", "crb", "extras", "rdo", "rabbitmq", "openvswitch", "ceph"):
        assert any(url.endswith(f"/{repo}/repodata/repomd.xml") for url in urls), f"{repo} not through squid"
    assert all(url.startswith(f"http://{MIRROR_ADDRESS}:") for url in urls)
    # The first time squid had to fetch the package from the mirror.
    assert results_for(two_downloads.first, PROBE_RPM) == ["TCP_MISS/200"]


def test_a_rebuilt_node_gets_the_package_from_the_cache(two_downloads: TwoDownloads) -> None:
    codes = results_for(two_downloads.second, PROBE_RPM)
    assert len(codes) == 1 and codes[0].startswith(HITS), codes
    assert sum(PROBE_RPM in line for line in two_downloads.mirror_gets) == 1  # the mirror served it once


def test_repomd_is_always_fetched_again(two_downloads: TwoDownloads) -> None:
    """The recipe's refresh_pattern 0 0% 0 for repomd.xml: a mirror's update is seen at once."""
    codes = results_for(two_downloads.second, "/appstream/repodata/repomd.xml")
    assert codes and not any(code.startswith(HITS) for code in codes), codes
    # Checksum-named metadata files are served from the cache.
    named = [code for code, url in two_downloads.second if "/repodata/" in url and not url.endswith("repomd.xml")]
    assert named and all(code.startswith(HITS) for code in named), named


def test_the_recipe_serves_only_the_lab_networks_and_never_its_own_loopback(ns: Namespace, mirror: Mirror,
                                                                          squid: Squid) -> None:
    """The recipe's ACLs under the real squid: a lab client passes, a client outside the lab's networks and a
    request for the proxy host's own loopback are refused (403), whatever the mirror would say."""
    key = f"{MIRROR_URL}/keys/RPM-GPG-KEY-CentOS-SIG-Cloud"
    at = f"{PROXY_ADDRESS}:{squid.port}"
    assert proxy_get(ns, key, at, PROXY_ADDRESS) == 200
    assert proxy_get(ns, key, at, OUTSIDER_ADDRESS) == 403
    # Nothing listens there in the namespace: without `deny to_localhost` squid would try and answer 503.
    assert proxy_get(ns, "http://127.0.0.1:8080/", at, PROXY_ADDRESS) == 403
    assert ("TCP_DENIED/403", key) in squid.entries()


def test_a_mirror_in_no_proxy_is_reached_directly(ns: Namespace, mirror: Mirror, squid: Squid, scratch_root: Path,
                                                  command_log: CommandLog) -> None:
    plan = sources_plan(sources(proxy=squid.url, noProxy=[MIRROR_ADDRESS]))
    render_el9(scratch_root, plan, command_log)
    assert "\nproxy=\n" in (scratch_root / "etc/yum.repos.d").joinpath(os.listdir(scratch_root / "etc/yum.repos.d")[0]
                                                                       ).read_text()
    seen, mirrored = len(squid.entries()), len(mirror.requests())
    proc = run_dnf(ns, scratch_root, command_log, "install", "osl-probe")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert squid.entries()[seen:] == []
    assert any(PROBE_RPM in line for line in mirror.requests()[mirrored:])


def test_a_proxy_login_from_the_root_only_dnf_conf(ns: Namespace, mirror: Mirror, squid_with_login: Squid,
                                                   proxy_login: SquidLogin, base: Path,
                                                   command_log: CommandLog) -> None:
    secret = Secrets(packageProxyPassword=proxy_login.password)
    # Without the login squid refuses (407) and dnf fails: the login below is what lets dnf through.
    anonymous = base / "roots" / "login-anonymous"
    render_el9(anonymous, sources_plan(sources(proxy=squid_with_login.url)), command_log)
    seen = len(squid_with_login.entries())
    refused = run_dnf(ns, anonymous, command_log, "install", "osl-probe")
    assert refused.returncode != 0
    assert any(code == "TCP_DENIED/407" for code, _ in squid_with_login.entries()[seen:])

    root = base / "roots" / "login"
    written = render_el9(root, sources_plan(sources(proxy=squid_with_login.url, proxyUser=proxy_login.user),
                                            password=proxy_login.password), command_log)
    holders = [path for path in written if proxy_login.password in (root / path.lstrip("/")).read_text()]
    assert holders == ["/etc/dnf/dnf.conf"], holders
    assert stat.S_IMODE((root / "etc/dnf/dnf.conf").stat().st_mode) == 0o600
    argv = dnf_argv(root, "install", "osl-probe")
    assert_absent(secret, " ".join(argv), "dnf's argv")
    seen = len(squid_with_login.entries())
    with CmdlineWatch([proxy_login.password]) as watch:
        proc = run_dnf(ns, root, command_log, "install", "osl-probe")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert watch.scans > 0 and watch.seen == [], "a process held the proxy password on its command line"
    assert installed(ns, root, "osl-probe")
    entries = squid_with_login.entries()[seen:]
    # libcurl asks without the login first and answers squid's 407 challenge with it: every URL got through.
    denied = {url for code, url in entries if code == "TCP_DENIED/407"}
    passed = {url for code, url in entries if code.endswith("/200")}
    assert any(url.endswith(PROBE_RPM) for url in passed) and denied <= passed, entries
    assert proxy_login.user in squid_with_login.access_log.read_text()  # squid logs who, never the password
    assert_absent(secret, proc.stdout + proc.stderr, "dnf's output")
    for path in sorted(root.rglob("*")):  # dnf's own logs and cache under the root
        if path.is_file() and path != root / "etc/dnf/dnf.conf":
            assert_absent(secret, path.read_bytes().decode(errors="replace"), str(path.relative_to(root)))
    for path in sorted(squid_with_login.logs.rglob("*")):
        if path.is_file():
            assert_absent(secret, path.read_text(errors="replace"), f"squid's {path.name}")
    assert_absent(secret, mirror.log.read_text(errors="replace"), "the mirror's log")

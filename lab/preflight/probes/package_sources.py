"""packageSources as this machine sees them (issue 21 item 3): the configured proxy answers an HTTP request, and
each mirror answers its repodata/repomd.xml (through the proxy unless noProxy lets the nodes reach it directly).
The only code of these checks that opens sockets; every request is bounded (PACKAGE_PROBE_TIMEOUT_S per
connect and read) and the requests run side by side.

The proxy password, when known, goes into a Proxy-Authorization header in memory, never a command line or a
message. `make doctor` reads the stack file without decrypting (tools/doctor.py: an encrypted value reads as
UNREAD_SECRET), so there no login is sent and a proxy asking for one is reported as such.
"""
from __future__ import annotations

import base64
import http.client
import re
import socket
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Optional
from urllib.parse import urlsplit

from lab.config.packages import BASE_MIRRORS
from lab.package_sources import PackageSourcesPlan, bypasses_proxy
from lab.plan import LabPlan
from lab.preflight.facts import PACKAGE_PROBE_TIMEOUT_S, SourceAnswer
from lab.preflight.hosts import is_local

# tools/doctor.py's stand-in for a value encrypted in the stack file.
UNREAD_SECRET = "<secret>"
# What EL9's dnf puts for these variables (CentOS Stream 9 on x86_64).
DNF_VARIABLES = {"$basearch": "x86_64", "$releasever": "9", "$stream": "9-stream"}
READ_LIMIT = 65536


@dataclass(frozen=True)
class Target:
    key: str  # the config key the answer is about
    url: str  # the repomd.xml asked for
    proxied: bool  # through packageSources.proxy


def address_is_here(address: str) -> bool:
    """Whether `address` is one of this machine's (a socket can bind to it; nothing is sent)."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as probe:
            probe.bind((address, 0))
            return True
    except OSError:
        return False


def local_proxy(lab: LabPlan, is_here: Callable[[str], bool] = address_is_here) -> Optional[str]:
    """127.0.0.1:<port> when the proxy is this machine's address on the management network (NAT mode, the first
    host here, as `make caching-proxy` sets it up) and that address does not exist yet (`up` makes the network; the
    recipe's squid listens on every address). None: ask the proxy where it is."""
    sources = lab.prep.package_sources
    if sources is None or sources.sources.proxy is None:
        return None
    if lab.management.mode != "nat" or not is_local(lab.hosts[0].uri):
        return None
    parts = urlsplit(sources.sources.proxy)
    host = parts.hostname or ""
    if not host or host != lab.management.gateway or is_here(host):
        return None
    return f"127.0.0.1:{parts.port}"


def repomd_url(base: str) -> str:
    for variable, value in DNF_VARIABLES.items():
        base = base.replace(variable, value)
    return base.rstrip("/") + "/repodata/repomd.xml"


def targets(sources: PackageSourcesPlan) -> list[Target]:
    """Every mirror's repomd.xml, or, with a proxy and no mirrors, the public BaseOS one the nodes would fetch."""
    src = sources.sources
    proxied = src.proxy is not None

    def target(key: str, base: str) -> Target:
        url = repomd_url(base)
        return Target(key, url, proxied and not bypasses_proxy(urlsplit(url).hostname or "", sources.no_proxy))

    if src.mirrors is None:
        return [target("packageSources.proxy", BASE_MIRRORS["baseos"])] if proxied else []
    mirrors = src.mirrors
    found = [target(f"packageSources.mirrors.{name}", url) for name, url in (
        ("baseos", mirrors.baseos), ("appstream", mirrors.appstream), ("crb", mirrors.crb), ("extras", mirrors.extras),
        ("rdo", mirrors.rdo)) if url]
    return found + [target(f"packageSources.mirrors.rdoDeps.{name}", url) for name, url in mirrors.rdo_deps.items()]


def probe_sources(sources: PackageSourcesPlan, proxy_at: Optional[str] = None,
                  timeout: float = PACKAGE_PROBE_TIMEOUT_S) -> tuple[SourceAnswer, ...]:
    """Each target asked once, side by side; `proxy_at` (host:port) replaces the proxy's own address (the lab
    host's proxy asked on 127.0.0.1 before the management network exists)."""
    src = sources.sources
    proxy = proxy_at or (urlsplit(src.proxy).netloc if src.proxy else "")
    login = None
    if src.proxy_user is not None and src.proxy_password is not None and src.proxy_password.value != UNREAD_SECRET:
        login = (src.proxy_user, src.proxy_password.value)
    found = targets(sources)
    if not found:
        return ()
    with ThreadPoolExecutor(max_workers=min(8, len(found))) as pool:
        return tuple(pool.map(lambda t: fetch(t, proxy if t.proxied else "", login, timeout), found))


def fetch(target: Target, proxy: str, login: Optional[tuple[str, str]], timeout: float) -> SourceAnswer:
    """GET target.url, through `proxy` (host:port) when given; which side failed is told apart by the step."""
    parts = urlsplit(target.url)
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    host = parts.hostname or ""
    auth = {"Proxy-Authorization": "Basic " + base64.b64encode(":".join(login).encode()).decode()} if login else {}
    answer = SourceAnswer(target.key, target.url, proxy=proxy, login_sent=bool(login and proxy))
    conn: http.client.HTTPConnection
    if proxy:
        proxy_host, _, proxy_port = proxy.rpartition(":")
        if https:
            conn = http.client.HTTPSConnection(proxy_host, int(proxy_port), timeout=timeout,
                                               context=ssl.create_default_context())
            conn.set_tunnel(host, port, headers=auth)
        else:
            conn = http.client.HTTPConnection(proxy_host, int(proxy_port), timeout=timeout)
    else:
        conn = (http.client.HTTPSConnection(host, port, timeout=timeout, context=ssl.create_default_context())
                if https else http.client.HTTPConnection(host, port, timeout=timeout))
    try:
        try:
            conn.connect()
        except ssl.SSLError as err:  # TCP (and a proxy's tunnel) stood: the mirror's TLS failed
            return _with(answer, proxy_answered=True if proxy else None, error=_short(err))
        except OSError as err:
            refused = re.search(r"Tunnel connection failed: (\d{3})", str(err))
            if proxy and refused:  # the proxy answered the CONNECT, with a refusal
                return _with(answer, proxy_answered=True, status=int(refused.group(1)))
            return _with(answer, proxy_answered=False if proxy else None, error=_short(err))
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {"User-Agent": "openstack-lab-doctor", "Accept": "*/*"}
        if proxy and not https:
            conn.request("GET", target.url, headers={**headers, **auth})
        else:
            conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read(READ_LIMIT)
        return _with(answer, proxy_answered=True if proxy else None, status=response.status,
                     repomd=response.status == 200 and b"<repomd" in body)
    except (OSError, http.client.HTTPException) as err:
        return _with(answer, proxy_answered=True if proxy else None, error=_short(err))
    finally:
        conn.close()


def _with(answer: SourceAnswer, **changes: object) -> SourceAnswer:
    return replace(answer, **changes)  # type: ignore[arg-type]  # SourceAnswer's fields, by name


def _short(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return ("timed out" if isinstance(err, TimeoutError) else text)[:200]

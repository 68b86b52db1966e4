"""The caching proxy recipe (issue 21 item 3): squid's whole configuration for a lab host that keeps every package
its nodes download, so a rebuilt lab fetches nothing twice. Pure: `squid_config(settings)` renders the file that
`make caching-proxy` installs (tools/caching_proxy.py, tools/caching-proxy.sh) and that tests/packages starts a
real squid from, with the test's own paths and port.

Why each setting (squid 5.7 on Debian 12, squid 5.5 on EL9; the directives are squid's own, squid.conf.documented):
- packages are large (a kernel, an OpenStack service's RPM, firmware): squid's default `maximum_object_size` of 4 MB
  would let almost every package pass uncached; the limit is raised to 4 GB, set before `cache_dir` (squid applies
  it to the cache dirs declared after it), with `heap LFUDA` replacement, which keeps large, often-used objects;
- a download dnf gives up (a timeout, a mirror switch) still completes into the cache (`quick_abort_min -1`),
  and a ranged request (dnf resumes, delta RPMs) fetches the whole object (`range_offset_limit`);
- `refresh_pattern`: an RPM or delta RPM of a given name never changes (a new build has a new file name), and
  createrepo's metadata files carry their checksum in their names, so both are cached for 90 days; `repomd.xml`, the
  one file a mirror rewrites in place, is always revalidated with the mirror (`0 0% 0`), so a mirror's update is
  seen at once; every other object goes by squid's default heuristic;
- only the lab's networks and this machine may use it; never towards this machine's own loopback (`to_localhost`),
  CONNECT only to port 443: an https mirror is tunnelled and cannot be cached, hence http:// mirrors for caching.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

# Debian's and EL's paths of the squid package (both build with these).
DEFAULT_CACHE_DIR = "/var/spool/squid"
DEFAULT_LOG_DIR = "/var/log/squid"
DEFAULT_PID_FILE = "/run/squid.pid"
DEFAULT_PORT = 3128
DEFAULT_CACHE_MIB = 40960
# An RPM and a checksum-named metadata file never change under one name: 90 days (squid counts minutes).
IMMUTABLE_MINUTES = 129600
MAXIMUM_OBJECT = "4 GB"


@dataclass(frozen=True)
class BasicAuth:
    """A login the proxy asks for: squid's NCSA helper over an htpasswd-style file (user:crypt-hash per line)."""

    helper: str  # /usr/lib/squid/basic_ncsa_auth (Debian), /usr/lib64/squid/basic_ncsa_auth (EL)
    passwords_file: str


@dataclass(frozen=True)
class SquidSettings:
    clients: tuple[str, ...]  # CIDRs allowed to use the proxy besides this machine's loopback
    port: int = DEFAULT_PORT
    listen: str = ""  # an address to listen on; "" = every address of the host (the lab's networks come later)
    cache_dir: str = DEFAULT_CACHE_DIR
    cache_mib: int = DEFAULT_CACHE_MIB
    log_dir: str = DEFAULT_LOG_DIR
    pid_file: str = DEFAULT_PID_FILE
    auth: Optional[BasicAuth] = None
    # Test runs only: where squid's own DNS client asks (tests run in a namespace with a resolver on 127.0.0.1).
    dns_nameservers: tuple[str, ...] = ()


def squid_config(settings: SquidSettings) -> str:
    s = settings
    lines = [
        "# openstack-lab caching proxy (lab/caching_proxy.py; `make caching-proxy` installs it): keeps the packages",
        "# the lab's nodes download, so a rebuild fetches nothing twice. Written by the lab: edits are overwritten.",
        f"http_port {s.listen + ':' if s.listen else ''}{s.port}",
        "visible_hostname openstack-lab-cache",
        "",
        "# Who may use it: this machine and the lab's networks; CONNECT (https, not cacheable) only to 443.",
        *(f"acl lab_clients src {cidr}" for cidr in s.clients),
        "acl SSL_ports port 443",
        "acl Safe_ports port 80 443 1025-65535",
        "http_access deny !Safe_ports",
        "http_access deny CONNECT !SSL_ports",
        "http_access deny to_localhost",
        "http_access deny manager",
    ]
    if s.auth is not None:
        lines += [
            f"auth_param basic program {s.auth.helper} {s.auth.passwords_file}",
            "auth_param basic realm openstack-lab package proxy",
            "auth_param basic children 2",
            "acl lab_login proxy_auth REQUIRED",
            "http_access deny !lab_login",
        ]
    lines += [
        "http_access allow localhost",
        *(["http_access allow lab_clients"] if s.clients else []),
        "http_access deny all",
        "",
        "# Packages are large: keep objects up to 4 GB (set before cache_dir, which takes it as its limit).",
        f"maximum_object_size {MAXIMUM_OBJECT}",
        "cache_replacement_policy heap LFUDA",
        f"cache_dir ufs {s.cache_dir} {s.cache_mib} 16 256",
        f"coredump_dir {s.cache_dir}",
        "cache_mem 256 MB",
        "maximum_object_size_in_memory 8 MB",
        "# A download the client abandons or asks in ranges still completes into the cache.",
        "quick_abort_min -1 KB",
        f"range_offset_limit {MAXIMUM_OBJECT}",
        "",
        "# repomd.xml changes in place: always revalidated. Packages and checksum-named metadata never change.",
        r"refresh_pattern -i /repodata/repomd\.xml$ 0 0% 0",
        rf"refresh_pattern -i \.(rpm|drpm)$ {IMMUTABLE_MINUTES} 100% {IMMUTABLE_MINUTES} override-expire "
        "ignore-no-store ignore-private",
        rf"refresh_pattern -i /repodata/[0-9a-f]+-[^/]+$ {IMMUTABLE_MINUTES} 100% {IMMUTABLE_MINUTES} "
        "override-expire",
        r"refresh_pattern -i (/cgi-bin/|\?) 0 0% 0",
        "refresh_pattern . 0 20% 4320",
        "",
        f"access_log daemon:{s.log_dir}/access.log squid",
        f"cache_log {s.log_dir}/cache.log",
        "cache_store_log none",
        "logfile_rotate 0",
        f"pid_filename {s.pid_file}",
        "pinger_enable off",
    ]
    if s.dns_nameservers:
        lines.append(f"dns_nameservers {' '.join(s.dns_nameservers)}")
    return "\n".join(lines) + "\n"

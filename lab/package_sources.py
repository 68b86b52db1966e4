"""What the nodes get from `packageSources`: the lab's repository file, dnf's proxy settings, the repositories to
keep enabled, and the Debian test guest's apt proxy. Pure data, independent of any root: a test writes the files
under a scratch root and runs the real dnf or apt on them.

Interface (used by components/host_prep.py, scripts/package-sources.sh, the real-dnf tier and `make doctor`):

  PackageSourcesPlan(sources, release, lab_no_proxy, os_flavor)   plan.prep.package_sources (None: unset)
  el9_files(plan) -> {path: NodeFile}      /etc/yum.repos.d/openstack-lab.repo with every mirror (gpgcheck=1)
  el9_absent(plan) -> (path, ...)           the lab's files this config does not want (removed if present)
  dnf_main(plan) -> MainSettings            proxy, proxy_username, proxy_password in /etc/dnf/dnf.conf [main]
  rhsm_main(plan) -> MainSettings|None      RHEL: subscription-manager's proxy in /etc/rhsm/rhsm.conf [server]
  lab_repo_ids(plan) -> (repo id, ...)      the only repositories left enabled when mirrors are set
  apt_files(plan) -> {path: NodeFile}       the Debian test guest's apt proxy (Acquire::http(s)::Proxy)
  node_input(files, absent, mains) -> str   scripts/package-sources.sh's stdin (one entry per line)
  download_proxy(plan, url) -> Secret|None  the proxy this machine fetches the demo image through

Why [main] of dnf.conf: dnf reads /etc/dnf/vars only after dnf.conf (dnf/cli/cli.py `_read_conf_file`), so a
password cannot hide in a variable; and EL9's yum, Packstack's `yum install` (prescript_000.py:1204) and Puppet's
dnf package provider (puppet/provider/package/dnf.rb: `commands :cmd => "dnf"`, run by its parent yum.rb's install
and update) all read that one file. With a password the file becomes root-only (0600), as do apt's.
No http_proxy goes into the nodes' environment: OpenStack's own HTTP between the nodes never meets the proxy.
The lab's own addresses and names (loopback, the management network and its gateway, the DNS domain of every node's
FQDN) are never proxied: a mirror among them (or in noProxy) gets `proxy=` (empty: dnf.conf(5), "disable proxy
setting inherited from the main section"; libdnf then sets no proxy, and curl would fall back to an http_proxy of
the environment, which the nodes do not have; checked with Debian's dnf 4.14: the repository's proxy reads ''); apt,
which matches exact hosts only, gets them as DIRECT.

Why rhsm.conf on RHEL: subscription-manager reads no dnf setting; it registers and fetches its entitlements through
the proxy of /etc/rhsm/rhsm.conf's [server] section (proxy_hostname, proxy_scheme, proxy_port, proxy_user,
proxy_password, no_proxy: rhsm.conf(5)), and it copies that proxy into every repository of the redhat.repo it
writes, so RHEL's own repositories go through the same proxy as dnf's [main]. package-sources.sh runs before
rhel-register.sh for that reason.
"""
from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass
from typing import Optional
from urllib.parse import quote, urlsplit

from lab.config.model import LabConfig, PackageSources, Secret

REPO_FILE = "/etc/yum.repos.d/openstack-lab.repo"
DNF_CONF = "/etc/dnf/dnf.conf"
APT_PROXY_FILE = "/etc/apt/apt.conf.d/80openstack-lab-proxy"
REPO_PREFIX = "openstack-lab-"
DNF_PROXY_KEYS = ("proxy", "proxy_username", "proxy_password")
RHSM_CONF = "/etc/rhsm/rhsm.conf"
RHSM_PROXY_KEYS = ("proxy_hostname", "proxy_scheme", "proxy_port", "proxy_user", "proxy_password", "no_proxy")
KEY_DIR = "file:///etc/pki/rpm-gpg/"
# The CentOS key on every CentOS Stream 9 image (centos-gpg-keys), and each SIG's key, installed by its
# centos-release-<component> package or found under the gpgKeys URL.
CENTOS_KEY = "RPM-GPG-KEY-centosofficial"
# centos-stream-repos 9's centos-addons.repo checks extras-common with the SHA512 variant of the Extras SIG key.
EXTRAS_KEY = "RPM-GPG-KEY-CentOS-SIG-Extras-SHA512"
SIG_KEYS = {"rdo": "RPM-GPG-KEY-CentOS-SIG-Cloud", "rabbitmq": "RPM-GPG-KEY-CentOS-SIG-Messaging",
            "openvswitch": "RPM-GPG-KEY-CentOS-SIG-NFV", "ceph": "RPM-GPG-KEY-CentOS-SIG-Storage"}
# The NFV SIG's own repository file sets module_hotfixes (its openvswitch/ovn builds beside AppStream's modules).
MODULE_HOTFIXES = ("openvswitch",)


@dataclass(frozen=True)
class NodeFile:
    """A file the lab owns on a node: its whole content and mode."""

    content: str
    mode: int = 0o644


@dataclass(frozen=True)
class MainSettings:
    """Keys the lab sets in one section of an ini file it does not own (the rest of the file is kept)."""

    path: str
    section: str
    managed: tuple[str, ...]  # removed first, then `values` written: a key the config drops goes away
    values: tuple[tuple[str, str], ...]
    mode: int  # 0600 when a value is a secret


@dataclass(frozen=True)
class PackageSourcesPlan:
    """packageSources of the stack with the release and the lab's own never-proxied hosts, networks and domain."""

    sources: PackageSources
    release: str
    lab_no_proxy: tuple[str, ...]
    os_flavor: str = "centos-stream"

    @property
    def no_proxy(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.lab_no_proxy, *self.sources.no_proxy)))

    @property
    def secret(self) -> bool:
        """Whether the rendered data holds the proxy password (then it travels as a Pulumi secret)."""
        return self.sources.proxy_password is not None


def bypasses_proxy(host: str, no_proxy: tuple[str, ...]) -> bool:
    """Whether `host` matches an entry: the same name or address, a name under a .domain, an address in a CIDR."""
    host = host.lower().strip("[]")
    for entry in (e.lower() for e in no_proxy):
        if entry == "*" or host == entry.lstrip(".") or (entry.startswith(".") and host.endswith(entry)):
            return True
        if "/" in entry:
            try:
                if ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
    return False


def _repos(plan: PackageSourcesPlan) -> list[tuple[str, str, str, str]]:
    """(id suffix, what it mirrors, base URL, gpgkey) of every mirror."""
    mirrors = plan.sources.mirrors
    if mirrors is None:
        return []
    by_url = plan.sources.gpg_keys != "release-package"
    key_dir = plan.sources.gpg_keys if by_url else KEY_DIR
    repos = [(name, what, url, KEY_DIR + CENTOS_KEY) for name, what, url in (
        ("baseos", "CentOS Stream 9 BaseOS", mirrors.baseos), ("appstream", "CentOS Stream 9 AppStream",
                                                               mirrors.appstream),
        ("crb", "CentOS Stream 9 CRB", mirrors.crb))]
    if mirrors.extras:
        repos.append(("extras", "CentOS Stream 9 Extras (extras-common)", mirrors.extras,
                      (key_dir if by_url else KEY_DIR) + EXTRAS_KEY))
    repos.append(("rdo", f"the Cloud SIG's openstack-{plan.release}", mirrors.rdo, key_dir + SIG_KEYS["rdo"]))
    for name, url in mirrors.rdo_deps.items():
        repos.append((name, f"the {name} SIG repository of centos-release-openstack-{plan.release}", url,
                      key_dir + SIG_KEYS[name]))
    return repos


def lab_repo_ids(plan: PackageSourcesPlan) -> tuple[str, ...]:
    return tuple(REPO_PREFIX + name for name, *_ in _repos(plan))


def el9_files(plan: PackageSourcesPlan) -> dict[str, NodeFile]:
    repos = _repos(plan)
    if not repos:
        return {}
    lines = ["# The lab's mirrors (packageSources.mirrors); host prep disables every other repository.",
             "# Written by openstack-lab; a change of the stack's packageSources rewrites it."]
    for name, what, url, key in repos:
        lines += ["", f"[{REPO_PREFIX}{name}]", f"name=openstack-lab mirror of {what}", f"baseurl={url}",
                  "enabled=1", "gpgcheck=1", f"gpgkey={key}"]
        if name in MODULE_HOTFIXES:
            lines.append("module_hotfixes=1")
        host = urlsplit(url).hostname or ""
        if plan.sources.proxy is not None and bypasses_proxy(host, plan.no_proxy):
            lines.append("proxy=")  # dnf.conf(5): an empty proxy turns off the one of [main]
    return {REPO_FILE: NodeFile("\n".join(lines) + "\n", 0o644)}


def el9_absent(plan: PackageSourcesPlan) -> tuple[str, ...]:
    return () if plan.sources.mirrors is not None else (REPO_FILE,)


def dnf_main(plan: PackageSourcesPlan) -> MainSettings:
    src = plan.sources
    values: list[tuple[str, str]] = []
    if src.proxy is not None:
        values.append(("proxy", src.proxy))
        if src.proxy_user is not None:
            values.append(("proxy_username", src.proxy_user))
        if src.proxy_password is not None:
            values.append(("proxy_password", src.proxy_password.value))
    return MainSettings(DNF_CONF, "main", DNF_PROXY_KEYS, tuple(values), 0o600 if plan.secret else 0o644)


def rhsm_main(plan: PackageSourcesPlan) -> Optional[MainSettings]:
    """RHEL only: subscription-manager's proxy (none without packageSources.proxy: the keys are removed)."""
    if plan.os_flavor != "rhel":
        return None
    src = plan.sources
    values: list[tuple[str, str]] = []
    if src.proxy is not None:
        parts = urlsplit(src.proxy)
        values += [("proxy_hostname", parts.hostname or ""), ("proxy_scheme", parts.scheme),
                   ("proxy_port", str(parts.port))]
        if src.proxy_user is not None:
            values.append(("proxy_user", src.proxy_user))
        if src.proxy_password is not None:
            values.append(("proxy_password", src.proxy_password.value))
        if src.no_proxy:  # the user's own hosts (a Satellite, say); the lab's never talk to Red Hat
            values.append(("no_proxy", ",".join(src.no_proxy)))
    return MainSettings(RHSM_CONF, "server", RHSM_PROXY_KEYS, tuple(values), 0o600 if plan.secret else 0o644)


def _proxy_url_with_login(plan: PackageSourcesPlan) -> Optional[str]:
    src = plan.sources
    if src.proxy is None:
        return None
    if src.proxy_user is None:
        return src.proxy + "/"
    parts = urlsplit(src.proxy)
    login = quote(src.proxy_user, safe="")
    if src.proxy_password is not None:
        login += ":" + quote(src.proxy_password.value, safe="")
    return f"{parts.scheme}://{login}@{parts.netloc}/"


def download_proxy(plan: Optional[PackageSourcesPlan], url: str) -> Optional[Secret]:
    """The proxy (login included: a secret) this machine downloads `url` through (the demo image), or None: no
    packageSources.proxy, not an http(s) URL, or a host in noProxy / the lab's own."""
    parts = urlsplit(url)
    if plan is None or parts.scheme not in ("http", "https") or bypasses_proxy(parts.hostname or "", plan.no_proxy):
        return None
    login = _proxy_url_with_login(plan)
    return Secret(login) if login is not None else None


def apt_files(plan: PackageSourcesPlan) -> dict[str, NodeFile]:
    url = _proxy_url_with_login(plan)
    if url is None:
        return {}
    lines = ["// The lab's package proxy (packageSources.proxy); written by openstack-lab.",
             f'Acquire::http::Proxy "{url}";', f'Acquire::https::Proxy "{url}";']
    # apt matches exact host names only: the lab's names and addresses (not its CIDR or domain entries).
    for host in plan.no_proxy:
        if "/" not in host and not host.startswith(".") and host != "*":
            lines += [f'Acquire::http::Proxy::{host} "DIRECT";', f'Acquire::https::Proxy::{host} "DIRECT";']
    return {APT_PROXY_FILE: NodeFile("\n".join(lines) + "\n", 0o600 if plan.secret else 0o644)}


def apt_absent(plan: PackageSourcesPlan) -> tuple[str, ...]:
    return () if plan.sources.proxy is not None else (APT_PROXY_FILE,)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def node_input(files: dict[str, NodeFile], absent: tuple[str, ...] = (),
               mains: tuple[Optional[MainSettings], ...] = ()) -> str:
    """scripts/package-sources.sh's stdin: `file MODE PATH BASE64`, `absent PATH`,
    `main MODE PATH SECTION KEY,KEY BASE64(key=value lines)`; contents base64 so no line of them is parsed."""
    lines = [f"file {f.mode:04o} {path} {_b64(f.content)}" for path, f in sorted(files.items())]
    lines += [f"absent {path}" for path in absent]
    for main in (m for m in mains if m is not None):
        body = "".join(f"{k}={v}\n" for k, v in main.values)
        lines.append(f"main {main.mode:04o} {main.path} {main.section} {','.join(main.managed)} {_b64(body)}")
    return "\n".join(lines) + "\n"


def el9_input(plan: PackageSourcesPlan) -> str:
    return node_input(el9_files(plan), el9_absent(plan), (dnf_main(plan), rhsm_main(plan)))


def apt_input(plan: PackageSourcesPlan) -> str:
    return node_input(apt_files(plan), apt_absent(plan))


def package_sources_plan(config: LabConfig, dns_domain: str) -> Optional[PackageSourcesPlan]:
    """The plan's part, with what the lab never sends through the proxy: loopback, the management network and its
    gateway, the lab's DNS domain (every node's FQDN). By network and domain, not node by node, so adding a
    compute changes nothing the existing nodes were given. None: packageSources unset."""
    if not config.package_sources.configured:
        return None
    own = ("localhost", "127.0.0.1", config.management_cidr, config.management_gateway, "." + dns_domain)
    return PackageSourcesPlan(config.package_sources, config.openstack_release, own, config.os_flavor)

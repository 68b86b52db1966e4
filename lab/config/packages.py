"""Rules of where the nodes' packages come from: `packageSources` (proxy, noProxy, mirrors, gpgKeys) and the
secret `packageProxyPassword`.

Shape of `packageSources` (every field optional):
  proxy: http://host:port            dnf (and the test guest's apt) go through it; no credentials in the URL
  proxyUser: name                    with the secret packageProxyPassword
  noProxy: [host, .domain, ...]      beside the lab's own names and addresses (lab/package_sources.py adds them)
  mirrors: {baseos, appstream, crb, extras, rdo, rdoDeps: {rabbitmq, openvswitch, ceph}}   base URLs
  gpgKeys: release-package | <http(s) URL of a directory holding the SIG key files>

What a CentOS Stream 9 node needs from the mirrors is what it would enable without them: BaseOS, AppStream and CRB
(prep-el9.sh enables CRB), and what `centos-release-openstack-<release>` sets up: the Cloud SIG's
openstack-<release> repository plus, through its Requires, the Messaging SIG's RabbitMQ, the NFV SIG's Open vSwitch
/OVN and the Storage SIG's Ceph repositories (rdo-infra/centos-release-openstack, centos-release-openstack.spec
`Requires: centos-release-rabbitmq-38`, `centos-release-storage-common`; CentOS SIG guide: every
centos-release-<component> ships its .repo file and SIG GPG key and lives in the Extras repository). With
`gpgKeys: release-package` prep installs that release package from the `extras` mirror for its keys (and so that
Packstack's prescript finds it installed: prescript_000.py:1049-1076 then installs nothing), then disables the
public repositories it defines.
"""
from __future__ import annotations

import re
from types import MappingProxyType
from typing import Any, Optional
from urllib.parse import urlsplit

from lab.config.model import PackageMirrors, PackageSources
from lab.config.reader import Reader

FIELDS = ("proxy", "proxyUser", "noProxy", "mirrors", "gpgKeys")
RELEASE_PACKAGE = "release-package"
# Every mirror a centos-stream node needs, with the public repository it stands for (what to mirror).
BASE_MIRRORS = {
    "baseos": "https://mirror.stream.centos.org/9-stream/BaseOS/x86_64/os/",
    "appstream": "https://mirror.stream.centos.org/9-stream/AppStream/x86_64/os/",
    "crb": "https://mirror.stream.centos.org/9-stream/CRB/x86_64/os/",
    "rdo": "https://mirror.stream.centos.org/SIGs/9-stream/cloud/x86_64/openstack-<release>/",
}
RDO_DEPS = {
    "rabbitmq": "https://mirror.stream.centos.org/SIGs/9-stream/messaging/x86_64/rabbitmq-38/",
    "openvswitch": "https://mirror.stream.centos.org/SIGs/9-stream/nfv/x86_64/openvswitch-2/",
    "ceph": "https://mirror.stream.centos.org/SIGs/9-stream/storage/x86_64/ceph-<the release package's>/",
}
EXTRAS = "https://mirror.stream.centos.org/SIGs/9-stream/extras/x86_64/extras-common/"
MIRROR_FIELDS = (*BASE_MIRRORS, "extras", "rdoDeps")
# Packstack answers that would reach beyond the mirrors: CONFIG_REPO writes repositories with gpgcheck=0
# (prescript_000.py:1316-1324), tempest's provisioning clones from git.
MIRROR_ANSWERS = {
    "CONFIG_REPO": "Packstack writes these repositories with gpgcheck=0 beside the lab's mirrors "
                   "(prescript_000.py:1316-1324); mirror them and remove the answer",
    "CONFIG_PROVISION_TEMPEST": "tempest's provisioning clones its repository from the internet; set it to n",
}


def read(r: Reader, os_flavor: str, release: str, answers: dict[str, str]) -> dict[str, Any]:
    """LabConfig's package_sources field."""
    given = r.get("packageSources")
    password = r.get("packageProxyPassword")
    r.unknown_fields("packageSources", given, FIELDS)
    proxy = _proxy(r, given.get("proxy"))
    user = _text(r, "packageSources.proxyUser", given.get("proxyUser"))
    if user is not None and proxy is None:
        r.problem("packageSources.proxyUser", "needs packageSources.proxy; set the proxy or remove the user")
    if password is not None:
        if user is None:
            r.problem("packageProxyPassword", "is the password of packageSources.proxyUser: set the user, or remove "
                                              "the password (`pulumi config rm packageProxyPassword`)")
        if any(c in password.value for c in "\n\r"):
            r.problem("packageProxyPassword", "contains a line break, which no dnf or apt setting can hold; "
                                              "set it again without one")
        elif re.search(r"\$[A-Za-z_{]", password.value) or password.value != password.value.strip():
            # dnf substitutes $variables in dnf.conf values (libdnf's getSubstitutedValue) and strips the ends.
            r.problem("packageProxyPassword", "starts or ends with a space, or holds '$' before a letter, '_' or "
                                              "'{', which dnf would read as a variable in dnf.conf; set one without")
    gpg_keys = _gpg_keys(r, given.get("gpgKeys", RELEASE_PACKAGE))
    mirrors = _mirrors(r, given.get("mirrors"), os_flavor, release, gpg_keys)
    if mirrors is not None:
        for key, why in MIRROR_ANSWERS.items():
            if answers.get(key, "").strip() not in ("", "n"):
                r.problem(f"packstackAnswers.{key}", f"with packageSources.mirrors: {why}")
    return {"package_sources": PackageSources(
        proxy=proxy, proxy_user=user, proxy_password=password if user is not None else None,
        no_proxy=_no_proxy(r, given.get("noProxy", [])), mirrors=mirrors, gpg_keys=gpg_keys)}


def _text(r: Reader, key: str, value: Any) -> Optional[str]:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not re.fullmatch(r"[^\s:@/]+", value):
        r.problem(key, "expected a user name without spaces, ':', '@' or '/'")
        return None
    return value


def _url(r: Reader, key: str, value: Any, example: str) -> Optional[str]:
    """An http(s) URL with a host; credentials in it are refused."""
    if not isinstance(value, str) or not value.strip():
        r.problem(key, f"expected an http(s) URL such as {example}")
        return None
    parts = urlsplit(value.strip())
    if parts.username is not None or parts.password is not None:
        r.problem(key, "holds credentials in plain text: put the user in packageSources.proxyUser and the password "
                       "in `pulumi config set --secret packageProxyPassword`, and remove them from the URL")
        return None
    try:
        parts.port  # noqa: B018 (raises on a port that is no number)
    except ValueError:
        parts = parts._replace(scheme="")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        r.problem(key, f"{value!r} is not an http(s) URL such as {example}")
        return None
    return value.strip()


def _proxy(r: Reader, value: Any) -> Optional[str]:
    if value is None or value == "":
        return None
    url = _url(r, "packageSources.proxy", value, "http://proxy.lan:3128")
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.port is None or parts.path not in ("", "/") or parts.query or parts.fragment:
        r.problem("packageSources.proxy", f"{url!r}: expected http://host:port (with a port, no path), "
                                          "e.g. http://proxy.lan:3128")
        return None
    return f"{parts.scheme}://{parts.netloc}"


def _no_proxy(r: Reader, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9.:/*_-]+", v)
                                              for v in value):
        r.problem("packageSources.noProxy", "expected a list of host names, .domains or addresses, "
                                            "e.g. [mirror.lan, .corp.example, 10.0.0.0/8]")
        return ()
    return tuple(value)


def _gpg_keys(r: Reader, value: Any) -> str:
    if value == RELEASE_PACKAGE:
        return value
    url = _url(r, "packageSources.gpgKeys", value, "http://mirror.lan/keys/ (or release-package)")
    return url.rstrip("/") + "/" if url else RELEASE_PACKAGE


def _mirrors(r: Reader, value: Any, os_flavor: str, release: str, gpg_keys: str) -> Optional[PackageMirrors]:
    if value is None or value == {}:
        if gpg_keys != RELEASE_PACKAGE:
            r.problem("packageSources.gpgKeys", "applies to packageSources.mirrors only; set the mirrors or remove it")
        return None
    if not isinstance(value, dict):
        r.problem("packageSources.mirrors", "expected an object {baseos, appstream, crb, extras, rdo, rdoDeps}")
        return None
    if os_flavor == "rhel":
        r.problem("packageSources.mirrors", "osFlavor rhel installs from the Red Hat subscription's repositories "
                                            "and rdo-release; the lab's mirrors are for centos-stream: remove them "
                                            "(packageSources.proxy applies to rhel too)")
        return None
    r.unknown_fields("packageSources.mirrors", value, MIRROR_FIELDS)
    urls: dict[str, Optional[str]] = {}
    needed = {**BASE_MIRRORS, **({"extras": EXTRAS} if gpg_keys == RELEASE_PACKAGE else {})}
    for name, upstream in needed.items():
        why = (f"gpgKeys release-package installs centos-release-openstack-{release} (the SIG keys) from it"
               if name == "extras" else f"RDO {release} on CentOS Stream 9 needs this repository")
        urls[name] = _mirror(r, f"packageSources.mirrors.{name}", value.get(name), upstream.replace(
            "<release>", release), why, "; or give gpgKeys a URL to go without it" if name == "extras" else "")
    if gpg_keys != RELEASE_PACKAGE and value.get("extras") is not None:
        urls["extras"] = _url(r, "packageSources.mirrors.extras", value["extras"], EXTRAS)
    deps = value.get("rdoDeps")
    if not isinstance(deps, dict):
        deps = {}
        r.problem("packageSources.mirrors.rdoDeps", "missing: {rabbitmq, openvswitch, ceph}, the SIG repositories "
                                                    f"centos-release-openstack-{release} enables")
    r.unknown_fields("packageSources.mirrors.rdoDeps", deps, tuple(RDO_DEPS))
    dep_urls = {name: _mirror(r, f"packageSources.mirrors.rdoDeps.{name}", deps.get(name), upstream,
                              f"centos-release-openstack-{release} enables this SIG repository", "")
                for name, upstream in RDO_DEPS.items()} if deps else {}
    if any(url is None for url in urls.values()) or not deps or any(url is None for url in dep_urls.values()):
        return None
    return PackageMirrors(baseos=str(urls["baseos"]), appstream=str(urls["appstream"]), crb=str(urls["crb"]),
                          rdo=str(urls["rdo"]), rdo_deps=MappingProxyType({k: str(v) for k, v in dep_urls.items()}),
                          extras=urls.get("extras"))


def _mirror(r: Reader, key: str, value: Any, upstream: str, why: str, alternative: str) -> Optional[str]:
    if value is None or value == "":
        r.problem(key, f"missing: {why}; set your mirror of {upstream}{alternative}")
        return None
    return _url(r, key, value, f"http://mirror.lan/{upstream.split('mirror.stream.centos.org/', 1)[1]}")

"""packageSources from this machine (issue 21 item 3): the configured proxy answers, with the login it needs, and
every mirror answers its repodata/repomd.xml (through the proxy unless noProxy bypasses it), before anything is
created. Fatal when the nodes' packages leave through this machine (the first lab host is this machine);
otherwise warnings, since the nodes may reach what this machine cannot."""
from __future__ import annotations

from typing import Optional
from urllib.parse import urlsplit

from lab.package_sources import PackageSourcesPlan
from lab.preflight.check import Check
from lab.preflight.facts import PACKAGE_PROBE_TIMEOUT_S, SourceAnswer

WHERE = "packageSources"


def package_sources(sources: Optional[PackageSourcesPlan], answers: tuple[SourceAnswer, ...],
                    fatal: bool) -> list[Check]:
    if sources is None or not answers:
        return []
    src = sources.sources
    checks: list[Check] = []
    proxy_ok = True
    if src.proxy is not None:
        proxy_check = _proxy(sources, [a for a in answers if a.proxy], fatal)
        if proxy_check is not None:
            checks.append(proxy_check)
            proxy_ok = proxy_check.ok
    for answer in answers:
        checks.append(_mirror(answer, proxy_ok, fatal))
    return checks


def _proxy(sources: PackageSourcesPlan, through: list[SourceAnswer], fatal: bool) -> Optional[Check]:
    src = sources.sources
    if not through:
        return None  # every mirror is in noProxy: the proxy is never used
    key, user = "packageSources.proxy", src.proxy_user
    asked = str(src.proxy)
    if through[0].proxy != urlsplit(asked).netloc:  # probes.package_sources.local_proxy
        asked += (f" (asked at {through[0].proxy}: this machine's address on the management network exists only "
                  "once `up` has made the network)")
    if not any(a.proxy_answered for a in through):
        said = next((a.error for a in through if a.error), "no answer")
        return Check("proxy", False, f"{key} {asked} does not answer from this machine within "
                     f"{PACKAGE_PROBE_TIMEOUT_S} s ({said}): start it (`make caching-proxy` puts one on this machine) "
                     "or correct the URL", fatal, where=WHERE)
    if any(a.status == 407 for a in through):
        if user is None:
            return Check("proxy", False, f"{key} {asked} asks for a login (407): set packageSources.proxyUser and "
                         "`pulumi config set --secret packageProxyPassword`", fatal, where=WHERE)
        if not any(a.login_sent for a in through):
            return Check("proxy", False, f"{key} {asked} answers and asks for a login (407); the login of "
                         f"proxyUser {user} is not tried here (packageProxyPassword is encrypted in the stack file)",
                         fatal=False, where=WHERE)
        return Check("proxy", False, f"{key} {asked} refuses the login of packageSources.proxyUser {user} (407): "
                     "check the user and set the password again (`pulumi config set --secret packageProxyPassword`)",
                     fatal, where=WHERE)
    login = f", logged in as {user}" if user is not None and any(a.login_sent for a in through) else ""
    return Check("proxy", True, f"{asked} answers ({len(through)} request(s) through it{login})", fatal, where=WHERE)


def _mirror(answer: SourceAnswer, proxy_ok: bool, fatal: bool) -> Check:
    key, url = answer.key, answer.url
    name = "public mirror" if key == "packageSources.proxy" else key.removeprefix("packageSources.")
    route = " through the proxy" if answer.proxy else ""
    if answer.proxy and not proxy_ok:
        return Check(name, False, f"{url}: not checked, the proxy does not let it through (above)", False, where=WHERE)
    if answer.repomd:
        return Check(name, True, f"{url} answers{route}", fatal, where=WHERE)
    if answer.status is None:
        why = f"does not answer from this machine{route} ({answer.error or 'no answer'})"
        fix = "check the mirror's host and that it serves this path"
    elif answer.status == 200:
        why = "answers, but not with a repomd.xml"
        fix = "the base URL must be the directory that holds repodata/ (e.g. …/9-stream/BaseOS/x86_64/os/)"
    elif answer.proxy and answer.status in (502, 503, 504):
        why = f"could not be fetched by the proxy ({answer.status})"
        fix = "the proxy cannot reach the mirror: check the mirror's host, or list it in packageSources.noProxy"
    else:
        why = f"answers {answer.status}{route}"
        fix = "the base URL must be the directory that holds repodata/ (e.g. …/9-stream/BaseOS/x86_64/os/)"
    subject = (f"the public BaseOS repository through packageSources.proxy: {url}" if name == "public mirror"
               else f"{key}: {url}")
    return Check(name, False, f"{subject} {why}: {fix}", fatal, where=WHERE)

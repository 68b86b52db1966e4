"""lab/package_sources.py (packageSources rendered as node files and settings) with scripts/package-sources.sh
and prep-el9.sh's mirror handling run for real in temp dirs (fake dnf), and HostPrep's wiring under mocks."""
from __future__ import annotations

import configparser
import itertools
import json
import os
import re
import shutil
import stat
from pathlib import Path

import pytest

from harness import BASE, COMMAND, lab_config, run_lab, run_script
from lab.package_sources import (APT_PROXY_FILE, DNF_CONF, REPO_FILE, RHSM_CONF, PackageSourcesPlan, apt_files,
                                 apt_input, bypasses_proxy, dnf_main, el9_files, el9_input, lab_repo_ids, rhsm_main)
from lab.plan import plan

PASSWORD = "pr0xy-Secret-Value-7781"
MIRRORS = {"baseos": "http://mirror.lan/9-stream/BaseOS/x86_64/os/",
           "appstream": "http://mirror.lan/9-stream/AppStream/x86_64/os/",
           "crb": "http://mirror.lan/9-stream/CRB/x86_64/os/",
           "extras": "http://mirror.lan/SIGs/9-stream/extras/x86_64/extras-common/",
           "rdo": "http://mirror.lan/SIGs/9-stream/cloud/x86_64/openstack-epoxy/",
           "rdoDeps": {"rabbitmq": "http://mirror.lan/SIGs/9-stream/messaging/x86_64/rabbitmq-38/",
                       "openvswitch": "http://mirror.lan/SIGs/9-stream/nfv/x86_64/openvswitch-2/",
                       "ceph": "https://ceph-mirror.corp.example/ceph-squid/"}}
KEYS_URL = "http://mirror.lan/keys/"
PUBLIC = re.compile(r"(mirror\.stream\.centos\.org|mirrors\.centos\.org|metalink|mirrorlist|rdoproject\.org|"
                    r"fedoraproject|centos\.org)")
OVERLAY = str(Path(__file__).resolve().parents[1] / "support" / "overlay" / "debian-test.yaml")


RHEL = {"osFlavor": "rhel", "rhelUsername": "me", "rhelPassword": "rhsm-Secret-4410"}


def sources(proxy=False, user=False, password=False, mirrors=False, keys_url=False, no_proxy=(), rhel=False):
    """The stack config of one combination, and the keys set with --secret."""
    given: dict = {}
    if proxy:
        given["proxy"] = "http://proxy.lan:3128"
    if user:
        given["proxyUser"] = "lab-user"
    if mirrors:
        given["mirrors"] = MIRRORS
    if keys_url:
        given["gpgKeys"] = KEYS_URL
    if no_proxy:
        given["noProxy"] = list(no_proxy)
    raw = {**BASE, **(RHEL if rhel else {}), "packageSources": given}
    if password:
        raw["packageProxyPassword"] = PASSWORD
    return raw, ("packageProxyPassword",) * password + ("rhelPassword",) * rhel


def plan_of(**options) -> PackageSourcesPlan:
    raw, secrets = sources(**options)
    part = plan(lab_config(raw, secrets=secrets)).prep.package_sources
    assert part is not None
    return part


COMBINATIONS = [dict(proxy=p, user=u, password=w, mirrors=m, keys_url=k)
                for p, u, w, m, k in itertools.product((False, True), repeat=5)
                if (p or m) and (p or not u) and (u or not w) and (m or not k)]


def test_unset_package_sources_plan_nothing():
    assert plan(lab_config(BASE)).prep.package_sources is None
    assert plan(lab_config({**BASE, "packageSources": {"noProxy": ["x.lan"]}})).prep.package_sources is None


@pytest.mark.parametrize("combo", COMBINATIONS, ids=lambda c: "-".join(k for k, v in c.items() if v))
def test_every_combination_renders_its_files(combo):
    part = plan_of(**combo)
    files, main = el9_files(part), dnf_main(part)
    settings = dict(main.values)
    # dnf's proxy: exactly what is configured, no credentials in the URL.
    assert settings.get("proxy") == ("http://proxy.lan:3128" if combo["proxy"] else None)
    assert settings.get("proxy_username") == ("lab-user" if combo["user"] else None)
    assert settings.get("proxy_password") == (PASSWORD if combo["password"] else None)
    assert main.managed == ("proxy", "proxy_username", "proxy_password") and main.path == DNF_CONF
    assert main.mode == (0o600 if combo["password"] else 0o644)
    if not combo["mirrors"]:
        assert files == {} and lab_repo_ids(part) == ()
        return
    repo = configparser.ConfigParser(interpolation=None)
    repo.read_string(files[REPO_FILE].content)
    assert files[REPO_FILE].mode == 0o644 and PASSWORD not in files[REPO_FILE].content
    expected = ["baseos", "appstream", "crb", "extras", "rdo", "rabbitmq", "openvswitch", "ceph"]
    assert repo.sections() == [f"openstack-lab-{name}" for name in expected] == list(lab_repo_ids(part))
    for section in repo.sections():
        values = repo[section]
        assert values["enabled"] == "1" and values["gpgcheck"] == "1", section
        assert not PUBLIC.search(values["baseurl"]) and values["baseurl"].startswith("http"), section
        assert "mirrorlist" not in values and "metalink" not in values
        key = values["gpgkey"]
        if section.endswith(("baseos", "appstream", "crb")):
            assert key == "file:///etc/pki/rpm-gpg/RPM-GPG-KEY-centosofficial"
        else:
            assert key.startswith(KEYS_URL if combo["keys_url"] else "file:///etc/pki/rpm-gpg/RPM-GPG-KEY-CentOS-SIG-")
    assert repo["openstack-lab-rdo"]["gpgkey"].endswith("RPM-GPG-KEY-CentOS-SIG-Cloud")
    # As centos-stream-repos 9's centos-addons.repo checks extras-common.
    assert repo["openstack-lab-extras"]["gpgkey"].endswith("RPM-GPG-KEY-CentOS-SIG-Extras-SHA512")
    assert repo["openstack-lab-openvswitch"]["module_hotfixes"] == "1"


def test_a_mirror_in_no_proxy_or_on_the_lab_network_goes_direct():
    part = plan_of(proxy=True, mirrors=True, no_proxy=(".corp.example",))
    repo = configparser.ConfigParser(interpolation=None)
    repo.read_string(el9_files(part)[REPO_FILE].content)
    assert repo["openstack-lab-ceph"]["proxy"] == ""  # ceph-mirror.corp.example
    assert "proxy" not in repo["openstack-lab-baseos"]
    # The lab's own names, addresses, network and domain never go through the proxy.
    lab = plan(lab_config(BASE))
    for node in lab.nodes:
        assert bypasses_proxy(node.management_ip, part.no_proxy) and bypasses_proxy(node.fqdn, part.no_proxy)
    assert bypasses_proxy(lab.management.gateway or "", part.no_proxy) and bypasses_proxy("localhost", part.no_proxy)
    # By network and domain, not node by node: a scale-out changes nothing the existing nodes got.
    raw, secrets = sources(proxy=True, mirrors=True, no_proxy=(".corp.example",))
    grown = plan(lab_config({**raw, "computeCount": 5}, secrets=secrets)).prep.package_sources
    assert grown is not None and el9_input(grown) == el9_input(part) and apt_input(grown) == apt_input(part)
    assert not bypasses_proxy("mirror.lan", part.no_proxy)


def test_apt_proxy_for_the_debian_guest():
    part = plan_of(proxy=True, user=True, password=True)
    apt = apt_files(part)[APT_PROXY_FILE]
    assert apt.mode == 0o600
    assert 'Acquire::http::Proxy "http://lab-user:pr0xy-Secret-Value-7781@proxy.lan:3128/";' in apt.content
    assert 'Acquire::http::Proxy::localhost "DIRECT";' in apt.content
    assert f'Acquire::http::Proxy::{plan(lab_config(BASE)).management.gateway} "DIRECT";' in apt.content
    plain = apt_files(plan_of(proxy=True))[APT_PROXY_FILE]
    assert plain.mode == 0o644 and 'Acquire::https::Proxy "http://proxy.lan:3128/";' in plain.content
    assert apt_files(plan_of(mirrors=True)) == {}
    assert f"absent {APT_PROXY_FILE}" in apt_input(plan_of(mirrors=True))


# --- scripts/package-sources.sh, for real under a scratch root ---------------------------------------

def install(tmp_path: Path, text: str) -> str:
    result = run_script("package-sources.sh", tmp_path, {"LAB_ROOT": str(tmp_path / "root")}, stdin=text)
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def test_package_sources_script_installs_and_is_idempotent(tmp_path):
    root = tmp_path / "root"
    (root / "etc/dnf").mkdir(parents=True)
    dnf_conf = root / "etc/dnf/dnf.conf"
    dnf_conf.write_text("[main]\ngpgcheck=1\nproxy=http://old.lan:8080\ninstallonly_limit=3\nbest=True\n")
    dnf_conf.chmod(0o644)
    part = plan_of(proxy=True, user=True, password=True, mirrors=True)
    out = install(tmp_path, el9_input(part))
    assert "wrote /etc/yum.repos.d/openstack-lab.repo" in out and "wrote /etc/dnf/dnf.conf" in out
    assert PASSWORD not in out
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(dnf_conf)
    assert dict(conf["main"]) == {"proxy": "http://proxy.lan:3128", "proxy_username": "lab-user",
                                  "proxy_password": PASSWORD, "gpgcheck": "1", "installonly_limit": "3",
                                  "best": "True"}
    assert stat.S_IMODE(dnf_conf.stat().st_mode) == 0o600
    assert (root / REPO_FILE.lstrip("/")).read_text() == el9_files(part)[REPO_FILE].content
    # Again: nothing changes.
    assert install(tmp_path, el9_input(part)).strip() == "[package-sources] package sources in place"
    # The proxy and the mirrors removed: the lab's keys and file go, the rest of dnf.conf stays, readable again.
    install(tmp_path, el9_input(plan_of(proxy=True)))
    assert not (root / REPO_FILE.lstrip("/")).exists()
    assert dnf_conf.read_text() == "[main]\nproxy=http://proxy.lan:3128\ngpgcheck=1\ninstallonly_limit=3\nbest=True\n"
    assert stat.S_IMODE(dnf_conf.stat().st_mode) == 0o644
    # No file left behind by the atomic writes, none world-readable while it held the password.
    assert not [p for p in root.rglob("*.lab.*")]


def test_package_sources_script_adds_a_missing_section_and_refuses_unknown_entries(tmp_path):
    install(tmp_path, el9_input(plan_of(proxy=True)))
    assert (tmp_path / "root/etc/dnf/dnf.conf").read_text() == "[main]\nproxy=http://proxy.lan:3128\n"
    result = run_script("package-sources.sh", tmp_path, {"LAB_ROOT": str(tmp_path / "root")}, stdin="chmod 777 /\n")
    assert result.returncode == 2 and "unknown entry 'chmod'" in result.stderr


# A RHEL 9 node's rhsm.conf [server] as subscription-manager ships it (its proxy keys empty), shortened.
RHSM_SHIPPED = """[server]
hostname = subscription.rhsm.redhat.com
prefix = /subscription
port = 443
proxy_hostname =
proxy_scheme = http
proxy_port =
proxy_user =
proxy_password =
no_proxy =

[rhsm]
baseurl = https://cdn.redhat.com
"""


def test_rhel_gets_subscription_managers_proxy_centos_does_not():
    assert rhsm_main(plan_of(proxy=True)) is None
    assert RHSM_CONF not in el9_input(plan_of(proxy=True))
    main = rhsm_main(plan_of(proxy=True, user=True, password=True, no_proxy=("satellite.corp",), rhel=True))
    assert main is not None and (main.path, main.section, main.mode) == (RHSM_CONF, "server", 0o600)
    assert dict(main.values) == {"proxy_hostname": "proxy.lan", "proxy_scheme": "http", "proxy_port": "3128",
                                 "proxy_user": "lab-user", "proxy_password": PASSWORD, "no_proxy": "satellite.corp"}


def test_package_sources_script_sets_and_removes_the_rhsm_proxy(tmp_path):
    rhsm_conf = tmp_path / "root" / RHSM_CONF.lstrip("/")
    rhsm_conf.parent.mkdir(parents=True)
    rhsm_conf.write_text(RHSM_SHIPPED)
    install(tmp_path, el9_input(plan_of(proxy=True, user=True, password=True, rhel=True)))
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(rhsm_conf)
    assert {k: v for k, v in conf["server"].items() if k.startswith(("proxy", "no_proxy"))} == {
        "proxy_hostname": "proxy.lan", "proxy_scheme": "http", "proxy_port": "3128", "proxy_user": "lab-user",
        "proxy_password": PASSWORD}
    assert conf["server"]["hostname"] == "subscription.rhsm.redhat.com" and conf["rhsm"]["baseurl"]
    assert stat.S_IMODE(rhsm_conf.stat().st_mode) == 0o600
    # Again: nothing changes. (On RHEL, packageSources is the proxy alone, mirrors are refused: removing the proxy
    # removes the key and the step with it, as the README says.)
    before = rhsm_conf.read_text()
    assert "rhsm.conf" not in install(tmp_path, el9_input(plan_of(proxy=True, user=True, password=True, rhel=True)))
    assert rhsm_conf.read_text() == before


def test_no_secret_in_the_argv_of_any_command_the_script_runs(tmp_path):
    # Every external command the script runs logs its argv first: the password is in none of them.
    argv_log = tmp_path / "argv"
    tools = ("awk", "base64", "mv", "chmod", "install", "mktemp", "cmp", "stat", "dirname", "rm")
    fakes = {tool: f'echo "{tool} $*" >> {argv_log}; exec {shutil.which(tool)} "$@"' for tool in tools}
    result = run_script("package-sources.sh", tmp_path, {"LAB_ROOT": str(tmp_path / "root")},
                        stdin=el9_input(plan_of(proxy=True, user=True, password=True, mirrors=True)), fakes=fakes)
    assert result.returncode == 0, result.stderr
    logged = argv_log.read_text()
    assert "awk " in logged and "base64 -d" in logged and "mv -f" in logged
    assert PASSWORD not in logged and PASSWORD not in result.stdout + result.stderr


# --- prep-el9.sh with mirrors (fake dnf) ---------------------------------------------------------------

FAKE_EL9 = {
    "hostnamectl": 'case "$1" in --static) echo "$LAB_FQDN";; *) echo "hostnamectl $*" >> "$CALLS";; esac',
    "rpm": 'shift; for p in "$@"; do case " $INSTALLED " in *" $p "*) ;; *) exit 1;; esac; done',
    "dnf": 'echo "dnf $*" >> "$CALLS"',
    "localectl": 'echo "localectl $*" >> "$CALLS"',
    "systemctl": 'exit 1',
    "getenforce": 'echo Permissive',
}
CENTOS_REPO = """[baseos]
name=CentOS Stream $releasever - BaseOS
metalink=https://mirrors.centos.org/metalink?repo=centos-baseos-$stream&arch=$basearch&protocol=https,http
gpgcheck=1
enabled=1

[crb]
name=CentOS Stream $releasever - CRB
metalink=https://mirrors.centos.org/metalink?repo=centos-crb-$stream&arch=$basearch&protocol=https,http
enabled=0
"""
# As centos-release-openstack-<release> writes it: no enabled= line means enabled.
RELEASE_REPO = """[centos-openstack-epoxy]
name=CentOS-9 - OpenStack epoxy
metalink=https://mirrors.centos.org/metalink?repo=centos-cloud-sig-openstack-epoxy-9-stream&arch=$basearch
gpgcheck=1
"""


def run_prep_with_mirrors(tmp_path, keys_url=False, installed="", mirrors=True):
    """prep-el9.sh with the lab's mirrors (as package-sources.sh left them), or without (its repository file
    removed, as package-sources.sh does once the mirrors leave the config)."""
    repos = tmp_path / "repos"
    repos.mkdir(exist_ok=True)
    part = plan_of(mirrors=True, keys_url=keys_url)
    if mirrors:
        (repos / "openstack-lab.repo").write_text(el9_files(part)[REPO_FILE].content)
    else:
        (repos / "openstack-lab.repo").unlink(missing_ok=True)
    selinux = tmp_path / "selinux-config"
    selinux.write_text("SELINUX=permissive\n")
    env = {"LAB_FQDN": "controller.a.lab.internal", "LAB_ROLE": "controller", "LAB_OS_FLAVOR": "centos-stream",
           "LAB_RELEASE": "epoxy", "LAB_PACKAGE_UPDATE": "true", "LAB_STATE_DIR": str(tmp_path / "state"),
           "LAB_SELINUX_CONFIG": str(selinux), "CALLS": str(tmp_path / "calls"), "LAB_REPOS_DIR": str(repos),
           "INSTALLED": f"glibc-langpack-en dnf-plugins-core {installed}"}
    if mirrors:
        env |= {"LAB_REPOS_ONLY": " ".join(lab_repo_ids(part)),
                "LAB_RELEASE_PACKAGE": "false" if keys_url else "true"}
    result = run_script("prep-el9.sh", tmp_path, env, fakes=FAKE_EL9)
    calls = (tmp_path / "calls").read_text().splitlines() if (tmp_path / "calls").exists() else []
    return result, calls, repos


def public_repos(tmp_path) -> Path:
    """A node's repository files before the lab's mirrors: CentOS's and the release package's."""
    repos = tmp_path / "repos"
    repos.mkdir()
    (repos / "centos.repo").write_text(CENTOS_REPO)
    (repos / "CentOS-OpenStack-epoxy.repo").write_text(RELEASE_REPO)
    return repos


def enabled_repos(repos: Path) -> set[str]:
    found = set()
    for path in repos.glob("*.repo"):
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(path)
        found |= {s for s in parser.sections() if parser[s].get("enabled", "1") == "1"}
    return found


def test_prep_with_mirrors_leaves_only_the_lab_repositories_enabled(tmp_path):
    public_repos(tmp_path)
    result, calls, repos = run_prep_with_mirrors(tmp_path)
    assert result.returncode == 0, result.stderr
    assert enabled_repos(repos) == set(lab_repo_ids(plan_of(mirrors=True)))
    assert not any("config-manager --set-enabled crb" in c for c in calls)
    assert "dnf -y -q install centos-release-openstack-epoxy" in calls  # for its keys, from the mirrors
    assert not any("http" in c for c in calls)  # no package from a URL
    # Disabling happened before the first install; a second run changes no repository file.
    before = {p.name: p.read_text() for p in repos.glob("*.repo")}
    again, _, _ = run_prep_with_mirrors(tmp_path, installed="centos-release-openstack-epoxy openstack-packstack")
    assert "disabling the repositories of centos.repo" in result.stdout
    assert again.returncode == 0 and "disabling the repositories" not in again.stdout
    assert before == {p.name: p.read_text() for p in repos.glob("*.repo")}


def test_prep_without_mirrors_puts_back_the_repositories_the_mirrors_disabled(tmp_path):
    """packageSources.mirrors removed from the config: the next prep re-enables the public repositories."""
    repos = public_repos(tmp_path)
    with_mirrors, _, _ = run_prep_with_mirrors(tmp_path)
    assert with_mirrors.returncode == 0, with_mirrors.stderr
    installed = "centos-release-openstack-epoxy openstack-packstack"
    without, _, _ = run_prep_with_mirrors(tmp_path, installed=installed, mirrors=False)
    assert without.returncode == 0, without.stderr
    assert (repos / "centos.repo").read_text() == CENTOS_REPO
    assert (repos / "CentOS-OpenStack-epoxy.repo").read_text() == RELEASE_REPO
    assert enabled_repos(repos) == {"baseos", "centos-openstack-epoxy"}
    assert "re-enabling the repositories of centos.repo" in without.stdout
    again, _, _ = run_prep_with_mirrors(tmp_path, installed=installed, mirrors=False)
    assert again.returncode == 0 and "re-enabling" not in again.stdout
    assert (repos / "centos.repo").read_text() == CENTOS_REPO


def test_prep_with_key_urls_installs_no_release_package(tmp_path):
    result, calls, _ = run_prep_with_mirrors(tmp_path, keys_url=True)
    assert result.returncode == 0, result.stderr
    assert not any("centos-release-openstack" in c for c in calls)


def test_prep_refuses_mirrors_whose_repository_file_is_missing(tmp_path):
    result, _, repos = run_prep_with_mirrors(tmp_path)
    (repos / "openstack-lab.repo").unlink()
    env_result = run_script("prep-el9.sh", tmp_path, {
        "LAB_FQDN": "c", "LAB_ROLE": "controller", "LAB_OS_FLAVOR": "centos-stream", "LAB_RELEASE": "epoxy",
        "LAB_REPOS_DIR": str(repos), "LAB_REPOS_ONLY": "openstack-lab-baseos", "CALLS": str(tmp_path / "calls"),
        "INSTALLED": ""}, fakes=FAKE_EL9)
    assert env_result.returncode == 1 and "openstack-lab-baseos is not in" in env_result.stderr


# --- HostPrep under mocks ------------------------------------------------------------------------------

def test_no_package_sources_command_without_the_key():
    run = run_lab(BASE)
    assert not [n for n in run.names(COMMAND) if n.endswith("package-sources")]
    assert "LAB_REPOS_ONLY" not in run.named("controller-prep-prep").inputs["environment"]


def test_host_prep_sends_the_rendered_files_before_the_prep_and_the_password_as_a_secret():
    raw, secrets = sources(proxy=True, user=True, password=True, mirrors=True)
    run = run_lab(raw, secrets=secrets)
    for node in ("controller", "compute1", "compute2"):
        command = run.named(f"{node}-prep-package-sources")
        assert "stdin" in command.secret_inputs and command.inputs["logging"] == "none"
        assert command.inputs["stdin"] == el9_input(plan(lab_config(raw, secrets=secrets)).prep.package_sources)
        assert PASSWORD not in command.inputs["create"] and PASSWORD not in str(command.inputs.get("environment"))
        prep = run.named(f"{node}-prep-prep")
        assert run.depends_on(prep, f"{node}-prep-package-sources")
        assert prep.inputs["environment"]["LAB_REPOS_ONLY"].split() == list(
            lab_repo_ids(plan_of(mirrors=True)))
        assert prep.inputs["environment"]["LAB_RELEASE_PACKAGE"] == "true"
        assert PASSWORD not in str(prep.inputs)


def test_on_rhel_the_package_sources_come_before_the_subscription():
    """subscription-manager registers through the proxy of the rhsm.conf that package-sources.sh writes."""
    raw, secrets = sources(proxy=True, user=True, password=True, rhel=True)
    run = run_lab(raw, secrets=secrets)
    for node in ("controller", "compute1"):
        subscription = run.named(f"{node}-prep-subscription")
        assert run.depends_on(subscription, f"{node}-prep-package-sources")
        assert run.depends_on(run.named(f"{node}-prep-prep"), f"{node}-prep-subscription")
        assert RHSM_CONF in run.named(f"{node}-prep-package-sources").inputs["stdin"]


def test_host_prep_without_a_password_sends_plain_stdin():
    raw, secrets = sources(proxy=True)
    command = run_lab(raw, secrets=secrets).named("controller-prep-package-sources")
    assert "stdin" not in command.secret_inputs and command.inputs["logging"] == "stdoutAndStderr"
    assert "LAB_REPOS_ONLY" not in run_lab(raw).named("controller-prep-prep").inputs["environment"]


def test_the_debian_test_profile_gets_the_apt_proxy():
    raw, secrets = sources(proxy=True)
    run = run_lab({**raw, "stopAfter": "prep"}, secrets=secrets, overlay=OVERLAY)
    stdin = run.named("controller-prep-package-sources").inputs["stdin"]
    assert stdin == apt_input(plan_of(proxy=True)) and APT_PROXY_FILE in stdin and "dnf" not in stdin


def test_module_leaves_no_path_of_the_host_in_the_rendering():
    # Pure data: nothing of this machine (its root, user, temp dir) ends up in what the nodes get.
    text = el9_input(plan_of(proxy=True, user=True, password=True, mirrors=True))
    assert os.getcwd() not in text and str(Path.home()) not in text


def test_with_mirrors_the_answers_leave_packstack_nothing_to_fetch():
    # Packstack's prescript reaches out by itself only through CONFIG_REPO (repositories with gpgcheck=0,
    # prescript_000.py:1316-1324), CONFIG_ENABLE_RDO_TESTING (rdo-release's testing repository, :1114-1116) and
    # tempest's provisioning; the lab's answers with mirrors set none of them, and Packstack's own defaults
    # (as the pinned Packstack declares them) are the harmless ones.
    raw, _ = sources(mirrors=True)
    with_mirrors = dict(plan(lab_config(raw)).answers)
    assert with_mirrors == dict(plan(lab_config(BASE)).answers)
    declared = json.loads((Path(__file__).resolve().parents[2] / "lab/packstack_validators.json").read_text())["keys"]
    for key, harmless in (("CONFIG_REPO", ""), ("CONFIG_ENABLE_RDO_TESTING", "n"), ("CONFIG_PROVISION_TEMPEST", "n"),
                          ("CONFIG_PROVISION_DEMO", "n")):
        assert with_mirrors.get(key, declared[key]["default"]) == harmless, key


def test_the_demo_image_is_downloaded_through_the_proxy_unless_its_host_is_exempt():
    raw, secrets = sources(proxy=True, user=True, password=True)
    demo = plan(lab_config(raw, secrets=secrets)).demo
    assert demo is not None and demo.download_proxy is not None
    assert demo.download_proxy.value == f"http://lab-user:{PASSWORD}@proxy.lan:3128/"
    image = run_lab(raw, secrets=secrets).named("demo-image-file")
    assert "proxy" in image.secret_inputs and image.inputs["proxy"] == demo.download_proxy.value
    assert "proxy" not in run_lab(BASE).named("demo-image-file").inputs  # unset: the input does not exist
    exempt, _ = sources(proxy=True, no_proxy=(".cirros-cloud.net",))
    assert plan(lab_config(exempt)).demo.download_proxy is None
    local = plan(lab_config({**sources(proxy=True)[0], "demo": {"image": "/srv/cirros.img"}})).demo
    assert local is not None and local.download_proxy is None

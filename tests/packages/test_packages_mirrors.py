"""The lab's repo file (lab/package_sources.py) under the real dnf, straight to the mirrors: dnf resolves,
downloads, checks the signatures (gpgcheck stays on) and installs into a scratch root; an unsigned package is
refused; only the lab's repositories exist."""
from __future__ import annotations

from pathlib import Path

from lab.package_sources import lab_repo_ids
from packagessupport import KEYS_URL, Mirror, Namespace, installed, render_el9, run_dnf, sources, sources_plan
from support.command_log import CommandLog

REPOS = ("baseos", "appstream", "crb", "extras", "rdo", "rabbitmq", "openvswitch", "ceph")


def gets(mirror: Mirror, since: int) -> list[str]:
    return [line.split('"GET ', 1)[1].split()[0] for line in mirror.requests()[since:]]


def test_dnf_installs_from_the_mirrors_with_gpgcheck(ns: Namespace, mirror: Mirror, scratch_root: Path,
                                                     command_log: CommandLog) -> None:
    plan = sources_plan(sources())
    written = render_el9(scratch_root, plan, command_log)
    repo_file = next(path for path in written if path.startswith("/etc/yum.repos.d/"))
    assert written["/etc/dnf/dnf.conf"] == 0o644  # no secret in it
    assert (scratch_root / repo_file.lstrip("/")).read_text().count("gpgcheck=1") == len(REPOS)
    before = len(mirror.requests())
    proc = run_dnf(ns, scratch_root, command_log, "install", "osl-probe", "osl-cloud")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert installed(ns, scratch_root, "osl-probe") and installed(ns, scratch_root, "osl-cloud")
    # The signing key was imported from the node's key file (gpgKeys: release-package), then checked against.
    assert installed(ns, scratch_root, "gpg-pubkey")
    assert "Importing GPG key" in proc.stdout + proc.stderr
    fetched = gets(mirror, before)
    for repo in REPOS:
        assert f"/{repo}/repodata/repomd.xml" in fetched, f"dnf never read {repo}'s metadata: {fetched}"
    assert "/appstream/Packages/osl-probe-1.0-1.noarch.rpm" in fetched
    assert "/rdo/Packages/osl-cloud-1.0-1.noarch.rpm" in fetched


def test_gpg_keys_from_a_url_are_fetched_from_the_mirror(ns: Namespace, mirror: Mirror, scratch_root: Path,
                                                         command_log: CommandLog) -> None:
    render_el9(scratch_root, sources_plan(sources(gpgKeys=KEYS_URL)), command_log)
    before = len(mirror.requests())
    proc = run_dnf(ns, scratch_root, command_log, "install", "osl-cloud")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "/keys/RPM-GPG-KEY-CentOS-SIG-Cloud" in gets(mirror, before)
    assert installed(ns, scratch_root, "osl-cloud")


def test_gpgcheck_refuses_an_unsigned_package(ns: Namespace, mirror: Mirror, scratch_root: Path,
                                              command_log: CommandLog) -> None:
    render_el9(scratch_root, sources_plan(sources()), command_log)
    before = len(mirror.requests())
    proc = run_dnf(ns, scratch_root, command_log, "install", "osl-unsigned")
    assert proc.returncode != 0
    said = proc.stdout + proc.stderr
    assert "is not signed" in said or "GPG check FAILED" in said, said
    assert "/crb/Packages/osl-unsigned-1.0-1.noarch.rpm" in gets(mirror, before)  # downloaded, then refused
    assert not installed(ns, scratch_root, "osl-unsigned")


def test_the_lab_repositories_are_the_enabled_ones(ns: Namespace, mirror: Mirror, scratch_root: Path,
                                                   command_log: CommandLog) -> None:
    plan = sources_plan(sources())
    render_el9(scratch_root, plan, command_log)
    proc = run_dnf(ns, scratch_root, command_log, "repolist", "--enabled")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    listed = {line.split()[0] for line in proc.stdout.splitlines()[1:] if line.strip()}
    assert listed == set(lab_repo_ids(plan))

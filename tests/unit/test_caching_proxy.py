"""The caching-proxy recipe: squid's configuration (lab/caching_proxy.py), the clients `make caching-proxy`
admits (tools/caching_proxy.py) and its installer script (tools/caching-proxy.sh, with fake squid and systemctl).
The configuration itself runs under a real squid in tests/packages."""
from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from harness import lab_config
from labtest import ROOT
from lab.caching_proxy import BasicAuth, SquidSettings, squid_config
from tools.caching_proxy import lab_clients, settings_for

SCRIPT = ROOT / "tools" / "caching-proxy.sh"


def lines(settings: SquidSettings) -> list[str]:
    return squid_config(settings).splitlines()


def index(found: list[str], prefix: str) -> int:
    return next(i for i, line in enumerate(found) if line.startswith(prefix))


def test_large_packages_are_cached_and_the_limit_precedes_cache_dir() -> None:
    found = lines(settings_for(("10.208.0.0/12",)))
    assert "maximum_object_size 4 GB" in found
    assert index(found, "maximum_object_size ") < index(found, "cache_dir ")
    assert "cache_dir ufs /var/spool/squid 40960 16 256" in found
    assert "quick_abort_min -1 KB" in found


def test_repomd_is_revalidated_before_the_long_lived_rules_match() -> None:
    found = lines(settings_for(()))
    patterns = [line for line in found if line.startswith("refresh_pattern")]
    assert patterns[0] == r"refresh_pattern -i /repodata/repomd\.xml$ 0 0% 0"
    assert any(r"\.(rpm|drpm)$ 129600 100% 129600" in line for line in patterns)
    assert patterns[-1] == "refresh_pattern . 0 20% 4320"


def test_only_localhost_and_the_lab_networks_may_use_it() -> None:
    found = lines(settings_for(("10.208.0.0/12", "192.168.50.0/24")))
    assert [line for line in found if line.startswith("acl lab_clients")] == [
        "acl lab_clients src 10.208.0.0/12", "acl lab_clients src 192.168.50.0/24"]
    access = [line for line in found if line.startswith("http_access")]
    assert access[-3:] == ["http_access allow localhost", "http_access allow lab_clients", "http_access deny all"]
    assert "http_access deny to_localhost" in access
    assert "http_port 3128" in found  # every address: the lab's networks exist only after `up`
    assert "http_access allow lab_clients" not in lines(settings_for(()))


def test_a_login_is_asked_before_anyone_is_allowed() -> None:
    found = lines(SquidSettings(clients=("10.0.0.0/8",), auth=BasicAuth("/usr/lib/squid/basic_ncsa_auth", "/p")))
    assert "auth_param basic program /usr/lib/squid/basic_ncsa_auth /p" in found
    assert index(found, "http_access deny !lab_login") < index(found, "http_access allow localhost")


def test_clients_are_the_supernet_and_a_management_network_outside_it() -> None:
    assert lab_clients(lab_config({})) == ("10.208.0.0/12",)
    outside = lab_config({"managementCidr": "192.168.50.0/24", "externalCidr": "192.168.51.0/24"})
    assert lab_clients(outside) == ("10.208.0.0/12", "192.168.50.0/24")


@pytest.fixture
def listener():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def run(tmp_path: Path, config: str, port: int, squid_rc: int = 0) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fakes = {
        "squid": f"exit {squid_rc}",
        "sudo": 'exec "$@"',
        "systemctl": 'echo "$*" >>"$FAKE_STATE/systemctl"\n'
                     'case $1 in is-active) [[ -e "$FAKE_STATE/active" ]] ;;\n'
                     '  restart) touch "$FAKE_STATE/active" ;; esac',
    }
    for name, body in fakes.items():
        (bin_dir / name).write_text(f"#!/usr/bin/env bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    staged = tmp_path / "staged.conf"
    staged.write_text(config)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_STATE": str(tmp_path),
           "CACHING_PROXY_CONF": str(tmp_path / "squid.conf"), "CACHING_PROXY_WAIT": "3"}
    return subprocess.run(["bash", str(SCRIPT), str(staged), str(port)], capture_output=True, text=True, env=env,
                          timeout=60)


def test_the_script_installs_the_config_once_and_restarts_only_on_a_change(tmp_path: Path, listener: int) -> None:
    (tmp_path / "squid.conf").write_text("# the distribution's\n")
    first = run(tmp_path, "config 1\n", listener)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "squid.conf").read_text() == "config 1\n"
    assert (tmp_path / "squid.conf.orig-openstack-lab").read_text() == "# the distribution's\n"
    assert "restart squid" in (tmp_path / "systemctl").read_text()
    again = run(tmp_path, "config 1\n", listener)
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert (tmp_path / "systemctl").read_text().count("restart squid") == 1
    changed = run(tmp_path, "config 2\n", listener)
    assert changed.returncode == 0
    assert (tmp_path / "systemctl").read_text().count("restart squid") == 2
    assert (tmp_path / "squid.conf.orig-openstack-lab").read_text() == "# the distribution's\n"  # kept once


def test_the_script_refuses_a_config_squid_refuses(tmp_path: Path, listener: int) -> None:
    (tmp_path / "squid.conf").write_text("# the distribution's\n")
    refused = run(tmp_path, "bogus\n", listener, squid_rc=1)
    assert refused.returncode == 1 and "squid refuses" in refused.stderr
    assert (tmp_path / "squid.conf").read_text() == "# the distribution's\n"
    assert not (tmp_path / "systemctl").exists()


def test_the_script_fails_when_squid_does_not_answer(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    failed = run(tmp_path, "config\n", closed)
    assert failed.returncode == 1 and f"did not answer on 127.0.0.1:{closed} within 3 s" in failed.stderr


def test_make_caching_proxy_renders_for_the_stack_and_hands_the_file_to_the_script(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import tools.caching_proxy as tool
    import tools.doctor

    monkeypatch.setattr(tools.doctor, "stack_config", lambda stack: {})
    assert tool.main(["--stack", "alice", "--print"]) == 0
    printed = capsys.readouterr().out
    assert "acl lab_clients src 10.208.0.0/12\n" in printed and "maximum_object_size 4 GB\n" in printed
    handed = {}

    def run(argv, **kwargs):
        handed["argv"] = argv
        handed["config"] = Path(argv[2]).read_text()
        return subprocess.CompletedProcess(argv, 0)

    monkeypatch.setattr(tool.subprocess, "run", run)
    assert tool.main(["--stack", "alice", "--cache-mib", "1000"]) == 0
    assert handed["argv"][:2] == ["bash", str(SCRIPT)] and handed["argv"][3] == "3128"
    assert "cache_dir ufs /var/spool/squid 1000 16 256" in handed["config"]
    gateway = lab_config({}).management_gateway
    assert f"packageSources.proxy http://{gateway}:3128" in capsys.readouterr().out

"""API tier: a real OpenStack 2025.1 Epoxy (Keystone + Neutron with ML2/OVN and OVN's databases + Glance + Nova API
+ Placement + MariaDB) from Debian 13's packages in a cached chroot, bound to 127.0.0.1 (tests/api/fixture/),
started once per session and stopped (every process, checked with ps) at the end.

Run: `pytest tests/api` after `toolchain/setup.sh` (the Pulumi tests need the checkout's
toolchain in `.tools/`). Locally a missing prerequisite skips; under CI=true it fails.
Timings (fixture start cold/warm, tier run time) are printed at the end and written to the
git-ignored tests/api/.timings.json.
"""
from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from apisupport import (CAPTURED, FIXTURE, IN_CI, LOG, OWN_FLAVOR, FixtureCloud, epoxy_chroot, parse_openrc,
                        record_timings, workspace)
from support.packages import ensure
from support.pulumi import require_toolchain

_TIER: dict = {}  # monotonic start/end of this tier's tests (also when run together with other tiers)
_TIMINGS: dict = {}
DEFAULT_PORTS = {"db": 13306, "keystone": 15000, "neutron": 19696, "glance": 19292, "nova": 18774,
                 "placement": 18778}
LOG_FILE = Path(tempfile.gettempdir()) / "openstack-lab-api-tier.log"


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _choose_ports() -> dict:
    """The documented ports (authUrl http://127.0.0.1:15000/v3) unless another run holds them,
    then free ones, so two checkouts can run the tier at the same time."""
    if all(_port_free(p) for p in DEFAULT_PORTS.values()):
        return dict(DEFAULT_PORTS)
    ports = {}
    for name in DEFAULT_PORTS:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports[name] = s.getsockname()[1]
    return ports


def _prepare() -> dict:
    """The host's few tools (Debian 12), then the Epoxy chroot: what start.sh needs in its environment."""
    ensure(["debootstrap", "qemu-utils", "openssl", "curl", "iproute2", "procps", "util-linux"],
           ["debootstrap", "qemu-img", "openssl", "curl", "ss", "unshare", "setsid"])
    root, timings = epoxy_chroot()
    _TIMINGS.update(timings)
    return {"API_FIXTURE_CHROOT": str(root)}


@pytest.fixture(scope="session")
def fixture_cloud():
    """The running fixture cloud (its chroot built on first use)."""
    chroot_env = _prepare()
    state = Path(tempfile.mkdtemp(prefix="osl-api-", dir="/tmp"))
    ports = _choose_ports()
    env = dict(os.environ, **{f"API_FIXTURE_{name.upper()}_PORT": str(port) for name, port in ports.items()},
               API_FIXTURE_OWN_FLAVOR=OWN_FLAVOR, **chroot_env)
    t0 = time.monotonic()
    proc = subprocess.run(["bash", str(FIXTURE / "start.sh"), str(state)], capture_output=True, text=True,
                          timeout=900, stdin=subprocess.DEVNULL, env=env)
    elapsed = round(time.monotonic() - t0, 1)
    LOG.add("fixture start.sh", proc.stdout + proc.stderr)
    if proc.returncode != 0:
        subprocess.run(["bash", str(FIXTURE / "stop.sh"), str(state), "--purge"], capture_output=True, timeout=300)
        pytest.fail(f"fixture start failed (rc={proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}",
                    pytrace=False)
    cold = "cold start" in proc.stdout
    _TIMINGS["fixture_start_cold_s" if cold else "fixture_start_warm_s"] = elapsed
    _TIMINGS["fixture_start_last"] = {"seconds": elapsed, "kind": "cold" if cold else "warm"}
    print(f"\napi-fixture started in {elapsed}s ({'cold' if cold else 'warm'})")
    client = (str(FIXTURE / "in-chroot.sh"), chroot_env["API_FIXTURE_CHROOT"])
    cloud = FixtureCloud(state=state, env=parse_openrc(state / "openrc"), ports=ports, start_seconds=elapsed,
                         cold=cold, client=client)
    try:
        yield cloud
    finally:
        stop = subprocess.run(["bash", str(FIXTURE / "stop.sh"), str(state), "--purge"], capture_output=True,
                              text=True, timeout=300)
        LOG.add("fixture stop.sh", stop.stdout + stop.stderr)
        leftovers = [line for line in subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True,
                                                     text=True).stdout.splitlines() if str(state) in line]
        _TIMINGS["fixture_stopped_clean"] = stop.returncode == 0 and not leftovers
        assert stop.returncode == 0, f"fixture stop failed: {stop.stdout}\n{stop.stderr}"
        assert not leftovers, f"fixture processes left after stop: {leftovers}"


@pytest.fixture(scope="module")
def pulumi_workspace(tmp_path_factory):
    """The program's workspace of one test module (its stacks share the file backend)."""
    require_toolchain()
    return workspace(tmp_path_factory.mktemp("pulumi"))


def _is_api(nodeid: str) -> bool:
    return "test_api_" in nodeid


def pytest_runtest_logstart(nodeid, location):
    if _is_api(nodeid) and "tier_t0" not in _TIER:
        _TIER["tier_t0"] = time.monotonic()


def pytest_runtest_logreport(report):
    if not _is_api(report.nodeid):
        return
    _TIER["tier_end"] = time.monotonic()
    for _name, content in report.sections:
        CAPTURED.append(content)
    if report.longrepr is not None:
        CAPTURED.append(str(report.longreprtext))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if "fixture_start_last" not in _TIMINGS:
        return  # the fixture never started (collection only, or another tier alone)
    _TIMINGS["tier_run_s"] = round(_TIER.get("tier_end", time.monotonic()) - _TIER["tier_t0"], 1)
    _TIMINGS["ci"] = IN_CI
    _TIMINGS["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    data = record_timings(_TIMINGS)
    try:  # what the tier's commands printed (checked secret-free by test_api_secret_hygiene.py)
        LOG_FILE.write_text(LOG.text())
        terminalreporter.write_line(f"api tier command log: {LOG_FILE}")
    except OSError:
        pass
    terminalreporter.write_sep("-", "api tier timings")
    for key in ("chroot_cold_s", "chroot_warm_s", "fixture_start_cold_s",
                "fixture_start_warm_s", "tier_run_s"):
        if key in data:
            marker = "" if key in _TIMINGS else " (earlier run)"
            terminalreporter.write_line(f"{key}: {data[key]}{marker}")

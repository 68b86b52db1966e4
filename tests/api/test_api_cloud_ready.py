"""What `make start` waits for in a Packstack cloud (tools/lifecycle/cloud_ready.py) against the fixture's real
Keystone and Nova API (Epoxy): a token and Nova's list of compute services through a clouds.yaml as the stack
exports it, the same list as Epoxy's own `openstack` CLI shows; a compute Nova does not list fails the bounded
wait naming it; a Keystone that does not answer fails the bounded wait naming what it waited for."""
from __future__ import annotations

import json
import socket

import pytest

from lab.client_files import clouds_yaml
from tools.lifecycle.cloud_ready import NovaWaits
from tools.lifecycle.lab_power import PowerError
from tools.verify.checks import short
from tools.verify.cloud import connect, read_login


def _waits(auth_url: str, cloud, lines: list[str]) -> NovaWaits:
    text = clouds_yaml("openstack-lab-apitest", auth_url, cloud.env.get("OS_REGION_NAME", "RegionOne"), "admin",
                       cloud.admin_password)
    login = read_login(text)
    return NovaWaits(lambda: connect(login), lines.append)


def test_ready_lists_the_compute_services_nova_has(fixture_cloud):
    lines: list[str] = []
    seen = _waits(fixture_cloud.auth_url, fixture_cloud, lines).ready(timeout=120)
    proc = fixture_cloud.openstack("compute", "service", "list", "--service", "nova-compute", "-f", "json")
    expected = {short(s["Host"]): s["State"] for s in json.loads(proc.stdout)}
    assert {host: value.split("@")[0] for host, value in seen.items()} == expected
    assert lines and lines[0].startswith("start: Keystone and Nova's API answer after")


def test_a_compute_nova_does_not_list_fails_the_bounded_wait_naming_it(fixture_cloud):
    waits = _waits(fixture_cloud.auth_url, fixture_cloud, [])
    before = waits.ready(timeout=120)
    with pytest.raises(PowerError) as err:
        waits.computes_up(["osl-apitest-nocompute"], before, timeout=12)
    assert "gave up waiting for nova-compute up on osl-apitest-nocompute after 12 s" in str(err.value)
    assert "osl-apitest-nocompute: no nova-compute service" in str(err.value)
    assert fixture_cloud.admin_password not in str(err.value)


def test_a_keystone_that_does_not_answer_fails_the_bounded_wait(fixture_cloud):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(PowerError) as err:
        _waits(f"http://127.0.0.1:{port}/v3", fixture_cloud, []).ready(timeout=12)
    message = str(err.value)
    assert "Keystone to issue a token and Nova's API to list its compute services after 12 s" in message
    assert fixture_cloud.admin_password not in message

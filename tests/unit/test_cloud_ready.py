"""tools/lifecycle/cloud_ready.py: what `make start` waits for in a Packstack cloud, on a fake SDK connection and an
injected clock: Keystone and Nova's API answering, then a new heartbeat of each nova-compute."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from fake_clock import FakeClock as Clock
from tools.lifecycle.cloud_ready import NovaWaits
from tools.lifecycle.lab_power import PowerError


@dataclass
class Service:
    host: str
    state: str
    updated_at: str


class Cloud:
    """The controller's view over time: `timeline` is a list of (from second, services or an error)."""

    def __init__(self, clock: Clock, timeline: list) -> None:
        self.clock, self.timeline, self.logins, self.closed = clock, timeline, 0, 0

    def connect(self) -> Cloud:
        self.logins += 1
        return self

    def current(self):
        return [entry for at, entry in self.timeline if self.clock.now >= at][-1]

    def authorize(self) -> str:
        entry = self.current()
        if isinstance(entry, Exception):
            raise entry
        return "token"

    @property
    def compute(self) -> Cloud:
        return self

    def services(self, binary: str):
        assert binary == "nova-compute"
        return list(self.current())

    def close(self) -> None:
        self.closed += 1


def waits(clock: Clock, cloud: Cloud, lines: list[str]) -> NovaWaits:
    return NovaWaits(cloud.connect, lines.append, clock=clock, sleep=clock.sleep)


FQDN = ".alice.lab.internal"
OLD = [Service("compute1" + FQDN, "down", "2026-12-03T07:00:00"),
       Service("phys1" + FQDN, "down", "2026-12-03T07:00:02")]


def test_ready_waits_for_keystone_and_novas_api_and_returns_the_heartbeats_seen():
    clock, lines = Clock(), []
    cloud = Cloud(clock, [(0, ConnectionError("connection refused")), (40, OLD)])
    before = waits(clock, cloud, lines).ready(timeout=900)
    assert before == {"compute1": "down@2026-12-03T07:00:00", "phys1": "down@2026-12-03T07:00:02"}
    assert 40 <= clock.now <= 45 and cloud.logins == cloud.closed >= 2  # a new login per try, each closed
    assert lines == [f"start: Keystone and Nova's API answer after {clock.now:.1f} s"]


def test_ready_gives_up_at_the_bound_naming_what_it_waited_for_and_the_last_error():
    clock = Clock()
    cloud = Cloud(clock, [(0, ConnectionError("connection refused"))])
    with pytest.raises(PowerError) as err:
        waits(clock, cloud, []).ready(timeout=60)
    assert "Keystone to issue a token and Nova's API to list its compute services after 60 s" in str(err.value)
    assert "ConnectionError: connection refused" in str(err.value) and clock.now <= 60


def test_a_compute_counts_as_back_only_with_a_heartbeat_newer_than_before_the_start():
    clock, lines = Clock(), []
    still_up = [Service("compute1" + FQDN, "up", "2026-12-03T07:00:00"), Service("phys1" + FQDN, "up", "x")]
    fresh = [Service("compute1" + FQDN, "up", "2026-12-03T07:05:00"), Service("phys1" + FQDN, "up", "y")]
    cloud = Cloud(clock, [(0, still_up), (100, fresh)])
    before = {"compute1": "up@2026-12-03T07:00:00", "phys1": "up@w"}
    waits(clock, cloud, lines).computes_up(["compute1", "phys1"], before, timeout=600)
    assert 100 <= clock.now <= 105  # the "up" from before the stop did not count
    assert lines[-1].startswith("start: nova-compute up on compute1, phys1 after")


def test_the_compute_wait_is_bounded_and_says_what_each_compute_showed_last():
    clock = Clock()
    cloud = Cloud(clock, [(0, [Service("compute1" + FQDN, "down", "t0")])])
    with pytest.raises(PowerError) as err:
        waits(clock, cloud, []).computes_up(["compute1", "compute2"], {"compute1": "down@t0"}, timeout=300)
    message = str(err.value)
    assert "nova-compute up on compute1, compute2 after 300 s" in message
    assert "compute1: down, last heartbeat t0 (from before the start)" in message
    assert "compute2: no nova-compute service" in message

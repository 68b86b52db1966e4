"""What `make start` waits for in a cloud Packstack made, through the stack's own cloudsYaml with the OpenStack SDK
(tools/verify/cloud.py: the login held in memory, nothing from the environment): Keystone issuing a token and Nova's
API listing its compute services, then each compute's `nova-compute` reporting again.

Nova counts a service up while its last heartbeat (`updated_at`, written every `report_interval`, 10 s by default)
is younger than `service_down_time` (60 s) (nova/servicegroup/drivers/db.py `is_up`). A lab stopped for less than a
minute would still read "up" from before the stop, so a compute counts as back only when it is up *and* its
`updated_at` differs from the value read before the computes were started: a heartbeat of the new boot.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Sequence

from providers.polling import NotYet, TimedOut, poll
from tools.lifecycle.lab_power import PowerError, Say
from tools.verify.checks import short

PAUSE_S = 5.0
Connect = Callable[[], Any]  # a new openstack.connection.Connection on the stack's login


class NovaWaits:
    def __init__(self, connect: Connect, say: Say = print, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.connect, self.say, self.clock, self.sleep = connect, say, clock, sleep

    def _heartbeats(self) -> dict[str, str]:
        """host (short name) -> state and updated_at of its nova-compute, through a new login (Keystone may have
        come back since the last one); NotYet with the error while the cloud does not answer."""
        try:
            conn = self.connect()
            try:
                conn.authorize()
                return {short(s.host): f"{s.state}@{s.updated_at}"
                        for s in conn.compute.services(binary="nova-compute")}
            finally:
                conn.close()
        except Exception as err:  # any SDK or connection error: not up yet, shown as the last thing seen
            raise NotYet(f"{type(err).__name__}: {str(err)[:200]}") from None

    def _poll(self, what: str, attempt: Callable[[], Any], timeout: float) -> Any:
        try:
            return poll(attempt, timeout, PAUSE_S, clock=self.clock, sleep=self.sleep)
        except TimedOut as err:
            raise PowerError(f"gave up waiting for {what} after {timeout:.0f} s ({err.attempts} tries; last: "
                             f"{err.last_error})") from None

    def ready(self, timeout: float) -> dict[str, str]:
        """Keystone issues a token and Nova's API lists its compute services (bounded by keystoneTimeout)."""
        answer = self._poll("Keystone to issue a token and Nova's API to list its compute services",
                            self._heartbeats, timeout)
        self.say(f"start: Keystone and Nova's API answer after {answer.seconds:.1f} s")
        return dict(answer.value)

    def computes_up(self, hosts: Sequence[str], before: dict[str, str], timeout: float) -> None:
        """Each of `hosts` has a nova-compute service up with a heartbeat other than `before`'s."""
        def attempt() -> None:
            now = self._heartbeats()
            waiting = []
            for host in hosts:
                seen = now.get(host)
                if seen is None:
                    waiting.append(f"{host}: no nova-compute service")
                elif not seen.startswith("up@") or seen == before.get(host):
                    waiting.append(f"{host}: {seen.replace('@', ', last heartbeat ')}"
                                   + (" (from before the start)" if seen == before.get(host) else ""))
            if waiting:
                raise NotYet("; ".join(waiting))

        answer = self._poll(f"nova-compute up on {', '.join(hosts)}", attempt, timeout)
        self.say(f"start: nova-compute up on {', '.join(hosts)} after {answer.seconds:.1f} s")

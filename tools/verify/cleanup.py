"""What a run created, and the removal of everything `make verify` of this prefix made: at the end of every
run (also after a failure or an interrupt) and, at its start, an earlier interrupted run's leftovers.

Found by exact names and a marker, never by a bare name prefix: servers and volumes carry the metadata
MARKER=<prefix> (a stack named `<stack>-verify` has a prefix that starts like this one's stem), floating IPs
the description `<prefix>-verify-fip`, the Swift container the name `<prefix>-verify-objects`. Objects the
registry holds are removed even if a lookup missed them."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from tools.verify.expectations import MARKER, Names, Timeouts
from tools.verify.runner import CheckFailed
from tools.verify.waits import NotYet, wait_for

CINDER_TYPES = frozenset({"volumev3", "block-storage", "volume"})
SWIFT_TYPES = frozenset({"object-store"})
# Volume states that a delete refuses or that are still moving; the wait lets them settle first.
BUSY_VOLUME = frozenset({"in-use", "attaching", "detaching", "creating", "reserved", "downloading"})


@dataclass
class Leftovers:
    servers: list[Any] = field(default_factory=list)
    floating_ips: list[Any] = field(default_factory=list)
    volumes: list[Any] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.servers) + len(self.floating_ips) + len(self.volumes) + len(self.containers)

    def summary(self) -> str:
        parts = [f"{len(items)} {what}" for what, items in (
            ("server(s)", self.servers), ("floating IP(s)", self.floating_ips), ("volume(s)", self.volumes),
            ("container(s)", self.containers)) if items]
        return ", ".join(parts) or "nothing"

    def add(self, other: "Leftovers") -> None:
        """Join `other`'s objects that are not here yet (by id, containers by name)."""
        for mine, theirs in ((self.servers, other.servers), (self.floating_ips, other.floating_ips),
                             (self.volumes, other.volumes)):
            ids = {item.id for item in mine}
            mine.extend(item for item in theirs if item.id not in ids)
        self.containers.extend(c for c in other.containers if c not in self.containers)


class Cleanup:
    """The registry (`created`) and the removal; `services` (the catalog's types) says whether Cinder and Swift
    are there to look in."""

    def __init__(self, conn: Any, names: Names, timeouts: Timeouts, pause: float = 2.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.conn, self.names, self.timeouts = conn, names, timeouts
        self.services: frozenset[str] = frozenset()
        self.created = Leftovers()
        self._pause, self._clock, self._sleep = pause, clock, sleep

    # -- the registry ---------------------------------------------------------------
    def server(self, server: Any) -> None:
        self.created.servers.append(server)

    def floating_ip(self, fip: Any) -> None:
        self.created.floating_ips.append(fip)

    def volume(self, volume: Any) -> None:
        self.created.volumes.append(volume)

    def container(self, name: str) -> None:
        self.created.containers.append(name)

    # -- finding --------------------------------------------------------------------
    def find(self) -> Leftovers:
        """Everything of this prefix's runs that the cloud holds now."""
        names, prefix, conn = self.names, self.names.prefix, self.conn
        found = Leftovers()
        # Nova's name filter is a regular expression; the stem holds only [a-z0-9-] (lab/naming.py label()).
        found.servers = [s for s in conn.compute.servers(name=f"^{names.stem}")
                         if (s.name or "").startswith(names.stem) and (s.metadata or {}).get(MARKER) == prefix]
        found.floating_ips = [ip for ip in conn.network.ips(description=names.floating_ip)
                              if ip.description == names.floating_ip]
        if self.services & CINDER_TYPES:
            found.volumes = [v for v in conn.block_storage.volumes(name=names.volume)
                             if v.name == names.volume and (v.metadata or {}).get(MARKER) == prefix]
        if self.services & SWIFT_TYPES:
            found.containers = [c.name for c in conn.object_store.containers(prefix=names.container)
                                if c.name == names.container]
        return found

    # -- removing -------------------------------------------------------------------
    def remove(self, doomed: Leftovers) -> None:
        """Delete, newest kind first: floating IPs, servers (their ports go with them), volumes, containers;
        each kind's deletion awaited (bounded) before the next."""
        conn = self.conn
        for fip in doomed.floating_ips:
            conn.network.delete_ip(fip, ignore_missing=True)
        for server in doomed.servers:
            conn.compute.delete_server(server, ignore_missing=True)
        if doomed.servers:
            self._gone("the verify servers to be deleted", lambda: self.find().servers, doomed.servers)
        for volume in doomed.volumes:
            self._wait(f"volume {volume.id} to be free for deletion (not in use or changing)",
                       self._settled_check(volume))
            conn.block_storage.delete_volume(volume, ignore_missing=True)
        if doomed.volumes:
            self._gone("the verify volume to be deleted", lambda: self.find().volumes, doomed.volumes)
        for name in doomed.containers:
            for obj in conn.object_store.objects(name):
                conn.object_store.delete_object(obj, container=name, ignore_missing=True)
            conn.object_store.delete_container(name, ignore_missing=True)

    def sweep(self) -> Leftovers:
        """Remove what the cloud holds of this prefix's runs and what this run registered; fail if any remains."""
        doomed = self.find()
        doomed.add(self.created)
        self.remove(doomed)
        remaining = self.find()
        if remaining.count:
            raise CheckFailed(f"still there after the clean-up: {remaining.summary()} ({self.names.stem}*)")
        self.created = Leftovers()
        return doomed

    # -- waiting --------------------------------------------------------------------
    def _settled_check(self, volume: Any) -> Callable[[], Any]:
        return lambda: self._settled(volume)

    def _settled(self, volume: Any) -> Any:
        current = self.conn.block_storage.find_volume(volume.id, ignore_missing=True)
        if current is not None and current.status in BUSY_VOLUME:
            raise NotYet(f"status {current.status}")
        return current

    def _gone(self, what: str, listing: Callable[[], list[Any]], doomed: list[Any]) -> None:
        ids = {item.id for item in doomed}

        def attempt() -> None:
            left = [item.id for item in listing() if item.id in ids]
            if left:
                raise NotYet(f"{len(left)} left: {', '.join(left)}")

        self._wait(what, attempt)

    def _wait(self, what: str, attempt: Callable[[], Any]) -> Any:
        return wait_for(what, attempt, self.timeouts.delete, self._pause, clock=self._clock, sleep=self._sleep)

"""A rule's verdict (Check) and how the rules of one lab host name it and its config keys (HostScope)."""
from __future__ import annotations

from dataclasses import dataclass

from lab.plan import HostPlan, LabPlan
from lab.preflight.hosts import is_local


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fatal: bool = True
    host: int | None = None  # index in LabPlan.hosts; None: this machine or an existing machine
    where: str = ""  # "hosts[1] (b)" in a multi-host config, "existingComputes[0] (phys1)"; "" otherwise

    @property
    def title(self) -> str:
        return f"{self.where} {self.name}" if self.where else self.name


def fatal_problems(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.fatal and not c.ok]


@dataclass(frozen=True)
class HostScope:
    """One lab host as its checks name it: `hosts[1] (b)` and `hosts[1].` keys in a multi-host config,
    nothing and the top-level keys (libvirtUri, computeCount, storagePoolPath) otherwise."""

    index: int
    host: HostPlan
    where: str  # "hosts[1] (b)", or ""
    key: str  # the prefix of the host's own keys: "hosts[1].", or ""
    uri_key: str  # hosts[1].uri or libvirtUri
    count_key: str  # hosts[1].computes or computeCount
    local: bool  # the host is this machine

    @classmethod
    def of(cls, lab: LabPlan, index: int) -> HostScope:
        host = lab.hosts[index]
        key = host.keys
        if not key:
            return cls(index, host, "", "", "libvirtUri", "computeCount", is_local(host.uri))
        return cls(index, host, f"hosts[{index}] ({host.name})", key, f"{key}uri", f"{key}computes",
                   is_local(host.uri))

    def check(self, name: str, ok: bool, detail: str, fatal: bool = True) -> Check:
        return Check(name, ok, detail, fatal, self.index, self.where)

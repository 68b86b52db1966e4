"""A rule's verdict (Check) and how the rules of one lab host name it and its config keys (HostScope)."""
from __future__ import annotations

from dataclasses import dataclass

from lab.config import LabConfig
from lab.config.model import LabHost
from lab.preflight.hosts import is_local


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fatal: bool = True
    host: int | None = None  # index in cfg.lab_hosts; None: this machine or an existing machine
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
    host: LabHost
    multi: bool

    @classmethod
    def of(cls, cfg: LabConfig, index: int) -> HostScope:
        return cls(index, cfg.lab_hosts[index], bool(cfg.hosts))

    @property
    def where(self) -> str:
        return f"hosts[{self.index}] ({self.host.name})" if self.multi else ""

    @property
    def key(self) -> str:
        """The prefix of the host's own keys."""
        return f"hosts[{self.index}]." if self.multi else ""

    @property
    def uri_key(self) -> str:
        return f"{self.key}uri" if self.multi else "libvirtUri"

    @property
    def count_key(self) -> str:
        return f"{self.key}computes" if self.multi else "computeCount"

    @property
    def local(self) -> bool:
        return is_local(self.host.uri)

    def check(self, name: str, ok: bool, detail: str, fatal: bool = True) -> Check:
        return Check(name, ok, detail, fatal, self.index, self.where)

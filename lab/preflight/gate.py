"""The program's gate: before any resource is declared, the probes, then the rules, for this machine and every
lab host (over its URI); the fatal failures stop `pulumi up`, one line each (tools/doctor.py prints them all)."""
from __future__ import annotations

from lab.config import LabConfig
from lab.plan import plan
from lab.preflight import probes, rules
from lab.preflight.check import Check, fatal_problems


class HostNotReady(Exception):
    """Fatal preflight problems of this machine or a libvirt host of the lab, one line each."""

    def __init__(self, problems: list[Check]) -> None:
        self.problems = [f"{c.title}: {c.detail}" if c.where else f"host.{c.name.replace(' ', '-')}: {c.detail}"
                         for c in problems]
        super().__init__("\n".join(self.problems))


def require_host_ready(cfg: LabConfig) -> None:
    """The fatal checks of `make doctor`, for this machine and every host of the lab (over its URI), before
    any resource is declared."""
    if cfg.existing_cloud:
        return
    lab = plan(cfg)
    problems = fatal_problems(rules.run_checks(lab, probes.gather(lab, existing=False)))
    if problems:
        raise HostNotReady(problems)

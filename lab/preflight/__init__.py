"""Host preflight: what this machine and every libvirt host of the lab need for the configured lab,
checked before anything is created, each failure saying what to install or change.

- facts.py: what is known of this machine, each lab host and each existing machine (frozen dataclasses).
- probes/: the only code that runs commands, opens sockets or reads /proc: `gather()` reads the real hosts,
  this machine's commands, /proc, sysfs, `virt-host-validate` and `iptables`, and each lab host over its
  libvirt URI (`virsh -c URI`: reachability, memory, pool, bridges), remote ones too.
- rules/: pure functions of the lab's plan and the facts, one module per concern; `run_checks()` runs them, so
  every rule is tested with facts built by hand. check.py (a rule's verdict), needs.py (what the lab asks
  of each host), hosts.py (a host by its URI) serve both sides.
- gate.py: what the program runs before declaring any resource (`require_host_ready`); `make doctor`
  prints every check, this machine's first, then each host's (tools/doctor.py).
"""
from __future__ import annotations

from lab.preflight.check import Check, fatal_problems
from lab.preflight.facts import HostFacts, LabFacts, MachineFacts
from lab.preflight.gate import HostNotReady, require_host_ready
from lab.preflight.probes import gather
from lab.preflight.rules import run_checks

__all__ = [
    "Check", "HostFacts", "HostNotReady", "LabFacts", "MachineFacts",
    "fatal_problems", "gather", "require_host_ready", "run_checks",
]

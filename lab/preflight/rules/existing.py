"""The existing machines the lab joins (existingComputes): their SSH port answers from here (a warning:
Pulumi may run where the management LAN is reachable and this machine not)."""
from __future__ import annotations

from lab.plan import LabPlan
from lab.preflight.check import Check
from lab.preflight.facts import SSH_PROBE_TIMEOUT_S


def existing_ssh(lab: LabPlan, answers: tuple[bool | None, ...]) -> list[Check]:
    checks = []
    for k, (machine, answered) in enumerate(zip(lab.existing_machines, answers, strict=False)):
        if answered is None:
            continue  # not probed
        checks.append(Check(
            "SSH", answered,
            f"{machine.address}:22 answers" if answered else
            f"{machine.address}:22 does not answer from this machine within {SSH_PROBE_TIMEOUT_S} s: `up` joins it "
            "over SSH, so it must be running with sshd on the management LAN (fine if only this machine cannot reach "
            "that LAN and Pulumi runs elsewhere)",
            fatal=False, where=f"existingComputes[{k}] ({machine.name})",
        ))
    return checks

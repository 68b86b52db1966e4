"""Rules of what the nodes run: OS flavor, RDO release, L2 agent, package update, extra Packstack answers."""
from __future__ import annotations

from types import MappingProxyType
from typing import Any

from lab import packstack_validators
from lab.packstack_facts import LAB_MANAGED_ANSWERS, packstack_options
from lab.config.reader import Reader

SERVICE_WORKERS = "CONFIG_SERVICE_WORKERS"


def read(r: Reader) -> dict[str, Any]:
    """LabConfig's software fields."""
    return {
        "os_flavor": r.get("osFlavor"),
        "openstack_release": r.get("openstackRelease"),
        "l2_agent": r.get("l2Agent"),
        # RDO's documented path updates every package once the release repository is added.
        "package_update": r.get("packageUpdate"),
        "packstack_answers": MappingProxyType(_answers(r, r.get("packstackAnswers"))),
    }


def _answers(r: Reader, answers: dict[str, Any]) -> dict[str, str]:
    known = packstack_options()
    clean: dict[str, str] = {}
    for key, value in answers.items():
        where = f"packstackAnswers.{key}"
        if key in LAB_MANAGED_ANSWERS:
            r.problem(where, f"is managed by the lab ({LAB_MANAGED_ANSWERS[key]}); remove it")
        elif key not in known:
            hint = "; Packstack removed it" if "NAGIOS" in key else ""
            r.problem(where, f"is not an option of the pinned Packstack (see `packstack -o`){hint}")
        elif isinstance(value, (dict, list)) or value is None:
            r.problem(where, "expected a string value such as 'y', 'n' or a comma-separated list")
        else:
            clean[key] = ("y" if value else "n") if isinstance(value, bool) else str(value)
    # Values Packstack's own validators refuse (its message and the fix); the later rules see its defaults instead.
    for key, message in packstack_validators.problems(clean).items():
        r.problem(f"packstackAnswers.{key}", message)
        del clean[key]
    if SERVICE_WORKERS in clean and not _service_workers_ok(clean[SERVICE_WORKERS]):
        r.problem(f"packstackAnswers.{SERVICE_WORKERS}",
                  f"{clean.pop(SERVICE_WORKERS)!r} is no number of workers: Packstack declares no validator for it and "
                  "Puppet stops on it an hour in (\"cannot be converted to Numeric\"); use a whole number such as 2, "
                  "or %{::processorcount} for one per CPU")
    return clean


def _service_workers_ok(value: str) -> bool:
    """A count of 1 or more, or a Puppet fact interpolation (Packstack's default is %{::processorcount})."""
    value = value.strip()
    return (value.isdigit() and int(value) >= 1) or (value.startswith("%{") and value.endswith("}"))

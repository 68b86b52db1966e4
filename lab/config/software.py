"""Rules of what the nodes run: OS flavor, RDO release, L2 agent, package update, extra Packstack answers."""
from __future__ import annotations

from types import MappingProxyType
from typing import Any

from lab.answers import LAB_MANAGED_ANSWERS, packstack_options
from lab.config.reader import Reader


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
    return clean

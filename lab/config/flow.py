"""Rules of the stage chain: where it stops (within what the host-prep profile can run) and how long
a node may take to boot and KeystoneReady may wait."""
from __future__ import annotations

from typing import Any

from lab.config.model import STAGES, PrepProfile
from lab.config.reader import Reader


def read(r: Reader, profile: PrepProfile) -> dict[str, Any]:
    """LabConfig's flow fields."""
    stop_after = r.get("stopAfter")
    if STAGES.index(stop_after) > STAGES.index(profile.last_stage):
        allowed = ", ".join(STAGES[: STAGES.index(profile.last_stage) + 1])
        r.problem("stopAfter", f"host-prep profile {profile.name} cannot run Packstack; use stopAfter {allowed}")
    timeouts = {}
    for key in ("bootTimeout", "keystoneTimeout"):
        timeouts[key] = r.get(key)
        if timeouts[key] < 1:
            r.problem(key, "must be at least 1 second")
    return {"stop_after": stop_after, "boot_timeout": timeouts["bootTimeout"],
            "keystone_timeout": timeouts["keystoneTimeout"], "prep_profile": profile}

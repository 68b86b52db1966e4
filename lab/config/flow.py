"""Rules of the stage chain: where it stops (within what the host-prep profile can run) and how long
KeystoneReady waits."""
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
    keystone_timeout = r.get("keystoneTimeout")
    if keystone_timeout < 1:
        r.problem("keystoneTimeout", "must be at least 1 second")
    return {"stop_after": stop_after, "keystone_timeout": keystone_timeout, "prep_profile": profile}

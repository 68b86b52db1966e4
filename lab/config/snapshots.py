"""Rules of `snapshots`: lab-wide snapshot names, each a libvirt snapshot name on every lab node.

libvirt takes nearly any string as a snapshot name, but the name also travels through `make revert
SNAPSHOT=name`, virsh arguments and Pulumi resource names: the lab keeps to lower-case letters, digits and
inner dashes, at most NAME_MAX characters, each name once. Existing-cloud mode has no lab node to snapshot.
"""
from __future__ import annotations

import re
from typing import Any

from lab.config.reader import Reader

NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
NAME_MAX = 40


def read(r: Reader) -> dict[str, Any]:
    """LabConfig's `snapshots`: the valid names in the order given."""
    given = r.get("snapshots")
    names: list[str] = []
    for i, name in enumerate(given):
        key = f"snapshots[{i}]"
        if not isinstance(name, str):
            r.problem(key, f"expected a snapshot name (a string), got {name!r}")
        elif not NAME.match(name) or len(name) > NAME_MAX:
            r.problem(key, f"{name!r} is not a snapshot name the lab takes: use lower-case letters, digits and "
                           f"inner '-', at most {NAME_MAX} characters (e.g. installed, before-upgrade)")
        elif name in names:
            r.problem(key, f"{name!r} is listed twice: each snapshot name once")
        else:
            names.append(name)
    if names and r.raw.get("cloud") not in (None, "", {}, "{}"):
        r.problem("snapshots", "existing-cloud mode (cloud.authUrl) has no lab node to snapshot: remove snapshots")
    return {"snapshots": tuple(names)}

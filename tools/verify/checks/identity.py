"""Keystone: a token for the stack's login, and a catalog with the services the lab runs."""
from __future__ import annotations

from tools.verify.cleanup import CINDER_TYPES, SWIFT_TYPES
from tools.verify.context import Context
from tools.verify.runner import CheckFailed

ALWAYS = ("identity", "compute", "network", "image")  # what any cloud the lab uses must offer
LAB_ONLY = ("placement",)  # an existing cloud's user may not see it


def token(ctx: Context) -> str:
    """A token (never shown) for the clouds.yaml login."""
    ctx.conn.authorize()
    return f"issued for user {ctx.conn.current_user_id} in project {ctx.conn.current_project_id}"


def catalog(ctx: Context) -> str:
    """The catalog lists the services the checks need, each with an endpoint; Cinder and Swift where the lab
    installs them."""
    entries = list(ctx.conn.service_catalog or [])
    types = frozenset(entry.get("type", "") for entry in entries if entry.get("endpoints"))
    ctx.found.services = types
    ctx.cleanup.services = types
    expect = ctx.expect
    wanted = list(ALWAYS) + ([] if expect.existing_cloud else list(LAB_ONLY))
    missing = [t for t in wanted if t not in types]
    if expect.cinder and not types & CINDER_TYPES:
        missing.append("volumev3 (Cinder: CONFIG_CINDER_INSTALL=y)")
    if expect.swift and not types & SWIFT_TYPES:
        missing.append("object-store (Swift: CONFIG_SWIFT_INSTALL=y)")
    if missing:
        raise CheckFailed(f"the catalog lacks {', '.join(missing)} (it lists {', '.join(sorted(types)) or 'nothing'})")
    return f"{len(types)} services with endpoints: {', '.join(sorted(types))}"

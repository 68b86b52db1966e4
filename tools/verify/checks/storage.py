"""Cinder and Swift: a volume created, attached to the first server, seen in its guest as a disk with the
volume's serial, detached and gone from the guest; an object written and read back."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

from tools.verify.checks.instances import kit_of
from tools.verify.cleanup import CINDER_TYPES, SWIFT_TYPES
from tools.verify.context import Context
from tools.verify.expectations import MARKER
from tools.verify.runner import CheckFailed, Skipped
from tools.verify.waits import NotYet, wait_for

DISKS_SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "guest" / "verify-disks.sh"
SERIAL_LENGTH = 20  # virtio-blk serials hold 20 bytes
OBJECT = "probe"


def _volume_status(ctx: Context, volume: Any, wanted: str) -> Any:
    def attempt() -> Any:
        current = ctx.conn.block_storage.get_volume(volume.id)
        if current.status in ("error", "error_deleting", "error_extending"):
            raise CheckFailed(f"volume {current.name} went to {current.status}")
        if current.status != wanted:
            raise NotYet(f"status {current.status}")
        return current
    return wait_for(f"volume {volume.name} to be {wanted}", attempt, ctx.expect.timeouts.volume)


def volume_create(ctx: Context) -> str:
    if not ctx.found.services & CINDER_TYPES:
        raise Skipped("no Cinder (volumev3) in the catalog")
    names = ctx.expect.names
    volume = ctx.conn.block_storage.create_volume(name=names.volume, size=1, metadata={MARKER: ctx.expect.prefix})
    ctx.cleanup.volume(volume)
    ctx.found.volume = _volume_status(ctx, volume, "available")
    where = f" ({ctx.expect.cinder_backend})" if ctx.expect.cinder_backend else ""
    return f"{names.volume} (1 GiB) available{where}"


def _guest_disks(ctx: Context, target: str) -> dict[str, str]:
    """Disk name -> serial ("" where the kernel shows none), as the guest of `target` sees its virtio disks."""
    kit = kit_of(ctx)
    reply = ctx.guest.ssh(ctx.found.addresses[target], kit.login_user, "sh -s", stdin=DISKS_SCRIPT.read_text())
    if reply.code != 0:
        raise NotYet(f"ssh exited {reply.code}: {reply.output.strip()[-200:]}")
    disks = {}
    for line in reply.output.splitlines():
        name, _, serial = line.strip().partition(" ")
        if name:
            disks[name] = serial.strip()
    return disks


def _volume_disk(disks: dict[str, str], serial: str, before: frozenset[str]) -> Optional[str]:
    """The guest's disk of the volume: the one with its serial; on a kernel that shows no serial at all, the
    one disk that was not there before the attach."""
    if any(disks.values()):
        return next((name for name, s in disks.items() if s == serial), None)
    new = sorted(set(disks) - before)
    return new[0] if len(new) == 1 else None


def volume_attach(ctx: Context) -> str:
    target, volume = ctx.expect.targets[0], ctx.found.volume
    server = ctx.found.servers[target]
    before = frozenset(wait_for(f"the disk list of {server.name}'s guest", lambda: _guest_disks(ctx, target),
                                ctx.expect.timeouts.volume))
    ctx.found.disks_before = before
    ctx.conn.compute.create_volume_attachment(server, volume)
    _volume_status(ctx, volume, "in-use")
    serial = volume.id[:SERIAL_LENGTH]

    def seen() -> str:
        disks = _guest_disks(ctx, target)
        disk = _volume_disk(disks, serial, before)
        if disk is None:
            shown = ", ".join(f"{name} {s or '(no serial)'}" for name, s in sorted(disks.items()))
            raise NotYet(f"the guest's disks: {shown or 'none'}")
        return disk

    disk = wait_for(f"the guest of {server.name} to see a disk with serial {serial}", seen, ctx.expect.timeouts.volume)
    how = f"serial {serial}" if _guest_disks(ctx, target).get(disk) else "the new disk; this kernel shows no serials"
    return f"attached to {server.name}; the guest sees /dev/{disk} ({how})"


def volume_detach(ctx: Context) -> str:
    target, volume = ctx.expect.targets[0], ctx.found.volume
    server = ctx.found.servers[target]
    ctx.conn.compute.delete_volume_attachment(server, volume)
    _volume_status(ctx, volume, "available")
    serial = volume.id[:SERIAL_LENGTH]

    def gone() -> None:
        disk = _volume_disk(_guest_disks(ctx, target), serial, ctx.found.disks_before)
        if disk is not None:
            raise NotYet(f"/dev/{disk} is still there")

    wait_for(f"the volume's disk (serial {serial}) to leave the guest of {server.name}", gone,
             ctx.expect.timeouts.volume)
    return f"detached from {server.name}, available again, gone from the guest"


def object_store(ctx: Context) -> str:
    if not ctx.found.services & SWIFT_TYPES:
        raise Skipped("no Swift (object-store) in the catalog")
    store, container = ctx.conn.object_store, ctx.expect.names.container
    data = os.urandom(4096)
    store.create_container(name=container)
    ctx.cleanup.container(container)
    store.upload_object(container=container, name=OBJECT, data=data)
    back = store.download_object(OBJECT, container=container)
    if back != data:
        raise CheckFailed(f"{container}/{OBJECT} read back {len(back)} bytes that differ from the {len(data)} written")
    return f"{len(data)} bytes written to {container}/{OBJECT} and read back unchanged"

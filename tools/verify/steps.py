"""The checks of a run in order, with what each needs: a lab gets a server per compute, an existing cloud one
unpinned server; the volume is attached to the first server."""
from __future__ import annotations

from tools.verify.checks import compute, identity, instances, network, storage
from tools.verify.context import Context
from tools.verify.expectations import Expectations
from tools.verify.runner import Step


def leftovers(ctx: Context) -> str:
    """An earlier (interrupted) run's objects of this prefix, removed before anything is made."""
    removed = ctx.cleanup.sweep()
    if not removed.count:
        return f"none from an earlier run ({ctx.expect.names.stem}*)"
    return f"removed an earlier run's {removed.summary()}"


def steps(expect: Expectations) -> list[Step[Context]]:
    plan: list[Step[Context]] = [
        Step("token", identity.token),
        Step("catalog", identity.catalog, ("token",)),
        Step("leftovers", leftovers, ("catalog",)),
        Step("compute services", compute.compute_services, ("catalog",)),
        Step("hypervisors", compute.hypervisors, ("compute services",)),
        Step("network agents", network.l2_agents, ("catalog",)),
        Step("networks", network.networks, ("catalog",)),
        Step("boot kit", instances.boot_kit, ("networks",)),
        # A lab pins each server to its compute's Nova host, which the hypervisors check found.
        Step("servers", instances.create_servers,
             ("boot kit", "leftovers") + (() if expect.existing_cloud else ("hypervisors",))),
    ]
    for target in expect.targets:
        plan += [
            Step(f"server {target}", instances.server_active(target), ("servers",)),
            Step(f"floating IP {target}", instances.floating_ip(target), (f"server {target}",)),
            Step(f"ssh {target}", instances.ssh(target), (f"floating IP {target}",)),
        ]
    first = expect.targets[0] if expect.targets else ""
    plan += [
        Step("volume create", storage.volume_create, ("leftovers",)),
        Step("volume attach", storage.volume_attach, ("volume create", f"ssh {first}")),
        Step("volume detach", storage.volume_detach, ("volume attach",)),
        Step("object store", storage.object_store, ("leftovers",)),
    ]
    return plan

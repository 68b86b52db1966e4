"""`LabSnapshots`: the lab-wide snapshots of the plan (`snapshots`), one `LabSnapshot` per name, each taken after
the last stage declared (it depends on that stage's resources) of every lab node at once.

Existing machines are never snapshotted (lab/snapshot_plan.py says why); a preview and an `up` say so.
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

import pulumi

from lab.snapshot_plan import SnapshotPlan
from providers.lab_snapshot import LabSnapshot, LabSnapshotArgs

TYPE = "openstack-lab:lab:LabSnapshots"


class LabSnapshots(pulumi.ComponentResource):
    def __init__(self, name: str, plan: SnapshotPlan, domain_ids: Mapping[str, pulumi.Input[str]],
                 after: Sequence[pulumi.Resource], opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(TYPE, name, None, opts)
        nodes = [{"node": n.node, "host_uri": n.host_uri, "domain": n.domain, "domain_id": domain_ids[n.node]}
                 for n in plan.nodes]
        # Explicit on each snapshot: a component's depends_on does not reach its children.
        child = pulumi.ResourceOptions(parent=self, depends_on=list(after), delete_before_replace=True)
        self.snapshots = {snapshot: LabSnapshot(f"snapshot-{snapshot}", LabSnapshotArgs(snapshot, nodes), child)
                          for snapshot in plan.names}
        if plan.skipped:
            pulumi.log.info(f"snapshots {', '.join(plan.names)} hold the lab's nodes only: existing machines "
                            f"{', '.join(plan.skipped)} are never snapshotted (a revert leaves them as they are)",
                            self)
        self.register_outputs({})

"""`LabStorage`: where a stack's disks live, and the one base volume its nodes share.

With `storagePoolPath` the stack gets a dir pool of its own (removed on destroy);
otherwise it uses an existing pool (`storagePool`).
"""
from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_libvirt as libvirt

from lab.plan import StoragePlan

TYPE = "openstack-lab:lab:LabStorage"


class LabStorage(pulumi.ComponentResource):
    pool: pulumi.Output[str]
    base_volume_id: pulumi.Output[str]

    def __init__(self, name: str, args: StoragePlan, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(TYPE, name, None, opts)
        if args.pool_path is not None:
            own_pool = libvirt.Pool(
                f"{name}-pool",
                name=args.pool_name,
                type="dir",
                target=libvirt.PoolTargetArgs(path=args.pool_path),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.pool = own_pool.name
        else:
            self.pool = pulumi.Output.from_input(args.pool_name)
        self.base_volume = libvirt.Volume(
            f"{name}-base",
            name=args.base_volume_name,
            pool=self.pool,
            source=args.base_image,
            format="qcow2",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.base_volume_id = self.base_volume.id
        self.register_outputs({"pool": self.pool, "base_volume_id": self.base_volume.id})

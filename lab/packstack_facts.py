"""What the lab knows about Packstack: its option list, the answers the lab manages or
defaults, what the chosen services cost in controller memory, how the external network and
the controller's data disks meet Packstack's options.

Pure and without lab imports: the config rules (lab/config/) read it, and so do the plan and
the answer edits (lab/answers.py), so no import circle runs through the config.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

from lab.packstack_validators import declarations

# Key the physical network of the external flat network is known by, in Neutron and OVN/OVS.
PHYSNET = "extnet"
EXTERNAL_BRIDGE = "br-ex"
EXTERNAL_NIC = "eth1"
# Keystone's public endpoint as Packstack sets it up on the controller (http: CONFIG_HORIZON_SSL and TLS are off).
KEYSTONE_PORT = 5000
# Where host prep leaves the controller's root key for Packstack's CONFIG_SSH_KEY.
CONTROLLER_ROOT_PUBKEY = "/root/.ssh/id_ed25519.pub"


# Cinder's LVM volume group: Packstack's default CONFIG_CINDER_VOLUME_NAME (plugins/cinder_250.py), made by
# host prep (scripts/storage-lvm.sh) on the controller's first data disk instead of Packstack's loopback file.
CINDER_VOLUME_GROUP = "cinder-volumes"
# Swift's device: Packstack's Puppet (swift::storage::xfs) makes the file system and mounts it under /srv/node.
SWIFT_FSTYPE = "xfs"
# Flavors Packstack's Puppet makes unless CONFIG_NOVA_MANAGE_FLAVORS=n (packstack/manifests/nova/api.pp).
PACKSTACK_FLAVORS = frozenset({"m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge"})


def cloud_flavors(answers: Mapping[str, str]) -> frozenset[str]:
    """Flavor names the lab's cloud has after Packstack."""
    return PACKSTACK_FLAVORS if answers.get("CONFIG_NOVA_MANAGE_FLAVORS", "y").lower() == "y" else frozenset()


# Answers the lab itself computes; users change them through the lab's own keys.
LAB_MANAGED_ANSWERS = {
    "CONFIG_CONTROLLER_HOST": "the controller is always the first lab node",
    "CONFIG_COMPUTE_HOSTS": "set computeCount",
    "CONFIG_NETWORK_HOSTS": "the controller is the network host",
    "CONFIG_KEYSTONE_ADMIN_PW": "the admin password is generated and kept as a secret",
    "CONFIG_SSH_KEY": "the controller's root key is generated during host prep",
    "CONFIG_NEUTRON_L2_AGENT": "set l2Agent",
}

# The lab's defaults where Packstack's own do not fit a lab controller; users turn them back
# in `packstackAnswers` (the memory rule below then asks for a larger controller). Packstack
# 26.0.0 installs Ceilometer (with Gnocchi) and Aodh by default and starts one worker per CPU
# for every API; its own multinode CI (tests/scenario002.sh, stable/2025.1) runs
# --service-workers=2 without Ceilometer and Aodh.
LAB_DEFAULT_ANSWERS = {
    "CONFIG_SERVICE_WORKERS": "2",
    "CONFIG_CEILOMETER_INSTALL": "n",
    "CONFIG_AODH_INSTALL": "n",
}

# Controller memory per Packstack service set (MiB). These are the lab's estimates, not
# measurements (no Packstack cloud can be built where this project is tested): the base is
# Keystone, Glance, Nova API/conductor/scheduler, Placement, Neutron server with OVN
# northd, MariaDB, RabbitMQ, memcached, Horizon, Cinder and Swift with 2 workers per API.
# RDO asks for at least 16 GB for an all-in-one with Packstack's default set and guests.
CONTROLLER_BASE_MIB = 6144
BASE_SERVICE_WORKERS = 2
MIB_PER_EXTRA_WORKER = 512  # one more process for each of the ~8 API services
OPTIONAL_SERVICE_MIB = {
    "CONFIG_CEILOMETER_INSTALL": 1536,  # Ceilometer agents + Gnocchi
    "CONFIG_AODH_INSTALL": 512,
    "CONFIG_HEAT_INSTALL": 512,
    "CONFIG_MAGNUM_INSTALL": 512,
    "CONFIG_MANILA_INSTALL": 512,
    "CONFIG_TROVE_INSTALL": 512,
    "CONFIG_IRONIC_INSTALL": 1024,
}
# Memory a compute needs (nova-compute, OVN controller, one small guest); an all-in-one
# controller needs it on top.
COMPUTE_MIB = 2048


@dataclass(frozen=True)
class DataDisk:
    """One data disk of a node: the index-th after the root disk, a virtio disk."""

    index: int
    size_gib: int

    @property
    def device(self) -> str:
        # libvirt names virtio disks in domain order: vda is the root disk, data disks follow.
        return "/dev/vd" + chr(ord("b") + self.index)


@dataclass(frozen=True)
class StorageDisks:
    """Which of the controller's data disks Cinder and Swift use (None: Packstack's loopback files)."""

    cinder: Optional[DataDisk]
    swift: Optional[DataDisk]

    # Answers the lab writes for them; refused in packstackAnswers while the disks are the lab's.
    @property
    def managed_answers(self) -> tuple[str, ...]:
        keys: tuple[str, ...] = ()
        if self.cinder:
            keys += ("CONFIG_CINDER_VOLUMES_CREATE", "CONFIG_CINDER_VOLUME_NAME")
        if self.swift:
            keys += ("CONFIG_SWIFT_STORAGES", "CONFIG_SWIFT_STORAGE_FSTYPE")
        if self.cinder or self.swift:
            keys += ("CONFIG_STORAGE_HOST",)  # the disks are the controller's
        return keys


def storage_disks(data_disks_gib: tuple[int, ...], answers: Mapping[str, str]) -> StorageDisks:
    """The controller's data disks in order: the first to Cinder's LVM group (when Cinder with its lvm
    backend is installed), the next to Swift (when Swift is installed); further disks stay unused."""
    disks = [DataDisk(i, size) for i, size in enumerate(data_disks_gib)]
    cinder = swift = None
    cinder_lvm = "lvm" in answers.get("CONFIG_CINDER_BACKEND", "lvm")
    if answers.get("CONFIG_CINDER_INSTALL", "y").lower() == "y" and cinder_lvm:
        cinder = disks.pop(0) if disks else None
    if answers.get("CONFIG_SWIFT_INSTALL", "y").lower() == "y":
        swift = disks.pop(0) if disks else None
    return StorageDisks(cinder, swift)


def packstack_options() -> frozenset[str]:
    """Every answer key `packstack -o` of the pinned Packstack lists: the CONFIG_ options its plugins declare
    (packstack_validators.json; prescript's EXCLUDE_SERVERS is declared too but not listed)."""
    return frozenset(key for key in declarations() if key.startswith("CONFIG_"))


@dataclass(frozen=True)
class MemoryNeed:
    mib: int
    reasons: tuple[str, ...]  # what adds to the base, for the message


def controller_memory_need(answers: Mapping[str, str], vcpus: int, all_in_one: bool) -> MemoryNeed:
    """Memory the controller needs for the services the merged answers install."""
    merged = {**LAB_DEFAULT_ANSWERS, **answers}
    total, reasons = CONTROLLER_BASE_MIB, [f"base {CONTROLLER_BASE_MIB}"]
    for key, mib in OPTIONAL_SERVICE_MIB.items():
        if merged.get(key, "n").lower() == "y":
            total += mib
            reasons.append(f"{key}=y {mib}")
    workers_answer = merged["CONFIG_SERVICE_WORKERS"]
    workers = vcpus if workers_answer.startswith("%{") else int(workers_answer) if workers_answer.isdigit() else vcpus
    if workers > BASE_SERVICE_WORKERS:
        extra = (workers - BASE_SERVICE_WORKERS) * MIB_PER_EXTRA_WORKER
        total += extra
        reasons.append(f"{workers} service workers {extra}")
    if all_in_one:
        total += COMPUTE_MIB
        reasons.append(f"all-in-one compute {COMPUTE_MIB}")
    return MemoryNeed(total, tuple(reasons))

"""The lab's Packstack answer edits as data (the answer-file edits, not the file), computed once by the
plan (lab/plan.py) from its nodes: `LabPlan.answers`.

Passwords are not here: `PackstackAnswers` generates and keeps them as secrets. What the lab knows
about Packstack itself (its options, managed and default answers, the data disks) is in
lab/packstack_facts.py, which the config rules read too.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from lab.packstack_facts import (CINDER_VOLUME_GROUP, CONTROLLER_ROOT_PUBKEY, EXTERNAL_BRIDGE, EXTERNAL_NIC,
                                 LAB_DEFAULT_ANSWERS, PHYSNET, SWIFT_FSTYPE, StorageDisks)


def storage_answers(disks: StorageDisks) -> dict[str, str]:
    """Packstack answers for the disks; none without (Packstack's loopback files, as before)."""
    answers = {}
    if disks.cinder:
        answers["CONFIG_CINDER_VOLUMES_CREATE"] = "n"  # host prep made the group on the disk
        answers["CONFIG_CINDER_VOLUME_NAME"] = CINDER_VOLUME_GROUP
    if disks.swift:
        answers["CONFIG_SWIFT_STORAGES"] = disks.swift.device
        answers["CONFIG_SWIFT_STORAGE_FSTYPE"] = SWIFT_FSTYPE
    return answers


def lab_answers(*, controller: str, computes: Sequence[str], management_cidr: str, l2_agent: str,
                storage: StorageDisks, extra: Mapping[str, str]) -> dict[str, str]:
    """The lab's answer edits (plus the user's extra answers, which win), sorted by key.

    controller, computes: management addresses (no compute: the controller is the compute too).
    """
    answers = {
        **LAB_DEFAULT_ANSWERS,
        "CONFIG_CONTROLLER_HOST": controller,
        "CONFIG_COMPUTE_HOSTS": ",".join(computes or [controller]),
        "CONFIG_NETWORK_HOSTS": controller,
        "CONFIG_SSH_KEY": CONTROLLER_ROOT_PUBKEY,
        "CONFIG_PROVISION_DEMO": "n",
        "CONFIG_NEUTRON_L2_AGENT": l2_agent,
    }
    bridge_mapping = f"{PHYSNET}:{EXTERNAL_BRIDGE}"
    bridge_iface = f"{EXTERNAL_BRIDGE}:{EXTERNAL_NIC}"
    if l2_agent == "ovn":
        answers.update(
            {
                "CONFIG_NEUTRON_ML2_TYPE_DRIVERS": "geneve,flat",
                "CONFIG_NEUTRON_ML2_TENANT_NETWORK_TYPES": "geneve",
                "CONFIG_NEUTRON_OVN_BRIDGE_MAPPINGS": bridge_mapping,
                "CONFIG_NEUTRON_OVN_BRIDGE_IFACES": bridge_iface,
                "CONFIG_NEUTRON_OVN_BRIDGES_COMPUTE": EXTERNAL_BRIDGE,
                "CONFIG_NEUTRON_OVN_EXTERNAL_PHYSNET": PHYSNET,
                # geneve accepted from the whole management network (the lab's own), not per peer;
                # stacks made before the lab wrote it adopt it with their next Packstack run
                # (providers/packstack_answers.py DEFERRED_KEYS)
                "CONFIG_NEUTRON_OVN_TUNNEL_SUBNETS": management_cidr,
            }
        )
    else:
        answers.update(
            {
                "CONFIG_NEUTRON_ML2_TYPE_DRIVERS": "vxlan,flat",
                "CONFIG_NEUTRON_ML2_TENANT_NETWORK_TYPES": "vxlan",
                "CONFIG_NEUTRON_OVS_BRIDGE_MAPPINGS": bridge_mapping,
                "CONFIG_NEUTRON_OVS_BRIDGE_IFACES": bridge_iface,
                "CONFIG_NEUTRON_OVS_BRIDGES_COMPUTE": EXTERNAL_BRIDGE,
                "CONFIG_NEUTRON_OVS_TUNNEL_SUBNETS": management_cidr,  # vxlan, as above
            }
        )
    answers.update(storage_answers(storage))
    answers.update(extra)
    return dict(sorted(answers.items()))

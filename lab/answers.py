"""The Packstack answers a lab needs, as data (the answer-file edits, not the file).

Passwords are not here: `PackstackAnswers` generates and keeps them as secrets.
"""
from __future__ import annotations

from lab.config import LabConfig

# Key the physical network of the external flat network is known by, in Neutron and OVN/OVS.
PHYSNET = "extnet"
EXTERNAL_BRIDGE = "br-ex"
EXTERNAL_NIC = "eth1"
# Where host prep leaves the controller's root key for Packstack's CONFIG_SSH_KEY.
CONTROLLER_ROOT_PUBKEY = "/root/.ssh/id_ed25519.pub"


def lab_answers(config: LabConfig) -> dict[str, str]:
    """The lab's answer edits (plus the user's extra answers, which win)."""
    controller = config.node_address(config.node_names[0])
    computes = [config.node_address(n) for n in config.node_names[1:]] or [controller]
    answers = {
        "CONFIG_CONTROLLER_HOST": controller,
        "CONFIG_COMPUTE_HOSTS": ",".join(computes),
        "CONFIG_NETWORK_HOSTS": controller,
        "CONFIG_SSH_KEY": CONTROLLER_ROOT_PUBKEY,
        "CONFIG_PROVISION_DEMO": "n",
        "CONFIG_NEUTRON_L2_AGENT": config.l2_agent,
    }
    bridge_mapping = f"{PHYSNET}:{EXTERNAL_BRIDGE}"
    bridge_iface = f"{EXTERNAL_BRIDGE}:{EXTERNAL_NIC}"
    if config.l2_agent == "ovn":
        answers.update(
            {
                "CONFIG_NEUTRON_ML2_TYPE_DRIVERS": "geneve,flat",
                "CONFIG_NEUTRON_ML2_TENANT_NETWORK_TYPES": "geneve",
                "CONFIG_NEUTRON_OVN_BRIDGE_MAPPINGS": bridge_mapping,
                "CONFIG_NEUTRON_OVN_BRIDGE_IFACES": bridge_iface,
                "CONFIG_NEUTRON_OVN_BRIDGES_COMPUTE": EXTERNAL_BRIDGE,
                "CONFIG_NEUTRON_OVN_EXTERNAL_PHYSNET": PHYSNET,
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
            }
        )
    answers.update(config.packstack_answers)
    return dict(sorted(answers.items()))


"""What the checks expect of the cloud: plain values, made from the stack (stack.py) or by a test."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

# The metadata key that marks a server or volume as made by `make verify` of one prefix (its value).
MARKER = "openstack-lab-verify"
L2_AGENT_TYPES = {
    # Neutron's agent_type of what runs on every node (networking-ovn's chassis agents; the OVS agent).
    "ovn": ("OVN Controller agent", "OVN Controller Gateway agent"),
    "openvswitch": ("Open vSwitch agent",),
}
ANY_L2_AGENT = ("OVN Controller agent", "OVN Controller Gateway agent", "Open vSwitch agent", "Linux bridge agent")


@dataclass(frozen=True)
class BootKit:
    """What stage demo declared and a server boots with (names)."""

    image: str
    flavor: str
    keypair: str
    security_group: str
    login_user: str  # cirros for CirrOS
    ssh_wait_seconds: int  # demo.waitSeconds


@dataclass(frozen=True)
class Timeouts:
    server_active: float = 600
    floating_ip: float = 120  # until the server's port exists (ping and SSH wait demo.waitSeconds each)
    volume: float = 180  # each volume state change, and the guest seeing it
    delete: float = 300  # each kind of object the clean-up removes


@dataclass(frozen=True)
class Names:
    """Everything a run creates: `<prefix>-verify-...`; a sweep matches exactly these (plus the marker)."""

    prefix: str

    @property
    def stem(self) -> str:
        return f"{self.prefix}-verify-"

    def server(self, target: str) -> str:
        return f"{self.stem}{target}"

    @property
    def floating_ip(self) -> str:  # the description of each floating IP (they have no name)
        return f"{self.stem}fip"

    @property
    def volume(self) -> str:
        return f"{self.stem}volume"

    @property
    def container(self) -> str:
        return f"{self.stem}objects"


@dataclass(frozen=True)
class Expectations:
    prefix: str
    existing_cloud: bool
    # Lab: the computes by node name (the controller in an all-in-one) and every node that runs the L2
    # agent (OVN chassis or OVS agent). Existing cloud: empty (what exists is checked, no count expected).
    computes: tuple[str, ...]
    network_nodes: tuple[str, ...]
    l2_agent: Optional[str]  # ovn | openvswitch; None on an existing cloud (any L2 agent type)
    private_network: Optional[str]  # None: stage networking not declared
    external_network: Optional[str]
    router: Optional[str]
    boot: Optional[BootKit]  # None: stage demo not declared, nothing to boot with
    # True: the lab installs it (the catalog must list it); False: it does not; None: when the catalog has it.
    cinder: Optional[bool]
    swift: Optional[bool]
    cinder_backend: str = ""  # where a lab's volumes live, for the line
    timeouts: Timeouts = field(default_factory=Timeouts)

    @property
    def names(self) -> Names:
        return Names(self.prefix)

    @property
    def targets(self) -> tuple[str, ...]:
        """Where servers boot: one per compute in a lab, pinned; one unpinned on an existing cloud."""
        return self.computes if not self.existing_cloud else ("instance",)

    @property
    def agent_types(self) -> tuple[str, ...]:
        return L2_AGENT_TYPES[self.l2_agent] if self.l2_agent else ANY_L2_AGENT

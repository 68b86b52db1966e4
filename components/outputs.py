"""`LabOutputs`: what the stack exports, each field with its export name (`as_dict()` gives them)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional

import pulumi


def _export(name: str) -> Any:
    return field(default=None, metadata={"export": name})


@dataclass(frozen=True)
class LabOutputs:
    """What the stack exports; None where the mode or the stages declared do not produce it."""

    nodes: Optional[dict[str, str]] = _export("nodes")  # name -> management IP
    ssh_commands: Optional[dict[str, str]] = _export("sshCommands")
    known_hosts: Optional[pulumi.Output[str]] = _export("knownHosts")
    ssh_private_key: Optional[pulumi.Output[str]] = _export("sshPrivateKey")  # secret, only when generated
    keystone_url: Optional[pulumi.Input[str]] = _export("keystoneUrl")
    horizon_url: Optional[str] = _export("horizonUrl")
    admin_password: Optional[pulumi.Output[str]] = _export("adminPassword")  # secret
    clouds_yaml: Optional[pulumi.Output[str]] = _export("cloudsYaml")  # secret
    external_network_id: Optional[pulumi.Output[str]] = _export("externalNetworkId")
    public_subnet_id: Optional[pulumi.Output[str]] = _export("publicSubnetId")
    router_id: Optional[pulumi.Output[str]] = _export("routerId")
    private_network_id: Optional[pulumi.Output[str]] = _export("privateNetworkId")
    demo_server_create: Optional[str] = _export("demoServerCreate")  # a ready `openstack server create` line
    demo_floating_ip_commands: Optional[str] = _export("demoFloatingIpCommands")
    demo_server_ip: Optional[pulumi.Output[str]] = _export("demoServerIp")  # demoInstance only

    def as_dict(self) -> dict[str, Any]:
        """Exported name -> value, the produced ones only."""
        return {
            f.metadata["export"]: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) is not None
        }

"""openstack-lab: a multi-node OpenStack lab on one libvirt host, one stack per developer."""
from typing import Any

import pulumi

from components.lab import OpenStackLab
from lab.config import ConfigError, load
from lab.plan import plan
from lab.preflight import HostNotReady, require_host_ready

try:
    config = load()
    require_host_ready(config)  # the fatal `make doctor` checks, of this machine and every host (over its URI)
except (ConfigError, HostNotReady) as err:
    # One diagnostic per problem, then a clean stop before any resource is declared.
    for problem in err.problems:
        pulumi.log.error(f"{pulumi.get_project()}:{problem}")
    raise pulumi.RunError(f"{len(err.problems)} problem(s) with the configuration or this host, listed above") from None

outputs = OpenStackLab("lab", plan(config)).outputs


def export(name: str, value: Any) -> None:
    if value is not None:  # produced only in some modes and stages (see LabOutputs)
        pulumi.export(name, value)


export("nodes", outputs.nodes)
export("sshCommands", outputs.ssh_commands)
export("knownHosts", outputs.known_hosts)
export("sshPrivateKey", outputs.ssh_private_key)
export("keystoneUrl", outputs.keystone_url)
export("horizonUrl", outputs.horizon_url)
export("adminPassword", outputs.admin_password)
export("cloudsYaml", outputs.clouds_yaml)
export("externalNetworkId", outputs.external_network_id)
export("publicSubnetId", outputs.public_subnet_id)
export("routerId", outputs.router_id)
export("privateNetworkId", outputs.private_network_id)
export("demoServerCreate", outputs.demo_server_create)
export("demoFloatingIpCommands", outputs.demo_floating_ip_commands)
export("demoServerIp", outputs.demo_server_ip)

"""`OpenStackLab`: the whole lab of one stack, stage by stage, from its plan; `build()`, the program.

nodes (LabNetwork, LabStorage, a LabNode per node) -> prep (HostPrep per node, in
parallel) -> answers / packstack (Packstack on the controller, after every node's
prep) -> networking (OpenStackNetworking, after KeystoneReady) -> demo (DemoCloud:
image, flavors, keypair, security group; optionally a server). `stopAfter` ends
the chain early. With `cloud.authUrl` configured, only networking and demo are
declared, on that existing cloud. The first three stages are declared by components/lab_stages.py.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Optional

import pulumi

from components.demo_cloud import DemoCloud, DemoCloudArgs
from components.lab_snapshots import LabSnapshots
from components.lab_stages import LoginKey, NodesStage, declare_nodes, declare_packstack, declare_prep, login_key
from components.openstack_networking import OpenStackNetworking, OpenStackNetworkingArgs
from components.outputs import LabOutputs
from components.remote import NodeConnection
from lab.client_files import clouds_yaml
from lab.config import LabConfig
from lab.openstack_plan import DemoPlan
from lab.plan import LabPlan, plan
from providers.keystone_ready import CloudAuth, KeystoneReady

TYPE = "openstack-lab:lab:OpenStackLab"


def build(config: LabConfig) -> LabOutputs:
    """The program: the lab of a validated config, planned once and declared; what the stack exports."""
    return OpenStackLab("lab", plan(config)).outputs


class OpenStackLab(pulumi.ComponentResource):
    """Build the lab; `outputs` holds what the stack exports."""

    def __init__(self, name: str, lab_plan: LabPlan, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(TYPE, name, None, opts)
        self.plan = lab_plan
        self.outputs = self._existing_cloud() if lab_plan.cloud is not None else self._lab()
        self.register_outputs(self.outputs.as_dict())

    # -- existing cloud ---------------------------------------------------------------
    def _existing_cloud(self) -> LabOutputs:
        cloud = self.plan.cloud
        assert cloud is not None
        password = pulumi.Output.secret(cloud.password.value)
        given = CloudAuth(
            auth_url=cloud.auth_url,
            region=cloud.region,
            username=cloud.username,
            password=password,
            project_name=cloud.project_name,
            user_domain_name=cloud.user_domain_name,
            project_domain_name=cloud.project_domain_name,
        )
        ready = KeystoneReady(
            "keystone-ready", given, timeout_seconds=self.plan.keystone_timeout,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Networking waits for Keystone: its provider takes the URL and region KeystoneReady returns.
        auth = ready.auth
        networking = self._networking(auth, ready)
        outputs = self._with_networking(
            LabOutputs(keystone_url=ready.auth_url, admin_password=password, clouds_yaml=self._clouds_yaml(auth)),
            networking,
        )
        demo = self.plan.demo
        if demo is None:
            return outputs
        # No lab login key here: the demo keypair is demo.publicKey or a generated pair (exported).
        public_key: pulumi.Input[str]
        if demo.public_key is None:
            login = login_key(self.plan, self)
            public_key = login.public
            outputs = dataclasses.replace(outputs, ssh_private_key=pulumi.Output.secret(login.private))
        else:
            public_key = demo.public_key
        _, demo_outputs = self._demo(demo, networking, public_key)
        return dataclasses.replace(outputs, **demo_outputs)

    # -- lab on libvirt ---------------------------------------------------------------
    def _lab(self) -> LabOutputs:
        """The stages, then the lab-wide snapshots after the last one declared."""
        login = login_key(self.plan, self)
        built = declare_nodes(self.plan, login, self)
        outputs, last = self._stages_after_nodes(built, login)
        if self.plan.snapshots.names:
            LabSnapshots("snapshots", self.plan.snapshots, built.identities, last or list(built.nodes.values()),
                         pulumi.ResourceOptions(parent=self))
        return outputs

    def _stages_after_nodes(self, built: NodesStage, login: LoginKey) -> tuple[LabOutputs, list[pulumi.Resource]]:
        """Every stage after nodes: the outputs, and the resources of the last stage declared ([]: nodes)."""
        plan = self.plan
        outputs = LabOutputs(
            nodes={node.name: node.management_ip for node in plan.nodes},
            ssh_commands={node.name: plan.ssh_command(node) for node in plan.nodes},
            known_hosts=built.known_hosts,
            ssh_private_key=pulumi.Output.secret(login.private) if login.generated else None,
        )
        if not plan.runs("prep"):
            return outputs, []
        connections = {
            node.name: NodeConnection(node.management_ip, login.private, built.host_keys[node.name])
            for node in plan.nodes
        }
        preps = declare_prep(plan, built, connections, self)
        if not plan.runs("answers"):
            return outputs, list(preps.values())
        packstack = declare_packstack(plan, built, preps, connections, self)
        outputs = dataclasses.replace(
            outputs,
            admin_password=pulumi.Output.secret(packstack.admin_password),
            horizon_url=plan.horizon_url,
            keystone_url=plan.keystone_url,
        )
        if packstack.keystone is None:
            return outputs, [packstack]
        auth = packstack.keystone.auth
        outputs = dataclasses.replace(outputs, clouds_yaml=self._clouds_yaml(auth))
        if not plan.runs("networking"):
            return outputs, [packstack]
        networking = self._networking(auth, packstack.keystone)
        outputs = self._with_networking(outputs, networking)
        if plan.demo is None:
            return outputs, [networking]
        demo, demo_outputs = self._demo(plan.demo, networking, plan.demo.public_key or login.public)
        return dataclasses.replace(outputs, **demo_outputs), [demo]

    # -- shared ---------------------------------------------------------------------
    def _networking(self, auth: CloudAuth, ready: pulumi.Resource) -> OpenStackNetworking:
        """Stage networking."""
        return OpenStackNetworking(
            "networking",
            OpenStackNetworkingArgs(auth=auth, plan=self.plan.networking),
            pulumi.ResourceOptions(parent=self, depends_on=[ready]),
        )

    @staticmethod
    def _with_networking(outputs: LabOutputs, networking: OpenStackNetworking) -> LabOutputs:
        """The outputs with the networking stage's IDs."""
        return dataclasses.replace(
            outputs,
            external_network_id=networking.external_network_id,
            public_subnet_id=networking.public_subnet_id,
            router_id=networking.router_id,
            private_network_id=networking.private_network_id,
        )

    def _demo(self, demo: DemoPlan, networking: OpenStackNetworking,
              public_key: pulumi.Input[str]) -> tuple[DemoCloud, dict[str, Any]]:
        """Stage demo on the networking stage's provider (its keypair takes public_key); its commands (and server
        address) as LabOutputs fields."""
        cloud = DemoCloud(
            "demo",
            DemoCloudArgs(
                plan=demo,
                public_key=public_key,
                private_network_id=networking.private_network_id,
                network_ready=(networking.private_subnet, networking.router_interface),
            ),
            networking.provider,
            pulumi.ResourceOptions(parent=self),
        )
        return cloud, {
            "demo_server_create": cloud.server_create,
            "demo_floating_ip_commands": cloud.floating_ip_commands,
            "demo_server_ip": cloud.server_ip,
        }

    def _clouds_yaml(self, auth: CloudAuth) -> pulumi.Output[str]:
        cloud_name = self.plan.networking.names.cloud
        rendered = pulumi.Output.all(auth.auth_url, auth.region, auth.password).apply(
            lambda v: clouds_yaml(
                cloud_name, v[0], v[1], auth.username, v[2], auth.project_name,
                auth.user_domain_name, auth.project_domain_name,
            )
        )
        return pulumi.Output.secret(rendered)

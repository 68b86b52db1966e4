"""`OpenStackLab`: the whole lab of one stack, stage by stage, from its plan.

nodes (LabNetwork, LabStorage, a LabNode per node) -> prep (HostPrep per node, in
parallel) -> answers / packstack (Packstack on the controller, after every node's
prep) -> networking (OpenStackNetworking, after KeystoneReady) -> demo (DemoCloud:
image, flavors, keypair, security group; optionally a server). `stopAfter` ends
the chain early. With `cloud.authUrl` configured, only networking and demo are
declared, on that existing cloud.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional

import pulumi
import pulumi_libvirt as libvirt
import yaml

from components.demo_cloud import DemoCloud, DemoCloudArgs
from components.host_prep import HostPrep, HostPrepArgs
from components.lab_network import LabNetwork, LabNetworkArgs
from components.lab_node import LabNode, LabNodeArgs
from components.lab_storage import LabStorage
from components.openstack_networking import OpenStackNetworking, OpenStackNetworkingArgs
from components.packstack import KEYSTONE_PORT, Packstack, PackstackArgs
from components.remote import NodeConnection
from lab.answers import PHYSNET, cloud_flavors, lab_answers
from lab.cloudinit import hosts_file
from lab.plan import LabPlan
from providers.host_key_scan import HostKeyScan, HostKeyScanArgs
from providers.keystone_ready import CloudAuth, KeystoneReady
from providers.ssh_keypair import SshKeyPair

TYPE = "openstack-lab:lab:OpenStackLab"


def clouds_yaml(cloud_name: str, auth_url: str, region: str, username: str, password: str,
                project: str = "admin", user_domain: str = "Default", project_domain: str = "Default") -> str:
    document = {
        "clouds": {
            cloud_name: {
                "auth": {
                    "auth_url": auth_url,
                    "username": username,
                    "password": password,
                    "project_name": project,
                    "user_domain_name": user_domain,
                    "project_domain_name": project_domain,
                },
                "region_name": region,
                "identity_api_version": 3,
            }
        }
    }
    return yaml.safe_dump(document, sort_keys=False)


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


@dataclass(frozen=True)
class LoginKey:
    """Root login key of every node: the configured pair, or one the lab generates."""

    public: pulumi.Output[str]
    private: pulumi.Output[str]  # secret
    generated: bool


@dataclass(frozen=True)
class NodesStage:
    networks: dict[int, LabNetwork]  # host index -> the host's two networks (none in bridge mode)
    storages: dict[int, LabStorage]  # host index -> the host's pool and base volume
    nodes: dict[str, LabNode]  # the nodes the lab creates
    host_keys: dict[str, pulumi.Output[str]]  # every node, existing machines included: the pinned host key
    identities: dict[str, pulumi.Input[str]]  # every node: a new value re-runs its prep (a lab node's domain ID)
    known_hosts: pulumi.Output[str]


class OpenStackLab(pulumi.ComponentResource):
    """Build the lab; `outputs` holds what the stack exports."""

    def __init__(self, name: str, plan: LabPlan, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(TYPE, name, None, opts)
        self.plan = plan
        self.outputs = self._existing_cloud() if plan.config.existing_cloud else self._lab()
        self.register_outputs(self.outputs.as_dict())

    # -- existing cloud ---------------------------------------------------------------
    def _existing_cloud(self) -> LabOutputs:
        cloud = self.plan.config.cloud
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
            "keystone-ready", given, timeout_seconds=self.plan.config.keystone_timeout,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Networking waits for Keystone: its provider takes the URL and region KeystoneReady returns.
        auth = ready.auth
        networking = self._networking(auth, ready)
        outputs = LabOutputs(
            keystone_url=ready.auth_url,
            admin_password=password,
            clouds_yaml=self._clouds_yaml(auth),
            **self._networking_outputs(networking),
        )
        if not self.plan.config.runs("demo"):
            return outputs
        # No lab login key here: the demo keypair is demo.publicKey or a generated pair (exported).
        login = self._login_key() if self.plan.config.demo.public_key is None else None
        outputs = dataclasses.replace(
            outputs, ssh_private_key=pulumi.Output.secret(login.private) if login is not None else None
        )
        return dataclasses.replace(
            outputs, **self._demo(networking, login.public if login else None, frozenset(), "private")
        )

    # -- lab on libvirt ---------------------------------------------------------------
    def _lab(self) -> LabOutputs:
        cfg, plan = self.plan.config, self.plan
        login = self._login_key()
        built = self._nodes(login)
        outputs = LabOutputs(
            nodes={node.name: node.management_ip for node in plan.nodes},
            ssh_commands={node.name: plan.ssh_command(node) for node in plan.nodes},
            known_hosts=built.known_hosts,
            ssh_private_key=pulumi.Output.secret(login.private) if login.generated else None,
        )
        if not cfg.runs("prep"):
            return outputs
        connections = {
            node.name: NodeConnection(node.management_ip, login.private, built.host_keys[node.name])
            for node in plan.nodes
        }
        preps = self._prep(built, connections)
        if not cfg.runs("answers"):
            return outputs
        packstack = self._packstack(built, preps, connections)
        controller_ip = plan.controller.management_ip
        outputs = dataclasses.replace(
            outputs,
            admin_password=pulumi.Output.secret(packstack.admin_password),
            horizon_url=f"http://{controller_ip}/dashboard",
            keystone_url=f"http://{controller_ip}:{KEYSTONE_PORT}/v3",
        )
        if packstack.keystone is None:
            return outputs
        auth = packstack.keystone.auth
        outputs = dataclasses.replace(outputs, clouds_yaml=self._clouds_yaml(auth))
        if not cfg.runs("networking"):
            return outputs
        networking = self._networking(auth, packstack.keystone)
        outputs = dataclasses.replace(outputs, **self._networking_outputs(networking))
        if not cfg.runs("demo"):
            return outputs
        return dataclasses.replace(
            outputs, **self._demo(networking, login.public, cloud_flavors(lab_answers(cfg)), "public")
        )

    def _login_key(self) -> LoginKey:
        cfg = self.plan.config
        if cfg.ssh_public_key and cfg.ssh_private_key:
            return LoginKey(
                pulumi.Output.from_input(cfg.ssh_public_key), pulumi.Output.secret(cfg.ssh_private_key.value), False
            )
        key = SshKeyPair("login-key", comment=f"{self.plan.prefix} login", opts=pulumi.ResourceOptions(parent=self))
        return LoginKey(key.public_key, key.private_key, True)

    def _nodes(self, login: LoginKey) -> NodesStage:
        """Stage nodes: on every host its two networks (NAT mode), its storage and one VM per node it carries;
        the existing machines' pinned (or first-contact) host keys."""
        plan = self.plan
        networks, storages, on_host = {}, {}, {}
        for k, host in enumerate(plan.hosts):
            # The first host keeps a one-host lab's names, so an existing stack previews no change.
            provider = libvirt.Provider(f"libvirt{host.suffix}", uri=host.uri, opts=pulumi.ResourceOptions(parent=self))
            on_host[k] = pulumi.ResourceOptions(parent=self, providers=[provider])
            if not plan.bridged:  # bridge mode: the nodes' NICs are ports of the hosts' own bridges
                networks[k] = LabNetwork(f"network{host.suffix}",
                                         LabNetworkArgs(plan.management, plan.external, plan.dns_domain), on_host[k])
            storages[k] = LabStorage(f"storage{host.suffix}", host.storage, on_host[k])
        nodes: dict[str, LabNode] = {}
        for node in plan.lab_nodes:
            # First-boot /etc/hosts: the node and the controller, which never change for an
            # existing node; the full list follows through HostPrep's hosts command.
            first_boot_hosts = tuple(dict.fromkeys([plan.controller.host_entry, node.host_entry]))
            nodes[node.name] = LabNode(
                node.name,
                LabNodeArgs(
                    node=node,
                    hypervisor=plan.config.hypervisor,
                    pool=storages[node.host].pool,
                    base_volume_id=storages[node.host].base_volume_id,
                    management_network_id=None if plan.bridged else networks[node.host].management_network_id,
                    external_network_id=None if plan.bridged else networks[node.host].external_network_id,
                    authorized_key=login.public,
                    hosts=first_boot_hosts,
                    boot=plan.config.boot,
                    management_bridge=plan.management.bridge if plan.bridged else None,
                    external_bridge=plan.external.bridge if plan.bridged else None,
                ),
                on_host[node.host],
            )
        host_keys = {name: lab_node.host_public_key for name, lab_node in nodes.items()}
        identities: dict[str, pulumi.Input[str]] = {name: lab_node.domain_id for name, lab_node in nodes.items()}
        for node in plan.nodes:
            machine = node.existing
            if machine is None:
                continue
            if machine.host_key:
                host_keys[node.name] = pulumi.Output.from_input(machine.host_key)
            else:
                host_keys[node.name] = HostKeyScan(
                    f"{node.name}-host-key",
                    HostKeyScanArgs(subject=node.name, host=machine.address, timeout_seconds=plan.config.boot_timeout),
                    opts=pulumi.ResourceOptions(parent=self),
                ).host_key
            identities[node.name] = f"existing-{node.name}-{machine.address}"
        entries = plan.host_entries
        known_hosts = pulumi.Output.all(*[host_keys[node.name] for node in plan.nodes]).apply(
            lambda keys: "".join(
                f"{e.ip},{e.fqdn},{e.short} {' '.join(key.split()[:2])}\n" for e, key in zip(entries, keys)
            )
        )
        return NodesStage(networks, storages, nodes, host_keys, identities, known_hosts)

    def _prep(self, built: NodesStage, connections: dict[str, NodeConnection]) -> dict[str, HostPrep]:
        """Stage prep: one HostPrep per node, in parallel; the computes trust the controller's root key."""
        cfg, plan = self.plan.config, self.plan
        hosts = hosts_file(list(plan.host_entries))
        preps: dict[str, HostPrep] = {}
        controller_key = None
        for node in plan.nodes:  # controller first: the others trust its root key
            preps[node.name] = HostPrep(
                f"{node.name}-prep",
                HostPrepArgs(
                    node=node,
                    connection=connections[node.name],
                    domain_id=built.identities[node.name],
                    profile=cfg.prep_profile,
                    os_flavor=cfg.os_flavor,
                    openstack_release=cfg.openstack_release,
                    package_update=cfg.package_update,
                    hosts_file=hosts,
                    known_hosts=built.known_hosts,
                    controller_key=controller_key,
                    rhel=cfg.rhel,
                    boot_timeout=cfg.boot_timeout,
                    libvirt_uri=plan.hosts[node.host].uri,
                    storage=plan.storage_disks if node.role == "controller" else None,
                ),
                pulumi.ResourceOptions(parent=self),
            )
            if controller_key is None:
                controller_key = preps[node.name].root_public_key
        return preps

    def _packstack(
        self, built: NodesStage, preps: dict[str, HostPrep], connections: dict[str, NodeConnection]
    ) -> Packstack:
        """Stages answers and packstack, after every node's prep."""
        cfg, controller = self.plan.config, self.plan.controller
        return Packstack(
            "packstack",
            PackstackArgs(
                controller=connections[controller.name],
                controller_ip=controller.management_ip,
                domain_id=built.identities[controller.name],
                answers=lab_answers(cfg),
                apply=cfg.runs("packstack"),
                keystone_timeout=cfg.keystone_timeout,
                prepared=tuple(preps.values()),
                nodes=tuple((node.name, connections[node.name]) for node in self.plan.nodes),
            ),
            pulumi.ResourceOptions(parent=self),
        )

    # -- shared ---------------------------------------------------------------------
    def _networking(self, auth: CloudAuth, ready: pulumi.Resource) -> OpenStackNetworking:
        """Stage networking."""
        cfg = self.plan.config
        return OpenStackNetworking(
            "networking",
            OpenStackNetworkingArgs(
                auth=auth,
                name_prefix=self.plan.prefix,
                physical_network=PHYSNET,
                external_cidr=cfg.external_cidr,
                external_gateway=cfg.external_gateway,
                pool_start=cfg.external_pool.start,
                pool_end=cfg.external_pool.end,
                private_cidr=cfg.private_cidr,
                dns_servers=cfg.dns_servers,
            ),
            pulumi.ResourceOptions(parent=self, depends_on=[ready]),
        )

    @staticmethod
    def _networking_outputs(networking: OpenStackNetworking) -> dict[str, pulumi.Output[str]]:
        """The networking stage's IDs as LabOutputs fields."""
        return {
            "external_network_id": networking.external_network_id,
            "public_subnet_id": networking.public_subnet_id,
            "router_id": networking.router_id,
            "private_network_id": networking.private_network_id,
        }

    def _demo(self, networking: OpenStackNetworking, login_public: Optional[pulumi.Input[str]],
              existing_flavors: frozenset[str], visibility: str) -> dict[str, Any]:
        """Stage demo on the networking stage's provider; its commands (and server address) as LabOutputs fields."""
        cfg, prefix = self.plan.config, self.plan.prefix
        demo = cfg.demo
        assert demo is not None
        key_file = "<private key of demo.publicKey>" if demo.public_key else f".lab/{cfg.stack}/id_ed25519"
        cloud = DemoCloud(
            "demo",
            DemoCloudArgs(
                name_prefix=prefix,
                settings=demo,
                public_key=demo.public_key or login_public,
                private_network_id=networking.private_network_id,
                private_network_name=f"{prefix}-private",
                external_network_name=f"{prefix}-external",
                network_ready=(networking.private_subnet, networking.router_interface),
                existing_flavors=existing_flavors,
                image_visibility=visibility,
                cloud_name=prefix,
                ssh_key_file=key_file,
            ),
            networking.provider,
            pulumi.ResourceOptions(parent=self),
        )
        return {
            "demo_server_create": cloud.server_create,
            "demo_floating_ip_commands": cloud.floating_ip_commands,
            "demo_server_ip": cloud.server_ip,
        }

    def _clouds_yaml(self, auth: CloudAuth) -> pulumi.Output[str]:
        rendered = pulumi.Output.all(auth.auth_url, auth.region, auth.password).apply(
            lambda v: clouds_yaml(
                self.plan.prefix, v[0], v[1], auth.username, v[2], auth.project_name,
                auth.user_domain_name, auth.project_domain_name,
            )
        )
        return pulumi.Output.secret(rendered)

"""`OpenStackLab`: the whole lab of one stack, stage by stage.

nodes (LabNetwork, LabStorage, a LabNode per node) -> prep (HostPrep per node, in
parallel) -> answers / packstack (Packstack on the controller, after every node's
prep) -> networking (OpenStackNetworking, after KeystoneReady). `stopAfter` ends
the chain early. With `cloud.authUrl` configured, only the networking is declared,
on that existing cloud.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Optional

import pulumi
import pulumi_libvirt as libvirt
import yaml

from components.host_prep import HostPrep, HostPrepArgs
from components.lab_network import LabNetwork, LabNetworkArgs, NetworkSpec
from components.lab_node import LabNode, LabNodeArgs
from components.lab_storage import LabStorage, LabStorageArgs
from components.openstack_networking import CloudAuth, OpenStackNetworking, OpenStackNetworkingArgs
from components.packstack import KEYSTONE_PORT, Packstack, PackstackArgs
from components.remote import NodeConnection
from lab import naming
from lab.answers import PHYSNET, lab_answers
from lab.cloudinit import NodeIdentity, hosts_file
from lab.config import LabConfig
from providers.keystone_ready import KeystoneReady
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


class OpenStackLab(pulumi.ComponentResource):
    """Build the lab; `outputs` holds what the stack exports."""

    def __init__(self, name: str, config: LabConfig, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(TYPE, name, None, opts)
        self.config = config
        self.prefix = naming.resource_prefix(config.project, config.stack)
        self.nodes: dict[str, LabNode] = {}
        self.preps: dict[str, HostPrep] = {}
        self.packstack: Optional[Packstack] = None
        self.networking: Optional[OpenStackNetworking] = None
        self.outputs: dict[str, Any] = {}
        if config.existing_cloud:
            self._existing_cloud()
        else:
            self._build_lab()
        self.register_outputs(self.outputs)

    # -- existing cloud ---------------------------------------------------------------
    def _existing_cloud(self) -> None:
        cloud = self.config.cloud
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
            "keystone-ready",
            **{field.name: getattr(given, field.name) for field in dataclasses.fields(given)},
            timeout_seconds=self.config.keystone_timeout,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Networking waits for Keystone: its provider takes the URL and region KeystoneReady returns.
        auth = dataclasses.replace(given, auth_url=ready.auth_url, region=ready.region)
        self._networking(auth, ready)
        self.outputs["keystoneUrl"] = ready.auth_url
        self.outputs["adminPassword"] = password
        self.outputs["cloudsYaml"] = self._clouds_yaml(auth)

    # -- lab on libvirt ---------------------------------------------------------------
    def _build_lab(self) -> None:
        cfg = self.config
        provider = libvirt.Provider("libvirt", uri=cfg.libvirt_uri, opts=pulumi.ResourceOptions(parent=self))
        on_libvirt = pulumi.ResourceOptions(parent=self, providers=[provider])

        if cfg.ssh_public_key and cfg.ssh_private_key:
            login_public = pulumi.Output.from_input(cfg.ssh_public_key)
            login_private = pulumi.Output.secret(cfg.ssh_private_key.value)
        else:
            login_key = SshKeyPair("login-key", comment=f"{self.prefix} login", opts=pulumi.ResourceOptions(parent=self))
            login_public, login_private = login_key.public_key, login_key.private_key
            self.outputs["sshPrivateKey"] = pulumi.Output.secret(login_private)

        network = LabNetwork(
            "network",
            LabNetworkArgs(
                management=NetworkSpec(
                    naming.libvirt_name(cfg.project, cfg.stack, "management"),
                    naming.bridge_name(cfg.project, cfg.stack, "management"),
                    cfg.management_cidr,
                ),
                external=NetworkSpec(
                    naming.libvirt_name(cfg.project, cfg.stack, "external"),
                    naming.bridge_name(cfg.project, cfg.stack, "external"),
                    cfg.external_cidr,
                ),
                dns_domain=naming.dns_domain(cfg.stack),
            ),
            on_libvirt,
        )
        storage = LabStorage(
            "storage",
            LabStorageArgs(
                pool_name=naming.libvirt_name(cfg.project, cfg.stack, "pool") if cfg.storage_pool_path else cfg.storage_pool,
                pool_path=cfg.storage_pool_path,
                base_volume_name=naming.libvirt_name(cfg.project, cfg.stack, "base") + ".qcow2",
                base_image=cfg.base_image,
            ),
            on_libvirt,
        )

        entries = [(cfg.node_address(n), naming.fqdn(n, cfg.stack), n) for n in cfg.node_names]
        controller_entry = entries[0]
        for node in cfg.node_names:
            identity = NodeIdentity(
                hostname=node,
                fqdn=naming.fqdn(node, cfg.stack),
                management_ip=cfg.node_address(node),
                management_cidr=cfg.management_cidr,
                management_gateway=cfg.management_gateway,
                management_mac=naming.mac_address(cfg.project, cfg.stack, node, 0),
                external_mac=naming.mac_address(cfg.project, cfg.stack, node, 1),
                dns_domain=naming.dns_domain(cfg.stack),
            )
            own_entry = next(e for e in entries if e[2] == node)
            # First-boot /etc/hosts: the node and the controller, which never change for an
            # existing node; the full list follows through HostPrep's hosts command.
            first_boot_hosts = tuple(dict.fromkeys([controller_entry, own_entry]))
            self.nodes[node] = LabNode(
                node,
                LabNodeArgs(
                    identity=identity,
                    resource_name=naming.libvirt_name(cfg.project, cfg.stack, node),
                    size=cfg.size_of(node),
                    hypervisor=cfg.hypervisor,
                    pool=storage.pool,
                    base_volume_id=storage.base_volume_id,
                    management_network_id=network.management_network_id,
                    external_network_id=network.external_network_id,
                    authorized_key=login_public,
                    hosts=first_boot_hosts,
                    boot=cfg.boot,
                ),
                on_libvirt,
            )

        self.outputs["nodes"] = {n: cfg.node_address(n) for n in cfg.node_names}
        known_hosts = pulumi.Output.all(*[self.nodes[n].host_public_key for n in cfg.node_names]).apply(
            lambda keys: "".join(
                f"{ip},{fqdn},{short} {' '.join(key.split()[:2])}\n" for (ip, fqdn, short), key in zip(entries, keys)
            )
        )
        self.outputs["knownHosts"] = known_hosts
        self.outputs["sshCommands"] = {
            n: f"ssh -i .lab/{cfg.stack}/id_ed25519 -o UserKnownHostsFile=.lab/{cfg.stack}/known_hosts root@{cfg.node_address(n)}"
            for n in cfg.node_names
        }
        if not cfg.runs("prep"):
            return

        connections = {
            n: NodeConnection(host=cfg.node_address(n), private_key=login_private, host_key=self.nodes[n].host_public_key)
            for n in cfg.node_names
        }
        hosts = hosts_file(entries)
        controller_key = None
        for node in cfg.node_names:  # controller first: the others trust its root key
            self.preps[node] = HostPrep(
                f"{node}-prep",
                HostPrepArgs(
                    node=node,
                    role="controller" if node == naming.CONTROLLER else "compute",
                    fqdn=naming.fqdn(node, cfg.stack),
                    connection=connections[node],
                    domain_id=self.nodes[node].domain_id,
                    profile=cfg.prep_profile,
                    os_flavor=cfg.os_flavor,
                    openstack_release=cfg.openstack_release,
                    package_update=cfg.package_update,
                    hosts_file=hosts,
                    known_hosts=known_hosts,
                    controller_key=controller_key,
                    rhel=cfg.rhel,
                ),
                pulumi.ResourceOptions(parent=self),
            )
            if controller_key is None:
                controller_key = self.preps[node].root_public_key
        if not cfg.runs("answers"):
            return

        controller = naming.CONTROLLER
        self.packstack = Packstack(
            "packstack",
            PackstackArgs(
                controller=connections[controller],
                controller_ip=cfg.node_address(controller),
                domain_id=self.nodes[controller].domain_id,
                answers=lab_answers(cfg),
                apply=cfg.runs("packstack"),
                keystone_timeout=cfg.keystone_timeout,
                prepared=tuple(self.preps.values()),
                nodes=tuple((n, connections[n]) for n in cfg.node_names),
            ),
            pulumi.ResourceOptions(parent=self),
        )
        self.outputs["adminPassword"] = pulumi.Output.secret(self.packstack.admin_password)
        controller_ip = cfg.node_address(controller)
        self.outputs["horizonUrl"] = f"http://{controller_ip}/dashboard"
        self.outputs["keystoneUrl"] = f"http://{controller_ip}:{KEYSTONE_PORT}/v3"
        if self.packstack.keystone is None:
            return
        auth = CloudAuth(
            auth_url=self.packstack.keystone.auth_url,
            region=self.packstack.keystone.region,
            username="admin",
            password=self.packstack.admin_password,
        )
        self.outputs["cloudsYaml"] = self._clouds_yaml(auth)
        if cfg.runs("networking"):
            self._networking(auth, self.packstack.keystone)

    # -- shared ---------------------------------------------------------------------
    def _networking(self, auth: CloudAuth, ready: pulumi.Resource) -> None:
        cfg = self.config
        self.networking = OpenStackNetworking(
            "networking",
            OpenStackNetworkingArgs(
                auth=auth,
                name_prefix=self.prefix,
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
        self.outputs.update(
            {
                "externalNetworkId": self.networking.external_network_id,
                "publicSubnetId": self.networking.public_subnet_id,
                "routerId": self.networking.router_id,
                "privateNetworkId": self.networking.private_network_id,
            }
        )

    def _clouds_yaml(self, auth: CloudAuth) -> pulumi.Output[str]:
        rendered = pulumi.Output.all(auth.auth_url, auth.region, auth.password).apply(
            lambda v: clouds_yaml(
                self.prefix, v[0], v[1], auth.username, v[2], auth.project_name,
                auth.user_domain_name, auth.project_domain_name,
            )
        )
        return pulumi.Output.secret(rendered)

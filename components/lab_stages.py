"""The libvirt lab's first stages, declared under `OpenStackLab` from its plan: nodes (per host its
provider, networks and storage, a LabNode per node, the existing machines' host keys), prep (a HostPrep
per node) and answers/packstack."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_libvirt as libvirt

from components.host_prep import HostPrep, HostPrepArgs
from components.lab_network import LabNetwork, LabNetworkArgs
from components.lab_node import LabNode, LabNodeArgs
from components.lab_storage import LabStorage
from components.packstack import Packstack, PackstackArgs
from components.remote import NodeConnection
from lab.client_files import known_hosts
from lab.cloudinit import hosts_file
from lab.plan import LabPlan
from providers.host_key_scan import HostKeyScan, HostKeyScanArgs
from providers.ssh_keypair import SshKeyPair


@dataclass(frozen=True)
class LoginKey:
    """Root login key of every node: the configured pair, or one the lab generates."""

    public: pulumi.Output[str]
    private: pulumi.Output[str]  # secret
    generated: bool


def login_key(plan: LabPlan, parent: pulumi.Resource) -> LoginKey:
    login = plan.login
    if login.configured:
        assert login.public_key is not None and login.private_key is not None
        return LoginKey(
            pulumi.Output.from_input(login.public_key), pulumi.Output.secret(login.private_key.value), False
        )
    key = SshKeyPair("login-key", comment=login.comment, opts=pulumi.ResourceOptions(parent=parent))
    return LoginKey(key.public_key, key.private_key, True)


@dataclass(frozen=True)
class NodesStage:
    networks: dict[int, LabNetwork]  # host index -> the host's two networks (none in bridge mode)
    storages: dict[int, LabStorage]  # host index -> the host's pool and base volume
    nodes: dict[str, LabNode]  # the nodes the lab creates
    host_keys: dict[str, pulumi.Output[str]]  # every node, existing machines included: the pinned host key
    identities: dict[str, pulumi.Input[str]]  # every node: a new value re-runs its prep (a lab node's domain ID)
    known_hosts: pulumi.Output[str]


def declare_nodes(plan: LabPlan, login: LoginKey, parent: pulumi.Resource) -> NodesStage:
    """Stage nodes: on every host its two networks (NAT mode), its storage and one VM per node it carries;
    the existing machines' pinned (or first-contact) host keys."""
    networks, storages, on_host = {}, {}, {}
    for k, host in enumerate(plan.hosts):
        # The first host keeps a one-host lab's names, so an existing stack previews no change.
        provider = libvirt.Provider(f"libvirt{host.suffix}", uri=host.uri, opts=pulumi.ResourceOptions(parent=parent))
        on_host[k] = pulumi.ResourceOptions(parent=parent, providers=[provider])
        if not plan.bridged:  # bridge mode: the nodes' NICs are ports of the hosts' own bridges
            networks[k] = LabNetwork(f"network{host.suffix}",
                                     LabNetworkArgs(plan.management, plan.external, plan.dns_domain), on_host[k])
        storages[k] = LabStorage(f"storage{host.suffix}", host.storage, on_host[k])
    nodes: dict[str, LabNode] = {}
    for node in plan.lab_nodes:
        assert node.host is not None  # a node the lab creates sits on a host
        # First-boot /etc/hosts: the node and the controller, which never change for an
        # existing node; the full list follows through HostPrep's hosts command.
        first_boot_hosts = tuple(dict.fromkeys([plan.controller.host_entry, node.host_entry]))
        nodes[node.name] = LabNode(
            node.name,
            LabNodeArgs(
                node=node,
                hypervisor=plan.hypervisor,
                pool=storages[node.host].pool,
                base_volume_id=storages[node.host].base_volume_id,
                management_network_id=None if plan.bridged else networks[node.host].management_network_id,
                external_network_id=None if plan.bridged else networks[node.host].external_network_id,
                authorized_key=login.public,
                hosts=first_boot_hosts,
                boot=plan.boot,
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
                HostKeyScanArgs(subject=node.name, host=machine.address, timeout_seconds=plan.prep.boot_timeout),
                opts=pulumi.ResourceOptions(parent=parent),
            ).host_key
        identities[node.name] = f"existing-{node.name}-{machine.address}"
    entries = plan.host_entries
    rendered = pulumi.Output.all(*[host_keys[node.name] for node in plan.nodes]).apply(
        lambda keys: known_hosts(entries, keys)
    )
    return NodesStage(networks, storages, nodes, host_keys, identities, rendered)


def declare_prep(plan: LabPlan, built: NodesStage, connections: dict[str, NodeConnection],
                 parent: pulumi.Resource) -> dict[str, HostPrep]:
    """Stage prep: one HostPrep per node, in parallel; the computes trust the controller's root key."""
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
                prep=plan.prep,
                hosts_file=hosts,
                known_hosts=built.known_hosts,
                controller_key=controller_key,
                storage=plan.storage_disks if node.role == "controller" else None,
            ),
            pulumi.ResourceOptions(parent=parent),
        )
        if controller_key is None:
            controller_key = preps[node.name].root_public_key
    return preps


def declare_packstack(plan: LabPlan, built: NodesStage, preps: dict[str, HostPrep],
                      connections: dict[str, NodeConnection], parent: pulumi.Resource) -> Packstack:
    """Stages answers and packstack, after every node's prep."""
    controller = plan.controller
    return Packstack(
        "packstack",
        PackstackArgs(
            controller=connections[controller.name],
            keystone_url=plan.keystone_url,
            domain_id=built.identities[controller.name],
            answers=dict(plan.answers),
            apply=plan.runs("packstack"),
            keystone_timeout=plan.keystone_timeout,
            prepared=tuple(preps.values()),
            nodes=tuple((node.name, connections[node.name]) for node in plan.nodes),
        ),
        pulumi.ResourceOptions(parent=parent),
    )

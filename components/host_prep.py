"""`HostPrep`: the remote commands that prepare one node for Packstack.

Order on a node: SSH answers (SshReady, bounded by bootTimeout) -> cloud-init finished
(wait-for-boot.sh, bounded by bootTimeout)
-> [package-sources.sh: packageSources rendered by lab/package_sources.py, dnf's or apt's by the profile (and RHEL's
rhsm.conf proxy), on stdin, a secret when it holds the proxy password; the prep then gets LAB_REPOS_ONLY with mirrors]
-> [RHEL subscription]
-> prep script of the profile [-> storage-lvm.sh on the node with Cinder's/Swift's data disks];
the external NIC's check, /etc/hosts and root SSH trust from the controller run beside it. Every command
is triggered by the node's domain ID, so a re-created VM is prepared again while a no-change `pulumi up`
re-runs nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi

from components.remote import BOOT_DIAL_ERROR_LIMIT, NodeConnection, run_script
from lab.cloudinit import EXTERNAL_NIC_PROFILE, external_nic_keyfile
from lab.libvirt_ssh import console_command
from lab.node_plan import NodePlan
from lab.package_sources import apt_input, el9_input, lab_repo_ids
from lab.packstack_facts import CINDER_VOLUME_GROUP, EXTERNAL_NIC, StorageDisks
from lab.plan import PrepPlan
from providers.ssh_ready import SshReady, SshReadyArgs

TYPE = "openstack-lab:lab:HostPrep"


@dataclass(frozen=True)
class HostPrepArgs:
    node: NodePlan
    connection: NodeConnection
    domain_id: pulumi.Input[str]
    prep: PrepPlan  # profile, OS flavor and release, package update, RHEL subscription, boot timeout
    hosts_file: str  # /etc/hosts of the whole node set
    known_hosts: pulumi.Input[str]  # known_hosts lines of the whole node set
    # The controller's root public key; None on the controller, which makes its own.
    controller_key: Optional[pulumi.Input[str]] = None
    # Cinder's and Swift's data disks on this node (the controller); None or empty: none to prepare.
    storage: Optional[StorageDisks] = None


def storage_environment(storage: StorageDisks) -> dict[str, str]:
    """scripts/storage-lvm.sh's inputs: the Cinder disk to make the volume group on, the Swift disk to check."""
    env = {}
    if storage.cinder:
        env.update({"LAB_CINDER_DEVICE": storage.cinder.device, "LAB_CINDER_SIZE_GIB": str(storage.cinder.size_gib),
                    "LAB_CINDER_VG": CINDER_VOLUME_GROUP})
    if storage.swift:
        env.update({"LAB_SWIFT_DEVICE": storage.swift.device, "LAB_SWIFT_SIZE_GIB": str(storage.swift.size_gib)})
    return env


class HostPrep(pulumi.ComponentResource):
    ready: pulumi.Output[str]
    root_public_key: Optional[pulumi.Output[str]]

    def __init__(self, name: str, args: HostPrepArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(TYPE, name, None, opts)
        conn, prep = args.connection, args.prep
        triggers = [args.domain_id]

        def after(*deps: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, depends_on=list(deps))

        existing = args.node.existing is not None
        if existing:
            hint = ("It is an existing machine (existingComputes): check that it is up, reachable from here and "
                    "that its sshd listens")
        else:
            uri = args.node.libvirt_uri or "qemu:///system"  # a lab node always has its host's URI
            hint = (f"Watch its boot with `{console_command(uri, args.node.libvirt_name)}`; "
                    f"QEMU's own log is /var/log/libvirt/qemu/{args.node.libvirt_name}.log")
        # A wall-clock bound on the boot, with an error that names the node and its console.
        self.ssh_ready = SshReady(
            f"{name}-ssh-ready",
            SshReadyArgs(
                subject=args.node.name,
                host=conn.host,
                identity=args.domain_id,
                timeout_seconds=prep.boot_timeout,
                timeout_setting="bootTimeout",
                hint=hint,
            ),
            opts=after(),
        )
        self.wait = run_script(
            f"{name}-wait",
            "wait-for-boot.sh",
            conn,
            after(self.ssh_ready),
            environment={"LAB_BOOT_TIMEOUT": str(prep.boot_timeout)},
            triggers=triggers,
            dial_error_limit=BOOT_DIAL_ERROR_LIMIT,
        )
        self.joined = None
        if existing:
            # Its sshd learns to accept LAB_* (cloud-init does that on the lab's own nodes); nothing of
            # the machine is removed on destroy, and the delete script says so then.
            self.joined = run_script(
                f"{name}-joined",
                "existing-machine-joined.sh",
                conn,
                after(self.wait),
                environment={"LAB_NODE": args.node.name},
                delete_script="existing-machine-left.sh",
                triggers=triggers,
            )
        booted = self.joined or self.wait  # what every later command of the node waits for
        before_prep: list[pulumi.Resource] = [booted]
        self.package_sources = None
        sources = prep.package_sources
        prep_env = {
            "LAB_FQDN": args.node.fqdn,
            "LAB_ROLE": args.node.role,
            "LAB_OS_FLAVOR": prep.os_flavor,
            "LAB_RELEASE": prep.openstack_release,
            "LAB_PACKAGE_UPDATE": "true" if prep.package_update else "false",
        }
        if sources is not None:
            # The proxy password is inside the rendered data: stdin as a secret, output not logged. Before the
            # RHEL subscription: subscription-manager registers through the proxy of rhsm.conf written here.
            rendered = el9_input(sources) if prep.profile.package_manager == "dnf" else apt_input(sources)
            self.package_sources = run_script(
                f"{name}-package-sources", "package-sources.sh", conn, after(booted),
                stdin=pulumi.Output.secret(rendered) if sources.secret else rendered,
                triggers=triggers, secret_io=sources.secret,
            )
            before_prep.append(self.package_sources)
            if sources.sources.mirrors is not None:
                prep_env["LAB_REPOS_ONLY"] = " ".join(lab_repo_ids(sources))
                prep_env["LAB_RELEASE_PACKAGE"] = "true" if sources.sources.gpg_keys == "release-package" else "false"
        # An existing machine keeps the subscription it has (unregistering it on destroy would change it).
        if prep.os_flavor == "rhel" and prep.rhel is not None and not existing:
            self.subscription = run_script(
                f"{name}-subscription",
                "rhel-register.sh",
                conn,
                after(*before_prep),
                environment={
                    "LAB_RHSM_USERNAME": prep.rhel.username,
                    "LAB_RHSM_PASSWORD": pulumi.Output.secret(prep.rhel.password.value),
                },
                delete_script="rhel-unregister.sh",
                triggers=triggers,
                secret_io=True,
            )
            before_prep.append(self.subscription)
        self.prep = run_script(
            f"{name}-prep",
            prep.profile.script,
            conn,
            after(*before_prep),
            environment=prep_env,
            triggers=triggers,
        )
        # Every profile, the Debian test guest's included: eth1 up with no address, whatever renderer.
        self.external_nic = run_script(
            f"{name}-external-nic",
            "external-nic.sh",
            conn,
            after(booted),
            environment={
                "LAB_NIC": EXTERNAL_NIC,
                "LAB_NIC_PROFILE": EXTERNAL_NIC_PROFILE,
                # cloud-init wrote the profile on the lab's nodes; an existing machine gets it here.
                **({"LAB_NIC_KEYFILE": external_nic_keyfile(interface=EXTERNAL_NIC)} if existing else {}),
            },
            triggers=triggers,
        )
        self.hosts = run_script(
            f"{name}-hosts", "sync-hosts.sh", conn, after(booted), stdin=args.hosts_file, triggers=triggers
        )
        self.storage = None
        if args.storage is not None and (args.storage.cinder or args.storage.swift):
            # After the prep script (which adds the repositories lvm2 may come from).
            self.storage = run_script(
                f"{name}-storage",
                "storage-lvm.sh",
                conn,
                after(self.prep),
                environment=storage_environment(args.storage),
                triggers=triggers,
            )
        self.root_key = None
        self.root_public_key = None
        controller_key = args.controller_key
        if controller_key is None:
            self.root_key = run_script(
                f"{name}-root-key", "controller-root-key.sh", conn, after(self.prep), triggers=triggers
            )
            self.root_public_key = controller_key = self.root_key.stdout.apply(lambda out: out.strip())
        self.trust = run_script(
            f"{name}-trust",
            "trust-controller-key.sh",
            conn,
            after(self.prep),
            environment={"LAB_CONTROLLER_KEY": controller_key},
            stdin=args.known_hosts,
            triggers=triggers,
        )
        self.ready = pulumi.Output.all(
            self.prep.stdout, self.external_nic.stdout, self.hosts.stdout, self.trust.stdout,
            *([self.storage.stdout] if self.storage is not None else []),
        ).apply(
            lambda _: args.node.name
        )
        self.register_outputs({"ready": self.ready})

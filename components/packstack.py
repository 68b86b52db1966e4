"""`Packstack`: answers, answer file and the Packstack run on the controller.

The answers are a `PackstackAnswers` resource (per-key diff, stable generated
passwords). The answer file is generated on the controller and edited with the
lab's answers; Packstack runs only when the answers (node set included) change, always on
every server (a scale-out too: see providers/packstack_answers.py); after each run every
compute is checked to be mapped into Nova's cell.
Every node then proves that br-ex has the external NIC as its port, and `KeystoneReady`
waits until Keystone issues a token.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi

from components.remote import NodeConnection, run_script
from lab.packstack_facts import EXTERNAL_BRIDGE, EXTERNAL_NIC
from providers.keystone_ready import CloudAuth, KeystoneReady
from providers.packstack_answers import PackstackAnswers

TYPE = "openstack-lab:lab:Packstack"
ANSWER_DIR = "/root/openstack-lab"


@dataclass(frozen=True)
class PackstackArgs:
    controller: NodeConnection
    keystone_url: str  # where KeystoneReady asks for a token after the run
    domain_id: pulumi.Input[str]
    answers: dict[str, str]
    apply: bool  # False: stop after the answer file (stopAfter: answers)
    keystone_timeout: int
    # Every node's host prep: the answer file needs Packstack installed, the run needs root trust.
    prepared: tuple[pulumi.Resource, ...] = ()
    # Every node (name, connection), controller included: each checks its br-ex after the run.
    nodes: tuple[tuple[str, NodeConnection], ...] = ()


class Packstack(pulumi.ComponentResource):
    admin_password: pulumi.Output[str]
    keystone_url: Optional[pulumi.Output[str]]
    region: Optional[pulumi.Output[str]]

    def __init__(self, name: str, args: PackstackArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        env = {"LAB_ANSWER_DIR": ANSWER_DIR}
        self.answers = PackstackAnswers(f"{name}-answers", answers=args.answers, opts=child)
        self.answer_file = run_script(
            f"{name}-answer-file",
            "packstack-answers.sh",
            args.controller,
            pulumi.ResourceOptions(parent=self, depends_on=list(args.prepared)),
            environment=env,
            stdin=self.answers.answer_file,
            triggers=[args.domain_id],
            secret_io=True,
        )
        self.admin_password = self.answers.admin_password
        self.apply = self.keystone = self.discover_hosts = None
        self.bridge_checks: list[pulumi.Resource] = []
        self.keystone_url = self.region = None
        if args.apply:
            self.apply = run_script(
                f"{name}-apply",
                "packstack-apply.sh",
                args.controller,
                pulumi.ResourceOptions(parent=self, depends_on=[self.answer_file, *args.prepared]),
                environment=env,
                # Re-run Packstack exactly when the answers (node set included) change.
                triggers=[args.domain_id, self.answers.answer_file_sha256],
            )
            # Packstack maps new computes into Nova's cell once, from the controller's post manifest
            # (packstack/puppet/templates/controller_post.pp:10-12, stable/2025.1). This step makes sure
            # every compute is mapped (a nova-compute registering after that moment would not be), per run.
            self.discover_hosts = run_script(
                f"{name}-discover-hosts",
                "packstack-discover-hosts.sh",
                args.controller,
                pulumi.ResourceOptions(parent=self, depends_on=[self.apply]),
                environment={"LAB_COMPUTE_HOSTS": args.answers["CONFIG_COMPUTE_HOSTS"]},
                triggers=[args.domain_id, self.answers.answer_file_sha256],
            )
            self.bridge_checks = [
                run_script(
                    f"{name}-bridge-{node}",
                    "verify-external-bridge.sh",
                    connection,
                    pulumi.ResourceOptions(parent=self, depends_on=[self.apply]),
                    environment={"LAB_BRIDGE": EXTERNAL_BRIDGE, "LAB_NIC": EXTERNAL_NIC},
                    triggers=[args.domain_id, self.answers.answer_file_sha256],
                )
                for node, connection in args.nodes
            ]
            self.keystone = KeystoneReady(
                f"{name}-keystone-ready",
                CloudAuth(
                    auth_url=args.keystone_url,
                    username="admin",
                    password=self.answers.admin_password,
                ),
                timeout_seconds=args.keystone_timeout,
                # the cloud is ready once its computes take instances too
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.apply, self.discover_hosts]),
            )
            self.keystone_url = self.keystone.auth_url
            self.region = self.keystone.region
        self.register_outputs({"admin_password": self.admin_password, "keystone_url": self.keystone_url})

"""The stack `make verify` checks, read through the Pulumi CLI of the toolchain (`source toolchain/env.sh`):
its config (with its secrets, parsed and planned as the program does), its outputs, and the two secret outputs
it needs — `cloudsYaml` and, when the lab generated it, `sshPrivateKey` — all read from the CLI's stdout into
memory (never argv, never printed: the printer redacts each; a failing command's stdout is never shown)."""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

import yaml

from components.demo_cloud import login_user
from lab import naming
from lab.config import ConfigError, LabConfig, parse, read_overlay
from lab.plan import LabPlan, plan
from tools.verify.expectations import BootKit, Expectations

Run = Callable[..., subprocess.CompletedProcess]


class StackError(Exception):
    """The stack cannot be read; the message says what to do."""


@dataclass(frozen=True)
class StackFacts:
    config: LabConfig
    plan: LabPlan
    outputs: Mapping[str, Any]  # non-secret outputs; secret ones read "[secret]"
    clouds_yaml: str = field(repr=False)
    private_key: Optional[str] = field(default=None, repr=False)  # the demo key, when the stack holds it
    config_secrets: tuple[str, ...] = field(default=(), repr=False)  # the values of the config's secrets

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret the run holds besides the clouds.yaml password: never to be shown."""
        return tuple(s for s in (self.private_key, *self.config_secrets) if s)


class StackReader:
    def __init__(self, stack: str, cwd: Path, run: Run = subprocess.run) -> None:
        self.stack, self.cwd, self._run = stack, cwd, run

    def _pulumi(self, *args: str) -> str:
        argv = ["pulumi", "--non-interactive", *args, "--stack", self.stack]
        try:
            proc = self._run(argv, cwd=self.cwd, capture_output=True, text=True, timeout=120,
                             stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise StackError("pulumi not found: run `source toolchain/env.sh` (make verify does)") from None
        if proc.returncode != 0:
            last = (proc.stderr or "").strip().splitlines()[-3:]
            raise StackError(f"`pulumi {' '.join(args)} --stack {self.stack}` failed: {' '.join(last)}")
        return proc.stdout

    def project(self) -> str:
        try:
            return str(yaml.safe_load((self.cwd / "Pulumi.yaml").read_text())["name"])
        except (OSError, KeyError, TypeError, yaml.YAMLError) as err:
            raise StackError(f"cannot read the project name from {self.cwd / 'Pulumi.yaml'}: {err}") from None

    def config(self) -> tuple[LabConfig, tuple[str, ...]]:
        """The stack's config parsed as the program parses it (secret values included: the config rules check
        them), and those secret values, for redaction."""
        project = self.project()
        entries = json.loads(self._pulumi("config", "--json", "--show-secrets"))
        raw: dict[str, Any] = {}
        secret_keys, secret_values = set(), []
        for key, entry in entries.items():
            if not key.startswith(f"{project}:"):
                continue
            name = key.split(":", 1)[1]
            raw[name] = entry.get("value")
            if entry.get("secret"):
                secret_keys.add(name)
                secret_values.append(str(entry.get("value") or ""))
        try:
            config = parse(raw, project, self.stack, frozenset(secret_keys), overlay=read_overlay(project=project))
        except ConfigError as err:
            raise StackError(f"the stack's config does not parse: {err}") from None
        return config, tuple(v for v in secret_values if v)

    def outputs(self) -> dict[str, Any]:
        return dict(json.loads(self._pulumi("stack", "output", "--json")))

    def secret_output(self, name: str) -> str:
        return str(json.loads(self._pulumi("stack", "output", "--json", "--show-secrets", name)))

    def read(self, key_needed: bool = True) -> StackFacts:
        config, config_secrets = self.config()
        outputs = self.outputs()
        if "cloudsYaml" not in outputs:
            raise StackError(f"stack {self.stack} has no cloudsYaml output yet: run `make up` (stopAfter must "
                             "reach packstack, or networking on an existing cloud)")
        clouds_yaml = self.secret_output("cloudsYaml")
        return StackFacts(config, plan(config), outputs, clouds_yaml,
                          self._demo_key(config, outputs) if key_needed else None, config_secrets)

    def _demo_key(self, config: LabConfig, outputs: Mapping[str, Any]) -> Optional[str]:
        """The private half of the demo keypair when the stack holds it (generated, or the configured login
        pair); None when demo.publicKey is the user's own key."""
        if not config.runs("demo") or config.demo is None or config.demo.public_key:
            return None
        if "sshPrivateKey" in outputs:
            return self.secret_output("sshPrivateKey")
        if config.ssh_private_key is not None:
            return config.ssh_private_key.value
        return None


def expectations(facts: StackFacts) -> Expectations:
    """What the checks expect: a lab's computes and nodes from the `nodes` output, names from the plan."""
    config, lab = facts.config, facts.plan
    names = lab.networking.names
    networking = config.runs("networking")
    boot = None
    if lab.demo is not None:
        settings = lab.demo.settings
        boot = BootKit(image=lab.demo.image_name, flavor=settings.flavors[0].name, keypair=names.keypair,
                       security_group=names.security_group, login_user=login_user(settings.image),
                       ssh_wait_seconds=settings.wait_seconds)
    if config.existing_cloud:
        nodes: tuple[str, ...] = ()
        computes: tuple[str, ...] = ()
        cinder = swift = None
        backend = ""
    else:
        nodes = tuple(facts.outputs.get("nodes") or ())
        # An all-in-one's controller is its compute.
        computes = tuple(n for n in nodes if n != naming.CONTROLLER) or tuple(n for n in nodes
                                                                              if n == naming.CONTROLLER)
        cinder = lab.answers.get("CONFIG_CINDER_INSTALL", "y").lower() == "y"
        swift = lab.answers.get("CONFIG_SWIFT_INSTALL", "y").lower() == "y"
        disk = lab.storage_disks.cinder
        backend = "" if not cinder else (f"LVM group cinder-volumes on the controller's data disk {disk.device}"
                                         if disk is not None else "Packstack's loopback file")
    return Expectations(
        prefix=lab.prefix, existing_cloud=config.existing_cloud, computes=computes, network_nodes=nodes,
        l2_agent=None if config.existing_cloud else config.l2_agent,
        private_network=names.private_network if networking else None,
        external_network=names.external_network if networking else None,
        router=names.router if networking else None,
        boot=boot, cinder=cinder, swift=swift, cinder_backend=backend,
    )

"""The unit tier's harness: the config a test builds (lab_config, config_problems) and the lab program run
under Pulumi mocks, recording what it declares (run_lab).

Besides the mocks' view (type, name, inputs), the monitor's RegisterResource is
wrapped to record what the engine would receive: parent, dependencies,
additional secret outputs and which inputs travel as secrets.
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Optional

import pulumi
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import config as runtime_config

from lab.config import ConfigError, LabConfig, parse

PROJECT = "openstack-lab"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"

# The smallest config the program builds a lab from, and the resource types tests look for.
BASE = {"hypervisor": "qemu", "baseImage": "https://images.example/el9.qcow2"}
COMMAND = "command:remote:Command"
DOMAIN = "libvirt:index/domain:Domain"
DYNAMIC = "pulumi-python:dynamic:Resource"
NETWORK = "libvirt:index/network:Network"

# A lab on two hosts joined by bridges on one LAN (host b reached over qemu+ssh).
HOST_B = "qemu+ssh://root@host-b.example/system"
BRIDGE = {"mode": "bridge", "managementBridge": "br-mgmt", "externalBridge": "br-ext",
          "managementGateway": "10.40.0.1"}
LAN = {"managementCidr": "10.40.0.0/24", "externalCidr": "10.41.0.0/24", "externalGateway": "10.41.0.1"}


def login_pair() -> dict[str, str]:
    """sshPublicKey and sshPrivateKey of a new ed25519 key (the login existing machines need)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    return {"sshPublicKey": public, "sshPrivateKey": private}

# Host a (this machine) and host b, each with computes; b keeps its own storage pool. phys1: an existing machine.
HOSTS = [{"name": "a", "uri": "qemu:///system", "computes": 1},
         {"name": "b", "uri": HOST_B, "computes": 2, "storagePoolPath": "/srv/lab-pool"}]
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyOfPhys1ForTheTestOnlyxxxxxxxxxxxxxx"
LOGIN = login_pair()
TWO_HOSTS = {"hosts": HOSTS, "network": BRIDGE, **LAN}
WITH_EXISTING = {**TWO_HOSTS, **LOGIN, "existingComputes": [{"name": "phys1", "address": "10.40.0.200",
                                                            "hostKey": HOST_KEY + " root@phys1"}]}

# An existing cloud instead of a lab (its password must be given with secrets=("cloudPassword",)), and the
# OpenStack types stage demo declares.
CLOUD = {"cloud": {"authUrl": "http://127.0.0.1:15000/v3"}, "cloudPassword": "pw"}
IMAGE = "openstack:images/image:Image"
FLAVOR = "openstack:compute/flavor:Flavor"


def lab_config(raw: Optional[Mapping[str, Any]] = None, stack: str = "alice", secrets: Iterable[str] = (),
               exists: Callable[[str], bool] = lambda p: True,
               overlay: Mapping[str, Any] = MappingProxyType({})) -> LabConfig:
    """The config the program reads from `raw` (key -> value as in Pulumi.<stack>.yaml, values or JSON text);
    `secrets`: the keys set with --secret; every local path exists unless `exists` says otherwise."""
    return parse(dict(raw or {}), PROJECT, stack, frozenset(secrets), path_exists=exists, overlay=overlay)


def config_problems(raw: Mapping[str, Any], **options: Any) -> dict[str, str]:
    """key -> message of each problem the config `raw` has (lab_config's options); fails if it has none."""
    with pytest.raises(ConfigError) as info:
        lab_config(raw, **options)
    return {p.key: p.message for p in info.value.problems}

# Outputs the mocked dynamic providers return (the real ones are tested directly).
DYNAMIC_OUTPUTS = {
    "passwords": {"CONFIG_KEYSTONE_ADMIN_PW": "mock-admin-pw"},
    "admin_password": "mock-admin-pw",
    "answer_file": "CONFIG_KEYSTONE_ADMIN_PW=mock-admin-pw\n",
    "answer_file_sha256": "0" * 64,
    "private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nmock\n-----END OPENSSH PRIVATE KEY-----\n",
    "public_key": "ssh-ed25519 AAAAmock mock",
    "region": "RegionOne",
    "seconds": 12.5,
    "attempts": 4,
    "path": "/home/mock/.cache/openstack-lab/images/mock.img",  # ImageFile
    "size": 21692416,
    "downloaded": True,
    "banner": "SSH-2.0-dropbear",  # SshReady
    "host_key": "ssh-ed25519 AAAAscanned",  # HostKeyScan
    "paused_seconds": 9.0,  # LabSnapshot (and `seconds`, as SshReady)
}


@dataclass
class Registered:
    type: str
    name: str
    urn: str
    parent: str
    dependencies: list[str]
    inputs: dict[str, Any]
    secret_inputs: set[str]
    additional_secret_outputs: list[str]
    provider: str
    replace_on_changes: list[str] = field(default_factory=list)
    delete_before_replace: bool = False


def _unwrap(value: Any) -> Any:
    """Replace secret envelopes by their values (the secret paths are recorded apart)."""
    if isinstance(value, dict):
        if value.get("4dabf18193072939515e22adb298388d") == SECRET_SIG:
            return _unwrap(value.get("value"))
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def _secret_keys(struct_json: Any) -> set[str]:
    found = set()
    if isinstance(struct_json, dict):
        for key, value in struct_json.items():
            if isinstance(value, dict) and value.get("4dabf18193072939515e22adb298388d") == SECRET_SIG:
                found.add(key)
            elif isinstance(value, dict):
                found |= {f"{key}.{k}" for k in _secret_keys(value)}
    return found


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.count = 0

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.count += 1
        state = dict(args.inputs)
        if args.typ == "pulumi-python:dynamic:Resource":
            if "comment" in state:  # SshKeyPair
                keys = ("private_key", "public_key")
            elif "auth_url" in state:  # KeystoneReady
                keys = ("region",)
            elif "timeout_setting" in state:  # SshReady
                keys = ("seconds", "attempts", "banner")
            elif "cache_dir" in state:  # ImageFile
                keys = ("path", "size", "downloaded")
            elif "subject" in state:  # HostKeyScan (SshReady has timeout_setting too)
                keys = ("host_key",)
            elif "snapshot" in state:  # LabSnapshot
                keys = ("seconds", "paused_seconds")
            else:  # PackstackAnswers
                keys = ("passwords", "admin_password", "answer_file", "answer_file_sha256")
            for key in keys:
                if state.get(key) is None:
                    state[key] = DYNAMIC_OUTPUTS[key]
        if args.typ == "openstack:networking/floatingIp:FloatingIp":
            state.setdefault("address", "10.208.1.200")
        if args.typ == "command:remote:Command":
            state.setdefault("stdout", "ssh-ed25519 AAAAcontrollerroot root@controller\n")
            state.setdefault("stderr", "")
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


@dataclass
class LabRun:
    resources: list[Registered]
    outputs: dict[str, Any]
    secret_outputs: set[str]

    def of_type(self, type_: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str) -> Registered:
        matches = [r for r in self.resources if r.name == name]
        assert len(matches) == 1, f"{name}: {len(matches)} resources"
        return matches[0]

    def by_urn(self, urn: str) -> Registered:
        return next(r for r in self.resources if r.urn == urn)

    def names(self, type_: Optional[str] = None) -> set[str]:
        return {r.name for r in self.resources if type_ is None or r.type == type_}

    def ancestors(self, resource: Registered) -> list[str]:
        """The names of the resource's parents, nearest first. The mock monitor records the root Stack only in
        the first run of a process, so a parent not among the records is named from its URN (its last part)."""
        chain, urn = [], resource.parent
        while urn:
            parent = self.by_urn(urn) if any(r.urn == urn for r in self.resources) else None
            if parent is None:
                chain.append(urn.rsplit("::", 1)[-1])
                break
            chain.append(parent.name)
            urn = parent.parent
        return chain

    def depends_on(self, resource: Registered, other_name: str) -> bool:
        """Direct dependency (depends_on or an input Output) on the resource named other_name."""
        other = self.named(other_name)
        return other.urn in resource.dependencies


def _patch_monitor(records: list[Registered]) -> None:
    original = pulumi_mocks.MockMonitor.RegisterResource
    if getattr(original, "_recording", False):
        original = original._original  # type: ignore[attr-defined]

    def register(self, request):
        response = original(self, request)
        from google.protobuf import json_format

        obj = json_format.MessageToDict(request.object)
        records.append(
            Registered(
                type=request.type,
                name=request.name,
                urn=response.urn,
                parent=request.parent,
                dependencies=list(request.dependencies),
                inputs=_unwrap(dict(pulumi.runtime.rpc.deserialize_properties(request.object)))
                if request.type != "pulumi:pulumi:Stack" else {},
                secret_inputs=_secret_keys(obj),
                additional_secret_outputs=list(request.additionalSecretOutputs),
                provider=request.provider,
                replace_on_changes=list(request.replaceOnChanges),
                delete_before_replace=request.deleteBeforeReplace,
            )
        )
        return response

    register._recording = True  # type: ignore[attr-defined]
    register._original = original  # type: ignore[attr-defined]
    pulumi_mocks.MockMonitor.RegisterResource = register


def run_lab(
    config: dict[str, Any],
    stack: str = "alice",
    secrets: tuple[str, ...] = (),
    preview: bool = False,
    overlay: Optional[str] = None,
) -> LabRun:
    """Build the lab for `config` (key -> value, as in Pulumi.<stack>.yaml) under mocks.

    overlay: path of a test overlay (tests/support/overlay/), read as the program reads it.
    """
    from components.lab import build
    from lab.config import load
    from lab.config.profiles import OVERLAY_ENV

    records: list[Registered] = []
    _patch_monitor(records)
    pulumi.runtime.set_mocks(RecordingMocks(), project=PROJECT, stack=stack, preview=preview)
    raw = {f"{PROJECT}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
    runtime_config.set_all_config(raw, [f"{PROJECT}:{k}" for k in secrets])
    holder: dict[str, Any] = {}

    @pulumi.runtime.test
    def program():
        previous = os.environ.pop(OVERLAY_ENV, None)
        if overlay is not None:
            os.environ[OVERLAY_ENV] = overlay
        try:
            config = load()
        finally:
            os.environ.pop(OVERLAY_ENV, None)
            if previous is not None:
                os.environ[OVERLAY_ENV] = previous
        exported = build(config).as_dict()  # as __main__.py exports it
        keys = sorted(exported)
        values = [pulumi.Output.from_input(exported[k]) for k in keys]

        async def secret_flags():
            return {k: await v.is_secret() for k, v in zip(keys, values, strict=True)}

        holder["secret_task"] = secret_flags
        return pulumi.Output.all(*values).apply(
            lambda vs: holder.__setitem__("outputs", dict(zip(keys, vs, strict=True)))
        )

    program()
    import asyncio

    flags = asyncio.get_event_loop().run_until_complete(holder["secret_task"]())
    return LabRun(records, holder.get("outputs", {}), {k for k, v in flags.items() if v})


def run_script(name: str, tmp_path: Path, env: Optional[Mapping[str, str]] = None, stdin: str = "",
               fakes: Optional[Mapping[str, str]] = None) -> subprocess.CompletedProcess:
    """Run scripts/<name> with bash, HOME in tmp_path; `fakes` maps tool name -> shell body put first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool, body in (fakes or {}).items():
        path = bin_dir / tool
        path.write_text("#!/usr/bin/env bash\n" + body + "\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    full_env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path), **(env or {})}
    return subprocess.run(["bash", str(SCRIPTS / name)], input=stdin, capture_output=True, text=True,
                          env=full_env, timeout=60)


def entry(value, secret=False):
    """An entry of `pulumi config --json --show-secrets` (values as strings, objects as JSON)."""
    return {"value": value if isinstance(value, str) else json.dumps(value), "secret": secret}


class FakePulumi:
    """`pulumi` as tools/verify/stack.py's StackReader calls it: config --json, stack output --json
    [--show-secrets NAME]; a call naming `fail` fails with `failing_stdout` (which the reader must never show)."""

    def __init__(self, config, outputs, secrets, fail=None, failing_stdout="", stack="alice"):
        self.config, self.outputs, self.secrets, self.fail = config, outputs, secrets, fail
        self.failing_stdout, self.stack = failing_stdout, stack
        self.argvs = []

    def __call__(self, argv, **kw):
        self.argvs.append(argv)
        assert kw["stdin"] == subprocess.DEVNULL and kw["capture_output"]
        args = argv[2:-2]
        assert argv[:2] == ["pulumi", "--non-interactive"] and argv[-2:] == ["--stack", self.stack]
        if self.fail and self.fail in args:
            return subprocess.CompletedProcess(argv, 255, self.failing_stdout,
                                               f"error: no stack named '{self.stack}' found\n")
        if args == ["config", "--json", "--show-secrets"]:
            out = json.dumps({f"openstack-lab:{k}": v for k, v in self.config.items()})
        elif args == ["stack", "output", "--json"]:
            out = json.dumps(self.outputs)
        elif args[:3] == ["stack", "output", "--json"] and args[3] == "--show-secrets":
            out = json.dumps(self.secrets[args[4]])
        else:
            raise AssertionError(f"unexpected pulumi call {args}")
        return subprocess.CompletedProcess(argv, 0, out, "")

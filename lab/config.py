"""The lab's configuration model: parsed and validated once, typed and immutable.

`parse()` is pure (a mapping of raw stack-config values in, a `LabConfig` out) so
every rule is testable without Pulumi; `load()` reads the stack config through
the Pulumi runtime. Every problem found is reported at once, one line per problem,
naming the config key and the fix, before any resource is declared.
"""
from __future__ import annotations

import ipaddress
import json
import os
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping, Optional

from lab import naming
from lab.answers import (COMPUTE_MIB, LAB_MANAGED_ANSWERS, controller_memory_need,
                         packstack_options)

DEFAULT_BASE_IMAGE = (
    "https://cloud.centos.org/centos/9-stream/x86_64/images/"
    "CentOS-Stream-GenericCloud-9-latest.x86_64.qcow2"
)
RELEASES = ("antelope", "bobcat", "caracal", "dalmatian", "epoxy")
HYPERVISORS = ("kvm", "qemu")
OS_FLAVORS = ("centos-stream", "rhel")
L2_AGENTS = ("ovn", "openvswitch")
PREP_PROFILES = ("el9", "debian-test")
# Stages in the order they run; `stopAfter` names the last one to declare.
STAGES = ("nodes", "prep", "answers", "packstack", "networking")

# Memory and disk a role needs at least, per host-prep profile (MiB, GiB). An el9 controller's
# memory follows the Packstack services it will run instead (_check_controller_memory).
MIN_MEMORY_MIB = {
    "el9": {"compute": COMPUTE_MIB},
    "debian-test": {"controller": 512, "compute": 512},
}
MIN_DISK_GIB = {"el9": {"controller": 20, "compute": 10}, "debian-test": {"controller": 2, "compute": 2}}
DEFAULT_SIZES = {
    "controller": {"vcpus": 4, "memoryMiB": 8192, "diskGiB": 40},
    "compute": {"vcpus": 2, "memoryMiB": 4096, "diskGiB": 20},
}


class Secret:
    """A secret config value: its repr never shows the value."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "Secret(***)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other.value == self.value

    def __hash__(self) -> int:
        return hash(self.value)


@dataclass(frozen=True)
class NodeSize:
    vcpus: int
    memory_mib: int
    disk_gib: int


@dataclass(frozen=True)
class AddressPool:
    start: str
    end: str


@dataclass(frozen=True)
class BootSettings:
    """Direct kernel boot (paths on the libvirt host), e.g. for the Debian test image."""

    kernel: str
    initrd: Optional[str]
    cmdline: Optional[str]


@dataclass(frozen=True)
class RhelSubscription:
    username: str
    password: Secret


@dataclass(frozen=True)
class ExistingCloud:
    """Credentials of a cloud that already exists (skips nodes and Packstack)."""

    auth_url: str
    username: str
    password: Secret
    project_name: str
    user_domain_name: str
    project_domain_name: str
    region: str


@dataclass(frozen=True)
class LabConfig:
    project: str
    stack: str
    libvirt_uri: str
    storage_pool: str
    storage_pool_path: Optional[str]
    base_image: str
    hypervisor: str
    controller: NodeSize
    compute: NodeSize
    compute_count: int
    supernet: str
    management_cidr: str
    external_cidr: str
    external_gateway: str
    external_pool: AddressPool
    private_cidr: str
    dns_servers: tuple[str, ...]
    os_flavor: str
    rhel: Optional[RhelSubscription]
    openstack_release: str
    l2_agent: str
    ssh_public_key: Optional[str]
    ssh_private_key: Optional[Secret]
    packstack_answers: Mapping[str, str]
    stop_after: str
    prep_profile: str
    boot: Optional[BootSettings]
    package_update: bool
    cloud: Optional[ExistingCloud]
    keystone_timeout: int

    @property
    def existing_cloud(self) -> bool:
        return self.cloud is not None

    @property
    def node_names(self) -> list[str]:
        return naming.node_names(self.compute_count)

    @property
    def management_gateway(self) -> str:
        return naming.host_address(self.management_cidr, 1)

    def node_address(self, node: str) -> str:
        return naming.node_address(self.management_cidr, self.node_names.index(node))

    def size_of(self, node: str) -> NodeSize:
        return self.controller if node == naming.CONTROLLER else self.compute

    def runs(self, stage: str) -> bool:
        """Whether a stage is declared (all stages up to and including stopAfter)."""
        return STAGES.index(stage) <= STAGES.index(self.stop_after)


@dataclass(frozen=True)
class ConfigProblem:
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


class ConfigError(Exception):
    def __init__(self, namespace: str, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {namespace}:{p}" for p in problems)
        super().__init__(
            f"the lab configuration has {len(problems)} problem(s); fix them with "
            f"`pulumi config set` (secrets with --secret) and run again:\n{lines}"
        )


# Every key the program reads, its kind, and whether it must be a Pulumi secret.
KEYS: dict[str, str] = {
    "libvirtUri": "str",
    "storagePool": "str",
    "storagePoolPath": "str",
    "baseImage": "str",
    "hypervisor": "str",
    "controller": "object",
    "compute": "object",
    "computeCount": "int",
    "supernet": "str",
    "managementCidr": "str",
    "externalCidr": "str",
    "externalGateway": "str",
    "externalPool": "object",
    "privateCidr": "str",
    "dnsServers": "list",
    "osFlavor": "str",
    "rhelUsername": "str",
    "rhelPassword": "secret",
    "openstackRelease": "str",
    "l2Agent": "str",
    "sshPublicKey": "str",
    "sshPrivateKey": "secret",
    "packstackAnswers": "object",
    "stopAfter": "str",
    "prepProfile": "str",
    "boot": "object",
    "packageUpdate": "bool",
    "cloud": "object",
    "cloudPassword": "secret",
    "keystoneTimeout": "int",
}


class _Reader:
    """Typed access to raw values that records a problem instead of raising."""

    def __init__(self, raw: Mapping[str, Any], secret_keys: frozenset[str]) -> None:
        self.raw = raw
        self.secret_keys = secret_keys
        self.problems: list[ConfigProblem] = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append(ConfigProblem(key, message))

    def _decode(self, key: str, kind: str) -> Any:
        value = self.raw.get(key)
        if isinstance(value, str) and kind in ("object", "list", "int", "bool"):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                return value
        return value

    def str(self, key: str, default: Optional[str] = None) -> Optional[str]:
        value = self.raw.get(key)
        if value is None or value == "":
            return default
        if not isinstance(value, str):
            self.problem(key, f"expected a string, got {type(value).__name__}")
            return default
        return value.strip()

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.str(key, default)
        if value not in choices:
            self.problem(key, f"{value!r} is not one of {', '.join(choices)}")
            return default
        return value

    def int(self, key: str, default: int) -> int:
        value = self._decode(key, "int")
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(key, f"expected a whole number, got {value!r}")
            return default
        return value

    def bool(self, key: str, default: bool) -> bool:
        value = self._decode(key, "bool")
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problem(key, f"expected true or false, got {value!r}")
            return default
        return value

    def object(self, key: str) -> dict[str, Any]:
        value = self._decode(key, "object")
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(key, "expected an object (set it with `pulumi config set --path`)")
            return {}
        return value

    def list(self, key: str, default: list[str]) -> list[Any]:
        value = self._decode(key, "list")
        if value is None or value == [] or value == "":  # Pulumi.yaml's empty default means unset
            return default
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            self.problem(key, "expected a list (e.g. `pulumi config set --path dnsServers[0] 1.1.1.1`)")
            return default
        return value

    def secret(self, key: str) -> Optional[Secret]:
        value = self.raw.get(key)
        if value in (None, ""):
            return None
        if key not in self.secret_keys:
            self.problem(
                key,
                f"must be stored encrypted: run `pulumi config set --secret {key}` "
                "(and remove the plain-text value)",
            )
        return Secret(str(value))


def _network(r: _Reader, key: str, value: Optional[str]) -> Optional[ipaddress.IPv4Network]:
    if value is None:
        return None
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as err:
        r.problem(key, f"{value!r} is not a network in CIDR form such as 10.20.0.0/24 ({err})")
        return None
    if net.version != 4:
        r.problem(key, f"{value} is not IPv4; the lab's networks are IPv4")
        return None
    return net


def _address(r: _Reader, key: str, value: Optional[str]) -> Optional[ipaddress.IPv4Address]:
    if value is None:
        return None
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        r.problem(key, f"{value!r} is not an IPv4 address")
        return None


def _size(r: _Reader, role: str, profile: str) -> NodeSize:
    given = r.object(role)
    merged = {**DEFAULT_SIZES[role], **given}
    unknown = sorted(set(given) - set(DEFAULT_SIZES[role]))
    for key in unknown:
        r.problem(f"{role}.{key}", f"unknown size key; use {', '.join(DEFAULT_SIZES[role])}")
    values = {}
    for key in DEFAULT_SIZES[role]:
        v = merged[key]
        if isinstance(v, str) and v.isdigit():
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            r.problem(f"{role}.{key}", f"expected a positive whole number, got {v!r}")
            v = DEFAULT_SIZES[role][key]
        values[key] = v
    need = MIN_MEMORY_MIB[profile].get(role)
    if need is not None and values["memoryMiB"] < need:
        r.problem(
            f"{role}.memoryMiB",
            f"{values['memoryMiB']} MiB is below the {need} MiB a {role} needs "
            f"(prepProfile {profile}); raise it to at least {need}",
        )
    disk = MIN_DISK_GIB[profile][role]
    if values["diskGiB"] < disk:
        r.problem(f"{role}.diskGiB", f"{values['diskGiB']} GiB is below the {disk} GiB a {role} needs")
    return NodeSize(values["vcpus"], values["memoryMiB"], values["diskGiB"])


def _check_addressing(r: _Reader, cfg: dict[str, Any], compute_count: int) -> None:
    mgmt = _network(r, "managementCidr", cfg["management_cidr"])
    ext = _network(r, "externalCidr", cfg["external_cidr"])
    private = _network(r, "privateCidr", cfg["private_cidr"])
    named = [("managementCidr", mgmt), ("externalCidr", ext), ("privateCidr", private)]
    for i, (key_a, a) in enumerate(named):
        for key_b, b in named[i + 1:]:
            if a is not None and b is not None and a.overlaps(b):
                r.problem(key_b, f"{b} overlaps {key_a} {a}; the lab's networks must be disjoint")
    if mgmt is not None:
        nodes = 1 + compute_count
        last_offset = naming.FIRST_NODE_HOST + nodes - 1
        if last_offset >= mgmt.num_addresses - 1:
            r.problem(
                "managementCidr",
                f"{mgmt} has no room for {nodes} node addresses from .{naming.FIRST_NODE_HOST} "
                f"(the last would be beyond the broadcast address); use a larger network or fewer computes",
            )
    if ext is not None:
        gateway = _address(r, "externalGateway", cfg["external_gateway"])
        start = _address(r, "externalPool.start", cfg["external_pool"].start)
        end = _address(r, "externalPool.end", cfg["external_pool"].end)
        usable = lambda a: a in ext and a not in (ext.network_address, ext.broadcast_address)
        if gateway is not None and not usable(gateway):
            r.problem("externalGateway", f"{gateway} is not a usable address of externalCidr {ext}")
        for key, addr in (("externalPool.start", start), ("externalPool.end", end)):
            if addr is not None and not usable(addr):
                r.problem(key, f"{addr} is outside externalCidr {ext} (or its network/broadcast address)")
        if start is not None and end is not None and usable(start) and usable(end):
            if start > end:
                r.problem("externalPool", f"start {start} comes after end {end}; swap them")
            elif gateway is not None and start <= gateway <= end:
                r.problem(
                    "externalGateway",
                    f"{gateway} lies inside externalPool {start}-{end}; move the pool or the gateway "
                    "so Neutron never hands the gateway out as a floating IP",
                )
    for i, server in enumerate(cfg["dns_servers"]):
        _address(r, f"dnsServers[{i}]", server if isinstance(server, str) else repr(server))


def _check_answers(r: _Reader, answers: dict[str, Any]) -> dict[str, str]:
    known = packstack_options()
    clean: dict[str, str] = {}
    for key, value in answers.items():
        where = f"packstackAnswers.{key}"
        if key in LAB_MANAGED_ANSWERS:
            r.problem(where, f"is managed by the lab ({LAB_MANAGED_ANSWERS[key]}); remove it")
        elif key not in known:
            hint = "; Packstack removed it" if "NAGIOS" in key else ""
            r.problem(where, f"is not an option of the pinned Packstack (see `packstack -o`){hint}")
        elif isinstance(value, (dict, list)) or value is None:
            r.problem(where, "expected a string value such as 'y', 'n' or a comma-separated list")
        else:
            clean[key] = ("y" if value else "n") if isinstance(value, bool) else str(value)
    return clean


def _check_ssh_keys(r: _Reader, public: Optional[str], private: Optional[Secret]) -> None:
    if (public is None) != (private is None):
        r.problem(
            "sshPublicKey" if public is None else "sshPrivateKey",
            "set both sshPublicKey and sshPrivateKey (--secret), or neither to let the lab generate a key pair",
        )
    if public is not None and not re.match(r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+", public):
        r.problem("sshPublicKey", "is not an OpenSSH public key line (ssh-ed25519 AAAA... comment)")
    if private is not None and "PRIVATE KEY-----" not in private.value:
        r.problem("sshPrivateKey", "is not a PEM/OpenSSH private key (-----BEGIN ... PRIVATE KEY-----)")


def _cloud(r: _Reader) -> Optional[ExistingCloud]:
    given = r.object("cloud")
    password = r.secret("cloudPassword")
    if not given:
        if password is not None:
            r.problem("cloudPassword", "is set but cloud.authUrl is not; set cloud.authUrl or remove it")
        return None
    allowed = {"authUrl", "username", "projectName", "userDomainName", "projectDomainName", "region"}
    if "password" in given:
        r.problem("cloud.password", "never store it in the cloud object; use `pulumi config set --secret cloudPassword`")
    for key in sorted(set(given) - allowed - {"password"}):
        r.problem(f"cloud.{key}", f"unknown key; use {', '.join(sorted(allowed))}")
    auth_url = str(given.get("authUrl", ""))
    if not re.match(r"^https?://[^/\s]+", auth_url):
        r.problem("cloud.authUrl", f"{auth_url!r} is not an http(s) Keystone URL such as https://keystone:5000/v3")
    if password is None:
        r.problem("cloudPassword", "existing-cloud mode needs the password: `pulumi config set --secret cloudPassword`")
    return ExistingCloud(
        auth_url=auth_url.rstrip("/"),
        username=str(given.get("username", "admin")),
        password=password or Secret(""),
        project_name=str(given.get("projectName", "admin")),
        user_domain_name=str(given.get("userDomainName", "Default")),
        project_domain_name=str(given.get("projectDomainName", "Default")),
        region=str(given.get("region", "RegionOne")),
    )


def parse(
    raw: Mapping[str, Any],
    project: str,
    stack: str,
    secret_keys: frozenset[str] = frozenset(),
    path_exists: Callable[[str], bool] = os.path.exists,
) -> LabConfig:
    """Validate raw stack config (key -> value, values as Pulumi stores them)."""
    r = _Reader(raw, secret_keys)
    for key in sorted(set(raw) - set(KEYS)):
        r.problem(key, "unknown key; see README's configuration table for the keys the lab reads")

    profile = r.choice("prepProfile", PREP_PROFILES, "el9")
    stop_after = r.choice("stopAfter", STAGES, "networking")
    if profile == "debian-test" and STAGES.index(stop_after) > STAGES.index("answers"):
        r.problem("stopAfter", "prepProfile debian-test cannot run Packstack; use stopAfter nodes, prep or answers")

    compute_count = r.int("computeCount", 2)
    if compute_count < 0:
        r.problem("computeCount", f"{compute_count} is negative; use 0 (all-in-one) or more")
        compute_count = 0

    supernet = r.str("supernet", "10.208.0.0/12")
    mgmt_cidr, ext_cidr = r.str("managementCidr"), r.str("externalCidr")
    super_net = _network(r, "supernet", supernet)
    if super_net is not None and (mgmt_cidr is None or ext_cidr is None):
        try:
            derived_mgmt, derived_ext = naming.derived_cidrs(stack, supernet)
            mgmt_cidr, ext_cidr = mgmt_cidr or derived_mgmt, ext_cidr or derived_ext
        except ValueError as err:
            r.problem("supernet", f"{err}; use a /23 or larger")
    mgmt_cidr = mgmt_cidr or "10.208.0.0/24"
    ext_cidr = ext_cidr or "10.208.1.0/24"

    pool_given = r.object("externalPool")
    default_start, default_end = (None, None)
    try:
        default_start, default_end = naming.default_pool(ext_cidr)
        default_gateway = naming.host_address(ext_cidr, 1)
    except ValueError:
        default_gateway = None
    pool = AddressPool(
        str(pool_given.get("start", default_start)) if pool_given.get("start", default_start) else None,
        str(pool_given.get("end", default_end)) if pool_given.get("end", default_end) else None,
    )
    for key in sorted(set(pool_given) - {"start", "end"}):
        r.problem(f"externalPool.{key}", "unknown key; use start and end")
    addressing = {
        "management_cidr": mgmt_cidr,
        "external_cidr": ext_cidr,
        "private_cidr": r.str("privateCidr", "192.168.100.0/24"),
        "external_gateway": r.str("externalGateway", default_gateway),
        "external_pool": pool,
        "dns_servers": r.list("dnsServers", ["1.1.1.1", "8.8.8.8"]),
    }
    _check_addressing(r, addressing, compute_count)

    os_flavor = r.choice("osFlavor", OS_FLAVORS, "centos-stream")
    rhel = None
    rhel_user, rhel_password = r.str("rhelUsername"), r.secret("rhelPassword")
    if os_flavor == "rhel":
        if rhel_user is None:
            r.problem("rhelUsername", "osFlavor rhel needs subscription credentials: set rhelUsername")
        if rhel_password is None:
            r.problem("rhelPassword", "osFlavor rhel needs `pulumi config set --secret rhelPassword`")
        if rhel_user and rhel_password:
            rhel = RhelSubscription(rhel_user, rhel_password)

    ssh_public, ssh_private = r.str("sshPublicKey"), r.secret("sshPrivateKey")
    _check_ssh_keys(r, ssh_public, ssh_private)

    libvirt_uri = r.str("libvirtUri", "qemu:///system")
    if not re.match(r"^[a-z][a-z0-9+]*://", libvirt_uri):
        r.problem("libvirtUri", f"{libvirt_uri!r} is not a libvirt URI such as qemu:///system")

    base_image = r.str("baseImage", DEFAULT_BASE_IMAGE)
    is_url = re.match(r"^https?://", base_image) is not None
    if not is_url and not path_exists(base_image):
        r.problem("baseImage", f"file {base_image} does not exist; give an existing qcow2 path or an http(s) URL")

    boot_given = r.object("boot")
    boot = None
    if boot_given:
        for key in sorted(set(boot_given) - {"kernel", "initrd", "cmdline"}):
            r.problem(f"boot.{key}", "unknown key; use kernel, initrd and cmdline")
        if not boot_given.get("kernel"):
            r.problem("boot.kernel", "direct kernel boot needs the kernel path (or remove boot)")
        boot = BootSettings(str(boot_given.get("kernel", "")), boot_given.get("initrd"), boot_given.get("cmdline"))

    keystone_timeout = r.int("keystoneTimeout", 900)
    if keystone_timeout < 1:
        r.problem("keystoneTimeout", "must be at least 1 second")

    storage_pool_path = r.str("storagePoolPath")
    if storage_pool_path is not None and not storage_pool_path.startswith("/"):
        r.problem("storagePoolPath", f"{storage_pool_path!r} must be an absolute directory path")

    config = LabConfig(
        project=project,
        stack=stack,
        libvirt_uri=libvirt_uri,
        storage_pool=r.str("storagePool", "default"),
        storage_pool_path=storage_pool_path,
        base_image=base_image,
        hypervisor=r.choice("hypervisor", HYPERVISORS, "kvm"),
        controller=_size(r, "controller", profile),
        compute=_size(r, "compute", profile),
        compute_count=compute_count,
        supernet=supernet,
        management_cidr=mgmt_cidr,
        external_cidr=ext_cidr,
        external_gateway=addressing["external_gateway"] or "",
        external_pool=pool,
        private_cidr=addressing["private_cidr"],
        dns_servers=tuple(str(s) for s in addressing["dns_servers"]),
        os_flavor=os_flavor,
        rhel=rhel,
        openstack_release=r.choice("openstackRelease", RELEASES, "epoxy"),
        l2_agent=r.choice("l2Agent", L2_AGENTS, "ovn"),
        ssh_public_key=ssh_public,
        ssh_private_key=ssh_private,
        packstack_answers=MappingProxyType(_check_answers(r, r.object("packstackAnswers"))),
        stop_after=stop_after,
        prep_profile=profile,
        boot=boot,
        # RDO's documented path updates every package once the release repository is added.
        package_update=r.bool("packageUpdate", True),
        cloud=_cloud(r),
        keystone_timeout=keystone_timeout,
    )
    if profile == "el9" and not config.existing_cloud:
        _check_controller_memory(r, config)
    if r.problems:
        raise ConfigError(project, r.problems)
    return config


def _check_controller_memory(r: _Reader, config: LabConfig) -> None:
    """The controller must hold the Packstack services the answers turn on."""
    need = controller_memory_need(config.packstack_answers, config.controller.vcpus, config.compute_count == 0)
    have = config.controller.memory_mib
    if have < need.mib:
        r.problem(
            "controller.memoryMiB",
            f"{have} MiB is below the {need.mib} MiB the controller needs for its Packstack services "
            f"({' + '.join(need.reasons)} MiB); raise controller.memoryMiB to at least {need.mib}, "
            "or turn services off in packstackAnswers",
        )


def load() -> LabConfig:
    """Read and validate the current stack's config through the Pulumi runtime."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    project, stack = pulumi.get_project(), pulumi.get_stack()
    prefix = f"{project}:"
    # The language host hands config over either as the runtime's map or as PULUMI_CONFIG.
    merged = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    env_secrets = set(runtime_config.get_config_secret_keys_env())
    raw = {k[len(prefix):]: v for k, v in merged.items() if k.startswith(prefix)}
    secret_keys = frozenset(
        key for key in raw if runtime_config.is_config_secret(prefix + key) or prefix + key in env_secrets
    )
    return parse(raw, project, stack, secret_keys)

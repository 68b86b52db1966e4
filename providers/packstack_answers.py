"""`PackstackAnswers`: the lab's Packstack answers as a resource.

Each answer is a top-level property, so `pulumi preview` names every changed key
(e.g. `~ CONFIG_COMPUTE_HOSTS`). The provider generates the admin and service
passwords once and keeps them across updates: a Packstack re-run must use the
passwords the first run installed.

Scale-out: `check` sees the previous inputs (in preview too) and, when the only change is
computes added, answers `EXCLUDE_SERVERS` with the old computes, so the re-run leaves them
alone and `preview` shows `~ CONFIG_COMPUTE_HOSTS` and `+ EXCLUDE_SERVERS` (the servers the
re-run skips). See `plan_exclusion` for the rule and what Packstack does with the answer.

Self-contained on purpose: Pulumi pickles the provider with its globals, so it
reads no Pulumi config and imports nothing of the project.
"""
from __future__ import annotations

import hashlib
import secrets
from typing import Any, Optional

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ResourceProvider, UpdateResult

from providers.resource import LabResource

# Passwords Packstack would otherwise regenerate on every --gen-answer-file.
PASSWORD_KEYS = (
    "CONFIG_AMQP_AUTH_PASSWORD",
    "CONFIG_AODH_DB_PW",
    "CONFIG_AODH_KS_PW",
    "CONFIG_CEILOMETER_KS_PW",
    "CONFIG_CINDER_DB_PW",
    "CONFIG_CINDER_KS_PW",
    "CONFIG_GLANCE_DB_PW",
    "CONFIG_GLANCE_KS_PW",
    "CONFIG_GNOCCHI_DB_PW",
    "CONFIG_GNOCCHI_KS_PW",
    "CONFIG_HEAT_DB_PW",
    "CONFIG_HEAT_DOMAIN_PASSWORD",
    "CONFIG_HEAT_KS_PW",
    "CONFIG_IRONIC_DB_PW",
    "CONFIG_IRONIC_KS_PW",
    "CONFIG_KEYSTONE_ADMIN_PW",
    "CONFIG_KEYSTONE_DB_PW",
    "CONFIG_KEYSTONE_DEMO_PW",
    "CONFIG_MAGNUM_DB_PW",
    "CONFIG_MAGNUM_KS_PW",
    "CONFIG_MANILA_DB_PW",
    "CONFIG_MANILA_KS_PW",
    "CONFIG_MARIADB_PW",
    "CONFIG_NEUTRON_DB_PW",
    "CONFIG_NEUTRON_KS_PW",
    "CONFIG_NEUTRON_METADATA_PW",
    "CONFIG_NOVA_DB_PW",
    "CONFIG_NOVA_KS_PW",
    "CONFIG_SWIFT_KS_PW",
    "CONFIG_TROVE_DB_PW",
    "CONFIG_TROVE_KS_PW",
    "CONFIG_TROVE_NOVA_PW",
)
ADMIN_PASSWORD_KEY = "CONFIG_KEYSTONE_ADMIN_PW"
OUTPUT_PROPS = ("passwords", "answer_file", "answer_file_sha256", "admin_password")

# Packstack's "servers to be excluded from the installation" answer. Not a CONFIG_ key and not in
# `packstack -o`: it is prescript's `exclude-servers` option, CONF_NAME "EXCLUDE_SERVERS"
# (packstack stable/2025.1 cd0e445, packstack/plugins/prescript_000.py:314-326), and
# --gen-answer-file writes it like every option into the one [general] section
# (packstack/installer/run_setup.py:747-762). packstack/modules/common.py:19-41 (filtered_hosts)
# drops the listed hosts, and puppet_950.py:162 and :215-217 copy and apply manifests only on the
# hosts it returns: an excluded server gets no prescript, no Puppet run at all.
EXCLUDE_KEY = "EXCLUDE_SERVERS"
COMPUTE_KEY = "CONFIG_COMPUTE_HOSTS"
# Never excluded: the controller applies <ip>_controller_post.pp after every compute manifest
# (puppet_950.py:252-268, its marker waits for the compute runs, :208-213), and that manifest
# notifies nova::cell_v2::discover_hosts (packstack/puppet/templates/controller_post.pp:10-12;
# puppet-nova stable/2025.1 manifests/cell_v2/discover_hosts.pp:18-24), which maps the new compute.
KEEP_KEYS = ("CONFIG_CONTROLLER_HOST", "CONFIG_NETWORK_HOSTS")
# Answers a stack made before the lab wrote them adopts only together with a full run (never
# as the only change, so such a stack's no-change preview stays clean). The tunnel subnets make
# every node accept geneve/vxlan from the whole management network instead of one iptables rule
# per peer (neutron_350.py:756-791); without them an excluded compute would drop the new
# compute's tunnel packets (Packstack's docs on CONFIG_NEUTRON_OVN_TUNNEL_SUBNETS say exactly that,
# docs/source/packstack.rst:837). A stack lacking them gets no exclusion until a full run set them.
DEFERRED_KEYS = ("CONFIG_NEUTRON_OVN_TUNNEL_SUBNETS", "CONFIG_NEUTRON_OVS_TUNNEL_SUBNETS")
# pulumi's marker for a value not known during preview (pulumi.runtime.rpc.UNKNOWN)
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def _is_answer(key: str) -> bool:
    return key.startswith("CONFIG_") or key == EXCLUDE_KEY


def _answers_of(props: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in props.items() if _is_answer(k) and v is not None}


def _hosts(value: str) -> list[str]:
    return [h.strip() for h in value.split(",") if h.strip()]


def plan_exclusion(old: dict[str, str], new: dict[str, str]) -> dict[str, str]:
    """The answers to store given the previous ones (`old`, empty on create): `new`, plus
    EXCLUDE_SERVERS when the re-run may skip servers.

    - only computes added (the old list a strict subset of the new, nothing else changed apart
      from an earlier exclusion): exclude the old computes, never the controller/network host;
    - nothing changed: the earlier exclusion is carried, so a no-change preview stays clean;
    - anything else (a compute removed, all-in-one to the first compute, any other answer): no
      exclusion, Packstack runs on every server.
    """
    new = {k: v for k, v in new.items() if k != EXCLUDE_KEY}  # the lab's to decide, never an input
    if not old:
        return new
    base = {k: v for k, v in old.items() if k != EXCLUDE_KEY}
    if any(v == UNKNOWN for v in new.values()):
        carried = {EXCLUDE_KEY: old[EXCLUDE_KEY]} if EXCLUDE_KEY in old else {}
        return {**new, **carried}
    held = [k for k in DEFERRED_KEYS if k in new and k not in base]
    rest = {k: v for k, v in new.items() if k not in held}
    changed = {k for k in set(base) | set(rest) if base.get(k) != rest.get(k)}
    if not changed:
        return {**rest, EXCLUDE_KEY: old[EXCLUDE_KEY]} if EXCLUDE_KEY in old else rest
    if changed == {COMPUTE_KEY} and not held:
        old_computes, new_computes = _hosts(base[COMPUTE_KEY]), _hosts(rest[COMPUTE_KEY])
        if set(old_computes) < set(new_computes):
            keep = {h for key in KEEP_KEYS for h in _hosts(rest.get(key, ""))}
            exclude = [h for h in old_computes if h not in keep]
            if exclude:
                return {**rest, EXCLUDE_KEY: ",".join(exclude)}
    return new


def _outputs(answers: dict[str, str], passwords: dict[str, str]) -> dict[str, Any]:
    # User answers win over generated passwords (a user may pin CONFIG_MARIADB_PW).
    merged = {**passwords, **answers}
    text = "".join(f"{k}={merged[k]}\n" for k in sorted(merged))
    return {
        **answers,
        "passwords": passwords,
        "admin_password": merged[ADMIN_PASSWORD_KEY],
        "answer_file": text,
        "answer_file_sha256": hashlib.sha256(text.encode()).hexdigest(),
    }


def changed_keys(olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
    """Answer keys added, removed or changed between two property sets."""
    old, new = _answers_of(olds), _answers_of(news)
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


class PackstackAnswersProvider(ResourceProvider):
    # read and delete are the SDK's: the state is the truth (nothing outside it to remove: the answer
    # file lives on the controller).
    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        # olds are the previous (checked) inputs, also during preview; empty on create.
        others = {k: v for k, v in news.items() if not _is_answer(k)}
        return CheckResult({**others, **plan_exclusion(_answers_of(olds or {}), _answers_of(news))}, [])

    def create(self, props: dict[str, Any]) -> CreateResult:
        passwords = {key: secrets.token_hex(16) for key in PASSWORD_KEYS}
        digest = hashlib.sha256(secrets.token_bytes(16)).hexdigest()[:16]
        return CreateResult(f"packstack-answers-{digest}", _outputs(_answers_of(props), passwords))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=bool(changed_keys(olds, news)), replaces=[], stables=["passwords"])

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        passwords = dict(olds.get("passwords") or {})
        for key in PASSWORD_KEYS:  # a newer lab may know more services
            passwords.setdefault(key, secrets.token_hex(16))
        return UpdateResult(_outputs(_answers_of(news), passwords))


class PackstackAnswers(LabResource):
    passwords: pulumi.Output[dict]
    admin_password: pulumi.Output[str]
    answer_file: pulumi.Output[str]
    answer_file_sha256: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        answers: pulumi.Input[dict],
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        super().__init__(PackstackAnswersProvider(), name, answers, opts, outputs=OUTPUT_PROPS,
                         secret_outputs=("passwords", "admin_password", "answer_file"))

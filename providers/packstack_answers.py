"""`PackstackAnswers`: the lab's Packstack answers as a resource.

Each answer is a top-level property, so `pulumi preview` names every changed key
(e.g. `~ CONFIG_COMPUTE_HOSTS`). The provider generates the admin and service
passwords once and keeps them across updates: a Packstack re-run must use the
passwords the first run installed.

Scale-out: Packstack runs on every server, old computes included (no `EXCLUDE_SERVERS`): each run
makes a new Nova migration key and writes known hosts and migration firewall rules for the computes it
is given, so only a full run leaves every compute able to migrate to every other (README, "Scale-out
re-runs"). A stack whose state still holds the exclusion an earlier lab answered sees it removed on its
next preview; that update re-runs Packstack everywhere (`RETIRED_KEYS`).

Pulumi pickles the provider by reference (this module's path and the class name), so the path is part of
every stack's state: do not move or rename the module. Self-contained like every provider (CONTRIBUTING.md,
"A dynamic provider"): it reads no Pulumi config and imports nothing of the project outside providers/.
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

# Answers earlier lab versions wrote and this one never does. They still count as answers of the
# previous state, so their removal is a change (`- EXCLUDE_SERVERS` in preview) that re-writes the
# answer file and re-runs Packstack. EXCLUDE_SERVERS is prescript's `exclude-servers` option
# (packstack/plugins/prescript_000.py:314-326, default empty), which filtered_hosts drops from every
# step (packstack/modules/common.py:19-41; puppet_950.py:162 and :215 copy and apply manifests only
# on the rest). The lab answered it with the old computes on a scale-out; those computes then kept
# the previous run's migration key, known hosts and firewall (README, "Scale-out re-runs").
RETIRED_KEYS = ("EXCLUDE_SERVERS",)
# Answers a stack made before the lab wrote them adopts only together with another change (that
# re-runs Packstack anyway), never as the only change, so such a stack's no-change preview stays
# clean. The tunnel subnets (= the management CIDR) make every node accept geneve/vxlan from the
# whole management network instead of one iptables rule per peer (neutron_350.py:753-791).
DEFERRED_KEYS = ("CONFIG_NEUTRON_OVN_TUNNEL_SUBNETS", "CONFIG_NEUTRON_OVS_TUNNEL_SUBNETS")


def _is_answer(key: str) -> bool:
    return key.startswith("CONFIG_") or key in RETIRED_KEYS


def _answers_of(props: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in props.items() if _is_answer(k) and v is not None}


def answers_to_store(old: dict[str, str], new: dict[str, str]) -> dict[str, str]:
    """The answers to store given the previous ones (`old`, empty on create): `new` without the
    retired keys (never an input), and without the `DEFERRED_KEYS` `old` lacks while nothing
    else changes. A retired key in `old` is a change; so is a value unknown during preview.
    """
    new = {k: v for k, v in new.items() if k not in RETIRED_KEYS}
    held = {k for k in DEFERRED_KEYS if k in new and k not in old}
    rest = {k: v for k, v in new.items() if k not in held}
    return rest if old and rest == old else new


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
        return CheckResult({**others, **answers_to_store(_answers_of(olds or {}), _answers_of(news))}, [])

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
        answers: dict[str, str],  # each answer a top-level property: a plain dict, not an Output
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        super().__init__(PackstackAnswersProvider(), name, answers, opts, outputs=OUTPUT_PROPS,
                         secret_outputs=("passwords", "admin_password", "answer_file"))

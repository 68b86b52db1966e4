"""The answer sets the Packstack tier runs, made by the lab's own code (never written by hand).

Each set is one or more lab configs (stack config values, parsed as the program parses them): the lab
as it was at each Packstack run, oldest first (a scale-out: the lab before, then with a compute more).
For each, the lab's plan (`lab.plan.plan(config).answers`, what components/packstack.py hands to
`PackstackAnswers`) gives the lab's answer edits and the real `PackstackAnswersProvider`
(providers/packstack_answers.py) turns them into the answer lines the lab feeds to
`scripts/packstack-answers.sh` on stdin: `check` (which, for computes added, decides `EXCLUDE_SERVERS`
against the previous answers), `create`/`update` (the generated passwords, kept across runs).

A mistake set puts answer lines past the config reader (as a user editing the answer file would, or a
value the lab's validators do not know) into those lines, and names Packstack's message when its dry-run
must fail; without one, only the catalog compile (issue 17 item 3) can catch it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping, Optional

from lab.config import LabConfig, parse
from lab.plan import plan
from providers.packstack_answers import PackstackAnswersProvider

PROJECT = "openstack-lab"
STACK = "alice"
SUCCESS = "Installation completed successfully"


def lab_config(raw: Mapping[str, Any]) -> LabConfig:
    """A stack's config as the program reads it (paths taken to exist: no image is needed here)."""
    return parse(raw, PROJECT, STACK, path_exists=lambda p: True)


def lab_answer_edits(config: LabConfig) -> dict[str, str]:
    """The lab's answer edits for Packstack, as its plan computes them."""
    return dict(plan(config).answers)


@dataclass(frozen=True)
class AnswerSet:
    name: str
    what: str
    stages: tuple[Mapping[str, Any], ...]  # raw stack configs, one per Packstack run, oldest first
    inject: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # into the last stage's lines
    expect_error: Optional[str] = None  # Packstack's message when the dry-run must fail

    def configs(self) -> list[LabConfig]:
        return [lab_config(raw) for raw in self.stages]


@dataclass(frozen=True)
class StageAnswers:
    lab_answers: dict[str, str]  # what the lab's code decided (the provider's checked inputs): no passwords
    lines: str = field(repr=False)  # KEY=VALUE lines for packstack-answers.sh's stdin: passwords included
    passwords: frozenset[str] = field(repr=False)  # the generated password values, kept out of any message


def stage_answers(answer_set: AnswerSet) -> list[StageAnswers]:
    """The provider's answer lines for each stage, as `pulumi up` would produce them one run after another."""
    provider = PackstackAnswersProvider()
    inputs: dict[str, Any] = {}
    state: Optional[dict[str, Any]] = None
    stages = []
    for config in answer_set.configs():
        checked = provider.check(inputs, lab_answer_edits(config)).inputs
        state = (provider.create(checked) if state is None else provider.update("answers", state, checked)).outs
        inputs = checked
        stages.append(StageAnswers(dict(checked), state["answer_file"], frozenset(state["passwords"].values())))
    last = stages[-1]
    stages[-1] = StageAnswers(last.lab_answers, with_lines(last.lines, answer_set.inject), last.passwords)
    return stages


def with_lines(lines: str, inject: Mapping[str, str]) -> str:
    """`lines` with each injected key's value replaced (or the line added)."""
    out, seen = [], set()
    for line in lines.splitlines():
        key = line.split("=", 1)[0]
        if key in inject:
            line = f"{key}={inject[key]}"
            seen.add(key)
        out.append(line)
    out += [f"{k}={v}" for k, v in inject.items() if k not in seen]
    return "".join(f"{line}\n" for line in out)


USER_ANSWERS = {"CONFIG_CEILOMETER_INSTALL": "y", "CONFIG_AODH_INSTALL": "y", "CONFIG_HEAT_INSTALL": "y",
                "CONFIG_SERVICE_WORKERS": "3"}

LAB_SETS = (
    AnswerSet("default", "the default lab: controller + 2 computes, OVN", ({},)),
    AnswerSet("all_in_one", "all-in-one: computeCount 0", ({"computeCount": 0},)),
    AnswerSet("openvswitch", "l2Agent openvswitch (ML2/OVS, vxlan)", ({"l2Agent": "openvswitch"},)),
    AnswerSet("data_disks", "controller dataDisksGiB [40, 20]: Cinder on cinder-volumes, Swift on /dev/vdc",
              ({"controller": {"dataDisksGiB": [40, 20]}},)),
    AnswerSet("scale_out", "the default lab, then grown to 3 computes (the lab's answers for computes added)",
              ({}, {"computeCount": 3})),
    AnswerSet("user_answers", "packstackAnswers: Ceilometer, Aodh, Heat on, 3 service workers",
              ({"packstackAnswers": USER_ANSWERS, "controller": {"memoryMiB": 12288}},)),
)

# The study's five mistakes (shared/reference/packstack-dry-run.md section 3), each on the default lab.
MISTAKE_SETS = (
    AnswerSet("mistake_manage_flavors", "CONFIG_NOVA_MANAGE_FLAVORS=yes", ({},),
              {"CONFIG_NOVA_MANAGE_FLAVORS": "yes"},
              "Given value is not member of allowed values ['y', 'n']: yes"),
    AnswerSet("mistake_bridge_mappings", "OVN bridge mappings naming br-ext while the lab's bridges stay br-ex", ({},),
              {"CONFIG_NEUTRON_OVN_BRIDGE_MAPPINGS": "extnet:br-ext"},
              "Couldn't find element br-ex in ['extnet:br-ext']"),
    AnswerSet("mistake_volumes_size", "CONFIG_CINDER_VOLUMES_SIZE=20GB", ({},),
              {"CONFIG_CINDER_VOLUMES_SIZE": "20GB"}, "Invalid Cinder volumes VG size."),
    # Only Puppet's catalog compile catches these two: the dry-run passes and leaves the manifests.
    AnswerSet("mistake_service_workers", "CONFIG_SERVICE_WORKERS=two (caught by the catalog compile)", ({},),
              {"CONFIG_SERVICE_WORKERS": "two"}),
    AnswerSet("mistake_vni_ranges", "CONFIG_NEUTRON_ML2_VNI_RANGES=10-100 (caught by the catalog compile)", ({},),
              {"CONFIG_NEUTRON_ML2_VNI_RANGES": "10-100"}),
)

ANSWER_SETS = {s.name: s for s in (*LAB_SETS, *MISTAKE_SETS)}

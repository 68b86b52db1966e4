"""Engine tier: a scale-out's Packstack answers through the real engine (issue 11 item 4).

A tiny stack of its own declares only the lab's `PackstackAnswers` from `lab_answers` of a parsed config
(no libvirt, no plugins): `up` with computeCount 2, then `preview --json` with 3 must show the answers'
update naming both CONFIG_COMPUTE_HOSTS and EXCLUDE_SERVERS (the old computes: what the re-run skips);
after that `up`, a no-change preview stays clean (the exclusion is carried), and another answer clears it.
"""
from __future__ import annotations

import textwrap

import pytest

from support.program import tiny_program
from support.pulumi import Workspace, require_toolchain, urn_name

PROGRAM = textwrap.dedent('''\
    import pulumi

    from lab.answers import lab_answers
    from lab.config import parse
    from providers.packstack_answers import PackstackAnswers

    cfg = pulumi.Config()
    raw = {"managementCidr": "10.1.2.0/24", "externalCidr": "10.1.3.0/24",
           "computeCount": cfg.require_int("computeCount"), "packstackAnswers": cfg.get_object("extra") or {}}
    config = parse(raw, "openstack-lab", "alice", path_exists=lambda p: True)
    answers = PackstackAnswers("packstack-answers", answers=lab_answers(config))
    pulumi.export("answerFileSha256", answers.answer_file_sha256)
    ''')
EXCLUDE = "EXCLUDE_SERVERS"


@pytest.fixture(scope="module")
def answers_stack(tmp_path_factory):
    require_toolchain(plugins=False)
    base = tmp_path_factory.mktemp("engine-scale-out")
    proj = tiny_program(base / "proj", "engine-scale-out", PROGRAM, ("lab", "providers"))
    stack = Workspace(proj, base / "state").create_stack("scale")
    stack.set_config({"engine-scale-out:computeCount": 2})
    stack.up()
    yield stack
    stack.destroy(check=False)


def answers_step(preview: dict) -> dict:
    steps = [s for s in preview["steps"] if urn_name(s["urn"]) == "packstack-answers"]
    assert len(steps) == 1, preview["steps"]
    return steps[0]


def changed(step: dict) -> list[str]:
    old = (step.get("oldState") or {}).get("inputs") or {}
    new = (step.get("newState") or {}).get("inputs") or {}
    return sorted(k for k in set(old) | set(new) if k.isupper() and old.get(k) != new.get(k))


def test_adding_a_compute_previews_the_answers_with_the_exclude_list(answers_stack):
    with answers_stack.config_changed({"engine-scale-out:computeCount": 3}):
        step = answers_step(answers_stack.preview_json())
    assert step["op"] == "update"
    assert changed(step) == ["CONFIG_COMPUTE_HOSTS", EXCLUDE]
    new = step["newState"]["inputs"]
    assert new["CONFIG_COMPUTE_HOSTS"] == "10.1.2.11,10.1.2.12,10.1.2.13"
    assert new[EXCLUDE] == "10.1.2.11,10.1.2.12"  # the old computes; never the controller (.10) or the new one


def test_after_the_scale_out_a_no_change_preview_is_clean_and_another_answer_clears_it(answers_stack):
    answers_stack.set_config({"engine-scale-out:computeCount": 3})
    answers_stack.up()
    answers_stack.preview("--expect-no-changes")  # the exclusion is carried, not dropped
    with answers_stack.config_changed({"engine-scale-out:extra": {"CONFIG_HEAT_INSTALL": "y"}}):
        step = answers_step(answers_stack.preview_json())
    assert step["op"] == "update"
    assert changed(step) == ["CONFIG_HEAT_INSTALL", EXCLUDE]
    assert EXCLUDE not in step["newState"]["inputs"]

"""Engine tier: a scale-out's Packstack answers through the real engine (issue 11 item 4).

A tiny stack of its own declares only the lab's `PackstackAnswers` from the plan's answers of a parsed config
(no libvirt, no plugins): `up` with computeCount 2, then `preview --json` with 3 must show the answers'
update changing only CONFIG_COMPUTE_HOSTS, no EXCLUDE_SERVERS (Packstack re-runs on every server, issue 17
item 4); after that `up` a no-change preview is clean. Then the state is made the one an earlier lab left
after its excluded scale-out (EXCLUDE_SERVERS with the old computes in the inputs, outputs and answer file,
through `stack export`/`import`): its preview shows the answers' update removing EXCLUDE_SERVERS only, and
its `up` writes an answer file without it under a new hash (the Packstack run's trigger).
"""
from __future__ import annotations

import hashlib
import json
import textwrap

import pytest

from support.program import tiny_program
from support.pulumi import Workspace, require_toolchain, urn_name

PROGRAM = textwrap.dedent('''\
    import pulumi

    from lab.config import parse
    from lab.plan import plan
    from providers.packstack_answers import PackstackAnswers

    cfg = pulumi.Config()
    raw = {"managementCidr": "10.1.2.0/24", "externalCidr": "10.1.3.0/24",
           "computeCount": cfg.require_int("computeCount"), "packstackAnswers": cfg.get_object("extra") or {}}
    config = parse(raw, "openstack-lab", "alice", path_exists=lambda p: True)
    answers = PackstackAnswers("packstack-answers", answers=dict(plan(config).answers))
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


def test_adding_a_compute_previews_only_the_computes(answers_stack):
    with answers_stack.config_changed({"engine-scale-out:computeCount": 3}):
        step = answers_step(answers_stack.preview_json())
    assert step["op"] == "update"
    assert changed(step) == ["CONFIG_COMPUTE_HOSTS"]
    new = step["newState"]["inputs"]
    assert new["CONFIG_COMPUTE_HOSTS"] == "10.1.2.11,10.1.2.12,10.1.2.13"
    assert EXCLUDE not in new  # no server skipped: Packstack re-runs on every one


def test_after_the_scale_out_a_no_change_preview_is_clean(answers_stack):
    answers_stack.set_config({"engine-scale-out:computeCount": 3})
    answers_stack.up()
    answers_stack.preview("--expect-no-changes")


def answers_resource(deployment: dict) -> dict:
    found = [r for r in deployment["deployment"]["resources"] if urn_name(r["urn"]) == "packstack-answers"]
    assert len(found) == 1, [r["urn"] for r in deployment["deployment"]["resources"]]
    return found[0]


def plaintext(value) -> str:
    """A secret of `stack export --show-secrets` (its JSON-encoded plaintext) or a plain string."""
    return json.loads(value["plaintext"]) if isinstance(value, dict) else value


def test_a_state_from_an_excluded_scale_out_drops_the_exclusion_and_changes_the_answer_file(answers_stack):
    answers_stack.set_config({"engine-scale-out:computeCount": 3})
    state = answers_stack.export(show_secrets=True)  # kept in memory; the stack's state dir is the test's own
    resource = answers_resource(state)
    legacy = "10.1.2.11,10.1.2.12"
    text = plaintext(resource["outputs"]["answer_file"])
    assert EXCLUDE not in text
    old_text = "".join(sorted([*text.splitlines(keepends=True), f"{EXCLUDE}={legacy}\n"]))
    old_sha = hashlib.sha256(old_text.encode()).hexdigest()
    resource["inputs"][EXCLUDE] = resource["outputs"][EXCLUDE] = legacy
    resource["outputs"]["answer_file"] = {**resource["outputs"]["answer_file"], "plaintext": json.dumps(old_text)}
    resource["outputs"]["answer_file_sha256"] = old_sha
    answers_stack.cli("stack", "import", input=json.dumps(state))

    step = answers_step(answers_stack.preview_json())
    assert step["op"] == "update"
    assert changed(step) == [EXCLUDE]  # `- EXCLUDE_SERVERS`, nothing else
    assert step["oldState"]["inputs"][EXCLUDE] == legacy and EXCLUDE not in step["newState"]["inputs"]

    answers_stack.up()
    after = answers_resource(answers_stack.export(show_secrets=True))
    new_text = plaintext(after["outputs"]["answer_file"])
    assert EXCLUDE not in after["inputs"] and EXCLUDE not in after["outputs"] and EXCLUDE not in new_text
    assert new_text == text
    assert after["outputs"]["answer_file_sha256"] == hashlib.sha256(new_text.encode()).hexdigest() != old_sha
    answers_stack.preview("--expect-no-changes")

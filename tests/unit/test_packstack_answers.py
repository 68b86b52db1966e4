"""providers/packstack_answers.py: generated passwords, the answer file, diffs and a scale-out's exclusion."""
import hashlib

import pytest
from pulumi.runtime.rpc import UNKNOWN

from providers.packstack_answers import (
    ADMIN_PASSWORD_KEY,
    PASSWORD_KEYS,
    PackstackAnswersProvider,
    changed_keys,
)


ANSWERS = {"CONFIG_CONTROLLER_HOST": "10.0.0.10", "CONFIG_COMPUTE_HOSTS": "10.0.0.11,10.0.0.12"}


def test_answers_create_generates_every_password():
    result = PackstackAnswersProvider().create(dict(ANSWERS))
    passwords = result.outs["passwords"]
    assert set(passwords) == set(PASSWORD_KEYS)
    assert len(set(passwords.values())) == len(PASSWORD_KEYS)  # all different
    assert all(len(p) >= 32 for p in passwords.values())
    assert result.outs["admin_password"] == passwords[ADMIN_PASSWORD_KEY]


def test_answer_file_holds_answers_and_passwords():
    outs = PackstackAnswersProvider().create(dict(ANSWERS)).outs
    lines = outs["answer_file"].splitlines()
    assert "CONFIG_COMPUTE_HOSTS=10.0.0.11,10.0.0.12" in lines
    assert f"CONFIG_KEYSTONE_ADMIN_PW={outs['admin_password']}" in lines
    assert lines == sorted(lines)


def test_diff_names_each_changed_key():
    provider = PackstackAnswersProvider()
    olds = provider.create(dict(ANSWERS)).outs
    news = {**ANSWERS, "CONFIG_COMPUTE_HOSTS": "10.0.0.11,10.0.0.12,10.0.0.13", "CONFIG_HEAT_INSTALL": "y"}
    assert changed_keys(olds, news) == ["CONFIG_COMPUTE_HOSTS", "CONFIG_HEAT_INSTALL"]
    diff = provider.diff("id", olds, news)
    assert diff.changes is True and diff.replaces == []


def test_diff_without_changes_is_empty():
    provider = PackstackAnswersProvider()
    olds = provider.create(dict(ANSWERS)).outs
    assert provider.diff("id", olds, dict(ANSWERS)).changes is False


def test_update_keeps_passwords_stable():
    provider = PackstackAnswersProvider()
    olds = provider.create(dict(ANSWERS)).outs
    news = {**ANSWERS, "CONFIG_COMPUTE_HOSTS": "10.0.0.11"}
    outs = provider.update("id", olds, news).outs
    assert outs["passwords"] == olds["passwords"]
    assert outs["CONFIG_COMPUTE_HOSTS"] == "10.0.0.11"
    assert outs["answer_file_sha256"] != olds["answer_file_sha256"]


def test_user_answer_overrides_generated_password():
    outs = PackstackAnswersProvider().create({**ANSWERS, "CONFIG_MARIADB_PW": "pinned"}).outs
    assert "CONFIG_MARIADB_PW=pinned" in outs["answer_file"].splitlines()


def test_answers_read_returns_state_and_delete_is_harmless():
    provider = PackstackAnswersProvider()
    created = provider.create(dict(ANSWERS))
    read = provider.read(created.id, created.outs)
    assert read.id == created.id and read.outs == created.outs
    assert provider.delete(created.id, created.outs) is None


# Packstack's prescript option an earlier lab answered with the old computes on a scale-out (issue 17 item 4).
EXCLUDE = "EXCLUDE_SERVERS"


TUNNEL = {"CONFIG_NEUTRON_OVN_TUNNEL_SUBNETS": "10.0.0.0/24"}


LAB = {**ANSWERS, "CONFIG_NETWORK_HOSTS": "10.0.0.10", **TUNNEL}


def stored(provider, answers):
    """What the engine keeps after an up: the checked inputs and the outputs."""
    inputs = provider.check({}, dict(answers)).inputs
    return inputs, provider.create(inputs).outs


def scale(olds_inputs, olds_outs, news, provider=None):
    """preview/up of `news` on a stack holding olds: checked inputs, and the diff's changed keys."""
    provider = provider or PackstackAnswersProvider()
    checked = provider.check(olds_inputs, dict(news)).inputs
    return checked, changed_keys(olds_outs, checked), provider.diff("id", olds_outs, checked).changes


THREE = {**LAB, "CONFIG_COMPUTE_HOSTS": "10.0.0.11,10.0.0.12,10.0.0.13"}


def scaled_out(provider):
    """A stack after `up` of the scale-out 2 -> 3 computes: its checked inputs and outputs."""
    inputs, outs = stored(provider, LAB)
    checked, _, _ = scale(inputs, outs, THREE, provider)
    return checked, provider.update("id", outs, checked).outs


def test_adding_a_compute_changes_only_the_computes_and_reruns_packstack():
    provider = PackstackAnswersProvider()
    inputs, outs = stored(provider, LAB)
    checked, keys, changes = scale(inputs, outs, THREE, provider)
    assert keys == ["CONFIG_COMPUTE_HOSTS"] and changes is True
    assert EXCLUDE not in checked
    outs2 = provider.update("id", outs, checked).outs
    lines = outs2["answer_file"].splitlines()
    assert "CONFIG_COMPUTE_HOSTS=10.0.0.11,10.0.0.12,10.0.0.13" in lines
    assert not [line for line in lines if line.startswith(EXCLUDE)]  # Packstack's empty default: every server
    assert outs2["answer_file_sha256"] != outs["answer_file_sha256"]  # the Packstack run's trigger


@pytest.mark.parametrize("before, after", [
    ("10.0.0.11,10.0.0.12", "10.0.0.11,10.0.0.12,10.0.0.13"),  # computes added
    ("10.0.0.11,10.0.0.12", "10.0.0.11"),  # one removed
    ("10.0.0.11,10.0.0.12", "10.0.0.11,10.0.0.13"),  # one removed, one added
    ("10.0.0.10", "10.0.0.11"),  # all-in-one to the first compute
    ("10.0.0.10", "10.0.0.10,10.0.0.11"),  # a compute next to the all-in-one controller
])
def test_no_compute_change_answers_an_exclusion(before, after):
    inputs, outs = stored(PackstackAnswersProvider(), {**LAB, "CONFIG_COMPUTE_HOSTS": before})
    checked, keys, _ = scale(inputs, outs, {**LAB, "CONFIG_COMPUTE_HOSTS": after})
    assert keys == ["CONFIG_COMPUTE_HOSTS"] and EXCLUDE not in checked


def test_after_a_scale_out_a_no_change_preview_is_clean_and_the_next_one_is_the_computes_only():
    provider = PackstackAnswersProvider()
    checked, outs = scaled_out(provider)
    again, keys, changes = scale(checked, outs, THREE, provider)
    assert keys == [] and changes is False
    four = {**LAB, "CONFIG_COMPUTE_HOSTS": "10.0.0.11,10.0.0.12,10.0.0.13,10.0.0.14"}
    grown, keys, _ = scale(checked, outs, four, provider)
    assert keys == ["CONFIG_COMPUTE_HOSTS"] and EXCLUDE not in grown


def test_the_program_cannot_set_the_exclusion():
    provider = PackstackAnswersProvider()
    assert EXCLUDE not in provider.check({}, {**LAB, EXCLUDE: "10.0.0.11"}).inputs
    inputs, _ = stored(provider, LAB)
    assert EXCLUDE not in provider.check(inputs, {**THREE, EXCLUDE: "10.0.0.11,10.0.0.12"}).inputs


def excluded_scale_out(provider):
    """The state an earlier lab left after its scale-out 2 -> 3: inputs and outputs holding EXCLUDE_SERVERS
    with the old computes, and the line in the answer file (sorted, as that lab wrote it)."""
    exclusion = {EXCLUDE: "10.0.0.11,10.0.0.12"}
    inputs, outs = stored(provider, THREE)
    text = "".join(sorted([*outs["answer_file"].splitlines(keepends=True), f"{EXCLUDE}=10.0.0.11,10.0.0.12\n"]))
    outs = {**outs, **exclusion, "answer_file": text,
            "answer_file_sha256": hashlib.sha256(text.encode()).hexdigest()}
    return {**inputs, **exclusion}, outs


def test_a_stack_that_did_an_excluded_scale_out_drops_it_and_reruns_packstack_everywhere():
    """Its first preview after the upgrade shows `- EXCLUDE_SERVERS`; the update writes an answer file without it
    (a new hash: Packstack re-runs, on every server, which repairs migration); afterwards the stack is clean."""
    provider = PackstackAnswersProvider()
    inputs, outs = excluded_scale_out(provider)
    checked, keys, changes = scale(inputs, outs, THREE, provider)
    assert keys == [EXCLUDE] and changes is True
    assert EXCLUDE not in checked and checked["CONFIG_COMPUTE_HOSTS"] == THREE["CONFIG_COMPUTE_HOSTS"]
    repaired = provider.update("id", outs, checked).outs
    assert EXCLUDE not in repaired and EXCLUDE not in repaired["answer_file"]
    assert repaired["answer_file_sha256"] != outs["answer_file_sha256"]
    assert repaired["passwords"] == outs["passwords"]  # the same cloud, re-run
    assert repaired["answer_file"] == outs["answer_file"].replace(f"{EXCLUDE}=10.0.0.11,10.0.0.12\n", "")
    _, keys, changes = scale(checked, repaired, THREE, provider)
    assert keys == [] and changes is False


def test_an_excluded_stack_changing_another_answer_drops_the_exclusion_too():
    provider = PackstackAnswersProvider()
    inputs, outs = excluded_scale_out(provider)
    checked, keys, _ = scale(inputs, outs, {**THREE, "CONFIG_HEAT_INSTALL": "y"}, provider)
    assert keys == ["CONFIG_HEAT_INSTALL", EXCLUDE] and EXCLUDE not in checked


def test_a_stack_without_tunnel_subnets_adopts_them_only_with_another_change():
    """Stacks made before the lab wrote the tunnel subnets: a no-change preview stays clean; any Packstack
    run (a scale-out, another answer) brings them along."""
    old = {k: v for k, v in LAB.items() if k not in TUNNEL}
    inputs, outs = stored(PackstackAnswersProvider(), old)
    same, keys, changes = scale(inputs, outs, LAB)
    assert keys == [] and changes is False and not set(TUNNEL) & set(same)
    grown, keys, _ = scale(inputs, outs, THREE)
    assert keys == ["CONFIG_COMPUTE_HOSTS", *TUNNEL] and EXCLUDE not in grown
    _, keys, _ = scale(inputs, outs, {**LAB, "CONFIG_HEAT_INSTALL": "y"})
    assert keys == sorted(["CONFIG_HEAT_INSTALL", *TUNNEL])


def test_an_unknown_answer_in_preview_is_a_change():
    old = {k: v for k, v in LAB.items() if k not in TUNNEL}
    checked = PackstackAnswersProvider().check(old, {**LAB, "CONFIG_HEAT_INSTALL": UNKNOWN}).inputs
    assert checked["CONFIG_HEAT_INSTALL"] == UNKNOWN and set(TUNNEL) <= set(checked)


def test_check_keeps_the_non_answer_properties():
    news = {**LAB, "passwords": None, "answer_file": None, "__provider": "pickled"}
    checked = PackstackAnswersProvider().check({}, news).inputs
    assert checked["__provider"] == "pickled" and "passwords" in checked and "answer_file" in checked

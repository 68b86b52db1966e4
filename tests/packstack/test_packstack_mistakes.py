"""The study's answer mistakes (shared/reference/packstack-dry-run.md section 3), put into the lines the lab
feeds to packstack-answers.sh past the config reader: each passes packstack-answers.sh; three stop Packstack's
dry-run with its own message, the two Puppet alone refuses leave a finished dry-run for the catalog compile."""
from __future__ import annotations

import pytest

from answer_sets import MISTAKE_SETS, SUCCESS
from dryrun import same_answer

REFUSED = [s for s in MISTAKE_SETS if s.expect_error]
COMPILE_ONLY = [s for s in MISTAKE_SETS if not s.expect_error]


def test_every_study_mistake_has_a_set():
    injected = {k for s in MISTAKE_SETS for k in s.inject}
    assert {"CONFIG_NOVA_MANAGE_FLAVORS", "CONFIG_NEUTRON_OVN_BRIDGE_MAPPINGS", "CONFIG_CINDER_VOLUMES_SIZE",
            "CONFIG_SERVICE_WORKERS", "CONFIG_NEUTRON_ML2_VNI_RANGES"} <= injected
    assert len(REFUSED) >= 3 and len(COMPILE_ONLY) >= 2


@pytest.mark.parametrize("mistake", REFUSED, ids=[s.name for s in REFUSED])
def test_packstack_refuses_the_mistake_with_its_message(packstack_runs, mistake):
    run = packstack_runs[mistake.name]
    for key, value in mistake.inject.items():  # packstack-answers.sh let it through to the answer file
        assert run.answers[key] == value, key
    assert run.rc != 0 and SUCCESS not in run.output, run.summary()
    assert mistake.expect_error in run.output, run.summary()


@pytest.mark.parametrize("mistake", COMPILE_ONLY, ids=[s.name for s in COMPILE_ONLY])
def test_the_dry_run_passes_what_only_puppet_refuses_and_hands_it_on(packstack_runs, mistake):
    run = packstack_runs[mistake.name]
    assert run.ok, run.summary()
    data = run.hieradata_values()
    for key, value in mistake.inject.items():
        assert key in data and same_answer(data[key], value), f"{key} does not reach hieradata as given"

"""The lab's answer sets through the real Packstack 26.0.0 `--dry-run`: every validator and plugin step runs
against the nodes' addresses in the tier's sandbox; only `puppet apply` is skipped (puppet_950.py).

Each set must end in Packstack's success line with rc 0 and leave, for the hosts the lab's plan gives each
role, exactly Packstack's manifests, and hieradata that carries the lab's answers and the provider's passwords.
"""
from __future__ import annotations

import pytest

from lab.plan import plan
from providers.packstack_answers import PASSWORD_KEYS

from answer_sets import LAB_SETS, SUCCESS, lab_config
from dryrun import same_answer

LAB_SET_NAMES = [s.name for s in LAB_SETS]
# Passwords of the services every lab installs (Packstack's defaults the lab keeps).
CORE_PASSWORDS = ("CONFIG_KEYSTONE_ADMIN_PW", "CONFIG_KEYSTONE_DB_PW", "CONFIG_MARIADB_PW", "CONFIG_GLANCE_DB_PW",
                  "CONFIG_GLANCE_KS_PW", "CONFIG_NOVA_DB_PW", "CONFIG_NOVA_KS_PW", "CONFIG_NEUTRON_DB_PW",
                  "CONFIG_NEUTRON_KS_PW", "CONFIG_NEUTRON_METADATA_PW", "CONFIG_CINDER_DB_PW", "CONFIG_CINDER_KS_PW",
                  "CONFIG_SWIFT_KS_PW")


def expected_roles(answer_set_name: str) -> dict[str, frozenset[str]]:
    """Roles per host from the lab's plan (not from the answers): the controller is the network host,
    every other lab node a compute; without computes the controller is the compute too."""
    last = next(s for s in LAB_SETS if s.name == answer_set_name).stages[-1]
    lab_plan = plan(lab_config(last))
    controller = lab_plan.controller.management_ip
    computes = [n.management_ip for n in lab_plan.nodes if n.role == "compute"]
    roles = {controller: frozenset({"controller", "network"} | ({"compute"} if not computes else set()))}
    roles.update({ip: frozenset({"compute"}) for ip in computes})
    return roles


def manifests_for(hosts: dict[str, frozenset[str]]) -> set[str]:
    """Packstack's manifest files for these roles (puppet_950.py prepare_puppet_modules)."""
    names = set()
    for ip, roles in hosts.items():
        if "controller" in roles:
            names |= {f"{ip}_controller.pp", f"{ip}_controller_post.pp"}
        names |= {f"{ip}_{role}.pp" for role in ("network", "compute") if role in roles}
    return names


@pytest.mark.parametrize("name", LAB_SET_NAMES)
def test_the_lab_set_ends_in_packstacks_success_line(packstack_runs, name):
    run = packstack_runs[name]
    assert run.rc == 0 and SUCCESS in run.output, run.summary()


@pytest.mark.parametrize("name", LAB_SET_NAMES)
def test_manifests_are_written_for_the_hosts_of_each_role(packstack_runs, name):
    run = packstack_runs[name]
    assert run.ok, run.summary()
    roles = {ip: r - {"excluded"} for ip, r in run.hosts.items()}
    assert roles == expected_roles(name)
    written = {p.name for p in run.manifests.glob("*.pp")}
    assert written == manifests_for(roles)


@pytest.mark.parametrize("name", LAB_SET_NAMES)
def test_hieradata_carries_the_lab_answers_and_the_providers_passwords(packstack_runs, name):
    run = packstack_runs[name]
    assert run.ok, run.summary()
    data = run.hieradata_values()
    differing = sorted(k for k, v in run.lab_answers.items() if k not in data or not same_answer(data[k], v))
    assert not differing, f"hieradata differs from the lab's answers for {differing}"
    # The provider's passwords (what every re-run must keep) for each service Packstack reads: it keeps a
    # read password in its rewrite of the answer file; one of a service not installed goes back to its default.
    assert all(k in run.answers for k in PASSWORD_KEYS)
    read = [k for k in PASSWORD_KEYS if run.answers_rewritten.get(k) == run.answers[k]]
    assert set(CORE_PASSWORDS) <= set(read), f"Packstack did not read {sorted(set(CORE_PASSWORDS) - set(read))}"
    wrong = [k for k in read if k not in data or str(data[k]) != run.answers[k]]
    assert not wrong, f"hieradata's passwords differ from the provider's for {wrong}"


def test_all_in_one_runs_packstacks_local_steps_with_the_stand_ins(packstack_runs):
    # One host: Packstack installs the SSH key locally as root (prescript_000.py install_keys) instead of over SSH.
    run = packstack_runs["all_in_one"]
    assert run.ok, run.summary()
    log = (run.run_dir / "openstack-setup.log").read_text()
    assert "[localhost] Executing script:\nmkdir -p ~/.ssh" in log


def test_data_disks_put_cinder_on_the_labs_volume_group_and_swift_on_the_second_disk(packstack_runs):
    run = packstack_runs["data_disks"]
    assert run.ok, run.summary()
    data = run.hieradata_values()
    # CONFIG_CINDER_VOLUMES_CREATE=n passes only because vgdisplay finds the group (cinder_250.py check_cinder_vg)
    assert (data["CONFIG_CINDER_VOLUMES_CREATE"], data["CONFIG_CINDER_VOLUME_NAME"]) == ("n", "cinder-volumes")
    assert (data["CONFIG_SWIFT_STORAGES"], data["CONFIG_SWIFT_STORAGE_FSTYPE"]) == ("/dev/vdc", "xfs")
    assert "vgdisplay cinder-volumes" in (run.run_dir / "openstack-setup.log").read_text()


def test_the_scale_out_runs_on_the_grown_lab_with_the_first_runs_passwords(packstack_runs):
    run = packstack_runs["scale_out"]
    assert run.ok, run.summary()
    grown = expected_roles("scale_out")
    assert set(run.answers["CONFIG_COMPUTE_HOSTS"].split(",")) == {ip for ip, r in grown.items() if r == {"compute"}}
    # Whatever the lab decides about skipping servers reaches Packstack as it decided.
    excluded = {ip for ip, roles in run.hosts.items() if "excluded" in roles}
    assert excluded == {h for h in run.lab_answers.get("EXCLUDE_SERVERS", "").split(",") if h}
    # the answer file generated once on the controller, edited again; the provider kept every password
    # (both runs' password values are one set)
    assert "generating the answer file" not in run.answers_output
    assert len(run.passwords) == len(PASSWORD_KEYS)


def test_user_answers_turn_services_on_with_three_workers(packstack_runs):
    run = packstack_runs["user_answers"]
    assert run.ok, run.summary()
    data = run.hieradata_values()
    assert {k: data[k] for k in ("CONFIG_CEILOMETER_INSTALL", "CONFIG_AODH_INSTALL", "CONFIG_HEAT_INSTALL")} == \
        {"CONFIG_CEILOMETER_INSTALL": "y", "CONFIG_AODH_INSTALL": "y", "CONFIG_HEAT_INSTALL": "y"}
    assert str(data["CONFIG_SERVICE_WORKERS"]) == "3"
    # the services turned on get the provider's passwords too (off, Packstack never reads them)
    turned_on = ("CONFIG_AODH_KS_PW", "CONFIG_AODH_DB_PW", "CONFIG_CEILOMETER_KS_PW", "CONFIG_HEAT_KS_PW",
                 "CONFIG_HEAT_DB_PW", "CONFIG_HEAT_DOMAIN_PASSWORD")
    wrong = [k for k in turned_on if str(data.get(k)) != run.answers[k]]
    assert not wrong, f"hieradata lacks the provider's passwords for {wrong}"

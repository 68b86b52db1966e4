"""Packstack answers the lab writes: right keys for each L2 agent, all known to Packstack."""
import pytest

from harness import WITH_EXISTING, lab_config
from lab.packstack_facts import LAB_DEFAULT_ANSWERS, packstack_options
from lab.plan import plan


def test_hosts_follow_the_node_set():
    config = lab_config(dict(managementCidr="10.1.2.0/24", externalCidr="10.1.3.0/24", computeCount=2))
    answers = plan(config).answers
    assert answers["CONFIG_CONTROLLER_HOST"] == "10.1.2.10"
    assert answers["CONFIG_NETWORK_HOSTS"] == "10.1.2.10"
    assert answers["CONFIG_COMPUTE_HOSTS"] == "10.1.2.11,10.1.2.12"


def test_all_in_one_computes_on_the_controller():
    answers = plan(lab_config(dict(managementCidr="10.1.2.0/24", externalCidr="10.1.3.0/24", computeCount=0))).answers
    assert answers["CONFIG_COMPUTE_HOSTS"] == "10.1.2.10"


@pytest.mark.parametrize("agent, twin, other, type_drivers", [
    ("ovn", "OVN", "OVS", "geneve,flat"),
    ("openvswitch", "OVS", "OVN", "vxlan,flat"),
])
def test_l2_agent_answers_map_extnet_to_br_ex_on_eth1(agent, twin, other, type_drivers):
    answers = plan(lab_config(dict(l2Agent=agent))).answers
    assert answers["CONFIG_NEUTRON_L2_AGENT"] == agent
    assert answers[f"CONFIG_NEUTRON_{twin}_BRIDGE_MAPPINGS"] == "extnet:br-ex"
    assert answers[f"CONFIG_NEUTRON_{twin}_BRIDGE_IFACES"] == "br-ex:eth1"
    assert answers[f"CONFIG_NEUTRON_{twin}_BRIDGES_COMPUTE"] == "br-ex"
    assert answers["CONFIG_NEUTRON_ML2_TYPE_DRIVERS"] == type_drivers
    assert not any(k.startswith(f"CONFIG_NEUTRON_{other}_") for k in answers)


def test_demo_is_off_and_ssh_key_is_the_controllers_root_key():
    answers = plan(lab_config()).answers
    assert answers["CONFIG_PROVISION_DEMO"] == "n"
    assert answers["CONFIG_SSH_KEY"] == "/root/.ssh/id_ed25519.pub"


def test_extra_answers_are_included():
    extra = {"CONFIG_HEAT_INSTALL": "y", "CONFIG_NEUTRON_ML2_TYPE_DRIVERS": "geneve,flat,vlan"}
    answers = plan(lab_config(dict(packstackAnswers=extra))).answers
    assert answers["CONFIG_HEAT_INSTALL"] == "y"
    assert answers["CONFIG_NEUTRON_ML2_TYPE_DRIVERS"] == "geneve,flat,vlan"


@pytest.mark.parametrize("agent", ["ovn", "openvswitch"])
def test_every_written_key_is_a_packstack_option(agent):
    known = packstack_options()
    assert set(plan(lab_config(dict(l2Agent=agent))).answers) <= known


def test_removed_nagios_keys_are_never_written():
    assert not any("NAGIOS" in k for k in plan(lab_config()).answers)
    assert not any("NAGIOS" in k for k in packstack_options())


def test_defaults_trim_packstack_to_fit_the_lab_controller():
    # Packstack's multinode CI: --service-workers=2, no Ceilometer, no Aodh.
    answers = plan(lab_config()).answers
    assert answers["CONFIG_SERVICE_WORKERS"] == "2"
    assert answers["CONFIG_CEILOMETER_INSTALL"] == "n" and answers["CONFIG_AODH_INSTALL"] == "n"
    assert set(LAB_DEFAULT_ANSWERS) <= packstack_options()


def test_users_turn_trimmed_services_back_on():
    answers = plan(lab_config(dict(packstackAnswers={"CONFIG_CEILOMETER_INSTALL": "y"},
                                   controller={"memoryMiB": 12288}))).answers
    assert answers["CONFIG_CEILOMETER_INSTALL"] == "y"


@pytest.mark.parametrize("agent, twin", [("ovn", "OVN"), ("openvswitch", "OVS")])
def test_tunnels_are_accepted_from_the_whole_management_network(agent, twin):
    # One iptables rule for the lab's management network instead of one per peer (Packstack: neutron_350.py:753-791);
    # stacks hold it since issue 11, so it stays (providers/packstack_answers.py DEFERRED_KEYS).
    answers = plan(lab_config(dict(l2Agent=agent, managementCidr="10.1.2.0/24", externalCidr="10.1.3.0/24"))).answers
    assert answers[f"CONFIG_NEUTRON_{twin}_TUNNEL_SUBNETS"] == "10.1.2.0/24"


# -- data disks: Cinder and Swift ------------------------------------------------------------------------
def test_answers_without_data_disks_keep_packstacks_loopback_files():
    answers = plan(lab_config({})).answers
    assert not {"CONFIG_CINDER_VOLUMES_CREATE", "CONFIG_SWIFT_STORAGES", "CONFIG_SWIFT_STORAGE_FSTYPE"} & set(answers)


@pytest.mark.parametrize("disks, extra, expected", [
    ([40], {}, {"CONFIG_CINDER_VOLUMES_CREATE": "n", "CONFIG_CINDER_VOLUME_NAME": "cinder-volumes"}),
    ([40, 20, 5], {}, {"CONFIG_CINDER_VOLUMES_CREATE": "n", "CONFIG_CINDER_VOLUME_NAME": "cinder-volumes",
                       "CONFIG_SWIFT_STORAGES": "/dev/vdc", "CONFIG_SWIFT_STORAGE_FSTYPE": "xfs"}),
    ([20], {"CONFIG_CINDER_INSTALL": "n"}, {"CONFIG_SWIFT_STORAGES": "/dev/vdb", "CONFIG_SWIFT_STORAGE_FSTYPE": "xfs"}),
    ([20, 20], {"CONFIG_CINDER_INSTALL": "n", "CONFIG_SWIFT_INSTALL": "n"}, {}),
])
def test_answers_with_data_disks(disks, extra, expected):
    import json

    raw = {"controller": json.dumps({"dataDisksGiB": disks}), "packstackAnswers": json.dumps(extra)}
    answers = plan(lab_config(raw)).answers
    storage = {k: v for k, v in answers.items() if k in (
        "CONFIG_CINDER_VOLUMES_CREATE", "CONFIG_CINDER_VOLUME_NAME", "CONFIG_SWIFT_STORAGES",
        "CONFIG_SWIFT_STORAGE_FSTYPE")}
    assert storage == expected
    assert set(answers) <= packstack_options()  # every key is one the pinned `packstack -o` lists


# -- several hosts ---------------------------------------------------------------------------------------
def test_answers_list_every_compute_of_every_host_and_the_existing_machines():
    from lab.plan import plan

    answers = plan(lab_config(WITH_EXISTING, secrets=("sshPrivateKey",))).answers
    assert answers["CONFIG_COMPUTE_HOSTS"].split(",") == ["10.40.0.11", "10.40.0.51", "10.40.0.52", "10.40.0.200"]
    assert answers["CONFIG_CONTROLLER_HOST"] == "10.40.0.10"

"""The config model: defaults, and one clear problem per bad input, naming the key."""
import dataclasses
import json

import pytest

from harness import (
    BASE, BRIDGE, CLOUD, HOSTS, HOST_B, HOST_KEY, LAN, LOGIN, PROJECT, TWO_HOSTS, WITH_EXISTING, config_problems,
    lab_config,
)
from labtest import ROOT
from lab.config import ConfigError, parse, read_overlay
from lab.config.profiles import OVERLAY_ENV

# The engine and e2e tiers' overlay: the Debian test guest's prep profile and its minimum sizes.
DEBIAN_TEST = read_overlay({OVERLAY_ENV: str(ROOT / "tests/support/overlay/debian-test.yaml")})


def test_defaults_describe_the_classic_three_node_lab():
    cfg = lab_config({})
    assert cfg.node_names == ["controller", "compute1", "compute2"]
    assert cfg.libvirt_uri == "qemu:///system"
    assert cfg.hypervisor == "kvm"
    assert cfg.openstack_release == "epoxy"
    assert cfg.l2_agent == "ovn"
    assert cfg.os_flavor == "centos-stream"
    assert cfg.stop_after == "demo"
    assert cfg.base_image.endswith(".qcow2") and "centos" in cfg.base_image.lower()
    assert cfg.controller.memory_mib >= 8192 and cfg.compute.memory_mib >= 2048


def test_config_is_immutable():
    cfg = lab_config({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.compute_count = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        cfg.packstack_answers["CONFIG_HEAT_INSTALL"] = "y"  # type: ignore[index]


def test_values_arrive_as_strings_like_pulumi_stores_them():
    cfg = lab_config({"computeCount": "3", "controller": '{"vcpus": 8, "memoryMiB": 16384, "diskGiB": 80}',
              "packageUpdate": "true", "dnsServers": '["9.9.9.9"]'})
    assert cfg.compute_count == 3
    assert cfg.controller.vcpus == 8 and cfg.controller.memory_mib == 16384
    assert cfg.package_update is True
    assert cfg.dns_servers == ("9.9.9.9",)


def test_partial_size_keeps_other_defaults():
    cfg = lab_config({"compute": {"memoryMiB": 6144}})
    assert cfg.compute.memory_mib == 6144 and cfg.compute.vcpus == 2 and cfg.compute.disk_gib == 20


def test_derived_networks_are_inside_the_supernet_and_disjoint():
    import ipaddress

    cfg = lab_config({})
    supernet = ipaddress.ip_network(cfg.supernet)
    mgmt, ext = ipaddress.ip_network(cfg.management_cidr), ipaddress.ip_network(cfg.external_cidr)
    assert mgmt.subnet_of(supernet) and ext.subnet_of(supernet)
    assert not mgmt.overlaps(ext)


def test_two_stacks_get_disjoint_default_networks():
    import ipaddress

    a, b = lab_config({}, stack="alice"), lab_config({}, stack="bob")
    nets_a = [ipaddress.ip_network(a.management_cidr), ipaddress.ip_network(a.external_cidr)]
    nets_b = [ipaddress.ip_network(b.management_cidr), ipaddress.ip_network(b.external_cidr)]
    assert not any(x.overlaps(y) for x in nets_a for y in nets_b)


def test_default_pool_and_gateway_are_consistent():
    cfg = lab_config({"externalCidr": "172.24.4.0/24"})
    assert cfg.external_gateway == "172.24.4.1"
    assert (cfg.external_pool.start, cfg.external_pool.end) == ("172.24.4.128", "172.24.4.254")


def test_pool_outside_cidr_names_the_key():
    found = config_problems({"externalCidr": "172.24.4.0/24",
                             "externalPool": {"start": "172.24.5.10", "end": "172.24.4.200"}})
    assert "externalPool.start" in found and "outside externalCidr" in found["externalPool.start"]
    assert "externalPool.end" not in found


def test_gateway_inside_pool_is_rejected():
    found = config_problems({"externalCidr": "172.24.4.0/24", "externalGateway": "172.24.4.150"})
    assert "inside externalPool" in found["externalGateway"]


def test_reversed_pool_is_rejected():
    found = config_problems({"externalCidr": "172.24.4.0/24",
                      "externalPool": {"start": "172.24.4.200", "end": "172.24.4.100"}})
    assert "swap" in found["externalPool"]


def test_overlapping_networks_are_rejected():
    found = config_problems({"managementCidr": "10.1.0.0/24", "externalCidr": "10.1.0.0/25"})
    assert "overlaps managementCidr" in found["externalCidr"]
    found = config_problems({"managementCidr": "10.1.0.0/24", "externalCidr": "10.2.0.0/24",
                             "privateCidr": "10.1.0.128/25"})
    assert "overlaps managementCidr" in found["privateCidr"]


def test_node_addresses_must_fit_the_management_network():
    found = config_problems({"managementCidr": "10.1.0.0/28", "externalCidr": "10.2.0.0/24", "computeCount": 5})
    assert "no room for node addresses from .10 to .15" in found["managementCidr"]
    assert lab_config({"managementCidr": "10.1.0.0/28", "externalCidr": "10.2.0.0/24", "computeCount": 4})


def test_negative_compute_count_is_rejected():
    assert "negative" in config_problems({"computeCount": -1})["computeCount"]


def test_zero_computes_is_an_all_in_one():
    assert lab_config({"computeCount": 0}).node_names == ["controller"]


def test_non_numeric_compute_count_is_rejected():
    assert "whole number" in config_problems({"computeCount": "many"})["computeCount"]


def test_memory_below_role_minimum_names_role_and_minimum():
    found = config_problems({"controller": {"memoryMiB": 2048}, "compute": {"memoryMiB": 1024}})
    assert "2048 MiB is below the 6144 MiB the controller needs" in found["controller.memoryMiB"]
    assert "2048" in found["compute.memoryMiB"]


def test_default_controller_fits_the_default_packstack_services():
    cfg = lab_config({})
    assert cfg.package_update is True  # RDO's documented path: a full update once the repo is added
    for all_in_one in ({}, {"computeCount": 0}):
        lab_config(all_in_one)  # 8192 MiB holds the trimmed service set, with or without a compute on it


def test_turning_services_back_on_raises_the_controller_memory_need():
    found = config_problems({"packstackAnswers": {"CONFIG_CEILOMETER_INSTALL": "y", "CONFIG_AODH_INSTALL": "y",
                                           "CONFIG_SERVICE_WORKERS": "4"}})
    message = found["controller.memoryMiB"]
    assert list(found) == ["controller.memoryMiB"]  # one problem, one message
    assert "8192 MiB is below the 9216 MiB" in message
    assert "CONFIG_CEILOMETER_INSTALL=y 1536" in message and "CONFIG_AODH_INSTALL=y 512" in message
    assert "4 service workers 1024" in message and "raise controller.memoryMiB to at least 9216" in message
    lab_config({"packstackAnswers": {"CONFIG_CEILOMETER_INSTALL": "y", "CONFIG_AODH_INSTALL": "y",
                             "CONFIG_SERVICE_WORKERS": "4"},
        "controller": {"memoryMiB": 9216}})


def test_packstack_default_workers_follow_the_controller_cpus():
    # Packstack's own default is one worker per CPU (%{::processorcount}).
    found = config_problems({"packstackAnswers": {"CONFIG_SERVICE_WORKERS": "%{::processorcount}"},
                      "controller": {"vcpus": 8}})
    assert "8 service workers 3072" in found["controller.memoryMiB"]


def test_all_in_one_controller_needs_room_for_guests():
    found = config_problems({"computeCount": 0, "controller": {"memoryMiB": 7168}})
    assert "all-in-one compute 2048" in found["controller.memoryMiB"]


def test_existing_cloud_and_debian_test_profile_skip_the_packstack_memory_rule():
    lab_config({"stopAfter": "prep", "controller": {"vcpus": 1, "memoryMiB": 768, "diskGiB": 3}}, overlay=DEBIAN_TEST)


def test_debian_test_profile_allows_tiny_nodes():
    cfg = lab_config({"stopAfter": "prep",
              "controller": {"vcpus": 1, "memoryMiB": 768, "diskGiB": 3},
              "compute": {"vcpus": 1, "memoryMiB": 768, "diskGiB": 3}}, overlay=DEBIAN_TEST)
    assert cfg.controller.memory_mib == 768
    assert cfg.prep_profile.name == "debian-test" and cfg.prep_profile.script.endswith("/overlay/prep-debian-test.sh")


def test_debian_test_profile_cannot_apply_packstack():
    assert "cannot run Packstack" in config_problems({}, overlay=DEBIAN_TEST)["stopAfter"]


def test_prep_profile_is_no_stack_config_key_and_names_the_overlay():
    message = config_problems({"prepProfile": "debian-test"})["prepProfile"]
    assert OVERLAY_ENV in message and "tests/support/overlay/debian-test.yaml" in message


def test_without_an_overlay_every_node_gets_the_el9_prep():
    assert lab_config({}).prep_profile.script == "prep-el9.sh"


def test_overlay_problems_are_reported_like_config_problems():
    found = config_problems({}, overlay={"prepProfile": "nope", "prepProfiles": {"x": {"script": "relative.sh"}},
                                         "y": 1})
    assert "overlay.y" in found and "overlay.prepProfiles.x" in found
    assert "el9" in found["overlay.prepProfile"]


def test_overlay_file_is_read_only_through_the_environment_variable(tmp_path):
    assert read_overlay({}) == {}
    (tmp_path / "o.yaml").write_text("prepProfiles: {t: {script: t.sh}}\nprepProfile: t\n")
    overlay = read_overlay({OVERLAY_ENV: str(tmp_path / "o.yaml")})
    assert overlay["prepProfiles"]["t"]["script"] == str(tmp_path / "t.sh")
    with pytest.raises(ConfigError):
        read_overlay({OVERLAY_ENV: str(tmp_path / "missing.yaml")})


def test_rhel_without_credentials_names_both_keys():
    found = config_problems({"osFlavor": "rhel"})
    assert "rhelUsername" in found and "rhelPassword" in found


def test_rhel_with_credentials_keeps_password_secret():
    cfg = lab_config({"osFlavor": "rhel", "rhelUsername": "me", "rhelPassword": "s3cret-value"},
                     secrets=("rhelPassword",))
    assert cfg.rhel.username == "me"
    assert cfg.rhel.password.value == "s3cret-value"
    assert "s3cret-value" not in repr(cfg)


def test_plain_text_secret_is_rejected():
    found = config_problems({"osFlavor": "rhel", "rhelUsername": "me", "rhelPassword": "plain"})
    assert "--secret rhelPassword" in found["rhelPassword"]


def test_unknown_choices_list_the_valid_ones():
    found = config_problems({"hypervisor": "xen", "openstackRelease": "zed", "l2Agent": "linuxbridge",
                             "osFlavor": "ubuntu"})
    assert "kvm, qemu" in found["hypervisor"]
    assert "epoxy" in found["openstackRelease"]
    assert "ovn, openvswitch" in found["l2Agent"]
    assert "centos-stream, rhel" in found["osFlavor"]


def test_all_releases_antelope_to_epoxy_are_accepted():
    for release in ("antelope", "bobcat", "caracal", "dalmatian", "epoxy"):
        assert lab_config({"openstackRelease": release}).openstack_release == release


def test_unknown_key_is_reported():
    assert "unknown key" in config_problems({"computeCont": 3})["computeCont"]


def test_unknown_packstack_answer_is_rejected():
    found = config_problems({"packstackAnswers": {"CONFIG_NAGIOS_INSTALL": "n", "CONFIG_NOT_A_KEY": "y"}})
    assert "Packstack removed it" in found["packstackAnswers.CONFIG_NAGIOS_INSTALL"]
    assert "packstack -o" in found["packstackAnswers.CONFIG_NOT_A_KEY"]


def test_lab_managed_answer_points_to_the_lab_key():
    found = config_problems({"packstackAnswers": {"CONFIG_COMPUTE_HOSTS": "1.2.3.4"}})
    assert "computeCount" in found["packstackAnswers.CONFIG_COMPUTE_HOSTS"]


def test_valid_extra_answers_are_kept_as_strings():
    cfg = lab_config({"packstackAnswers": {"CONFIG_HEAT_INSTALL": True, "CONFIG_SERVICE_WORKERS": 2}})
    assert dict(cfg.packstack_answers) == {"CONFIG_HEAT_INSTALL": "y", "CONFIG_SERVICE_WORKERS": "2"}


def test_ssh_keys_come_in_pairs():
    found = config_problems({"sshPublicKey": "ssh-ed25519 AAAAC3Nza me"})
    assert "sshPrivateKey" in found


def test_malformed_public_key_is_rejected():
    found = config_problems({"sshPublicKey": "not a key", "sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n"},
                     secrets=("sshPrivateKey",))
    assert "OpenSSH public key" in found["sshPublicKey"]


def test_missing_local_base_image_is_reported():
    found = config_problems({"baseImage": "/nonexistent/image.qcow2"}, exists=lambda p: False)
    assert "does not exist" in found["baseImage"]


def test_bad_cidr_is_reported_with_example():
    found = config_problems({"managementCidr": "10.1.0.5/24", "externalCidr": "10.2.0.0/24"})
    assert "CIDR form" in found["managementCidr"]


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as info:
        parse({"computeCount": -2, "hypervisor": "xen", "l2Agent": "x"}, PROJECT, "alice")
    assert len(info.value.problems) == 3
    message = str(info.value)
    assert "openstack-lab:computeCount" in message and "openstack-lab:hypervisor" in message


def test_existing_cloud_needs_a_secret_password():
    found = config_problems({"cloud": {"authUrl": "http://127.0.0.1:5000/v3"}})
    assert "cloudPassword" in found


def test_existing_cloud_rejects_password_in_the_object():
    found = config_problems({"cloud": {"authUrl": "http://k:5000/v3", "password": "x"}, "cloudPassword": "y"},
                     secrets=("cloudPassword",))
    assert "cloud.password" in found


def test_existing_cloud_mode_parses_credentials():
    cfg = lab_config({"cloud": {"authUrl": "http://127.0.0.1:15000/v3/", "region": "Lab"}, "cloudPassword": "pw"},
             secrets=("cloudPassword",))
    assert cfg.existing_cloud
    assert cfg.cloud.auth_url == "http://127.0.0.1:15000/v3"
    assert cfg.cloud.region == "Lab" and cfg.cloud.username == "admin"


def test_stages_run_up_to_stop_after():
    cfg = lab_config({"stopAfter": "prep"})
    assert cfg.runs("nodes") and cfg.runs("prep")
    assert not cfg.runs("answers") and not cfg.runs("packstack") and not cfg.runs("networking")


def test_boot_settings_need_a_kernel():
    found = config_problems({"boot": {"initrd": "/boot/initrd.img"}})
    assert "boot.kernel" in found


def _pair():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return public.decode(), private


def test_ssh_key_halves_must_belong_together():
    public, private = _pair()
    other_public, _ = _pair()
    lab_config({"sshPublicKey": public + " alice@laptop", "sshPrivateKey": private}, secrets=("sshPrivateKey",))
    found = config_problems({"sshPublicKey": other_public, "sshPrivateKey": private}, secrets=("sshPrivateKey",))
    assert list(found) == ["sshPublicKey"] and "does not belong to sshPrivateKey" in found["sshPublicKey"]
    assert "ssh-keygen -y" in found["sshPublicKey"]


@pytest.mark.parametrize("uri, fragment", [
    ("http://host/system", "not a libvirt QEMU URI"),
    ("xen:///system", "not a libvirt QEMU URI"),
    ("qemu://host", "path must be /system"),
    ("qemu+ssh://root@host2/", "path must be /system"),
    ("/var/run/libvirt/libvirt-sock", "not a libvirt QEMU URI"),
    # Transports libvirt has but the libvirt provider does not implement.
    ("qemu+libssh://root@host2/system", "not a libvirt QEMU URI the libvirt provider opens"),
    ("qemu+ext:///system?command=/bin/x", "not a libvirt QEMU URI the libvirt provider opens"),
    # qemu+ssh as the provider reads it (lab/libvirt_ssh.py).
    ("qemu+ssh://host2/system", "names no user"),
    ("qemu+ssh://root@host2/system?known_hosts=/k", "reads knownhosts=PATH"),
    ("qemu+ssh://root@host2/system?knownhosts=~/.ssh/known_hosts", "must be an absolute path"),
    ("qemu+ssh://root@host2/system?keyfile=id_lab", "must be an absolute path"),
])
def test_libvirt_uri_needs_a_scheme_and_path_libvirt_accepts(uri, fragment):
    assert fragment in config_problems({"libvirtUri": uri})["libvirtUri"]


@pytest.mark.parametrize("uri", ["qemu:///system", "qemu:///session", "qemu+ssh://root@host2/system",
                                 "qemu+ssh://root@host2:2222/system?keyfile=~/.ssh/id_lab&knownhosts=$HOME/.ssh/lab_hosts",
                                 "qemu+unix:///system?socket=/tmp/x/libvirt-sock", "qemu+tls://host2/system"])
def test_libvirt_uris_users_have_are_accepted(uri):
    assert lab_config({"libvirtUri": uri}).libvirt_uri == uri


def test_base_image_urls_must_be_http():
    assert "only http(s) URLs" in config_problems({"baseImage": "ftp://mirror/centos.qcow2"})["baseImage"]
    assert "only http(s) URLs" in config_problems({"baseImage": "s3://bucket/centos.qcow2"})["baseImage"]


def test_lab_keys_are_refused_in_existing_cloud_mode():
    found = config_problems({"cloud": {"authUrl": "http://127.0.0.1:5000/v3"}, "cloudPassword": "pw",
                      "computeCount": 3, "packstackAnswers": {"CONFIG_HEAT_INSTALL": "y"}}, secrets=("cloudPassword",))
    assert set(found) == {"computeCount", "packstackAnswers"}
    assert all("has no effect with cloud.authUrl" in m for m in found.values())


def test_existing_cloud_mode_accepts_the_defaults_pulumi_hands_over():
    # Pulumi passes Pulumi.yaml's defaults as config values (as strings): they are not the user's settings.
    import yaml
    from labtest import ROOT

    schema = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    sent = {k: v["default"] if isinstance(v["default"], str) else json.dumps(v["default"]) for k, v in schema.items()}
    sent.update({"cloud": json.dumps({"authUrl": "http://127.0.0.1:5000/v3"}), "cloudPassword": "pw"})
    assert lab_config(sent, secrets=("cloudPassword",)).existing_cloud


# -- data disks and stage demo ---------------------------------------------------------------------------
def test_data_disks_default_to_none_and_follow_the_role_objects():
    assert lab_config({}).controller.data_disks_gib == () and lab_config({}).compute.data_disks_gib == ()
    c = lab_config({"controller": '{"dataDisksGiB": [40, "20"]}', "compute": '{"dataDisksGiB": 10}'})
    assert c.controller.data_disks_gib == (40, 20) and c.controller.disk_gib == 40
    assert c.compute.data_disks_gib == (10,)


def test_data_disk_sizes_must_be_positive():
    found = config_problems({"controller": '{"dataDisksGiB": [0, -1, "x"]}', "compute": '{"dataDisksGiB": {"a": 1}}'})
    assert {"controller.dataDisksGiB[0]", "controller.dataDisksGiB[1]", "controller.dataDisksGiB[2]",
            "compute.dataDisksGiB"} <= set(found)


def test_storage_answers_are_the_labs_while_the_disks_are_used():
    found = config_problems({"controller": '{"dataDisksGiB": [40, 20]}',
                      "packstackAnswers": '{"CONFIG_SWIFT_STORAGES": "/dev/sdb", "CONFIG_CINDER_VOLUMES_CREATE": "y"}'})
    assert "managed by the lab" in found["packstackAnswers.CONFIG_SWIFT_STORAGES"]
    assert "packstackAnswers.CONFIG_CINDER_VOLUMES_CREATE" in found
    # Without disks they stay the user's.
    assert lab_config({"packstackAnswers": '{"CONFIG_CINDER_VOLUMES_CREATE": "n"}'}).packstack_answers


def test_demo_defaults_cirros_with_its_published_checksum():
    demo = lab_config({}).demo
    assert demo.image == "https://download.cirros-cloud.net/0.6.3/cirros-0.6.3-x86_64-disk.img"
    assert demo.image_sha256 == "7d6355852aeb6dbcd191bcda7cd74f1536cfe5cbf8a10495a7283a8396e4b75b"
    assert [f.name for f in demo.flavors] == ["m1.nano", "m1.micro"] and not demo.instance
    assert lab_config({}).runs("demo") and not lab_config({"stopAfter": "networking"}).runs("demo")


def test_demo_rules():
    found = config_problems({"demo": '{"image": "https://example.org/x.img", "flavors": [{"name": "a", "vcpus": 0}], '
                              '"diskFormat": "vmdk", "publicKey": "nope", "waitSeconds": 0, "typo": 1}'})
    assert "sha256" in found["demo.imageSha256"]
    assert {"demo.flavors[0].vcpus", "demo.diskFormat", "demo.publicKey", "demo.waitSeconds", "demo.typo"} <= set(found)
    assert "demo.image" in config_problems({"demo": '{"image": "relative/file.img"}'})
    assert "demo.imageSha256" in config_problems({"demo": '{"image": "/srv/x.img", "imageSha256": "abc"}'})
    local = lab_config({"demo": '{"image": "/srv/x.img", "flavors": ["m1.small", {"name": "big", "vcpus": 2, '
                         '"ramMiB": "2048", "diskGiB": 10}]}', "demoInstance": "true"}).demo
    assert local.image_sha256 is None and local.instance
    assert local.flavors[0].existing and not local.flavors[1].existing and local.flavors[1].ram_mib == 2048


def test_existing_cloud_mode_takes_demo_and_stops_after_networking_or_demo():
    assert lab_config(CLOUD | {"demoInstance": "true"}, secrets=("cloudPassword",)).demo.instance
    assert "stopAfter" in config_problems(CLOUD | {"stopAfter": "packstack"}, secrets=("cloudPassword",))
    assert not lab_config(CLOUD | {"stopAfter": "networking"}, secrets=("cloudPassword",)).runs("demo")


# -- several hosts, bridge mode, existing machines: placement and one problem per key --------------------
def test_one_host_without_the_new_keys_is_placed_as_before():
    cfg = lab_config({"computeCount": 2})
    assert [(n.name, n.host, n.address) for n in cfg.placed_nodes] == [
        ("controller", 0, cfg.node_address("controller")), ("compute1", 0, cfg.node_address("compute1")),
        ("compute2", 0, cfg.node_address("compute2"))]
    assert cfg.network.mode == "nat" and cfg.lab_hosts[0].uri == cfg.libvirt_uri == "qemu:///system"


def test_computes_are_named_and_addressed_per_host():
    cfg = lab_config(TWO_HOSTS)
    assert [(n.name, n.host, n.address) for n in cfg.placed_nodes] == [
        ("controller", 0, "10.40.0.10"), ("compute1", 0, "10.40.0.11"),
        ("b-compute1", 1, "10.40.0.51"), ("b-compute2", 1, "10.40.0.52")]
    assert cfg.libvirt_uri == "qemu:///system" and cfg.management_gateway == "10.40.0.1"


def test_adding_a_compute_on_one_host_moves_no_node_of_another():
    before = {n.name: n.address for n in lab_config(TWO_HOSTS).placed_nodes}
    grown = [dict(HOSTS[0], computes=3), HOSTS[1]]
    after = {n.name: n.address for n in lab_config({**TWO_HOSTS, "hosts": grown}).placed_nodes}
    assert {k: after[k] for k in before} == before
    assert set(after) - set(before) == {"compute2", "compute3"}


def test_existing_machines_come_last_with_their_own_address():
    cfg = lab_config(WITH_EXISTING, secrets=("sshPrivateKey",))
    last = cfg.placed_nodes[-1]
    assert (last.name, last.host, last.address) == ("phys1", None, "10.40.0.200")
    assert last.existing.host_key == HOST_KEY  # the comment is dropped: known_hosts takes type and key


def test_hosts_replace_the_one_host_keys():
    found = config_problems({**TWO_HOSTS, "libvirtUri": HOST_B, "computeCount": 5})
    assert "hosts[0].uri" in found["libvirtUri"] and "hosts[0].computes" in found["computeCount"]


def test_two_hosts_need_bridge_mode():
    found = config_problems({"hosts": HOSTS})
    assert "network.mode bridge" in found["network.mode"]


@pytest.mark.parametrize("host, key, words", [
    ({"name": "B_2", "uri": HOST_B}, "hosts[1].name", "lower-case"),
    ({"name": "a", "uri": HOST_B}, "hosts[1].name", "unique"),
    ({"name": "b"}, "hosts[1].uri", "required"),
    ({"name": "b", "uri": "ssh://host-b"}, "hosts[1].uri", "not a libvirt QEMU URI"),
    ({"name": "b", "uri": HOST_B, "computes": 40}, "hosts[1].computes", "0 to 39"),
    ({"name": "b", "uri": HOST_B, "storagePoolPath": "pool"}, "hosts[1].storagePoolPath", "absolute"),
    ({"name": "b", "uri": HOST_B, "cpus": 4}, "hosts[1].cpus", "unknown key"),
])
def test_each_bad_host_field_is_named(host, key, words):
    found = config_problems({**TWO_HOSTS, "hosts": [HOSTS[0], host]})
    assert words in found[key]


def test_bridge_mode_takes_the_lans_addresses_explicitly():
    found = config_problems({"network": {"mode": "bridge", "managementBridge": "br-mgmt", "externalBridge": "br-mgmt"}})
    for key in ("managementCidr", "externalCidr", "externalGateway"):
        assert "explicitly" in found[key]
    assert "router" in found["network.managementGateway"]
    assert "must differ" in found["network.externalBridge"]


def test_bridge_mode_checks_bridge_names_gateway_and_nameservers():
    found = config_problems({**LAN, "network": {"mode": "bridge", "managementBridge": "a-bridge-name-too-long",
                                         "externalBridge": "br-ext", "managementGateway": "10.99.0.1",
                                         "nameservers": ["dns.example"]}})
    assert "15 characters" in found["network.managementBridge"]
    assert "not in managementCidr" in found["network.managementGateway"]
    assert "not an IPv4 address" in found["network.nameservers[0]"]


def test_nat_mode_refuses_bridge_settings():
    found = config_problems({"network": {"mode": "nat", "managementBridge": "br0"}})
    assert "only with network.mode bridge" in found["network.managementBridge"]


def test_existing_machines_need_bridge_mode_and_the_login_pair():
    found = config_problems({"existingComputes": [{"name": "phys1", "address": "10.40.0.200", "hostKey": HOST_KEY}]})
    assert "network.mode bridge" in found["existingComputes"] or "sshPublicKey" in found["existingComputes"]
    found = config_problems({**TWO_HOSTS, "existingComputes": [{"name": "phys1", "address": "10.40.0.200",
                                                        "hostKey": HOST_KEY}]})
    assert "sshPublicKey" in found["existingComputes"]


@pytest.mark.parametrize("machine, key, words", [
    ({"name": "compute3", "address": "10.40.0.200", "hostKey": HOST_KEY}, "existingComputes[0].name", "does not use"),
    ({"name": "phys1", "address": "10.40.0.200"}, "existingComputes[0].hostKey", "trustFirstContact"),
    ({"name": "phys1", "address": "10.40.0.200", "hostKey": "AAAA"}, "existingComputes[0].hostKey", "host public key"),
    ({"name": "phys1", "address": "10.40.0.200", "hostKey": HOST_KEY, "trustFirstContact": True},
     "existingComputes[0].trustFirstContact", "meaningless"),
    ({"name": "phys1", "address": "10.50.0.7", "hostKey": HOST_KEY}, "existingComputes[0].address", "managementCidr"),
    ({"name": "phys1", "address": "10.40.0.51", "hostKey": HOST_KEY}, "existingComputes[0].address", "lab node"),
    ({"name": "phys1", "address": "10.40.0.1", "hostKey": HOST_KEY}, "existingComputes[0].address", "gateway"),
])
def test_each_bad_existing_machine_field_is_named(machine, key, words):
    found = config_problems({**TWO_HOSTS, **LOGIN, "existingComputes": [machine]}, secrets=("sshPrivateKey",))
    assert words in found[key]


def test_the_management_network_must_hold_every_hosts_block():
    found = config_problems({**TWO_HOSTS, "managementCidr": "10.40.0.0/27",
                      "network": dict(BRIDGE, managementGateway="10.40.0.1")})
    assert "no room" in found["managementCidr"]


def test_snapshots_default_to_none_and_keep_their_order():
    assert lab_config({}).snapshots == ()
    assert lab_config({"snapshots": ["installed", "before-upgrade", "x1"]}).snapshots == \
        ("installed", "before-upgrade", "x1")
    assert lab_config({"snapshots": json.dumps(["installed"])}).snapshots == ("installed",)  # as Pulumi stores it


@pytest.mark.parametrize("names, key, words", [
    (["Installed"], "snapshots[0]", "lower-case letters, digits and inner '-'"),
    (["ok", "with space"], "snapshots[1]", "'with space' is not a snapshot name"),
    (["-lead"], "snapshots[0]", "inner '-'"),
    (["a" * 41], "snapshots[0]", "at most 40 characters"),
    (["installed", "installed"], "snapshots[1]", "'installed' is listed twice"),
    ([3], "snapshots[0]", "expected a snapshot name (a string), got 3"),
])
def test_each_bad_snapshot_name_is_one_problem(names, key, words):
    problems = config_problems({"snapshots": names})
    assert list(problems) == [key] and words in problems[key]


def test_snapshots_are_refused_on_an_existing_cloud():
    problems = config_problems(CLOUD | {"snapshots": ["installed"]}, secrets=("cloudPassword",))
    assert "no lab node to snapshot" in problems["snapshots"]


# --- packageSources (lab/config/packages.py) -----------------------------------------------------------

PKG_MIRRORS = {"baseos": "http://m.lan/b/", "appstream": "http://m.lan/a/", "crb": "http://m.lan/c/",
               "extras": "http://m.lan/e/", "rdo": "http://m.lan/r/",
               "rdoDeps": {"rabbitmq": "http://m.lan/q/", "openvswitch": "http://m.lan/o/", "ceph": "http://m.lan/s/"}}


def test_package_sources_unset_and_complete():
    assert not lab_config(BASE).package_sources.configured
    config = lab_config({**BASE, "packageSources": {"proxy": "http://proxy.lan:3128/", "proxyUser": "bob",
                                                    "noProxy": ["mirror.lan", ".corp.example", "10.0.0.0/8"],
                                                    "mirrors": PKG_MIRRORS},
                         "packageProxyPassword": "pw-secret-1"}, secrets=("packageProxyPassword",))
    src = config.package_sources
    assert src.proxy == "http://proxy.lan:3128" and src.proxy_user == "bob"
    assert src.proxy_password is not None and src.proxy_password.value == "pw-secret-1"
    assert src.mirrors is not None and dict(src.mirrors.rdo_deps)["ceph"] == "http://m.lan/s/"
    assert src.gpg_keys == "release-package" and "pw-secret-1" not in repr(config)


def test_package_proxy_with_credentials_in_the_url_is_refused_without_echoing_them():
    problems = config_problems({**BASE, "packageSources": {"proxy": "http://bob:hunter2-pw@proxy.lan:3128"}})
    message = problems["packageSources.proxy"]
    assert "packageProxyPassword" in message and "proxyUser" in message and "hunter2-pw" not in message


@pytest.mark.parametrize("proxy", ["proxy.lan:3128", "http://proxy.lan", "ftp://proxy.lan:21", "http://p.lan:3128/x",
                                   "http://p.lan:port"])
def test_package_proxy_must_be_http_host_port(proxy):
    assert "packageSources.proxy" in config_problems({**BASE, "packageSources": {"proxy": proxy}})


def test_package_proxy_password_rules():
    plain = config_problems({**BASE, "packageSources": {"proxy": "http://p.lan:3128", "proxyUser": "bob"},
                             "packageProxyPassword": "pw"})
    assert "--secret packageProxyPassword" in plain["packageProxyPassword"]
    orphan = config_problems({**BASE, "packageProxyPassword": "pw"}, secrets=("packageProxyPassword",))
    assert "set the user" in orphan["packageProxyPassword"]
    user = config_problems({**BASE, "packageSources": {"proxyUser": "bob"}})
    assert "needs packageSources.proxy" in user["packageSources.proxyUser"]
    assert "packageSources.proxyUser" in config_problems(
        {**BASE, "packageSources": {"proxy": "http://p.lan:3128", "proxyUser": "bob smith"}})


def test_mirror_missing_a_repository_the_release_needs():
    partial = {k: v for k, v in PKG_MIRRORS.items() if k not in ("crb", "rdoDeps")}
    problems = config_problems({**BASE, "openstackRelease": "dalmatian", "packageSources": {"mirrors": partial}})
    assert "CRB/x86_64/os/" in problems["packageSources.mirrors.crb"]
    assert "centos-release-openstack-dalmatian" in problems["packageSources.mirrors.rdoDeps"]
    deps = {**PKG_MIRRORS, "rdoDeps": {"rabbitmq": "http://m.lan/q/"}}
    problems = config_problems({**BASE, "packageSources": {"mirrors": deps}})
    assert set(problems) == {"packageSources.mirrors.rdoDeps.openvswitch", "packageSources.mirrors.rdoDeps.ceph"}
    no_extras = {k: v for k, v in PKG_MIRRORS.items() if k != "extras"}
    problems = config_problems({**BASE, "packageSources": {"mirrors": no_extras}})
    assert "gpgKeys a URL" in problems["packageSources.mirrors.extras"]
    config = lab_config({**BASE, "packageSources": {"mirrors": no_extras, "gpgKeys": "http://m.lan/keys"}})
    assert config.package_sources.gpg_keys == "http://m.lan/keys/" and config.package_sources.mirrors.extras is None


def test_mirror_urls_fields_and_gpg_keys_are_checked():
    problems = config_problems({**BASE, "packageSources": {
        "mirrors": {**PKG_MIRRORS, "baseos": "file:///srv/b", "epel": "http://m.lan/epel/"},
        "gpgKeys": "somewhere", "colour": "red"}})
    assert set(problems) == {"packageSources.mirrors.baseos", "packageSources.mirrors.epel",
                             "packageSources.gpgKeys", "packageSources.colour"}
    assert "unknown key" in problems["packageSources.mirrors.epel"]
    assert "applies to packageSources.mirrors" in config_problems(
        {**BASE, "packageSources": {"proxy": "http://p.lan:3128", "gpgKeys": "http://k.lan/"}})["packageSources.gpgKeys"]
    assert "packageSources.noProxy" in config_problems({**BASE, "packageSources": {"noProxy": "a.lan b.lan"}})


def test_mirrors_with_rhel_say_what_applies():
    problems = config_problems({**BASE, "osFlavor": "rhel", "rhelUsername": "u", "rhelPassword": "p",
                                "packageSources": {"mirrors": PKG_MIRRORS}}, secrets=("rhelPassword",))
    assert set(problems) == {"packageSources.mirrors"}
    assert "centos-stream" in problems["packageSources.mirrors"]
    assert "packageSources.proxy applies" in problems["packageSources.mirrors"]
    proxied = lab_config({**BASE, "osFlavor": "rhel", "rhelUsername": "u", "rhelPassword": "p",
                          "packageSources": {"proxy": "http://p.lan:3128"}}, secrets=("rhelPassword",))
    assert proxied.package_sources.proxy == "http://p.lan:3128"


def test_mirrors_refuse_packstack_answers_that_reach_beyond_them():
    problems = config_problems({**BASE, "packageSources": {"mirrors": PKG_MIRRORS}, "packstackAnswers": {
        "CONFIG_REPO": "http://elsewhere.example/repo", "CONFIG_PROVISION_TEMPEST": "y"}})
    assert "gpgcheck=0" in problems["packstackAnswers.CONFIG_REPO"]
    assert "packstackAnswers.CONFIG_PROVISION_TEMPEST" in problems
    # Without mirrors they are the user's business.
    lab_config({**BASE, "packstackAnswers": {"CONFIG_REPO": "http://elsewhere.example/repo"}})


@pytest.mark.parametrize("password", ["pa$releasever", "x${basearch}", " padded", "two\nlines"])
def test_a_proxy_password_dnf_would_mangle_is_refused_without_echoing_it(password):
    problems = config_problems({**BASE, "packageSources": {"proxy": "http://p.lan:3128", "proxyUser": "bob"},
                                "packageProxyPassword": password}, secrets=("packageProxyPassword",))
    assert list(problems) == ["packageProxyPassword"] and password.strip() not in problems["packageProxyPassword"]
    lab_config({**BASE, "packageSources": {"proxy": "http://p.lan:3128", "proxyUser": "bob"},
                "packageProxyPassword": "a$1-b%c:d@e"}, secrets=("packageProxyPassword",))

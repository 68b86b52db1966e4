"""Cloud-init documents: what a node gets at first boot."""
import configparser

import yaml

from lab.cloudinit import (ACCEPT_ENV, EXTERNAL_NIC_KEYFILE, NodeIdentity, external_nic_keyfile, hosts_file,
                           meta_data, network_config, user_data)

NODE = NodeIdentity(
    hostname="compute1",
    fqdn="compute1.alice.lab.internal",
    management_ip="10.1.2.11",
    management_cidr="10.1.2.0/24",
    management_gateway="10.1.2.1",
    management_mac="52:54:00:aa:bb:01",
    external_mac="52:54:00:aa:bb:02",
    dns_domain="alice.lab.internal",
)
HOSTS = [("10.1.2.10", "controller.alice.lab.internal", "controller"), ("10.1.2.11", NODE.fqdn, "compute1")]


def rendered_user_data():
    host_key = "-----BEGIN OPENSSH PRIVATE KEY-----\nhk\n-----END OPENSSH PRIVATE KEY-----"
    text = user_data(NODE, "ssh-ed25519 AAAAlogin me", host_key, "ssh-ed25519 AAAAhost host", HOSTS)
    assert text.startswith("#cloud-config\n")
    return yaml.safe_load(text)


def test_user_data_sets_fqdn_hostname():
    doc = rendered_user_data()
    assert doc["hostname"] == "compute1" and doc["fqdn"] == NODE.fqdn


def test_user_data_installs_login_key_for_root():
    doc = rendered_user_data()
    assert doc["disable_root"] is False
    assert doc["ssh_authorized_keys"] == ["ssh-ed25519 AAAAlogin me"]
    assert doc["ssh_pwauth"] is False


def test_user_data_leaves_the_default_user_to_the_image():
    """Decided (README "Logins"): no `users`/`user` here, so an EL9 image's cloud.cfg creates its cloud-user
    (locked password, NOPASSWD sudo) with the login key beside root (cloud-init's own merge and modules:
    test_cloudinit_validation.py::test_el9_default_user_gets_the_login_key_and_passwordless_sudo_as_root_does).
    The key opens root already, so that account adds nothing for its holder; declaring `users` would change
    every node's user-data, hence its cloud-init disk, and replace every existing VM."""
    doc = rendered_user_data()
    assert "users" not in doc and "user" not in doc
    assert doc["disable_root"] is False and doc["ssh_pwauth"] is False


def test_user_data_installs_only_the_pinned_host_key():
    doc = rendered_user_data()
    # ssh_genkeytypes: [] failed cloud-init's schema (every boot "degraded") and is not read when ssh_keys is given.
    assert "ssh_genkeytypes" not in doc and doc["ssh_deletekeys"] is True
    assert doc["ssh_keys"]["ed25519_public"] == "ssh-ed25519 AAAAhost host"
    assert "BEGIN OPENSSH PRIVATE KEY" in doc["ssh_keys"]["ed25519_private"]


def test_user_data_writes_hosts_and_sshd_accept_env():
    files = {f["path"]: f for f in rendered_user_data()["write_files"]}
    assert "10.1.2.10 controller.alice.lab.internal controller" in files["/etc/hosts"]["content"]
    assert f"AcceptEnv {ACCEPT_ENV}" in files["/etc/ssh/sshd_config.d/50-openstack-lab.conf"]["content"]


def test_user_data_runs_no_command_that_names_a_unit():
    # EL9 has no ssh.service: `systemctl try-reload-or-restart sshd.service ssh.service` exits 5 there,
    # cloud-init records an error and every node's boot wait fails. write_files runs before sshd starts.
    doc = rendered_user_data()
    assert "runcmd" not in doc and "bootcmd" not in doc


def test_user_data_ships_the_external_nic_profile_without_addresses():
    files = {f["path"]: f for f in rendered_user_data()["write_files"]}
    keyfile = files[EXTERNAL_NIC_KEYFILE]
    assert keyfile["permissions"] == "0600"  # NetworkManager ignores keyfiles that others can read
    profile = configparser.ConfigParser(interpolation=None)
    profile.read_string(keyfile["content"])
    assert profile["ethernet"]["mac-address"] == NODE.external_mac.upper()
    assert profile["ipv4"]["method"] == "disabled" and profile["ipv6"]["method"] == "disabled"
    assert int(profile["connection"]["autoconnect-priority"]) > 0  # beats cloud-init's own profile (0)


def test_external_nic_profile_is_stable_per_mac():
    assert external_nic_keyfile("52:54:00:aa:bb:02") == external_nic_keyfile("52:54:00:AA:BB:02")
    assert external_nic_keyfile("52:54:00:aa:bb:02") != external_nic_keyfile("52:54:00:aa:bb:03")


def test_hosts_file_keeps_loopback_first():
    lines = hosts_file(HOSTS).splitlines()
    assert lines[0].startswith("127.0.0.1 localhost")
    assert lines[-1] == "10.1.2.11 compute1.alice.lab.internal compute1"


def test_network_config_static_management_address():
    doc = yaml.safe_load(network_config(NODE))
    eth0 = doc["ethernets"]["eth0"]
    assert doc["version"] == 2
    assert eth0["addresses"] == ["10.1.2.11/24"]
    assert eth0["dhcp4"] is False
    assert eth0["match"]["macaddress"] == NODE.management_mac
    assert {"to": "0.0.0.0/0", "via": "10.1.2.1"} in eth0["routes"]


def test_network_config_external_nic_has_no_address():
    eth1 = yaml.safe_load(network_config(NODE))["ethernets"]["eth1"]
    assert "addresses" not in eth1 and eth1["dhcp4"] is False and eth1["dhcp6"] is False
    assert eth1["accept-ra"] is False
    assert "link-local" not in eth1  # netplan-only: cloud-init drops it silently
    assert eth1["set-name"] == "eth1" and eth1["match"]["macaddress"] == NODE.external_mac


def test_meta_data_identifies_instance():
    doc = yaml.safe_load(meta_data("openstack-lab-alice-compute1", "compute1"))
    assert doc == {"instance-id": "openstack-lab-alice-compute1", "local-hostname": "compute1"}

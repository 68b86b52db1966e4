"""What the program declares, under Pulumi mocks: counts, names, parents, dependencies, secrets."""
import ipaddress

import pytest

from harness import BASE, COMMAND, DOMAIN, DYNAMIC, HOST_B, HOST_KEY, LOGIN, NETWORK, TWO_HOSTS, WITH_EXISTING, run_lab


@pytest.fixture(scope="module")
def full():
    return run_lab(dict(BASE))


def test_three_nodes_each_with_volume_cloud_init_and_domain(full):
    assert full.names(DOMAIN) == {"controller-domain", "compute1-domain", "compute2-domain"}
    assert len(full.of_type("libvirt:index/volume:Volume")) == 4  # one base + one per node
    assert len(full.of_type("libvirt:index/cloudInitDisk:CloudInitDisk")) == 3
    assert len(full.of_type("openstack-lab:lab:LabNode")) == 3


def test_node_volumes_are_copy_on_write_of_one_base(full):
    base = full.named("storage-base")
    for node in ("controller", "compute1", "compute2"):
        disk = full.named(f"{node}-disk")
        assert base.urn in disk.dependencies
        assert disk.inputs["format"] == "qcow2"
        assert "baseVolumeId" in disk.inputs
    assert base.inputs["source"] == BASE["baseImage"]


def test_domains_have_management_and_external_nics_with_deterministic_macs(full):
    from lab import naming

    domain = full.named("compute1-domain")
    nics = domain.inputs["networkInterfaces"]
    assert len(nics) == 2
    assert nics[0]["mac"] == naming.mac_address("openstack-lab", "alice", "compute1", 0)
    assert nics[1]["mac"] == naming.mac_address("openstack-lab", "alice", "compute1", 1)
    assert all(nic["waitForLease"] is False for nic in nics)
    assert full.named("network-management").urn in domain.dependencies or "networkId" in nics[0]


def test_domain_type_and_size_follow_config():
    run = run_lab({**BASE, "compute": {"vcpus": 3, "memoryMiB": 5120, "diskGiB": 25}})
    domain = run.named("compute2-domain")
    assert domain.inputs["type"] == "qemu"
    assert domain.inputs["vcpu"] == 3 and domain.inputs["memory"] == 5120
    assert run.named("compute2-disk").inputs["size"] == 25 * 1024**3
    # TCG: every emulated feature, so EL9 finds x86-64-v2 (qemu64, the default model, lacks SSE4.2/POPCNT)
    assert domain.inputs["cpu"] == {"mode": "maximum"}


def test_kvm_domains_pass_the_host_cpu_through():
    run = run_lab({**BASE, "hypervisor": "kvm"})
    assert run.named("compute1-domain").inputs["cpu"]["mode"] == "host-passthrough"


def test_direct_kernel_boot_settings_reach_the_domain():
    boot = {"kernel": "/img/vmlinuz", "initrd": "/img/initrd", "cmdline": "root=/dev/vda rw quiet"}
    run = run_lab({**BASE, "boot": boot})
    domain = run.named("controller-domain")
    assert domain.inputs["kernel"] == "/img/vmlinuz" and domain.inputs["initrd"] == "/img/initrd"
    assert domain.inputs["cmdlines"] == [{"root": "/dev/vda"}, {"_": "quiet rw"}]


def test_kernel_cmdline_uses_the_form_the_provider_reads_back():
    from components.lab_node import kernel_cmdline

    assert kernel_cmdline("root=/dev/vda rw console=ttyS0 net.ifnames=0 biosdevname=0") == [
        {"biosdevname": "0", "console": "ttyS0", "net.ifnames": "0", "root": "/dev/vda"},
        {"_": "rw"},
    ]
    assert kernel_cmdline("console=tty0 console=ttyS0") == [{"console": "tty0"}, {"console": "ttyS0"}]


def test_networks_are_nat_without_dhcp_and_bridges_fit(full):
    for name in ("network-management", "network-external"):
        net = full.named(name)
        assert net.inputs["mode"] == "nat"
        assert net.inputs["dhcp"]["enabled"] is False
        assert len(net.inputs["bridge"]) <= 15
        assert net.inputs["name"].startswith("openstack-lab-alice-")


def test_every_child_has_its_component_as_parent(full):
    for resource in full.resources:
        if resource.type in ("pulumi:pulumi:Stack",):
            continue
        chain = full.ancestors(resource)
        assert chain[-1] == "openstack-lab-alice", resource.name
        if resource.name != "lab":
            assert "lab" in chain, resource.name
    for node in ("controller", "compute1"):
        assert full.ancestors(full.named(f"{node}-domain"))[0] == node
        assert full.ancestors(full.named(f"{node}-prep-prep"))[0] == f"{node}-prep"


def test_libvirt_resources_use_the_configured_uri():
    run = run_lab({**BASE, "libvirtUri": "qemu+ssh://root@lab-host/system"})
    provider = run.named("libvirt")
    assert provider.inputs["uri"] == "qemu+ssh://root@lab-host/system"
    assert provider.urn in run.named("compute1-domain").provider


def test_every_wait_on_a_booting_node_is_bounded_by_boot_timeout():
    run = run_lab({**BASE, "bootTimeout": 240})
    ready = run.named("compute1-prep-ssh-ready")
    assert ready.inputs["timeout_seconds"] == 240 and ready.inputs["subject"] == "compute1"
    assert ready.inputs["timeout_setting"] == "bootTimeout" and ready.inputs["identity"] == "compute1-domain-id"
    assert ready.inputs["host"] == run.named("compute1-prep-wait").inputs["connection"]["host"]
    assert "virsh -c qemu:///system console openstack-lab-alice-compute1" in ready.inputs["hint"]
    remote = run_lab({**BASE, "libvirtUri": "qemu+ssh://root@lab-host/system?knownhosts=/srv/lab_hosts"})
    assert ("`ssh -t -o UserKnownHostsFile=/srv/lab_hosts root@lab-host virsh -c qemu:///system console "
            "openstack-lab-alice-compute1`") in remote.named("compute1-prep-ssh-ready").inputs["hint"]
    assert run.depends_on(ready, "compute1-domain")
    wait = run.named("compute1-prep-wait")
    assert run.depends_on(wait, "compute1-prep-ssh-ready")
    assert wait.inputs["environment"] == {"LAB_BOOT_TIMEOUT": "240"}  # cloud-init's wait, in wait-for-boot.sh
    # Once sshd answers, dial retries only cover a restart: 10 dials of at most 10 s + 3 s pause.
    assert wait.inputs["connection"]["dialErrorLimit"] == 10 and wait.inputs["connection"]["perDialTimeout"] == 10


def test_first_command_per_node_carries_the_dial_retries(full):
    wait = full.named("compute1-prep-wait")
    prep = full.named("compute1-prep-prep")
    assert prep.inputs["connection"]["dialErrorLimit"] < wait.inputs["connection"]["dialErrorLimit"]
    assert full.depends_on(prep, "compute1-prep-wait")
    assert full.depends_on(full.named("compute1-prep-hosts"), "compute1-prep-wait")


def test_every_connection_pins_the_node_host_key_and_keeps_the_key_secret(full):
    for command in full.of_type(COMMAND):
        connection = command.inputs["connection"]
        assert connection["hostKey"].startswith("ssh-ed25519 "), command.name
        assert connection["user"] == "root"
        assert "connection" in command.secret_inputs, command.name


def test_prep_commands_wait_for_their_own_node_only(full):
    prep = full.named("compute2-prep-wait")
    assert full.depends_on(prep, "compute2-domain")
    assert not full.depends_on(prep, "controller-domain")
    assert not any(full.named(n).urn in prep.dependencies for n in ("compute1-prep-wait", "controller-prep-wait"))


def test_computes_trust_the_controller_root_key(full):
    for node in ("controller", "compute1", "compute2"):
        assert full.depends_on(full.named(f"{node}-prep-trust"), "controller-prep-root-key")
        assert full.named(f"{node}-prep-trust").inputs["environment"]["LAB_CONTROLLER_KEY"].startswith("ssh-ed25519")


def test_hosts_command_lists_every_node_with_fqdn(full):
    stdin = full.named("compute1-prep-hosts").inputs["stdin"]
    for node in ("controller", "compute1", "compute2"):
        assert f"{node}.alice.lab.internal {node}" in stdin


def test_packstack_waits_for_every_nodes_prep(full):
    answer_file = full.named("packstack-answer-file")
    apply = full.named("packstack-apply")
    for node in ("controller", "compute1", "compute2"):
        prep_component = full.named(f"{node}-prep")
        assert prep_component.urn in answer_file.dependencies or all(
            child.urn in answer_file.dependencies
            for child in full.resources if child.parent == prep_component.urn
        )
        assert prep_component.urn in apply.dependencies or full.depends_on(apply, f"{node}-prep-trust")
    assert full.depends_on(apply, "packstack-answer-file")


def test_every_node_pins_its_external_nic_after_boot(full):
    for node in ("controller", "compute1", "compute2"):
        nic = full.named(f"{node}-prep-external-nic")
        assert "nmcli connection reload" in nic.inputs["create"]  # scripts/external-nic.sh
        assert nic.inputs["environment"] == {"LAB_NIC": "eth1", "LAB_NIC_PROFILE": "lab-eth1"}
        assert full.depends_on(nic, f"{node}-prep-wait")
        assert nic.inputs["connection"]["host"] == full.named(f"{node}-prep-wait").inputs["connection"]["host"]


def test_every_node_checks_br_ex_after_packstack(full):
    hosts = set()
    for node in ("controller", "compute1", "compute2"):
        check = full.named(f"packstack-bridge-{node}")
        assert "ovs-vsctl list-ports" in check.inputs["create"]
        assert check.inputs["environment"] == {"LAB_BRIDGE": "br-ex", "LAB_NIC": "eth1"}
        assert full.depends_on(check, "packstack-apply")
        assert check.inputs["triggers"] == full.named("packstack-apply").inputs["triggers"]  # re-checked per run
        hosts.add(check.inputs["connection"]["host"])
    assert len(hosts) == 3
    assert full.depends_on(full.named("packstack-keystone-ready"), "packstack-apply")


def test_every_compute_is_mapped_into_novas_cell_after_each_packstack_run(full):
    discover = full.named("packstack-discover-hosts")
    # scripts/packstack-discover-hosts.sh
    assert "nova-manage cell_v2 discover_hosts --verbose" in discover.inputs["create"]
    assert full.depends_on(discover, "packstack-apply")
    assert discover.inputs["triggers"] == full.named("packstack-apply").inputs["triggers"]  # once per run
    assert discover.inputs["connection"]["host"] == full.named("packstack-apply").inputs["connection"]["host"]
    computes = full.named("packstack-answers").inputs["CONFIG_COMPUTE_HOSTS"]
    assert discover.inputs["environment"] == {"LAB_COMPUTE_HOSTS": computes}
    assert full.depends_on(full.named("packstack-keystone-ready"), "packstack-discover-hosts")


def test_answer_file_travels_as_secret_stdin_without_logging(full):
    answer_file = full.named("packstack-answer-file")
    assert "stdin" in answer_file.secret_inputs
    assert answer_file.inputs["logging"] == "none"


def test_packstack_reruns_when_answers_change(full):
    apply = full.named("packstack-apply")
    assert full.depends_on(apply, "packstack-answers")
    assert len(apply.inputs["triggers"]) == 2


def test_passwords_are_secret_outputs_of_packstack_answers(full):
    answers = full.named("packstack-answers")
    assert {"passwords", "admin_password", "answer_file"} <= set(answers.additional_secret_outputs)
    assert answers.inputs["CONFIG_COMPUTE_HOSTS"].count(",") == 1


def test_keystone_ready_follows_packstack_and_gets_the_admin_password_as_secret(full):
    ready = full.named("packstack-keystone-ready")
    assert full.depends_on(ready, "packstack-apply")
    assert "password" in ready.secret_inputs
    assert ready.inputs["auth_url"].endswith(":5000/v3")


def test_networking_is_declared_only_after_keystone_ready(full):
    provider = full.named("networking-cloud")
    assert full.depends_on(provider, "packstack-keystone-ready")
    assert "password" in provider.secret_inputs
    for resource in full.resources:
        if resource.type.startswith("openstack:networking"):
            assert resource.provider.startswith(provider.urn), resource.name


def test_openstack_networking_matches_the_classic_recipe(full):
    external = full.named("networking-external")
    assert external.inputs["external"] is True and external.inputs["shared"] is True
    assert external.inputs["segments"] == [{"networkType": "flat", "physicalNetwork": "extnet"}]
    public = full.named("networking-public")
    assert public.inputs["enableDhcp"] is False
    cfg_ext = ipaddress.ip_network(public.inputs["cidr"])
    pool = public.inputs["allocationPools"][0]
    assert ipaddress.ip_address(pool["start"]) in cfg_ext and ipaddress.ip_address(pool["end"]) in cfg_ext
    assert public.inputs["gatewayIp"] == str(cfg_ext.network_address + 1)
    assert full.depends_on(full.named("networking-router"), "networking-external")
    interface = full.named("networking-router-private")
    assert full.depends_on(interface, "networking-router") and full.depends_on(interface, "networking-private-subnet")
    assert full.named("networking-private-subnet").inputs["cidr"] == "192.168.100.0/24"


def test_outputs_cover_nodes_urls_and_ids(full):
    outputs = full.outputs
    assert set(outputs["nodes"]) == {"controller", "compute1", "compute2"}
    assert outputs["horizonUrl"].endswith("/dashboard")
    assert outputs["keystoneUrl"].endswith(":5000/v3")
    assert {"externalNetworkId", "routerId", "publicSubnetId", "privateNetworkId", "cloudsYaml"} <= set(outputs)
    assert all(cmd.startswith("ssh -i ") for cmd in outputs["sshCommands"].values())
    assert outputs["knownHosts"].count("\n") == 3


def test_secret_outputs_are_marked_secret(full):
    assert {"adminPassword", "cloudsYaml", "sshPrivateKey"} <= full.secret_outputs
    assert "nodes" not in full.secret_outputs


def test_clouds_yaml_is_ready_to_use(full):
    import yaml

    doc = yaml.safe_load(full.outputs["cloudsYaml"])
    cloud = doc["clouds"]["openstack-lab-alice"]
    assert cloud["auth"]["username"] == "admin" and cloud["auth"]["password"] == "mock-admin-pw"
    assert cloud["region_name"] == "RegionOne"


def test_user_data_is_secret_since_it_holds_the_host_key(full):
    assert "userData" in full.named("controller-cloud-init").secret_inputs


def test_configured_ssh_key_replaces_the_generated_one():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()  # a throwaway pair: the config checks that the halves belong together
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    run = run_lab({**BASE, "sshPublicKey": public + " me", "sshPrivateKey": private}, secrets=("sshPrivateKey",))
    assert "login-key" not in run.names()
    assert "sshPrivateKey" not in run.outputs


@pytest.mark.parametrize(
    "stop_after, present, absent",
    [
        ("nodes", {"controller-domain"}, {"controller-prep-wait", "packstack-answers"}),
        ("prep", {"controller-prep-prep"}, {"packstack-answers", "packstack-answer-file"}),
        ("answers", {"packstack-answer-file"}, {"packstack-apply", "packstack-keystone-ready", "networking-cloud"}),
        ("packstack", {"packstack-apply", "packstack-keystone-ready"}, {"networking-cloud"}),
    ],
)
def test_stop_after_ends_the_chain(stop_after, present, absent):
    names = run_lab({**BASE, "stopAfter": stop_after}).names()
    assert present <= names
    assert not (absent & names)


def test_existing_cloud_mode_declares_only_networking():
    run = run_lab({"cloud": {"authUrl": "http://127.0.0.1:15000/v3"}, "cloudPassword": "pw"},
                  secrets=("cloudPassword",))
    assert not run.of_type(DOMAIN) and not run.of_type(COMMAND) and not run.of_type("pulumi:providers:libvirt")
    assert run.named("keystone-ready").inputs["auth_url"] == "http://127.0.0.1:15000/v3"
    assert run.depends_on(run.named("networking-cloud"), "keystone-ready")
    assert len(run.of_type("openstack:networking/subnet:Subnet")) == 2
    assert {"adminPassword", "cloudsYaml"} <= run.secret_outputs


def test_adding_a_compute_adds_one_nodes_resources_only():
    before = run_lab(dict(BASE))
    after = run_lab({**BASE, "computeCount": 3})
    added = after.names() - before.names()
    assert added == {
        "compute3", "compute3-host-key", "compute3-cloud-init", "compute3-disk", "compute3-domain",
        "compute3-prep", "compute3-prep-wait", "compute3-prep-prep", "compute3-prep-hosts", "compute3-prep-trust",
        "compute3-prep-external-nic", "packstack-bridge-compute3", "compute3-prep-ssh-ready",
    }
    assert not (before.names() - after.names())
    # Existing nodes' VM definitions do not change; their hosts command and the answers do.
    for name in ("compute1-domain", "compute1-cloud-init", "compute1-disk"):
        assert before.named(name).inputs == after.named(name).inputs, name
    assert before.named("compute1-prep-hosts").inputs["stdin"] != after.named("compute1-prep-hosts").inputs["stdin"]
    assert after.named("packstack-answers").inputs["CONFIG_COMPUTE_HOSTS"].count(",") == 2


def test_two_stacks_share_no_libvirt_name_bridge_mac_or_cidr():
    a, b = run_lab(dict(BASE), stack="alice"), run_lab(dict(BASE), stack="bob")

    def identity(run):
        names, bridges, macs, cidrs = set(), set(), set(), set()
        for r in run.resources:
            if r.type.startswith("libvirt:index/") and "name" in r.inputs:
                names.add(r.inputs["name"])
            if r.type == "libvirt:index/network:Network":
                bridges.add(r.inputs["bridge"])
                cidrs.update(ipaddress.ip_network(c) for c in r.inputs["addresses"])
            if r.type == DOMAIN:
                macs.update(n["mac"] for n in r.inputs["networkInterfaces"])
        return names, bridges, macs, cidrs

    (na, ba, ma, ca), (nb, bb, mb, cb) = identity(a), identity(b)
    assert na and not (na & nb)
    assert ba and not (ba & bb)
    assert ma and not (ma & mb)
    assert not any(x.overlaps(y) for x in ca for y in cb)


def test_rhel_subscription_gets_credentials_through_secret_environment():
    run = run_lab({**BASE, "osFlavor": "rhel", "rhelUsername": "me", "rhelPassword": "pw"}, secrets=("rhelPassword",))
    sub = run.named("compute1-prep-subscription")
    assert sub.inputs["environment"]["LAB_RHSM_USERNAME"] == "me"
    assert "environment" in sub.secret_inputs or "environment.LAB_RHSM_PASSWORD" in sub.secret_inputs
    assert sub.inputs["logging"] == "none"
    assert "unregister" in sub.inputs["delete"]
    assert "pw" not in sub.inputs["create"]
    assert run.depends_on(run.named("compute1-prep-prep"), "compute1-prep-subscription")


def test_debian_test_profile_runs_its_own_prep_script():
    from labtest import ROOT

    run = run_lab({**BASE, "stopAfter": "answers",
                   "controller": {"vcpus": 1, "memoryMiB": 768, "diskGiB": 3},
                   "compute": {"vcpus": 1, "memoryMiB": 768, "diskGiB": 3}},
                  overlay=str(ROOT / "tests/support/overlay/debian-test.yaml"))
    assert "prep-debian-test" in run.named("controller-prep-prep").inputs["create"]
    assert "packstack-apply" not in run.names()


def test_own_storage_pool_when_a_path_is_given():
    run = run_lab({**BASE, "storagePoolPath": "/var/lib/openstack-lab/alice"})
    pool = run.named("storage-pool")
    assert pool.inputs["type"] == "dir" and pool.inputs["name"] == "openstack-lab-alice-pool"
    assert run.depends_on(run.named("storage-base"), "storage-pool")


def test_invalid_config_declares_nothing():
    from lab.config import ConfigError

    with pytest.raises(ConfigError):
        run_lab({**BASE, "computeCount": -1})


# -- several hosts and existing machines -----------------------------------------------------------------
@pytest.fixture(scope="module")
def multi():
    return run_lab({"hypervisor": "qemu", "baseImage": "https://images.example/el9.qcow2", **WITH_EXISTING},
                   secrets=("sshPrivateKey",))


def test_one_libvirt_provider_per_host_and_each_node_on_its_own(multi):
    a, b = multi.named("libvirt"), multi.named("libvirt-b")
    assert (a.inputs["uri"], b.inputs["uri"]) == ("qemu:///system", HOST_B)
    for node, provider in (("controller", a), ("compute1", a), ("b-compute1", b), ("b-compute2", b)):
        for part in ("domain", "disk", "cloud-init"):
            assert provider.urn in multi.named(f"{node}-{part}").provider, (node, part)
    assert multi.names(DOMAIN) == {"controller-domain", "compute1-domain", "b-compute1-domain", "b-compute2-domain"}


def test_bridge_mode_attaches_nics_to_each_hosts_bridges_and_gives_every_host_its_storage(multi):
    # No libvirt network in bridge mode: the provider reads a NIC on a bridge-mode network back as a
    # bridge NIC, so a network_id there would show a change on every preview.
    assert not multi.of_type(NETWORK)
    for node in ("controller", "b-compute1"):
        nics = multi.named(f"{node}-domain").inputs["networkInterfaces"]
        assert [(nic.get("bridge"), nic.get("networkId")) for nic in nics] == [("br-mgmt", None), ("br-ext", None)]
    for suffix, provider in (("", "libvirt"), ("-b", "libvirt-b")):
        assert multi.named(provider).urn in multi.named(f"storage{suffix}-base").provider
    assert multi.named("storage-b-pool").inputs["target"]["path"] == "/srv/lab-pool"


def test_nodes_use_the_lans_gateway_and_dns(multi):
    import yaml

    config = yaml.safe_load(multi.named("b-compute1-cloud-init").inputs["networkConfig"])
    eth0 = config["ethernets"]["eth0"]
    assert eth0["routes"] == [{"to": "0.0.0.0/0", "via": "10.40.0.1"}]
    assert eth0["nameservers"]["addresses"] == ["10.40.0.1"] and eth0["addresses"] == ["10.40.0.51/24"]


def test_an_existing_machine_is_joined_not_created(multi):
    assert not any(r.name.startswith("phys1-") and r.type.startswith("libvirt:") for r in multi.resources)
    wait = multi.named("phys1-prep-wait")
    assert wait.inputs["connection"]["host"] == "10.40.0.200"
    assert wait.inputs["connection"]["hostKey"] == HOST_KEY
    joined = multi.named("phys1-prep-joined")
    assert "existing-machine-left" in joined.inputs["delete"] or "leaving existing machine" in joined.inputs["delete"]
    assert joined.urn in multi.named("phys1-prep-prep").dependencies
    nic = multi.named("phys1-prep-external-nic")
    assert "interface-name=eth1" in nic.inputs["environment"]["LAB_NIC_KEYFILE"]
    assert "phys1" in multi.named("controller-prep-hosts").inputs["stdin"]


def test_trust_first_contact_scans_the_host_key_once():
    machine = {"name": "phys1", "address": "10.40.0.200", "trustFirstContact": True}
    run = run_lab({"hypervisor": "qemu", "baseImage": "https://images.example/el9.qcow2", **TWO_HOSTS, **LOGIN,
                   "existingComputes": [machine]}, secrets=("sshPrivateKey",))
    scan = run.named("phys1-host-key")
    assert scan.type == DYNAMIC and scan.inputs["host"] == "10.40.0.200"
    assert scan.urn in run.named("phys1-prep-wait").dependencies


def test_a_one_host_lab_keeps_its_resource_names():
    run = run_lab({"hypervisor": "qemu", "baseImage": "https://images.example/el9.qcow2"})
    assert {"libvirt", "network", "network-management", "network-external", "storage", "storage-base"} <= run.names()
    assert not any(name.startswith(("libvirt-", "storage-local", "network-local")) for name in run.names())

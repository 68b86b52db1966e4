"""components/demo_cloud.py under Pulumi mocks: stage demo's image, flavors, keypair, rules and instance."""
import pytest

from harness import BASE, CLOUD, FLAVOR, run_lab


@pytest.fixture(scope="module")
def demo():
    return run_lab({**BASE, "demoInstance": True})


def test_demo_declares_image_flavors_keypair_and_rules_on_the_networking_provider(demo):
    provider = demo.named("networking-cloud")
    image = demo.named("demo-image")
    assert image.inputs["name"] == "openstack-lab-alice-cirros-0.6.3-x86_64-disk"
    assert image.inputs["localFilePath"].endswith("mock.img") and image.inputs["verifyChecksum"] is True
    assert image.inputs["diskFormat"] == "qcow2" and image.inputs["visibility"] == "public"
    assert demo.depends_on(image, "demo-image-file")
    image_file = demo.named("demo-image-file")
    assert image_file.inputs["sha256"] == "7d6355852aeb6dbcd191bcda7cd74f1536cfe5cbf8a10495a7283a8396e4b75b"
    assert {r.inputs["name"] for r in demo.of_type(FLAVOR)} == {"m1.nano", "m1.micro"}
    nano = demo.named("demo-flavor-m1.nano")
    assert (nano.inputs["vcpus"], nano.inputs["ram"], nano.inputs["disk"]) == (1, 256, 1)
    keypair = demo.named("demo-keypair")
    assert keypair.inputs["name"] == "openstack-lab-alice-key" and keypair.inputs["publicKey"].startswith("ssh-ed25519")
    rules = {r.inputs["protocol"]: r.inputs for r in demo.of_type("openstack:networking/secGroupRule:SecGroupRule")}
    assert set(rules) == {"icmp", "tcp"}
    assert rules["tcp"]["portRangeMin"] == rules["tcp"]["portRangeMax"] == 22
    assert all(r["direction"] == "ingress" and r["remoteIpPrefix"] == "0.0.0.0/0" for r in rules.values())
    for r in demo.resources:
        if r.type.startswith("openstack:") and r.name.startswith("demo-"):
            assert r.provider.startswith(provider.urn), r.name
            assert "demo" in demo.ancestors(r)


def test_demo_instance_has_port_server_floating_ip_and_a_bounded_wait(demo):
    port = demo.named("demo-port")
    assert port.inputs["securityGroupIds"] == ["demo-secgroup-id"]
    assert demo.depends_on(port, "networking-router-private") and demo.depends_on(port, "networking-private-subnet")
    server = demo.named("demo-server")
    assert server.inputs["networks"] == [{"port": "demo-port-id"}]
    assert server.inputs["flavorId"] == "demo-flavor-m1.nano-id" and server.inputs["keyPair"]
    fip = demo.named("demo-floating-ip")
    assert fip.inputs["pool"] == "openstack-lab-alice-external" and fip.inputs["portId"] == "demo-port-id"
    ready = demo.named("demo-ready")
    assert ready.inputs["host"] == "10.208.1.200" and ready.inputs["timeout_seconds"] == 600
    assert ready.inputs["timeout_setting"] == "demo.waitSeconds" and ready.inputs["identity"] == "demo-server-id"
    assert demo.depends_on(ready, "demo-server") and demo.depends_on(ready, "demo-ssh")
    assert demo.outputs["demoServerIp"] == "10.208.1.200"


def test_demo_outputs_are_ready_commands(demo):
    line = demo.outputs["demoServerCreate"]
    assert line == ("OS_CLOUD=openstack-lab-alice openstack server create --flavor m1.nano "
                    "--image openstack-lab-alice-cirros-0.6.3-x86_64-disk --network openstack-lab-alice-private "
                    "--key-name openstack-lab-alice-key --security-group openstack-lab-alice-demo --wait demo1")
    commands = demo.outputs["demoFloatingIpCommands"]
    assert "openstack floating ip create -f value -c floating_ip_address openstack-lab-alice-external" in commands
    assert 'openstack server add floating ip demo1 "$FIP"' in commands
    assert 'ssh -i .lab/alice/id_ed25519 cirros@"$FIP"' in commands


def test_packstacks_flavors_are_used_not_created():
    run = run_lab({**BASE, "demo": {"flavors": [{"name": "m1.tiny", "vcpus": 1, "ramMiB": 512, "diskGiB": 1},
                                                "m1.small"]}, "demoInstance": True})
    assert not run.of_type(FLAVOR)
    assert run.named("demo-server").inputs["flavorName"] == "m1.tiny"


def test_demo_is_a_stage_and_the_instance_is_opt_in():
    assert not any(n.startswith("demo") for n in run_lab({**BASE, "stopAfter": "networking"}).names())
    default = run_lab(dict(BASE))
    assert "demo-image" in default.names() and "demo-server" not in default.names()
    assert "demoServerIp" not in default.outputs and "demoServerCreate" in default.outputs


def test_existing_cloud_mode_declares_the_demo_with_a_generated_key():
    run = run_lab({**CLOUD, "demoInstance": True}, secrets=("cloudPassword",))
    assert run.named("demo-image").inputs["visibility"] == "private"
    assert "login-key" in run.names()
    assert run.named("demo-keypair").inputs["publicKey"] == "ssh-ed25519 AAAAmock mock"  # the generated pair's
    assert "sshPrivateKey" in run.secret_outputs
    assert "demo-ready" in run.names() and "demoServerCreate" in run.outputs
    assert not run.of_type("libvirt:index/domain:Domain")


def test_a_given_public_key_is_the_keypairs():
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGiven me@example"
    run = run_lab({**CLOUD, "demo": {"publicKey": key}}, secrets=("cloudPassword",))
    assert run.named("demo-keypair").inputs["publicKey"] == key
    assert "login-key" not in run.names() and "sshPrivateKey" not in run.outputs

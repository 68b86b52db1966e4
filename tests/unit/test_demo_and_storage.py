"""Issue 12: data disks, Cinder/Swift on them (answers, host prep), and stage demo (config rules, what is
declared under mocks, the image and readiness providers against local files and a 127.0.0.1 listener)."""
import hashlib
import http.server
import socket
import threading

import pytest

from harness import config_problems, lab_config, run_lab
from lab.packstack_facts import packstack_options
from lab.plan import plan

BASE = {"hypervisor": "qemu", "baseImage": "https://images.example/el9.qcow2"}
CLOUD = {"cloud": {"authUrl": "http://127.0.0.1:15000/v3"}, "cloudPassword": "pw"}
IMAGE = "openstack:images/image:Image"
FLAVOR = "openstack:compute/flavor:Flavor"


# -- config -----------------------------------------------------------------------------
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


# -- answers ----------------------------------------------------------------------------
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


# -- what is declared -------------------------------------------------------------------
@pytest.fixture(scope="module")
def disks():
    return run_lab({**BASE, "controller": {"dataDisksGiB": [40, 20]}, "compute": {"dataDisksGiB": [10]}})


def test_data_disks_are_stack_named_volumes_attached_after_the_root_disk(disks):
    data = disks.named("controller-data2")
    assert data.inputs["name"] == "openstack-lab-alice-controller-data2.qcow2"
    assert data.inputs["size"] == 20 * 1024**3 and "baseVolumeId" not in data.inputs
    domain = disks.named("controller-domain")
    assert [d["volumeId"] for d in domain.inputs["disks"]] == [
        "controller-disk-id", "controller-data1-id", "controller-data2-id"]
    assert disks.ancestors(data)[0] == "controller"
    assert disks.named("compute2-data1").inputs["size"] == 10 * 1024**3


def test_host_prep_makes_the_volume_group_on_the_controller_only(disks):
    storage = disks.named("controller-prep-storage")
    assert storage.inputs["environment"] == {
        "LAB_CINDER_DEVICE": "/dev/vdb", "LAB_CINDER_SIZE_GIB": "40", "LAB_CINDER_VG": "cinder-volumes",
        "LAB_SWIFT_DEVICE": "/dev/vdc", "LAB_SWIFT_SIZE_GIB": "20"}
    assert "vgcreate" in storage.inputs["create"]
    assert disks.depends_on(storage, "controller-prep-prep")
    assert "compute1-prep-storage" not in disks.names()
    assert disks.named("packstack-answers").inputs["CONFIG_CINDER_VOLUMES_CREATE"] == "n"


def test_growing_the_disk_count_adds_volumes_and_changes_no_other_resource_name():
    before = run_lab({**BASE, "controller": {"dataDisksGiB": [40]}})
    after = run_lab({**BASE, "controller": {"dataDisksGiB": [40, 20]}})
    assert after.names() - before.names() == {"controller-data2"}
    assert not (before.names() - after.names())
    assert before.named("controller-data1").inputs == after.named("controller-data1").inputs


def test_without_data_disks_nothing_new_on_the_nodes():
    run = run_lab(dict(BASE))
    assert not any("-data" in name for name in run.names())
    assert "controller-prep-storage" not in run.names()


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


# -- providers --------------------------------------------------------------------------
def test_image_file_verifies_a_local_file(tmp_path):
    from providers.image_file import ImageChecksumMismatch, fetch

    image = tmp_path / "cirros.img"
    image.write_bytes(b"QFI\xfb" + b"\0" * 1000)
    sha = hashlib.sha256(image.read_bytes()).hexdigest()
    got = fetch({"source": str(image), "sha256": sha, "cache_dir": str(tmp_path / "cache")})
    assert got == {"path": str(image), "sha256": sha, "size": 1004, "downloaded": False}
    assert fetch({"source": str(image), "sha256": None, "cache_dir": ""})["sha256"] == sha
    with pytest.raises(ImageChecksumMismatch, match="not the expected"):
        fetch({"source": str(image), "sha256": "0" * 64, "cache_dir": ""})
    with pytest.raises(FileNotFoundError):
        fetch({"source": str(tmp_path / "missing.img"), "sha256": sha, "cache_dir": ""})


@pytest.fixture
def http_image(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / "disk.img").write_bytes(b"image bytes" * 100)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(served), **kw)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/disk.img", hashlib.sha256(b"image bytes" * 100).hexdigest()
    server.shutdown()


def test_image_file_downloads_once_verifies_and_refuses_a_wrong_checksum(tmp_path, http_image):
    from providers.image_file import ImageChecksumMismatch, fetch

    url, sha = http_image
    cache = tmp_path / "cache"
    got = fetch({"source": url, "sha256": sha, "cache_dir": str(cache)})
    assert got["downloaded"] and got["sha256"] == sha and got["size"] == 1100
    calls = []

    def no_network(*a, **kw):
        calls.append(a)
        raise AssertionError("downloaded again")

    assert fetch({"source": url, "sha256": sha, "cache_dir": str(cache)}, opener=no_network)["path"] == got["path"]
    with pytest.raises(ImageChecksumMismatch, match="nothing was uploaded"):
        fetch({"source": url, "sha256": "1" * 64, "cache_dir": str(cache)})
    assert sorted(p.name for p in cache.iterdir()) == [got["path"].rsplit("/", 1)[1]]  # no partial left


def test_image_file_diff_replaces_on_another_source_or_checksum():
    from providers.image_file import _ImageFileProvider

    olds = {"source": "/a.img", "sha256": "x", "cache_dir": "/c", "path": "/a.img", "size": 1, "downloaded": False}
    p = _ImageFileProvider()
    assert not p.diff("x", olds, {**olds, "path": None, "size": None, "downloaded": None}).changes
    assert p.diff("x", olds, {**olds, "source": "/b.img"}).replaces == ["source"]
    assert not p.diff("x", olds, {**olds, "sha256": None}).changes  # a local file's recorded checksum


def test_instance_ready_answers_from_a_local_listener():
    from providers.ssh_ready import wait_for_ssh

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve():
        conn, _ = listener.accept()
        conn.sendall(b"SSH-2.0-dropbear_2022.83\r\n")
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    props = {"subject": "server demo", "host": "127.0.0.1", "port": listener.getsockname()[1], "timeout_seconds": 10,
             "timeout_setting": "demo.waitSeconds", "hint": ""}
    got = wait_for_ssh(props)
    listener.close()
    assert got["banner"].startswith("SSH-2.0-dropbear") and got["attempts"] == 1


def test_instance_ready_gives_up_at_its_deadline_naming_the_server():
    from providers.ssh_ready import NotAnswering, wait_for_ssh

    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()  # nothing listens there now
    now = [0.0]
    # The wait the program declares for the demo server, pointed at a closed port on 127.0.0.1.
    props = {**run_lab({**BASE, "demoInstance": True}).named("demo-ready").inputs,
             "host": "127.0.0.1", "port": port, "timeout_seconds": 30}
    with pytest.raises(NotAnswering) as err:
        wait_for_ssh(props, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    message = str(err.value)
    assert "server openstack-lab-alice-demo did not answer SSH" in message
    assert "within 30 s (demo.waitSeconds" in message
    assert "openstack console log show openstack-lab-alice-demo" in message

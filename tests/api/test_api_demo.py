"""The program's demo stage through the real Pulumi engine in existing-cloud mode against the fixture's
Glance, Nova API and Neutron: `up` creates the image (a small qcow2 made here, nothing downloaded), the
sized flavors, the keypair (the lab generates the pair) and the ICMP/SSH security group; each is read back
with the `openstack` CLI through the stack's own `cloudsYaml`; `demoServerCreate` names exactly those
objects; a second preview is clean; `destroy` removes them and leaves the cloud's own flavor alone.
demoInstance is not tested here (no compute can boot a guest). Tests run in file order and share one stack."""
import hashlib
import json
import os
import shlex
import stat
import subprocess

import pytest

from apisupport import LOG, OWN_FLAVOR, SECRETS, Opaque, cloud_config, init_stack, run
from lab.naming import resource_prefix

STACK = "apidemo"
PREFIX = resource_prefix("openstack-lab", STACK)
IMAGE_FILE = "apidemo-disk.qcow2"
IMAGE = f"{PREFIX}-apidemo-disk"  # components.demo_cloud.image_name: <prefix>-<file name without .qcow2>
FLAVORS = {"apidemo.small": (1, 128, 1), "apidemo.large": (2, 256, 2)}  # name -> vcpus, ram MiB, disk GiB
KEYPAIR = f"{PREFIX}-key"
SECGROUP = f"{PREFIX}-demo"
PRIVATE_NET = f"{PREFIX}-private"


@pytest.fixture(scope="module")
def stack(fixture_cloud, pulumi_workspace, tmp_path_factory):
    """What the steps below share (a dict whose repr shows no value: it holds the admin password)."""
    tmp = tmp_path_factory.mktemp("demo")
    image = tmp / IMAGE_FILE
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "4M"], check=True, timeout=60)
    sha256 = hashlib.sha256(image.read_bytes()).hexdigest()
    demo = {
        "image": str(image),
        "imageSha256": sha256,
        "diskFormat": "qcow2",
        "flavors": [{"name": name, "vcpus": v, "ramMiB": r, "diskGiB": d} for name, (v, r, d) in FLAVORS.items()]
                   + [{"name": OWN_FLAVOR}],
    }
    config = cloud_config(fixture_cloud, stopAfter="demo", demo=demo, externalCidr="203.0.113.0/24",
                          privateCidr="192.168.78.0/24", dnsServers=["192.0.2.53"])
    pulumi = init_stack(pulumi_workspace, STACK, config, fixture_cloud.admin_password)
    own = json.loads(fixture_cloud.openstack("flavor", "show", OWN_FLAVOR, "-f", "json").stdout)
    state = Opaque(pulumi=pulumi, cloud=fixture_cloud, tmp=tmp, image=image, own_flavor_id=own["id"])
    yield state
    if not state.get("destroyed"):  # safety net when a test in the middle failed
        pulumi.destroy(check=False, timeout=900)
    for secret_file in ("clouds.yaml", "id_demo"):
        (tmp / secret_file).unlink(missing_ok=True)


def _cli(stack, *args):
    """The `openstack` CLI as a user of the stack would run it: OS_CLOUD=<prefix> from the stack's cloudsYaml,
    no OS_* of the fixture."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(OS_CLIENT_CONFIG_FILE=str(stack["clouds_yaml"]), OS_CLOUD=PREFIX)
    return run([*stack["cloud"].client, "openstack", *args], label="openstack (cloudsYaml) " + " ".join(args),
               env=env, timeout=120, cwd=stack["tmp"])


def _json(stack, *args):
    return json.loads(_cli(stack, *args, "-f", "json").stdout)


def _names(stack, *what):
    return {x["Name"] for x in _json(stack, *what, "list")}


def test_up_creates_the_demo_objects(stack):
    stack["pulumi"].up(timeout=900)
    outputs = stack["pulumi"].outputs()
    stack["outputs"] = outputs
    for key in ("cloudsYaml", "sshPrivateKey"):
        assert outputs.get(key) == "[secret]", f"{key} is not a secret output"
    shown = stack["pulumi"].outputs(show_secrets=True)  # its output is withheld from the command log
    clouds = stack["tmp"] / "clouds.yaml"
    clouds.touch(mode=0o600)
    clouds.write_text(shown["cloudsYaml"])
    assert stat.S_IMODE(clouds.stat().st_mode) == 0o600
    stack["clouds_yaml"] = clouds
    key = shown["sshPrivateKey"]
    SECRETS["generated demo private key"] = key.strip()
    body = [line for line in key.splitlines() if len(line) >= 40]
    if body:
        SECRETS["a line of the generated demo private key"] = body[len(body) // 2]
    key_file = stack["tmp"] / "id_demo"
    key_file.touch(mode=0o600)
    key_file.write_text(key if key.endswith("\n") else key + "\n")
    public = subprocess.run(["ssh-keygen", "-y", "-f", str(key_file)], capture_output=True, text=True, timeout=30)
    assert public.returncode == 0, "the exported sshPrivateKey is not a readable private key"
    stack["public_key"] = public.stdout.split()[:2]
    resources = stack["pulumi"].export()["deployment"]["resources"]
    stack["types"] = sorted(r["type"] for r in resources)
    LOG.add("resource types after up", "\n".join(stack["types"]))


def test_image_is_active_with_verified_checksums(stack):
    image = _json(stack, "image", "show", IMAGE)
    data = stack["image"].read_bytes()
    assert image["status"] == "active"
    assert image["disk_format"] == "qcow2" and image["container_format"] == "bare"
    assert image["visibility"] == "private"  # existing cloud: the user may not publish
    assert image["size"] == len(data)
    assert image["checksum"] == hashlib.md5(data).hexdigest()
    props = image.get("properties") or {}
    if props.get("os_hash_algo") == "sha512":
        assert props["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert [i for i in _json(stack, "image", "list") if i["Name"] == IMAGE] == \
        [{"ID": image["id"], "Name": IMAGE, "Status": "active"}]


def test_flavors_created_with_their_sizes_and_the_own_one_only_used(stack):
    for name, (vcpus, ram, disk) in FLAVORS.items():
        flavor = _json(stack, "flavor", "show", name)
        assert (flavor["vcpus"], flavor["ram"], flavor["disk"]) == (vcpus, ram, disk), name
        assert flavor.get("os-flavor-access:is_public", flavor.get("is_public")) is True, name
    own = _json(stack, "flavor", "show", OWN_FLAVOR)
    assert own["id"] == stack["own_flavor_id"], f"{OWN_FLAVOR} was replaced"
    flavor_types = [t for t in stack["types"] if t.endswith("compute/flavor:Flavor")]
    assert len(flavor_types) == len(FLAVORS), f"the stack should hold only the sized flavors: {stack['types']}"


def test_keypair_holds_the_generated_public_key(stack):
    public = _cli(stack, "keypair", "show", KEYPAIR, "--public-key").stdout.split()
    assert public[:2] == stack["public_key"], "the keypair's public key is not the half of sshPrivateKey"


def test_security_group_lets_icmp_and_ssh_in(stack):
    group = _json(stack, "security", "group", "show", SECGROUP)
    rules = _json(stack, "security", "group", "rule", "list", group["id"])
    ingress = sorted((r["IP Protocol"], r["Ethertype"], r["IP Range"], r["Port Range"])
                     for r in rules if r["Direction"] == "ingress")
    assert ingress == [("icmp", "IPv4", "0.0.0.0/0", ""), ("tcp", "IPv4", "0.0.0.0/0", "22:22")], ingress


def test_server_create_names_exactly_these_objects(stack):
    line = stack["outputs"]["demoServerCreate"]
    words = shlex.split(line)
    assert words[0] == f"OS_CLOUD={PREFIX}", line
    assert words[1:4] == ["openstack", "server", "create"], line
    assert words[-2:] == ["--wait", "demo1"], line  # the flag, then the user's server name
    options = words[4:-2]
    assert len(options) % 2 == 0, line
    assert dict(zip(options[::2], options[1::2], strict=True)) == {
        "--flavor": next(iter(FLAVORS)), "--image": IMAGE, "--network": PRIVATE_NET, "--key-name": KEYPAIR,
        "--security-group": SECGROUP}, line
    # Each name resolves to exactly one object of the cloud, the one the stack made.
    assert [n for n in _json(stack, "network", "list") if n["Name"] == PRIVATE_NET] and \
        _json(stack, "network", "show", PRIVATE_NET)["id"] == stack["outputs"]["privateNetworkId"]
    assert KEYPAIR in _names(stack, "keypair")
    assert [g["Name"] for g in _json(stack, "security", "group", "list")].count(SECGROUP) == 1
    assert "demoServerIp" not in stack["outputs"]  # demoInstance is off
    assert f"OS_CLOUD={PREFIX}" in stack["outputs"]["demoFloatingIpCommands"] or \
        f"export OS_CLOUD={PREFIX}" in stack["outputs"]["demoFloatingIpCommands"]


def test_second_preview_has_no_changes(stack):
    stack["pulumi"].preview("--expect-no-changes", timeout=600)


def test_destroy_removes_them_and_keeps_the_own_flavor(stack):
    stack["pulumi"].destroy(timeout=900)
    stack["destroyed"] = True
    assert IMAGE not in _names(stack, "image")
    assert not set(FLAVORS) & _names(stack, "flavor")
    assert KEYPAIR not in _names(stack, "keypair")
    assert SECGROUP not in _names(stack, "security", "group")
    own = _json(stack, "flavor", "show", OWN_FLAVOR)
    assert own["id"] == stack["own_flavor_id"] and (own["vcpus"], own["ram"], own["disk"]) == (1, 512, 1)
    assert stack["image"].is_file(), "destroy touched the local image file"
    assert not stack["pulumi"].export().get("deployment", {}).get("resources")

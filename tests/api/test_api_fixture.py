"""The fixture itself: loopback-only listeners, secret files, the catalog, and `openstack` CLI smoke tests
(token; network, router with an external gateway on a flat extnet network; an image upload to Glance's
file store; the cloud's own flavor and a keypair in the Nova API)."""
import hashlib
import json
import re
import stat
import subprocess

from apisupport import OWN_FLAVOR


def _fixture_pids(cloud) -> set[int]:
    groups = {int(line.split()[1]) for line in (cloud.state / "pids").read_text().splitlines() if line.strip()}
    pids = set()
    for line in subprocess.run(["ps", "-eo", "pid=,pgid="], capture_output=True, text=True).stdout.splitlines():
        pid, pgid = (int(x) for x in line.split())
        if pgid in groups:
            pids.add(pid)
    return pids


def cloud_ports(cloud):
    return cloud.ports.values()


def test_every_fixture_listener_is_on_loopback(fixture_cloud):
    pids = _fixture_pids(fixture_cloud)
    assert pids, "no fixture process found"
    out = subprocess.run(["ss", "-Hltunp"], capture_output=True, text=True, check=True).stdout
    ours = []
    for line in out.splitlines():
        owners = {int(p) for p in re.findall(r"pid=(\d+)", line)}
        if owners & pids:
            local = line.split()[4]
            ours.append(local)
            assert local.startswith("127.0.0.1:"), f"fixture socket not on loopback: {line}"
    ports = {addr.rsplit(":", 1)[1] for addr in ours}
    assert {str(p) for p in cloud_ports(fixture_cloud)} <= ports, ours


def test_secret_files_are_private(fixture_cloud):
    for rel in ("openrc", "keystone/keystone.conf", "neutron/neutron.conf", "glance/glance-api.conf",
                "nova/nova.conf", "placement/placement.conf"):
        mode = stat.S_IMODE((fixture_cloud.state / rel).stat().st_mode)
        assert mode == 0o600, f"{rel} has mode {oct(mode)}"
    assert stat.S_IMODE(fixture_cloud.state.stat().st_mode) == 0o700


def test_token_issue(fixture_cloud):
    proc = fixture_cloud.openstack("token", "issue", "-f", "value", "-c", "expires", "-c", "project_id")
    assert proc.stdout.strip()


def test_catalog_has_identity_network_image_compute_placement(fixture_cloud):
    endpoints = json.loads(fixture_cloud.openstack("endpoint", "list", "-f", "json").stdout)
    by_type = {(e["Service Type"], e["Interface"]): e["URL"] for e in endpoints}
    assert by_type[("identity", "public")] == f"http://127.0.0.1:{fixture_cloud.ports['keystone']}/v3"
    assert by_type[("network", "public")] == f"http://127.0.0.1:{fixture_cloud.ports['neutron']}"
    assert by_type[("image", "public")] == f"http://127.0.0.1:{fixture_cloud.ports['glance']}"
    assert by_type[("compute", "public")] == f"http://127.0.0.1:{fixture_cloud.ports['nova']}/v2.1"
    assert by_type[("placement", "public")] == f"http://127.0.0.1:{fixture_cloud.ports['placement']}"
    assert all(e["Region"] == "RegionOne" for e in endpoints)


def test_cli_smoke_router_with_external_gateway(fixture_cloud):
    os_ = fixture_cloud.openstack
    ext = json.loads(os_("network", "create", "smoke-ext", "--external", "--share", "--provider-network-type", "flat",
                         "--provider-physical-network", "extnet", "-f", "json").stdout)
    try:
        assert ext["provider:network_type"] == "flat" and ext["router:external"] is True
        os_("subnet", "create", "smoke-pub", "--network", "smoke-ext", "--subnet-range", "198.51.100.0/24",
            "--no-dhcp", "--gateway", "198.51.100.1", "--allocation-pool", "start=198.51.100.10,end=198.51.100.20",
            "-f", "value", "-c", "id")
        router = json.loads(os_("router", "create", "smoke-router", "--external-gateway", "smoke-ext",
                                "-f", "json").stdout)
        assert router["external_gateway_info"]["network_id"] == ext["id"]
        ips = router["external_gateway_info"]["external_fixed_ips"]
        assert ips and ips[0]["ip_address"].startswith("198.51.100.")
    finally:
        os_("router", "delete", "smoke-router", check=False)
        os_("network", "delete", "smoke-ext", check=False)
    left = fixture_cloud.neutron()
    assert not [n for n in left["networks"] if n["name"].startswith("smoke-")]
    assert not [r for r in left["routers"] if r["name"].startswith("smoke-")]
    assert not left["ports"], "ports left after deleting the smoke router and network"


def test_cli_smoke_image_flavor_keypair(fixture_cloud, tmp_path):
    os_ = fixture_cloud.openstack
    disk = tmp_path / "smoke.raw"
    disk.write_bytes(b"openstack-lab api fixture smoke image\n" * 1000)
    try:
        image = json.loads(os_("image", "create", "smoke-image", "--disk-format", "raw", "--container-format", "bare",
                               "--private", "--file", str(disk), "-f", "json").stdout)
        shown = json.loads(os_("image", "show", image["id"], "-f", "json").stdout)
        assert shown["status"] == "active"
        assert shown["checksum"] == hashlib.md5(disk.read_bytes()).hexdigest()
        assert shown["size"] == disk.stat().st_size
    finally:
        os_("image", "delete", "smoke-image", check=False)
    assert not json.loads(os_("image", "list", "--name", "smoke-image", "-f", "json").stdout)

    own = json.loads(os_("flavor", "show", OWN_FLAVOR, "-f", "json").stdout)
    assert (own["vcpus"], own["ram"], own["disk"]) == (1, 512, 1)
    try:
        os_("keypair", "create", "smoke-key", "--private-key", str(tmp_path / "smoke-key"), "-f", "value", "-c", "name")
        assert "smoke-key" in os_("keypair", "list", "-f", "value", "-c", "Name").stdout.split()
    finally:
        os_("keypair", "delete", "smoke-key", check=False)

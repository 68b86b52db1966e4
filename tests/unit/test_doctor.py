"""Host preflight: each missing prerequisite fails with what to install or change."""
import sys

from labtest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import doctor  # noqa: E402
from lab.config import parse  # noqa: E402

GOOD = doctor.HostFacts(
    libvirt_socket_ok=True,
    commands=frozenset({"qemu-img", "mkisofs", "dnsmasq", "qemu-system-x86_64"}),
    kvm_usable=True,
    mem_available_mib=64000,
    disk_free_bytes=500 * doctor.GIB,
    disk_path="/var/lib/libvirt/images",
)


def cfg(**raw):
    return parse(raw, "openstack-lab", "alice", frozenset({"cloudPassword"}), path_exists=lambda p: True)


def failed(config, facts):
    return {c.name: c.detail for c in doctor.run_checks(config, facts) if not c.ok}


def test_ready_host_passes():
    assert failed(cfg(), GOOD) == {}


def test_missing_kvm_suggests_tcg():
    facts = doctor.HostFacts(**{**GOOD.__dict__, "kvm_usable": False})
    assert "hypervisor qemu" in failed(cfg(), facts)["KVM"]
    assert "KVM" not in failed(cfg(hypervisor="qemu"), facts)


def test_memory_shortage_names_the_keys_to_lower():
    facts = doctor.HostFacts(**{**GOOD.__dict__, "mem_available_mib": 8000})
    detail = failed(cfg(), facts)["memory"]
    assert "17408 MiB" in detail and "computeCount" in detail  # 8192 + 2*4096 + 1024


def test_disk_shortage_points_to_storage_pool_path():
    facts = doctor.HostFacts(**{**GOOD.__dict__, "disk_free_bytes": 10 * doctor.GIB})
    assert "storagePoolPath" in failed(cfg(), facts)["disk"]


def test_missing_tools_say_what_to_install():
    facts = doctor.HostFacts(**{**GOOD.__dict__, "commands": frozenset(), "libvirt_socket_ok": False})
    problems = failed(cfg(hypervisor="qemu"), facts)
    assert "qemu-utils" in problems["qemu-img"]
    assert "libvirt-daemon-system" in problems["libvirt socket"]
    assert "qemu-system-x86" in problems["QEMU (TCG)"]
    # Both were missing on a fresh machine and failed deep inside `pulumi up`: fatal, with the package.
    assert "install genisoimage" in problems["mkisofs"]
    assert "install dnsmasq-base" in problems["dnsmasq"]
    assert all(c.fatal for c in doctor.run_checks(cfg(), facts) if c.name in ("mkisofs", "dnsmasq"))


def test_gather_finds_sbin_tools_outside_path():
    seen = []

    def which(tool, path=None):
        seen.append((tool, path))
        return "/usr/sbin/dnsmasq" if tool == "dnsmasq" and path else None

    facts = doctor.gather(cfg(), which=which)
    assert "dnsmasq" in facts.commands and "mkisofs" not in facts.commands


def test_remote_libvirt_host_skips_the_dnsmasq_check():
    facts = doctor.HostFacts(**{**GOOD.__dict__, "commands": GOOD.commands - {"dnsmasq"}})
    assert "dnsmasq" not in failed(cfg(libvirtUri="qemu+ssh://root@lab-host/system"), facts)
    assert "dnsmasq" in failed(cfg(), facts)


def test_existing_cloud_needs_no_libvirt():
    config = cfg(cloud={"authUrl": "http://127.0.0.1:5000/v3"}, cloudPassword="x")
    facts = doctor.HostFacts(**{**GOOD.__dict__, "libvirt_socket_ok": False, "kvm_usable": False})
    assert failed(config, facts) == {}

"""Host preflight: each missing prerequisite fails with what to install or change; the probes
run for real on this machine too."""
import dataclasses
import subprocess
import sys

from labtest import ROOT
from lab import preflight
from lab.config import parse

GOOD = preflight.HostFacts(
    libvirt_socket_ok=True,
    commands=frozenset({"qemu-img", "mkisofs", "dnsmasq", "qemu-system-x86_64", "virsh"}),
    kvm_device_ok=True,
    cpu_virtualization=True,
    hardware_virt_check="PASS",
    mem_available_mib=64000,
    disk_free_bytes=500 * preflight.GIB,
    disk_path="/var/lib/libvirt/images",
    pool_exists=True,
)


def cfg(**raw):
    return parse(raw, "openstack-lab", "alice", frozenset({"cloudPassword"}), path_exists=lambda p: True)


def with_(**changes):
    return dataclasses.replace(GOOD, **changes)


def failed(config, facts):
    return {c.name: c.detail for c in preflight.fatal_problems(preflight.run_checks(config, facts))}


def test_ready_host_passes():
    assert failed(cfg(), GOOD) == {}


def test_kvm_device_without_cpu_virtualisation_is_not_usable():
    # The machine this project is tested on: /dev/kvm exists, the CPU has no vmx/svm, KVM guests hang.
    facts = with_(cpu_virtualization=False, hardware_virt_check=None)
    detail = failed(cfg(), facts)["KVM"]
    assert "no vmx/svm flag" in detail and "hypervisor qemu" in detail
    assert "KVM" not in failed(cfg(hypervisor="qemu"), facts)


def test_virt_host_validate_verdict_is_believed():
    facts = with_(hardware_virt_check="FAIL (Host not compatible with KVM; HW virtualization CPU features not found)")
    assert "virt-host-validate: hardware virtualization FAIL (Host not compatible" in failed(cfg(), facts)["KVM"]


def test_missing_kvm_device_suggests_tcg():
    assert "hypervisor qemu" in failed(cfg(), with_(kvm_device_ok=False))["KVM"]


def test_memory_shortage_names_the_keys_to_lower():
    detail = failed(cfg(), with_(mem_available_mib=8000))["memory"]
    assert "17408 MiB" in detail and "computeCount" in detail  # 8192 + 2*4096 + 1024


def test_disk_shortage_points_to_storage_pool_path():
    assert "storagePoolPath" in failed(cfg(), with_(disk_free_bytes=10 * preflight.GIB))["disk"]


def test_missing_tools_say_what_to_install():
    problems = failed(cfg(hypervisor="qemu"), with_(commands=frozenset(), libvirt_socket_ok=False))
    assert "qemu-utils" in problems["qemu-img"]
    assert "libvirt-daemon-system" in problems["libvirt socket"]
    assert "qemu-system-x86" in problems["QEMU (TCG)"]
    # Both were missing on a fresh machine and failed deep inside `pulumi up`: fatal, with the package.
    assert "install genisoimage" in problems["mkisofs"]
    assert "install dnsmasq-base" in problems["dnsmasq"]


def test_missing_default_pool_offers_both_fixes():
    detail = failed(cfg(), with_(pool_exists=False))["storage pool"]
    assert "virsh pool-define-as default dir" in detail and "storagePoolPath" in detail


def test_docker_style_forward_drop_with_br_netfilter_is_fatal():
    facts = with_(bridge_nf_call_iptables=True, forward_policy_drop=True)
    assert "bridge-nf-call-iptables=0" in failed(cfg(), facts)["bridged traffic"]
    assert "bridged traffic" not in failed(cfg(), with_(forward_policy_drop=True))


def test_pool_directory_access_and_selinux_are_warnings_with_the_fix():
    checks = preflight.run_checks(cfg(storagePoolPath="/home/alice/pool"),
                                  with_(closed_dirs=("/home/alice",), selinux_enforcing=True))
    by_name = {c.name: c for c in checks}
    assert not by_name["pool directory access"].ok and not by_name["pool directory access"].fatal
    assert "chmod o+x" in by_name["pool directory access"].detail
    assert "semanage fcontext -a -t virt_image_t '/home/alice/pool(/.*)?'" in by_name["SELinux label"].detail


def test_remote_libvirt_host_checks_only_this_machine():
    facts = with_(commands=frozenset({"mkisofs"}), libvirt_socket_ok=False, kvm_device_ok=False)
    config = cfg(libvirtUri="qemu+ssh://root@lab-host/system")
    assert failed(config, facts) == {}
    assert any(c.name == "remote libvirt host" and "make doctor" in c.detail for c in preflight.run_checks(config, facts))
    assert "mkisofs" in failed(config, with_(commands=frozenset()))


def test_existing_cloud_needs_no_libvirt():
    config = cfg(cloud={"authUrl": "http://127.0.0.1:5000/v3"}, cloudPassword="x")
    assert failed(config, with_(libvirt_socket_ok=False, kvm_device_ok=False)) == {}


def test_local_uris_and_their_sockets():
    assert preflight.is_local("qemu:///system") and preflight.is_local("qemu+unix:///system?socket=/tmp/s")
    assert not preflight.is_local("qemu+ssh://root@host2/system")
    assert preflight.libvirt_socket("qemu+unix:///system?socket=/tmp/x/libvirt-sock") == "/tmp/x/libvirt-sock"
    assert preflight.libvirt_socket("qemu:///system") == "/run/libvirt/libvirt-sock"


def test_gather_finds_sbin_tools_outside_path():
    def which(tool, path=None):
        return "/usr/sbin/dnsmasq" if tool == "dnsmasq" and path else None

    facts = preflight.gather(cfg(hypervisor="qemu", storagePoolPath="/tmp/osl-pool"), which=which)
    assert "dnsmasq" in facts.commands and "mkisofs" not in facts.commands


def test_gather_reads_this_machines_cpu_flags():
    # A real probe: the CPU flag fact must agree with /proc/cpuinfo.
    flags = next(l for l in open("/proc/cpuinfo") if l.startswith("flags")).split()
    facts = preflight.gather(cfg(hypervisor="qemu", storagePoolPath="/tmp/osl-pool"))
    assert facts.cpu_virtualization == bool({"vmx", "svm"} & set(flags))


def test_doctor_prints_every_check_and_fails_on_a_fatal_one(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "doctor.py"), "--stack", "no-such-stack-file"],
                          capture_output=True, text=True, timeout=60)
    assert "[" in proc.stdout and "] mkisofs:" in proc.stdout and "] memory:" in proc.stdout
    assert (proc.returncode == 0) == ("FAIL" not in proc.stdout)


def test_the_program_refuses_a_host_that_is_not_ready(monkeypatch):
    broken = with_(commands=frozenset({"qemu-img", "dnsmasq", "qemu-system-x86_64"}), cpu_virtualization=False)
    monkeypatch.setattr(preflight, "gather", lambda config: broken)
    try:
        preflight.require_host_ready(cfg())
    except preflight.HostNotReady as err:
        assert [p.split(":")[0] for p in err.problems] == ["host.mkisofs", "host.KVM"]
        assert "install genisoimage" in err.problems[0]
    else:
        raise AssertionError("a host without mkisofs and KVM passed the program's preflight")


def test_the_program_does_not_probe_remote_hosts_or_existing_clouds(monkeypatch):
    def gather(config):
        raise AssertionError("probed")

    monkeypatch.setattr(preflight, "gather", gather)
    preflight.require_host_ready(cfg(libvirtUri="qemu+ssh://root@lab-host/system"))
    preflight.require_host_ready(cfg(cloud={"authUrl": "http://127.0.0.1:5000/v3"}, cloudPassword="x"))


def test_a_derived_cidr_already_in_use_is_caught_with_the_fix():
    config = cfg(managementCidr="192.168.122.0/24", externalCidr="10.77.1.0/24")
    facts = with_(networks_in_use=(("libvirt network default", "192.168.122.0/24"), ("host route via docker0", "10.77.0.0/16")))
    problems = failed(config, facts)
    assert "managementCidr 192.168.122.0/24 overlaps libvirt network default (192.168.122.0/24)" in problems["managementCidr free"]
    assert "externalCidr 10.77.1.0/24 overlaps host route via docker0 (10.77.0.0/16)" in problems["externalCidr free"]
    assert "pulumi config set managementCidr" in problems["managementCidr free"]


def test_gather_lists_other_networks_but_not_the_stacks_own(monkeypatch):
    config = cfg(managementCidr="10.20.0.0/24", externalCidr="10.20.1.0/24")
    own = preflight.naming.resource_prefix("openstack-lab", "alice")
    bridge = preflight.naming.bridge_name("openstack-lab", "alice", "management")
    answers = {
        ("net-list",): f"default\n{own}-management\n",
        ("net-dumpxml", "default"): "<network><ip address='192.168.122.1' netmask='255.255.255.0'/></network>",
        ("net-dumpxml", f"{own}-management"): "<network><ip address='10.20.0.1' prefix='24'/></network>",
    }

    def probe(argv):
        if argv[0] == "ip":
            out = f"10.20.0.0/24 dev {bridge} proto kernel scope link\n172.17.0.0/16 dev docker0 proto kernel\ndefault via 10.0.0.1 dev eth0\n"
        else:
            out = answers[tuple(argv[3:4]) if argv[3] == "net-list" else tuple(argv[3:5])]
        return subprocess.CompletedProcess(argv, 0, out, "")

    monkeypatch.setattr(preflight, "_probe", probe)
    used = preflight._networks_in_use(config, virsh=True)
    assert used == (("libvirt network default", "192.168.122.0/24"), ("host route via docker0", "172.17.0.0/16"))

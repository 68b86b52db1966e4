"""Preflight's rules (lab/preflight/rules/): pure functions over facts built by hand; each missing
prerequisite of this machine or of a libvirt host fails with what to install or change, naming the host."""
import ast

from harness import lab_config, login_pair
from labtest import ROOT
from lab.plan import plan
from lab.preflight.check import Check, HostScope
from lab.preflight.facts import HostFacts
from lab.preflight.needs import GIB, needed_bridges, needed_disk_bytes, needed_memory_mib
from lab.preflight.rules import bridges, capacity, libvirt, networks, run_checks, storage_pool
from preflight_facts import BRIDGES, GOOD, HOST_B, TWO_HOSTS, by_title, facts, failed, host, with_


def test_ready_host_passes():
    assert failed(lab_config(), GOOD) == {}


def test_kvm_device_without_cpu_virtualisation_is_not_usable():
    # The machine this project is tested on: /dev/kvm exists, the CPU has no vmx/svm, KVM guests hang.
    lab_facts = with_(cpu_virtualization=False, hardware_virt_check=None)
    detail = failed(lab_config(), lab_facts)["KVM"]
    assert "no vmx/svm flag" in detail and "hypervisor qemu" in detail
    assert "KVM" not in failed(lab_config(dict(hypervisor="qemu")), lab_facts)


def test_virt_host_validate_verdict_is_believed():
    lab_facts = with_(
        hardware_virt_check="FAIL (Host not compatible with KVM; HW virtualization CPU features not found)")
    kvm = failed(lab_config(), lab_facts)["KVM"]
    assert "virt-host-validate: hardware virtualization FAIL (Host not compatible" in kvm


def test_missing_kvm_device_suggests_tcg():
    assert "hypervisor qemu" in failed(lab_config(), with_(kvm_device_ok=False))["KVM"]


def test_memory_shortage_names_the_keys_to_lower():
    detail = failed(lab_config(), with_(mem_available_mib=8000))["memory"]
    assert "17408 MiB" in detail and "computeCount" in detail  # 8192 + 2*4096 + 1024


def test_disk_shortage_points_to_storage_pool_path():
    assert "storagePoolPath" in failed(lab_config(), with_(disk_free_bytes=10 * GIB))["disk"]


def test_data_disks_count_for_the_disk_of_their_host():
    config = lab_config(dict(controller={"vcpus": 4, "memoryMiB": 8192, "diskGiB": 40, "dataDisksGiB": [100]}))
    assert needed_disk_bytes(plan(config)) == (40 + 100 + 2 * config.compute.disk_gib) * GIB


def test_missing_tools_say_what_to_install():
    problems = failed(lab_config(dict(hypervisor="qemu")), with_(commands=frozenset(), reachable=False))
    assert "qemu-utils" in problems["qemu-img"]
    assert "libvirt-daemon-system" in problems["libvirt"] and "libvirtUri qemu:///system" in problems["libvirt"]
    assert "qemu-system-x86" in problems["QEMU (TCG)"]
    # Both were missing on a fresh machine and failed deep inside `pulumi up`: fatal, with the package.
    assert "install genisoimage" in problems["mkisofs"]
    assert "install dnsmasq-base" in problems["dnsmasq"]


def test_missing_default_pool_offers_both_fixes():
    detail = failed(lab_config(), with_(pool_exists=False, pool_active=None))["storage pool"]
    assert "virsh pool-define-as default dir" in detail and "storagePoolPath" in detail
    assert "pool-start default" in failed(lab_config(), with_(pool_active=False))["storage pool"]


def test_docker_style_forward_drop_with_br_netfilter_is_fatal():
    lab_facts = with_(bridge_nf_call_iptables=True, forward_policy_drop=True)
    assert "bridge-nf-call-iptables=0" in failed(lab_config(), lab_facts)["bridged traffic"]
    assert "bridged traffic" not in failed(lab_config(), with_(forward_policy_drop=True))


def test_pool_directory_access_and_selinux_are_warnings_with_the_fix():
    checks = by_title(lab_config(dict(storagePoolPath="/home/alice/pool")),
                      with_(closed_dirs=("/home/alice",), selinux_enforcing=True))
    assert not checks["pool directory access"].ok and not checks["pool directory access"].fatal
    assert "chmod o+x" in checks["pool directory access"].detail
    assert "semanage fcontext -a -t virt_image_t '/home/alice/pool(/.*)?'" in checks["SELinux label"].detail


def test_remote_libvirt_host_is_checked_over_its_uri_not_with_this_machines_tools():
    lab_facts = facts(host(mem_available_mib=8000), commands=frozenset({"mkisofs", "virsh"}), kvm_device_ok=False)
    config = lab_config(dict(libvirtUri="qemu+ssh://root@lab-host/system"))
    # This machine's KVM and tools are not the host's; the host's memory is.
    assert set(failed(config, lab_facts)) == {"memory"}
    assert "mkisofs" in failed(config, facts(commands=frozenset()))
    unreachable = failed(config, facts(HostFacts(reachable=False, error="ssh: connect to host lab-host port 22: "
                                                                        "Connection refused", ssh_failure="connect")))
    assert set(unreachable) == {"libvirt"}
    assert "libvirtUri qemu+ssh://root@lab-host/system (ssh: connect to host" in unreachable["libvirt"]
    assert "sshd at root@lab-host does not answer from here: check the host name and port in libvirtUri" \
        in unreachable["libvirt"]


def test_an_ssh_host_not_reached_says_the_fix_of_what_failed():
    # The provider's SSH path (lab/libvirt_ssh.py): each kind of failure with its own fix, naming the URI's files.
    uri = "qemu+ssh://root@lab-host/system?keyfile=/home/al/.ssh/id_lab&knownhosts=/home/al/.ssh/lab_hosts"
    config = lab_config(dict(libvirtUri=uri))
    said = {"host-key": ("Host key verification failed.", "the host key of lab-host is not trusted"),
            "login": ("root@lab-host: Permission denied (publickey).", "refused the login key"),
            "forward": ("channel 2: open failed: connect failed: open failed", "libvirtd did not answer on its socket"),
            "keyfile": ("keyfile /home/al/.ssh/id_lab does not exist", "keyfile= in libvirtUri")}
    for kind, (error, fix) in said.items():
        detail = failed(config, facts(HostFacts(reachable=False, error=error, ssh_failure=kind)))["libvirt"]
        assert detail.startswith(f"cannot reach libvirtd at libvirtUri {uri} ({error}): "), detail
        assert fix in detail, (kind, detail)
    untrusted = facts(HostFacts(reachable=False, ssh_failure="host-key"))
    assert "/home/al/.ssh/lab_hosts" in failed(config, untrusted)["libvirt"]


def test_every_host_is_checked_and_named():
    config = lab_config(TWO_HOSTS)
    a = host(bridges=BRIDGES)
    short = host(bridges=BRIDGES, mem_available_mib=5000, disk_free_bytes=20 * GIB, disk_path="pool default")
    problems = failed(config, facts(a, short))
    assert set(problems) == {"hosts[1] (b) memory", "hosts[1] (b) disk"}
    # Host b carries two computes (2 * 4096 + 1024), host a the controller and one compute.
    assert "9216 MiB (2 nodes + 1024 MiB" in problems["hosts[1] (b) memory"]
    assert "hosts[1].computes" in problems["hosts[1] (b) memory"]
    assert "hosts[1].storagePoolPath" in problems["hosts[1] (b) disk"]
    assert needed_memory_mib(plan(config), 0) == 8192 + 4096 + 1024
    down = failed(config, facts(a, HostFacts(reachable=False, error="no answer within 20 s")))
    assert set(down) == {"hosts[1] (b) libvirt"}
    assert f"hosts[1].uri {HOST_B} (no answer within 20 s)" in down["hosts[1] (b) libvirt"]


def test_the_pool_of_every_host_is_named_with_its_uri():
    detail = failed(lab_config(TWO_HOSTS), facts(host(bridges=BRIDGES), host(bridges=BRIDGES, pool_exists=False)))[
        "hosts[1] (b) storage pool"]
    assert f"virsh -c '{HOST_B}' pool-define-as default dir" in detail and "hosts[1].storagePoolPath" in detail


def test_a_remote_hosts_own_pool_cannot_be_sized_and_says_why():
    hosts = [TWO_HOSTS["hosts"][0], {**TWO_HOSTS["hosts"][1], "storagePoolPath": "/srv/p"}]
    config = lab_config(dict(**{**TWO_HOSTS, "hosts": hosts}))
    unsized = host(bridges=BRIDGES, pool_exists=None, disk_free_bytes=None)
    checks = by_title(config, facts(host(bridges=BRIDGES), unsized))
    disk = checks["hosts[1] (b) disk"]
    assert not disk.ok and not disk.fatal
    assert "the lab creates this one on `up`" in disk.detail
    assert f"{2 * config.compute.disk_gib} GiB free" in disk.detail


def test_bridge_mode_needs_both_bridges_on_every_host_and_no_cidr_check():
    config = lab_config(TWO_HOSTS)
    in_use = (("host route via br-mgmt", "10.40.0.0/24"), ("host route via br-ext", "10.41.0.0/24"))
    lacking = host(bridges=(("br-mgmt", "bridge"), ("br-ext", "missing")))
    not_bridge = host(bridges=(("br-mgmt", "ethernet"), ("br-ext", "bridge")))
    problems = failed(config, facts(not_bridge, lacking, networks_in_use=in_use))
    assert set(problems) == {"hosts[0] (a) bridge br-mgmt", "hosts[1] (b) bridge br-ext"}
    assert "no interface named br-ext (network.externalBridge)" in problems["hosts[1] (b) bridge br-ext"]
    assert "type ethernet (not a Linux bridge)" in problems["hosts[0] (a) bridge br-mgmt"]
    unknown = by_title(config, facts(host(bridges=BRIDGES), host(bridges=(("br-mgmt", None), ("br-ext", None)))))
    bridge = unknown["hosts[1] (b) bridge br-mgmt"]
    assert not bridge.fatal and "not checked" in bridge.detail


def test_existing_machine_that_does_not_answer_ssh_is_a_warning():
    config = lab_config(dict(**TWO_HOSTS, **login_pair(),
                             existingComputes=[{"name": "phys1", "address": "10.40.0.200", "trustFirstContact": True}]),
                        secrets=("sshPrivateKey",))
    checks = by_title(config, facts(host(bridges=BRIDGES), host(bridges=BRIDGES), existing=(False,)))
    ssh = checks["existingComputes[0] (phys1) SSH"]
    assert not ssh.ok and not ssh.fatal and "10.40.0.200:22 does not answer" in ssh.detail
    assert "existingComputes[0] (phys1) SSH" not in by_title(config, facts(host(bridges=BRIDGES), host(bridges=BRIDGES),
                                                                          existing=(None,)))


def test_the_test_driver_is_only_reached():
    config = lab_config(dict(libvirtUri="test+unix:///default?socket=/tmp/x/libvirt-sock"))
    checks = run_checks(plan(config), facts(HostFacts(reachable=True, test_driver=True)))
    assert [c.name for c in checks if c.host == 0] == ["libvirt"] and "test driver" in checks[-1].detail


def test_no_virsh_here_leaves_a_remote_host_unchecked_with_a_warning():
    checks = by_title(lab_config(TWO_HOSTS), facts(host(bridges=BRIDGES), HostFacts(reachable=None)))
    unchecked = checks["hosts[1] (b) libvirt"]
    assert not unchecked.fatal and "install libvirt-clients" in unchecked.detail


def test_existing_cloud_needs_no_libvirt():
    config = lab_config({"cloud": {"authUrl": "http://127.0.0.1:5000/v3"}, "cloudPassword": "x"},
                        secrets=("cloudPassword",))
    assert failed(config, with_(reachable=False, kvm_device_ok=False)) == {}


def test_a_derived_cidr_already_in_use_is_caught_with_the_fix():
    config = lab_config(dict(managementCidr="192.168.122.0/24", externalCidr="10.77.1.0/24"))
    lab_facts = with_(networks_in_use=(("libvirt network default", "192.168.122.0/24"),
                                       ("host route via docker0", "10.77.0.0/16")))
    problems = failed(config, lab_facts)
    overlap = "managementCidr 192.168.122.0/24 overlaps libvirt network default (192.168.122.0/24)"
    assert overlap in problems["managementCidr free"]
    assert "externalCidr 10.77.1.0/24 overlaps host route via docker0 (10.77.0.0/16)" in problems["externalCidr free"]
    assert "pulumi config set managementCidr" in problems["managementCidr free"]


def test_a_hosts_checks_name_its_own_keys():
    one, two = HostScope.of(plan(lab_config()), 0), HostScope.of(plan(lab_config(TWO_HOSTS)), 1)
    assert (one.where, one.key, one.uri_key, one.count_key, one.local) == ("", "", "libvirtUri", "computeCount", True)
    assert (two.where, two.key, two.uri_key, two.count_key, two.local) == (
        "hosts[1] (b)", "hosts[1].", "hosts[1].uri", "hosts[1].computes", False)
    assert two.check("disk", False, "x") == Check("disk", False, "x", True, 1, "hosts[1] (b)")


def test_a_host_is_judged_only_when_its_facts_say_something():
    local, remote = HostScope.of(plan(lab_config(TWO_HOSTS)), 0), HostScope.of(plan(lab_config(TWO_HOSTS)), 1)
    assert libvirt.judged(remote, HostFacts(reachable=True)) and libvirt.judged(local, HostFacts(reachable=True))
    # A libvirtd on this machine that does not answer: its memory and disk are still this machine's.
    assert libvirt.judged(local, HostFacts(reachable=False)) and not libvirt.judged(remote, HostFacts(reachable=False))
    assert not libvirt.judged(remote, HostFacts(reachable=None))
    assert not libvirt.judged(remote, HostFacts(reachable=True, test_driver=True))


def test_unknown_facts_make_no_check():
    scope = HostScope.of(plan(lab_config()), 0)
    unknown = HostFacts(reachable=True)
    assert storage_pool.storage_pool(scope, unknown) is None
    assert capacity.memory(plan(lab_config()), scope, unknown) is None
    assert capacity.disk(plan(lab_config()), scope, unknown) is None
    assert bridges.bridges(plan(lab_config()), scope, unknown) == []  # NAT mode needs no LAN bridge


def test_bridge_mode_needs_the_two_named_bridges():
    both = (("managementBridge", "br-mgmt"), ("externalBridge", "br-ext"))
    assert needed_bridges(plan(lab_config(TWO_HOSTS))) == both
    assert needed_bridges(plan(lab_config())) == ()


def test_cidr_overlap_ignores_what_is_not_a_network():
    assert networks.overlap("10.0.0.0/24", "10.0.0.128/25") and not networks.overlap("10.0.0.0/24", "10.0.1.0/24")
    assert not networks.overlap("10.0.0.0/24", "bad")


def test_only_the_probes_touch_the_machine():
    """Facts, rules, needs and the gate import nothing that runs a command, opens a socket or reads a file, and
    name no /proc or /sys path: those are the probes' (lab/preflight/probes/)."""
    touching = {"subprocess", "socket", "shutil", "signal", "stat", "pathlib", "lab.preflight.probes"}
    package = ROOT / "lab" / "preflight"
    pure = [p for p in package.rglob("*.py") if "probes" not in p.relative_to(package).parts]
    assert len(pure) > 10, pure
    for path in pure:
        tree = ast.parse(path.read_text())
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        for node in (n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)):
            imported |= {node.module or ""} | {f"{node.module}.{a.name}" for a in node.names}
        entry = path.name in ("gate.py", "__init__.py") and path.parent == package
        allowed = {"lab.preflight.probes"} if entry else set()
        assert not (imported & touching) - allowed, f"{path.relative_to(ROOT)} imports {imported & touching}"
        text = path.read_text()
        assert "/proc/" not in text and "/sys/" not in text and "os.access" not in text, path.relative_to(ROOT)

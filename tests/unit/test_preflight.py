"""Host preflight: each missing prerequisite of this machine or of a libvirt host fails with what to
install or change, naming the host; the probes are faked by their outputs (virsh, /proc) and also run for
real on this machine."""
import dataclasses
import socket
import subprocess
import sys

from labtest import ROOT
from lab import preflight
from lab.config import parse
from test_multihost import LOGIN

MACHINE = preflight.MachineFacts(
    commands=frozenset({"qemu-img", "mkisofs", "dnsmasq", "qemu-system-x86_64", "virsh"}),
    kvm_device_ok=True,
    cpu_virtualization=True,
    hardware_virt_check="PASS",
)
HOST = preflight.HostFacts(
    reachable=True,
    mem_available_mib=64000,
    pool_exists=True,
    pool_active=True,
    disk_free_bytes=500 * preflight.GIB,
    disk_path="pool default",
)
HOST_B = "qemu+ssh://root@host-b.example/system"
BRIDGE = {"mode": "bridge", "managementBridge": "br-mgmt", "externalBridge": "br-ext", "managementGateway": "10.40.0.1"}
LAN = {"managementCidr": "10.40.0.0/24", "externalCidr": "10.41.0.0/24", "externalGateway": "10.41.0.1"}
TWO_HOSTS = {"hosts": [{"name": "a", "uri": "qemu:///system", "computes": 1},
                       {"name": "b", "uri": HOST_B, "computes": 2}], "network": BRIDGE, **LAN}
BRIDGES = (("br-mgmt", "bridge"), ("br-ext", "bridge"))


def cfg(**raw):
    return parse(raw, "openstack-lab", "alice", frozenset({"cloudPassword", "sshPrivateKey"}), path_exists=lambda p: True)


def facts(*hosts, existing=(), **machine):
    return preflight.LabFacts(dataclasses.replace(MACHINE, **machine), hosts or (HOST,), existing)


def host(**changes):
    return dataclasses.replace(HOST, **changes)


def with_(**changes):
    """One host: changes to this machine's facts or the host's, by field name."""
    mine = {k: v for k, v in changes.items() if k in preflight.MachineFacts.__dataclass_fields__}
    return facts(host(**{k: v for k, v in changes.items() if k not in mine}), **mine)


GOOD = facts()


def failed(config, lab_facts):
    return {c.title: c.detail for c in preflight.fatal_problems(preflight.run_checks(config, lab_facts))}


def by_title(config, lab_facts):
    return {c.title: c for c in preflight.run_checks(config, lab_facts)}


def test_ready_host_passes():
    assert failed(cfg(), GOOD) == {}


def test_kvm_device_without_cpu_virtualisation_is_not_usable():
    # The machine this project is tested on: /dev/kvm exists, the CPU has no vmx/svm, KVM guests hang.
    lab_facts = with_(cpu_virtualization=False, hardware_virt_check=None)
    detail = failed(cfg(), lab_facts)["KVM"]
    assert "no vmx/svm flag" in detail and "hypervisor qemu" in detail
    assert "KVM" not in failed(cfg(hypervisor="qemu"), lab_facts)


def test_virt_host_validate_verdict_is_believed():
    lab_facts = with_(hardware_virt_check="FAIL (Host not compatible with KVM; HW virtualization CPU features not found)")
    assert "virt-host-validate: hardware virtualization FAIL (Host not compatible" in failed(cfg(), lab_facts)["KVM"]


def test_missing_kvm_device_suggests_tcg():
    assert "hypervisor qemu" in failed(cfg(), with_(kvm_device_ok=False))["KVM"]


def test_memory_shortage_names_the_keys_to_lower():
    detail = failed(cfg(), with_(mem_available_mib=8000))["memory"]
    assert "17408 MiB" in detail and "computeCount" in detail  # 8192 + 2*4096 + 1024


def test_disk_shortage_points_to_storage_pool_path():
    assert "storagePoolPath" in failed(cfg(), with_(disk_free_bytes=10 * preflight.GIB))["disk"]


def test_data_disks_count_for_the_disk_of_their_host():
    config = cfg(controller={"vcpus": 4, "memoryMiB": 8192, "diskGiB": 40, "dataDisksGiB": [100]})
    assert preflight.needed_disk_bytes(config) == (40 + 100 + 2 * config.compute.disk_gib) * preflight.GIB


def test_missing_tools_say_what_to_install():
    problems = failed(cfg(hypervisor="qemu"), with_(commands=frozenset(), reachable=False))
    assert "qemu-utils" in problems["qemu-img"]
    assert "libvirt-daemon-system" in problems["libvirt"] and "libvirtUri qemu:///system" in problems["libvirt"]
    assert "qemu-system-x86" in problems["QEMU (TCG)"]
    # Both were missing on a fresh machine and failed deep inside `pulumi up`: fatal, with the package.
    assert "install genisoimage" in problems["mkisofs"]
    assert "install dnsmasq-base" in problems["dnsmasq"]


def test_missing_default_pool_offers_both_fixes():
    detail = failed(cfg(), with_(pool_exists=False, pool_active=None))["storage pool"]
    assert "virsh pool-define-as default dir" in detail and "storagePoolPath" in detail
    assert "pool-start default" in failed(cfg(), with_(pool_active=False))["storage pool"]


def test_docker_style_forward_drop_with_br_netfilter_is_fatal():
    lab_facts = with_(bridge_nf_call_iptables=True, forward_policy_drop=True)
    assert "bridge-nf-call-iptables=0" in failed(cfg(), lab_facts)["bridged traffic"]
    assert "bridged traffic" not in failed(cfg(), with_(forward_policy_drop=True))


def test_pool_directory_access_and_selinux_are_warnings_with_the_fix():
    checks = by_title(cfg(storagePoolPath="/home/alice/pool"), with_(closed_dirs=("/home/alice",), selinux_enforcing=True))
    assert not checks["pool directory access"].ok and not checks["pool directory access"].fatal
    assert "chmod o+x" in checks["pool directory access"].detail
    assert "semanage fcontext -a -t virt_image_t '/home/alice/pool(/.*)?'" in checks["SELinux label"].detail


def test_remote_libvirt_host_is_checked_over_its_uri_not_with_this_machines_tools():
    lab_facts = facts(host(mem_available_mib=8000), commands=frozenset({"mkisofs", "virsh"}), kvm_device_ok=False)
    config = cfg(libvirtUri="qemu+ssh://root@lab-host/system")
    # This machine's KVM and tools are not the host's; the host's memory is.
    assert set(failed(config, lab_facts)) == {"memory"}
    assert "mkisofs" in failed(config, facts(commands=frozenset()))
    unreachable = failed(config, facts(preflight.HostFacts(reachable=False, error="Cannot recv data: ssh: connect "
                                                                                   "to host lab-host port 22: refused")))
    assert set(unreachable) == {"libvirt"}
    assert "libvirtUri qemu+ssh://root@lab-host/system (Cannot recv data: ssh" in unreachable["libvirt"]
    assert "key-based SSH" in unreachable["libvirt"] and "virsh -c 'qemu+ssh://root@lab-host/system' nodeinfo" in unreachable["libvirt"]


def test_every_host_is_checked_and_named():
    config = cfg(**TWO_HOSTS)
    a = host(bridges=BRIDGES)
    short = host(bridges=BRIDGES, mem_available_mib=5000, disk_free_bytes=20 * preflight.GIB, disk_path="pool default")
    problems = failed(config, facts(a, short))
    assert set(problems) == {"hosts[1] (b) memory", "hosts[1] (b) disk"}
    # Host b carries two computes (2 * 4096 + 1024), host a the controller and one compute.
    assert "9216 MiB (2 nodes + 1024 MiB" in problems["hosts[1] (b) memory"]
    assert "hosts[1].computes" in problems["hosts[1] (b) memory"]
    assert "hosts[1].storagePoolPath" in problems["hosts[1] (b) disk"]
    assert preflight.needed_memory_mib(config, 0) == 8192 + 4096 + 1024
    down = failed(config, facts(a, preflight.HostFacts(reachable=False, error="no answer within 20 s")))
    assert set(down) == {"hosts[1] (b) libvirt"}
    assert f"hosts[1].uri {HOST_B} (no answer within 20 s)" in down["hosts[1] (b) libvirt"]


def test_the_pool_of_every_host_is_named_with_its_uri():
    detail = failed(cfg(**TWO_HOSTS), facts(host(bridges=BRIDGES), host(bridges=BRIDGES, pool_exists=False)))[
        "hosts[1] (b) storage pool"]
    assert f"virsh -c '{HOST_B}' pool-define-as default dir" in detail and "hosts[1].storagePoolPath" in detail


def test_a_remote_hosts_own_pool_cannot_be_sized_and_says_why():
    config = cfg(**{**TWO_HOSTS, "hosts": [TWO_HOSTS["hosts"][0], {**TWO_HOSTS["hosts"][1], "storagePoolPath": "/srv/p"}]})
    checks = by_title(config, facts(host(bridges=BRIDGES), host(bridges=BRIDGES, pool_exists=None, disk_free_bytes=None)))
    disk = checks["hosts[1] (b) disk"]
    assert not disk.ok and not disk.fatal
    assert "the lab creates this one on `up`" in disk.detail
    assert f"{2 * config.compute.disk_gib} GiB free" in disk.detail


def test_bridge_mode_needs_both_bridges_on_every_host_and_no_cidr_check():
    config = cfg(**TWO_HOSTS)
    in_use = (("host route via br-mgmt", "10.40.0.0/24"), ("host route via br-ext", "10.41.0.0/24"))
    lacking = host(bridges=(("br-mgmt", "bridge"), ("br-ext", "missing")))
    not_bridge = host(bridges=(("br-mgmt", "ethernet"), ("br-ext", "bridge")))
    problems = failed(config, facts(not_bridge, lacking, networks_in_use=in_use))
    assert set(problems) == {"hosts[0] (a) bridge br-mgmt", "hosts[1] (b) bridge br-ext"}
    assert "no interface named br-ext (network.externalBridge)" in problems["hosts[1] (b) bridge br-ext"]
    assert "type ethernet (not a Linux bridge)" in problems["hosts[0] (a) bridge br-mgmt"]
    unknown = by_title(config, facts(host(bridges=BRIDGES), host(bridges=(("br-mgmt", None), ("br-ext", None)))))
    assert not unknown["hosts[1] (b) bridge br-mgmt"].fatal and "not checked" in unknown["hosts[1] (b) bridge br-mgmt"].detail


def test_existing_machine_that_does_not_answer_ssh_is_a_warning():
    config = cfg(**TWO_HOSTS, **LOGIN, existingComputes=[{"name": "phys1", "address": "10.40.0.200", "trustFirstContact": True}])
    checks = by_title(config, facts(host(bridges=BRIDGES), host(bridges=BRIDGES), existing=(False,)))
    ssh = checks["existingComputes[0] (phys1) SSH"]
    assert not ssh.ok and not ssh.fatal and "10.40.0.200:22 does not answer" in ssh.detail
    assert "existingComputes[0] (phys1) SSH" not in by_title(config, facts(host(bridges=BRIDGES), host(bridges=BRIDGES),
                                                                          existing=(None,)))


def test_the_test_driver_is_only_reached():
    config = cfg(libvirtUri="test+unix:///default?socket=/tmp/x/libvirt-sock")
    checks = preflight.run_checks(config, facts(preflight.HostFacts(reachable=True, test_driver=True)))
    assert [c.name for c in checks if c.host == 0] == ["libvirt"] and "test driver" in checks[-1].detail


def test_no_virsh_here_leaves_a_remote_host_unchecked_with_a_warning():
    checks = by_title(cfg(**TWO_HOSTS), facts(host(bridges=BRIDGES), preflight.HostFacts(reachable=None)))
    assert not checks["hosts[1] (b) libvirt"].fatal and "install libvirt-clients" in checks["hosts[1] (b) libvirt"].detail


def test_existing_cloud_needs_no_libvirt():
    config = cfg(cloud={"authUrl": "http://127.0.0.1:5000/v3"}, cloudPassword="x")
    assert failed(config, with_(reachable=False, kvm_device_ok=False)) == {}


def test_local_uris_and_their_sockets():
    assert preflight.is_local("qemu:///system") and preflight.is_local("qemu+unix:///system?socket=/tmp/s")
    assert not preflight.is_local("qemu+ssh://root@host2/system")
    assert preflight.libvirt_socket("qemu+unix:///system?socket=/tmp/x/libvirt-sock") == "/tmp/x/libvirt-sock"
    assert preflight.libvirt_socket("qemu:///system") == "/run/libvirt/libvirt-sock"
    assert preflight.is_test_driver("test+unix:///default?socket=/s") and not preflight.is_test_driver("qemu:///system")


def test_ssh_uris_are_probed_without_a_prompt():
    assert preflight.probe_uri("qemu+ssh://root@b/system") == "qemu+ssh://root@b/system?no_tty=1"
    assert preflight.probe_uri("qemu+ssh://root@b/system?keyfile=/k") == "qemu+ssh://root@b/system?keyfile=/k&no_tty=1"
    assert preflight.probe_uri("qemu+ssh://root@b/system?no_tty=0") == "qemu+ssh://root@b/system?no_tty=0"
    assert preflight.probe_uri("qemu:///system") == "qemu:///system"


def fake_virsh(monkeypatch, answers):
    """_probe answering `virsh -c URI <args>` from {(uri, args...): (rc, stdout, stderr)}; no answer: timeout."""
    asked = []

    def probe(argv):
        assert argv[:2] == ["virsh", "-c"], argv
        asked.append(tuple(argv[2:]))
        given = answers.get(tuple(argv[2:]))
        return None if given is None else subprocess.CompletedProcess(argv, given[0], given[1], given[2])

    monkeypatch.setattr(preflight, "_probe", probe)
    return asked


NODEINFO = "CPU(s):              8\nMemory size:         32768000 KiB\n\n"
NODEMEMSTATS = "total  :             32768000 KiB\nfree   :             10240000 KiB\nbuffers:      1024000 KiB\ncached :      2048000 KiB\n"
POOL_INFO = "Name:           default\nState:          running\nCapacity:       500000000000\nAllocation:     100\nAvailable:      400000000000\n"
BR_XML = "<interface type='bridge' name='{}'>\n  <bridge stp='off' delay='0'/>\n</interface>\n"
NOT_FOUND = "error: failed to get interface 'br-ext'\nerror: Interface not found: couldn't find interface named 'br-ext'\n"


def test_gather_asks_a_remote_host_over_its_uri(monkeypatch):
    config = cfg(**TWO_HOSTS)
    uri = HOST_B + "?no_tty=1"
    asked = fake_virsh(monkeypatch, {
        (uri, "nodeinfo"): (0, NODEINFO, ""),
        (uri, "nodememstats"): (0, NODEMEMSTATS, ""),
        (uri, "pool-info", "--bytes", "default"): (0, POOL_INFO, ""),
        (uri, "iface-dumpxml", "br-mgmt"): (0, BR_XML.format("br-mgmt"), ""),
        (uri, "iface-dumpxml", "br-ext"): (1, "", NOT_FOUND),
    })
    got = preflight.gather_host(config, 1, virsh=True)
    assert got == preflight.HostFacts(reachable=True, mem_available_mib=(10240000 + 1024000 + 2048000) // 1024,
                                      pool_exists=True, pool_active=True, disk_free_bytes=400000000000,
                                      disk_path="pool default", bridges=(("br-mgmt", "bridge"), ("br-ext", "missing")))
    assert all(a[0] == uri for a in asked)


def test_gather_stops_at_a_remote_host_that_does_not_answer(monkeypatch):
    uri = HOST_B + "?no_tty=1"
    asked = fake_virsh(monkeypatch, {(uri, "nodeinfo"): (1, "", "error: failed to connect to the hypervisor\n"
                                                         "error: Cannot recv data: Host key verification failed.: "
                                                         "Connection reset by peer\n")})
    got = preflight.gather_host(cfg(**TWO_HOSTS), 1, virsh=True)
    assert got == preflight.HostFacts(reachable=False, error="Cannot recv data: Host key verification failed.: "
                                                             "Connection reset by peer")
    assert asked == [(uri, "nodeinfo")]
    fake_virsh(monkeypatch, {})  # a timeout
    assert preflight.gather_host(cfg(**TWO_HOSTS), 1, virsh=True).error == "no answer within 20 s"


def test_gather_falls_back_to_nodeinfo_total_and_to_unknown(monkeypatch):
    uri = HOST_B + "?no_tty=1"
    fake_virsh(monkeypatch, {
        (uri, "nodeinfo"): (0, NODEINFO, ""),
        (uri, "nodememstats"): (1, "", "error: this function is not supported by the connection driver"),
        (uri, "pool-info", "--bytes", "default"): (1, "", "error: Storage pool not found: no storage pool with matching name 'default'"),
        (uri, "iface-dumpxml", "br-mgmt"): (1, "", "error: this function is not supported by the connection driver"),
        (uri, "iface-dumpxml", "br-ext"): (1, "", "error: this function is not supported by the connection driver"),
    })
    got = preflight.gather_host(cfg(**TWO_HOSTS), 1, virsh=True)
    assert (got.mem_available_mib, got.mem_total_only) == (32768000 // 1024, True)
    assert (got.pool_exists, got.disk_free_bytes) == (False, None)
    assert got.bridges == (("br-mgmt", None), ("br-ext", None))


def test_gather_finds_sbin_tools_outside_path():
    def which(tool, path=None):
        return "/usr/sbin/dnsmasq" if tool == "dnsmasq" and path else None

    lab_facts = preflight.gather(cfg(hypervisor="qemu", storagePoolPath="/tmp/osl-pool"), which=which)
    assert "dnsmasq" in lab_facts.machine.commands and "mkisofs" not in lab_facts.machine.commands


def test_gather_reads_this_machines_cpu_flags():
    # A real probe: the CPU flag fact must agree with /proc/cpuinfo.
    flags = next(l for l in open("/proc/cpuinfo") if l.startswith("flags")).split()
    lab_facts = preflight.gather(cfg(hypervisor="qemu", storagePoolPath="/tmp/osl-pool"))
    assert lab_facts.machine.cpu_virtualization == bool({"vmx", "svm"} & set(flags))


def test_ssh_probe_is_a_real_bounded_tcp_connect_on_loopback():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        assert preflight._ssh_answers("127.0.0.1", port, timeout=2)
    assert not preflight._ssh_answers("127.0.0.1", port, timeout=2)  # closed now: refused


def test_probe_kills_what_outlives_its_timeout(monkeypatch):
    monkeypatch.setattr(preflight, "PROBE_TIMEOUT_S", 1)
    # The shell's child (as ssh is virsh's) would keep the pipe open; the whole session is killed.
    assert preflight._probe(["sh", "-c", "sleep 30 & sleep 30"]) is None
    assert preflight._probe(["sh", "-c", "echo hi >&2; exit 3"]).stderr == "hi\n"


def test_doctor_prints_every_check_and_fails_on_a_fatal_one(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "doctor.py"), "--stack", "no-such-stack-file"],
                          capture_output=True, text=True, timeout=120)
    assert "[" in proc.stdout and "] mkisofs:" in proc.stdout and "] memory:" in proc.stdout
    assert "-- libvirtUri qemu:///system:" in proc.stdout and "] libvirt:" in proc.stdout
    assert (proc.returncode == 0) == ("FAIL" not in proc.stdout)


def test_doctor_groups_the_checks_by_host():
    from tools.doctor import report  # noqa: PLC0415

    config = cfg(**TWO_HOSTS)
    lines = report(config, preflight.run_checks(config, facts(host(bridges=BRIDGES), host(bridges=BRIDGES, mem_available_mib=1))))
    assert lines[0] == "-- this machine:"
    assert "-- hosts[0] (a) qemu:///system:" in lines and f"-- hosts[1] (b) {HOST_B}:" in lines
    b = lines[lines.index(f"-- hosts[1] (b) {HOST_B}:"):]
    assert b[1].startswith("[ok  ] libvirt:") and any(l.startswith("[FAIL] memory: 1 MiB available") for l in b)


def test_the_program_refuses_a_host_that_is_not_ready(monkeypatch):
    broken = with_(commands=frozenset({"qemu-img", "dnsmasq", "qemu-system-x86_64"}), cpu_virtualization=False)
    monkeypatch.setattr(preflight, "gather", lambda config, **kw: broken)
    try:
        preflight.require_host_ready(cfg())
    except preflight.HostNotReady as err:
        assert [p.split(":")[0] for p in err.problems] == ["host.mkisofs", "host.KVM"]
        assert "install genisoimage" in err.problems[0]
    else:
        raise AssertionError("a host without mkisofs and KVM passed the program's preflight")


def test_the_program_checks_every_host_and_names_it(monkeypatch):
    seen = {}

    def gather(config, **kw):
        seen.update(kw)
        return facts(host(bridges=BRIDGES), preflight.HostFacts(reachable=False, error="Connection refused"))

    monkeypatch.setattr(preflight, "gather", gather)
    try:
        preflight.require_host_ready(cfg(**TWO_HOSTS))
    except preflight.HostNotReady as err:
        assert err.problems == [f"hosts[1] (b) libvirt: cannot reach libvirtd at hosts[1].uri {HOST_B} (Connection "
                                "refused): check hosts[1].uri, that libvirtd runs on that host and that this machine "
                                "logs in there without a prompt (qemu+ssh: key-based SSH as that user, its host key in "
                                f"~/.ssh/known_hosts); `virsh -c '{HOST_B}' nodeinfo` must work from here"]
    else:
        raise AssertionError("an unreachable second host passed the program's preflight")
    assert seen == {"existing": False}  # the existing machines' SSH probe is the doctor's (a warning)


def test_the_program_does_not_probe_existing_clouds(monkeypatch):
    def gather(config, **kw):
        raise AssertionError("probed")

    monkeypatch.setattr(preflight, "gather", gather)
    preflight.require_host_ready(cfg(cloud={"authUrl": "http://127.0.0.1:5000/v3"}, cloudPassword="x"))


def test_a_derived_cidr_already_in_use_is_caught_with_the_fix():
    config = cfg(managementCidr="192.168.122.0/24", externalCidr="10.77.1.0/24")
    lab_facts = with_(networks_in_use=(("libvirt network default", "192.168.122.0/24"), ("host route via docker0", "10.77.0.0/16")))
    problems = failed(config, lab_facts)
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

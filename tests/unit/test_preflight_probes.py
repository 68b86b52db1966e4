"""Preflight's probes (lab/preflight/probes/): the commands they run faked by their outputs (virsh, ip), and
run for real on this machine (/proc, a loopback TCP connect, a command that outlives its timeout)."""
import socket
import subprocess
from contextlib import contextmanager

from harness import lab_config
from lab import libvirt_ssh, naming
from lab.plan import plan
from lab.preflight.facts import HostFacts
from lab.preflight.probes import command, gather, local, machine
from lab.preflight.probes.host import gather_host
from lab.preflight.probes.networks import networks_in_use
from lab.preflight.probes.ssh import ssh_answers
from preflight_facts import TWO_HOSTS


def fake_virsh(monkeypatch, answers):
    """_probe answering `virsh -c URI <args>` from {(uri, args...): (rc, stdout, stderr)}; no answer: timeout."""
    asked = []

    def probe(argv):
        assert argv[:2] == ["virsh", "-c"], argv
        asked.append(tuple(argv[2:]))
        given = answers.get(tuple(argv[2:]))
        return None if given is None else subprocess.CompletedProcess(argv, given[0], given[1], given[2])

    monkeypatch.setattr(command, "probe", probe)
    return asked


NODEINFO = "CPU(s):              8\nMemory size:         32768000 KiB\n\n"
NODEMEMSTATS = ("total  :             32768000 KiB\nfree   :             10240000 KiB\n"
                "buffers:      1024000 KiB\ncached :      2048000 KiB\n")
POOL_INFO = ("Name:           default\nState:          running\nCapacity:       500000000000\n"
             "Allocation:     100\nAvailable:      400000000000\n")
BR_XML = "<interface type='bridge' name='{}'>\n  <bridge stp='off' delay='0'/>\n</interface>\n"
NOT_FOUND = ("error: failed to get interface 'br-ext'\n"
             "error: Interface not found: couldn't find interface named 'br-ext'\n")


# The local end of the provider's SSH path to HOST_B (lab/libvirt_ssh.py), faked below.
TUNNEL = "qemu+unix:///system?socket=/tmp/osl-libvirt-ssh-x/libvirt-sock"


def fake_ssh_path(monkeypatch, fails=None, said=""):
    """libvirt_ssh.forwarded faked: a tunnel at TUNNEL whose ssh said `said`, or the SshFailure `fails`; no ssh runs."""
    opened = []

    class Tunnel:
        uri = TUNNEL

        @staticmethod
        def messages():
            return said

    @contextmanager
    def forwarded(target, timeout):
        opened.append((target, timeout))
        if fails is not None:
            raise fails
        yield Tunnel

    monkeypatch.setattr(libvirt_ssh, "forwarded", forwarded)
    return opened


def test_gather_asks_a_remote_host_over_the_providers_ssh_path(monkeypatch):
    config = lab_config(TWO_HOSTS)
    uri = TUNNEL
    opened = fake_ssh_path(monkeypatch)
    asked = fake_virsh(monkeypatch, {
        (uri, "nodeinfo"): (0, NODEINFO, ""),
        (uri, "nodememstats"): (0, NODEMEMSTATS, ""),
        (uri, "pool-info", "--bytes", "default"): (0, POOL_INFO, ""),
        (uri, "iface-dumpxml", "br-mgmt"): (0, BR_XML.format("br-mgmt"), ""),
        (uri, "iface-dumpxml", "br-ext"): (1, "", NOT_FOUND),
    })
    got = gather_host(plan(config), 1, virsh=True)
    assert got == HostFacts(reachable=True, mem_available_mib=(10240000 + 1024000 + 2048000) // 1024,
                                      pool_exists=True, pool_active=True, disk_free_bytes=400000000000,
                                      disk_path="pool default", bridges=(("br-mgmt", "bridge"), ("br-ext", "missing")))
    assert all(a[0] == uri for a in asked)
    assert [(target.login(), timeout) for target, timeout in opened] == [("root@host-b.example", 20)]


def test_gather_stops_at_a_remote_host_that_does_not_answer(monkeypatch):
    # The SSH login fails: ssh's words and their kind, no virsh.
    asked = fake_virsh(monkeypatch, {})
    fake_ssh_path(monkeypatch, fails=libvirt_ssh.SshFailure("host-key", "Host key verification failed."))
    got = gather_host(plan(lab_config(TWO_HOSTS)), 1, virsh=True)
    assert got == HostFacts(reachable=False, error="Host key verification failed.", ssh_failure="host-key")
    assert asked == []
    # Logged in, but sshd did not connect the socket: what ssh said, sorted.
    disconnected = (1, "", "error: failed to connect to the hypervisor\n"
                           "error: Cannot recv data: Connection reset by peer\n")
    asked = fake_virsh(monkeypatch, {(TUNNEL, "nodeinfo"): disconnected})
    fake_ssh_path(monkeypatch, said="channel 2: open failed: connect failed: open failed")
    got = gather_host(plan(lab_config(TWO_HOSTS)), 1, virsh=True)
    assert got == HostFacts(reachable=False, error="channel 2: open failed: connect failed: open failed",
                            ssh_failure="forward")
    assert asked == [(TUNNEL, "nodeinfo")]
    fake_virsh(monkeypatch, {})  # a timeout, ssh silent
    fake_ssh_path(monkeypatch)
    silent = HostFacts(reachable=False, error="no answer within 20 s")
    assert gather_host(plan(lab_config(TWO_HOSTS)), 1, virsh=True) == silent


def test_gather_falls_back_to_nodeinfo_total_and_to_unknown(monkeypatch):
    uri = TUNNEL
    fake_ssh_path(monkeypatch)
    fake_virsh(monkeypatch, {
        (uri, "nodeinfo"): (0, NODEINFO, ""),
        (uri, "nodememstats"): (1, "", "error: this function is not supported by the connection driver"),
        (uri, "pool-info", "--bytes", "default"):
            (1, "", "error: Storage pool not found: no storage pool with matching name 'default'"),
        (uri, "iface-dumpxml", "br-mgmt"): (1, "", "error: this function is not supported by the connection driver"),
        (uri, "iface-dumpxml", "br-ext"): (1, "", "error: this function is not supported by the connection driver"),
    })
    got = gather_host(plan(lab_config(TWO_HOSTS)), 1, virsh=True)
    assert (got.mem_available_mib, got.mem_total_only) == (32768000 // 1024, True)
    assert (got.pool_exists, got.disk_free_bytes) == (False, None)
    assert got.bridges == (("br-mgmt", None), ("br-ext", None))


def test_gather_finds_sbin_tools_outside_path():
    def which(tool, path=None):
        return "/usr/sbin/dnsmasq" if tool == "dnsmasq" and path else None

    lab_facts = gather(plan(lab_config(dict(hypervisor="qemu", storagePoolPath="/tmp/osl-pool"))), which=which)
    assert "dnsmasq" in lab_facts.machine.commands and "mkisofs" not in lab_facts.machine.commands


def test_gather_reads_this_machines_cpu_flags():
    # A real probe: the CPU flag fact must agree with /proc/cpuinfo.
    flags = next(line for line in open("/proc/cpuinfo") if line.startswith("flags")).split()
    lab_facts = gather(plan(lab_config(dict(hypervisor="qemu", storagePoolPath="/tmp/osl-pool"))))
    assert lab_facts.machine.cpu_virtualization == bool({"vmx", "svm"} & set(flags))


def test_ssh_probe_is_a_real_bounded_tcp_connect_on_loopback():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        assert ssh_answers("127.0.0.1", port, timeout=2)
    assert not ssh_answers("127.0.0.1", port, timeout=2)  # closed now: refused


def test_probe_kills_what_outlives_its_timeout(monkeypatch):
    monkeypatch.setattr(command, "PROBE_TIMEOUT_S", 1)
    # The shell's child (as ssh is virsh's) would keep the pipe open; the whole session is killed.
    assert command.probe(["sh", "-c", "sleep 30 & sleep 30"]) is None
    assert command.probe(["sh", "-c", "echo hi >&2; exit 3"]).stderr == "hi\n"


def test_gather_lists_other_networks_but_not_the_stacks_own(monkeypatch):
    config = lab_config(dict(managementCidr="10.20.0.0/24", externalCidr="10.20.1.0/24"))
    own = naming.resource_prefix("openstack-lab", "alice")
    bridge = naming.bridge_name("openstack-lab", "alice", "management")
    answers = {
        ("net-list",): f"default\n{own}-management\n",
        ("net-dumpxml", "default"): "<network><ip address='192.168.122.1' netmask='255.255.255.0'/></network>",
        ("net-dumpxml", f"{own}-management"): "<network><ip address='10.20.0.1' prefix='24'/></network>",
    }

    def probe(argv):
        if argv[0] == "ip":
            out = (f"10.20.0.0/24 dev {bridge} proto kernel scope link\n"
                   "172.17.0.0/16 dev docker0 proto kernel\ndefault via 10.0.0.1 dev eth0\n")
        else:
            out = answers[tuple(argv[3:4]) if argv[3] == "net-list" else tuple(argv[3:5])]
        return subprocess.CompletedProcess(argv, 0, out, "")

    monkeypatch.setattr(command, "probe", probe)
    used = networks_in_use(plan(config), virsh=True)
    assert used == (("libvirt network default", "192.168.122.0/24"), ("host route via docker0", "172.17.0.0/16"))


def test_machine_reads_virt_host_validate_and_the_forward_policy(monkeypatch):
    outputs = {"virt-host-validate": "  QEMU: Checking for hardware virtualization : FAIL (Only emulated CPUs are "
                                     "available, performance will be significantly limited)\n",
               "iptables": "-P INPUT ACCEPT\n-P FORWARD DROP\n-A FORWARD -j DOCKER-USER\n"}
    asked = []
    monkeypatch.setattr(command, "probe", lambda argv: asked.append(argv) or subprocess.CompletedProcess(
        argv, 0, outputs[argv[0]], ""))

    def in_sbin(tool, path=None):
        return f"/usr/sbin/{tool}" if path else None

    assert machine.hardware_virt_check(lambda tool, path=None: tool) == (
        "FAIL (Only emulated CPUs are available, performance will be significantly limited)")
    assert machine.forward_policy_drop(in_sbin)
    assert asked == [["virt-host-validate", "qemu"], ["iptables", "-S", "FORWARD"]]
    assert machine.hardware_virt_check(lambda tool, path=None: None) is None
    assert not machine.forward_policy_drop(lambda tool, path=None: None) and len(asked) == 2


def test_local_probes_read_this_machine(tmp_path):
    closed = tmp_path / "home"
    (closed / "pool").mkdir(parents=True)
    closed.chmod(0o700)
    assert str(closed) in local.closed_dirs(str(closed / "pool" / "not-yet"))
    closed.chmod(0o755)
    assert str(closed) not in local.closed_dirs(str(closed / "pool"))
    # Not made yet: the free space of the file system that will hold it.
    assert local.free_bytes(str(tmp_path / "a" / "b")) > 0
    assert local.sysfs_type("lo") == "non-bridge" and local.sysfs_type("osl-no-such0") == "missing"
    assert local.read("/nonexistent/osl") == "" and local.mem_available_mib() > 0

"""Preflight's gate (lab/preflight/gate.py): the program refuses a host that is not ready, one line per
problem naming the host; `make doctor` (tools/doctor.py) prints every check grouped by host."""
import subprocess
import sys

from harness import lab_config
from labtest import ROOT
from lab.plan import plan
from lab.preflight import gate, probes
from lab.preflight.facts import HostFacts
from lab.preflight.rules import run_checks
from preflight_facts import BRIDGES, HOST_B, TWO_HOSTS, facts, host, with_


def test_doctor_prints_every_check_and_fails_on_a_fatal_one(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "doctor.py"), "--stack", "no-such-stack-file"],
                          capture_output=True, text=True, timeout=120)
    assert "[" in proc.stdout and "] mkisofs:" in proc.stdout and "] memory:" in proc.stdout
    assert "-- libvirtUri qemu:///system:" in proc.stdout and "] libvirt:" in proc.stdout
    assert (proc.returncode == 0) == ("FAIL" not in proc.stdout)


def test_doctor_groups_the_checks_by_host():
    from tools.doctor import report

    config = lab_config(TWO_HOSTS)
    lab = plan(config)
    lines = report(lab, run_checks(lab, facts(host(bridges=BRIDGES), host(bridges=BRIDGES, mem_available_mib=1))))
    assert lines[0] == "-- this machine:"
    assert "-- hosts[0] (a) qemu:///system:" in lines and f"-- hosts[1] (b) {HOST_B}:" in lines
    b = lines[lines.index(f"-- hosts[1] (b) {HOST_B}:"):]
    assert b[1].startswith("[ok  ] libvirt:") and any(line.startswith("[FAIL] memory: 1 MiB available") for line in b)


def test_the_program_refuses_a_host_that_is_not_ready(monkeypatch):
    broken = with_(commands=frozenset({"qemu-img", "dnsmasq", "qemu-system-x86_64"}), cpu_virtualization=False)
    monkeypatch.setattr(probes, "gather", lambda config, **kw: broken)
    try:
        gate.require_host_ready(lab_config())
    except gate.HostNotReady as err:
        assert [p.split(":")[0] for p in err.problems] == ["host.mkisofs", "host.KVM"]
        assert "install genisoimage" in err.problems[0]
    else:
        raise AssertionError("a host without mkisofs and KVM passed the program's preflight")


def test_the_program_checks_every_host_and_names_it(monkeypatch):
    seen = {}

    def gather(config, **kw):
        seen.update(kw)
        unreachable = HostFacts(reachable=False, error="Connection refused", ssh_failure="connect")
        return facts(host(bridges=BRIDGES), unreachable)

    monkeypatch.setattr(probes, "gather", gather)
    try:
        gate.require_host_ready(lab_config(TWO_HOSTS))
    except gate.HostNotReady as err:
        assert err.problems == [f"hosts[1] (b) libvirt: cannot reach libvirtd at hosts[1].uri {HOST_B} (Connection "
                                "refused): sshd at root@host-b.example does not answer from here: check the host name "
                                "and port in hosts[1].uri, that sshd runs there and that this machine reaches it"]
    else:
        raise AssertionError("an unreachable second host passed the program's preflight")
    assert seen == {"existing": False}  # the existing machines' SSH probe is the doctor's (a warning)


def test_the_program_does_not_probe_existing_clouds(monkeypatch):
    def gather(config, **kw):
        raise AssertionError("probed")

    monkeypatch.setattr(probes, "gather", gather)
    config = lab_config({"cloud": {"authUrl": "http://127.0.0.1:5000/v3"}, "cloudPassword": "x"},
                        secrets=("cloudPassword",))
    gate.require_host_ready(config)


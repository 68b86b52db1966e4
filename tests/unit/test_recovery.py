"""`make recover`'s modules (tools/recovery/) on their own: processes read from /proc for real (a child started
here stands for a killed run's plugin), the file backend's locks in a temp dir, libvirt orphans with a fake
virsh, and the entry tools/recover.py run as `make recover` runs it. The whole flow against the real CLI is the
engine tier's (tests/engine/test_engine_faults.py)."""
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading

import pytest

from labtest import ROOT
from lab import libvirt_ssh
from tools.recovery import backend, libvirt_orphans, processes, procfs
from tools.recovery.messages import Failure

RECOVER = ROOT / "tools" / "recover.py"


SLEEPER = "import time; print('started', flush=True); time.sleep(60)"


def started(*args: str, **env: str) -> subprocess.Popen:
    """A child python that sleeps, once it runs (its /proc entries are its own only after the exec)."""
    child = subprocess.Popen([sys.executable, "-c", SLEEPER, *args], env={**os.environ, **env},
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline() == "started\n"  # bounded: the child ends within 60 s
    return child


def plugin_like(engine_port: int, backend_url: str) -> subprocess.Popen:
    """A process shaped like a Pulumi plugin: its argv names an engine on loopback; the backend in its env."""
    return started(f"127.0.0.1:{engine_port}", PULUMI_BACKEND_URL=backend_url, PULUMI_PROJECT="openstack-lab")


def test_a_plugin_whose_engine_is_gone_is_found_and_stopped(tmp_path):
    url = f"file://{tmp_path}"
    with socket.socket() as engine:
        engine.bind(("127.0.0.1", 0))
        engine.listen(1)
        port = engine.getsockname()[1]
        served = plugin_like(port, url)
        try:
            # Its engine still listens (this process, same network namespace): not an orphan.
            assert procfs.listening(served.pid, port)
            assert served.pid not in [pid for pid, _ in processes.orphaned_plugins(url, "openstack-lab")]
        finally:
            served.kill()
            served.wait()
    orphan = plugin_like(port, url)  # the engine's port is closed now
    try:
        found = dict(processes.orphaned_plugins(url, "openstack-lab"))
        assert orphan.pid in found and found[orphan.pid].endswith(f"127.0.0.1:{port}"), found
        assert orphan.pid not in dict(processes.orphaned_plugins(url, "another-project"))
        assert orphan.pid not in dict(processes.orphaned_plugins(url + "-other", "openstack-lab"))
        threading.Thread(target=orphan.wait, daemon=True).start()  # reaped at once, as init reaps a real one
        processes.stop([orphan.pid])
        assert orphan.wait(timeout=10) == -15  # SIGTERM was enough
    finally:
        orphan.kill()
        orphan.wait()


def test_processes_read_from_proc():
    child = started("--stack", "alice")
    try:
        assert procfs.proc_argv(child.pid)[1:] == ["-c", SLEEPER, "--stack", "alice"]
        assert procfs.proc_ppid(child.pid) == os.getpid() and procfs.proc_state(child.pid) in ("R", "S")
        assert procfs.exists(child.pid) and child.pid in set(procfs.all_pids())
        assert processes.stack_of(procfs.proc_argv(child.pid)) == "alice"
        assert not processes.has_pulumi_ancestor(child.pid) and not processes.is_pulumi_cli(child.pid)
    finally:
        child.kill()
        child.wait()
    assert not procfs.exists(child.pid) and procfs.proc_argv(child.pid) == [] and procfs.proc_state(child.pid) == ""
    assert os.getpid() not in set(procfs.all_pids())


def test_the_stack_a_cli_names():
    assert processes.stack_of(["pulumi", "up", "--stack=bob"]) == "bob"
    assert processes.stack_of(["pulumi", "up", "-s", "bob", "--yes"]) == "bob"
    assert processes.stack_of(["pulumi", "up", "--stack"]) is None  # uses the selected stack
    assert processes.same_backend({"PULUMI_BACKEND_URL": "file:///b/"}, "file:///b")
    assert not processes.same_backend({}, "file:///b")


def test_the_file_backend_its_project_and_stack(tmp_path):
    assert backend.backend_dir("file://~/x") == backend.backend_dir(f"file://{os.path.expanduser('~')}/x")
    assert backend.backend_dir("file:///tmp/a%20b") == backend.backend_dir("file:///tmp/a b")
    with pytest.raises(Failure, match="is not a file backend"):
        backend.backend_dir("s3://bucket")
    with pytest.raises(Failure, match="no Pulumi.yaml in"):
        backend.project_name(tmp_path)
    (tmp_path / "Pulumi.yaml").write_text("# a lab\nname: 'openstack-lab'\nruntime: python\n")
    assert backend.project_name(tmp_path) == "openstack-lab"
    assert backend.stack_file(tmp_path, "openstack-lab", "alice") is None
    state = tmp_path / ".pulumi" / "stacks" / "openstack-lab" / "alice.json"
    state.parent.mkdir(parents=True)
    state.write_text("{}")
    assert backend.stack_file(tmp_path, "openstack-lab", "alice") == state


def test_locks_say_who_wrote_them_and_go_with_their_attrs(tmp_path):
    locks = tmp_path / ".pulumi" / "locks" / "organization" / "openstack-lab" / "alice"
    locks.mkdir(parents=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    here = locks / "1.json"
    here.write_text(json.dumps({"pid": dead.pid, "username": "alice", "hostname": socket.gethostname(),
                                "timestamp": "2025-01-01T00:00:00Z"}))
    (locks / "1.json.attrs").write_text("{}")
    there = locks / "2.json"
    there.write_text(json.dumps({"pid": 1, "username": "bob", "hostname": "not-" + socket.gethostname()}))
    (locks / "3.json").write_text("not json")
    found = [backend.describe_lock(p) for p in backend.lock_files(tmp_path, "openstack-lab", "alice")]
    assert [(lock.path.name, lock.local, lock.alive, lock.user) for lock in found] == [
        ("1.json", True, False, "alice"), ("2.json", False, False, "bob"), ("3.json", False, False, "?")]
    assert found[0].pid == dead.pid and found[0].time == "2025-01-01T00:00:00Z" and found[2].host == "?"
    backend.remove_lock(found[0])
    assert sorted(p.name for p in locks.iterdir()) == ["2.json", "3.json"]


class FakeVirsh(libvirt_orphans.Virsh):
    """virsh over a set of existing objects: (kind verb prefix, name); records what it was asked."""

    def __init__(self, existing: set[str], refuse: tuple[str, ...] = ()) -> None:
        self.argv = ["virsh"]
        self.existing, self.refuse, self.calls = existing, refuse, []

    def __call__(self, uri: str, *args: str) -> bool:
        self.calls.append((uri, *args))
        verb, name = args[0], args[-1]
        if verb in self.refuse:
            return False
        if verb in ("domuuid", "net-uuid", "pool-uuid", "vol-key"):
            return name in self.existing
        if verb in ("undefine", "net-undefine", "pool-undefine", "vol-delete"):
            self.existing.discard(name)
        return True


def test_an_orphan_is_removed_by_name_and_only_when_it_exists():
    virsh = FakeVirsh({"lab-controller", "lab-disk"})
    assert libvirt_orphans.remove_orphan(virsh, "qemu:///system", "domain", "lab-controller", "default")
    assert virsh.calls == [("qemu:///system", "domuuid", "lab-controller"),
                           ("qemu:///system", "destroy", "lab-controller"),
                           ("qemu:///system", "undefine", "--nvram", "lab-controller")]
    assert not libvirt_orphans.remove_orphan(virsh, "qemu:///system", "network", "lab-management", "default")
    assert libvirt_orphans.remove_orphan(virsh, "qemu:///system", "volume", "lab-disk", "labpool")
    assert ("qemu:///system", "vol-delete", "--pool", "labpool", "lab-disk") in virsh.calls and not virsh.existing
    stuck = FakeVirsh({"lab-controller"}, refuse=("undefine",))
    with pytest.raises(Failure, match="cannot remove the orphaned domain lab-controller: virsh -c q undefine lab-"):
        libvirt_orphans.remove_orphan(stuck, "q", "domain", "lab-controller", "default")


def test_a_qemu_ssh_host_is_asked_through_the_providers_login_and_a_failed_login_is_no_answer(tmp_path, monkeypatch):
    # Over the provider's SSH path (lab/libvirt_ssh.py), virsh at the forwarded socket; a failed login stops recover
    # with the fix instead of reading as "the orphan does not exist".
    asked = []
    monkeypatch.setattr(libvirt_orphans.Virsh, "run", lambda self, uri, *args: asked.append((uri, *args)) or True)

    class Tunnel:
        uri = "qemu+unix:///system?socket=/tmp/t/libvirt-sock"

    @contextlib.contextmanager
    def forwarded(target, timeout):
        yield Tunnel

    monkeypatch.setattr(libvirt_ssh, "forwarded", forwarded)
    assert libvirt_orphans.Virsh()("qemu+ssh://root@b/system?knownhosts=/k", "domuuid", "lab-b-compute1")
    assert asked == [(Tunnel.uri, "domuuid", "lab-b-compute1")]
    monkeypatch.undo()
    uri = f"qemu+ssh://root@b/system?knownhosts={tmp_path}/missing"  # fails before any ssh runs
    with pytest.raises(Failure, match=r"cannot reach libvirtd at qemu\+ssh://root@b/system\?knownhosts=.*missing does "
                                      r"not exist\): the host key of b is not trusted"):
        libvirt_orphans.Virsh()(uri, "domuuid", "lab-b-compute1")


def test_the_state_names_a_provider_uri_and_the_objects_it_holds():
    deployment = {"resources": [
        {"urn": "urn:p::libvirt::b", "inputs": {"uri": "qemu+ssh://root@b/system"}},
        {"urn": "urn:d::x", "type": "libvirt:index/domain:Domain", "inputs": {"name": "lab-a"},
         "outputs": {"name": "lab-a"}},
        {"urn": "urn:d::y", "type": "libvirt:index/domain:Domain", "inputs": {"name": "lab-b"}},
    ]}
    assert libvirt_orphans.provider_uri(deployment, "urn:p::libvirt::b::1234") == "qemu+ssh://root@b/system"
    assert libvirt_orphans.provider_uri(deployment, "") == "qemu:///system"
    assert libvirt_orphans.managed_names(deployment, "libvirt:index/domain:Domain") == {"lab-a", "lab-b"}


def test_pending_creates_of_other_resources_are_only_reported(capsys):
    deployment = {"pending_operations": [
        {"type": "creating", "resource": {"urn": "urn:x::command:remote:Command::prep",
                                          "type": "command:remote:Command", "inputs": {}}},
        {"type": "updating", "resource": {"urn": "urn:x::libvirt:index/domain:Domain::c",
                                          "type": "libvirt:index/domain:Domain", "inputs": {"name": "lab-c"}}},
    ]}
    assert libvirt_orphans.resolve_pending(deployment) == 2
    out = capsys.readouterr().out
    assert "recover: pending creating of urn:x::command:remote:Command::prep" in out
    assert "recover:   cleared (not a libvirt object; `up` creates prep again)" in out
    assert "recover: pending updating of urn:x::libvirt:index/domain:Domain::c" in out


def test_the_entry_stops_with_what_to_do_before_touching_anything(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    proc = subprocess.run(["python3", str(RECOVER), "--stack", "alice", "--cwd", str(ROOT)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3 and proc.stdout == ""
    assert proc.stderr == "recover: PULUMI_BACKEND_URL is not set: source toolchain/env.sh (make recover does)\n"
    env.update(PULUMI_BACKEND_URL=f"file://{tmp_path}", PULUMI_CLI="/bin/false")
    proc = subprocess.run(["python3", str(RECOVER), "--stack", "alice", "--cwd", str(ROOT)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3 and proc.stderr == f"recover: no stack alice of project openstack-lab in {tmp_path}\n"
    usage = subprocess.run(["python3", str(RECOVER), "--help"], capture_output=True, text=True, timeout=60).stdout
    assert "Recover a stack after an interrupted `pulumi up`" in usage and "--force" in usage

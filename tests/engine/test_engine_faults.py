"""Engine tier: faults a lab user meets, against the real CLI on a tiny program of its own (no libvirt).

- SIGKILL of a running `up`: the next `up` says the stack is locked (pid, lock file, `pulumi cancel`), the killed
  run's plugins keep running; `tools/recover.py` (make recover) refuses while the run is alive and with a wrong
  passphrase, then stops the orphaned plugins, removes the stale lock, clears the pending create and refreshes;
  the next `up` converges and the resource that was being created exists exactly once.
- SIGINT of a running `up`: Pulumi's own cancel finishes the create in flight, releases the lock, leaves no
  pending operation; the next `up` converges.
- Wrong or missing passphrase: every command fails fast with a clear message, no file changes, and the secret
  config value is nowhere in plain text.
- A pending create of a libvirt object (an imported state, virsh faked): recover removes the orphan by name.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from support import ROOT, require, tail
from support.program import tiny_program
from support.pulumi import PULUMI, Workspace, clean_env, require_toolchain
from support.secret_scan import assert_absent

RECOVER = ROOT / "tools" / "recover.py"
PROJECT = "engine-faults"
LOCKED = "the stack is currently locked"
# Time limits here are timeouts against hangs, not benchmarks.
FAST = 120

PROGRAM = textwrap.dedent('''\
    import os
    import time

    import pulumi
    from pulumi.dynamic import CreateResult, Resource, ResourceProvider


    class Slow(ResourceProvider):
        """Like a libvirt object: created once under its name. Before its work it notes that it started and
        sleeps as long as the file `sleep.<name>` says, so a test can interrupt it mid-create."""

        def create(self, props):
            d, name = props["dir"], props["name"]
            with open(os.path.join(d, name + ".started"), "a") as f:
                f.write(f"{os.getpid()}\\n")
            try:
                with open(os.path.join(d, "sleep." + name)) as f:
                    time.sleep(float(f.read()))
            except FileNotFoundError:
                pass
            path = os.path.join(d, name)
            if os.path.exists(path):
                raise Exception(f"{name} already exists")
            with open(path, "w") as f:
                f.write("created\\n")
            with open(os.path.join(d, "ledger"), "a") as f:
                f.write(name + "\\n")
            return CreateResult(id_=path, outs=props)

        def delete(self, id_, props):
            os.remove(id_)


    class Obj(Resource):
        def __init__(self, name, d, opts=None):
            super().__init__(Slow(), name, {"name": name, "dir": d}, opts)


    cfg = pulumi.Config()
    d = cfg.require("dir")
    token = cfg.require_secret("token")
    a = Obj("a", d)
    b = Obj("b", d, pulumi.ResourceOptions(depends_on=[a]))
    c = Obj("c", d, pulumi.ResourceOptions(depends_on=[b]))
    pulumi.export("token", token)
    pulumi.export("tokenLength", token.apply(len))
    ''')


class Lab:
    """One stack of the tiny program: its own work dir, backend, passphrase, object dir and secret."""

    def __init__(self, base: Path, name: str) -> None:
        self.base = base
        proj = tiny_program(base / "proj", PROJECT, PROGRAM)
        self.objs = base / "objs"
        self.objs.mkdir()
        self.workspace = Workspace(proj, base / "state")
        self.stack = self.workspace.create_stack(name)
        self.name = name
        self.proj = proj
        self.backend = base / "state" / "backend"
        self.secret = "tok-" + secrets.token_hex(12)
        self.stack.set_config({f"{PROJECT}:dir": str(self.objs)})
        self.stack.set_secret(f"{PROJECT}:token", self.secret)

    # -- processes --------------------------------------------------------------------------------------
    def env(self, **extra: str) -> dict[str, str]:
        return clean_env({**self.workspace.env, **extra})

    def start_up(self) -> subprocess.Popen:
        log = open(self.base / "up.log", "w")
        argv = [str(PULUMI), "--non-interactive", "--color", "never", "up", "--yes", "--skip-preview",
                "--stack", self.name]
        return subprocess.Popen(argv, cwd=self.proj, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)

    def wait_started(self, name: str, proc: subprocess.Popen, timeout: float = 300) -> int:
        """The pid of the dynamic provider once the create of `name` is under way."""
        marker = self.objs / f"{name}.started"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker.exists() and marker.read_text().strip():
                return int(marker.read_text().split()[-1])
            if proc.poll() is not None:
                pytest.fail(f"`up` ended before {name} was being created:\n{self.up_log()}", pytrace=False)
            time.sleep(0.2)
        pytest.fail(f"{name} was not being created after {timeout} s:\n{self.up_log()}", pytrace=False)

    def up_log(self) -> str:
        return tail((self.base / "up.log").read_text())

    def recover(self, **extra: str) -> subprocess.CompletedProcess:
        proc = subprocess.run([shutil.which("python3") or "python3", str(RECOVER), "--stack", self.name,
                               "--cwd", str(self.proj)], env=self.env(**extra), capture_output=True, text=True,
                              timeout=600)
        assert self.secret not in proc.stdout + proc.stderr
        return proc

    # -- state --------------------------------------------------------------------------------------------
    def locks(self) -> list[Path]:
        return sorted((self.backend / ".pulumi" / "locks").glob(f"*/{PROJECT}/{self.name}/*.json"))

    def deployment(self) -> dict:
        return self.stack.export()["deployment"]

    def names_in_state(self) -> list[str]:
        return sorted(r["urn"].rsplit("::", 1)[-1] for r in self.deployment().get("resources") or []
                      if r["type"] == "pulumi-python:dynamic:Resource")

    def ledger(self) -> list[str]:
        path = self.objs / "ledger"
        return sorted(path.read_text().split()) if path.exists() else []

    def files(self) -> dict[str, str]:
        """sha256 of every file under the backend and the work dir."""
        found = {}
        for root in (self.backend, self.proj):
            for path in sorted(root.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        return found

    def plaintext_hits(self) -> list[str]:
        needle = self.secret.encode()
        hits = []
        for root in (self.base, Path(self.workspace.env["PULUMI_HOME"]) / "workspaces"):
            for path in root.rglob("*"):
                if path.is_file() and not path.is_symlink() and needle in path.read_bytes():
                    hits.append(str(path))
        return hits


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def lab(tmp_path):
    require_toolchain(plugins=False)
    require(shutil.which("python3") is not None, "python3 not on PATH")
    made = []

    def make(name: str) -> Lab:
        made.append(Lab(tmp_path / name, name))
        return made[-1]

    yield make
    for one in made:
        # A failed test may have left a run or its plugins behind: stop what belongs to this backend.
        for pid in map(int, filter(str.isdigit, os.listdir("/proc"))):
            try:
                environ = Path(f"/proc/{pid}/environ").read_bytes()
            except OSError:
                continue
            if f"PULUMI_BACKEND_URL={one.workspace.env['PULUMI_BACKEND_URL']}".encode() in environ.split(b"\0"):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass



def test_sigkill_leaves_a_lock_and_recover_converges(lab):
    lab = lab("killed")
    (lab.objs / "sleep.b").write_text("600")
    run = lab.start_up()
    provider_pid = lab.wait_started("b", run)
    [lock] = lab.locks()
    assert json.loads(lock.read_text())["pid"] == run.pid

    # While the run is alive, recover changes nothing and says who holds the stack.
    busy = lab.recover()
    assert busy.returncode == 2, busy.stdout + busy.stderr
    assert f"pulumi (pid {run.pid}" in busy.stderr and f"kill -INT {run.pid}" in busy.stderr
    assert lab.locks() == [lock]

    run.send_signal(signal.SIGKILL)
    run.wait(timeout=60)
    # What the killed run left: its lock, a pending create of b, and its plugins (own process groups) still at work.
    assert lab.locks() == [lock]
    pending = lab.deployment().get("pending_operations") or []
    assert [(op["type"], op["resource"]["urn"].rsplit("::", 1)[-1]) for op in pending] == [("creating", "b")]
    assert alive(provider_pid), "the dynamic provider died with the CLI: update what the README says"

    # The next up fails fast, saying the stack is locked, by whom, and how to clear it.
    start = time.monotonic()
    up = lab.stack.up(check=False, timeout=FAST)
    text = up.stdout + up.stderr
    assert up.returncode != 0
    assert LOCKED in text and "pulumi cancel" in text and f"(pid {run.pid})" in text and lock.name in text, text
    assert time.monotonic() - start < FAST
    # A preview takes no lock: it still works (and plans the create of b and c).
    assert lab.stack.preview(timeout=FAST).returncode == 0

    # A wrong passphrase: recover stops before changing anything.
    wrong = lab.base / "wrong-passphrase"
    wrong.write_text("not-the-passphrase")
    wrong.chmod(0o600)
    before = lab.files()
    refused = lab.recover(PULUMI_CONFIG_PASSPHRASE_FILE=str(wrong))
    assert refused.returncode == 3 and "incorrect passphrase" in refused.stderr, refused.stderr
    assert lab.files() == before and alive(provider_pid)

    rec = lab.recover()
    assert rec.returncode == 0, rec.stdout + rec.stderr
    out = rec.stdout
    assert f"stopping plugin pid {provider_pid}" in out, out
    assert f"removing the stale lock of pid {run.pid}" in out, out
    assert "pending creating of" in out and "::b" in out, out
    assert "recovered" in out
    assert not lab.locks() and not alive(provider_pid)
    assert not lab.deployment().get("pending_operations")
    assert lab.names_in_state() == ["a"]

    # Idempotent: a second run finds nothing and changes nothing but a refresh.
    again = lab.recover()
    assert again.returncode == 0 and "no lock, no orphaned plugin, no pending operation" in again.stdout

    (lab.objs / "sleep.b").unlink()
    lab.stack.up()
    lab.stack.preview("--expect-no-changes")
    # b was being created when the run died: it exists once, in libvirt terms neither duplicated nor lost.
    assert lab.names_in_state() == ["a", "b", "c"]
    assert lab.ledger() == ["a", "b", "c"]
    assert not lab.plaintext_hits()


def test_sigint_cancels_gracefully_and_up_converges(lab):
    lab = lab("interrupted")
    (lab.objs / "sleep.b").write_text("5")
    run = lab.start_up()
    lab.wait_started("b", run)
    run.send_signal(signal.SIGINT)
    assert run.wait(timeout=FAST) != 0
    log = (lab.base / "up.log").read_text()
    assert "^C received; cancelling" in log, tail(log)
    # Pulumi finished the create in flight, recorded it, started nothing new and released the lock.
    assert not lab.locks()
    assert not lab.deployment().get("pending_operations")
    assert lab.names_in_state() == ["a", "b"]
    assert lab.ledger() == ["a", "b"]
    lab.stack.up(timeout=FAST * 3)
    lab.stack.preview("--expect-no-changes")
    assert lab.names_in_state() == ["a", "b", "c"] and lab.ledger() == ["a", "b", "c"]


@pytest.mark.parametrize("case", ["wrong", "missing", "missing-file"])
def test_passphrase_fails_fast_changes_nothing(lab, case):
    lab = lab(f"pass-{case}")
    lab.stack.up(timeout=FAST * 3)
    assert lab.stack.outputs(show_secrets=True)["token"] == lab.secret
    if case == "wrong":
        wrong = lab.base / "wrong-passphrase"
        wrong.write_text("not-the-passphrase")
        wrong.chmod(0o600)
        env = {"PULUMI_CONFIG_PASSPHRASE_FILE": str(wrong)}
        message = "incorrect passphrase"
    elif case == "missing":
        env = {"PULUMI_CONFIG_PASSPHRASE_FILE": ""}
        message = "passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE"
    else:
        env = {"PULUMI_CONFIG_PASSPHRASE_FILE": str(lab.base / "no-such-passphrase")}
        message = "unable to read PULUMI_CONFIG_PASSPHRASE_FILE"
    lab.stack.set_config({f"{PROJECT}:dir": str(lab.objs)})  # a no-op write: the file as the CLI will see it
    before = lab.files()
    commands = [("up", "--yes", "--skip-preview"), ("preview",), ("refresh", "--yes", "--skip-preview"),
                ("destroy", "--yes", "--skip-preview"), ("config", "get", f"{PROJECT}:token"),
                ("stack", "output", "--show-secrets")]
    for args in commands:
        start = time.monotonic()
        proc = subprocess.run([str(PULUMI), "--non-interactive", "--color", "never", *args, "--stack", lab.name],
                              cwd=lab.proj, env=lab.env(**env), capture_output=True, text=True, timeout=FAST,
                              stdin=subprocess.DEVNULL)
        text = proc.stdout + proc.stderr
        assert proc.returncode != 0, f"pulumi {' '.join(args)} succeeded without the passphrase"
        assert message in text, f"pulumi {' '.join(args)}: {tail(text)}"
        assert_absent({"the stack's secret config value": lab.secret}, text, f"pulumi {' '.join(args)}")
        assert time.monotonic() - start < FAST
    recover = lab.recover(**env)
    assert recover.returncode == 3 and message in recover.stderr, recover.stderr
    assert lab.files() == before, "a command without the passphrase changed a file"
    assert not lab.locks()
    assert lab.ledger() == ["a", "b", "c"]
    assert not lab.plaintext_hits()


FAKE_VIRSH = textwrap.dedent('''\
    #!/bin/sh
    # virsh -q -c URI VERB ARGS...: known objects are files in $FAKE_LIBVIRT/<kind>/<name>
    echo "$*" >> "$FAKE_LIBVIRT/calls"
    shift 3; verb=$1; shift
    name=""; for arg in "$@"; do name=$arg; done
    case $verb in
      domuuid) test -e "$FAKE_LIBVIRT/domain/$name" ;;
      undefine) rm "$FAKE_LIBVIRT/domain/$name" ;;
      destroy) exit 0 ;;
      net-uuid) test -e "$FAKE_LIBVIRT/network/$name" ;;
      vol-key) test -e "$FAKE_LIBVIRT/volume/$name" ;;
      vol-delete) rm "$FAKE_LIBVIRT/volume/$name" ;;
      *) exit 1 ;;
    esac
    ''')


def test_recover_removes_libvirt_orphans_of_pending_creates(lab, tmp_path):
    """A killed lab `up` leaves pending creates of libvirt objects: recover looks each up by name with virsh
    (faked here) and removes those that exist, so `up` can create them again under the same name."""
    lab = lab("libvirt")
    lab.stack.up(timeout=FAST * 3)
    fake = tmp_path / "fake-libvirt"
    for kind in ("domain", "network", "volume"):
        (fake / kind).mkdir(parents=True)
    (fake / "domain" / "lab-x-controller").touch()     # created before the kill, never recorded
    (fake / "volume" / "lab-x-controller-disk").touch()
    virsh = tmp_path / "virsh"
    virsh.write_text(FAKE_VIRSH)
    virsh.chmod(0o755)
    doc = lab.stack.export()
    dep = doc["deployment"]
    stack_urn = dep["resources"][0]["urn"]
    prefix = stack_urn.split("::pulumi:pulumi:Stack::")[0]
    provider_urn = f"{prefix}::pulumi:providers:libvirt::libvirt"
    dep["resources"].append({"urn": provider_urn, "custom": True, "id": "11111111-2222-3333-4444-555555555555",
                             "type": "pulumi:providers:libvirt", "inputs": {"uri": "test:///default"},
                             "outputs": {"uri": "test:///default"}, "parent": stack_urn})

    def pending(rtype: str, name: str, **inputs: str) -> dict:
        return {"type": "creating", "resource": {
            "urn": f"{prefix}::{rtype}::{name}", "custom": True, "type": rtype, "parent": stack_urn,
            "provider": f"{provider_urn}::11111111-2222-3333-4444-555555555555", "inputs": {"name": name, **inputs}}}

    dep["pending_operations"] = [pending("libvirt:index/domain:Domain", "lab-x-controller"),
                                 pending("libvirt:index/volume:Volume", "lab-x-controller-disk", pool="labpool"),
                                 pending("libvirt:index/network:Network", "lab-x-management")]
    # `pulumi stack import` drops pending operations ("removing pending operation ..."): write the checkpoint
    # of the file backend the way a killed run leaves it.
    checkpoint = lab.backend / ".pulumi" / "stacks" / PROJECT / f"{lab.name}.json"
    saved = json.loads(checkpoint.read_text())
    saved["checkpoint"]["latest"] = dep
    checkpoint.write_text(json.dumps(saved))
    assert len(lab.deployment()["pending_operations"]) == 3
    rec = lab.recover(RECOVER_VIRSH=str(virsh), FAKE_LIBVIRT=str(fake))
    assert rec.returncode == 0, rec.stdout + rec.stderr
    assert "removed the orphaned domain lab-x-controller (test:///default)" in rec.stdout, rec.stdout
    assert "removed the orphaned volume lab-x-controller-disk" in rec.stdout
    assert "cleared (network lab-x-management does not exist in test:///default)" in rec.stdout
    assert not [p for kind in ("domain", "volume") for p in (fake / kind).iterdir()]
    calls = (fake / "calls").read_text()
    assert "-c test:///default vol-delete --pool labpool lab-x-controller-disk" in calls
    assert not lab.deployment().get("pending_operations")

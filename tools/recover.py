"""Recover a stack after an interrupted `pulumi up` (`make recover STACK=name`): say what the run left, then
make the next `make up` converge.

Usage: python3 tools/recover.py [--stack NAME] [--cwd PROGRAM_DIR] [--force]
       (after `source toolchain/env.sh`: the file backend in PULUMI_BACKEND_URL, the passphrase in
       PULUMI_CONFIG_PASSPHRASE(_FILE); standard library only)

What a killed (SIGKILL, lost terminal, power) `pulumi up` leaves, and what this does about each:
1. a lock file `<backend>/.pulumi/locks/organization/<project>/<stack>/<id>.json` ({pid, username, hostname,
   timestamp}); the next `up`/`refresh`/`destroy` fails with "the stack is currently locked". It is removed only
   when its pid is no pulumi process on this host any more and no other pulumi of this stack (same backend)
   runs; a lock of another host is left alone unless --force.
2. its plugin processes (language host, dynamic providers, the libvirt plugin), started in their own process
   groups: they outlive the CLI and may still finish a create. Those of this backend whose engine is gone (no
   pulumi ancestor, nothing listening on their engine port in their network namespace) are stopped first.
3. `pending_operations` in the state: a "creating" entry is an object whose create started but was never
   recorded. For libvirt domains, networks, volumes, cloud-init disks and pools the object is looked up by
   name (virsh; $RECOVER_VIRSH overrides the command) and, when it exists and the state does not hold it,
   removed: it may be half made, and `up` creates it again under the same name. Other pending creates are
   cleared (the lab's other resources are keys, answers and idempotent remote commands).
Then `pulumi refresh --clear-pending-creates --parallel 1` (a parallel refresh once hung in the libvirt plugin)
brings the state in line with libvirt. Running it again on a healthy stack changes nothing but a refresh.
Exit 0 recovered, 2 a pulumi of this stack still runs (or another host's lock), 3 passphrase or CLI failure.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator, Optional
from urllib.parse import unquote, urlparse

ENGINE_ADDR = re.compile(r"^127\.0\.0\.1:(\d+)$")
LIBVIRT_TYPES = {
    "libvirt:index/domain:Domain": "domain",
    "libvirt:index/network:Network": "network",
    "libvirt:index/volume:Volume": "volume",
    "libvirt:index/cloudInitDisk:CloudInitDisk": "volume",
    "libvirt:index/pool:Pool": "pool",
}


def say(msg: str) -> None:
    print(f"recover: {msg}", flush=True)


class Failure(Exception):
    def __init__(self, msg: str, code: int = 3) -> None:
        super().__init__(msg)
        self.code = code


# -- processes ----------------------------------------------------------------------------------------
def proc_argv(pid: int) -> list[str]:
    try:
        return [a.decode(errors="replace") for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
    except OSError:
        return []


def proc_env(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    return dict(item.decode(errors="replace").split("=", 1) for item in raw.split(b"\0") if b"=" in item)


def proc_comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def proc_ppid(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[1])


def all_pids() -> Iterator[int]:
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            yield int(entry)


def is_pulumi_cli(pid: int) -> bool:
    return proc_comm(pid) == "pulumi"


def has_pulumi_ancestor(pid: int) -> bool:
    seen = set()
    pid = proc_ppid(pid)
    while pid > 1 and pid not in seen:
        seen.add(pid)
        if is_pulumi_cli(pid):
            return True
        pid = proc_ppid(pid)
    return False


def listening(pid: int, port: int) -> bool:
    """A LISTEN socket on `port` in the network namespace of `pid` (its /proc/<pid>/net/tcp*)."""
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


def same_backend(env: dict[str, str], backend_url: str) -> bool:
    return env.get("PULUMI_BACKEND_URL", "").rstrip("/") == backend_url.rstrip("/")


def stack_of(argv: list[str]) -> Optional[str]:
    for i, arg in enumerate(argv):
        if arg in ("--stack", "-s") and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--stack="):
            return arg.split("=", 1)[1]
    return None


def running_clis(backend_url: str, stack: str) -> list[tuple[int, str]]:
    """pulumi CLI processes on this backend that name this stack (or name none: they use the selected one)."""
    found = []
    for pid in all_pids():
        if not is_pulumi_cli(pid) or not same_backend(proc_env(pid), backend_url):
            continue
        argv = proc_argv(pid)
        if stack_of(argv) in (stack, None) and len(argv) > 1 and argv[1:2] != ["version"]:
            found.append((pid, " ".join(argv)))
    return found


def orphaned_plugins(backend_url: str, project: str) -> list[tuple[int, str]]:
    """Plugin processes of this backend (and project, where they say) whose engine (the CLI) is gone."""
    found = []
    for pid in all_pids():
        argv = proc_argv(pid)
        ports = [int(m.group(1)) for m in map(ENGINE_ADDR.match, argv[1:]) if m]
        if not ports or is_pulumi_cli(pid):
            continue
        env = proc_env(pid)
        if not same_backend(env, backend_url) or env.get("PULUMI_PROJECT", project) != project:
            continue
        if has_pulumi_ancestor(pid) or any(listening(pid, port) for port in ports):
            continue
        found.append((pid, " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(argv[:6]))))
    return found


def stop(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() and proc_comm(p) for p in pids):
        time.sleep(0.2)
    for pid in pids:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                os.kill(pid, signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass


# -- backend --------------------------------------------------------------------------------------------
def backend_dir(url: str) -> Path:
    parsed = urlparse(url)
    if parsed.scheme != "file":
        raise Failure(f"PULUMI_BACKEND_URL={url!r} is not a file backend: recover handles the local file backend "
                      "only (source toolchain/env.sh)")
    path = unquote(parsed.netloc + parsed.path)
    return Path(os.path.expanduser(path))


def project_name(cwd: Path) -> str:
    try:
        text = (cwd / "Pulumi.yaml").read_text()
    except OSError as err:
        raise Failure(f"no Pulumi.yaml in {cwd}: run from the checkout or pass --cwd ({err})") from err
    for line in text.splitlines():
        m = re.match(r"^name:\s*['\"]?([^'\"#\s]+)", line)
        if m:
            return m.group(1)
    raise Failure(f"{cwd / 'Pulumi.yaml'} names no project")


def lock_files(backend: Path, project: str, stack: str) -> list[Path]:
    locks = backend / ".pulumi" / "locks"
    return sorted([*locks.glob(f"*/{project}/{stack}/*.json"), *locks.glob(f"{stack}/*.json")])


def describe_lock(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        doc = {}
    pid = int(doc.get("pid") or 0)
    host = doc.get("hostname", "?")
    local = host == socket.gethostname()
    alive = local and pid > 0 and is_pulumi_cli(pid)
    return {"path": path, "pid": pid, "host": host, "user": doc.get("username", "?"),
            "time": doc.get("timestamp", "?"), "local": local, "alive": alive}


# -- the CLI ---------------------------------------------------------------------------------------------
class Cli:
    def __init__(self, stack: str, cwd: Path) -> None:
        self.argv0 = os.environ.get("PULUMI_CLI") or shutil.which("pulumi")
        if not self.argv0:
            raise Failure("pulumi not on PATH: source toolchain/env.sh (make recover does)")
        self.stack, self.cwd = stack, cwd

    def run(self, *args: str, stdout=subprocess.PIPE, echo: bool = False) -> subprocess.CompletedProcess:
        argv = [self.argv0, "--non-interactive", "--color", "never", *args, "--stack", self.stack]
        if echo:
            say("$ pulumi " + " ".join(shlex.quote(a) for a in (*args, "--stack", self.stack)))
        return subprocess.run(argv, cwd=self.cwd, stdout=None if echo else stdout, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, text=True, timeout=3600)

    def check_passphrase(self) -> None:
        """Fail before any change when the passphrase does not open the stack. Every command checks it against the
        stack file's encryptionsalt, but only when it needs the secrets manager (`config --show-secrets` of a
        stack without secure values does not): encrypting a probe value into a copy of the stack file always
        does, and changes nothing. Without a stack file, decrypting the state (to /dev/null) is the check."""
        stack_file = self.cwd / f"Pulumi.{self.stack}.yaml"
        if stack_file.exists():
            with tempfile.TemporaryDirectory(prefix="recover-") as tmp:
                probe = Path(tmp) / stack_file.name
                shutil.copyfile(stack_file, probe)
                proc = self.run("config", "set", "--secret", "--config-file", str(probe), "recover:probe", "probe",
                                stdout=subprocess.DEVNULL)
        else:
            proc = self.run("stack", "export", "--show-secrets", stdout=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise Failure("the stack's secrets cannot be decrypted, nothing was changed:\n  "
                          + proc.stderr.strip().replace("\n", "\n  ")
                          + "\n  the passphrase: PULUMI_CONFIG_PASSPHRASE_FILE (default ~/.config/openstack-lab/"
                          "passphrase, set by toolchain/env.sh) or PULUMI_CONFIG_PASSPHRASE")

    def export(self) -> dict:
        proc = self.run("stack", "export")
        if proc.returncode != 0:
            raise Failure(f"`pulumi stack export` failed: {proc.stderr.strip()}")
        return json.loads(proc.stdout).get("deployment", {})


# -- libvirt objects of pending creates ------------------------------------------------------------------
class Virsh:
    def __init__(self) -> None:
        self.argv = shlex.split(os.environ.get("RECOVER_VIRSH", "virsh"))

    def available(self) -> bool:
        return shutil.which(self.argv[0]) is not None

    def __call__(self, uri: str, *args: str) -> bool:
        proc = subprocess.run([*self.argv, "-q", "-c", uri, *args], capture_output=True, text=True, timeout=300)
        return proc.returncode == 0


def provider_uri(deployment: dict, ref: str) -> str:
    urn = ref.rsplit("::", 1)[0] if ref else ""
    for res in deployment.get("resources") or []:
        if res.get("urn") == urn:
            uri = (res.get("inputs") or {}).get("uri") or (res.get("outputs") or {}).get("uri")
            if isinstance(uri, str) and uri:
                return uri
    return "qemu:///system"


def managed_names(deployment: dict, rtype: str) -> set[str]:
    names = set()
    for res in deployment.get("resources") or []:
        if res.get("type") == rtype:
            for props in (res.get("outputs") or {}, res.get("inputs") or {}):
                if isinstance(props.get("name"), str):
                    names.add(props["name"])
    return names


# virsh verbs per libvirt object kind: does it exist, stop it, remove it (a domain's NVRAM with it where it has one).
LIFECYCLE = {
    "domain": ("domuuid", "destroy", (("undefine", "--nvram"), ("undefine",))),
    "network": ("net-uuid", "net-destroy", (("net-undefine",),)),
    "pool": ("pool-uuid", "pool-destroy", (("pool-undefine",),)),
}


def remove_orphan(virsh: Virsh, uri: str, kind: str, name: str, pool: str) -> bool:
    """Remove the libvirt object `name` of `kind` when it exists; True when it did."""
    if kind not in LIFECYCLE:  # a volume (or cloud-init disk) of `pool`
        if not virsh(uri, "vol-key", "--pool", pool, name):
            return False
        if not virsh(uri, "vol-delete", "--pool", pool, name):
            raise Failure(f"cannot delete the orphaned volume {name}: virsh -c {uri} vol-delete --pool {pool} {name}")
        return True
    exists, stop, removals = LIFECYCLE[kind]
    if not virsh(uri, exists, name):
        return False
    virsh(uri, stop, name)
    if not any(virsh(uri, *removal, name) for removal in removals):
        last = " ".join(removals[-1])
        raise Failure(f"cannot remove the orphaned {kind} {name}: virsh -c {uri} {last} {name}")
    return True


def resolve_pending(deployment: dict) -> int:
    """Report every pending operation; remove the libvirt objects of interrupted creates. Returns their count."""
    pending = deployment.get("pending_operations") or []
    virsh = Virsh()
    for op in pending:
        res = op.get("resource") or {}
        urn, rtype, kind = res.get("urn", "?"), res.get("type", "?"), op.get("type", "?")
        say(f"pending {kind} of {urn}")
        if kind != "creating":
            continue  # the resource is in the state: refresh reads what libvirt really has
        inputs = res.get("inputs") or {}
        name = inputs.get("name")
        lv_kind = LIBVIRT_TYPES.get(rtype)
        if lv_kind is None or not isinstance(name, str):
            say(f"  cleared (not a libvirt object; `up` creates {urn.rsplit('::', 1)[-1]} again)")
            continue
        if name in managed_names(deployment, rtype):
            say(f"  cleared ({lv_kind} {name} is held by another resource of the state; left alone)")
            continue
        if not virsh.available():
            raise Failure(f"{virsh.argv[0]} not found: install libvirt-clients, or remove the {lv_kind} {name} by hand "
                          "if it exists, then run this again")
        uri = provider_uri(deployment, res.get("provider", ""))
        pool = inputs.get("pool") if isinstance(inputs.get("pool"), str) else "default"
        if remove_orphan(virsh, uri, lv_kind, name, pool):
            say(f"  removed the orphaned {lv_kind} {name} ({uri}): its create was interrupted; `up` creates it again")
        else:
            say(f"  cleared ({lv_kind} {name} does not exist in {uri})")
    return len(pending)


# -- main ------------------------------------------------------------------------------------------------
def recover(stack: str, cwd: Path, force: bool) -> int:
    backend_url = os.environ.get("PULUMI_BACKEND_URL", "")
    if not backend_url:
        raise Failure("PULUMI_BACKEND_URL is not set: source toolchain/env.sh (make recover does)")
    backend = backend_dir(backend_url)
    project = project_name(cwd)
    cli = Cli(stack, cwd)
    stack_file = next(iter(backend.glob(f".pulumi/stacks/{project}/{stack}.json*")), None) or \
        next(iter(backend.glob(f".pulumi/stacks/{stack}.json*")), None)
    if stack_file is None:
        raise Failure(f"no stack {stack} of project {project} in {backend}", code=3)

    # 1. Who holds the stack? Nothing is changed until no pulumi of it runs.
    locks = [describe_lock(p) for p in lock_files(backend, project, stack)]
    for lock in locks:
        if lock["alive"]:
            raise Failure(f"pulumi (pid {lock['pid']}, since {lock['time']}) still runs on stack {stack} and holds its "
                          f"lock: wait for it, or interrupt it with `kill -INT {lock['pid']}` (it finishes the "
                          "operations in flight, then releases the lock) and run this again", code=2)
        if not lock["local"] and not force:
            raise Failure(f"stack {stack} is locked by {lock['user']}@{lock['host']} (pid {lock['pid']}, since "
                          f"{lock['time']}): recover on that host, or pass --force when that run is surely gone",
                          code=2)
    others = running_clis(backend_url, stack)
    if others:
        listing = "\n  ".join(f"pid {pid}: {cmd}" for pid, cmd in others)
        raise Failure(f"a pulumi of stack {stack} still runs, nothing changed:\n  {listing}\n  wait for it or "
                      "interrupt it (kill -INT <pid>), then run this again", code=2)

    # 2. The passphrase, before anything is changed.
    cli.check_passphrase()

    # 3. Plugins of a killed run still at work.
    orphans = orphaned_plugins(backend_url, project)
    for pid, cmd in orphans:
        say(f"stopping plugin pid {pid} of a killed pulumi run (its engine is gone): {cmd}")
    stop([pid for pid, _ in orphans])

    # 4. Stale locks.
    for lock in locks:
        say(f"removing the stale lock of pid {lock['pid']} ({lock['user']}@{lock['host']}, {lock['time']}; that "
            f"process is gone): {lock['path']}")
        for path in (lock["path"], lock["path"].with_name(lock["path"].name + ".attrs")):
            path.unlink(missing_ok=True)

    # 5. Pending operations, then a refresh that drops interrupted creates and reads what libvirt has.
    deployment = cli.export()
    count = resolve_pending(deployment)
    if not locks and not orphans and not count:
        say(f"stack {stack}: no lock, no orphaned plugin, no pending operation; refreshing the state anyway")
    proc = cli.run("refresh", "--yes", "--skip-preview", "--clear-pending-creates", "--parallel", "1", echo=True)
    if proc.returncode != 0:
        raise Failure(f"`pulumi refresh` failed:\n  {proc.stderr.strip()}")
    left = cli.export().get("pending_operations") or []
    if left:
        raise Failure(f"{len(left)} pending operation(s) remain after the refresh: "
                      + ", ".join(f"{op.get('type')} {op.get('resource', {}).get('urn')}" for op in left))
    say(f"stack {stack} recovered: `make up STACK={stack}` converges from here")
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default=os.environ.get("STACK") or os.environ.get("USER") or "dev")
    parser.add_argument("--cwd", type=Path, default=Path.cwd(), help="the program dir (default: here)")
    parser.add_argument("--force", action="store_true", help="also remove a lock another host wrote")
    args = parser.parse_args(argv)
    try:
        return recover(args.stack, args.cwd.resolve(), args.force)
    except Failure as err:
        print(f"recover: {err}", file=sys.stderr)
        return err.code


if __name__ == "__main__":
    sys.exit(main())

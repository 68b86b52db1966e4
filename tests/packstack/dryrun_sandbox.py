"""The lab's nodes faked on this machine for Packstack, without touching the machine.

A network namespace of its own (`eth0`, one end of a veth pair inside it, with every node's management
address, the controller's first so it is the source address, `default via` the lab's gateway: Packstack finds
its own address from the default route, installer/utils/network.py get_localhost_ip), and in it `sandbox.sh` under
`unshare --mount --propagation private`: scratch over /root, /var/tmp, /run, /dev/shm, the lab's /etc/hosts
and a resolver on 127.0.0.1, everything else read-only, then a local OpenSSH sshd on the nodes' addresses.
Commands run inside with `nsenter` into the holder's mount and network namespaces, with a clean environment.

Before anything runs, the mounts are checked twice: by sandbox.sh (device and inode of every bind, every
other mount read-only) and here through /proc/<holder>/root (the scratch is what /root and /var/tmp are
in there). Every wait is bounded and says what it waited for.
"""
from __future__ import annotations

import itertools
import os
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping, Optional, Sequence

from lab.cloudinit import hosts_file
from lab.plan import HostEntry

HERE = Path(__file__).resolve().parent
SANDBOX_SH = HERE / "sandbox.sh"
STANDINS = HERE / "standins"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
READY_TIMEOUT = 60  # seconds for the mounts and sshd on every address
SSHD_TIMEOUT = 20
STOP_TIMEOUT = 10
_counter = itertools.count(1)


class SandboxError(RuntimeError):
    """The sandbox could not be made as promised: nothing has run in it."""


def interpreter_dirs() -> tuple[str, ...]:
    """Top-level directories under /root that the Python interpreters resolve into (pyenv lives in
    /root/.pyenv here): bound back read-only over the scratch /root, or Packstack could not start."""
    from support import ROOT

    found = set()
    for python in (ROOT / ".venv-packstack" / "bin" / "python", ROOT / ".venv" / "bin" / "python"):
        real = Path(os.path.realpath(python))
        if real.parts[:2] == ("/", "root") and len(real.parts) > 2:
            found.add(str(Path("/root", real.parts[2])))
    return tuple(sorted(found))


def sshd_config(scratch: Path, addresses: Sequence[str], environment: Mapping[str, str]) -> str:
    lines = [
        "# sshd of the Packstack tier's sandbox (tests/packstack/dryrun_sandbox.py): the lab's nodes, faked",
        "Port 22",
        *(f"ListenAddress {address}" for address in addresses),
        f"HostKey {scratch}/sshd/ssh_host_ed25519_key",
        f"PidFile {scratch}/sshd/sshd.pid",
        "AuthorizedKeysFile .ssh/authorized_keys",  # root's: /root is the scratch's (trust-controller-key.sh)
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "PrintMotd no",
        "PrintLastLog no",
        "LogLevel VERBOSE",
        # the stand-ins first, as the EL9 tools Packstack calls on every node
        "SetEnv " + " ".join(f"{k}={v}" for k, v in environment.items()),
    ]
    return "\n".join(lines) + "\n"


class Sandbox:
    """A running sandbox: `run` a command inside it; `scratch` holds what it left (mode 0700)."""

    def __init__(self, netns: str, scratch: Path, holder: subprocess.Popen, environment: dict[str, str]) -> None:
        self.netns, self.scratch, self.holder, self.environment = netns, scratch, holder, environment
        self.root = scratch / "root"  # what /root is inside
        self.var_tmp = scratch / "var-tmp"  # what /var/tmp is inside

    def run(self, argv: Sequence[str], what: str, timeout: float, env: Optional[Mapping[str, str]] = None,
            stdin: str = "", cwd: str = "/root") -> subprocess.CompletedProcess:
        """argv inside the namespaces with the sandbox's environment (plus env); raises a bounded, named
        timeout. stdout and stderr come back merged, as a user would read them."""
        merged = {**self.environment, **(env or {})}
        command = ["nsenter", f"--target={self.holder.pid}", "--mount", "--net", "--",
                   "env", "-i", "-C", cwd, *(f"{k}={v}" for k, v in merged.items()), *argv]
        try:
            return subprocess.run(command, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise TimeoutError(f"{what} did not finish within {timeout:.0f} s in sandbox {self.netns}") from exc


def _ip(*args: str) -> None:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise SandboxError(f"ip {' '.join(args)}: {proc.stderr.strip()}")


def _layout(scratch: Path, nodes: Sequence[HostEntry], keep: Sequence[str], environment: Mapping[str, str]) -> None:
    scratch.mkdir(mode=0o700, parents=True, exist_ok=True)  # the caller may have put its own state in it
    scratch.chmod(0o700)  # passwords end up in here (answers, hieradata)
    for name, mode in (("root", 0o700), ("var-tmp", 0o1777), ("tmp", 0o1777), ("run", 0o755),
                       ("etc", 0o755), ("sshd", 0o700)):
        (scratch / name).mkdir()
        (scratch / name).chmod(mode)
    for directory in keep:
        (scratch / "root" / Path(directory).relative_to("/root")).mkdir(parents=True)
    (scratch / "etc" / "hosts").write_text(hosts_file([tuple(n) for n in nodes]))
    (scratch / "etc" / "resolv.conf").write_text("nameserver 127.0.0.1\n")  # no lookup leaves the namespace
    key = scratch / "sshd" / "ssh_host_ed25519_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sandbox", "-f", str(key)],
                   check=True, capture_output=True, timeout=30)
    (scratch / "sshd" / "sshd_config").write_text(sshd_config(scratch, [n.ip for n in nodes], environment))


def _same(inside: Path, outside: Path) -> bool:
    a, b = os.stat(inside), os.stat(outside)
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _check_from_outside(holder_pid: int, scratch: Path) -> None:
    """The holder's view of the file system, read through /proc/<pid>/root: the scratch, not the machine."""
    inside = Path(f"/proc/{holder_pid}/root")
    for target, source in (("root", "root"), ("var/tmp", "var-tmp"), ("run", "run")):
        if not _same(inside / target, scratch / source):
            raise SandboxError(f"/{target} inside the sandbox is not the scratch {scratch / source}: stopping")
    for name in ("hosts", "resolv.conf"):
        if (inside / "etc" / name).read_text() != (scratch / "etc" / name).read_text():
            raise SandboxError(f"/etc/{name} inside the sandbox is not the lab's: stopping")


def _stop(holder: subprocess.Popen, netns: str) -> None:
    if holder.poll() is None:
        holder.send_signal(signal.SIGTERM)
        try:
            holder.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait(timeout=STOP_TIMEOUT)
    # Anything of ours still in the namespace (an ssh session of a timed-out run), by process id.
    pids = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True, timeout=30).stdout.split()
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    subprocess.run(["ip", "netns", "del", netns], capture_output=True, timeout=30)


@contextmanager
def sandbox(scratch: Path, nodes: Sequence[HostEntry], gateway: str, prefix_len: int,
            extra_env: Optional[Mapping[str, str]] = None, keep: Optional[Sequence[str]] = None) -> Iterator[Sandbox]:
    """The nodes (controller first) faked in a fresh network + mount namespace; removed on exit.
    keep: directories under /root bound back read-only (default: the Python interpreters')."""
    keep = interpreter_dirs() if keep is None else tuple(keep)
    environment = {
        "PATH": f"{STANDINS}:{SYSTEM_PATH}",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "TMPDIR": str(scratch / "tmp"),
        **(extra_env or {}),
    }
    _layout(scratch, nodes, keep, environment)
    netns = f"osl-pks-{os.getpid()}-{next(_counter)}"
    _ip("netns", "add", netns)
    holder: Optional[subprocess.Popen] = None
    try:
        _ip("-n", netns, "link", "set", "lo", "up")
        # a veth pair with both ends inside (this kernel has no dummy driver); the nodes' addresses on eth0
        _ip("-n", netns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0-peer")
        _ip("-n", netns, "link", "set", "eth0-peer", "up")
        for node in nodes:  # the controller's first: the primary address, Packstack's own
            _ip("-n", netns, "addr", "add", f"{node.ip}/{prefix_len}", "dev", "eth0")
        _ip("-n", netns, "link", "set", "eth0", "up")
        _ip("-n", netns, "route", "add", "default", "via", gateway)
        log = (scratch / "sandbox.log").open("w")
        holder = subprocess.Popen(
            ["ip", "netns", "exec", netns, "unshare", "--mount", "--propagation", "private", "bash", str(SANDBOX_SH)],
            env={"PATH": SYSTEM_PATH, "SANDBOX_SCRATCH": str(scratch), "SANDBOX_KEEP": ":".join(keep),
                 "SANDBOX_ADDRESSES": ",".join(n.ip for n in nodes), "SANDBOX_SSHD_TIMEOUT": str(SSHD_TIMEOUT)},
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + READY_TIMEOUT
        while not (scratch / "ready").exists():
            if holder.poll() is not None:
                raise SandboxError("the sandbox stopped before anything ran: "
                                   + (scratch / "sandbox.log").read_text().strip()[-2000:])
            if time.monotonic() > deadline:
                raise SandboxError(f"the sandbox's mounts and sshd on {', '.join(n.ip for n in nodes)} were not "
                                   f"ready within {READY_TIMEOUT} s: " + (scratch / "sandbox.log").read_text()[-2000:])
            time.sleep(0.1)
        _check_from_outside(holder.pid, scratch)
        yield Sandbox(netns, scratch, holder, environment)
    finally:
        if holder is not None:
            _stop(holder, netns)
        else:
            subprocess.run(["ip", "netns", "del", netns], capture_output=True, timeout=30)

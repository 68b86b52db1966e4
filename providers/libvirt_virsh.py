"""virsh on a lab host, reached the way the libvirt provider reaches it: one module for the preflight, the tools
(recover, revert, stop/start) and the providers that run virsh (lab_snapshot).

The API:
- `run_virsh(uri, *args, timeout=VIRSH_TIMEOUT_S) -> str`: one virsh command on `uri` (a local URI, or one that
  `reached()` gave), bounded, in a session of its own; its stdout, or `VirshError` with virsh's own message.
- `reached(uris, ssh_timeout=SSH_TIMEOUT_S)`: a context manager mapping each host URI to one virsh can use for
  as long as the block runs: a local URI (`qemu:///system`) as it is, a `qemu+ssh://` URI to
  `qemu+unix:///system?socket=<local end>` of one SSH tunnel per host (`forwarded()`), however many commands the
  block runs. `SshFailure` when a login or forward fails.
- `ssh_target(uri)`, `forwarded(target, timeout)`, `SshFailure`, `kind_of()`, `said()`: the tunnel itself.

Why a tunnel and not virsh's own `qemu+ssh://`: the libvirt provider (terraform-provider-libvirt 0.8.3) runs no ssh
program: it logs in with Go's x/crypto/ssh and opens a unix-socket channel (`direct-streamlocal@openssh.com`) to
libvirtd's socket on the host (libvirt/uri/ssh.go:121-153), trusting other files than virsh's ssh does (lab/
libvirt_ssh.py lists what it reads and says what to fix when a login fails). `forwarded()` runs OpenSSH's ssh with
the provider's settings (`tunnel_argv`), forwarding a local socket to the host's libvirtd socket (the same channel
type), so whatever this module runs trusts exactly what the provider trusts.

Not a provider itself (pickled by reference nowhere): provider modules may import it, as they import polling.py.
"""
from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Iterable, Iterator, Optional
from urllib.parse import parse_qs, unquote, urlparse

VIRSH_TIMEOUT_S = 300  # one virsh command (a snapshot of a big guest's memory takes a while)
SSH_TIMEOUT_S = 20  # the login to a qemu+ssh host
SCHEME = "qemu+ssh"
DEFAULT_SOCKET = "/var/run/libvirt/libvirt-sock"
# The provider's host key algorithms, in its order (ssh.go:236-246, x/crypto/ssh names).
HOST_KEY_ALGORITHMS = ("ssh-ed25519", "ssh-rsa", "rsa-sha2-256", "rsa-sha2-512", "sk-ecdsa-sha2-nistp256@openssh.com",
                       "sk-ssh-ed25519@openssh.com", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
                       "ecdsa-sha2-nistp521")
# What a failed ssh says, per kind (OpenSSH 8-9 client messages).
_KINDS = (
    ("host-key", ("Host key verification failed", "REMOTE HOST IDENTIFICATION HAS CHANGED", "host key is known for",
                  "No matching host key", "has changed and you have requested strict checking")),
    ("login", ("Permission denied", "Too many authentication failures")),
    ("forward", ("open failed", "administratively prohibited", "forwarding failed",
                 "Could not request local forwarding")),
)


@dataclass(frozen=True)
class SshTarget:
    """The provider's SSH settings for one `qemu+ssh://` URI (see the module docstring)."""

    user: str
    host: str
    port: Optional[int]
    keyfile: Optional[str]
    known_hosts: Optional[str]  # knownhosts=, $VARs expanded; None: the provider's default ($HOME/.ssh/known_hosts)
    verify: bool
    socket: str

    def known_hosts_file(self) -> str:
        return self.known_hosts or os.path.join(os.environ.get("HOME", "~"), ".ssh", "known_hosts")

    def login(self) -> str:
        return f"{self.user}@{self.host}" + (f":{self.port}" if self.port else "")


def ssh_target(uri: str) -> Optional[SshTarget]:
    """The provider's SSH settings for `uri`; None for any other transport."""
    parsed = urlparse(uri)
    if parsed.scheme != SCHEME:
        return None
    query = {k: v[-1] for k, v in parse_qs(parsed.query, keep_blank_values=True).items()}
    known = query.get("knownhosts") or None
    verify = "no_verify" not in query and query.get("known_hosts_verify") != "ignore"
    return SshTarget(unquote(parsed.username or ""), parsed.hostname or "", parsed.port, query.get("keyfile") or None,
                     os.path.expandvars(known) if known else None, verify, query.get("socket") or DEFAULT_SOCKET)


def tunnel_argv(target: SshTarget, local_socket: str, timeout: int) -> list[str]:
    """OpenSSH's ssh, set up as the provider logs in, forwarding `local_socket` to the host's libvirtd socket."""
    argv = ["ssh", "-N", "-T", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={timeout}",
            "-o", "ExitOnForwardFailure=yes",
            "-o", "LogLevel=ERROR", "-o", "GlobalKnownHostsFile=/dev/null", "-o", "UpdateHostKeys=no",
            "-o", f"HostKeyAlgorithms={','.join(HOST_KEY_ALGORITHMS)}"]
    if target.verify:
        argv += ["-o", "StrictHostKeyChecking=yes"]
        if target.known_hosts:
            argv += ["-o", f"UserKnownHostsFile={target.known_hosts}"]
    else:  # as the provider: no check, and nothing written to any known_hosts
        argv += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
    if target.keyfile:
        argv += ["-i", target.keyfile]
    if target.port:
        argv += ["-p", str(target.port)]
    return argv + ["-l", target.user, "-L", f"{local_socket}:{target.socket}", "--", target.host]


class SshFailure(Exception):
    """The provider's way to the host failed: `kind` is host-key, login, forward, keyfile or connect."""

    def __init__(self, kind: str, detail: str) -> None:
        self.kind, self.detail = kind, detail
        super().__init__(detail)


def kind_of(ssh_said: str) -> str:
    for kind, marks in _KINDS:
        if any(mark in ssh_said for mark in marks):
            return kind
    return "connect"


def said(text: str) -> str:
    """ssh's message in one line: the lines that say what failed (not OpenSSH's warning banner and its advice),
    else its last line."""
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("@")]
    telling = [line for line in lines
               if line.startswith("ssh:") or any(mark in line for _, marks in _KINDS for mark in marks)]
    return " ".join(telling or lines[-1:])[:400]


@dataclass
class Tunnel:
    uri: str  # what virsh probes: qemu+unix:///system?socket=<local end>
    messages_path: str

    def messages(self) -> str:
        try:
            with open(self.messages_path, errors="replace") as f:
                return said(f.read())
        except OSError:
            return ""


@contextmanager
def forwarded(target: SshTarget, timeout: int) -> Iterator[Tunnel]:
    """A local socket reaching the host's libvirtd as the provider does, for as long as the block runs; SshFailure
    when the login or the forward fails within `timeout` seconds. ssh runs in a session of its own (it can neither
    prompt on this terminal nor outlive the block)."""
    if target.keyfile and not os.path.isfile(os.path.expanduser(target.keyfile)):
        raise SshFailure("keyfile", f"keyfile {target.keyfile} does not exist")
    if target.verify and target.known_hosts and not os.path.isfile(target.known_hosts):
        raise SshFailure("host-key", f"known hosts file {target.known_hosts} does not exist")
    with tempfile.TemporaryDirectory(prefix="osl-libvirt-ssh-") as tmp:
        local = os.path.join(tmp, "libvirt-sock")
        messages = os.path.join(tmp, "ssh.err")
        with open(messages, "w") as err:
            proc = subprocess.Popen(tunnel_argv(target, local, timeout), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        tunnel = Tunnel(f"qemu+unix:///system?socket={local}", messages)
        try:
            deadline = time.monotonic() + timeout
            while not os.path.exists(local):
                if proc.poll() is not None:
                    text = tunnel.messages() or f"ssh exited {proc.returncode}"
                    raise SshFailure(kind_of(text), text)
                if time.monotonic() > deadline:
                    raise SshFailure("connect", f"no SSH session within {timeout} s")
                time.sleep(0.05)
            yield tunnel
        finally:
            _end(proc)


def _end(proc: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except OSError:
            return
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            continue




class VirshError(Exception):
    """A virsh command failed or did not end in time; the message names the command and what virsh said."""

    def __init__(self, argv: list[str], detail: str) -> None:
        self.argv, self.detail = argv, detail
        super().__init__(f"{' '.join(argv)}: {detail}")


def run_virsh(uri: str, *args: str, timeout: float = VIRSH_TIMEOUT_S) -> str:
    """`virsh -q -c uri args...`, bounded by `timeout` s, in a session of its own (nothing under it prompts or
    outlives it); its stdout, or VirshError with virsh's last error line."""
    argv = ["virsh", "-q", "-c", uri, *args]
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
    except OSError as err:
        raise VirshError(argv, f"cannot run virsh ({err}): install libvirt-clients") from None
    try:
        out, err_text = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _end(proc)
        raise VirshError(argv, f"no answer within {timeout:g} s") from None
    if proc.returncode != 0:
        lines = [line.strip() for line in err_text.splitlines() if line.strip()]
        raise VirshError(argv, (lines[-1].removeprefix("error: ") if lines else f"exit {proc.returncode}")[:400])
    return out


@contextmanager
def reached(uris: Iterable[str], ssh_timeout: int = SSH_TIMEOUT_S) -> Iterator[dict[str, str]]:
    """Each of `uris` -> the URI virsh uses for it while the block runs (one tunnel per qemu+ssh host)."""
    with ExitStack() as stack:
        usable: dict[str, str] = {}
        for uri in dict.fromkeys(uris):
            target = ssh_target(uri)
            usable[uri] = uri if target is None else stack.enter_context(forwarded(target, ssh_timeout)).uri
        yield usable


def domain_state(uri: str, domain: str) -> str:
    """running, paused, shut off, ... (virsh domstate)."""
    return run_virsh(uri, "domstate", domain).strip()


@contextmanager
def all_paused(domains: Iterable[tuple[str, str]], resume_every_paused: bool = False) -> Iterator[list[str]]:
    """Every running domain of `domains` ((usable uri, name) pairs) suspended before the block, so none runs ahead
    of the others; after it, also when it fails, those of them still paused resumed (`resume_every_paused`: every
    one paused then, as after reverts to snapshots of running domains). Yields the names it suspended."""
    targets = list(domains)
    suspended: list[str] = []
    failed = True
    try:
        for uri, name in targets:
            if domain_state(uri, name) == "running":
                run_virsh(uri, "suspend", name)
                suspended.append(name)
        yield suspended
        failed = False
    finally:
        problems = []
        for uri, name in targets:
            try:
                if (name in suspended or resume_every_paused) and domain_state(uri, name) == "paused":
                    run_virsh(uri, "resume", name)
            except VirshError as err:
                problems.append(err)
        if problems and not failed:
            raise problems[0]

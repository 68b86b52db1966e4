"""How the libvirt provider reaches a `qemu+ssh://` host, reproduced so the preflight probes that host the same way.

The Pulumi libvirt provider is terraform-provider-libvirt 0.8.3, which runs no ssh program: it logs in with Go's
x/crypto/ssh and opens a unix-socket channel (`direct-streamlocal@openssh.com`) to libvirtd's socket on the host
(libvirt/uri/ssh.go:121-153). What it reads (ssh.go, unless noted):

- user: the URI's only (ssh.go:273; ~/.ssh/config's `User` is never applied, :301-307), so the URI must name one
- login keys: `keyfile=`, then ~/.ssh/config's `IdentityFile`, else $HOME/.ssh/id_ed25519, id_ecdsa, id_rsa
  (:20, :36-59), and the agent's (SSH_AUTH_SOCK)
- host key: checked against `knownhosts=` (not libvirt's `known_hosts=`, which it ignores), else ~/.ssh/config's
  `UserKnownHostsFile`, else $HOME/.ssh/known_hosts; the path as given after $VAR expansion, no `~` (:207-252);
  never the system-wide /etc/ssh/ssh_known_hosts; `no_verify` or `known_hosts_verify=ignore` skip the check;
  host key algorithms offered in a fixed order, ed25519 first (:233-246), so a known_hosts entry of another
  key type alone does not match
- socket on the host: `socket=`, else /var/run/libvirt/libvirt-sock (unix.go:8)
- OpenSSH's sshd applies `AllowTcpForwarding` to that unix-socket channel too: `no` there refuses the provider
  while virsh (which runs a helper on the host instead) still works.

virsh's `qemu+ssh://` runs OpenSSH's ssh, which reads neither `knownhosts=` nor the provider's defaults, so
probing with it would test another trust than the provider's. `forwarded()` runs OpenSSH's ssh with the
provider's settings (`tunnel_argv`), forwarding a local socket to the host's libvirtd socket (the same channel
type), and the preflight's virsh probes go through `qemu+unix:///system?socket=<that>`. A failure is sorted
(`SshFailure.kind`) and `fix()` says what to change.
"""
from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Optional
from urllib.parse import parse_qs, unquote, urlparse

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


def uri_problem(uri: str) -> Optional[str]:
    """What in a `qemu+ssh://` URI the provider would not read as meant (None: nothing)."""
    parsed = urlparse(uri)
    if parsed.scheme != SCHEME:
        return None
    query = parse_qs(parsed.query, keep_blank_values=True)
    if not parsed.username:
        return (f"{uri!r} names no user: the libvirt provider logs in as the URI's user only (not ~/.ssh/config's), "
                "e.g. qemu+ssh://root@host/system")
    if not parsed.hostname:
        return f"{uri!r} names no host: qemu+ssh://USER@HOST/system"
    if "known_hosts" in query:
        return (f"{uri!r}: the libvirt provider ignores known_hosts= (libvirt's name); it reads knownhosts=PATH: "
                "rename the parameter")
    for key in ("knownhosts", "keyfile"):
        value = (query.get(key) or [""])[-1]
        if key in query and not value.startswith(("/", "$")) and not (key == "keyfile" and value.startswith("~/")):
            return f"{uri!r}: {key}={value!r} must be an absolute path (the provider reads it as given)"
    return None


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


def fix(kind: str, target: SshTarget, uri_key: str) -> str:
    """What to change for a failure of `kind` (uri_key: where the URI is configured, e.g. hosts[1].uri)."""
    known = target.known_hosts_file()
    if kind == "host-key":
        return (f"the host key of {target.host} is not trusted: the libvirt provider checks it against {known} "
                f"({'knownhosts= of ' + uri_key if target.known_hosts else 'no knownhosts= in ' + uri_key}); check "
                "the host's fingerprint there (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then add its ed25519 "
                f"key to that file (ssh-keyscan -t ed25519 {target.host} >> {known}) or point knownhosts= at a file "
                "that has it")
    if kind == "login":
        key = target.keyfile or "your default key (~/.ssh/id_ed25519, id_ecdsa, id_rsa) or agent"
        return (f"{target.login()} refused the login key: add the public half of {key} to {target.user}'s "
                f"authorized_keys on {target.host}, or set keyfile= in {uri_key} to a key it accepts")
    if kind == "forward":
        return (f"logged in to {target.login()}, but libvirtd did not answer on its socket {target.socket} there: "
                f"check that libvirtd runs on {target.host}, that its socket is that path (else set socket= in "
                f"{uri_key}, e.g. /var/run/libvirt/virtqemud-sock with modular daemons only), and that its sshd "
                "allows the provider's socket forwarding (AllowTcpForwarding and AllowStreamLocalForwarding, OpenSSH's "
                "defaults)")
    if kind == "keyfile":
        return f"keyfile= in {uri_key} names a file this machine lacks: give the path of the login key here"
    return (f"sshd at {target.login()} does not answer from here: check the host name and port in {uri_key}, that "
            "sshd runs there and that this machine reaches it")

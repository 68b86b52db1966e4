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
probing with it would test another trust than the provider's. The tunnel that reproduces the provider's login
(`forwarded()`, `tunnel_argv`, `ssh_target`, `SshFailure`) and the virsh runner over it live in
providers/libvirt_virsh.py, where the dynamic providers can import them too; this module re-exports them for the
preflight and the tools, checks a URI as the provider will read it (`uri_problem`) and, for a failure sorted by
`SshFailure.kind`, says what to change (`fix()`).
"""
from __future__ import annotations

import shlex
from typing import Optional
from urllib.parse import parse_qs, urlparse

from providers.libvirt_virsh import (DEFAULT_SOCKET, HOST_KEY_ALGORITHMS, SCHEME, SshFailure, SshTarget, Tunnel,
                                     forwarded, kind_of, said, ssh_target, tunnel_argv)

__all__ = ["DEFAULT_SOCKET", "HOST_KEY_ALGORITHMS", "SCHEME", "SshFailure", "SshTarget", "Tunnel", "fix", "forwarded",
           "kind_of", "said", "ssh_target", "tunnel_argv", "uri_problem", "console_command"]


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


def console_command(uri: str, domain: str) -> str:
    """The command that opens `domain`'s serial console, for a user's shell. On a `qemu+ssh://` host it logs in with
    the provider's key and host-key file and runs virsh there: a local `virsh -c qemu+ssh://…` would run OpenSSH's
    ssh, which reads neither knownhosts= nor keyfile= of the URI (see above), and refuse a host that the provider
    trusts."""
    target = ssh_target(uri)
    if target is None:
        return f"virsh -c {shlex.quote(uri)} console {shlex.quote(domain)}"
    argv = ["ssh", "-t"]
    if target.port:
        argv += ["-p", str(target.port)]
    if target.keyfile:
        argv += ["-i", target.keyfile]
    if not target.verify:
        argv += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
    elif target.known_hosts:
        argv += ["-o", f"UserKnownHostsFile={target.known_hosts}"]
    remote_uri = f"qemu://{urlparse(uri).path or '/system'}"
    argv += [f"{target.user}@{target.host}", "virsh", "-c", remote_uri, "console", domain]
    return shlex.join(argv)

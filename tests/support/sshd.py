"""A real OpenSSH sshd on a private libvirtd's "host" (support.libvirtd.PrivateLibvirtd), so the lab drives that
host over `qemu+ssh://root@ADDRESS/system` as users do.

sshd runs in the daemon's network and mount namespaces (`PrivateLibvirtd.enter`): there the daemon's socket is at
libvirt's default path (/var/run/libvirt/libvirt-sock), where the libvirt provider and virsh's remote helper look,
so the URI needs no `socket=`. It listens on one address of that namespace only, with its own config, host keys
(ed25519 and ECDSA, as a real host offers), login key and authorized_keys, all made here in the test's directory:
sshd reads no file of the machine's own ssh service (`-f` names the only config), and nothing starts or stops
that service. The one thing shared with the machine is sshd's compiled-in privilege-separation directory
/run/sshd, made (empty, 0755) when missing, as the openssh-server package would.

`uri()` pins the host key and the login key in the URI (`knownhosts=`, `keyfile=`: the query parameters of
terraform-provider-libvirt 0.8.3, libvirt/uri/ssh.go), so no test writes the machine's ~/.ssh.
`untrusted_known_hosts()` is a known_hosts file that names another key for the same address,
`ecdsa_known_hosts()` one that names only the host's ECDSA key (the libvirt provider offers ed25519 first).
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

from support import tail
from support.libvirtd import PrivateLibvirtd
from support.packages import ensure

PACKAGES = ("openssh-server", "openssh-client")
COMMANDS = ("sshd", "ssh", "ssh-keygen", "nsenter")
PRIVSEP_DIR = Path("/run/sshd")
START_BOUND_S = 15  # sshd writes its pid file once it listens


def _keygen(path: Path, comment: str, kind: str = "ed25519") -> str:
    """A new key pair at `path` (+ .pub); returns the public line's `type key`."""
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", comment, "-f", str(path)], check=True,
                   capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    return " ".join(path.with_suffix(".pub").read_text().split()[:2])


class PrivateSshd:
    """sshd for `daemon`'s host on `address` (an address of the daemon's network namespace)."""

    def __init__(self, daemon: PrivateLibvirtd, address: str, directory: Path, user: str = "root") -> None:
        self.daemon = daemon
        self.address = address
        self.directory = directory
        self.user = user
        self.host_key = directory / "ssh_host_ed25519_key"
        self.host_key_ecdsa = directory / "ssh_host_ecdsa_key"
        self.login_key = directory / "id_ed25519"  # the client's key, authorized for `user`
        self.known_hosts = directory / "known_hosts"  # the host key, pinned
        self.config = directory / "sshd_config"
        self.log = directory / "sshd.log"
        self.pid_file = directory / "sshd.pid"
        self.host_public = ""
        self.host_public_ecdsa = ""

    def start(self) -> "PrivateSshd":
        ensure(PACKAGES, COMMANDS)
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        self.host_public = _keygen(self.host_key, f"osl-test-host-{self.address}")
        self.host_public_ecdsa = _keygen(self.host_key_ecdsa, f"osl-test-host-{self.address}", "ecdsa")
        login_public = _keygen(self.login_key, "osl-test-login")
        (self.directory / "authorized_keys").write_text(f"{login_public} osl-test-login\n")
        self.known_hosts.write_text(f"{self.address} {self.host_public}\n")
        self.config.write_text(self._config())
        if not PRIVSEP_DIR.is_dir():
            PRIVSEP_DIR.mkdir(mode=0o755)
        proc = subprocess.run(self.daemon.enter(["/usr/sbin/sshd", "-f", str(self.config), "-E", str(self.log)]),
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_BOUND_S
        while proc.returncode == 0 and not self._pid() and time.monotonic() < deadline:
            time.sleep(0.1)
        if proc.returncode != 0 or not self._pid():
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise RuntimeError(f"sshd on {self.address} did not start within {START_BOUND_S} s (exit "
                               f"{proc.returncode}): {tail(proc.stderr + log, 10)}")
        return self

    def _config(self) -> str:
        d = self.directory
        return "\n".join([
            "# A test host's sshd (tests/support/sshd.py): one address, one host key, root by key only.",
            f"ListenAddress {self.address}:22",
            f"HostKey {self.host_key}",
            f"HostKey {self.host_key_ecdsa}",
            f"PidFile {self.pid_file}",
            f"AuthorizedKeysFile {d / 'authorized_keys'}",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            # The files sit under /tmp (mode 1777): StrictModes' walk up the path would refuse them.
            "StrictModes no",
            # AllowTcpForwarding (default yes) stays: OpenSSH applies it to the unix-socket forward the libvirt
            # provider opens to libvirtd's socket too (AllowStreamLocalForwarding alone is not enough).
            "X11Forwarding no",
            "LogLevel VERBOSE",
            "",
        ])

    def _pid(self) -> int:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return 0

    def uri(self, known_hosts: Path | None = None) -> str:
        """The host's libvirt URI over this sshd: login key and (by default the right) known_hosts pinned."""
        query = f"keyfile={quote(str(self.login_key))}&knownhosts={quote(str(known_hosts or self.known_hosts))}"
        return f"qemu+ssh://{self.user}@{self.address}/system?{query}"

    def untrusted_known_hosts(self) -> Path:
        """A known_hosts naming another ed25519 key for this address (as after a reinstall or a spoofed host)."""
        other = self.directory / "other_host_key"
        if not other.exists():
            _keygen(other, "osl-test-other-host")
        path = self.directory / "known_hosts.untrusted"
        path.write_text(f"{self.address} {' '.join(other.with_suffix('.pub').read_text().split()[:2])}\n")
        return path

    def ecdsa_known_hosts(self) -> Path:
        """A known_hosts naming only the host's own ECDSA key (a real key of the host, of a type offered later)."""
        path = self.directory / "known_hosts.ecdsa"
        path.write_text(f"{self.address} {self.host_public_ecdsa}\n")
        return path

    def stop(self) -> None:
        pid = self._pid()
        if not pid:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> "PrivateSshd":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""What only the e2e tier needs beyond tests/support/: SSH to the guests (inside the private libvirtd's
network namespace), a watcher of SSH readiness, the guest probe, the answer file's secrets (the tier's log and
the scan of it: support.command_log, support.secret_scan).

Every process that talks to a guest (pulumi and its plugins, ssh) runs under `ip netns exec <netns>`: guest
traffic never leaves the namespace. Secrets (the login key, the passphrase) only live in mode-600 files of the
test's temp dir or in memory; the tier's log never gets the stdout of a `--show-secrets` command.
"""
from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Optional

import pytest

from support import makefile_value
from support.libvirtd import PrivateLibvirtd
from support.pulumi import PROJECT, Stack, Workspace, auto
from support.secret_scan import Secrets

HERE = Path(__file__).resolve().parent
# What the e2e tier needs beyond a private libvirtd's packages (support.libvirtd.PACKAGES), installed with
# tools/ensure-packages.sh (no service starts); then the commands it runs must exist.
E2E_PACKAGES = ("libvirt-daemon-system", "xorriso", "openssh-client", "debootstrap", "e2fsprogs")
E2E_COMMANDS = ("virtlogd", "debootstrap", "mke2fs", "ssh", "ssh-keygen")
# The Debian guest's host-prep profile comes from the test overlay (never a stack config key).
OVERLAY = "debian-test"
__all__ = ["PROJECT"]
# config.stash key: the captured output of every test report so far (the secret-hygiene test scans it).
CAPTURED_KEY = pytest.StashKey[list]()


def log(msg: str) -> None:
    print(f"[e2e] {time.strftime('%H:%M:%S')} {msg}", flush=True)


def run(argv: list[str], *, check: bool = True, input: Optional[str] = None, timeout: Optional[float] = None,
        secret_output: bool = False) -> subprocess.CompletedProcess:
    """Run a command; on failure fail the test with the output tails (stdout withheld when it may carry
    secrets)."""
    proc = subprocess.run(argv, input=input, timeout=timeout, text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, stdin=None if input is not None else subprocess.DEVNULL)
    if check and proc.returncode != 0:
        out = "(withheld: may carry secrets)" if secret_output else proc.stdout[-4000:]
        pytest.fail(f"command failed ({proc.returncode}): {' '.join(argv[:8])}...\n"
                    f"--- stdout (tail)\n{out}\n--- stderr (tail)\n{proc.stderr[-4000:]}", pytrace=False)
    return proc


class LabStack(Stack):
    """A stack of the lab program (support.pulumi.Stack) in its own program copy, plus SSH to its guests from
    inside the private libvirtd's network namespace."""

    def __init__(self, workspace: Workspace, name: str, lab: PrivateLibvirtd, key_file: Path,
                 pool_path: Path) -> None:
        super().__init__(workspace, auto.Stack.create(name, workspace.auto))
        self.lab, self.key_file, self.pool_path = lab, key_file, pool_path
        self.known_hosts = workspace.work_dir / f"known_hosts.{name}"

    def make_destroy(self, timeout: float = 900) -> str:
        """What `make destroy` runs (its refresh with the Makefile's exclusion, then destroy); both outputs."""
        refreshed = self.cli("refresh", "--yes", "--skip-preview", "--parallel", "1",
                             "--exclude", makefile_value("DESTROY_REFRESH_EXCLUDE"), timeout=timeout)
        return refreshed.stdout + self.destroy("--parallel", "1", timeout=timeout).stdout

    def write_known_hosts(self) -> None:
        self.known_hosts.write_text(self.outputs()["knownHosts"])

    def ssh_argv(self, host: str, command: str, strict: bool = True, connect_timeout: int = 10) -> list[str]:
        opts = ["-i", str(self.key_file), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                "-o", f"ConnectTimeout={connect_timeout}", "-o", "LogLevel=ERROR"]
        if strict:
            opts += ["-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={self.known_hosts}"]
        else:
            opts += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
        return self.lab.ns(["ssh", *opts, f"root@{host}", command])

    def ssh(self, host: str, command: str, check: bool = True, secret_output: bool = False) -> str:
        return run(self.ssh_argv(host, command), check=check, timeout=120, secret_output=secret_output).stdout


def new_keypair(directory: Path, name: str) -> tuple[Path, str, str]:
    key = directory / name
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"e2e-{name}", "-f", str(key)])
    key.chmod(0o600)
    return key, (directory / f"{name}.pub").read_text().strip(), key.read_text()


class SshReadyWatcher:
    """Polls hosts over SSH (inside the netns) from a background thread and records the seconds until each
    first accepts the login key."""

    def __init__(self, stack: LabStack, hosts: list[str], timeout: float = 1800) -> None:
        self.stack, self.hosts, self.timeout = stack, list(hosts), timeout
        self.ready: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.start = time.monotonic()

    def __enter__(self) -> "SshReadyWatcher":
        self.start = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set() and time.monotonic() - self.start < self.timeout:
            for host in self.hosts:
                if host in self.ready:
                    continue
                argv = self.stack.ssh_argv(host, "true", strict=False, connect_timeout=3)
                try:
                    ok = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        stdin=subprocess.DEVNULL, timeout=20).returncode == 0
                except subprocess.TimeoutExpired:
                    ok = False
                if ok:
                    self.ready[host] = round(time.monotonic() - self.start, 1)
            if len(self.ready) == len(self.hosts):
                return
            self._stop.wait(2)

    def all_ready_seconds(self) -> Optional[float]:
        if len(self.ready) != len(self.hosts):
            return None
        return max(self.ready.values())


# -- secrets ------------------------------------------------------------------------------------------
ANSWER_FILE = "/root/openstack-lab/answers.txt"


def answer_file(ssh, controller_ip: str) -> Secrets:
    """The answers in the controller's Packstack answer file (`ssh(ip, command, secret_output=True)` of a
    LabStack or the multihost harness): KEY -> value, passwords included, so never shown."""
    text = ssh(controller_ip, f"cat {ANSWER_FILE}", secret_output=True)
    out = Secrets()
    for line in text.splitlines():
        if re.match(r"^[A-Z0-9_]+=", line):
            key, _, value = line.partition("=")
            out[key] = value
    return out


def plain(value):
    """A state value with --show-secrets: secret values are {<sig>: ..., "plaintext": "<json>"}."""
    if isinstance(value, dict) and "plaintext" in value:
        return json.loads(value["plaintext"])
    return value


# Runs on a guest (python3 as root, from stdin) and prints one JSON document of the facts
# the EL9-fidelity assertions check. Private keys never leave the guest: every text it
# returns passes redact() (the user-data carries the node's host key; only its top-level
# keys are returned).
GUEST_PROBE = r'''
import json, os, re, subprocess

KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.S)

def redact(text):
    return KEY.sub("<private key withheld>", text)

def sh(*argv):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return {"rc": p.returncode, "out": redact(p.stdout)[-3000:]}

def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None

facts = {"status_long": sh("cloud-init", "status", "--long")}
# What `cloud-init status --format json` reports, without a second cloud-init start (slow under TCG).
facts["status_json"] = json.loads(read("/run/cloud-init/status.json") or "{}")
facts["result"] = json.loads(read("/run/cloud-init/result.json") or "{}")
# cloud-init >= 23.4 reports WARNING/DEPRECATED log records as "recoverable_errors" (and
# `status` exits 2); 22.4.2 only logs them. The same records, from the log:
log = read("/var/log/cloud-init.log") or ""
facts["log_problems"] = [redact(l)[:500] for l in log.splitlines()
                         if re.search(r"\[(WARNING|ERROR|CRITICAL|DEPRECATED)\]|Traceback", l)]
ud = read("/var/lib/cloud/instance/user-data.txt") or ""
# cloud-init's own schema, strictly (deprecations count as errors): the user-data (what
# `cloud-init schema --system` checks) and the image's own config.
facts["schema"] = {}
try:
    import yaml
    from cloudinit.config.schema import get_schema, validate_cloudconfig_schema
    for label, text in (("user-data", ud), ("90-lab.cfg", read("/etc/cloud/cloud.cfg.d/90-lab.cfg") or "")):
        try:
            validate_cloudconfig_schema(yaml.safe_load(text), get_schema(), strict=True, log_details=False)
            facts["schema"][label] = "ok"
        except Exception as exc:  # noqa: BLE001
            facts["schema"][label] = redact(f"{type(exc).__name__}: {exc}")[:2000]
except Exception as exc:  # noqa: BLE001
    facts["schema"]["import"] = f"{type(exc).__name__}: {exc}"
try:
    import yaml
    doc = yaml.safe_load(ud)
    facts["userdata_keys"] = sorted(doc) if isinstance(doc, dict) else repr(type(doc))
except Exception as exc:  # noqa: BLE001
    facts["userdata_keys"] = f"unparsable: {type(exc).__name__}"
facts["userdata_header"] = ud.splitlines()[0] if ud else ""
facts["runcmd_script"] = os.path.exists("/var/lib/cloud/instance/scripts/runcmd")
facts["addrs"] = {}
for dev in ("eth0", "eth1"):
    shown = sh("ip", "-j", "addr", "show", "dev", dev)
    try:
        facts["addrs"][dev] = json.loads(shown["out"])[0]
    except (ValueError, IndexError):
        facts["addrs"][dev] = {"error": shown["out"]}
facts["nm_device"] = {dev: sh("nmcli", "-g", "GENERAL.CONNECTION", "device", "show", dev)["out"].strip()
                      for dev in ("eth0", "eth1")}
facts["nm_lab_eth1"] = sh("nmcli", "-g", "ipv4.method,ipv6.method,connection.autoconnect-priority,"
                          "connection.interface-name,802-3-ethernet.mac-address", "connection", "show", "lab-eth1")
facts["units"] = {u: sh("systemctl", "is-active", u)["out"].strip()
                  for u in ("NetworkManager.service", "systemd-networkd.service")}
cpu = read("/proc/cpuinfo") or ""
m = re.search(r"^flags\s*:\s*(.*)$", cpu, re.M)
facts["cpu_flags"] = m.group(1).split() if m else []
m = re.search(r"^model name\s*:\s*(.*)$", cpu, re.M)
facts["cpu_model"] = m.group(1) if m else ""
print(json.dumps(facts))
'''


def probe_guest(stack: LabStack, host: str) -> dict:
    """The facts GUEST_PROBE gathers on one guest (one SSH round trip)."""
    proc = run(stack.ssh_argv(host, "python3 -"), input=GUEST_PROBE, timeout=300)
    return json.loads(proc.stdout.strip().splitlines()[-1])

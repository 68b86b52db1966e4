"""Helpers of the e2e tier: a private libvirtd in a network namespace, pulumi stacks run
inside it, and SSH to the guests from inside it.

Every process that talks to a guest (pulumi and its plugins, ssh) runs under
`ip netns exec <netns>`: guest traffic never leaves the namespace. Secrets (the
login key, the passphrase) only live in mode-600 files of the test's temp dir.
"""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import yaml

from support.program import copy_program, overlay_env

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PROJECT = "openstack-lab"
# What the fixture needs from Debian (installed with policy-rc.d: no service starts).
DEBIAN_PACKAGES = [
    "libvirt-daemon-system",
    "libvirt-clients",
    "qemu-system-x86",
    "qemu-utils",
    "genisoimage",
    "xorriso",
    "dnsmasq-base",
    "iproute2",
    "iptables",
    "openssh-client",
    "debootstrap",
    "e2fsprogs",
]
# The Debian guest's host-prep profile comes from the test overlay (never a stack config key).
OVERLAY = "debian-test"


def log(msg: str) -> None:
    print(f"[e2e] {time.strftime('%H:%M:%S')} {msg}", flush=True)


def run(argv: list[str], *, check: bool = True, input: Optional[str] = None, env: Optional[dict] = None,
        cwd: Optional[Path] = None, timeout: Optional[float] = None,
        secret_output: bool = False) -> subprocess.CompletedProcess:
    """Run a command; on failure raise with the output tails (stdout withheld when it may
    carry secrets)."""
    proc = subprocess.run(argv, input=input, env=env, cwd=cwd, timeout=timeout, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and proc.returncode != 0:
        out = "(withheld: may carry secrets)" if secret_output else proc.stdout[-4000:]
        raise RuntimeError(
            f"command failed ({proc.returncode}): {' '.join(argv[:8])}...\n"
            f"--- stdout (tail)\n{out}\n--- stderr (tail)\n{proc.stderr[-4000:]}"
        )
    return proc


@dataclass
class NetnsLibvirt:
    """A libvirtd + virtlogd in a network namespace (tests/e2e/netns-libvirt.sh)."""

    netns: str
    state_dir: Path
    uri: str = ""

    def start(self) -> None:
        proc = run(["bash", str(HERE / "netns-libvirt.sh"), "start", self.netns, str(self.state_dir)], timeout=120)
        self.uri = proc.stdout.strip().splitlines()[-1]

    def stop(self) -> None:
        run(["bash", str(HERE / "netns-libvirt.sh"), "stop", self.netns, str(self.state_dir)], check=False, timeout=120)

    def ns(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *argv]

    def virsh(self, *args: str, check: bool = True) -> str:
        return run(["virsh", "-q", "-c", self.uri, *args], check=check, timeout=60).stdout

    def names(self, kind: str) -> list[str]:
        """Names of all domains/networks/pools (kind: list|net-list|pool-list)."""
        out = self.virsh(kind, "--all", "--name")
        return [line.strip() for line in out.splitlines() if line.strip()]


@dataclass
class Stack:
    """One pulumi stack of the lab program, run inside the netns."""

    name: str
    lab: NetnsLibvirt
    work: Path  # copy of the program + Pulumi.<stack>.yaml
    env: dict
    key_file: Path
    public_key: str
    known_hosts: Path = field(init=False)

    def __post_init__(self) -> None:
        self.known_hosts = self.work / f"known_hosts.{self.name}"

    # -- pulumi ---------------------------------------------------------------------
    def pulumi(self, *args: str, check: bool = True, input: Optional[str] = None,
               timeout: float = 3600) -> subprocess.CompletedProcess:
        argv = self.lab.ns(["pulumi", "--non-interactive", "--color", "never", *args, "--stack", self.name])
        return run(argv, check=check, input=input, env=self.env, cwd=self.work, timeout=timeout,
                   secret_output="--show-secrets" in args)

    @property
    def config_file(self) -> Path:
        return self.work / f"Pulumi.{self.name}.yaml"

    def init(self, config: dict, private_key: str) -> None:
        run(self.lab.ns(["pulumi", "--non-interactive", "stack", "init", self.name, "--secrets-provider", "passphrase"]),
            env=self.env, cwd=self.work, timeout=300)
        self.set_config(config)
        # The secret is read from stdin: never on a command line.
        self.pulumi("config", "set", "--secret", "sshPrivateKey", input=private_key)

    def set_config(self, values: dict) -> None:
        """Merge plain values into the stack's config file (structured values included)."""
        doc = yaml.safe_load(self.config_file.read_text()) or {}
        cfg = doc.setdefault("config", {})
        for key, value in values.items():
            cfg[f"{PROJECT}:{key}"] = value
        self.config_file.write_text(yaml.safe_dump(doc, sort_keys=False))

    def up(self, *extra: str) -> subprocess.CompletedProcess:
        return self.pulumi("up", "--yes", "--skip-preview", *extra)

    def outputs(self, show_secrets: bool = False) -> dict:
        args = ["stack", "output", "--json"] + (["--show-secrets"] if show_secrets else [])
        return json.loads(self.pulumi(*args).stdout)

    def export(self) -> dict:
        """The stack's state with secrets decrypted (kept in memory only)."""
        return json.loads(self.pulumi("stack", "export", "--show-secrets").stdout)

    def write_known_hosts(self) -> None:
        known = self.outputs()["knownHosts"]
        self.known_hosts.write_text(known)

    # -- ssh --------------------------------------------------------------------------
    def ssh_argv(self, host: str, command: str, strict: bool = True, connect_timeout: int = 10) -> list[str]:
        opts = [
            "-i", str(self.key_file), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", f"ConnectTimeout={connect_timeout}", "-o", "LogLevel=ERROR",
        ]
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


def make_workdir(base: Path, stack: str) -> Path:
    """A copy of the program for one stack, sharing the checkout's .venv (the stack config
    files Pulumi.<stack>.yaml then live there, never in the checkout)."""
    work = base / f"work-{stack}"
    return copy_program(work)


def pulumi_env(base: Path) -> dict:
    """Environment of every pulumi command: the checkout's toolchain, a private file
    backend and passphrase in the test's temp dir."""
    env = dict(os.environ)
    tools = ROOT / ".tools"
    if (tools / "bin" / "pulumi").exists():
        env["PATH"] = f"{tools / 'bin'}:{env.get('PATH', '')}"
        env["PULUMI_HOME"] = str(tools / "pulumi-home")
    env.update(
        PULUMI_SKIP_UPDATE_CHECK="true",
        PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK="true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        PULUMI_BACKEND_URL=f"file://{base / 'state'}",
        PULUMI_CONFIG_PASSPHRASE_FILE=str(base / "passphrase"),
        **overlay_env(OVERLAY),
    )
    env.pop("PULUMI_CONFIG_PASSPHRASE", None)
    env.pop("PULUMI_ACCESS_TOKEN", None)
    (base / "state").mkdir(exist_ok=True)
    passphrase = base / "passphrase"
    if not passphrase.exists():
        fd = os.open(passphrase, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(24))
    return env


class SshReadyWatcher:
    """Polls hosts over SSH (inside the netns) from a background thread and records the
    seconds until each first accepts the login key."""

    def __init__(self, stack: Stack, hosts: list[str], timeout: float = 1800) -> None:
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
                                        timeout=20).returncode == 0
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


def _json_docs(text: str) -> list[dict]:
    decoder, docs, idx, text = json.JSONDecoder(), [], 0, text.strip()
    while idx < len(text):
        doc, end = decoder.raw_decode(text, idx)
        docs.append(doc)
        idx = end
        while idx < len(text) and text[idx].isspace():
            idx += 1
    return docs


def steps_of(output: str) -> list[dict]:
    """Steps of `pulumi preview --json` (one document with "steps"), or the steps an
    update executed from `pulumi up --json` (the preview's document, then one engine event
    per line: the resOutputsEvent metadata of each resource tells the op it ran)."""
    docs = _json_docs(output)
    executed = [d["resOutputsEvent"]["metadata"] for d in docs if "resOutputsEvent" in d]
    if executed:
        return [{"op": m.get("op"), "urn": m.get("urn", ""), "newState": {"type": m.get("type", "")}}
                for m in executed]
    for doc in docs:
        if "steps" in doc:
            return doc["steps"]
    return []


def step_type(step: dict) -> str:
    for key in ("newState", "oldState"):
        state = step.get(key) or {}
        if state.get("type"):
            return state["type"]
    return step.get("urn", "").split("::")[-2] if "::" in step.get("urn", "") else ""


def urn_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


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


def probe_guest(stack: "Stack", host: str) -> dict:
    """The facts GUEST_PROBE gathers on one guest (one SSH round trip)."""
    proc = run(stack.ssh_argv(host, "python3 -"), input=GUEST_PROBE, timeout=300)
    return json.loads(proc.stdout.strip().splitlines()[-1])

"""Helpers of the API tier: the fixture cloud, Neutron read-back, stacks in existing-cloud mode (on
support.pulumi) and the secret-leak log. Imported by tests/api/conftest.py and the test modules."""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import pytest

from support import IN_CI, require  # noqa: F401  (re-exported for the tier's modules)
from support.command_log import CommandLog
from support.program import copy_program
from support.pulumi import Stack, Workspace

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "fixture"
SYS_PY = "/usr/bin/python3"  # the chroot's python3, with Epoxy's openstacksdk (run through FixtureCloud.client)
# Fernet tokens (Keystone's token format here) are url-safe base64 starting with this prefix.
FERNET_TOKEN_RE = re.compile(r"gAAAAA[A-Za-z0-9_\-]{40,}")
# The flavor the fixture pre-creates as the cloud's own (start.sh API_FIXTURE_OWN_FLAVOR).
OWN_FLAVOR = "m1.tiny"
TIMINGS_FILE = HERE / ".timings.json"



# Everything the tier's subprocesses printed (pulumi, openstack CLI, fixture scripts), for the secret-hygiene
# test; conftest writes it to a file for post-mortems.
LOG = CommandLog()
CAPTURED: list[str] = []  # captured output of every test report (conftest hook), for the secret-hygiene test
# Secrets a test got hold of (e.g. a stack's generated private key), name -> value, for the secret-hygiene test.
SECRETS: dict[str, str] = {}  # never printed: only checked for presence in texts


def run(cmd: list[str], *, label: str, env: Optional[dict] = None, input: Optional[str] = None,
        timeout: float = 900, cwd: Optional[Path] = None, check: bool = True) -> subprocess.CompletedProcess:
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, input=input, text=True, capture_output=True, timeout=timeout,
                          cwd=cwd, stdin=None if input is not None else subprocess.DEVNULL)
    elapsed = time.monotonic() - started
    LOG.add(f"{label} (rc={proc.returncode}, {elapsed:.1f}s)", proc.stdout + "\n" + proc.stderr)
    if check and proc.returncode != 0:
        pytest.fail(f"{label} failed (rc={proc.returncode}):\n{_tail(proc.stdout)}\n{_tail(proc.stderr)}",
                    pytrace=False)
    return proc


def _tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


# --- the fixture cloud ------------------------------------------------------------------------------
@dataclass
class FixtureCloud:
    state: Path
    env: dict = field(repr=False)  # OS_* variables, incl. OS_PASSWORD (never in a repr/traceback)
    ports: dict  # db, keystone, neutron, glance, nova, placement (all on 127.0.0.1)
    start_seconds: float
    cold: bool
    # The prefix that runs a client inside the fixture's chroot (fixture/in-chroot.sh CHROOT, which sees the
    # host's /tmp): the tests use Epoxy's own `openstack`, openstacksdk and `ovn-nbctl`.
    client: Sequence[str] = ()

    @property
    def auth_url(self) -> str:
        return self.env["OS_AUTH_URL"]

    @property
    def admin_password(self) -> str:
        return self.env["OS_PASSWORD"]

    def os_env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env.update(self.env)
        return env

    def openstack(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run([*self.client, "openstack", *args], label="openstack " + " ".join(args), env=self.os_env(),
                   check=check, timeout=120)

    def neutron(self) -> dict:
        proc = run([*self.client, SYS_PY, "-"], label="neutron dump", env=self.os_env(), timeout=120,
                   input=(HERE / "neutron_dump.py").read_text())
        return json.loads(proc.stdout)

    def ovn_nb(self, *args: str) -> subprocess.CompletedProcess:
        """`ovn-nbctl` against the fixture's OVN northbound database."""
        return run([*self.client, "ovn-nbctl", f"--db=unix:{self.state / 'ovn' / 'nb.sock'}", *args],
                   label="ovn-nbctl " + " ".join(args), timeout=60)


def epoxy_chroot() -> tuple[Path, dict]:
    """The Epoxy fixture's chroot (tests/support/debian-chroot.sh: Debian 13's packages of
    fixture/epoxy-packages.txt, cached under ~/.cache/openstack-lab/api-epoxy-chroot/), built when missing,
    and the build's timings ({"chroot_cold_s": ...} or {"chroot_warm_s": ...})."""
    from support import ROOT
    from support.debian_archive import mirror

    require(os.geteuid() == 0, "the Epoxy api fixture builds and enters a chroot: run as root")
    started = time.monotonic()
    proc = subprocess.run(["bash", str(ROOT / "tests" / "support" / "debian-chroot.sh"), "api-epoxy-chroot", "trixie",
                           str(FIXTURE / "epoxy-packages.txt"), mirror(), str(FIXTURE / "epoxy-setup.sh")],
                          capture_output=True, text=True, timeout=2400, stdin=subprocess.DEVNULL)
    elapsed = round(time.monotonic() - started, 1)
    LOG.add("debian-chroot.sh api-epoxy-chroot", proc.stdout + proc.stderr)
    if proc.returncode != 0:
        pytest.fail(f"building the Epoxy chroot failed (rc={proc.returncode}):\n{_tail(proc.stderr, 30)}",
                    pytrace=False)
    built = "] built " in proc.stderr
    return Path(proc.stdout.strip().splitlines()[-1]), {"chroot_cold_s" if built else "chroot_warm_s": elapsed}


def parse_openrc(path: Path) -> dict:
    env = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^export (OS_[A-Z_]+)=(.*)$", line.strip())
        if m:
            env[m.group(1)] = m.group(2)
    return env


class Opaque(dict):
    """A dict whose repr never shows its values (pytest prints fixture values in tracebacks)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} keys={sorted(self)}>"


# --- Pulumi ---------------------------------------------------------------------------------------
def workspace(tmp: Path) -> Workspace:
    """A copy of the program with its own file backend and passphrase, every command logged to LOG."""
    return Workspace(copy_program(tmp / "program"), tmp / "state", log=LOG.add_pulumi)


def init_stack(ws: Workspace, name: str, config: dict, secret_password: str) -> Stack:
    """A stack with plain config in Pulumi.<stack>.yaml and cloudPassword encrypted (through stdin)."""
    import yaml

    stack = ws.create_stack(name)
    stack.set_config(config)
    stack.set_secret("cloudPassword", secret_password + "\n")
    text = stack.config_file.read_text()
    assert secret_password not in text, "cloudPassword stored in plain text in the stack config"
    stored = yaml.safe_load(text)["config"]["openstack-lab:cloudPassword"]
    assert isinstance(stored, dict) and "secure" in stored, "cloudPassword is not an encrypted config value"
    return stack


def cloud_config(cloud: "FixtureCloud", **extra) -> dict:
    cfg = {
        "cloud": {
            "authUrl": cloud.auth_url,
            "username": "admin",
            "projectName": "admin",
            "userDomainName": "Default",
            "projectDomainName": "Default",
            "region": "RegionOne",
        },
        "keystoneTimeout": 120,
        # Stage demo (the default) would fetch the CirrOS URL: only a test that gives its own image runs it.
        "stopAfter": "networking",
    }
    cfg.update(extra)
    return cfg


# --- timings ------------------------------------------------------------------------------------
def record_timings(update: dict) -> dict:
    try:
        data = json.loads(TIMINGS_FILE.read_text())
    except (OSError, ValueError):
        data = {}
    data.update(update)
    try:
        TIMINGS_FILE.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    except OSError:
        pass
    return data

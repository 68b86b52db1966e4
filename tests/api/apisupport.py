"""Helpers of the API tier: the fixture cloud, Neutron read-back, a Pulumi project runner and
the secret-leak log. Imported by tests/api/conftest.py and the test modules."""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
FIXTURE = HERE / "fixture"
SYS_PY = "/usr/bin/python3"  # Debian's python3: openstacksdk comes from python3-openstackclient
from labtest import IN_CI, require  # noqa: E402  (shared by every tier)
TIMINGS_FILE = HERE / ".timings.json"
# Fernet tokens (Keystone's token format here) are url-safe base64 starting with this prefix.
FERNET_TOKEN_RE = re.compile(r"gAAAAA[A-Za-z0-9_\-]{40,}")



def assert_absent(secret: str, text: str, where: str) -> None:
    """Fail when `secret` occurs in `text`, without ever showing the secret (a plain
    `assert secret not in text` would print it through pytest's assertion rewriting)."""
    if secret and secret in text:
        pytest.fail(f"a secret appears in {where}", pytrace=False)


class TextLog:
    """Everything the tier's subprocesses printed (pulumi, openstack CLI, fixture scripts), so the
    secret-hygiene test can scan it. Also written to a file for post-mortems."""

    def __init__(self) -> None:
        self.chunks: list[str] = []

    def add(self, label: str, text: str) -> None:
        self.chunks.append(f"### {label}\n{text}")

    def text(self) -> str:
        return "\n".join(self.chunks)


LOG = TextLog()
CAPTURED: list[str] = []  # captured output of every test report (conftest hook), for the secret-hygiene test


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
    ports: dict  # db, keystone, neutron (all on 127.0.0.1)
    start_seconds: float
    cold: bool

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
        return run(["openstack", *args], label="openstack " + " ".join(args), env=self.os_env(), check=check,
                   timeout=120)

    def neutron(self) -> dict:
        proc = run([SYS_PY, str(HERE / "neutron_dump.py")], label="neutron dump", env=self.os_env(), timeout=120)
        return json.loads(proc.stdout)


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
def pulumi_env_base() -> Optional[dict]:
    """Environment with the checkout's toolchain (what `source tools/toolchain/env.sh` gives), or
    None when no pulumi CLI is found."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    tools = ROOT / ".tools"
    if (tools / "bin" / "pulumi").exists():
        env["PATH"] = f"{tools / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["PULUMI_HOME"] = str(tools / "pulumi-home")
    if shutil.which("pulumi", path=env.get("PATH")) is None:
        return None
    env.update({
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_SKIP_CONFIRMATIONS": "true",
    })
    for key in ("PULUMI_CONFIG_PASSPHRASE_FILE", "PULUMI_BACKEND_URL", "PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE"):
        env.pop(key, None)
    return env


def program_venv() -> Optional[Path]:
    if (ROOT / ".venv" / "bin" / "python").exists():
        return ROOT / ".venv"
    if sys.prefix != sys.base_prefix:
        return Path(sys.prefix)
    return None


@dataclass
class PulumiProject:
    """A copy of the program in a tmp dir (so no Pulumi.<stack>.yaml lands in the checkout), a
    local file backend and a passphrase secrets provider, both in the same tmp dir."""

    workdir: Path
    env: dict = field(repr=False)  # holds PULUMI_CONFIG_PASSPHRASE
    stacks: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, tmp: Path, base_env: dict) -> "PulumiProject":
        workdir = tmp / "program"
        ignore = shutil.ignore_patterns(".git", ".venv*", ".tools", "tests", "__pycache__", ".pytest_cache",
                                        "Pulumi.*.yaml", "*.pyc", "tmp")
        shutil.copytree(ROOT, workdir, ignore=ignore, symlinks=True)
        venv = program_venv()
        if venv is not None:
            (workdir / ".venv").symlink_to(venv)
        backend = tmp / "backend"
        backend.mkdir()
        env = dict(base_env)
        env["PULUMI_BACKEND_URL"] = f"file://{backend}"
        env["PULUMI_CONFIG_PASSPHRASE"] = secrets.token_hex(16)
        return cls(workdir=workdir, env=env)

    def pulumi(self, *args: str, stack: Optional[str] = None, input: Optional[str] = None, check: bool = True,
               timeout: float = 900) -> subprocess.CompletedProcess:
        cmd = ["pulumi", *args, "--non-interactive"]
        if stack:
            cmd += ["--stack", stack]
        return run(cmd, label="pulumi " + " ".join(args), env=self.env, input=input, cwd=self.workdir,
                   check=check, timeout=timeout)

    def init_stack(self, stack: str, config: dict, secret_password: str) -> None:
        """Create the stack; plain config goes into Pulumi.<stack>.yaml, the password through
        `pulumi config set --secret` with the value on stdin (never argv)."""
        import yaml

        self.pulumi("stack", "init", stack, "--secrets-provider", "passphrase")
        self.stacks.append(stack)
        self.set_config(stack, config)
        self.pulumi("config", "set", "--secret", "openstack-lab:cloudPassword", stack=stack,
                    input=secret_password + "\n")
        text = self.config_file(stack).read_text()
        assert secret_password not in text, "cloudPassword stored in plain text in the stack config"
        stored = yaml.safe_load(text)["config"]["openstack-lab:cloudPassword"]
        assert isinstance(stored, dict) and "secure" in stored, "cloudPassword is not an encrypted config value"

    def config_file(self, stack: str) -> Path:
        return self.workdir / f"Pulumi.{stack}.yaml"

    def set_config(self, stack: str, values: dict) -> None:
        import yaml

        path = self.config_file(stack)
        doc = yaml.safe_load(path.read_text()) if path.exists() else {}
        doc = doc or {}
        cfg = doc.setdefault("config", {})
        for key, value in values.items():
            cfg[f"openstack-lab:{key}"] = value
        path.write_text(yaml.safe_dump(doc, sort_keys=True))

    def outputs(self, stack: str) -> dict:
        return json.loads(self.pulumi("stack", "output", "--json", stack=stack).stdout or "{}")


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

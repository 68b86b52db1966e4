"""Helpers of the engine tier: the checkout's toolchain (.tools/), isolated Pulumi runs, a private libvirtd.

Every Pulumi run gets its own local file backend and passphrase in a temporary directory and an environment
without the caller's PULUMI_* variables, so the tier never touches a developer's stacks. Traffic stays on
this machine: the private libvirtd listens on a unix socket and runs in its own network namespace.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools"
PULUMI = TOOLS / "bin" / "pulumi"
PULUMI_HOME = TOOLS / "pulumi-home"
VENV = ROOT / ".venv"
from labtest import IN_CI, require  # noqa: E402  (shared by every tier)
# Resource plugins the program needs (versions of pulumi-plugin.json in the pinned SDKs).
PLUGINS = {"command": "1.2.1", "libvirt": "0.5.4", "openstack": "5.5.3"}
PROJECT = "openstack-lab"
CAPS_CACHE = Path(os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))) / "openstack-lab" / "engine-libvirt-qemu-cache"



def toolchain_problem() -> Optional[str]:
    if not os.access(PULUMI, os.X_OK):
        return f"{PULUMI} missing: run tools/toolchain/setup.sh"
    for name in ("pulumi-language-python", "pulumi-language-python-exec", "pulumi-resource-pulumi-python"):
        if not os.access(TOOLS / "bin" / name, os.X_OK):
            return f".tools/bin/{name} missing: run tools/toolchain/setup.sh"
    return None


def plugins_problem() -> Optional[str]:
    for name, version in PLUGINS.items():
        binary = PULUMI_HOME / "plugins" / f"resource-{name}-v{version}" / f"pulumi-resource-{name}"
        if not os.access(binary, os.X_OK):
            return f"resource plugin {name} v{version} not installed in .tools/pulumi-home: run tools/toolchain/setup.sh"
    return None


def venv_problem() -> Optional[str]:
    python = VENV / "bin" / "python"
    if not os.access(python, os.X_OK):
        return f"{python} missing: run `make venv`"
    probe = subprocess.run([str(python), "-c", "import pulumi, pulumi_libvirt, pulumi_command, pulumi_openstack, yaml"],
                           capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        return f"{VENV} lacks the program's packages: {probe.stderr.strip().splitlines()[-1:]}"
    return None


# libvirt needs dnsmasq for every network it starts, and the libvirt provider builds cloud-init disks with
# `mkisofs` (genisoimage); neither comes with --no-install-recommends.
ENGINE_PACKAGES = ("libvirt-daemon-system", "libvirt-clients", "qemu-system-x86", "qemu-utils", "iproute2", "util-linux",
                   "dnsmasq-base", "genisoimage")
# Commands the tier's libvirtd and plugins run: checked after the install, so a package list that misses one
# fails here, by name, instead of deep inside a `pulumi up`.
ENGINE_COMMANDS = ("libvirtd", "unshare", "ip", "mount", "dnsmasq", "mkisofs", "qemu-img")


def ensure_packages() -> None:
    """Install the tier's Debian packages when missing (tools/ensure-packages.sh starts no service)."""
    script = ROOT / "tools" / "ensure-packages.sh"
    if not script.exists() or not Path("/usr/bin/dpkg-query").exists():
        return
    proc = subprocess.run(["bash", str(script), *ENGINE_PACKAGES], capture_output=True, text=True, timeout=1800,
                          stdin=subprocess.DEVNULL)
    require(proc.returncode == 0, f"tools/ensure-packages.sh {' '.join(ENGINE_PACKAGES)} failed: "
            + tail(proc.stdout + proc.stderr, 10))


def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


class Pulumi:
    """`pulumi` of .tools/ run in `workdir` against a private file backend and passphrase."""

    def __init__(self, workdir: Path, state_dir: Path) -> None:
        self.workdir = workdir
        state_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
        env.update({
            "PATH": f"{TOOLS / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
            "PULUMI_HOME": str(PULUMI_HOME),
            "PULUMI_BACKEND_URL": f"file://{state_dir}",
            "PULUMI_CONFIG_PASSPHRASE": secrets.token_urlsafe(24),
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_SKIP_CONFIRMATIONS": "true",
            "NO_COLOR": "1",
        })
        env.pop("VIRTUAL_ENV", None)
        self.env = env

    def run(self, *args: str, check: bool = True, timeout: float = 900,
            stdin_text: Optional[str] = None) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(PULUMI), "--non-interactive", "--color", "never", *args], cwd=self.workdir,
                              env=self.env, capture_output=True, text=True, timeout=timeout,
                              input=stdin_text if stdin_text is not None else "")
        if check and proc.returncode != 0:
            pytest.fail(f"`pulumi {' '.join(args)}` exited {proc.returncode}\n--- stdout\n{tail(proc.stdout)}"
                        f"\n--- stderr\n{tail(proc.stderr)}", pytrace=False)
        return proc

    def config_set(self, key: str, value: str, secret: bool = False, path: bool = False) -> None:
        """Secret values go through stdin, never argv."""
        flags = ["--path"] if path else []
        if secret:
            self.run("config", "set", "--secret", *flags, key, stdin_text=value)
        else:
            self.run("config", "set", "--plaintext", *flags, key, "--", value)

    def preview_json(self, *extra: str) -> dict:
        proc = self.run("preview", "--json", *extra, check=False)
        try:
            doc = json.loads(proc.stdout)
        except json.JSONDecodeError:
            pytest.fail(f"`pulumi preview --json` printed no JSON (exit {proc.returncode})\n--- stdout\n"
                        f"{tail(proc.stdout)}\n--- stderr\n{tail(proc.stderr)}", pytrace=False)
        if proc.returncode != 0:
            diags = [d.get("message", "") for d in doc.get("diagnostics", []) if d.get("severity") == "error"]
            pytest.fail(f"`pulumi preview --json` exited {proc.returncode}: {diags}\n--- stderr\n{tail(proc.stderr)}",
                        pytrace=False)
        return doc


def copy_program(dest: Path) -> Path:
    """A copy of the lab program (no stack files, tests, .git) whose .venv links to the checkout's."""
    ignore = shutil.ignore_patterns(".git", ".tools", ".venv", ".venv-*", "tests", "__pycache__", "*.pyc",
                                    ".pytest_cache", "Pulumi.*.yaml", ".ci", "tools")
    shutil.copytree(ROOT, dest, ignore=ignore, symlinks=True)
    (dest / ".venv").symlink_to(VENV.resolve())
    return dest


def make_qcow2(path: Path, size: str = "64M") -> Path:
    qemu_img = shutil.which("qemu-img")
    if qemu_img:
        subprocess.run([qemu_img, "create", "-q", "-f", "qcow2", str(path), size], check=True, timeout=60)
    else:  # a valid empty qcow2 header is not needed for a preview; any file does
        path.write_bytes(b"QFI\xfb" + b"\0" * 508)
    return path


class PrivateLibvirtd:
    """A root libvirtd in its own mount + network namespace (tmpfs over its state/config dirs), reachable only
    through a unix socket in a temporary directory. URIs: test+unix:///default?socket=... (in-memory test
    driver) or qemu+unix:///system?socket=..."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="osl-engine-libvirtd-", dir="/tmp"))
        self.socket = self.dir / "sock" / "libvirt-sock"
        self.pidfile = self.dir / "libvirtd.pid"
        self.log = self.dir / "libvirtd.log"
        self.proc: Optional[subprocess.Popen] = None

    @staticmethod
    def problem() -> Optional[str]:
        ensure_packages()
        if os.geteuid() != 0:
            return "a private libvirtd needs root"
        for tool in ENGINE_COMMANDS:
            if not (shutil.which(tool) or Path(f"/usr/sbin/{tool}").exists()):
                return f"{tool} not found after installing {' '.join(ENGINE_PACKAGES)}"
        return None

    def uri(self, driver: str = "test", path: str = "/default") -> str:
        return f"{driver}+unix://{path}?socket={self.socket}"

    def start(self, timeout: float = 60) -> None:
        (self.dir / "sock").mkdir()
        CAPS_CACHE.mkdir(parents=True, exist_ok=True)
        conf = self.dir / "libvirtd.conf"
        conf.write_text(f'unix_sock_dir = "{self.dir / "sock"}"\nunix_sock_rw_perms = "0770"\n'
                        'auth_unix_rw = "none"\nauth_unix_ro = "none"\n')
        qemu_conf = self.dir / "qemu.conf"
        qemu_conf.write_text('user = "root"\ngroup = "root"\ndynamic_ownership = 0\nremember_owner = 0\n'
                             'security_driver = "none"\ncgroup_controllers = [ ]\nstdio_handler = "file"\n')
        libvirtd = shutil.which("libvirtd") or "/usr/sbin/libvirtd"
        script = (
            "set -e; mount --make-rprivate /; "
            "for d in /run/libvirt /var/lib/libvirt /etc/libvirt /var/cache/libvirt /var/log/libvirt; do "
            "mkdir -p $d; mount -t tmpfs tmpfs $d; done; ip link set lo up; "
            # QEMU capability probing takes minutes on a loaded 2-core box: keep its cache across runs.
            f'mkdir -p /var/cache/libvirt/qemu && mount --bind "{CAPS_CACHE}" /var/cache/libvirt/qemu; '
            # Guests (if any) run as root without security driver, cgroups (no systemd here) or virtlogd.
            f'cp "{qemu_conf}" /etc/libvirt/qemu.conf; '
            f'exec "{libvirtd}" --config "{conf}" --pid-file "{self.pidfile}"'
        )
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(["unshare", "--mount", "--net", "--fork", "--kill-child", "bash", "-c", script],
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.socket.exists() and self.pidfile.exists():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        log_text = self.log.read_text(errors="replace") if self.log.exists() else ""
        self.stop()
        raise RuntimeError(f"private libvirtd did not start:\n{tail(log_text, 20)}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


def steps_by_type(preview: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for step in preview.get("steps", []):
        rtype = (step.get("newState") or step.get("oldState") or {}).get("type") or step["urn"].split("::")[2]
        out.setdefault(rtype, []).append(step)
    return out


def urn_name(urn: str) -> str:
    return urn.split("::")[-1]


def iter_ops(preview: dict) -> Iterator[tuple[str, str, str]]:
    """(op, type, name) of every step."""
    for step in preview.get("steps", []):
        rtype = step["urn"].split("::")[2].split("$")[-1]
        yield step["op"], rtype, urn_name(step["urn"])

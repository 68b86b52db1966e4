"""A private libvirtd in its own mount + network namespace (tests/support/libvirtd.sh), reachable by a unix
socket in a temp dir. `ns(argv)` runs a program inside that network namespace (where guests are reachable)."""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Optional

import pytest

from support import SUPPORT, require, tail
from support.packages import ensure

SCRIPT = SUPPORT / "libvirtd.sh"
# libvirt needs dnsmasq and iptables for the networks it starts, the libvirt provider builds cloud-init disks
# with `mkisofs` (genisoimage); none comes with --no-install-recommends.
PACKAGES = ("libvirt-daemon-system", "libvirt-clients", "qemu-system-x86", "qemu-utils", "iproute2", "util-linux",
            "iptables", "dnsmasq-base", "genisoimage")
# Commands the daemon, its guests and the libvirt provider run.
COMMANDS = ("libvirtd", "virsh", "unshare", "ip", "mount", "dnsmasq", "mkisofs", "qemu-img", "qemu-system-x86_64")


def require_host(packages: tuple[str, ...] = (), commands: tuple[str, ...] = ()) -> None:
    """Root, and the packages/commands a private libvirtd needs (plus a tier's own), or skip/fail."""
    require(os.geteuid() == 0, "a private libvirtd needs root (network and mount namespaces)")
    ensure((*PACKAGES, *packages), (*COMMANDS, *commands))


class PrivateLibvirtd:
    """One libvirtd instance. `state_dir` (default: a new dir in /tmp; the socket path must stay below 108
    characters) is removed by stop(); `virtlogd=True` also runs virtlogd."""

    def __init__(self, state_dir: Optional[Path] = None, netns: Optional[str] = None, virtlogd: bool = False,
                 prefix: str = "osl") -> None:
        self.netns = netns or f"{prefix}-{secrets.token_hex(4)}"
        self.state_dir = state_dir or Path(tempfile.mkdtemp(prefix=f"{prefix}-libvirtd-", dir="/tmp"))
        self.virtlogd = virtlogd
        self.socket = self.state_dir / "run" / "libvirt-sock"
        self.running = False

    def uri(self, driver: str = "qemu") -> str:
        """qemu+unix:///system?socket=... or, driver="test", libvirt's in-memory test driver."""
        path = "/system" if driver == "qemu" else "/default"
        return f"{driver}+unix://{path}?socket={self.socket}"

    def start(self) -> "PrivateLibvirtd":
        argv = ["bash", str(SCRIPT), "start", self.netns, str(self.state_dir)]
        argv += ["--virtlogd"] if self.virtlogd else []
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        self.running = True
        if proc.returncode != 0:
            self.stop()
            raise RuntimeError(f"private libvirtd did not start:\n{tail(proc.stdout + proc.stderr, 30)}")
        return self

    def stop(self) -> None:
        if self.running:
            subprocess.run(["bash", str(SCRIPT), "stop", self.netns, str(self.state_dir)], capture_output=True,
                           timeout=300, stdin=subprocess.DEVNULL)
            self.running = False

    def __enter__(self) -> "PrivateLibvirtd":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def ns(self, argv: list[str]) -> list[str]:
        """`argv` run inside the instance's network namespace."""
        return ["ip", "netns", "exec", self.netns, *argv]

    def enter(self, argv: list[str]) -> list[str]:
        """`argv` run in the daemon's own network and mount namespaces: there /run/libvirt is its state dir, so its
        socket sits at libvirt's default path, as on a real host (support.sshd runs its sshd so)."""
        pid = (self.state_dir / "libvirtd.pid").read_text().strip()
        return ["nsenter", f"--target={pid}", "--mount", "--net", "--", *argv]

    def virsh(self, *args: str, driver: str = "qemu") -> str:
        proc = subprocess.run(["virsh", "-q", "-c", self.uri(driver), *args], capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            pytest.fail(f"virsh {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}", pytrace=False)
        return proc.stdout

    def names(self, kind: str) -> list[str]:
        """Names of all domains/networks/pools (kind: list | net-list | pool-list)."""
        return self.virsh(kind, "--all", "--name").split()


def make_qcow2(path: Path, size: str = "64M") -> Path:
    """An empty qcow2 image (a base image for guests that need not boot)."""
    subprocess.run([shutil.which("qemu-img") or "qemu-img", "create", "-q", "-f", "qcow2", str(path), size],
                   check=True, timeout=60)
    return path


def nodes_stage_config(daemon: PrivateLibvirtd, base: Path, computes: int, **controller: object) -> dict:
    """The config of a lab that stops after its nodes on `daemon`: tiny guests (1 vCPU, 512 MiB, 2 GiB) from an
    empty image, in a dir pool under `base` (world-traversable: libvirt/QEMU must reach both); `controller`
    adds keys to the controller's size."""
    image = make_qcow2(base / "base.qcow2")
    os.chmod(image, 0o644)
    (base / "pool").mkdir(mode=0o755)
    size = {"vcpus": 1, "memoryMiB": 512, "diskGiB": 2}
    return {"hypervisor": "qemu", "libvirtUri": daemon.uri(), "baseImage": str(image), "computeCount": computes,
            "stopAfter": "nodes", "storagePoolPath": str(base / "pool"), "controller": {**size, **controller},
            "compute": size}

"""Fixtures of the e2e tier: real `pulumi up/preview/destroy` of the lab program against a
real libvirtd with QEMU guests of a locally built Debian test image.

- Debian packages are installed when missing (tools/ensure-packages.sh: no service starts);
- the test image is built (or taken from the cache) by tests/e2e/image/build-image.sh;
- libvirtd + virtlogd run in a network namespace of their own with private state dirs
  (tests/e2e/netns-libvirt.sh); every pulumi command and SSH connection runs inside it;
- stacks use a file backend and passphrase in a temp dir; teardown destroys them, kills
  the daemons and guests, deletes the netns and every temp dir.

Hypervisor: qemu (TCG) by default, LAB_E2E_HYPERVISOR=kvm to use KVM.
Under CI=true a missing prerequisite fails the tier instead of skipping it.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from e2elib import (DEBIAN_PACKAGES, HERE, ROOT, NetnsLibvirt, Stack, log, make_workdir, new_keypair,
                    pulumi_env, run)

from labtest import IN_CI, require  # noqa: E402  (shared by every tier)
TIMINGS_FILE = HERE / ".timings.json"



class Timings(dict):
    def record(self, key: str, value) -> None:
        self[key] = value
        log(f"timing {key} = {value}")


@pytest.fixture(scope="session")
def timings():
    t = Timings()
    yield t
    if t:
        TIMINGS_FILE.write_text(json.dumps(t, indent=2, sort_keys=True) + "\n")
        print("\n[e2e] timings (not asserted):")
        for key in sorted(t):
            print(f"[e2e]   {key}: {t[key]}")


@pytest.fixture(scope="session")
def host_ready():
    require(os.geteuid() == 0, "the e2e tier needs root (network namespaces, libvirtd)")
    require(shutil.which("ip") is not None, "iproute2 (ip) missing")
    ensure = ROOT / "tools" / "ensure-packages.sh"
    if ensure.exists():
        proc = run(["bash", str(ensure), *DEBIAN_PACKAGES], check=False, timeout=1800)
        require(proc.returncode == 0, f"installing Debian packages failed: {proc.stderr[-2000:]}")
    for tool in ("libvirtd", "virtlogd", "virsh", "qemu-system-x86_64", "qemu-img", "debootstrap", "mke2fs", "ssh"):
        require(shutil.which(tool) is not None, f"{tool} missing")
    pulumi = ROOT / ".tools" / "bin" / "pulumi"
    require(pulumi.exists() or shutil.which("pulumi") is not None,
            "no pulumi CLI: run tools/toolchain/setup.sh (make toolchain)")
    require((ROOT / ".venv" / "bin" / "python").exists(), "no .venv: run make deps")
    hypervisor = os.environ.get("LAB_E2E_HYPERVISOR", "qemu")
    require(hypervisor in ("qemu", "kvm"), f"LAB_E2E_HYPERVISOR={hypervisor} is not qemu or kvm")
    if hypervisor == "kvm":
        require(os.path.exists("/dev/kvm"), "LAB_E2E_HYPERVISOR=kvm but no /dev/kvm")
    return hypervisor


@pytest.fixture(scope="session")
def image(host_ready, timings):
    start = time.monotonic()
    proc = run(["bash", str(HERE / "image" / "build-image.sh")], check=False, timeout=3600)
    require(proc.returncode == 0, f"building the test image failed:\n{proc.stderr[-3000:]}")
    path = Path(proc.stdout.strip().splitlines()[-1])
    info = json.loads((path / "build-info.json").read_text())
    timings.record("image_seconds_this_run", round(time.monotonic() - start, 1))
    timings.record("image_build_seconds_cold", info["build_seconds"])
    timings.record("image_qcow2_mib", round(info["qcow2_bytes"] / 2**20, 1))
    return {
        "disk": str(path / "disk.qcow2"),
        "kernel": str(path / "vmlinuz"),
        "initrd": str(path / "initrd.img"),
        # LAB_E2E_CMDLINE overrides the image's kernel command line (debugging).
        "cmdline": os.environ.get("LAB_E2E_CMDLINE") or (path / "cmdline").read_text().strip(),
    }


@pytest.fixture(scope="session")
def base_dir():
    # Short path: the libvirt socket path must stay below 108 characters.
    base = Path(tempfile.mkdtemp(prefix="osl-e2e-", dir="/tmp"))
    base.chmod(0o700)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def lab(host_ready, base_dir):
    netns = f"osl-e2e-{secrets.token_hex(4)}"
    instance = NetnsLibvirt(netns=netns, state_dir=base_dir / "lv")
    try:
        instance.start()
    except Exception as exc:  # noqa: BLE001
        instance.stop()
        require(False, f"libvirtd in a netns did not start: {exc}")
    log(f"libvirtd in netns {netns}: {instance.uri}")
    yield instance
    instance.stop()


class StackFactory:
    def __init__(self, lab: NetnsLibvirt, base: Path, image: dict, hypervisor: str) -> None:
        self.lab, self.base, self.image, self.hypervisor = lab, base, image, hypervisor
        self.env = pulumi_env(base)
        self.stacks: dict[str, Stack] = {}

    def base_config(self, stack: str) -> dict:
        return {
            "libvirtUri": self.lab.uri,
            "hypervisor": self.hypervisor,
            "baseImage": self.image["disk"],
            "boot": {"kernel": self.image["kernel"], "initrd": self.image["initrd"], "cmdline": self.image["cmdline"]},
            "storagePoolPath": str(self.base / f"pool-{stack}"),
            "controller": {"vcpus": 1, "memoryMiB": 1024, "diskGiB": 4},
            "compute": {"vcpus": 1, "memoryMiB": 768, "diskGiB": 4},
        }

    def create(self, name: str, config: dict) -> Stack:
        work = make_workdir(self.base, name)
        key_file, public, private = new_keypair(self.base, f"id-{name}")
        stack = Stack(name=name, lab=self.lab, work=work, env=self.env, key_file=key_file, public_key=public)
        full = self.base_config(name)
        full.update(config)
        full["sshPublicKey"] = public
        stack.init(full, private)
        self.stacks[name] = stack
        return stack

    def cleanup(self) -> None:
        for stack in self.stacks.values():
            proc = stack.pulumi("destroy", "--yes", "--skip-preview", check=False, timeout=1800)
            if proc.returncode != 0:
                log(f"teardown: destroy of {stack.name} failed (the netns teardown kills what is left)")


@pytest.fixture(scope="session")
def stacks(lab, base_dir, image, host_ready):
    factory = StackFactory(lab, base_dir, image, host_ready)
    yield factory
    factory.cleanup()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keeps each test's call report on the item (the scenario steps depend on each other)."""
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call":
        item.rep_call = rep

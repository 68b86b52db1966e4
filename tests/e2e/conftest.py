"""Fixtures of the e2e tier: real `pulumi up/preview/destroy` of the lab program against a
real libvirtd with QEMU guests of a locally built Debian test image, on the shared harness
(tests/support/):

- Debian packages are installed when missing (support.libvirtd.require_host: tools/ensure-packages.sh,
  no service starts);
- the test image is built (or taken from the cache) by tests/e2e/image/build-image.sh;
- libvirtd + virtlogd run in a network namespace of their own with private state dirs
  (support.libvirtd.PrivateLibvirtd, virtlogd=True); every pulumi command (support.pulumi.Workspace,
  netns=) and SSH connection runs inside it;
- each stack runs in a copy of the program (support.program.copy_program) with the debian-test overlay;
  file backend and passphrase in a temp dir; teardown destroys the stacks, kills the daemons and guests,
  deletes the netns and every temp dir.

Hypervisor: qemu (TCG) by default, LAB_E2E_HYPERVISOR=kvm to use KVM.
Under CI=true a missing prerequisite fails the tier instead of skipping it.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest

from e2esupport import CAPTURED_KEY, E2E_COMMANDS, E2E_PACKAGES, HERE, OVERLAY, LabStack, log, new_keypair, run
from support import require
from support.command_log import CommandLog
from support.libvirtd import PrivateLibvirtd, require_host
from support.program import copy_program, overlay_env
from support.pulumi import Workspace, require_toolchain

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
    require_host(E2E_PACKAGES, E2E_COMMANDS)
    require_toolchain()
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
    daemon = PrivateLibvirtd(state_dir=base_dir / "lv", virtlogd=True, prefix="osl-e2e")
    try:
        daemon.start()
    except RuntimeError as exc:
        require(False, f"libvirtd in a netns did not start: {exc}")
    log(f"libvirtd in netns {daemon.netns}: {daemon.uri()}")
    yield daemon
    daemon.stop()


@pytest.fixture(scope="session")
def tier_log(base_dir):
    """The output of every pulumi command of the tier (stdout after --show-secrets withheld), in tier.log."""
    return CommandLog(base_dir / "tier.log")


class StackFactory:
    def __init__(self, lab: PrivateLibvirtd, base: Path, image: dict, hypervisor: str, tier_log: CommandLog) -> None:
        self.lab, self.base, self.image, self.hypervisor, self.tier_log = lab, base, image, hypervisor, tier_log
        self.stacks: dict[str, LabStack] = {}
        # Secret values the tests got hold of (login keys, ...), name -> value: in memory only.
        self.login_keys: dict[str, str] = {}

    def base_config(self, stack: str) -> dict:
        return {
            "libvirtUri": self.lab.uri(),
            "hypervisor": self.hypervisor,
            "baseImage": self.image["disk"],
            "boot": {"kernel": self.image["kernel"], "initrd": self.image["initrd"], "cmdline": self.image["cmdline"]},
            "storagePoolPath": str(self.base / f"pool-{stack}"),
            "controller": {"vcpus": 1, "memoryMiB": 1024, "diskGiB": 4},
            "compute": {"vcpus": 1, "memoryMiB": 768, "diskGiB": 4},
        }

    def create(self, name: str, config: dict) -> LabStack:
        work = copy_program(self.base / f"work-{name}")
        workspace = Workspace(work, self.base / "pulumi", netns=self.lab.netns, env=overlay_env(OVERLAY),
                              log=self.tier_log.add_pulumi)
        key_file, public, private = new_keypair(self.base, f"id-{name}")
        full = self.base_config(name)
        stack = LabStack(workspace, name, self.lab, key_file, Path(full["storagePoolPath"]))
        full.update(config)
        full = {key: value for key, value in full.items() if value is not None}  # None: drop a default above
        full["sshPublicKey"] = public
        stack.set_config(full)
        stack.set_secret("sshPrivateKey", private)  # through stdin, never argv
        self.login_keys[name] = private
        self.stacks[name] = stack
        return stack

    def forget(self, stack: LabStack) -> None:
        """A stack destroyed by its test: nothing left for the teardown."""
        self.stacks.pop(stack.name, None)

    def cleanup(self) -> None:
        for stack in self.stacks.values():
            proc = stack.destroy("--refresh", check=False)
            if proc.returncode != 0:
                log(f"teardown: destroy of {stack.name} failed (the netns teardown kills what is left)")


@pytest.fixture(scope="session")
def stacks(lab, base_dir, image, host_ready, tier_log):
    factory = StackFactory(lab, base_dir, image, host_ready, tier_log)
    yield factory
    factory.cleanup()


@dataclass
class Scenario:
    """The shared 3-node stack A, the second stack B, and the steps that failed (later steps depend on
    earlier ones)."""

    a: Optional[LabStack] = None
    b: Optional[LabStack] = None
    failed: list[str] = field(default_factory=list)

    def need(self, *steps: str) -> None:
        for step in steps:
            if step in self.failed:
                pytest.fail(f"depends on {step}, which failed", pytrace=False)


@pytest.fixture(scope="session")
def scenario():
    return Scenario()


@pytest.fixture
def step(request, scenario):
    """Records the test as failed in the scenario when its call did not pass."""
    name = request.node.name
    yield name
    rep = getattr(request.node, "rep_call", None)
    if rep is None or rep.failed:
        scenario.failed.append(name)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keeps each test's call report on the item (the scenario steps depend on each other), and what each
    test printed in the config's stash (CAPTURED_KEY) for the secret-hygiene test."""
    outcome = yield
    rep = outcome.get_result()
    captured = item.config.stash.setdefault(CAPTURED_KEY, [])
    captured += [text for text in (rep.capstdout, rep.capstderr) if text]
    if rep.longrepr is not None:
        captured.append(rep.longreprtext)
    if rep.when == "call":
        item.rep_call = rep

"""What Packstack would apply, compiled: each dry-run's manifests and hieradata into one catalog per node and role,
with Puppet's compiler (`puppet catalog compile`, nothing applied) and Debian 13's OpenStack Puppet modules, in the
cached chroot of build-puppet-chroot.sh, with no network (compile-catalog.sh), against CentOS Stream 9 facts
(el9facts.py).

Strictness: RDO Epoxy ships Puppet 7.27.0 (rdoinfo, buildsys-tags/cloud9s-openstack-epoxy-release.yml), whose
defaults are `strict=warning` and `strict_variables=false`; the chroot's Puppet 8.10 defaults to error/true, which
rejects Packstack's own module. Every compile passes Puppet 7's values (PUPPET7_STRICTNESS).

A compile's work dir (mode 0700, bound on /srv/compile inside the chroot) holds, per run:
- `hieradata/` (the run's, passwords inside) and `hiera.yaml` (Hiera 5, global layer, one level: `defaults.yaml`,
  which Packstack links to its common.yaml for the node's Hiera config, prescript_000.py);
- `modules/packstack`: Packstack's own module from the installed wheel;
- `overlays/<name>`: for the Debian modules with a packaging gap, a module of the same name made of the project's
  own files (puppet/overlay/<name>: ovn's and vswitch's data and hiera.yaml, ovn's type alias, a
  systemd::manage_dropin stand-in) and links to every other entry of Debian's;
- `environments/<host>_<role>/`: `manifests/` = the project's debian-gaps.pp (controller role: swift's rsync
  declaration) and Packstack's `<ip>_<role>.pp` unchanged, evaluated in that order; `modules/` = links to the
  overlays, first on the environment's modulepath, then `modules/`, then Debian's;
- `var/yaml/facts/<fqdn>.yaml`: the node's facts (Puppet's yaml facts terminus).
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional

import yaml

from support import ROOT, debian_archive, packages, require, tail

from el9facts import NodeSpec, node_facts

HERE = Path(__file__).resolve().parent
BUILD_CHROOT = HERE / "build-puppet-chroot.sh"
COMPILE = HERE / "compile-catalog.sh"
OVERLAY = HERE / "puppet" / "overlay"
DEBIAN_GAPS = HERE / "puppet" / "debian-gaps.pp"
MOUNT = "/srv/compile"  # where a work dir appears inside the chroot
DEBIAN_MODULES = "/usr/share/puppet/modules"
PUPPET7_STRICTNESS = ("--strict", "warning", "--no-strict_variables")
CHROOT_TIMEOUT = 1800  # seconds for a cold build (measured ~1 min) or for the lock of another run's build
COMPILE_TIMEOUT = 300  # seconds for one catalog (measured well under 30 s)


def node_specs(lab_plan) -> dict[str, NodeSpec]:
    """Each node of a lab.plan.LabPlan as the facts need it, by management address."""
    return {node.management_ip: NodeSpec(
        hostname=node.name, fqdn=node.fqdn, ip=node.management_ip, cidr=node.identity.management_cidr,
        gateway=node.identity.management_gateway, mac_eth0=node.identity.management_mac,
        mac_eth1=node.identity.external_mac, vcpus=node.size.vcpus, memory_mib=node.size.memory_mib)
        for node in lab_plan.nodes}


def packstack_module() -> Path:
    """Packstack's own Puppet module, as the pinned wheel installs it in .venv-packstack."""
    found = sorted(ROOT.glob(".venv-packstack/lib/python3*/site-packages/packstack/puppet/modules/packstack"))
    require(found, "Packstack's Puppet module not found in .venv-packstack (make deps installs packstack 26.0.0)")
    return found[-1]


@dataclass(frozen=True)
class Chroot:
    path: Path
    info: dict[str, str]  # .osl-build-info: suite, mirror, puppet version, build seconds
    seconds: float  # what ensure_chroot() took this time (cold build or cache hit)
    built: bool  # False: taken from the cache


def ensure_chroot() -> Chroot:
    """The Debian 13 chroot with Puppet and the modules, built when missing (debootstrap from the host's mirror)."""
    packages.ensure(("debootstrap",), ("debootstrap", "unshare", "chroot", "flock", "mount"))
    started_at = time.time()
    start = time.monotonic()
    proc = subprocess.run(["bash", str(BUILD_CHROOT), debian_archive.mirror()], capture_output=True, text=True,
                          timeout=CHROOT_TIMEOUT, stdin=subprocess.DEVNULL)
    seconds = time.monotonic() - start
    print(proc.stderr, end="")  # the build's progress lines
    require(proc.returncode == 0 and proc.stdout.strip(),
            f"build-puppet-chroot.sh failed (rc {proc.returncode}): {tail(proc.stderr, 15)}")
    path = Path(proc.stdout.strip().splitlines()[-1])
    info = dict(line.split("=", 1) for line in (path / ".osl-build-info").read_text().splitlines()
                if "=" in line and not line.startswith("package "))
    built = (path / ".osl-build-info").stat().st_mtime >= started_at - 1  # else it came from the cache
    return Chroot(path, info, seconds, built)


@dataclass
class Catalog:
    """A compiled catalog (Puppet's JSON): resources by type and title."""

    data: dict

    @property
    def resources(self) -> list[dict]:
        return self.data.get("resources", [])

    def of_type(self, type_: str) -> dict[str, dict]:
        """{title: parameters} of every resource of `type_` (Puppet's capitalised name, e.g. `Nova_config`)."""
        return {r["title"]: r.get("parameters", {}) for r in self.resources if r["type"] == type_}

    def get(self, type_: str, title: str) -> Optional[dict]:
        return self.of_type(type_).get(title)

    def value(self, type_: str, title: str) -> object:
        """The `value` of an ini-style or vs_config resource (`Neutron_plugin_ml2['ml2/type_drivers']`), or None."""
        params = self.get(type_, title)
        return None if params is None else params.get("value")

    def classes(self) -> set[str]:
        return {r["title"].lower() for r in self.resources if r["type"] == "Class"}

    def services(self) -> set[str]:
        """Names of the services the catalog manages running (ensure running/true)."""
        found = set()
        for title, params in self.of_type("Service").items():
            if str(params.get("ensure", "")).lower() in ("running", "true"):
                found.add(params.get("name", title))
        return found

    def type_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.resources:
            counts[r["type"]] = counts.get(r["type"], 0) + 1
        return counts


@dataclass
class Compiled:
    """One `puppet catalog compile` of one node's manifest for one role."""

    host: str
    role: str
    rc: int
    seconds: float
    errors: list[str]
    warnings: list[str]
    catalog: Optional[Catalog] = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.rc == 0 and self.catalog is not None


# Stands for the xfs UUID of a Swift data disk in Debian's swift_device_uuids fact (debian_swift_facts); it must
# reach no catalog: Packstack mounts Swift's disks by path.
PLACEHOLDER_UUID = "00000000-0000-4000-8000-0000000c0de5"


def debian_swift_facts(devices: list[str]) -> dict:
    """Facts only Debian's patched puppet-module-swift reads (its use-custom-uuid-fact and
    check-for-commented-out-drives-in-fstab patches; RDO's puppet-swift has neither patch nor facts).
    - swift_commented_fstab_entries: {} (no Swift drive in the node's fstab yet), so swift::storage::mount takes
      the path upstream's always takes;
    - swift_device_uuids: each Swift data disk (Packstack's CONFIG_SWIFT_STORAGE_DEVICES) with PLACEHOLDER_UUID.
      On a blank disk Debian's own fact would report nothing, and then its patched swift::storage::xfs falls back
      to stdlib's dig44(), which stdlib 9 removed (Debian ships 9.4.1), and to a fail() on a variable it has not
      set yet: Debian's module cannot compile a Swift disk that is not formatted yet. With an entry it takes the
      branch whose UUID only a mount by UUID would use."""
    return {"swift_commented_fstab_entries": {}, "swift_device_uuids": {d: PLACEHOLDER_UUID for d in devices}}


def _messages(stderr: str, level: str) -> list[str]:
    """Puppet's messages of one level ("Error", "Warning"), each with its continuation lines joined."""
    found: list[str] = []
    current: Optional[list[str]] = None
    for line in stderr.splitlines():
        head = re.match(r"^(Error|Warning|Notice|Info|Debug): ", line)
        if head:
            current = [line[head.end():]] if head.group(1) == level else None
            if current is not None:
                found.append("")
        elif current is not None:
            current.append(line.strip())
        if current is not None:
            found[-1] = " ".join(current)
    return found


class CompileWorkspace:
    """One dry-run's manifests and hieradata laid out for the compiler (see the module docstring)."""

    def __init__(self, chroot: Chroot, run_dir: Path, nodes: Mapping[str, NodeSpec], work: Path) -> None:
        self.chroot, self.run_dir, self.nodes, self.work = chroot, Path(run_dir), dict(nodes), Path(work)
        self.work.mkdir(parents=True, exist_ok=True)
        self.work.chmod(0o700)
        shutil.copytree(self.run_dir / "hieradata", self.work / "hieradata", symlinks=True, dirs_exist_ok=True)
        (self.work / "hiera.yaml").write_text(yaml.safe_dump({
            "version": 5,
            "defaults": {"datadir": f"{MOUNT}/hieradata", "data_hash": "yaml_data"},
            "hierarchy": [{"name": "Packstack's answers (defaults.yaml -> common.yaml)", "path": "defaults.yaml"}],
        }, sort_keys=False))
        shutil.copytree(packstack_module(), self.work / "modules" / "packstack", dirs_exist_ok=True)
        for overlay in sorted(OVERLAY.iterdir()):
            self._overlay_module(overlay, self.work / "overlays" / overlay.name)
        swift_devices = self.hiera().get("CONFIG_SWIFT_STORAGE_DEVICES") or {}
        gap_facts = debian_swift_facts(sorted(d["device"] for d in swift_devices.values()))
        for node in self.nodes.values():
            facts_file = self.work / "var" / "yaml" / "facts" / f"{node.fqdn}.yaml"
            facts_file.parent.mkdir(parents=True, exist_ok=True)
            body = yaml.safe_dump({"name": node.fqdn, "values": {**node_facts(node), **gap_facts}}, sort_keys=False)
            facts_file.write_text("--- !ruby/object:Puppet::Node::Facts\n" + body)

    def hiera(self) -> dict:
        """The run's hieradata (passwords inside: never into a message)."""
        return yaml.safe_load((self.work / "hieradata" / "common.yaml").read_text())

    def _overlay_module(self, overlay: Path, dest: Path) -> None:
        """Debian's module of that name with the project's own files on top: the own files copied, every other
        entry a link into Debian's module (resolved inside the chroot), directories present in both merged."""
        debian = self._inside(self.chroot.path / DEBIAN_MODULES.lstrip("/") / overlay.name)
        require(debian.is_dir() and any(debian.iterdir()), f"Debian's module {overlay.name} is missing in the chroot")
        self._merge(overlay, debian, dest, f"{DEBIAN_MODULES}/{overlay.name}")

    def _merge(self, own: Path, debian: Path, dest: Path, inside: str) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        for entry in sorted(own.iterdir()):
            if entry.is_dir():
                self._merge(entry, debian / entry.name, dest / entry.name, f"{inside}/{entry.name}")
            else:
                shutil.copyfile(entry, dest / entry.name)
        if debian.is_dir():
            for entry in sorted(debian.iterdir()):
                if not (dest / entry.name).exists() and not (dest / entry.name).is_symlink():
                    (dest / entry.name).symlink_to(f"{inside}/{entry.name}")

    def _inside(self, path: Path) -> Path:
        """`path` (under the chroot) with links resolved as inside the chroot (Debian's modules are links through
        /etc/alternatives)."""
        root = self.chroot.path
        for _ in range(10):
            if not path.is_symlink():
                return path
            target = Path(path.readlink())
            path = root / str(target).lstrip("/") if target.is_absolute() else path.parent / target
        raise RuntimeError(f"too many links at {path}")

    def manifest(self, host: str, role: str) -> Path:
        return self.run_dir / "manifests" / f"{host}_{role}.pp"

    def compile(self, host: str, role: str, strictness: tuple[str, ...] = PUPPET7_STRICTNESS,
                without: frozenset[str] = frozenset()) -> Compiled:
        """Compile `host`'s manifest for `role` (controller, controller_post, network, compute). `strictness`:
        Puppet's options for it (none: Puppet 8's own defaults); `without`: workarounds of Debian's gaps to leave
        out (an overlay module's name, or "rsync" for debian-gaps.pp), to show that each is still needed."""
        node = self.nodes[host]
        variant = "_without_" + "_".join(sorted(without)) if without else ""
        env = re.sub(r"[^a-z0-9_]", "_", f"h{host}_{role}{variant}".lower())
        env_dir = self.work / "environments" / env
        if env_dir.exists():
            shutil.rmtree(env_dir)
        manifests = env_dir / "manifests"
        manifests.mkdir(parents=True)
        if role == "controller" and "rsync" not in without:
            shutil.copyfile(DEBIAN_GAPS, manifests / "00-debian-gaps.pp")
        shutil.copyfile(self.manifest(host, role), manifests / f"10-{host}_{role}.pp")
        # the environment's own modules come first: the overlays this compile uses
        (env_dir / "modules").mkdir()
        for overlay in sorted((self.work / "overlays").iterdir()):
            if overlay.name not in without:
                (env_dir / "modules" / overlay.name).symlink_to(f"{MOUNT}/overlays/{overlay.name}")
        (env_dir / "environment.conf").write_text(
            f"modulepath = modules:{MOUNT}/modules:{DEBIAN_MODULES}\nmanifest = manifests\n")
        argv = [
            "bash", str(COMPILE), str(self.chroot.path), str(self.work), node.fqdn,
            "--certname", node.fqdn, "--render-as", "json", "--color", "false",
            "--confdir", f"{MOUNT}/conf", "--vardir", f"{MOUNT}/var", "--codedir", f"{MOUNT}/code",
            "--environmentpath", f"{MOUNT}/environments", "--environment", env,
            "--hiera_config", f"{MOUNT}/hiera.yaml", "--facts_terminus", "yaml", *strictness,
        ]
        start = time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=COMPILE_TIMEOUT, stdin=subprocess.DEVNULL)
        seconds = time.monotonic() - start
        catalog = None
        if proc.returncode == 0:
            # Puppet prints its "Compiled catalog" notice on stdout too, before the JSON document
            document = proc.stdout[proc.stdout.find("\n{") + 1:] if not proc.stdout.startswith("{") else proc.stdout
            catalog = Catalog(json.loads(document))
            (self.work / "catalogs").mkdir(exist_ok=True)
            (self.work / "catalogs" / f"{env}.json").write_text(document)
        return Compiled(host, role, proc.returncode, seconds, _messages(proc.stderr, "Error"),
                        _messages(proc.stderr, "Warning"), catalog)

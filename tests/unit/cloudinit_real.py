"""cloud-init's own code as an honest stand-in for a guest's first boot (unit tier), at two releases.

CentOS Stream 9 boots with cloud-init 24.4; Debian ships 22.4 (Debian 12) and 25.1 (Debian 13), so the
unit tier runs both: the release the e2e guest boots with and one past EL9's, the boot-time checks
24.x added (deprecations logged, the network-config schema) included.

* ``ensure(release)`` runs inside the test venv: tests/support/debian_archive.py downloads the suite's
  ``cloud-init`` package through a private apt state (never the host's sources, never installed, so no
  cloud-init unit is ever enabled on this host) and unpacks it into
  ``~/.cache/openstack-lab/cloud-init/<version>/``; the package's Python dependencies come from the
  host's Debian python3 packages, installed when missing through ``tools/ensure-packages.sh`` (starts no
  service). Warm, it runs one import probe under Debian's python3 and nothing else.
* ``run()`` starts tests/unit/cloudinit_driver.py under Debian's ``/usr/bin/python3 -I`` (the interpreter
  cloud-init is packaged for, isolated from the venv) with the unpacked tree first on ``sys.path``.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from support import debian_archive

SYSTEM_PYTHON = "/usr/bin/python3"
PACKAGE = "cloud-init"
# The Python modules the two packages depend on (22.4's Depends: adds python3-netifaces; python3-serial
# is left out, only a few datasources import it). Without python3-jsonschema cloud-init *silently skips*
# schema validation, so the driver imports jsonschema explicitly.
DEBIAN_DEPS = ("python3-yaml", "python3-jinja2", "python3-jsonschema", "python3-configobj",
               "python3-jsonpatch", "python3-requests", "python3-netifaces", "python3-oauthlib")
DEBIAN_MODULES = ("yaml", "jinja2", "jsonschema", "configobj", "jsonpatch", "requests", "netifaces", "oauthlib")
REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).resolve().with_name("cloudinit_driver.py")
CACHE = debian_archive.CACHE / "cloud-init"
DIST_PACKAGES = "usr/lib/python3/dist-packages"
Unavailable = debian_archive.Unavailable


@dataclass(frozen=True)
class Release:
    series: str  # upstream cloud-init series the suite ships; ensure() checks it
    suite: str
    debian: str

    @property
    def id(self) -> str:
        return f"cloud-init-{self.series}"


RELEASES = (Release("22.4", "bookworm", "Debian 12"), Release("25.1", "trixie", "Debian 13"))


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=False, capture_output=True, text=True, **kw)


def _ensure_python_deps() -> None:
    if _run([SYSTEM_PYTHON, "-I", "-c", f"import {', '.join(DEBIAN_MODULES)}"]).returncode == 0:
        return
    command = ["bash", str(REPO / "tools/ensure-packages.sh"), *DEBIAN_DEPS]
    # ensure-packages.sh runs plain `sudo`, which would wait for a password under pytest.
    if os.geteuid() != 0 and (not shutil.which("sudo") or _run(["sudo", "-n", "true"]).returncode != 0):
        raise Unavailable(f"cloud-init's Python dependencies are missing; run: {' '.join(command[1:])}")
    deps = _run(command, stdin=subprocess.DEVNULL)
    if deps.returncode != 0:
        raise Unavailable(f"tools/ensure-packages.sh {' '.join(DEBIAN_DEPS)} failed: {deps.stderr.strip()[-400:]}")


def ensure(release: Release) -> tuple[Path, str]:
    """(dist-packages dir of the unpacked cloud-init, its Debian version); raises Unavailable."""
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        raise Unavailable(f"{SYSTEM_PYTHON} (Debian's python3, cloud-init's interpreter) not found")
    root, version = debian_archive.unpacked(PACKAGE, release.suite, CACHE)
    _ensure_python_deps()
    return root / DIST_PACKAGES, version


def run(dist: Path, cases: dict[str, dict[str, str]], workdir: Path, system_cfg: str = "") -> dict:
    """Feeds {case: {user_data, network_config}} (and the image's cloud.cfg) to the driver; returns its JSON."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": str(workdir)}
    proc = _run([SYSTEM_PYTHON, "-I", "-B", str(DRIVER), str(dist), str(workdir)],
                input=json.dumps({"cases": cases, "system_cfg": system_cfg}), env=env, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"cloud-init driver exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout)

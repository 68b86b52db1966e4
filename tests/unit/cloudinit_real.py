"""cloud-init's own code as an honest stand-in for a guest's first boot (unit tier).

Two halves in one file:

* ``ensure()`` / ``run()`` run inside the test venv. ``ensure()`` fetches Debian's ``cloud-init`` package
  with ``apt-get download`` and unpacks it with ``dpkg-deb -x`` into
  ``~/.cache/openstack-lab/cloud-init/<version>/`` -- it is never installed, so no cloud-init systemd
  unit is ever enabled on this host -- and installs the package's Python dependencies as Debian
  packages through ``tools/ensure-packages.sh`` (starts no service). Warm, it does one ``apt-cache
  policy`` per ``apt-get update`` (memoised) and one import probe under Debian's python3.
* The ``__main__`` half is the driver: ``run()`` starts it with Debian's ``/usr/bin/python3 -I`` (the
  interpreter cloud-init is packaged for, isolated from the venv) with the unpacked tree first on
  ``sys.path``. It validates user-data with cloud-init's schema code (the library call with
  ``strict=True`` and the ``cloud-init schema --config-file`` handler) and renders network-config
  through cloud-init's sysconfig (RHEL flavour, the rhel distro's renderer config), NetworkManager
  and networkd renderers into a target root per renderer, then prints JSON: versions, schema
  problems, every rendered file (path, mode, text) and the warnings cloud-init logged.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"
PACKAGE = "cloud-init"
# The Python modules cloud-init's Debian package depends on (its Depends: minus python3-serial, which only
# a few datasources import). Without python3-jsonschema cloud-init *silently skips* schema validation, so
# the driver imports jsonschema explicitly.
DEBIAN_DEPS = ("python3-yaml", "python3-jinja2", "python3-jsonschema", "python3-configobj",
               "python3-jsonpatch", "python3-requests", "python3-netifaces", "python3-oauthlib")
DEBIAN_MODULES = ("yaml", "jinja2", "jsonschema", "configobj", "jsonpatch", "requests", "netifaces", "oauthlib")
REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "openstack-lab" / "cloud-init"
DIST_PACKAGES = "usr/lib/python3/dist-packages"


class Unavailable(Exception):
    """A prerequisite cannot be provided on this machine (the caller skips, or fails under CI)."""


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def _as_root(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return cmd
    if shutil.which("sudo"):
        return ["sudo", "-n", *cmd]
    raise Unavailable(f"{' '.join(cmd)} needs root or sudo")


def _lists_signature() -> str:
    """Changes whenever `apt-get update` rewrites the package lists."""
    lists = Path("/var/lib/apt/lists")
    stamps = [p.stat().st_mtime_ns for p in lists.glob("*_Packages*")] if lists.is_dir() else []
    return f"{len(stamps)}:{max(stamps, default=0)}"


def _candidate(fresh: bool = False) -> str | None:
    """apt's candidate version of cloud-init, remembered per state of the package lists (`apt-cache`
    takes seconds where Dir::Cache::pkgcache is disabled, as in Debian's container images)."""
    memo = CACHE / "candidate"
    signature = _lists_signature()
    try:
        remembered_signature, remembered = memo.read_text().split()
        if remembered_signature == signature and not fresh:
            return remembered
    except (OSError, ValueError):
        pass
    version = _policy_candidate()
    if version is not None:
        CACHE.mkdir(parents=True, exist_ok=True)
        memo.write_text(f"{signature} {version}\n")
    return version


def _policy_candidate() -> str | None:
    out = _run(["apt-cache", "policy", PACKAGE]).stdout
    for line in out.splitlines():
        key, _, value = line.strip().partition(":")
        if key == "Candidate":
            value = value.strip()
            return None if value in ("", "(none)") else value
    return None


def _unpack(version: str) -> Path:
    """<cache>/<version>/root holds the unpacked package; a stamp marks a complete unpack."""
    home = CACHE / version.replace(":", "%3a")
    root = home / "root"
    if (home / ".complete").exists():
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE, prefix=".download-") as tmp:
        got = _run(["apt-get", "download", f"{PACKAGE}={version}"], cwd=tmp)
        debs = sorted(Path(tmp).glob(f"{PACKAGE}_*.deb"))
        if got.returncode != 0 or not debs:
            raise Unavailable(f"apt-get download {PACKAGE}={version} failed: {got.stderr.strip()[-400:]}")
        staged = Path(tmp) / "stage"
        staged.mkdir()
        unpacked = _run(["dpkg-deb", "-x", str(debs[0]), str(staged / "root")])
        if unpacked.returncode != 0:
            raise Unavailable(f"dpkg-deb -x {debs[0].name} failed: {unpacked.stderr.strip()}")
        shutil.copy2(debs[0], staged / debs[0].name)
        (staged / ".complete").write_text(version + "\n")
        try:
            staged.rename(home)
        except OSError:  # a concurrent run finished first; its copy is as good as ours
            if not (home / ".complete").exists():
                raise
    return root


def ensure() -> tuple[Path, str]:
    """(dist-packages dir of the unpacked cloud-init, its Debian version); raises Unavailable."""
    for tool in ("apt-get", "apt-cache", "dpkg-deb", "dpkg-query"):
        if not shutil.which(tool):
            raise Unavailable(f"{tool} not found: cloud-init's code is fetched as a Debian package")
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        raise Unavailable(f"{SYSTEM_PYTHON} (Debian's python3, cloud-init's interpreter) not found")
    version, root = None, None
    for attempt in range(2):
        # Second round after `apt-get update`: a fresh machine has empty package lists, and stale
        # lists name a version the mirror no longer serves after a point release.
        if attempt:
            _run(_as_root(["apt-get", "-o", "DPkg::Lock::Timeout=900", "-q", "update"]))
        version = _candidate(fresh=bool(attempt))
        if version is None:
            continue
        try:
            root = _unpack(version)
            break
        except OSError as e:
            raise Unavailable(f"cannot unpack {PACKAGE} under {CACHE}: {e}") from e
        except Unavailable:
            if attempt:
                raise
    if root is None:
        raise Unavailable(f"apt knows no candidate for {PACKAGE} (apt-get update failed or no such package)")
    if _run([SYSTEM_PYTHON, "-I", "-c", f"import {', '.join(DEBIAN_MODULES)}"]).returncode != 0:
        command = ["bash", str(REPO / "tools/ensure-packages.sh"), *DEBIAN_DEPS]
        # ensure-packages.sh runs plain `sudo`, which would wait for a password under pytest.
        if os.geteuid() != 0 and (not shutil.which("sudo") or _run(["sudo", "-n", "true"]).returncode != 0):
            raise Unavailable(f"cloud-init's Python dependencies are missing; run: {' '.join(command[1:])}")
        deps = _run(command)
        if deps.returncode != 0:
            raise Unavailable(f"tools/ensure-packages.sh {' '.join(DEBIAN_DEPS)} failed: {deps.stderr.strip()[-400:]}")
    return root / DIST_PACKAGES, version


def run(dist: Path, cases: dict[str, dict[str, str]], workdir: Path) -> dict:
    """Feeds {case: {user_data, network_config}} to the driver under Debian's python; returns its JSON."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": str(workdir)}
    proc = _run([SYSTEM_PYTHON, "-I", "-B", str(Path(__file__).resolve()), str(dist), str(workdir)],
                input=json.dumps(cases), env=env, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"cloud-init driver exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout)


# ---------------------------------------------------------------------------------------------------
# Driver: runs under Debian's /usr/bin/python3 with the unpacked cloud-init first on sys.path.


def _files(root: Path) -> dict[str, dict]:
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            found[str(path.relative_to(root))] = {"mode": oct(path.stat().st_mode & 0o7777),
                                                  "text": path.read_text()}
    return found


def _drive(dist: str, workdir: str) -> dict:
    sys.path.insert(0, dist)
    import contextlib
    import io
    import logging
    from importlib import metadata

    import jsonschema  # noqa: F401  (cloud-init skips schema validation without it)
    import yaml
    from cloudinit import safeyaml
    from cloudinit import version as ci_version
    from cloudinit.config import schema as ci_schema
    from cloudinit.distros import rhel
    from cloudinit.net import network_manager, network_state, networkd, sysconfig

    if not ci_schema.__file__.startswith(dist):
        raise SystemExit(f"cloudinit imported from {ci_schema.__file__}, not from {dist}")

    warnings: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            warnings.append(f"{record.name}: {record.getMessage()}")

    logging.getLogger().addHandler(Collect(level=logging.WARNING))
    logging.getLogger().setLevel(logging.WARNING)

    renderers = {  # what a distro does: renderer_cls(config=distro.renderer_configs.get(name))
        "sysconfig": (sysconfig.Renderer, rhel.Distro.renderer_configs.get("sysconfig")),
        "network-manager": (network_manager.Renderer, rhel.Distro.renderer_configs.get("network-manager")),
        "networkd": (networkd.Renderer, rhel.Distro.renderer_configs.get("networkd")),
    }
    result = {"cloud_init": ci_version.version_string(), "cloud_init_path": ci_schema.__file__,
              "jsonschema": metadata.version("jsonschema"), "python": sys.version.split()[0], "cases": {}}
    cases = json.load(sys.stdin)
    for name, case in cases.items():
        out: dict = {}
        base = Path(workdir) / name
        base.mkdir(parents=True, exist_ok=True)
        del warnings[:]

        # user-data: the library call (strict: deprecations raise too) ...
        path = base / "user-data"
        path.write_text(case["user_data"])
        content = path.read_bytes()
        out["header_ok"] = content.startswith(ci_schema.CLOUD_CONFIG_HEADER)
        errors, deprecations = [], []
        try:
            ci_schema.validate_cloudconfig_schema(safeyaml.load(content), ci_schema.get_schema(),
                                                  strict=True, log_details=False)
        except ci_schema.SchemaValidationError as e:
            errors = [list(p) for p in e.schema_errors]
            deprecations = [list(p) for p in (getattr(e, "schema_deprecations", None) or [])]
        out["schema_errors"], out["schema_deprecations"] = errors, deprecations
        # ... and what `cloud-init schema --config-file user-data` runs.
        stdout, stderr = io.StringIO(), io.StringIO()
        code = 0
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                args = ci_schema.get_parser().parse_args(["--config-file", str(path)])
                ci_schema.handle_schema_args("cloud-init schema", args)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
        out["cli"] = {"rc": code, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()}
        out["schema_warnings"] = list(warnings)
        del warnings[:]

        # network-config: the distro's path, parse_net_config_data(cfg, renderer=r) then render.
        net = yaml.safe_load(case["network_config"])
        out["renderers"] = {}
        for rname, (cls, config) in renderers.items():
            renderer = cls(config=config)
            state = network_state.parse_net_config_data(net, skip_broken=False, renderer=renderer)
            target = base / rname
            target.mkdir()
            renderer.render_network_state(state, target=str(target))
            out["renderers"][rname] = {"files": _files(target), "warnings": list(warnings)}
            del warnings[:]
        result["cases"][name] = out
    return result


if __name__ == "__main__":
    json.dump(_drive(sys.argv[1], sys.argv[2]), sys.stdout)

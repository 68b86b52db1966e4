"""The cloud-init side of tests/unit/cloudinit_real.py: runs under Debian's ``/usr/bin/python3 -I`` with
one unpacked cloud-init release first on ``sys.path`` (22.4 and 25.1 alike; where their APIs differ the
driver asks which one it has), reads ``{"cases": {name: {user_data, network_config}}, "system_cfg": ...}``
on stdin and prints JSON. Per case, each step's failure is recorded, not raised, so one broken document
does not hide the verdicts on the others:

* ``user_data``: cloud-init's part type for the text; the library validation with ``strict=True``
  (errors and deprecations, structured); the call the boot makes (25.1 cmd/main.py:625 and 22.4
  cmd/main.py:480: ``strict=False, log_details=False, log_deprecations=True``) with every log record it
  writes; and the ``cloud-init schema --config-file`` handler.
* ``network_config``: where the release has a network-config schema (23.x+), the same three for it: strict,
  the boot's call (25.1 stages.py:1097, ``schema_type=NETWORK_CONFIG``) and ``cloud-init schema -t
  network-config``; 22.4 reports none. netplan is made unavailable first, as on EL9: with netplan
  present cloud-init validates through netplan's parser or not at all (schema.py:705-714).
* ``renderers``: sysconfig (the rhel distro's renderer config), NetworkManager and networkd, each into a
  target root, the way a distro renders (parse_net_config_data with the renderer, render_network_state).
* ``credentials``: with ``system_cfg`` (the image's /etc/cloud/cloud.cfg), cloud-init's config merge of
  it with the user-data (helpers.ConfigMerger, as Init reads its config), the distro it names, the
  users_groups module's handle() against a distro that records create_user/create_group instead of
  running useradd, and the ssh module's apply_credentials() with setup_user_keys recorded, fed the way
  cc_ssh.handle feeds it (25.1 config/cc_ssh.py:229-253; the module itself also deletes and writes host
  keys under /etc/ssh, so it is not run here).
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
import traceback
from pathlib import Path


class Records(logging.Handler):
    """Every record cloud-init logs at INFO or above (deprecations below the distro's boundary are INFO)."""

    def __init__(self):
        super().__init__(level=logging.INFO)
        self.records: list[dict] = []

    def emit(self, record):
        self.records.append({"level": record.levelname, "levelno": record.levelno,
                             "logger": record.name, "message": record.getMessage()})

    def take(self) -> list[dict]:
        taken, self.records = self.records, []
        return taken


def _files(root: Path) -> dict[str, dict]:
    return {str(p.relative_to(root)): {"mode": oct(p.stat().st_mode & 0o7777), "text": p.read_text()}
            for p in sorted(root.rglob("*")) if p.is_file()}


def _step(out: dict, key: str, records: Records, fn, *args) -> None:
    """out[key] = fn(*args)'s dict plus the records logged meanwhile; an exception becomes out[key]['error']."""
    records.take()
    try:
        result = fn(*args)
    except Exception:  # any failure: recorded for the test to report
        result = {"error": traceback.format_exc(limit=6)}
    result["records"] = records.take()
    out[key] = result


def _strict(ci_schema, config, **kw) -> dict:
    try:
        ci_schema.validate_cloudconfig_schema(config, strict=True, log_details=False, **kw)
    except ci_schema.SchemaValidationError as e:
        return {"errors": [list(p) for p in e.schema_errors],
                "deprecations": [list(p) for p in (getattr(e, "schema_deprecations", None) or [])]}
    return {"errors": [], "deprecations": []}


def _cli(ci_schema, argv: list[str]) -> dict:
    stdout, stderr, code = io.StringIO(), io.StringIO(), 0
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            ci_schema.handle_schema_args("cloud-init schema", ci_schema.get_parser().parse_args(argv))
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
    return {"rc": code, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()}


def _without_netplan() -> None:
    from cloudinit.config import schema as ci_schema
    from cloudinit.net import netplan
    if hasattr(ci_schema, "LIBNETPLAN_AVAILABLE"):
        ci_schema.LIBNETPLAN_AVAILABLE = False
    netplan.available = lambda target=None: False


def _user_data(text: str, path: Path) -> dict:
    import yaml
    from cloudinit import handlers
    from cloudinit.config import schema as ci_schema
    return {
        "part_type": handlers.type_from_starts_with(text.encode()),
        "strict": _strict(ci_schema, yaml.safe_load(text)),
        "cli": _cli(ci_schema, ["--config-file", str(path)]),
    }


def _boot_validation(text: str, network: bool) -> dict:
    """The boot's own call, alone, so the step's records are exactly what it logged."""
    import yaml
    from cloudinit.config import schema as ci_schema
    kw = {"schema_type": ci_schema.SchemaType.NETWORK_CONFIG} if network else {}
    done = ci_schema.validate_cloudconfig_schema(config=yaml.safe_load(text), strict=False, log_details=False,
                                                 log_deprecations=True, **kw)
    return {"validated": done is not False}  # False: skipped (no jsonschema, or netplan's job)


def _network_schema(text: str, path: Path) -> dict:
    import yaml
    from cloudinit.config import schema as ci_schema
    network_type = getattr(getattr(ci_schema, "SchemaType", None), "NETWORK_CONFIG", None)
    if network_type is None:
        return {"supported": False}
    return {
        "supported": True,
        "strict": _strict(ci_schema, yaml.safe_load(text), schema_type=network_type),
        "cli": _cli(ci_schema, ["--config-file", str(path), "--schema-type", "network-config"]),
    }


def _render(text: str, name: str, target: Path) -> dict:
    import yaml
    from cloudinit.distros import rhel
    from cloudinit.net import network_manager, network_state, networkd, sysconfig
    classes = {"sysconfig": sysconfig.Renderer, "network-manager": network_manager.Renderer,
               "networkd": networkd.Renderer}
    renderer = classes[name](config=rhel.Distro.renderer_configs.get(name))
    state = network_state.parse_net_config_data(yaml.safe_load(text), skip_broken=False, renderer=renderer)
    target.mkdir(parents=True)
    renderer.render_network_state(state, target=str(target))
    return {"files": _files(target)}


def _credentials(user_data: str, system_cfg: str, base: Path) -> dict:
    import yaml
    from cloudinit import distros, helpers, ssh_util
    from cloudinit.config import cc_ssh, cc_users_groups
    from cloudinit.distros import ug_util

    paths = helpers.Paths({"cloud_dir": str(base / "var-lib-cloud"), "run_dir": str(base / "run-cloud-init")})
    instance = Path(paths.get_ipath_cur("cloud_config")).parent
    instance.mkdir(parents=True)
    (instance / "cloud-config.txt").write_text(user_data)  # what the cloud-config part handler leaves
    cfg = helpers.ConfigMerger(paths=paths, base_cfg=yaml.safe_load(system_cfg), include_vendor=False).cfg
    system_info = dict(cfg.get("system_info") or {})
    distro_name = system_info.pop("distro", "ubuntu")
    made: dict = {"users": {}, "groups": {}}

    class RecordingDistro(distros.fetch(distro_name)):
        def create_user(self, name, **kwargs):
            made["users"][name] = kwargs

        def create_group(self, name, members=None):
            made["groups"][name] = list(members or [])

    distro = RecordingDistro(distro_name, system_info, paths)

    class Cloud:  # the two things users_groups asks of a cloud; the NoCloud meta-data carries no keys
        def __init__(self):
            self.distro = distro

        def get_public_ssh_keys(self):
            return []

    import inspect
    # 22.4's module handlers still take a logger: handle(name, cfg, cloud, log, args).
    legacy = "log" in inspect.signature(cc_users_groups.handle).parameters
    cc_users_groups.handle("users_groups", cfg, Cloud(), *([logging.getLogger("users_groups")] if legacy else []), [])
    users, _groups = ug_util.normalize_users_groups(cfg, distro)
    default_user, _config = ug_util.extract_default(users)
    authorized: list[dict] = []
    real_setup = ssh_util.setup_user_keys
    ssh_util.setup_user_keys = lambda keys, username, options=None: authorized.append(
        {"user": username, "keys": sorted(keys), "options": options or ""})
    try:
        keys = list(Cloud().get_public_ssh_keys()) + list(cfg.get("ssh_authorized_keys") or [])
        disable_root = bool(cfg.get("disable_root", True))
        cc_ssh.apply_credentials(keys, default_user, disable_root,
                                 cfg.get("disable_root_opts", ssh_util.DISABLE_USER_OPTS))
    finally:
        ssh_util.setup_user_keys = real_setup
    return {"distro": distro_name, "default_user": default_user, "created": made, "authorized": authorized,
            "merged": {k: cfg.get(k) for k in ("users", "disable_root", "ssh_pwauth", "ssh_authorized_keys")}}


def drive(dist: str, workdir: str, job: dict) -> dict:
    sys.path.insert(0, dist)
    from importlib import metadata

    import jsonschema  # noqa: F401  (cloud-init skips schema validation silently without it)
    from cloudinit import version as ci_version
    from cloudinit.config import schema as ci_schema

    if not ci_schema.__file__.startswith(dist):
        raise SystemExit(f"cloudinit imported from {ci_schema.__file__}, not from {dist}")
    with contextlib.suppress(ImportError):  # 24.x+: DEPRECATED level and Logger.deprecated, as main() sets up
        from cloudinit.log import loggers
        loggers.define_extra_loggers()
    records = Records()
    logging.getLogger().addHandler(records)
    logging.getLogger().setLevel(logging.INFO)
    _without_netplan()

    result = {"cloud_init": ci_version.version_string(), "cloud_init_path": ci_schema.__file__,
              "jsonschema": metadata.version("jsonschema"), "python": sys.version.split()[0], "cases": {}}
    for name, case in job["cases"].items():
        base = Path(workdir) / name
        base.mkdir(parents=True)
        (base / "user-data").write_text(case["user_data"])
        (base / "network-config").write_text(case["network_config"])
        out: dict = {"renderers": {}}
        _step(out, "user_data", records, _user_data, case["user_data"], base / "user-data")
        _step(out, "user_data_boot", records, _boot_validation, case["user_data"], False)
        _step(out, "network_schema", records, _network_schema, case["network_config"], base / "network-config")
        if out["network_schema"].get("supported"):
            _step(out, "network_boot", records, _boot_validation, case["network_config"], True)
        for renderer in ("sysconfig", "network-manager", "networkd"):
            _step(out["renderers"], renderer, records, _render, case["network_config"], renderer, base / renderer)
        if job.get("system_cfg"):
            _step(out, "credentials", records, _credentials, case["user_data"], job["system_cfg"], base)
        result["cases"][name] = out
    return result


if __name__ == "__main__":
    json.dump(drive(sys.argv[1], sys.argv[2], json.load(sys.stdin)), sys.stdout)

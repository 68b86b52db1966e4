"""Where the raw config comes from when the program runs: the stack's config through Pulumi, and the
test overlay from the file OPENSTACK_LAB_TEST_OVERLAY names (never set by users)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import yaml

from lab.config.model import LabConfig
from lab.config.profiles import OVERLAY_ENV
from lab.config.reader import ConfigError, ConfigProblem


def read_overlay(environ: Mapping[str, str] = os.environ, project: str = "openstack-lab") -> dict[str, Any]:
    """The test overlay ({} without one), its profiles' script paths made absolute."""
    path = environ.get(OVERLAY_ENV)
    if not path:
        return {}
    try:
        overlay = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as err:
        problem = ConfigProblem(OVERLAY_ENV, f"cannot read the test overlay {path}: {err}")
        raise ConfigError(project, [problem]) from None
    if not isinstance(overlay, dict):
        raise ConfigError(project, [ConfigProblem(OVERLAY_ENV, f"{path} is not a YAML mapping")])
    base = Path(path).resolve().parent
    for spec in (overlay.get("prepProfiles") or {}).values():
        if isinstance(spec, dict) and spec.get("script"):
            spec["script"] = str(base / spec["script"])
    return overlay


def load() -> LabConfig:
    """Read and validate the current stack's config through the Pulumi runtime."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    from lab.config.parsing import parse

    project, stack = pulumi.get_project(), pulumi.get_stack()
    prefix = f"{project}:"
    # pulumi.Config reads a value, but can neither list the keys a stack sets (the unknown-key check
    # needs them) nor tell whether a value is stored encrypted (get_secret wraps any value as secret),
    # so those two come from the runtime's config map and secret-key list.
    given = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    env_secrets = set(runtime_config.get_config_secret_keys_env())
    names = [k[len(prefix):] for k in given if k.startswith(prefix)]
    config = pulumi.Config(project)
    raw = {name: config.get(name) for name in names}
    secret_keys = frozenset(
        name for name in names if runtime_config.is_config_secret(prefix + name) or prefix + name in env_secrets
    )
    return parse(raw, project, stack, secret_keys, overlay=read_overlay(project=project))

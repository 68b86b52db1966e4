"""Pulumi.yaml's config schema and the example stack agree with the config model."""
import json

import yaml

from labtest import ROOT
from lab.config import KEYS, parse


def project():
    return yaml.safe_load((ROOT / "Pulumi.yaml").read_text())


def test_schema_declares_exactly_the_keys_the_model_reads():
    assert set(project()["config"]) == set(KEYS)


def test_schema_tells_to_set_secret_keys_with_secret():
    schema = project()["config"]
    for key in (key for key, kind in KEYS.items() if kind == "secret"):
        assert "--secret" in schema[key]["description"], key


def test_every_key_has_a_default_so_none_is_required():
    assert all("default" in spec for spec in project()["config"].values())


def test_schema_defaults_equal_the_model_defaults():
    schema = project()["config"]
    defaults = {key: spec["default"] for key, spec in schema.items() if "default" in spec}
    # Pulumi hands every value over as a string, objects and arrays as JSON.
    as_pulumi_sends = {k: v if isinstance(v, str) else json.dumps(v) for k, v in defaults.items()}
    cfg_from_schema = parse(as_pulumi_sends, "openstack-lab", "alice", path_exists=lambda p: True)
    cfg_default = parse({}, "openstack-lab", "alice", path_exists=lambda p: True)
    assert cfg_from_schema == cfg_default


def test_project_uses_the_checkout_venv():
    runtime = project()["runtime"]
    assert runtime["name"] == "python" and runtime["options"]["virtualenv"] == ".venv"


def test_example_dev_stack_is_valid():
    values = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    raw = {k.split(":", 1)[1]: v for k, v in values.items()}
    cfg = parse(raw, "openstack-lab", "dev", path_exists=lambda p: True)
    assert cfg.compute_count == 2 and cfg.packstack_answers["CONFIG_HEAT_INSTALL"] == "y"

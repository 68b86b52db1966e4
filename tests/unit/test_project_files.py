"""Pulumi.yaml's config schema and the example stack agree with the config model."""
import yaml

from conftest import ROOT
from lab.config import KEYS, parse


def project():
    return yaml.safe_load((ROOT / "Pulumi.yaml").read_text())


def test_schema_declares_exactly_the_keys_the_model_reads():
    assert set(project()["config"]) == set(KEYS)


def test_schema_marks_the_secret_keys_secret():
    schema = project()["config"]
    secret = {key for key, kind in KEYS.items() if kind == "secret"}
    assert secret == {key for key, spec in schema.items() if spec.get("secret")}


def test_schema_defaults_equal_the_model_defaults():
    schema = project()["config"]
    defaults = {key: spec["default"] for key, spec in schema.items() if "default" in spec}
    cfg_from_schema = parse({k: v if isinstance(v, str) else yaml.safe_dump(v) if isinstance(v, dict) else str(v).lower()
                             if isinstance(v, bool) else str(v) for k, v in defaults.items()},
                            "openstack-lab", "alice", path_exists=lambda p: True)
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

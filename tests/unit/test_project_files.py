"""Pulumi.yaml's config schema, the README's configuration table and the example stack agree with
the config schema (lab/config/schema.py) and model."""
import json
import re

import yaml

from harness import BASE, lab_config, run_lab
from labtest import ROOT
from support import makefile_value
from lab.config import SCHEMA
from lab.config.schema import pulumi_config_block


def project():
    return yaml.safe_load((ROOT / "Pulumi.yaml").read_text())


def readme_config_table():
    """key -> (default cell, marked secret) of the README's configuration table; a row may name several keys."""
    section = (ROOT / "README.md").read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        keys_cell, default_cell = [cell.strip() for cell in line.strip("|").split(" | ")[:2]]
        for name, secret in re.findall(r"`([A-Za-z][A-Za-z0-9]*)`( \(secret\))?", keys_cell):
            rows[name] = (default_cell, bool(secret))
    return rows


def test_pulumi_yaml_config_block_is_generated_from_the_schema():
    text = (ROOT / "Pulumi.yaml").read_text()
    assert text.endswith(pulumi_config_block()), "run `.venv/bin/python -m lab.config` to regenerate Pulumi.yaml"
    assert project()["config"] == {name: key.pulumi_spec() for name, key in SCHEMA.items()}


def test_readme_table_lists_exactly_the_schema_keys_with_their_defaults():
    table = readme_config_table()
    assert set(table) == set(SCHEMA), "README's configuration table and lab/config/schema.py disagree"
    for name, (default, secret) in table.items():
        assert default == SCHEMA[name].readme_default, name
        assert secret == SCHEMA[name].secret, f"{name}: README marks it (secret) iff the schema does"


def test_test_hooks_are_not_on_the_user_surface():
    readme = (ROOT / "README.md").read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    assert "prepProfile" not in project()["config"] and "prepProfile" not in SCHEMA
    assert "debian-test" not in readme and "prepProfile" not in readme


def test_schema_tells_to_set_secret_keys_with_secret():
    schema = project()["config"]
    for key in (key for key in SCHEMA.values() if key.secret):
        assert "--secret" in schema[key.name]["description"], key.name


def test_every_key_has_a_default_so_none_is_required():
    assert all("default" in spec for spec in project()["config"].values())


def test_schema_defaults_equal_the_model_defaults():
    schema = project()["config"]
    defaults = {key: spec["default"] for key, spec in schema.items() if "default" in spec}
    # Pulumi hands every value over as a string, objects and arrays as JSON.
    as_pulumi_sends = {k: v if isinstance(v, str) else json.dumps(v) for k, v in defaults.items()}
    cfg_from_schema = lab_config(as_pulumi_sends)
    cfg_default = lab_config({})
    assert cfg_from_schema == cfg_default


def test_every_key_names_an_existing_rule_module():
    for key in SCHEMA.values():
        assert (ROOT / "lab" / "config" / f"{key.rule}.py").exists(), key.name
        source = (ROOT / "lab" / "config" / f"{key.rule}.py").read_text()
        assert f'"{key.name}"' in source, f"{key.name} is not read in lab/config/{key.rule}.py"


def test_project_uses_the_checkout_venv():
    runtime = project()["runtime"]
    assert runtime["name"] == "python" and runtime["options"]["virtualenv"] == ".venv"


def test_example_dev_stack_is_valid():
    values = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    raw = {k.split(":", 1)[1]: v for k, v in values.items()}
    cfg = lab_config(raw, "dev")
    assert cfg.compute_count == 2 and cfg.packstack_answers["CONFIG_HEAT_INSTALL"] == "y"


def test_readme_layout_names_every_module():
    """The README's Layout section names each Python module of the program by its stem (or file name)."""
    section = (ROOT / "README.md").read_text().split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", section))
    modules = [path for folder in ("lab", "lab/config", "lab/preflight", "lab/preflight/probes", "lab/preflight/rules",
                                   "components", "providers", "tools", "tools/recovery", "tools/verify",
                                   "tools/verify/checks", "tests/support")
               for path in sorted((ROOT / folder).glob("*.py")) if not path.name.startswith("__")]
    assert len(modules) > 30, "found too few modules: is ROOT right?"
    missing = [str(p.relative_to(ROOT)) for p in modules if p.stem not in words and p.name not in words]
    assert not missing, f"README's Layout section does not name: {', '.join(missing)}"


def _pulumi_glob(pattern: str) -> re.Pattern:
    """A URN pattern as the Pulumi CLI reads `--exclude`/`--target` (pkg/resource/deploy/deployment.go getMatcher,
    v3.274.1): `**` any text, `*` any text without a colon."""
    parts = ("[^:]*".join(re.escape(p) for p in seg.split("*")) for seg in pattern.split("**"))
    return re.compile("^" + ".*".join(parts) + "$")


def test_make_destroy_refreshes_every_resource_but_the_cloud_init_disks():
    """The Makefile's exclusion, against the URNs of a real declaration (under mocks)."""
    matcher = _pulumi_glob(makefile_value("DESTROY_REFRESH_EXCLUDE"))
    urns = [r.urn for r in run_lab(dict(BASE)).resources if r.urn]
    skipped = [u for u in urns if matcher.match(u)]
    assert skipped and all(u.split("::")[-2].endswith("libvirt:index/cloudInitDisk:CloudInitDisk") for u in skipped)
    assert len(skipped) == 3  # one per node
    recipe = (ROOT / "Makefile").read_text().split("\ndestroy:", 1)[1].split("\n\n", 1)[0]
    assert "refresh --yes --skip-preview --parallel 1 --exclude '$(DESTROY_REFRESH_EXCLUDE)'" in recipe
    assert "destroy --yes --parallel 1" in recipe and "--refresh" not in recipe

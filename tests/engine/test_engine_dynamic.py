"""Engine tier, part 1: the toolchain itself on a tiny stack of its own (no resource plugins needed).

`pulumi up` creates dynamic-provider resources for real (a file written by our own provider, and the lab's
SshKeyPair provider), `preview --expect-no-changes` is clean, a config change updates in place, program errors
are reported the way upstream's Python host reports them, and `destroy` removes everything.
"""
from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from support.program import tiny_program
from support.pulumi import CLI_VERSION, LANGUAGE_HOST, PLUGINS, PULUMI, PULUMI_HOME, Workspace, require_toolchain

PROGRAM = textwrap.dedent('''\
    import os
    import pulumi
    from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

    from providers.ssh_keypair import SshKeyPair


    class FileProvider(ResourceProvider):
        def create(self, props):
            with open(props["path"], "w") as f:
                f.write(props["content"])
            return CreateResult(id_=props["path"], outs={**props, "size": len(props["content"])})

        def diff(self, id_, olds, news):
            changes = [k for k in ("path", "content") if olds.get(k) != news.get(k)]
            return DiffResult(changes=bool(changes), replaces=["path"] if "path" in changes else [])

        def update(self, id_, olds, news):
            with open(news["path"], "w") as f:
                f.write(news["content"])
            return UpdateResult(outs={**news, "size": len(news["content"])})

        def delete(self, id_, props):
            os.remove(props["path"])


    class File(Resource):
        size: pulumi.Output[int]

        def __init__(self, name, path, content, opts=None):
            super().__init__(FileProvider(), name, {"path": path, "content": content, "size": None}, opts)


    cfg = pulumi.Config()
    if cfg.get_bool("fail"):
        raise ValueError("requested failure")
    token = cfg.require_secret("token")
    f = File("marker", cfg.require("path"), cfg.get("content") or "hello")
    key = SshKeyPair("key", comment="engine-tier")
    print("stack", pulumi.get_stack(), "project", pulumi.get_project(), "dry_run", pulumi.runtime.is_dry_run())
    pulumi.export("size", f.size)
    pulumi.export("publicKey", key.public_key)
    pulumi.export("tokenLength", token.apply(len))
    pulumi.export("secretToken", token)
    ''')


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    require_toolchain(plugins=False)
    base = tmp_path_factory.mktemp("engine-dynamic")
    proj = tiny_program(base / "proj", "engine-tiny", PROGRAM, ("providers",))
    stack = Workspace(proj, base / "state").create_stack("tiny")
    marker = base / "marker.txt"
    stack.set_config({"engine-tiny:path": str(marker)})
    stack.set_secret("engine-tiny:token", "not-a-real-secret-1234")
    yield stack, marker
    # Best effort cleanup if a test failed half way.
    stack.destroy(check=False)


def test_cli_and_language_host_versions():
    require_toolchain(plugins=False)
    version = subprocess.run([str(PULUMI), "version"], capture_output=True, text=True, timeout=60)
    assert version.stdout.strip() == f"v{CLI_VERSION}"
    # The engine must find our language host and dynamic-provider launcher next to the CLI.
    real_bin = Path(os.path.realpath(PULUMI)).parent
    for name in LANGUAGE_HOST:
        assert (real_bin / name).exists(), name
    assert PULUMI_HOME.is_dir()


def test_up_creates_dynamic_resources_for_real(tiny):
    stack, marker = tiny
    up = stack.up()
    assert marker.read_text() == "hello"
    out = stack.outputs(show_secrets=True)
    assert out["size"] == 5
    assert out["publicKey"].startswith("ssh-ed25519 ") and out["publicKey"].endswith(" engine-tier")
    assert out["tokenLength"] == len("not-a-real-secret-1234")
    # The program's print() reaches the engine; the secret value never appears in its output.
    assert "stack tiny project engine-tiny dry_run False" in up.stdout
    assert "not-a-real-secret-1234" not in up.stdout + up.stderr
    plain = stack.outputs()
    assert plain["secretToken"] == "[secret]"


def test_preview_expect_no_changes(tiny):
    stack, _ = tiny
    proc = stack.preview("--expect-no-changes")
    assert "dry_run True" in proc.stdout


def test_required_plugins_reported_by_language_host(tiny):
    stack, _ = tiny
    about = json.loads(stack.cli("about", "--json").stdout)
    plugins = {(p["name"], p["kind"]): p.get("version") for p in about.get("plugins") or []}
    assert plugins.get(("python", "language")) == CLI_VERSION
    for name, version in PLUGINS.items():
        assert plugins.get((name, "resource")) == version, plugins
    deps = {d["name"]: d["version"] for d in about.get("dependencies") or []}
    assert deps.get("pulumi-libvirt") == PLUGINS["libvirt"], deps


def test_config_change_updates_in_place(tiny):
    stack, marker = tiny
    stack.set_config({"engine-tiny:content": "hello again"})
    preview = stack.preview_json()
    ops = {(s["op"], s["urn"].split("::")[-1]) for s in preview["steps"]}
    assert ("update", "marker") in ops
    assert not [op for op, name in ops if name == "key" and op != "same"], ops
    stack.up()
    assert marker.read_text() == "hello again"
    assert stack.outputs()["size"] == len("hello again")


def test_program_error_is_reported(tiny):
    stack, _ = tiny
    with stack.config_changed({"engine-tiny:fail": "true"}):
        proc = stack.preview(check=False)
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    assert "Program failed with an unhandled exception" in text
    assert "ValueError: requested failure" in text


def test_destroy_removes_everything(tiny):
    stack, marker = tiny
    stack.destroy()
    assert not marker.exists()
    export = stack.export()
    assert not export["deployment"].get("resources")

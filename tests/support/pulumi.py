"""The checkout's Pulumi CLI (.tools/bin/pulumi) for every tier, through pulumi.automation.

`Workspace` is a `LocalWorkspace` on a program dir whose `PulumiCommand` (`LabCommand`) runs the checkout's CLI
with an environment that keeps none of the caller's PULUMI_* (nor OS_*) variables, a local file backend and a
passphrase file (mode 600) in the test's temp dir, optionally under `ip netns exec NETNS`, with stdin and a
timeout. Stacks are created and removed by the automation API; what a tier needs verbatim from the CLI
(`preview --json`, `up --json` engine events, `--expect-no-changes`, secrets on stdin) goes through
`Stack.cli()`, the same command. (Not `auto.Stack.up/preview` themselves: preview streams engine events to a
gRPC server on the host's 127.0.0.1, which a CLI inside a network namespace cannot reach, and up reads the
outputs back with --show-secrets.)
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator, Mapping, Optional

import pytest
import yaml

from support import ROOT, require, tail
from support.program import VENV
from support.secret_scan import shown_stdout

try:
    from pulumi import automation as auto
    from pulumi.automation.errors import create_command_error
except ImportError as err:  # pytest run by an interpreter without the SDK: toolchain_problem() says so
    auto = None  # type: ignore[assignment]
    SDK_IMPORT_ERROR: Optional[str] = str(err)
else:
    SDK_IMPORT_ERROR = None

TOOLS = ROOT / ".tools"
PULUMI = TOOLS / "bin" / "pulumi"
PULUMI_HOME = TOOLS / "pulumi-home"
CLI_VERSION = "3.274.1"
LANGUAGE_HOST = ("pulumi-language-python", "pulumi-language-python-exec", "pulumi-resource-pulumi-python")
# Resource plugins the program needs (versions of pulumi-plugin.json in the pinned SDKs).
PLUGINS = {"command": "1.2.1", "libvirt": "0.5.4", "openstack": "5.5.3"}
PROJECT = "openstack-lab"
BASE_ENV = {
    "PULUMI_HOME": str(PULUMI_HOME),
    "PULUMI_SKIP_UPDATE_CHECK": "true",
    "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
    "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    "PULUMI_SKIP_CONFIRMATIONS": "true",
    "NO_COLOR": "1",
}
Logger = Callable[[list, subprocess.CompletedProcess], None]


def toolchain_problem() -> Optional[str]:
    if SDK_IMPORT_ERROR:
        return f"pulumi SDK not importable ({SDK_IMPORT_ERROR}): run pytest with .venv/bin/python"
    for name in ("pulumi", *LANGUAGE_HOST):
        if not os.access(TOOLS / "bin" / name, os.X_OK):
            return f".tools/bin/{name} missing: run toolchain/setup.sh"
    return None


def plugins_problem() -> Optional[str]:
    for name, version in PLUGINS.items():
        binary = PULUMI_HOME / "plugins" / f"resource-{name}-v{version}" / f"pulumi-resource-{name}"
        if not os.access(binary, os.X_OK):
            return f"resource plugin {name} v{version} not installed in .tools/pulumi-home: run toolchain/setup.sh"
    return None


@lru_cache(maxsize=1)
def venv_problem() -> Optional[str]:
    python = VENV / "bin" / "python"
    if not os.access(python, os.X_OK):
        return f"{python} missing: run `make venv`"
    probe = subprocess.run([str(python), "-c", "import pulumi, pulumi_libvirt, pulumi_command, pulumi_openstack, yaml"],
                           capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        return f"{VENV} lacks the program's packages: {probe.stderr.strip().splitlines()[-1:]}"
    return None


def require_toolchain(plugins: bool = True) -> None:
    """The CLI, language host and program venv (and the resource plugins) are there, or skip/fail."""
    for problem in (toolchain_problem(), plugins_problem() if plugins else None, venv_problem()):
        require(problem is None, problem or "")


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment without PULUMI_*, OS_* and VIRTUAL_ENV, the toolchain first on PATH, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PULUMI_", "OS_")) and k != "VIRTUAL_ENV"}
    env["PATH"] = f"{TOOLS / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
    env.update(BASE_ENV)
    env.update(extra)
    return env


class LabCommand(auto.PulumiCommand if auto else object):  # type: ignore[misc]
    """The PulumiCommand of every workspace: .tools/bin/pulumi, a clean environment, optionally in a netns."""

    def __init__(self, netns: Optional[str] = None, log: Optional[Logger] = None) -> None:
        super().__init__(root=str(TOOLS), skip_version_check=True)
        self.netns = netns
        self.log = log

    def execute(self, args: list[str], cwd: str, env: Mapping[str, str], *, input: Optional[str] = None,
                timeout: float = 900) -> subprocess.CompletedProcess:
        argv = [self.command, "--non-interactive", "--color", "never", *args]
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns, *argv]
        proc = subprocess.Popen(argv, cwd=cwd, env=clean_env(env), text=True, start_new_session=True,
                                stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its plugins (own session)
            out, err = proc.communicate()
            err += f"\n[support.pulumi] killed after {timeout:.0f} s"
        result = subprocess.CompletedProcess(argv, proc.returncode, out, err)
        if self.log is not None:
            self.log(list(args), result)
        return result

    def run(self, args, cwd, additional_env, on_output=None, on_error=None):  # the automation API's entry point
        proc = self.execute(list(args), cwd, additional_env)
        for callback, text in ((on_output, proc.stdout), (on_error, proc.stderr)):
            for line in text.splitlines() if callback else ():
                callback(line)
        result = auto.CommandResult(stdout=proc.stdout, stderr=proc.stderr, code=proc.returncode)
        if proc.returncode != 0:
            raise create_command_error(result)
        return result


def failure(args: tuple[str, ...] | list[str], proc: subprocess.CompletedProcess) -> str:
    """What a failed command printed (stdout withheld where it may hold decrypted secrets)."""
    out = shown_stdout(args, tail(proc.stdout))
    return (f"`pulumi {' '.join(args)}` exited {proc.returncode}\n--- stdout\n{out}"
            f"\n--- stderr\n{tail(proc.stderr)}")


class Workspace:
    """A LocalWorkspace on `work_dir` (a copy of a program) with its own file backend and passphrase in
    `state_dir`. `env` adds variables for every command (e.g. support.program.overlay_env()); `netns` runs
    every command under `ip netns exec`; `log(args, completed_process)` sees every command's output."""

    def __init__(self, work_dir: Path, state_dir: Path, *, netns: Optional[str] = None,
                 env: Optional[Mapping[str, str]] = None, log: Optional[Logger] = None) -> None:
        self.work_dir = work_dir
        (state_dir / "backend").mkdir(parents=True, exist_ok=True)
        passphrase = state_dir / "passphrase"
        if not passphrase.exists():
            fd = os.open(passphrase, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(24))
        self.command = LabCommand(netns, log)
        self.env = {
            "PULUMI_HOME": str(PULUMI_HOME),
            "PULUMI_BACKEND_URL": f"file://{state_dir / 'backend'}",
            "PULUMI_CONFIG_PASSPHRASE_FILE": str(passphrase),
            **(env or {}),
        }
        self.auto = auto.LocalWorkspace(work_dir=str(work_dir), pulumi_home=str(PULUMI_HOME), env_vars=self.env,
                                        secrets_provider="passphrase", pulumi_command=self.command)

    def run(self, *args: str, check: bool = True, input: Optional[str] = None,
            timeout: float = 900) -> subprocess.CompletedProcess:
        """`pulumi ARGS` in the work dir; a failure fails the test (check=True) with the output's tails."""
        proc = self.command.execute(list(args), str(self.work_dir), self.env, input=input, timeout=timeout)
        if check and proc.returncode != 0:
            pytest.fail(failure(args, proc), pytrace=False)
        return proc

    def create_stack(self, name: str) -> "Stack":
        return Stack(self, auto.Stack.create(name, self.auto))


class Stack:
    """One stack of a Workspace: plain config written to Pulumi.<stack>.yaml, secrets through stdin, the
    lifecycle commands with `--stack` through the workspace's command."""

    def __init__(self, workspace: Workspace, stack: "auto.Stack") -> None:
        self.workspace = workspace
        self.auto = stack
        self.name = stack.name

    @property
    def config_file(self) -> Path:
        return self.workspace.work_dir / f"Pulumi.{self.name}.yaml"

    def cli(self, *args: str, check: bool = True, input: Optional[str] = None,
            timeout: float = 900) -> subprocess.CompletedProcess:
        flags = ["--stack", self.name]
        cut = args.index("--") if "--" in args else len(args)
        return self.workspace.run(*args[:cut], *flags, *args[cut:], check=check, input=input, timeout=timeout)

    # -- config -------------------------------------------------------------------------------------
    def set_config(self, values: Mapping[str, object]) -> None:
        """Merge plain values (structured ones included) into the stack's config file; a key without a
        namespace gets the project's."""
        path = self.config_file
        doc = (yaml.safe_load(path.read_text()) if path.exists() else None) or {}
        cfg = doc.setdefault("config", {})
        for key, value in values.items():
            cfg[key if ":" in key else f"{PROJECT}:{key}"] = value
        path.write_text(yaml.safe_dump(doc, sort_keys=True))

    def set_secret(self, key: str, value: str) -> None:
        """An encrypted config value; the value goes through stdin, never argv."""
        self.cli("config", "set", "--secret", key if ":" in key else f"{PROJECT}:{key}", input=value)

    def remove_config(self, *keys: str) -> None:
        self.auto.remove_all_config([key if ":" in key else f"{PROJECT}:{key}" for key in keys])

    @contextmanager
    def config_changed(self, values: Mapping[str, object]) -> Iterator[None]:
        """Plain config changed for the duration of the block, then the config file as it was."""
        before = self.config_file.read_text() if self.config_file.exists() else None
        self.set_config(values)
        try:
            yield
        finally:
            if before is None:
                self.config_file.unlink(missing_ok=True)
            else:
                self.config_file.write_text(before)

    # -- lifecycle ----------------------------------------------------------------------------------
    def up(self, *extra: str, check: bool = True, timeout: float = 1800) -> subprocess.CompletedProcess:
        return self.cli("up", "--yes", "--skip-preview", *extra, check=check, timeout=timeout)

    def preview(self, *extra: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
        return self.cli("preview", *extra, check=check, timeout=timeout)

    def destroy(self, *extra: str, check: bool = True, timeout: float = 1800) -> subprocess.CompletedProcess:
        return self.cli("destroy", "--yes", "--skip-preview", *extra, check=check, timeout=timeout)

    def preview_json(self, *extra: str, timeout: float = 900) -> dict:
        """`preview --json`; a failure fails the test with the program's error diagnostics."""
        proc = self.cli("preview", "--json", *extra, check=False, timeout=timeout)
        try:
            doc = json.loads(proc.stdout)
        except json.JSONDecodeError:
            pytest.fail("`pulumi preview --json` printed no JSON\n" + failure(("preview", "--json"), proc),
                        pytrace=False)
        if proc.returncode != 0:
            diags = [d.get("message", "") for d in doc.get("diagnostics", []) if d.get("severity") == "error"]
            pytest.fail(f"`pulumi preview --json` exited {proc.returncode}: {diags}\n--- stderr\n{tail(proc.stderr)}",
                        pytrace=False)
        return doc

    def up_steps(self, *extra: str, timeout: float = 1800) -> list[dict]:
        """`up --json`: the steps the update executed (see steps_of)."""
        return steps_of(self.up("--json", *extra, timeout=timeout).stdout)

    def outputs(self, show_secrets: bool = False) -> dict:
        args = ["stack", "output", "--json"] + (["--show-secrets"] if show_secrets else [])
        return json.loads(self.cli(*args).stdout or "{}")

    def export(self, show_secrets: bool = False) -> dict:
        """The stack's state (decrypted secrets only with show_secrets: keep those in memory)."""
        return json.loads(self.cli("stack", "export", *(["--show-secrets"] if show_secrets else [])).stdout)


# -- engine output ------------------------------------------------------------------------------------
def json_docs(text: str) -> list[dict]:
    """The JSON documents of a CLI's output, one after another."""
    decoder, docs, idx, text = json.JSONDecoder(), [], 0, text.strip()
    while idx < len(text):
        doc, idx = decoder.raw_decode(text, idx)
        docs.append(doc)
        while idx < len(text) and text[idx].isspace():
            idx += 1
    return docs


def steps_of(output: str) -> list[dict]:
    """Steps of `pulumi preview --json` (one document with "steps"), or the steps an update executed from
    `pulumi up --json` (the preview's document, then one engine event per line: the resOutputsEvent metadata
    of each resource tells the op it ran)."""
    docs = json_docs(output)
    executed = [d["resOutputsEvent"]["metadata"] for d in docs if "resOutputsEvent" in d]
    if executed:
        return [{"op": m.get("op"), "urn": m.get("urn", ""), "newState": {"type": m.get("type", "")}}
                for m in executed]
    for doc in docs:
        if "steps" in doc:
            return doc["steps"]
    return []


def urn_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def urn_type(urn: str) -> str:
    """The resource type of a URN, without its parents' types."""
    return urn.split("::")[2].split("$")[-1] if urn.count("::") >= 3 else ""


def step_type(step: dict) -> str:
    for key in ("newState", "oldState"):
        state = step.get(key) or {}
        if state.get("type"):
            return state["type"]
    return urn_type(step.get("urn", ""))

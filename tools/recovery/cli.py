"""The pulumi CLI as recover runs it: non-interactive, on the stack, bounded; the passphrase check before any
change, and the state (`stack export`)."""
from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from .messages import Failure, say

# A refresh of a big lab is slow but must end.
CLI_TIMEOUT_S = 3600


class Cli:
    def __init__(self, stack: str, cwd: Path) -> None:
        argv0 = os.environ.get("PULUMI_CLI") or shutil.which("pulumi")
        if not argv0:
            raise Failure("pulumi not on PATH: source toolchain/env.sh (make recover does)")
        self.argv0: str = argv0
        self.stack, self.cwd = stack, cwd

    def run(self, *args: str, stdout: int = subprocess.PIPE, echo: bool = False,
            timeout: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        argv = [self.argv0, "--non-interactive", "--color", "never", *args, "--stack", self.stack]
        if echo:
            say("$ pulumi " + " ".join(shlex.quote(a) for a in (*args, "--stack", self.stack)))
        return subprocess.run(argv, check=False, cwd=self.cwd, stdout=None if echo else stdout, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, text=True, timeout=timeout)

    def check_passphrase(self) -> None:
        """Fail before any change when the passphrase does not open the stack. Every command checks it against the
        stack file's encryptionsalt, but only when it needs the secrets manager (`config --show-secrets` of a
        stack without secure values does not): encrypting a probe value into a copy of the stack file always
        does, and changes nothing. Without a stack file, decrypting the state (to /dev/null) is the check."""
        stack_file = self.cwd / f"Pulumi.{self.stack}.yaml"
        if stack_file.exists():
            with tempfile.TemporaryDirectory(prefix="recover-") as tmp:
                probe = Path(tmp) / stack_file.name
                shutil.copyfile(stack_file, probe)
                proc = self.run("config", "set", "--secret", "--config-file", str(probe), "recover:probe", "probe",
                                stdout=subprocess.DEVNULL)
        else:
            proc = self.run("stack", "export", "--show-secrets", stdout=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise Failure("the stack's secrets cannot be decrypted, nothing was changed:\n  "
                          + proc.stderr.strip().replace("\n", "\n  ")
                          + "\n  the passphrase: PULUMI_CONFIG_PASSPHRASE_FILE (default ~/.config/openstack-lab/"
                          "passphrase, set by toolchain/env.sh) or PULUMI_CONFIG_PASSPHRASE")

    def export(self) -> dict[str, Any]:
        """The stack's deployment (resources, pending_operations) as `pulumi stack export` prints it."""
        proc = self.run("stack", "export")
        if proc.returncode != 0:
            raise Failure(f"`pulumi stack export` failed: {proc.stderr.strip()}")
        deployment: dict[str, Any] = json.loads(proc.stdout).get("deployment", {})
        return deployment

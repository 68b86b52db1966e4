"""What every remote command of the lab shares: the scripts and the pinned SSH connection."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pulumi
from pulumi_command import remote

SCRIPTS_DIR = Path(__file__).resolve().parent.parent / "scripts"
# The first command on a node runs once its sshd answers (SshReady, bounded by bootTimeout);
# its few extra dial retries only cover sshd restarting right after boot.
BOOT_DIAL_ERROR_LIMIT = 10
BOOT_PER_DIAL_TIMEOUT = 10
STEP_DIAL_ERROR_LIMIT = 5


def script(name: str) -> str:
    """Text of a script under scripts/ (or at an absolute path: a test overlay's), sent as the command text."""
    return (SCRIPTS_DIR / name).read_text()


@dataclass(frozen=True)
class NodeConnection:
    """How to reach one node as root: address, login key (secret) and pinned host key."""

    host: pulumi.Input[str]
    private_key: pulumi.Input[str]
    host_key: pulumi.Input[str]

    def args(self, dial_error_limit: int = STEP_DIAL_ERROR_LIMIT) -> remote.ConnectionArgs:
        return remote.ConnectionArgs(
            host=self.host,
            user="root",
            private_key=pulumi.Output.secret(self.private_key),
            host_key=self.host_key,
            dial_error_limit=dial_error_limit,
            per_dial_timeout=BOOT_PER_DIAL_TIMEOUT,
        )


def run_script(
    name: str,
    script_name: str,
    connection: NodeConnection,
    opts: pulumi.ResourceOptions,
    environment: Optional[dict] = None,
    stdin: Optional[pulumi.Input[str]] = None,
    delete_script: Optional[str] = None,
    triggers: Optional[list] = None,
    secret_io: bool = False,
    dial_error_limit: int = STEP_DIAL_ERROR_LIMIT,
) -> remote.Command:
    """A remote Command running scripts/<script_name>.

    secret_io: the command's inputs carry secrets, so its output is not logged
    (pulumi-command would print it to the engine log otherwise).
    """
    return remote.Command(
        name,
        connection=connection.args(dial_error_limit),
        create=script(script_name),
        delete=script(delete_script) if delete_script else None,
        environment=environment,
        stdin=pulumi.Output.secret(stdin) if secret_io and stdin is not None else stdin,
        triggers=triggers,
        logging=remote.Logging.NONE if secret_io else remote.Logging.STDOUT_AND_STDERR,
        add_previous_output_in_env=False,
        opts=opts,
    )

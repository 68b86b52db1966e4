"""`SshReady`: waits, within a deadline, until a machine's sshd answers with an SSH banner.

Two uses: a lab node after its domain starts (the first remote command would otherwise carry
the wait as dial retries, whose total time depends on how each dial fails), and the demo
server on its floating IP (the banner proves the whole path: floating IP, router, security
group and the boot). The wait is bounded by wall-clock time; when the machine never answers,
the error names it, the setting that bounds the wait and where to look. Only a speaking SSH
server is checked; commands that follow pin the host key. Re-created (and so re-run) when the
machine is (`identity`: its domain or server ID) or its address changes.

Pulumi pickles the provider by reference (this module's path and the class name), so the path is
part of every stack's state: do not move or rename the module.
"""
from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

from providers.polling import NotYet, TimedOut, poll
from providers.resource import LabResource, fields_of

RETRY_PAUSE_SECONDS = 2.0
CONNECT_TIMEOUT_SECONDS = 5.0
# Properties whose change means a different machine to wait for.
REPLACE_ON = ("host", "port", "identity")
OUTPUTS = ("seconds", "attempts", "banner")


class NotAnswering(Exception):
    pass


def ssh_banner(host: str, port: int, timeout: float = CONNECT_TIMEOUT_SECONDS) -> str:
    """The SSH identification line the server sends first (RFC 4253 4.2)."""
    with socket.create_connection((host, port), timeout=timeout) as conn:
        conn.settimeout(timeout)
        data = b""
        while b"\n" not in data and len(data) < 512:
            chunk = conn.recv(256)
            if not chunk:
                break
            data += chunk
    line = data.split(b"\n", 1)[0].decode("ascii", "replace").strip()
    if not line.startswith("SSH-"):
        raise OSError(f"not an SSH server: {line[:60]!r}")
    return line


def wait_for_ssh(props: dict[str, Any], clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 probe: Callable[[str, int], str] = ssh_banner) -> dict[str, Any]:
    timeout = float(props["timeout_seconds"])

    def attempt() -> str:
        try:
            return probe(props["host"], int(props["port"]))
        except OSError as err:
            raise NotYet(str(err) or type(err).__name__) from None

    try:
        answer = poll(attempt, timeout, RETRY_PAUSE_SECONDS, clock, sleep)
    except TimedOut as out:
        raise NotAnswering(
            f"{props['subject']} did not answer SSH on {props['host']}:{int(props['port'])} within {timeout:.0f} s "
            f"({props['timeout_setting']}; {out.attempts} attempts, last: {out.last_error}). {props['hint']}"
        ) from None
    return {"seconds": answer.seconds, "attempts": answer.attempts, "banner": answer.value}


class _SshReadyProvider(ResourceProvider):
    # read and delete are the SDK's: the state is the truth.
    def create(self, props: dict[str, Any]) -> CreateResult:
        waited = wait_for_ssh(props)
        pulumi.log.info(f"{props['subject']}: SSH answers on {props['host']} after {waited['seconds']} s")
        return CreateResult(id_=f"{props['identity']}-{props['host']}", outs={**props, **waited})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in news if k not in OUTPUTS and olds.get(k) != news.get(k)]
        return DiffResult(
            changes=bool(changed),
            replaces=[k for k in changed if k in REPLACE_ON],
            delete_before_replace=False,
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs={**news, **{k: olds.get(k) for k in OUTPUTS}})


@dataclass(frozen=True)
class SshReadyArgs:
    subject: str  # what the error names: a node, or "server <name>"
    host: pulumi.Input[str]
    identity: pulumi.Input[str]  # the machine's domain or server ID: a new one re-runs the wait
    timeout_seconds: int
    timeout_setting: str  # the config key that bounds the wait, for the error
    hint: str  # where to look when it never answers
    port: int = 22


class SshReady(LabResource):
    seconds: pulumi.Output[float]
    banner: pulumi.Output[str]

    def __init__(self, name: str, args: SshReadyArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(_SshReadyProvider(), name, fields_of(args), opts, outputs=OUTPUTS)

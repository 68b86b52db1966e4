"""`SshReady`: waits, within a deadline, until a node's sshd answers with an SSH banner.

The first remote command on a node would otherwise carry the wait as dial retries, whose
total time depends on how each dial fails (refused at once, or a 10 s timeout). This wait is
bounded by wall-clock time, and when the node never answers the error names the node and
says where to look (its console). The following commands pin the host key; this only checks
that an SSH server speaks. Re-created (and so re-run) when the node's domain is.

Self-contained on purpose (Pulumi pickles dynamic providers with their globals).
"""
from __future__ import annotations

import socket
import time
from typing import Any, Optional

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

RETRY_PAUSE_SECONDS = 2.0
CONNECT_TIMEOUT_SECONDS = 5.0
# Properties whose change means a different machine to wait for.
REPLACE_ON = ("host", "port", "domain_id")


class NodeNotAnswering(Exception):
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


def wait_for_ssh(props: dict[str, Any], clock=time.monotonic, sleep=time.sleep, probe=ssh_banner) -> dict[str, Any]:
    timeout = float(props["timeout_seconds"])
    started = clock()
    deadline = started + timeout
    attempts, last_error = 0, "no attempt made"
    while True:
        attempts += 1
        try:
            probe(props["host"], int(props["port"]))
            return {"seconds": round(clock() - started, 1), "attempts": attempts}
        except OSError as err:
            last_error = str(err) or type(err).__name__
        if clock() + RETRY_PAUSE_SECONDS >= deadline:
            raise NodeNotAnswering(
                f"{props['node']} ({props['host']}) did not answer SSH within {timeout:.0f} s (bootTimeout; "
                f"{attempts} attempts, last: {last_error}). Watch its boot with `{props['console']}`; "
                f"QEMU's own log is {props['qemu_log']}"
            )
        sleep(RETRY_PAUSE_SECONDS)


class _SshReadyProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        waited = wait_for_ssh(props)
        pulumi.log.info(f"{props['node']}: SSH answers after {waited['seconds']} s")
        return CreateResult(id_=f"{props['node']}-{props['domain_id']}", outs={**props, **waited})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in news if k not in ("seconds", "attempts") and olds.get(k) != news.get(k)]
        return DiffResult(
            changes=bool(changed),
            replaces=[k for k in changed if k in REPLACE_ON],
            delete_before_replace=False,
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs={**news, "seconds": olds.get("seconds"), "attempts": olds.get("attempts")})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_=id_, outs=props)


class SshReady(pulumi.dynamic.Resource):
    seconds: pulumi.Output[float]

    def __init__(
        self,
        name: str,
        node: str,
        host: pulumi.Input[str],
        domain_id: pulumi.Input[str],
        timeout_seconds: int,
        console: str,
        qemu_log: str,
        port: int = 22,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        super().__init__(
            _SshReadyProvider(),
            name,
            {
                "node": node,
                "host": host,
                "port": port,
                "domain_id": domain_id,
                "timeout_seconds": timeout_seconds,
                "console": console,
                "qemu_log": qemu_log,
                "seconds": None,
                "attempts": None,
            },
            opts,
        )

"""`InstanceReady`: waits, within a deadline, until a demo server answers SSH on its floating IP
from this host.

"Answers" means its sshd sends an SSH identification line (CirrOS's dropbear does as soon as it
runs), which proves the whole path: the floating IP, the router, the security group and the boot.
When it never answers, the error names the server and the commands that show why (its console
log, its port). Re-created (and so re-run) when the server or its address is.

Self-contained on purpose (Pulumi pickles dynamic providers with their globals).
"""
from __future__ import annotations

import socket
import time
from typing import Any, Optional

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

RETRY_PAUSE_SECONDS = 3.0
CONNECT_TIMEOUT_SECONDS = 5.0
REPLACE_ON = ("server_id", "address", "port")
OUTPUTS = ("seconds", "attempts", "banner")


class InstanceNotAnswering(Exception):
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


def wait_for_instance(props: dict[str, Any], clock=time.monotonic, sleep=time.sleep,
                      probe=ssh_banner) -> dict[str, Any]:
    timeout = float(props["timeout_seconds"])
    started = clock()
    deadline = started + timeout
    attempts, last_error = 0, "no attempt made"
    while True:
        attempts += 1
        try:
            banner = probe(props["address"], int(props["port"]))
            return {"seconds": round(clock() - started, 1), "attempts": attempts, "banner": banner}
        except OSError as err:
            last_error = str(err) or type(err).__name__
        if clock() + RETRY_PAUSE_SECONDS >= deadline:
            raise InstanceNotAnswering(
                f"server {props['server']} did not answer SSH on {props['address']}:{props['port']} within "
                f"{timeout:.0f} s (demo.waitSeconds; {attempts} attempts, last: {last_error}). See why with "
                f"`openstack console log show {props['server']}` and `openstack port show {props['port_name']}`"
            )
        sleep(RETRY_PAUSE_SECONDS)


class _InstanceReadyProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        waited = wait_for_instance(props)
        pulumi.log.info(f"{props['server']}: SSH answers on {props['address']} after {waited['seconds']} s")
        return CreateResult(id_=f"{props['server']}-{props['address']}", outs={**props, **waited})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in news if k not in OUTPUTS and olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=[k for k in changed if k in REPLACE_ON],
                          delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs={**news, **{k: olds.get(k) for k in OUTPUTS}})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_=id_, outs=props)


class InstanceReady(pulumi.dynamic.Resource):
    seconds: pulumi.Output[float]
    banner: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        server: str,
        server_id: pulumi.Input[str],
        address: pulumi.Input[str],
        port_name: str,
        timeout_seconds: int,
        port: int = 22,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        super().__init__(
            _InstanceReadyProvider(),
            name,
            {"server": server, "server_id": server_id, "address": address, "port": port, "port_name": port_name,
             "timeout_seconds": timeout_seconds, "seconds": None, "attempts": None, "banner": None},
            opts,
        )

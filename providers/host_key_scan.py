"""`HostKeyScan`: an existing machine's SSH host key, taken on first contact and then pinned.

Only for machines the user marks `trustFirstContact` (the safe path is a pinned `hostKey`). The key
is read once, when the resource is created (ssh-keyscan, bounded by `timeout_seconds`), and kept in
the state: later runs never scan again, so a machine that changes its key afterwards fails every
remote command instead of being trusted anew. Replaced (scanned again) only when the address changes.

Pulumi pickles the provider by reference (this module's path and the class name): do not move or
rename the module.
"""
from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider

from providers.polling import NotYet, TimedOut, poll
from providers.resource import LabResource, fields_of

KEY_TYPE = "ed25519"
RETRY_PAUSE_SECONDS = 3.0
OUTPUTS = ("host_key",)


class NoHostKey(Exception):
    pass


def keyscan(host: str, timeout: float) -> Optional[str]:
    """`ssh-ed25519 AAAA...` the host offers, or None when it does not answer."""
    proc = subprocess.run(["ssh-keyscan", "-T", str(max(1, int(timeout))), "-t", KEY_TYPE, host],
                          capture_output=True, text=True, timeout=timeout + 10, stdin=subprocess.DEVNULL)
    for line in proc.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 3 and not line.startswith("#") and fields[1] == f"ssh-{KEY_TYPE}":
            return f"{fields[1]} {fields[2]}"
    return None


def first_contact(props: dict[str, Any], clock: Callable[[], float] = time.monotonic,
                  sleep: Callable[[float], None] = time.sleep,
                  scan: Callable[[str, float], Optional[str]] = keyscan) -> str:
    timeout = float(props["timeout_seconds"])

    def attempt() -> str:
        key = scan(props["host"], min(10.0, timeout))
        if not key:
            raise NotYet("no host key offered")
        return key

    try:
        return poll(attempt, timeout, RETRY_PAUSE_SECONDS, clock, sleep).value
    except TimedOut:
        raise NoHostKey(f"{props['subject']} ({props['host']}) offered no ssh-{KEY_TYPE} host key within "
                        f"{timeout:.0f} s (bootTimeout); check that it is up and its sshd has an {KEY_TYPE} key, "
                        "or pin existingComputes[].hostKey") from None


class _HostKeyScanProvider(ResourceProvider):
    # read and delete are the SDK's: the state is the truth (and the pin).
    def create(self, props: dict[str, Any]) -> CreateResult:
        key = first_contact(props)
        pulumi.log.info(f"{props['subject']}: took host key {key.split()[0]} on first contact and pinned it")
        return CreateResult(id_=f"hostkey-{props['host']}", outs={**props, "host_key": key})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        moved = olds.get("host") != news.get("host")
        return DiffResult(changes=moved, replaces=["host"] if moved else [], stables=["host_key"])


@dataclass(frozen=True)
class HostKeyScanArgs:
    subject: str  # what messages name: the node
    host: str
    timeout_seconds: int  # the bound on the scan's retries


class HostKeyScan(LabResource):
    host_key: pulumi.Output[str]

    def __init__(self, name: str, args: HostKeyScanArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(_HostKeyScanProvider(), name, fields_of(args), opts, outputs=OUTPUTS)

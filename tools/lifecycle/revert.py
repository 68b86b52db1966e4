"""`make revert SNAPSHOT=name` (python -m tools.lifecycle.revert --stack S --snapshot name): every lab node back to
the lab-wide snapshot `name` (providers/lab_snapshot.py took it), then what a user needs to work again.

1. Refuses while a pulumi of the stack runs, or a killed run's lock is left (`make recover` first): tools/recovery.
2. Reads the stack's config as the program does (tools/verify/stack.py) and plans it: the nodes and their hosts.
3. Checks the snapshot exists on every node, else names the nodes that lack it and the snapshots the lab has.
4. Reverts every node with all of them paused (providers/libvirt_virsh.all_paused): each domain goes back to the
   snapshot paused, then all resume together.
5. Sets each node's clock to this host's time (tools/lifecycle/guest_clock.py).
6. Waits for Keystone when the stack ran Packstack (bounded by keystoneTimeout).
7. `pulumi refresh` of the reverted nodes' domains, so the state matches what the snapshot holds (a node reverted to
   a snapshot of it shut off is off); reports the time each step took. Only the domains: what a revert changes that
   the state records is their state (a disk's size never differs: a resize replaces the node and its snapshots),
   and upstream's libvirt plugin refreshes a CloudInitDisk by downloading its ISO through a libvirt stream, which
   was seen to hang (README; the plugin toolchain/ builds reads nothing back, one from ~/.pulumi may).

Existing machines are never snapshotted, so they are not reverted. Exit status: 0 reverted, 1 a step failed,
2 a pulumi of the stack runs or its lock is held, 3 the stack cannot be read.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Optional

from lab.plan import LabPlan, plan
from providers.libvirt_virsh import SshFailure, VirshError, all_paused, domain_state, reached, run_virsh
from providers.polling import NotYet, TimedOut, poll
from tools.lifecycle import guest_clock
from tools.recovery.backend import backend_dir, project_name, stack_file
from tools.recovery.cli import Cli
from tools.recovery.messages import Failure
from tools.recovery.run import idle_stack_locks
from tools.verify.stack import StackError, StackReader

KEYSTONE_PAUSE_S = 5.0
DOMAIN_TYPE = "libvirt:index/domain:Domain"
REFRESH_TIMEOUT_S = 900


def say(msg: str) -> None:
    print(f"revert: {msg}", flush=True)


class Timer:
    def __init__(self) -> None:
        self.steps: list[tuple[str, float]] = []
        self.started = time.monotonic()

    def step(self, name: str, since: float) -> None:
        self.steps.append((name, round(time.monotonic() - since, 1)))

    def report(self) -> str:
        return ", ".join(f"{name} {seconds} s" for name, seconds in self.steps)


def ensure_idle(stack: str, cwd: Path) -> None:
    backend_url = os.environ.get("PULUMI_BACKEND_URL", "")
    if not backend_url:
        raise Failure("PULUMI_BACKEND_URL is not set: source toolchain/env.sh (make revert does)")
    backend, project = backend_dir(backend_url), project_name(cwd)
    if stack_file(backend, project, stack) is None:
        raise Failure(f"no stack {stack} of project {project} in {backend}", code=3)
    stale = idle_stack_locks(backend_url, backend, project, stack)
    if stale:
        raise Failure(f"stack {stack} holds the lock of a killed pulumi run (pid {stale[0].pid}): run `make recover "
                      f"STACK={stack}` first, then revert", code=2)


def snapshots_everywhere(lab: LabPlan, usable: dict[str, str]) -> dict[str, set[str]]:
    """domain -> the snapshot names it holds."""
    return {n.domain: set(run_virsh(usable[n.host_uri], "snapshot-list", "--domain", n.domain, "--name").split())
            for n in lab.snapshots.nodes}


def check_exists(lab: LabPlan, snapshot: str, held: dict[str, set[str]]) -> None:
    lacking = [n.node for n in lab.snapshots.nodes if snapshot not in held[n.domain]]
    if lacking:
        common = sorted(set.intersection(*held.values())) if held else []
        raise Failure(f"snapshot {snapshot} does not exist on {', '.join(lacking)}; this lab's snapshots: "
                      f"{', '.join(common) or 'none'} (list names in `snapshots` and run `make up` to take one)",
                      code=1)


def revert_nodes(lab: LabPlan, snapshot: str, usable: dict[str, str]) -> None:
    """Each node back to the snapshot, paused (a snapshot of a shut-off node: off, as it was), then all resumed."""
    targets = [(usable[n.host_uri], n.domain) for n in lab.snapshots.nodes]
    with all_paused(targets, resume_every_paused=True):
        for uri, domain in targets:
            info = run_virsh(uri, "snapshot-info", "--domain", domain, "--snapshotname", snapshot)
            offline = re.search(r"^State:\s+shutoff\s*$", info, re.M) is not None
            run_virsh(uri, "snapshot-revert", "--domain", domain, "--snapshotname", snapshot,
                      *(() if offline else ("--paused",)))


def set_clocks(lab: LabPlan, usable: dict[str, str], login: guest_clock.Login) -> dict[str, str]:
    """Each running node's clock set (a node reverted to a snapshot of it shut off stays off: nothing to set)."""
    address = {n.name: n.management_ip for n in lab.nodes}
    running = [n for n in lab.snapshots.nodes if domain_state(usable[n.host_uri], n.domain) == "running"]
    with ThreadPoolExecutor(max_workers=max(1, len(running))) as pool:
        futures = {n.node: pool.submit(guest_clock.sync, usable[n.host_uri], n.domain, address[n.node], login)
                   for n in running}
        done = {node: future.result() for node, future in futures.items()}
    return {n.node: done.get(n.node, "") for n in lab.snapshots.nodes}


def keystone_answers(url: str) -> Callable[[], int]:
    def attempt() -> int:
        try:
            with urllib.request.urlopen(url, timeout=10) as reply:
                return int(reply.status)
        except urllib.error.HTTPError as err:  # an HTTP answer (401, 300) is Keystone answering
            if err.code >= 500:
                raise NotYet(f"HTTP {err.code}") from None
            return err.code
        except (OSError, ValueError) as err:
            raise NotYet(str(err)) from None
    return attempt


def wait_keystone(url: str, timeout: float, sleep: Callable[[float], None] = time.sleep) -> float:
    try:
        return poll(keystone_answers(url), timeout, KEYSTONE_PAUSE_S, sleep=sleep).seconds
    except TimedOut as err:
        raise Failure(f"Keystone at {url} did not answer within {timeout:.0f} s (keystoneTimeout): {err.last_error}",
                      code=1) from None


def login_files(directory: Path, private_key: str, known_hosts: str) -> guest_clock.Login:
    login = guest_clock.Login(directory / "id_ed25519", directory / "known_hosts")
    for path, text in ((login.key_file, private_key.strip() + "\n"), (login.known_hosts, known_hosts)):
        path.touch(mode=0o600)
        path.write_text(text)
    return login


def refresh_domains(cli: Cli, lab: LabPlan) -> None:
    """`pulumi refresh` of the reverted nodes' libvirt domains (their URNs from the state), bounded."""
    names = {n.domain for n in lab.snapshots.nodes}
    urns = [r["urn"] for r in cli.export().get("resources", [])
            if r.get("type") == DOMAIN_TYPE and (r.get("outputs") or {}).get("name") in names]
    if len(urns) != len(names):
        raise Failure(f"the state holds {len(urns)} of the {len(names)} reverted domains ({', '.join(sorted(names))}): "
                      "run `make up` to converge it", code=1)
    targets = [arg for urn in urns for arg in ("--target", urn)]
    try:
        proc = cli.run("refresh", "--yes", "--skip-preview", *targets, echo=True, timeout=REFRESH_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise Failure(f"`pulumi refresh` of the {len(urns)} domains did not end within {REFRESH_TIMEOUT_S} s; the "
                      "nodes are reverted, the state may still say otherwise: run `make recover`, then `make up`",
                      code=1) from None
    if proc.returncode != 0:
        raise Failure(f"`pulumi refresh` failed:\n  {proc.stderr.strip()}", code=1)


def revert(stack: str, snapshot: str, cwd: Path, reader: Optional[StackReader] = None) -> int:
    timer = Timer()
    ensure_idle(stack, cwd)
    reader = reader or StackReader(stack, cwd)
    try:
        config, _ = reader.config()
        outputs: dict[str, Any] = reader.outputs()
        private_key = (reader.secret_output("sshPrivateKey") if "sshPrivateKey" in outputs
                       else config.ssh_private_key.value if config.ssh_private_key else "")
    except StackError as err:
        raise Failure(str(err), code=3) from None
    if config.existing_cloud:
        raise Failure("existing-cloud mode has no lab node to revert", code=1)
    lab = plan(config)
    if lab.snapshots.skipped:
        say(f"existing machines {', '.join(lab.snapshots.skipped)} are not reverted (never snapshotted)")
    try:
        with reached(lab.snapshots.host_uris) as usable, tempfile.TemporaryDirectory(prefix="osl-revert-") as tmp:
            check_exists(lab, snapshot, snapshots_everywhere(lab, usable))
            since = time.monotonic()
            say(f"reverting {len(lab.snapshots.nodes)} node(s) to snapshot {snapshot}, all paused together")
            revert_nodes(lab, snapshot, usable)
            timer.step("revert", since)
            since = time.monotonic()
            login = login_files(Path(tmp), private_key, str(outputs.get("knownHosts") or ""))
            clocks = set_clocks(lab, usable, login)
            for node, how in clocks.items():
                say(f"{node}: clock set to this host's time by {how}" if how else
                    f"{node}: shut off in the snapshot, left off (make start)")
            timer.step("clocks", since)
    except (VirshError, SshFailure, guest_clock.ClockFailed) as err:
        raise Failure(f"reverting to {snapshot}: {err}", code=1) from None
    if lab.runs("packstack") and clocks.get(lab.controller.name):
        since = time.monotonic()
        say(f"waiting for Keystone at {lab.keystone_url} (at most {lab.keystone_timeout} s)")
        wait_keystone(lab.keystone_url, lab.keystone_timeout)
        timer.step("keystone", since)
    since = time.monotonic()
    refresh_domains(Cli(stack, cwd), lab)
    timer.step("refresh", since)
    total = round(time.monotonic() - timer.started, 1)
    say(f"stack {stack} reverted to snapshot {snapshot} in {total} s ({timer.report()})")
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stack", default=os.environ.get("STACK") or os.environ.get("USER") or "dev")
    parser.add_argument("--snapshot", required=True, help="the snapshot name (one of the stack's `snapshots`)")
    parser.add_argument("--cwd", type=Path, default=Path.cwd(), help="the program dir (default: here)")
    args = parser.parse_args(argv)
    try:
        return revert(args.stack, args.snapshot, args.cwd.resolve())
    except Failure as err:
        print(f"revert: {err}", file=sys.stderr)
        return err.code


if __name__ == "__main__":
    sys.exit(main())

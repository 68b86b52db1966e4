"""`make stop`, `make start` and `make up`'s stopped-lab check:
python -m tools.lifecycle.power {stop|start|check} --stack NAME [--cwd PROGRAM_DIR]

The stack is read through the Pulumi CLI (tools/verify/stack.py: its config parsed and planned as the program does;
for start, its cloudsYaml output), its hosts reached as the libvirt provider reaches them
(providers/libvirt_virsh.py), the order and the waits are tools/lifecycle/lab_power.py's.

Exit status: 0 done, 1 a node failed to stop or start (or, for check, the lab is stopped), 2 the stack cannot be
read or a host reached.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Optional

from lab.plan import LabPlan, plan
from providers.libvirt_virsh import SshFailure, VirshError, reached, run_virsh
from providers.ssh_ready import ssh_banner
from tools.lifecycle.cloud_ready import NovaWaits
from tools.lifecycle.lab_power import (PowerError, Power, Timeouts, existing_note, lab_domains, start, stop,
                                       stopped)
from tools.verify.cloud import CloudsYamlError, connect, read_login
from tools.verify.stack import StackError, StackReader

ROOT = Path(__file__).resolve().parents[2]
UNREADABLE = 2
SHUTDOWN_TIMEOUT_S = 180.0
COMPUTES_TIMEOUT_S = 600.0
SSH_PROBE_TIMEOUT_S = 5.0


def ssh_answers(address: str) -> Optional[str]:
    """None when an SSH server sends its identification line on address:22, else what was seen."""
    try:
        ssh_banner(address, 22, SSH_PROBE_TIMEOUT_S)
    except OSError as err:
        return str(err) or type(err).__name__
    return None


def say(line: str) -> None:
    print(line, flush=True)


def _cloud(reader: StackReader, lab: LabPlan) -> Optional[NovaWaits]:
    """The waits of a cloud Packstack made, when the stack ran Packstack and exports cloudsYaml."""
    if not lab.runs("packstack"):
        say("start: the stack stops before packstack: no Keystone or Nova to wait for")
        return None
    if "cloudsYaml" not in reader.outputs():
        say("start: the stack has no cloudsYaml output (Packstack never finished): no Keystone or Nova to wait for")
        return None
    login = read_login(reader.secret_output("cloudsYaml"))
    return NovaWaits(lambda: connect(login), say)


def compute_hosts(lab: LabPlan) -> list[str]:
    """The nodes whose nova-compute start waits for: the computes (an all-in-one: the controller) and the
    existing machines."""
    computes = [node.name for node in lab.nodes if node.role != "controller"]
    return computes or [lab.controller.name]


def run(command: str, reader: StackReader, options: argparse.Namespace) -> int:
    config, _ = reader.config()
    if config.existing_cloud:
        if command == "check":  # make up on an existing cloud: nothing of the lab's to be stopped
            return 0
        say(f"{command}: stack {reader.stack} uses an existing cloud (cloud.authUrl): no lab nodes to {command}")
        return 0
    lab = plan(config)
    domains = lab_domains(lab)
    note = existing_note(lab)
    with reached({d.uri for d in domains}) as usable:
        power = Power(run_virsh, usable, say)
        began = time.monotonic()
        if command == "check":
            off = stopped(domains, power)
            if off:
                print(f"the lab is stopped: {', '.join(d.label() for d in off)} shut off; run `make start` first "
                      "(`make up` would leave them off and report nothing to do)", file=sys.stderr)
                return 1
            return 0
        if note:
            say(f"{command}: {note}")
        if command == "stop":
            result = stop(domains, power, options.shutdown_timeout)
            forced = f", {len(result.forced)} forced off ({', '.join(result.forced)})" if result.forced else ""
            already = f", {len(result.already_off)} already off" if result.already_off else ""
            say(f"stop: {len(result.clean)} node(s) shut down cleanly{forced}{already} in "
                f"{time.monotonic() - began:.1f} s")
            return 0
        timeouts = Timeouts(ssh=lab.prep.boot_timeout, keystone=lab.keystone_timeout, computes=options.compute_timeout)
        start(domains, power, ssh_answers, _cloud(reader, lab), timeouts, compute_hosts(lab))
        say(f"start: {len(domains)} node(s) up in {time.monotonic() - began:.1f} s")
        return 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Stop or start the lab's nodes in order.")
    parser.add_argument("command", choices=("stop", "start", "check"))
    parser.add_argument("--stack", default=os.environ.get("STACK") or os.environ.get("USER") or "dev")
    parser.add_argument("--cwd", default=str(ROOT), help="the program directory (Pulumi.yaml)")
    parser.add_argument("--shutdown-timeout", type=float, default=SHUTDOWN_TIMEOUT_S,
                        help="seconds each group (computes, then the controller) may take to shut down cleanly")
    parser.add_argument("--compute-timeout", type=float, default=COMPUTES_TIMEOUT_S,
                        help="seconds start waits for every nova-compute to report up")
    args = parser.parse_args(argv)
    reader = StackReader(args.stack, Path(args.cwd))
    # check (before `make up`) never blocks on what it cannot read: make doctor and the program report that.
    unreadable = 0 if args.command == "check" else UNREADABLE
    try:
        return run(args.command, reader, args)
    except (StackError, CloudsYamlError) as err:
        print(f"{args.command}: {err}", file=sys.stderr)
        return unreadable
    except SshFailure as err:
        print(f"{args.command}: cannot reach a lab host over SSH ({err.kind}): {err.detail}", file=sys.stderr)
        return unreadable
    except VirshError as err:
        print(f"{args.command}: {err}", file=sys.stderr)
        return unreadable or 1
    except PowerError as err:
        print(f"{args.command}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

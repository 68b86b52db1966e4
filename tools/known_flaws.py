"""Failures of `pulumi up` that come from a known flaw of a provider and that one more `up` repairs, so that
`make up` runs it once more by itself (saying why) instead of leaving the user to.

python -m tools.known_flaws --events FILE   (the failed up's event log, `pulumi up --event-log FILE`)
Exit 0 and print the flaw when an error diagnostic of the log names one; 1 when none does (or the log is missing).

The one flaw known so far: upstream's libvirt provider (terraform-provider-libvirt 0.8.3) uploads a cloud-init disk,
then reads it back through a libvirt stream; that read once came back empty ("error while retrieving remote ISO:
error initializing ISO reader: corrupted-image: EOF"). The disk is then in the state with an initialization error,
which the next `up` repairs by replacing it (components/lab_node.CLOUD_INIT_RECOVERY; tests/engine/
test_engine_nodes.py). The plugin toolchain/ builds reads nothing back (toolchain/providers/libvirt/cloudinit.go);
this is for an upstream plugin that toolchain/setup.sh reuses from the user's ~/.pulumi.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Iterable, Optional

from tools.stage_times import read_events

FLAWS = {
    "error while retrieving remote ISO": "the libvirt provider's read-back of a cloud-init disk it had just uploaded "
                                         "came back empty; one more `up` replaces that disk",
}


def repairable(text: str) -> Optional[str]:
    """The known flaw `text` (a failed up's errors) shows, or None."""
    return next((why for mark, why in FLAWS.items() if mark in text), None)


def error_text(events: Iterable[dict]) -> str:
    """The error diagnostics of an event log, one per line."""
    return "\n".join(str(e["diagnosticEvent"].get("message", "")) for e in events
                     if "diagnosticEvent" in e and e["diagnosticEvent"].get("severity") == "error")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=Path, required=True, help="the failed up's event log")
    args = parser.parse_args(argv)
    if not args.events.is_file():
        return 1
    why = repairable(error_text(read_events(args.events)))
    if why is None:
        return 1
    print(f"up: failed on a known provider flaw: {why}; running `pulumi up` once more", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

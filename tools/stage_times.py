"""Where the time of a `pulumi up` went, stage by stage: read the engine's event log (`pulumi up --event-log FILE`,
a hidden flag the CLI offers only with PULUMI_DEBUG_COMMANDS=true: pulumi pkg/cmd/pulumi/operations/up.go), print a
short table and append one record to `.lab/<stack>/stage-times.jsonl` so runs can be compared.

Each custom resource's time runs from its `resourcePreEvent` (the step starts) to its `resOutputsEvent` (done) or
`resOpFailedEvent` (failed); one that has neither by the end of the log is unfinished (interrupted). Its stage comes
from the component types in its URN (the type chain `parent$...$own type`): LabNetwork, LabStorage, LabNode ->
nodes, HostPrep -> prep, Packstack -> answers (its answers and answer file) or packstack (the rest, KeystoneReady
included), OpenStackNetworking -> networking, DemoCloud -> demo, LabSnapshots -> snapshots; directly under the lab
the libvirt providers, the login key and HostKeyScan are nodes, an existing cloud's Keystone wait is networking.
Component resources are not timed (registered when the program starts, done when their last child is), nor
provider resources other than libvirt's.

The engine stamps events in whole seconds (pkg/backend/display/display.go: `time.Now().Unix()`), so a figure is
good to a second; a stage is the span from its first resource's start to its last one's end (its resources run in
parallel). Resources are counted per stage: all of them, and those with a step other than `same`.
The event log carries no secret value (the engine writes it with showSecrets false, display.go logJSONEvent);
`make up` still removes it once read.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Optional

STAGE_ORDER = ("nodes", "prep", "answers", "packstack", "networking", "demo", "snapshots", "other")
COMPONENT_STAGES = {
    "openstack-lab:lab:LabNetwork": "nodes",
    "openstack-lab:lab:LabStorage": "nodes",
    "openstack-lab:lab:LabNode": "nodes",
    "openstack-lab:lab:HostPrep": "prep",
    "openstack-lab:lab:Packstack": "packstack",
    "openstack-lab:lab:OpenStackNetworking": "networking",
    "openstack-lab:lab:DemoCloud": "demo",
    "openstack-lab:lab:LabSnapshots": "snapshots",
}
ANSWER_SUFFIXES = ("-answers", "-answer-file")  # Packstack's children of stage answers (components/packstack.py)
UNCHANGED = ("same", "read", "refresh")
RECORD_FILE = "stage-times.jsonl"


@dataclass(frozen=True)
class UrnParts:
    types: tuple[str, ...]  # the parents' types then the resource's own
    name: str


def urn_parts(urn: str) -> UrnParts:
    """`urn:pulumi:<stack>::<project>::<type chain>::<name>`."""
    parts = urn.split("::", 3)
    if len(parts) < 4:
        return UrnParts((), urn)
    return UrnParts(tuple(parts[2].split("$")), parts[3])


def stage_of(urn: str) -> str:
    parts = urn_parts(urn)
    for component in parts.types[:-1]:
        stage = COMPONENT_STAGES.get(component)
        if stage == "packstack" and parts.name.endswith(ANSWER_SUFFIXES):
            return "answers"
        if stage:
            return stage
    own = parts.types[-1] if parts.types else ""
    if own == "pulumi:providers:libvirt" or parts.name == "login-key" or parts.name.endswith("-host-key"):
        return "nodes"
    if parts.name == "keystone-ready":  # existing cloud: the wait before its networking
        return "networking"
    return "other"


def timed(metadata: dict) -> bool:
    """A resource whose step is the work itself: custom, and not a provider other than libvirt's."""
    state = metadata.get("new") or metadata.get("old") or {}
    kind = metadata.get("type", "")
    if kind.startswith("pulumi:providers:"):
        return kind == "pulumi:providers:libvirt"
    return bool(state.get("custom"))


@dataclass
class Step:
    urn: str
    op: str
    start: int
    end: Optional[int] = None
    failed: bool = False


@dataclass
class StageTime:
    stage: str
    start_s: int  # from the first event of the update
    seconds: int
    resources: int
    changed: int
    failed: int = 0
    unfinished: int = 0


@dataclass
class UpTimes:
    result: str  # succeeded, failed, unfinished (no summary: interrupted), preview-only
    total_s: int
    stages: list[StageTime] = field(default_factory=list)


def read_events(path: Path) -> list[dict]:
    """The log's events; a line cut short by a killed CLI is skipped."""
    events = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def up_times(events: Iterable[dict]) -> UpTimes:
    steps: dict[tuple[str, str], Step] = {}  # (urn, op): a replacement's create and delete are two steps
    first = last = None
    result, preview = "unfinished", False
    for event in events:
        stamp = event.get("timestamp")
        if not isinstance(stamp, int):
            continue
        first = stamp if first is None else first
        last = stamp
        if "summaryEvent" in event:
            summary = event["summaryEvent"]
            preview = bool(summary.get("isPreview"))
            result = str(summary.get("result") or ("failed" if summary.get("maybeCorrupt") else "succeeded"))
        for kind in ("resourcePreEvent", "resOutputsEvent", "resOpFailedEvent"):
            metadata = (event.get(kind) or {}).get("metadata")
            if not metadata or not timed(metadata):
                continue
            key = (metadata.get("urn", ""), metadata.get("op", ""))
            if kind == "resourcePreEvent":
                steps[key] = Step(key[0], key[1], stamp)
            elif key in steps:
                steps[key].end, steps[key].failed = stamp, kind == "resOpFailedEvent"
    if first is None or last is None:
        return UpTimes("empty", 0)
    if preview:
        return UpTimes("preview-only", last - first)
    return UpTimes(result, last - first, _stages(steps.values(), first, last))


def _stages(steps: Iterable[Step], first: int, last: int) -> list[StageTime]:
    grouped: dict[str, list[Step]] = {}
    for step in steps:
        grouped.setdefault(stage_of(step.urn), []).append(step)
    stages = []
    for stage in STAGE_ORDER:
        members = grouped.get(stage)
        if not members:
            continue
        start = min(s.start for s in members)
        end = max(s.end if s.end is not None else last for s in members)
        urns = {s.urn for s in members}
        changed = {s.urn for s in members if s.op not in UNCHANGED}
        stages.append(StageTime(stage, start - first, end - start, len(urns), len(changed),
                                failed=sum(s.failed for s in members),
                                unfinished=sum(s.end is None for s in members)))
    return stages


def table(times: UpTimes) -> str:
    if times.result == "preview-only":
        return "stage times: the update stopped in its preview, no stage ran"
    if not times.stages:
        return f"stage times: no resource step in the event log ({times.result})"
    rows = [("stage", "start", "took", "resources")]
    for s in times.stages:
        note = "".join([f", {s.failed} failed" if s.failed else "",
                        f", {s.unfinished} unfinished" if s.unfinished else ""])
        rows.append((s.stage, f"+{_clock(s.start_s)}", _clock(s.seconds),
                     f"{s.changed} changed of {s.resources}{note}"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join(row[i].ljust(widths[i]) for i in range(3)) + "  " + row[3] for row in rows]
    lines.append(f"total {_clock(times.total_s)} ({times.result}; seconds as the engine stamps its events)")
    return "\n".join(lines)


def _clock(seconds: int) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def record(times: UpTimes, stack: str, directory: Path, now: Optional[datetime.datetime] = None) -> Path:
    """Append one JSON line (date, stack, result, total, stages) to `directory/stage-times.jsonl`."""
    directory.mkdir(parents=True, exist_ok=True)
    when = (now or datetime.datetime.now(datetime.timezone.utc)).isoformat(timespec="seconds")
    line = {"date": when, "stack": stack, "result": times.result, "total_s": times.total_s,
            "stages": [asdict(s) for s in times.stages]}
    path = directory / RECORD_FILE
    with open(path, "a") as f:
        f.write(json.dumps(line, sort_keys=True) + "\n")
    return path


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--events", required=True, type=Path, help="the file of `pulumi up --event-log`")
    parser.add_argument("--dir", type=Path, help="where stage-times.jsonl goes (default .lab/<stack>)")
    parser.add_argument("--keep", action="store_true", help="keep the event log (removed once read)")
    args = parser.parse_args(argv)
    if not args.events.is_file():
        print(f"stage times: no event log at {args.events} (pulumi up did not start)", file=sys.stderr)
        return 1
    times = up_times(read_events(args.events))
    print(table(times))
    if times.stages:
        path = record(times, args.stack, args.dir or Path(".lab") / args.stack)
        print(f"recorded in {path}")
    if not args.keep:
        os.unlink(args.events)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""A fake `virsh` for the unit tier: libvirt domains and their snapshots in a JSON file ($FAKE_VIRSH_STATE).

State: {"domains": {name: {"state": "running"|"paused"|"shut off", "snapshots": [names], "agent": bool,
"boot": int}}, "calls": [[uri, verb, args...]], "fail": {verb: domain}, "hang": verb}. Each call is recorded;
a verb named in "fail" for a domain fails as libvirt would; the messages are libvirt 9's wording.
Only the verbs the lab runs: domstate, suspend, resume, snapshot-create-as, snapshot-list, snapshot-delete,
snapshot-revert, snapshot-info, dumpxml, domtime, list.
"""
import fcntl
import json
import os
import sys
import time


def main(argv: list[str]) -> int:
    path = os.environ["FAKE_VIRSH_STATE"]
    with open(path + ".lock", "w") as lock:  # callers run virsh in parallel (one per node)
        fcntl.flock(lock, fcntl.LOCK_EX)
        code, out, state, verb = call(path, argv)
    if state.get("hang") == verb:
        time.sleep(30)
    sys.stdout.write(out)
    return code


def call(path: str, argv: list[str]) -> tuple[int, str, dict, str]:
    with open(path) as f:
        state = json.load(f)
    args = [a for a in argv if a != "-q"]
    uri = ""
    if args[:1] == ["-c"]:
        uri, args = args[1], args[2:]
    verb, rest = args[0], args[1:]
    state.setdefault("calls", []).append([uri, verb, *rest])
    try:
        out = run(state, verb, rest)
        code = 0
    except Failed as err:
        print(f"error: {err}", file=sys.stderr)
        out, code = "", 1
    with open(path, "w") as f:
        json.dump(state, f)
    return code, out, state, verb


class Failed(Exception):
    pass


def option(rest: list[str], name: str, position: int) -> str:
    if name in rest:
        return rest[rest.index(name) + 1]
    plain = [a for i, a in enumerate(rest) if not a.startswith("--") and (i == 0 or not rest[i - 1].startswith("--")
                                                                           or rest[i - 1] in FLAGS)]
    return plain[position]


FLAGS = {"--atomic", "--paused", "--running", "--name", "--sync", "--all", "--force"}


def run(state: dict, verb: str, rest: list[str]) -> str:
    domains = state.setdefault("domains", {})
    if verb == "list":
        return "".join(f"{name}\n" for name in domains)
    name = option(rest, "--domain", 0)
    dom = domains.get(name)
    if dom is None:
        raise Failed(f"failed to get domain '{name}'")
    if state.get("fail", {}).get(verb) == name:
        raise Failed(f"internal error: {verb} of {name} failed (injected)")
    if verb == "domstate":
        return dom["state"] + "\n"
    if verb == "suspend":
        if dom["state"] != "running":
            raise Failed("Requested operation is not valid: domain is not running")
        dom["state"] = "paused"
        return f"Domain '{name}' suspended\n"
    if verb == "resume":
        if dom["state"] != "paused":
            raise Failed("Requested operation is not valid: domain is not paused")
        dom["state"] = "running"
        return f"Domain '{name}' resumed\n"
    if verb == "snapshot-create-as":
        snap = option(rest, "--name", 1)
        if snap in dom["snapshots"]:
            raise Failed(f"operation failed: domain snapshot '{snap}' already exists")
        dom["snapshots"].append(snap)
        dom.setdefault("taken_in", {})[snap] = dom["state"]
        return f"Domain snapshot {snap} created\n"
    if verb == "snapshot-list":
        return "".join(f"{s}\n" for s in dom["snapshots"])
    named = ("snapshot-delete", "snapshot-revert", "snapshot-info")
    snap = option(rest, "--snapshotname", 1) if verb in named else ""
    if verb in named and snap not in dom["snapshots"]:
        raise Failed(f"Domain snapshot not found: no domain snapshot with matching name '{snap}'")
    if verb == "snapshot-info":
        state = dom.get("taken_in", {}).get(snap, "running").replace("shut off", "shutoff")
        return f"Name:           {snap}\nDomain:         {name}\nState:          {state}\nLocation:       internal\n"
    if verb == "snapshot-delete":
        dom["snapshots"].remove(snap)
        return f"Domain snapshot {snap} deleted\n"
    if verb == "snapshot-revert":
        taken_in = dom.get("taken_in", {}).get(snap, "running")
        dom["state"] = "paused" if "--paused" in rest else "running" if taken_in == "paused" else taken_in
        dom["reverted_to"] = snap
        return ""
    if verb == "dumpxml":
        channel = ("<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
                   if dom.get("agent") else "")
        return f"<domain type='qemu'><name>{name}</name><devices>{channel}</devices></domain>\n"
    if verb == "domtime":
        if not dom.get("agent"):
            raise Failed("argument unsupported: QEMU guest agent is not configured")
        if dom["agent"] == "silent":  # the channel, but no qemu-guest-agent in the guest
            raise Failed("Guest agent is not responding: QEMU guest agent is not connected")
        dom["synced"] = True
        return ""
    raise Failed(f"fake virsh: unknown verb {verb}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

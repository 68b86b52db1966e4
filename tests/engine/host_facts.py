"""Run by test_engine_ssh_host.py inside host A's network namespace (`ip netns exec`): the preflight's facts of one
lab host and the fatal problems of the whole config, as the program gathers them, printed as JSON.

stdin: {"config": raw stack config, "host": index}; the test overlay comes from OPENSTACK_LAB_TEST_OVERLAY.
"""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lab.config import parse, read_overlay
from lab.plan import plan
from lab.preflight import fatal_problems, gather, run_checks


def main() -> None:
    given = json.load(sys.stdin)
    lab = plan(parse(given["config"], "openstack-lab", "enginessh", frozenset(), overlay=read_overlay()))
    facts = gather(lab, existing=False)
    problems = {check.title: check.detail for check in fatal_problems(run_checks(lab, facts))}
    json.dump({"host": dataclasses.asdict(facts.hosts[given["host"]]), "problems": problems}, sys.stdout)


if __name__ == "__main__":
    main()

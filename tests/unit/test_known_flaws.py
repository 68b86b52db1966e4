"""tools/known_flaws.py: a failed up's event log (or output) read for a provider flaw that one more up repairs, and
the Makefile's up running it once more on exactly that."""
import json
import re

from labtest import ROOT
from tools import known_flaws

READ_BACK = ("  sdk-v2/provider2.go:572: sdk.helper_schema: error while retrieving remote ISO: error initializing ISO "
             "reader: corrupted-image: EOF: provider=libvirt@0.5.4\n")


def event_log(tmp_path, *messages, severity="error"):
    path = tmp_path / "up-events.jsonl"
    events = [{"sequence": 1, "resourcePreEvent": {"metadata": {"op": "create"}}}]
    events += [{"sequence": i + 2, "diagnosticEvent": {"message": m, "severity": severity}}
               for i, m in enumerate(messages)]
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    return path


def test_a_cloud_init_read_back_failure_is_repairable_and_said(tmp_path, capsys):
    assert known_flaws.main(["--events", str(event_log(tmp_path, "error: update failed\n", READ_BACK))]) == 0
    said = capsys.readouterr().out
    assert "read-back of a cloud-init disk" in said and "once more" in said


def test_any_other_failure_is_not(tmp_path):
    assert known_flaws.main(["--events", str(event_log(tmp_path, "error: bootTimeout exceeded\n"))]) == 1
    assert known_flaws.main(["--events", str(event_log(tmp_path, READ_BACK, severity="warning"))]) == 1
    assert known_flaws.main(["--events", str(tmp_path / "missing.jsonl")]) == 1
    assert known_flaws.repairable("error: 1 error occurred: storage volume exists already") is None


def test_make_up_runs_up_once_more_only_on_a_known_flaw():
    recipe = (ROOT / "Makefile").read_text().split("\nup:", 1)[1].split("\n\n", 1)[0]
    ups = re.findall(r"\$\(PULUMI\) up --yes --stack \$\(STACK\) --event-log \$\$events", recipe)
    assert len(ups) == 2, recipe
    # The second up only after a failed first one that the tool recognises; stage times read the last up's log.
    assert re.search(r"if \[ \$\$rc -ne 0 \] && \$\(PY\) -m tools\.known_flaws --events \$\$events; then", recipe)
    assert recipe.index("tools.known_flaws") < recipe.rindex("$(PULUMI) up") < recipe.index("tools.stage_times")

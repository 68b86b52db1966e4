"""Fixtures of the Packstack tier: the real Packstack 26.0.0 `--dry-run` on the lab's own answer sets.

- prerequisites are installed by the tier (openssh-server, iproute2, util-linux through
  tools/ensure-packages.sh, which starts no service; Packstack's venv through `make`); a missing one
  skips locally and fails under CI=true (support.require);
- `packstack_runs` runs each answer set (answer_sets.py) on first use, once per session, in a sandbox of its
  own (dryrun_sandbox.py: a network namespace, a private mount namespace with scratch /root, /var/tmp, /run,
  everything else read-only, a local sshd), and keeps the result (or the error) for every test after;
- `machine_before` is what the tier must leave as it was (the machine's /root/.ssh, /var/tmp/packstack,
  /etc/hosts, /etc/resolv.conf), taken before the first run; test_packstack_machine_untouched.py compares.
The session scratch is mode 0700 (answers and hieradata carry passwords) and removed at the end unless
LAB_PACKSTACK_KEEP=1.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import pytest

from answer_sets import ANSWER_SETS, AnswerSet
from catalog_runs import CATALOG_RUNS_KEY
from dryrun import PackstackRun, require_tier, run_answer_set
from machine_state import snapshot


class PackstackRuns:
    """Answer set name -> its PackstackRun, run on first access and kept (a failure too: raised again)."""

    def __init__(self, base: Path) -> None:
        self._base = base
        self._sets: dict[str, AnswerSet] = dict(ANSWER_SETS)
        self._done: dict[str, Union[PackstackRun, Exception]] = {}

    @property
    def base(self) -> Path:
        """The session scratch every set's sandbox lives under (mode 0700)."""
        return self._base

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._sets)

    @property
    def finished(self) -> dict[str, PackstackRun]:
        """The runs made so far (for the tier's summary and the machine check)."""
        return {k: v for k, v in self._done.items() if isinstance(v, PackstackRun)}

    def __getitem__(self, name: str) -> PackstackRun:
        if name not in self._sets:
            raise KeyError(f"no answer set {name!r}; known: {', '.join(self._sets)}")
        if name not in self._done:
            try:
                self._done[name] = run_answer_set(self._sets[name], self._base / name)
            except Exception as exc:  # kept: every test of this set fails with the same cause, once run
                self._done[name] = exc
        result = self._done[name]
        if isinstance(result, Exception):
            pytest.fail(f"answer set {name}: {type(result).__name__}: {result}", pytrace=False)
        return result

    get = __getitem__

    def variant(self, name: str, base: str, inject: Mapping[str, str],
                expect_error: Optional[str] = None) -> PackstackRun:
        """A set of your own: `base`'s stages with `inject` put into the last stage's answer lines."""
        wanted = AnswerSet(name, f"{base} with {', '.join(inject)}", self._sets[base].stages,
                           {**self._sets[base].inject, **inject}, expect_error)
        known = self._sets.setdefault(name, wanted)
        if known != wanted:
            raise ValueError(f"answer set {name!r} exists with other answers")
        return self[name]


@pytest.fixture(scope="session")
def machine_before() -> dict[str, Any]:
    return snapshot()


@pytest.fixture(scope="session")
def packstack_runs(tmp_path_factory, machine_before, request) -> PackstackRuns:
    require_tier()
    base = tmp_path_factory.mktemp("packstack-runs")
    base.chmod(0o700)
    runs = PackstackRuns(base)
    request.config.stash[RUNS_KEY] = runs
    yield runs
    if os.environ.get("LAB_PACKSTACK_KEEP") != "1":
        shutil.rmtree(base, ignore_errors=True)


RUNS_KEY = pytest.StashKey[PackstackRuns]()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The measured dry-run time of every set run in this session (not asserted: tests do not time)."""
    runs = config.stash.get(RUNS_KEY, None)
    if runs and runs.finished:
        terminalreporter.write_sep("-", "packstack --dry-run per answer set")
        for name, run in runs.finished.items():
            terminalreporter.write_line(f"{name:26} rc {run.rc}  {run.seconds:5.1f} s")
    catalogs = config.stash.get(CATALOG_RUNS_KEY, None)  # test_catalogs.py (issue 17 item 3)
    if catalogs and catalogs.done:
        terminalreporter.write_sep("-", "catalog compile per answer set, host and role")
        for line in catalogs.summary_lines():
            terminalreporter.write_line(line)

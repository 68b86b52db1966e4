"""Fixtures more than one test file of the unit tier uses (helpers and constants: harness.py)."""
import json
import os
import sys
from pathlib import Path

import pytest

from harness import BASE, run_lab


@pytest.fixture(scope="module")
def disks():
    """The lab with data disks: two on the controller (Cinder's, Swift's), one on each compute."""
    return run_lab({**BASE, "controller": {"dataDisksGiB": [40, 20]}, "compute": {"dataDisksGiB": [10]}})


class FakeVirsh:
    """The fake virsh (fake_virsh.py) first on PATH; its domains and the calls it got in a JSON file."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "virsh-state.json"
        self.write({"domains": {}})

    def write(self, state: dict) -> None:
        self.path.write_text(json.dumps(state))

    def read(self) -> dict:
        return json.loads(self.path.read_text())

    def domains(self, **domains: dict) -> None:
        """name=settings: each domain running, without snapshots or agent unless settings say otherwise."""
        state = self.read()
        state["domains"] = {name.replace("_", "-"): {"state": "running", "snapshots": [], **settings}
                            for name, settings in domains.items()}
        self.write(state)

    def update(self, **changes) -> None:
        self.write({**self.read(), **changes})

    def calls(self, verb: str = "") -> list[list[str]]:
        return [call for call in self.read().get("calls", []) if not verb or call[1] == verb]


@pytest.fixture
def fake_virsh(tmp_path, monkeypatch):
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    virsh = bin_dir / "virsh"
    virsh.write_text(f"#!/bin/sh\nexec {sys.executable} {Path(__file__).with_name('fake_virsh.py')} \"$@\"\n")
    virsh.chmod(0o755)
    fake = FakeVirsh(tmp_path)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_VIRSH_STATE", str(fake.path))
    return fake

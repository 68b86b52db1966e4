"""Fixtures more than one test file of the unit tier uses (helpers and constants: harness.py)."""
import pytest

from harness import BASE, run_lab


@pytest.fixture(scope="module")
def disks():
    """The lab with data disks: two on the controller (Cinder's, Swift's), one on each compute."""
    return run_lab({**BASE, "controller": {"dataDisksGiB": [40, 20]}, "compute": {"dataDisksGiB": [10]}})

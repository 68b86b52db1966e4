"""Shared by every tier (a uniquely named module: each tier has a conftest of its own,
so `from conftest import ...` would pick whichever was imported last)."""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI") == "true"


def require(condition: object, reason: str) -> None:
    """Skip locally when a tier's prerequisite is missing; under CI=true fail instead."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"prerequisite missing under CI=true (a skipped tier is a failure): {reason}", pytrace=False)
    pytest.skip(reason)

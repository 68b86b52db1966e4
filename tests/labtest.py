"""Kept for tests/unit: the shared harness is the `support` package (tests/support/)."""
from support import IN_CI, ROOT, require  # noqa: F401

"""Bounded waits for the checks: providers/polling.py's one retry loop, its timeout reported as a check failure
that names what was awaited, for how long, and the last thing seen."""
from __future__ import annotations

import time
from typing import Callable, TypeVar

from providers.polling import NotYet, TimedOut, poll
from tools.verify.runner import CheckFailed

T = TypeVar("T")

__all__ = ["NotYet", "wait_for"]


def wait_for(what: str, attempt: Callable[[], T], timeout: float, pause: float = 2.0,
             clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> T:
    """`attempt()` until it returns (it raises NotYet("what it saw") meanwhile), at most `timeout` s."""
    try:
        return poll(attempt, timeout, pause, clock=clock, sleep=sleep).value
    except TimedOut as err:
        raise CheckFailed(f"gave up waiting for {what} after {timeout:.0f} s ({err.attempts} tries; "
                          f"last: {err.last_error})") from None

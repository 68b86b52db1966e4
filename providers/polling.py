"""The bounded wait every waiting dynamic provider shares: try, pause, try again until a wall-clock deadline.

Imported by provider modules only (they are pickled by reference, so this module's path is part of no state).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class NotYet(Exception):
    """One try that did not succeed; its message is the error the timeout reports last."""


class TimedOut(Exception):
    def __init__(self, attempts: int, last_error: str) -> None:
        super().__init__(last_error)
        self.attempts, self.last_error = attempts, last_error


@dataclass(frozen=True)
class Answer(Generic[T]):
    value: T
    attempts: int
    seconds: float


def poll(attempt: Callable[[], T], timeout: float, pause: float,
         clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> Answer[T]:
    """`attempt()` until it returns, pausing `pause` s after each NotYet; TimedOut once another pause would
    reach `timeout` s. Any other exception ends the wait at once."""
    started = clock()
    deadline = started + timeout
    attempts, last_error = 0, "no attempt made"
    while True:
        attempts += 1
        try:
            return Answer(attempt(), attempts, round(clock() - started, 1))
        except NotYet as err:
            last_error = str(err) or "no answer"
        if clock() + pause >= deadline:
            raise TimedOut(attempts, last_error)
        sleep(pause)

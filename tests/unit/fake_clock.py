"""A clock for the bounded waits under test: `clock()` reads the time, `clock.sleep(s)` moves it on at once."""
from __future__ import annotations


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

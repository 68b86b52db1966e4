"""The runner: each step timed and printed as one line (`[ok  ]  12.3 s  name: detail`), a step whose
prerequisite did not pass skipped with the reason, every printed text stripped of the run's secrets."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Generic, Iterable, Optional, Sequence, TypeVar

C = TypeVar("C")


class CheckFailed(Exception):
    """A check's finding; the message says what is wrong."""


class Skipped(Exception):
    """The check does not apply to this cloud; the message says why."""


@dataclass(frozen=True)
class Step(Generic[C]):
    name: str
    run: Callable[[C], str]  # returns the detail of a pass; raises CheckFailed or Skipped
    needs: tuple[str, ...] = ()  # steps that must have passed first


@dataclass(frozen=True)
class Result:
    name: str
    status: str  # ok | FAIL | skip
    seconds: float
    detail: str

    @property
    def line(self) -> str:
        return f"[{self.status:<4}] {self.seconds:6.1f} s  {self.name}: {self.detail}"


class Printer:
    """Where lines go: every text passes through `redact` first, so no secret the run holds is ever shown."""

    def __init__(self, write: Callable[[str], None], secrets: Iterable[str] = ()) -> None:
        self._write = write
        self._secrets = [s for s in secrets if s]

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def __call__(self, text: str) -> None:
        self._write(self.redact(text))


def describe(err: BaseException) -> str:
    """An unexpected error as one line (SDK errors carry the HTTP status and the service's message)."""
    text = " ".join(str(err).split()) or "no message"
    return f"{type(err).__name__}: {text}"


class Runner(Generic[C]):
    """Runs steps in order; `current` names the one running (for an interrupt's message)."""

    def __init__(self, printer: Printer, clock: Callable[[], float] = time.monotonic) -> None:
        self.printer = printer
        self.clock = clock
        self.results: dict[str, Result] = {}
        self.current: Optional[str] = None

    def run(self, steps: Sequence[Step[C]], context: C) -> list[Result]:
        for step in steps:
            self.record(self._one(step, context))
        return list(self.results.values())

    def record(self, result: Result) -> None:
        self.results[result.name] = result
        self.printer(result.line)

    def _one(self, step: Step[C], context: C) -> Result:
        missing = [name for name in step.needs if name not in self.results or self.results[name].status != "ok"]
        if missing:
            return Result(step.name, "skip", 0.0, f"not run: needs {', '.join(missing)}")
        self.current = step.name
        started = self.clock()
        try:
            status, detail = "ok", step.run(context)
        except Skipped as err:
            status, detail = "skip", str(err)
        except CheckFailed as err:
            status, detail = "FAIL", str(err)
        except Exception as err:  # an SDK or OS error: the check failed, the run goes on
            status, detail = "FAIL", describe(err)
        self.current = None  # left set when an interrupt escapes, so the session can name the step
        return Result(step.name, status, round(self.clock() - started, 1), detail)

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results.values() if r.status == "FAIL"]

"""A whole run: the steps, then the clean-up, whatever happened before it (a failure, Ctrl-C, SIGTERM), then
a summary line. Exit status: 0 all passed, 1 a check or the clean-up failed, 130 interrupted."""
from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

from tools.verify.context import Context
from tools.verify.runner import Printer, Runner, Skipped, Step

INTERRUPTED = 130


@contextmanager
def shielded(printer: Printer) -> Iterator[None]:
    """Ctrl-C and SIGTERM do not cut the clean-up short (it is bounded); each says so instead."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def note(signum: int, frame: Any) -> None:
        printer("[note] cleaning up first (bounded); a leftover would be removed by the next run")

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def clean_up(ctx: Context) -> str:
    """Everything this run made and anything of the prefix's runs that is left, removed and checked gone."""
    if not ctx.found.services:
        if ctx.cleanup.created.count:  # cannot happen: nothing is created before the catalog is read
            raise RuntimeError("objects were created before the catalog was read")
        raise Skipped("nothing created (the catalog was never read)")
    removed = ctx.cleanup.sweep()
    return f"removed {removed.summary()}; nothing named {ctx.expect.names.stem}* left"


def verify(ctx: Context, steps: Sequence[Step[Context]], printer: Printer,
           clock: Callable[[], float] = time.monotonic) -> int:
    started = clock()
    runner: Runner[Context] = Runner(printer, clock)
    interrupted = False
    try:
        runner.run(steps, ctx)
    except KeyboardInterrupt:
        interrupted = True
        printer(f"[stop] interrupted during {runner.current or 'the checks'}; cleaning up")
    finally:
        with shielded(printer):
            runner.run([Step("clean-up", clean_up)], ctx)
    counts = {status: sum(r.status == status for r in runner.results.values()) for status in ("ok", "FAIL", "skip")}
    verdict = "interrupted" if interrupted else ("FAILED" if counts["FAIL"] else "passed")
    printer(f"verify {verdict}: {counts['ok']} ok, {counts['FAIL']} failed, {counts['skip']} skipped "
            f"in {clock() - started:.1f} s")
    if interrupted:
        return INTERRUPTED
    return 1 if counts["FAIL"] else 0

"""What recover tells the user: a progress line, or a Failure that stops it with an exit code."""
from __future__ import annotations


def say(msg: str) -> None:
    print(f"recover: {msg}", flush=True)


class Failure(Exception):
    """Stops recover: the message for stderr and the exit code (2: a pulumi of the stack still runs or another
    host's lock; 3: passphrase, CLI or backend failure)."""

    def __init__(self, msg: str, code: int = 3) -> None:
        super().__init__(msg)
        self.code = code

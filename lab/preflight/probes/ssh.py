"""An existing machine's SSH port, probed with a TCP connect (nothing is sent)."""
from __future__ import annotations

import socket

from lab.preflight.facts import SSH_PROBE_TIMEOUT_S


def ssh_answers(address: str, port: int = 22, timeout: float = SSH_PROBE_TIMEOUT_S) -> bool:
    """A TCP connection to the machine's SSH port opens within the timeout (nothing is sent)."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False

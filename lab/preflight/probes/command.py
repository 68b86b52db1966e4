"""Every external command preflight runs goes through `probe`: bounded, in a session of its own, never
prompting. Tests fake the commands by replacing `probe`."""
from __future__ import annotations

import os
import signal
import subprocess

# Every external command gather() runs is bounded (a remote host that does not answer costs this once).
PROBE_TIMEOUT_S = 20

Completed = subprocess.CompletedProcess[str]


def probe(argv: list[str]) -> Completed | None:
    """argv, bounded; in a session of its own, so nothing under it can prompt on this terminal or outlive the
    timeout."""
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                text=True, start_new_session=True)
    except OSError:
        return None
    try:
        out, err = proc.communicate(timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.communicate()
        return None
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def virsh(uri: str, *args: str) -> Completed | None:
    return probe(["virsh", "-c", uri, *args])


def error_of(proc: Completed | None) -> str:
    """What a failed virsh said (its last error line), or that it did not answer in time."""
    if proc is None:
        return f"no answer within {PROBE_TIMEOUT_S} s"
    lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
    return (lines[-1].removeprefix("error: ") if lines else f"virsh exited {proc.returncode}")[:300]

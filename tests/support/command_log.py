"""The one command log of every tier: what the tier's commands printed, kept for its secret scan
(support.secret_scan) and for post-mortems."""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Optional, Sequence

from support.secret_scan import shown_stdout


class CommandLog:
    """Labelled outputs in memory and, when `path` is given, appended to that file (mode 0600) as they come."""

    def __init__(self, path: Optional[Path] = None) -> None:
        self.path = path
        self.chunks: list[str] = []
        if path is not None:
            path.touch(mode=0o600)

    def add(self, label: str, text: str) -> None:
        chunk = f"### {label}\n{text}\n"
        self.chunks.append(chunk)
        if self.path is not None:
            with self.path.open("a") as f:
                f.write(chunk)

    def add_pulumi(self, args: Sequence[str], proc: subprocess.CompletedProcess) -> None:
        """A pulumi command (support.pulumi.Workspace's `log=`): stdout withheld after --show-secrets."""
        self.add(f"pulumi {' '.join(map(str, args))} (exit {proc.returncode})",
                 shown_stdout(args, proc.stdout) + "\n" + proc.stderr)

    def text(self) -> str:
        return "".join(self.chunks)

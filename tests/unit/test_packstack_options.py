"""The committed answer-key list is exactly what the pinned Packstack's `packstack -o` prints."""
import os
import re
import subprocess
from pathlib import Path

from labtest import ROOT, require
from lab.packstack_facts import packstack_options

PACKSTACK = Path(os.environ.get("LAB_PACKSTACK_BIN", ROOT / ".venv-packstack" / "bin" / "packstack"))
LEFTOVERS = Path("/var/tmp/packstack")  # packstack's basedefs makes a run directory there on import


def packstack(*args: str) -> str:
    """Packstack's output, run in a private mount namespace with a scratch /var/tmp (no run directories left)."""
    argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount -t tmpfs scratch /var/tmp && exec "$0" "$@"', str(PACKSTACK), *args]
    done = subprocess.run(argv, capture_output=True, timeout=120)
    return (done.stdout + done.stderr).decode("utf-8", "replace")


def test_option_list_matches_pinned_packstack():
    require(PACKSTACK.exists(), f"{PACKSTACK} missing (make deps installs the pinned packstack)")
    before = sorted(LEFTOVERS.iterdir()) if LEFTOVERS.is_dir() else []
    assert "26.0.0" in packstack("--version")
    out = packstack("-o")
    listed = set(re.findall(r"\*\*(CONFIG_[A-Z0-9_]+)\*\*", out))
    assert len(listed) > 250
    assert listed == set(packstack_options())
    assert (sorted(LEFTOVERS.iterdir()) if LEFTOVERS.is_dir() else []) == before, "packstack left a run directory"

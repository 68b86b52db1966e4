"""The committed answer-key list is exactly what the pinned Packstack's `packstack -o` prints."""
import os
import re
import subprocess
from pathlib import Path

from labtest import ROOT, require
from lab.packstack_facts import packstack_options

PACKSTACK = Path(os.environ.get("LAB_PACKSTACK_BIN", ROOT / ".venv-packstack" / "bin" / "packstack"))


def test_option_list_matches_pinned_packstack():
    require(PACKSTACK.exists(), f"{PACKSTACK} missing (make deps installs the pinned packstack)")
    version = subprocess.run([str(PACKSTACK), "--version"], capture_output=True, text=True)
    assert "26.0.0" in version.stdout + version.stderr
    out = subprocess.run([str(PACKSTACK), "-o"], capture_output=True, timeout=120).stdout.decode("utf-8", "replace")
    listed = set(re.findall(r"\*\*(CONFIG_[A-Z0-9_]+)\*\*", out))
    assert len(listed) > 250
    assert listed == set(packstack_options())

"""tests/support/command_log.py: the one log of a tier's commands, withholding what --show-secrets decrypted."""
import stat
import subprocess

from support.command_log import CommandLog
from support.secret_scan import WITHHELD


def test_the_log_keeps_labelled_output_in_memory_and_in_a_private_file(tmp_path):
    log = CommandLog(tmp_path / "tier.log")
    log.add("fixture start.sh", "listening on 127.0.0.1")
    log.add_pulumi(["stack", "output", "--show-secrets"], subprocess.CompletedProcess([], 0, "decrypted", "note"))
    log.add_pulumi(["preview"], subprocess.CompletedProcess([], 1, "a plan", "an error"))
    text = log.text()
    assert "### fixture start.sh\nlistening on 127.0.0.1" in text
    assert "### pulumi stack output --show-secrets (exit 0)\n" + WITHHELD + "\nnote" in text
    assert "decrypted" not in text and "### pulumi preview (exit 1)\na plan\nan error" in text
    assert (tmp_path / "tier.log").read_text() == text
    assert stat.S_IMODE((tmp_path / "tier.log").stat().st_mode) == 0o600
    assert CommandLog().text() == ""

"""machine_state, the check test_packstack_machine_untouched.py relies on: it sees what a run would leave."""
from __future__ import annotations

from machine_state import differences, snapshot


def test_a_snapshot_sees_a_file_appear_change_and_a_mode_change(tmp_path):
    watched = tmp_path / "ssh"
    watched.mkdir()
    (watched / "known_hosts").write_text("a\n")
    before = snapshot((watched, tmp_path / "absent"))
    (watched / "id_rsa").write_text("key\n")
    (watched / "known_hosts").write_text("b\n")
    (tmp_path / "absent").mkdir()
    changed = differences(before, snapshot((watched, tmp_path / "absent")))
    assert f"{watched / 'id_rsa'} appeared" in changed
    assert f"{watched / 'known_hosts'} changed" in changed
    assert f"{tmp_path / 'absent'} appeared" in changed
    assert not any("key" in line or "b\n" in line for line in changed)  # paths only, never content

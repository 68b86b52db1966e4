"""providers/host_key_scan.py: an existing machine's first contact, bounded and named."""
import pytest


def test_first_contact_scan_is_bounded_and_names_the_machine():
    from providers.host_key_scan import NoHostKey, first_contact

    now = [0.0]
    props = {"subject": "phys1", "host": "10.40.0.200", "timeout_seconds": 30}
    with pytest.raises(NoHostKey, match=r"phys1 \(10.40.0.200\) offered no ssh-ed25519 host key within 30 s"):
        first_contact(props, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s),
                      scan=lambda host, timeout: None)
    assert now[0] <= 30
    answers = iter([None, "ssh-ed25519 AAAAkey"])
    assert first_contact(props, clock=lambda: 0.0, sleep=lambda s: None,
                         scan=lambda host, timeout: next(answers)) == "ssh-ed25519 AAAAkey"

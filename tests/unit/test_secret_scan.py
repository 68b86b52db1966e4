"""tests/support/secret_scan.py: the secret scan every tier uses names what leaked and never shows it."""
import pytest

from support.secret_scan import WITHHELD, Secrets, assert_absent, found_in, mask, shown_stdout

SECRETS = Secrets({"admin password": "s3cret-admin-pw", "db password": "d8-pw-value", "unset": ""})


def test_found_in_names_each_secret_the_text_holds_and_never_the_empty_one():
    assert found_in("login with s3cret-admin-pw and d8-pw-value", SECRETS) == ["admin password", "db password"]
    assert found_in("nothing here", SECRETS) == []


def test_a_leak_fails_naming_the_secret_and_where_but_not_its_value():
    with pytest.raises(pytest.fail.Exception) as failure:
        assert_absent(SECRETS, "token: s3cret-admin-pw", "the pulumi log")
    message = str(failure.value)
    assert "admin password" in message and "the pulumi log" in message and "s3cret-admin-pw" not in message
    assert_absent(SECRETS, "clean text", "the pulumi log")
    assert "s3cret" not in repr(SECRETS)


def test_mask_and_what_a_log_keeps_of_a_show_secrets_command():
    assert mask("pw=s3cret-admin-pw;", SECRETS.values()) == "pw=<password>;"
    assert shown_stdout(["stack", "output", "--show-secrets"], "s3cret-admin-pw") == WITHHELD
    assert shown_stdout(["preview"], "plan") == "plan"

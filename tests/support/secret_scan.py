"""The one secret scan of every tier: which named secrets a text holds, a test failure that names them without
ever showing a value (a plain `assert secret not in text` would print it through pytest's assertion rewriting),
a mask for messages, and what a log may keep of a command that decrypted secrets."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import pytest

# A pulumi command given this flag prints decrypted secrets on stdout.
SHOW_SECRETS = "--show-secrets"
WITHHELD = "(withheld: --show-secrets)"


class Secrets(dict):
    """Secret values by name: never shown by an assertion report or a traceback."""

    def __repr__(self) -> str:
        return f"<{len(self)} values withheld>"


def found_in(text: str, secrets: Mapping[str, str]) -> list[str]:
    """The names of the secrets that occur in `text` (an empty value is never looked for), sorted."""
    return sorted(name for name, value in secrets.items() if value and value in text)


def assert_absent(secrets: Mapping[str, str], text: str, where: str) -> None:
    """Fail the test when any of `secrets` (name -> value) occurs in `text`, naming the secrets and `where`."""
    found = found_in(text, secrets)
    if found:
        pytest.fail(f"secret(s) {found} appear in {where}", pytrace=False)


def mask(text: str, values: Iterable[str], placeholder: str = "<password>") -> str:
    """`text` with every one of `values` replaced by `placeholder`: for messages and logs."""
    for value in values:
        if value:
            text = text.replace(value, placeholder)
    return text


def shown_stdout(args: Sequence[object], stdout: str) -> str:
    """What a log or a failure message may show of a pulumi command's stdout: none of it after --show-secrets."""
    return WITHHELD if SHOW_SECRETS in args else stdout

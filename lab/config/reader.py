"""Typed reading of raw stack config by the schema, and the problems found on the way.

Every problem is recorded instead of raised, so one run reports all of them, one line per
problem naming the key and the fix.
"""
from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Optional

from lab.config.model import Secret
from lab.config.schema import RETIRED, SCHEMA, Key


@dataclass(frozen=True)
class ConfigProblem:
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


class ConfigError(Exception):
    def __init__(self, namespace: str, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {namespace}:{p}" for p in problems)
        super().__init__(
            f"the lab configuration has {len(problems)} problem(s); fix them with "
            f"`pulumi config set` (secrets with --secret) and run again:\n{lines}"
        )


class Reader:
    """Values of raw config (as Pulumi stores them: strings, objects and lists as JSON), typed by the schema."""

    def __init__(self, raw: Mapping[str, Any], secret_keys: frozenset[str]) -> None:
        self.raw = raw
        self.secret_keys = secret_keys
        self.problems: list[ConfigProblem] = []
        for name in sorted(set(raw) - set(SCHEMA)):
            self.problem(name, RETIRED.get(
                name, "unknown key; see README's configuration table for the keys the lab reads"))

    def problem(self, key: str, message: str) -> None:
        self.problems.append(ConfigProblem(key, message))

    def get(self, name: str) -> Any:
        """The key's value as its schema type, or its default (a problem recorded when it is not that type)."""
        key = SCHEMA[name]
        if key.secret:
            return self._secret(key)
        value = {"string": self._string, "integer": self._integer, "boolean": self._boolean,
                 "array": self._array, "object": self._object}[key.type](key)
        if key.choices and value not in key.choices:
            self.problem(name, f"{value!r} is not one of {', '.join(key.choices)}")
            return key.default
        return value

    def _decoded(self, key: Key) -> Any:
        value = self.raw.get(key.name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                return value
        return value

    def _string(self, key: Key) -> Optional[str]:
        value = self.raw.get(key.name)
        if value is None or value == "":
            return key.default
        if not isinstance(value, str):
            self.problem(key.name, f"expected a string, got {type(value).__name__}")
            return key.default
        return value.strip()

    def _integer(self, key: Key) -> int:
        value = self._decoded(key)
        if value is None:
            return key.default
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(key.name, f"expected a whole number, got {value!r}")
            return key.default
        return value

    def _boolean(self, key: Key) -> bool:
        value = self._decoded(key)
        if value is None:
            return key.default
        if not isinstance(value, bool):
            self.problem(key.name, f"expected true or false, got {value!r}")
            return key.default
        return value

    def _object(self, key: Key) -> dict[str, Any]:
        """The object as given ({} when unset); its rule merges it with the key's default."""
        value = self._decoded(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(key.name, "expected an object (set it with `pulumi config set --path`)")
            return {}
        return value

    def _array(self, key: Key) -> list[Any]:
        value = self._decoded(key)
        if value is None or value == [] or value == "":  # Pulumi.yaml's empty default means unset
            return list(key.default)
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            self.problem(key.name, f"expected a list (e.g. `pulumi config set --path {key.name}[0] ...`)")
            return list(key.default)
        return value

    def _secret(self, key: Key) -> Optional[Secret]:
        value = self.raw.get(key.name)
        if value in (None, ""):
            return None
        if key.name not in self.secret_keys:
            self.problem(
                key.name,
                f"must be stored encrypted: run `pulumi config set --secret {key.name}` "
                "(and remove the plain-text value)",
            )
        return Secret(str(value))

    # -- value checks shared by the rules -------------------------------------------------
    def network(self, key: str, value: Optional[str]) -> Optional[ipaddress.IPv4Network]:
        if value is None:
            return None
        try:
            net = ipaddress.ip_network(value, strict=True)
        except ValueError as err:
            self.problem(key, f"{value!r} is not a network in CIDR form such as 10.20.0.0/24 ({err})")
            return None
        if net.version != 4:
            self.problem(key, f"{value} is not IPv4; the lab's networks are IPv4")
            return None
        return net

    def address(self, key: str, value: Optional[str]) -> Optional[ipaddress.IPv4Address]:
        if value is None:
            return None
        try:
            return ipaddress.IPv4Address(value)
        except ValueError:
            self.problem(key, f"{value!r} is not an IPv4 address")
            return None

    def objects(self, key: str, items: list[Any], allowed: tuple[str, ...],
                also: str = "") -> Iterator[tuple[str, dict]]:
        """Each object of a list-valued key with its path (`key[i]`): one problem per item that is not an
        object (`also`: what else the key takes) and per field the lab does not read."""
        for i, spec in enumerate(items):
            at = f"{key}[{i}]"
            if not isinstance(spec, dict):
                self.problem(at, f"expected an object {{{', '.join(allowed)}}}{also}")
                continue
            self.unknown_fields(at, spec, allowed)
            yield at, spec

    def unknown_fields(self, key: str, given: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
        """One problem per field of an object key that the lab does not read."""
        for field in sorted(set(given) - set(allowed)):
            self.problem(f"{key}.{field}", f"unknown key; use {', '.join(allowed)}")

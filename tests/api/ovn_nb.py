"""OVN's northbound database as the Epoxy fixture's ovn-nbctl shows it: every row of a table as a dict, OVSDB's
JSON encodings (["uuid", u], ["set", [...]], ["map", [[k, v], ...]]) turned into str, list and dict."""
from __future__ import annotations

import json


def _value(encoded):
    if isinstance(encoded, list) and len(encoded) == 2 and encoded[0] in ("uuid", "named-uuid", "set", "map"):
        kind, payload = encoded
        if kind == "set":
            return [_value(item) for item in payload]
        if kind == "map":
            return {_value(k): _value(v) for k, v in payload}
        return payload
    return encoded


def rows(cloud, table: str) -> list[dict]:
    """Every row of `table` in the fixture's NB database (`ovn-nbctl --format=json list TABLE`)."""
    doc = json.loads(cloud.ovn_nb("--format=json", "list", table).stdout)
    return [{name: _value(cell) for name, cell in zip(doc["headings"], row, strict=True)} for row in doc["data"]]


def as_list(value) -> list:
    """An optional or set column as a list (OVSDB shows a one-element set as the element itself)."""
    return value if isinstance(value, list) else [value]


def northbound(cloud) -> dict[str, list[dict]]:
    """The tables the networking stage writes through Neutron's OVN driver."""
    return {table: rows(cloud, table) for table in
            ("Logical_Switch", "Logical_Switch_Port", "Logical_Router", "Logical_Router_Port", "NAT")}

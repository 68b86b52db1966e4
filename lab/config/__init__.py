"""The lab's configuration: read by the schema, validated once, typed and immutable.

`parse()` is pure (raw stack-config values and a test overlay in, a `LabConfig` out) so every
rule is testable without Pulumi; `load()` (pulumi_source.py) reads the stack config through
the Pulumi runtime. Every problem found is reported at once, one line per problem, naming the
config key and the fix, before any resource is declared.

model.py      the values (LabConfig and its parts)
schema.py     every key: type, default, secrecy, description, rule (Pulumi.yaml is generated from it)
reader.py     typed reading by the schema; ConfigProblem, ConfigError
profiles.py   host-prep profiles (el9; a test overlay's)
host.py, sizes.py, addressing.py, software.py, access.py, flow.py, cloud.py, demo.py   the rules, by topic
parsing.py    parse(): every rule over the raw values, in order
pulumi_source.py   the stack config and the test overlay of a running program
"""
from __future__ import annotations

from lab.config.model import (STAGES, AddressPool, BootSettings, DemoFlavor, DemoSettings, ExistingCloud, LabConfig,
                              NodeSize, PrepProfile, RhelSubscription, Secret)
from lab.config.pulumi_source import load, read_overlay
from lab.config.parsing import parse
from lab.config.reader import ConfigError, ConfigProblem
from lab.config.schema import SCHEMA

__all__ = [
    "STAGES", "SCHEMA", "AddressPool", "BootSettings", "ConfigError", "DemoFlavor", "DemoSettings", "ConfigProblem",
    "ExistingCloud", "LabConfig", "NodeSize", "PrepProfile", "RhelSubscription", "Secret", "load", "parse",
    "read_overlay",
]

"""`LabResource`: what every dynamic resource of the lab does when it is declared.

A resource registers its inputs beside each of its outputs, unknown (None) until the provider
answers, so a preview already has them as attributes; the outputs it names secret are kept encrypted
in the state. Resources with several inputs take them as a frozen args object, the one place that
names, types and explains each input; `fields_of` turns it into the inputs.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Optional

import pulumi
import pulumi.dynamic


class LabResource(pulumi.dynamic.Resource):
    def __init__(
        self,
        provider: pulumi.dynamic.ResourceProvider,
        name: str,
        inputs: dict[str, Any],
        opts: Optional[pulumi.ResourceOptions],
        outputs: Iterable[str] = (),
        secret_outputs: Iterable[str] = (),
    ) -> None:
        secret = pulumi.ResourceOptions(additional_secret_outputs=list(secret_outputs))
        props = {**inputs, **dict.fromkeys(outputs)}
        super().__init__(provider, name, props, pulumi.ResourceOptions.merge(opts, secret))


def fields_of(args: Any) -> dict[str, Any]:
    """A frozen args object's fields by name, values as they are (`dataclasses.asdict` would deep-copy
    them, Outputs included)."""
    return {field.name: getattr(args, field.name) for field in dataclasses.fields(args)}

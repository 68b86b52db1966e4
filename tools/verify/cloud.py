"""The SDK connection from the stack's clouds.yaml text, held in memory: no file, no OS_* variables, no
clouds.yaml search path; the login's password is returned for redaction and never shown."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import openstack
import yaml


class CloudsYamlError(Exception):
    """The text is not a usable clouds.yaml; the message never quotes it."""


@dataclass(frozen=True)
class CloudLogin:
    name: str
    settings: dict[str, Any] = field(repr=False)  # auth (with the password), region_name, identity_api_version

    @property
    def password(self) -> str:
        return str((self.settings.get("auth") or {}).get("password") or "")

    @property
    def auth_url(self) -> str:
        return str((self.settings.get("auth") or {}).get("auth_url") or "")


def read_login(text: str, name: Optional[str] = None) -> CloudLogin:
    """The cloud `name` of a clouds.yaml text (or its only cloud)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        raise CloudsYamlError("cloudsYaml is not valid YAML") from None
    clouds = document.get("clouds") if isinstance(document, dict) else None
    if not isinstance(clouds, dict) or not clouds:
        raise CloudsYamlError("cloudsYaml has no `clouds` mapping")
    if name is None:
        if len(clouds) != 1:
            raise CloudsYamlError(f"cloudsYaml has {len(clouds)} clouds ({', '.join(clouds)}): name one")
        name = next(iter(clouds))
    settings = clouds.get(name)
    if not isinstance(settings, dict) or not isinstance(settings.get("auth"), dict):
        raise CloudsYamlError(f"cloudsYaml has no cloud {name!r} with an `auth` mapping")
    for key in ("auth_url", "username", "password"):
        if not settings["auth"].get(key):
            raise CloudsYamlError(f"cloudsYaml's cloud {name!r} lacks auth.{key}")
    return CloudLogin(name, settings)


def connect(login: CloudLogin) -> openstack.connection.Connection:
    """A connection on exactly this login (nothing from the environment or clouds.yaml files merged in)."""
    return openstack.connect(load_yaml_config=False, load_envvars=False, app_name="openstack-lab-verify",
                             **login.settings)

"""Rules of existing-cloud mode: a Keystone URL, known fields, and the password only as a secret key."""
from __future__ import annotations

import json
import re
from typing import Any, Optional

from lab.config.model import ExistingCloud, Secret
from lab.config.reader import Reader
from lab.config.schema import SCHEMA

FIELDS = ("authUrl", "projectDomainName", "projectName", "region", "userDomainName", "username")
# Keys that shape the lab's own machines and Packstack: they mean nothing on an existing cloud.
LAB_ONLY_KEYS = ("libvirtUri", "storagePool", "storagePoolPath", "baseImage", "hypervisor", "boot", "controller",
                 "compute", "computeCount", "osFlavor", "rhelUsername", "rhelPassword", "openstackRelease",
                 "l2Agent", "packageUpdate", "packstackAnswers", "sshPublicKey", "sshPrivateKey", "bootTimeout")
# The stages existing-cloud mode declares.
CLOUD_STAGES = ("networking", "demo")


def _set_by_user(key: str, value: Any) -> bool:
    """Whether a raw value differs from Pulumi.yaml's default (Pulumi hands the defaults over as config too)."""
    if value in (None, "", {}, [], "{}", "[]"):
        return False
    default = SCHEMA[key].pulumi_default
    as_sent = json.dumps(default) if not isinstance(default, str) else default
    return value != default and str(value) != as_sent


def read(r: Reader) -> Optional[ExistingCloud]:
    given = r.get("cloud")
    password = r.get("cloudPassword")
    if not given:
        if password is not None:
            r.problem("cloudPassword", "is set but cloud.authUrl is not; set cloud.authUrl or remove it")
        return None
    if "password" in given:
        r.problem("cloud.password",
                  "never store it in the cloud object; use `pulumi config set --secret cloudPassword`")
    r.unknown_fields("cloud", {k: v for k, v in given.items() if k != "password"}, FIELDS)
    auth_url = str(given.get("authUrl", ""))
    if not re.match(r"^https?://[^/\s]+", auth_url):
        r.problem("cloud.authUrl", f"{auth_url!r} is not an http(s) Keystone URL such as https://keystone:5000/v3")
    if password is None:
        r.problem("cloudPassword", "existing-cloud mode needs the password: `pulumi config set --secret cloudPassword`")
    stop_after = r.get("stopAfter")
    if stop_after not in CLOUD_STAGES:
        r.problem("stopAfter",
                  f"existing-cloud mode declares only networking and demo: use {' or '.join(CLOUD_STAGES)}")
    for key in LAB_ONLY_KEYS:
        if _set_by_user(key, r.raw.get(key)):
            r.problem(key, "has no effect with cloud.authUrl (existing-cloud mode builds no machines): remove it")
    return ExistingCloud(
        auth_url=auth_url.rstrip("/"),
        username=str(given.get("username", "admin")),
        password=password or Secret(""),
        project_name=str(given.get("projectName", "admin")),
        user_domain_name=str(given.get("userDomainName", "Default")),
        project_domain_name=str(given.get("projectDomainName", "Default")),
        region=str(given.get("region", "RegionOne")),
    )

"""`KeystoneReady`: waits, with a bounded timeout, until Keystone issues a token.

Nothing OpenStack-side is declared before it. It fails fast with a clear message
on rejected credentials (HTTP 401) and with the last error seen when Keystone
does not answer within the timeout. The token is never stored.

Pulumi pickles the provider by reference (this module's path and the class name), so the path is
part of every stack's state: do not move or rename the module.
"""
from __future__ import annotations

import dataclasses
import json
import time
import urllib.error
import urllib.request
from typing import Any, Callable, Optional

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

from providers.polling import NotYet, TimedOut, poll
from providers.resource import LabResource, fields_of

RETRY_PAUSE_SECONDS = 3.0
REQUEST_TIMEOUT_SECONDS = 10.0


class KeystoneNotReady(Exception):
    pass


@dataclasses.dataclass(frozen=True)
class CloudAuth:
    """How to log in to a cloud: what KeystoneReady checks, and what the networking provider and
    clouds.yaml then use."""

    auth_url: pulumi.Input[str]
    username: str
    password: pulumi.Input[str]  # secret
    project_name: str = "admin"
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"
    region: Optional[pulumi.Input[str]] = None  # None: KeystoneReady takes the one its catalog names


def normalize_auth_url(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith("/v3") else url + "/v3"


def _token_request(props: dict[str, Any]) -> urllib.request.Request:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": props["username"],
                        "domain": {"name": props.get("user_domain_name") or "Default"},
                        "password": props["password"],
                    }
                },
            },
            "scope": {
                "project": {
                    "name": props.get("project_name") or "admin",
                    "domain": {"name": props.get("project_domain_name") or "Default"},
                }
            },
        }
    }
    url = normalize_auth_url(props["auth_url"]) + "/auth/tokens"
    return urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )


def _region_from_catalog(catalog: list[dict[str, Any]], wanted: Optional[str]) -> str:
    if wanted:
        return wanted
    for service in catalog:
        if service.get("type") == "identity":
            for endpoint in service.get("endpoints", []):
                region = endpoint.get("region_id") or endpoint.get("region")
                if region:
                    return region
    return "RegionOne"


def wait_for_token(props: dict[str, Any], clock: Callable[[], float] = time.monotonic,
                   sleep: Callable[[float], None] = time.sleep) -> dict[str, str]:
    """Poll Keystone until it issues a token; return auth URL and region."""
    timeout = float(props.get("timeout_seconds") or 600)
    auth_url = normalize_auth_url(props["auth_url"])
    def attempt() -> dict[str, Any]:
        try:
            with urllib.request.urlopen(_token_request(props), timeout=REQUEST_TIMEOUT_SECONDS) as response:
                payload = json.loads(response.read().decode() or "{}")
            catalog = payload.get("token", {}).get("catalog", [])
            return {"auth_url": auth_url, "region": _region_from_catalog(catalog, props.get("region"))}
        except urllib.error.HTTPError as err:
            if err.code == 401:
                raise KeystoneNotReady(
                    f"Keystone at {auth_url} rejected the credentials of user {props['username']!r} "
                    f"in project {props.get('project_name') or 'admin'!r} (HTTP 401): check the admin "
                    "password (cloudPassword in existing-cloud mode)"
                ) from None
            raise NotYet(f"HTTP {err.code} {err.reason}") from None
        except (urllib.error.URLError, OSError, ValueError) as err:
            raise NotYet(str(getattr(err, "reason", err))) from None

    try:
        return poll(attempt, timeout, RETRY_PAUSE_SECONDS, clock, sleep).value
    except TimedOut as out:
        raise KeystoneNotReady(
            f"Keystone at {auth_url} did not issue a token within {timeout:.0f} s "
            f"(last error: {out.last_error}); is the controller up and Packstack finished?"
        ) from None


INPUT_KEYS = tuple(field.name for field in dataclasses.fields(CloudAuth))


def changed_inputs(olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
    """Inputs that differ; olds are the stored outputs (normalized URL, discovered region)."""
    changed = []
    for key in INPUT_KEYS:
        old, new = olds.get(key), news.get(key)
        if key == "auth_url":
            old, new = normalize_auth_url(old or ""), normalize_auth_url(new or "")
        if key == "region" and new is None:
            continue
        if old != new:
            changed.append(key)
    return changed


class KeystoneReadyProvider(ResourceProvider):
    # read and delete are the SDK's: the state is the truth (waiting leaves nothing behind).
    def create(self, props: dict[str, Any]) -> CreateResult:
        ready = wait_for_token(props)
        return CreateResult(f"keystone-{ready['auth_url']}", {**props, **ready})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=bool(changed_inputs(olds, news)), replaces=[], stables=[])

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult({**news, **wait_for_token(news)})


class KeystoneReady(LabResource):
    auth_url: pulumi.Output[str]
    region: pulumi.Output[str]

    def __init__(self, name: str, auth: CloudAuth, timeout_seconds: int = 600,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        inputs = {**fields_of(auth), "password": pulumi.Output.secret(auth.password),
                  "timeout_seconds": timeout_seconds}
        super().__init__(KeystoneReadyProvider(), name, inputs, opts)
        # What comes after logs in with the URL and region Keystone answered on, and so waits for it.
        self.auth = dataclasses.replace(auth, auth_url=self.auth_url, region=self.region)

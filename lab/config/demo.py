"""Rules of stage demo: the image (http(s) URL with its sha256, or an absolute local path), the flavors
(created with sizes, or name-only: one the cloud already has), the keypair's public key, the opt-in
demo server and how long to wait for it."""
from __future__ import annotations

import re
from typing import Any, Optional

from lab.config.model import DemoFlavor, DemoSettings
from lab.config.reader import Reader
from lab.config.schema import SCHEMA

FIELDS = tuple(SCHEMA["demo"].default)
FLAVOR_FIELDS = ("name", "vcpus", "ramMiB", "diskGiB")
DISK_FORMATS = ("qcow2", "raw")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
FLAVOR_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def read(r: Reader) -> dict[str, Any]:
    """LabConfig's demo field."""
    default = SCHEMA["demo"].default
    given = r.get("demo")
    r.unknown_fields("demo", given, FIELDS)
    image = str(given.get("image") or default["image"]).strip()
    # A checksum only goes with the default image; another image needs its own.
    sha_default = default["imageSha256"] if image == default["image"] else None
    sha = given.get("imageSha256") or sha_default
    if re.match(r"^https?://[^/\s]+/\S+$", image):
        if sha is None:
            r.problem("demo.imageSha256", f"{image} needs its published sha256 (64 hex digits) to be verified")
    elif not image.startswith("/"):
        r.problem("demo.image", f"{image!r} is neither an http(s) URL nor an absolute path of an image file")
    if sha is not None:
        sha = str(sha).strip().lower()
        if not SHA256.match(sha):
            r.problem("demo.imageSha256", f"{sha!r} is not a sha256 (64 hex digits)")
    disk_format = str(given.get("diskFormat") or default["diskFormat"])
    if disk_format not in DISK_FORMATS:
        r.problem("demo.diskFormat", f"{disk_format!r} is not one of {', '.join(DISK_FORMATS)}")
    public_key = str(given.get("publicKey") or "").strip() or None
    if public_key is not None and not re.match(r"^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+( .*)?$",
                                               public_key):
        r.problem("demo.publicKey", "is not an OpenSSH public key line such as `ssh-ed25519 AAAA... me`")
    wait = _whole(given.get("waitSeconds", default["waitSeconds"]))
    if isinstance(wait, bool) or not isinstance(wait, int) or wait < 1:
        r.problem("demo.waitSeconds", f"expected a positive whole number of seconds, got {wait!r}")
        wait = default["waitSeconds"]
    return {"demo": DemoSettings(
        image=image,
        image_sha256=sha,
        disk_format=disk_format,
        flavors=_flavors(r, given.get("flavors", default["flavors"])),
        public_key=public_key,
        instance=r.get("demoInstance"),
        wait_seconds=wait,
    )}


def _whole(value: Any) -> Any:
    """`pulumi config set --path` may store numbers as strings."""
    return int(value) if isinstance(value, str) and value.isdigit() else value


def _flavors(r: Reader, given: Any) -> tuple[DemoFlavor, ...]:
    if not isinstance(given, list) or not given:
        r.problem("demo.flavors", "expected a non-empty list of {name, vcpus, ramMiB, diskGiB} (name only: "
                                  "a flavor the cloud already has)")
        return ()
    flavors, names = [], set()
    named = [{"name": spec} if isinstance(spec, str) else spec for spec in given]
    for where, spec in r.objects("demo.flavors", named, FLAVOR_FIELDS, also=" or a flavor name"):
        name = str(spec.get("name", ""))
        if not FLAVOR_NAME.match(name):
            r.problem(f"{where}.name", f"{name!r} is not a flavor name (letters, digits, '.', '_', '-')")
        if name in names:
            r.problem(f"{where}.name", f"{name} is listed twice")
        names.add(name)
        sizes = {k: spec.get(k) for k in FLAVOR_FIELDS[1:]}
        if all(v is None for v in sizes.values()):
            flavors.append(DemoFlavor(name))
            continue
        values: dict[str, Optional[int]] = {}
        for key, value in sizes.items():
            value = _whole(value)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                r.problem(f"{where}.{key}", f"expected a positive whole number, got {value!r} "
                                            "(or give only the name of a flavor the cloud has)")
                value = 1
            values[key] = value
        flavors.append(DemoFlavor(name, values["vcpus"], values["ramMiB"], values["diskGiB"]))
    return tuple(flavors)

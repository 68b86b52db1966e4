"""`ImageFile`: an image file on this host whose sha256 is verified before Glance gets it.

A URL is downloaded once into a cache directory (kept under its checksum, so a second stack or a
re-create reuses it) and the download's sha256 must equal the one given; a local file is hashed and
checked the same way (or only recorded, when no checksum is given). The verified path feeds
`openstack.images.Image(local_file_path=...)`, which then checks Glance's own checksum of the upload.
The cache (~/.cache/openstack-lab/images) is shared by the host's stacks and kept on delete; a local
file is never touched.

Pulumi pickles the provider by reference (this module's path and the class name), so the path is
part of every stack's state: do not move or rename the module.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

from providers.resource import LabResource, fields_of

DOWNLOAD_TIMEOUT_SECONDS = 60.0
CHUNK = 1024 * 1024
# Properties whose change means another file.
REPLACE_ON = ("source", "sha256", "cache_dir")


class ImageChecksumMismatch(Exception):
    pass


def is_url(source: str) -> bool:
    return re.match(r"^https?://", source) is not None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cached_path(source: str, sha256: str, cache_dir: str) -> Path:
    name = re.sub(r"[^A-Za-z0-9._-]", "_", source.rstrip("/").rsplit("/", 1)[-1]) or "image"
    return Path(cache_dir) / f"{sha256[:16]}-{name}"


def fetch(props: dict[str, Any], opener: Callable[..., Any] = urllib.request.urlopen) -> dict[str, Any]:
    """The verified file: {path, sha256, size, downloaded}."""
    source, want = props["source"], props.get("sha256") or None
    if not is_url(source):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"image file {source} does not exist on this host")
        got = sha256_of(path)
        if want and got != want:
            raise ImageChecksumMismatch(f"{source}: sha256 is {got}, not the expected {want} (demo.imageSha256)")
        return {"path": str(path), "sha256": got, "size": path.stat().st_size, "downloaded": False}
    assert want, "a URL needs its sha256"
    if props.get("proxy"):  # packageSources.proxy (login included); otherwise urllib's own: the environment's
        handler = urllib.request.ProxyHandler({"http": props["proxy"], "https": props["proxy"]})
        opener = urllib.request.build_opener(handler).open
    target = cached_path(source, want, props["cache_dir"])
    if target.is_file() and sha256_of(target) == want:
        pulumi.log.info(f"{source}: using the verified copy {target}")
        return {"path": str(target), "sha256": want, "size": target.stat().st_size, "downloaded": True}
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, partial = tempfile.mkstemp(dir=target.parent, prefix=".partial-")
    try:
        with os.fdopen(fd, "wb") as out, opener(source, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:
            for chunk in iter(lambda: response.read(CHUNK), b""):
                digest.update(chunk)
                out.write(chunk)
        got = digest.hexdigest()
        if got != want:
            raise ImageChecksumMismatch(
                f"{source}: the download's sha256 is {got}, not the expected {want} (demo.imageSha256); "
                "nothing was uploaded"
            )
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return {"path": str(target), "sha256": want, "size": target.stat().st_size, "downloaded": True}


OUTPUTS = ("path", "size", "downloaded")


class _ImageFileProvider(ResourceProvider):
    # read and delete are the SDK's: the state is the truth.
    def create(self, props: dict[str, Any]) -> CreateResult:
        got = fetch(props)
        return CreateResult(id_=got["sha256"], outs={**props, **got})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in news if k not in OUTPUTS and olds.get(k) != news.get(k)]
        # A local file without a given checksum is identified by the one recorded at create.
        if "sha256" in changed and not news.get("sha256") and not is_url(news["source"]):
            changed.remove("sha256")
        return DiffResult(changes=bool(changed), replaces=[k for k in changed if k in REPLACE_ON],
                          delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs={**news, **{k: olds.get(k) for k in (*OUTPUTS, "sha256")}})


@dataclass(frozen=True)
class ImageFileArgs:
    source: str  # a URL or a local path
    sha256: Optional[str]  # the expected checksum; None: a local file is taken as it is
    cache_dir: str  # where downloads are kept
    # http://[user:password@]host:port the download goes through (a secret); None: no input, urllib's default
    # (http_proxy/https_proxy of the environment), as before the key existed.
    proxy: Optional[pulumi.Input[str]] = None


class ImageFile(LabResource):
    path: pulumi.Output[str]
    sha256: pulumi.Output[str]
    size: pulumi.Output[int]

    def __init__(self, name: str, args: ImageFileArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        props = {k: v for k, v in fields_of(args).items() if not (k == "proxy" and v is None)}
        super().__init__(_ImageFileProvider(), name, props, opts, outputs=OUTPUTS,
                         secret_outputs=("proxy",) if "proxy" in props else ())

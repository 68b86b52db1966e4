"""A libvirt host by its URI, as preflight reads it: on this machine or not, libvirt's test driver, its
socket. Pure: only the URI (and, for a session daemon's socket, the environment)."""
from __future__ import annotations

import os
from urllib.parse import parse_qs, urlparse

# Where libvirt's usual `default` pool keeps its volumes (what the pool check tells to create).
DEFAULT_POOL_DIR = "/var/lib/libvirt/images"


def is_local(uri: str) -> bool:
    """A libvirt URI whose daemon runs on this machine (so this machine's facts are its facts)."""
    parsed = urlparse(uri)
    return parsed.scheme in ("qemu", "qemu+unix") and parsed.netloc in ("", "localhost")


def is_test_driver(uri: str) -> bool:
    """libvirt's in-memory test driver (test:///default, test+unix://...): a fake host with fixed numbers."""
    return urlparse(uri).scheme.split("+")[0] == "test"


def libvirt_socket(uri: str) -> str:
    parsed = urlparse(uri)
    given = parse_qs(parsed.query).get("socket")
    if given:
        return given[0]
    if parsed.path == "/session":
        return f"{os.environ.get('XDG_RUNTIME_DIR', f'/run/user/{os.getuid()}')}/libvirt/libvirt-sock"
    return "/run/libvirt/libvirt-sock"


"""The libvirt objects of interrupted creates: a pending "creating" of a libvirt domain, network, volume,
cloud-init disk or pool is looked up by name (virsh; $RECOVER_VIRSH overrides the command) and, when it exists
and the state does not hold it, removed: it may be half made, and `up` creates it again under that name."""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from typing import Any

from lab import libvirt_ssh

from .messages import Failure, say

Deployment = dict[str, Any]

LIBVIRT_TYPES = {
    "libvirt:index/domain:Domain": "domain",
    "libvirt:index/network:Network": "network",
    "libvirt:index/volume:Volume": "volume",
    "libvirt:index/cloudInitDisk:CloudInitDisk": "volume",
    "libvirt:index/pool:Pool": "pool",
}
# virsh verbs per libvirt object kind: does it exist, stop it, remove it (a domain's NVRAM with it where it has one).
LIFECYCLE = {
    "domain": ("domuuid", "destroy", (("undefine", "--nvram"), ("undefine",))),
    "network": ("net-uuid", "net-destroy", (("net-undefine",),)),
    "pool": ("pool-uuid", "pool-destroy", (("pool-undefine",),)),
}
VIRSH_TIMEOUT_S = 300
SSH_TIMEOUT_S = 20  # the login to a qemu+ssh host


class Virsh:
    def __init__(self) -> None:
        self.argv = shlex.split(os.environ.get("RECOVER_VIRSH", "virsh"))

    def available(self) -> bool:
        return shutil.which(self.argv[0]) is not None

    def __call__(self, uri: str, *args: str) -> bool:
        target = libvirt_ssh.ssh_target(uri)
        if target is None:
            return self.run(uri, *args)
        # A qemu+ssh host as the libvirt provider reaches it (its key, its known_hosts), not virsh's own ssh; a
        # failed login is no answer "it does not exist".
        try:
            with libvirt_ssh.forwarded(target, SSH_TIMEOUT_S) as tunnel:
                return self.run(tunnel.uri, *args)
        except libvirt_ssh.SshFailure as failure:
            raise Failure(f"cannot reach libvirtd at {uri} ({failure.detail}): "
                          f"{libvirt_ssh.fix(failure.kind, target, 'the host URI')}; then run this again") from None

    def run(self, uri: str, *args: str) -> bool:
        proc = subprocess.run([*self.argv, "-q", "-c", uri, *args], check=False, capture_output=True, text=True,
                              timeout=VIRSH_TIMEOUT_S)
        return proc.returncode == 0


def provider_uri(deployment: Deployment, ref: str) -> str:
    urn = ref.rsplit("::", 1)[0] if ref else ""
    for res in deployment.get("resources") or []:
        if res.get("urn") == urn:
            uri = (res.get("inputs") or {}).get("uri") or (res.get("outputs") or {}).get("uri")
            if isinstance(uri, str) and uri:
                return uri
    return "qemu:///system"


def managed_names(deployment: Deployment, rtype: str) -> set[str]:
    names = set()
    for res in deployment.get("resources") or []:
        if res.get("type") == rtype:
            for props in (res.get("outputs") or {}, res.get("inputs") or {}):
                if isinstance(props.get("name"), str):
                    names.add(props["name"])
    return names


def remove_orphan(virsh: Virsh, uri: str, kind: str, name: str, pool: str) -> bool:
    """Remove the libvirt object `name` of `kind` when it exists; True when it did."""
    if kind not in LIFECYCLE:  # a volume (or cloud-init disk) of `pool`
        if not virsh(uri, "vol-key", "--pool", pool, name):
            return False
        if not virsh(uri, "vol-delete", "--pool", pool, name):
            raise Failure(f"cannot delete the orphaned volume {name}: virsh -c {uri} vol-delete --pool {pool} {name}")
        return True
    exists, stop, removals = LIFECYCLE[kind]
    if not virsh(uri, exists, name):
        return False
    virsh(uri, stop, name)
    if not any(virsh(uri, *removal, name) for removal in removals):
        last = " ".join(removals[-1])
        raise Failure(f"cannot remove the orphaned {kind} {name}: virsh -c {uri} {last} {name}")
    return True


def resolve_pending(deployment: Deployment) -> int:
    """Report every pending operation; remove the libvirt objects of interrupted creates. Returns their count."""
    pending = deployment.get("pending_operations") or []
    virsh = Virsh()
    for op in pending:
        res = op.get("resource") or {}
        urn, rtype, kind = res.get("urn", "?"), res.get("type", "?"), op.get("type", "?")
        say(f"pending {kind} of {urn}")
        if kind != "creating":
            continue  # the resource is in the state: refresh reads what libvirt really has
        inputs = res.get("inputs") or {}
        name = inputs.get("name")
        lv_kind = LIBVIRT_TYPES.get(rtype)
        if lv_kind is None or not isinstance(name, str):
            say(f"  cleared (not a libvirt object; `up` creates {urn.rsplit('::', 1)[-1]} again)")
            continue
        if name in managed_names(deployment, rtype):
            say(f"  cleared ({lv_kind} {name} is held by another resource of the state; left alone)")
            continue
        if not virsh.available():
            raise Failure(f"{virsh.argv[0]} not found: install libvirt-clients, or remove the {lv_kind} {name} by hand "
                          "if it exists, then run this again")
        uri = provider_uri(deployment, res.get("provider", ""))
        pool = inputs.get("pool")
        if remove_orphan(virsh, uri, lv_kind, name, pool if isinstance(pool, str) else "default"):
            say(f"  removed the orphaned {lv_kind} {name} ({uri}): its create was interrupted; `up` creates it again")
        else:
            say(f"  cleared ({lv_kind} {name} does not exist in {uri})")
    return len(pending)

"""A lab host's libvirtd answers over its URI, with the fix for a daemon on this machine or one reached over
SSH; whether the host's other facts can be judged at all."""
from __future__ import annotations

from lab import libvirt_ssh
from lab.preflight.check import Check, HostScope
from lab.preflight.facts import HostFacts


def libvirt(scope: HostScope, facts: HostFacts) -> Check:
    uri, uri_key = scope.host.uri, scope.uri_key
    if facts.reachable is None:
        return scope.check("libvirt", False, f"{uri_key} {uri}: not checked, this machine has no virsh: install "
                                             "libvirt-clients so that `make doctor` and `pulumi up` can check the "
                                             "host before any change", fatal=False)
    if not facts.reachable:
        said = f" ({facts.error})" if facts.error else ""
        if scope.local:
            fix = ("install libvirt-daemon-system, start it (systemctl enable --now libvirtd) and add yourself to "
                   "group libvirt (then log in again)")
        elif (target := libvirt_ssh.ssh_target(uri)) is not None:
            # Over SSH as the libvirt provider logs in (its keys, its known_hosts), not as virsh's own ssh would.
            fix = libvirt_ssh.fix(facts.ssh_failure or "forward", target, uri_key)
        else:
            fix = (f"check {uri_key} and that libvirtd runs on that host and listens for this transport; "
                   f"`virsh -c '{uri}' nodeinfo` must work from here")
        return scope.check("libvirt", False, f"cannot reach libvirtd at {uri_key} {uri}{said}: {fix}")
    if facts.test_driver:
        return scope.check("libvirt", True, f"{uri} answers: libvirt's test driver, an in-memory fake host, so its "
                                            "memory, disk, pool and bridges are not checked")
    return scope.check("libvirt", True, f"libvirtd answers at {uri}")


def judged(scope: HostScope, facts: HostFacts) -> bool:
    """Whether the host's pool, bridges, memory and disk are checked: not for a host not asked, nor for a remote
    one that did not answer (nothing more to learn about it from here), nor for the test driver. A host on this
    machine is, even when its libvirtd does not answer: its memory and disk are this machine's."""
    if facts.reachable is None:
        return False
    if not facts.reachable:
        return scope.local
    return not facts.test_driver

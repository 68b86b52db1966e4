"""The checks, one module per area: identity (token, catalog), compute (services, hypervisors), network (L2
agents, the lab's networks), instances (servers, floating IPs, ping, SSH), storage (Cinder volume, Swift
object). Each check takes the run's Context, returns the detail of its line, raises CheckFailed or Skipped."""
from __future__ import annotations


def short(host: str) -> str:
    """A host's first DNS label, lower-case: how Nova and Neutron hosts (FQDNs on the lab's nodes) are matched
    with the lab's node names."""
    return (host or "").split(".", 1)[0].lower()

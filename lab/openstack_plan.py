"""What the lab declares in OpenStack, planned: every name (`<prefix>-private`, `<prefix>-key`, ...), the
networking stage's settings and the demo stage's. Pure and immutable; lab/plan.py makes them."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from lab.config.model import DemoSettings, Secret


@dataclass(frozen=True)
class OpenStackNames:
    """Names of the lab's OpenStack resources and of its clouds.yaml entry, all `<prefix>-...`."""

    cloud: str  # the clouds.yaml entry (OS_CLOUD)
    external_network: str  # also the floating-IP pool
    public_subnet: str
    router: str
    private_network: str
    private_subnet: str
    keypair: str
    security_group: str
    demo_server: str  # the server demoInstance boots (and its port)


def openstack_names(prefix: str) -> OpenStackNames:
    return OpenStackNames(
        cloud=prefix,
        external_network=f"{prefix}-external",
        public_subnet=f"{prefix}-public",
        router=f"{prefix}-router",
        private_network=f"{prefix}-private",
        private_subnet=f"{prefix}-private",
        keypair=f"{prefix}-key",
        security_group=f"{prefix}-demo",
        demo_server=f"{prefix}-demo",
    )


def image_name(prefix: str, source: str) -> str:
    """<prefix>-<file name without its extension>, e.g. openstack-lab-alice-cirros-0.6.3-x86_64-disk."""
    stem = source.rstrip("/").rsplit("/", 1)[-1]
    stem = re.sub(r"\.(img|qcow2|raw)$", "", stem) or "image"
    return f"{prefix}-{stem}"


@dataclass(frozen=True)
class NetworkingPlan:
    """Stage networking: the external flat network on the physnet, the public subnet, router, private network."""

    names: OpenStackNames
    physical_network: str
    external_cidr: str
    external_gateway: str
    pool_start: str  # floating-IP allocation pool
    pool_end: str
    private_cidr: str
    dns_servers: tuple[str, ...]  # of the private subnet


@dataclass(frozen=True)
class DemoPlan:
    """Stage demo: an image, flavors, a keypair, a security group; optionally a server."""

    settings: DemoSettings
    names: OpenStackNames
    image_name: str
    public_key: Optional[str]  # demo.publicKey; None: the keypair takes the login key
    existing_flavors: frozenset[str]  # flavors the cloud already has (a lab's Packstack makes m1.*)
    image_visibility: str  # public in a lab; private on an existing cloud, where the user may not publish
    ssh_key_file: str  # what the user's ssh line names as the keypair's private key
    download_proxy: Optional[Secret] = None  # packageSources.proxy (with its login) for the image's download

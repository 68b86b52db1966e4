"""Text the user's own tools read, rendered from values: clouds.yaml (the `cloudsYaml` output) and the
known_hosts lines of the nodes (the `knownHosts` output, which `make ssh-config` writes)."""
from __future__ import annotations

from typing import Sequence

import yaml

from lab.node_plan import HostEntry


def clouds_yaml(cloud_name: str, auth_url: str, region: str, username: str, password: str,
                project: str = "admin", user_domain: str = "Default", project_domain: str = "Default") -> str:
    document = {
        "clouds": {
            cloud_name: {
                "auth": {
                    "auth_url": auth_url,
                    "username": username,
                    "password": password,
                    "project_name": project,
                    "user_domain_name": user_domain,
                    "project_domain_name": project_domain,
                },
                "region_name": region,
                "identity_api_version": 3,
            }
        }
    }
    return yaml.safe_dump(document, sort_keys=False)


def known_hosts(entries: Sequence[HostEntry], host_keys: Sequence[str]) -> str:
    """One line per node: its address, FQDN and short name, then its host key's type and base64 (no comment)."""
    return "".join(
        f"{entry.ip},{entry.fqdn},{entry.short} {' '.join(key.split()[:2])}\n"
        for entry, key in zip(entries, host_keys, strict=True)
    )

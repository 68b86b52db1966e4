"""`make caching-proxy`: squid on this machine as the caching proxy of the lab's nodes (issue 21 item 3), so a
rebuilt lab downloads no package twice. Renders the recipe's configuration (lab/caching_proxy.py) for the stack's
networks and hands it to tools/caching-proxy.sh, which installs squid (Debian/Ubuntu or EL/Fedora), puts the
file in place and (re)starts squid only when something changed (idempotent).

Usage: python tools/caching_proxy.py [--stack NAME] [--cache-mib N] [--htpasswd FILE] [--print]
  --print   only print the configuration (nothing is installed)
"""
from __future__ import annotations

import argparse
import ipaddress
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lab.caching_proxy import (  # noqa: E402
    DEFAULT_CACHE_MIB,
    DEFAULT_PORT,
    BasicAuth,
    SquidSettings,
    squid_config,
)
from lab.config import ConfigError, LabConfig, parse, read_overlay  # noqa: E402
from lab.preflight.probes.package_sources import UNREAD_SECRET  # noqa: E402

# Where the distributions put squid's NCSA helper.
NCSA_HELPERS = ("/usr/lib/squid/basic_ncsa_auth", "/usr/lib64/squid/basic_ncsa_auth")


def settings_for(clients: Iterable[str], cache_mib: int = DEFAULT_CACHE_MIB,
                 auth: Optional[BasicAuth] = None) -> SquidSettings:
    """The recipe: every address of this machine on DEFAULT_PORT (the lab's networks exist only after `up`, and
    a fixed address would keep squid from starting before), the given client networks, the distribution's paths."""
    return SquidSettings(clients=tuple(dict.fromkeys(clients)), cache_mib=cache_mib, auth=auth)


def lab_clients(cfg: LabConfig) -> tuple[str, ...]:
    """The networks the nodes download from: the stack's management network and the supernet every stack's
    derived networks come from (so one proxy serves every developer's stack on this host)."""
    supernet = ipaddress.ip_network(cfg.supernet, strict=False)
    management = ipaddress.ip_network(cfg.management_cidr, strict=False)
    inside = management.version == supernet.version and management.subnet_of(supernet)  # type: ignore[arg-type]
    return (cfg.supernet,) if inside else (cfg.supernet, cfg.management_cidr)


def main(argv: Optional[list[str]] = None) -> int:
    from tools.doctor import stack_config

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default=os.environ.get("STACK") or os.environ.get("USER") or "dev")
    parser.add_argument("--cache-mib", type=int, default=DEFAULT_CACHE_MIB,
                        help=f"disk cache size in MiB (default {DEFAULT_CACHE_MIB})")
    parser.add_argument("--htpasswd", help="ask for a login: an htpasswd file (user:crypt-hash lines) for squid")
    parser.add_argument("--print", action="store_true", help="print the configuration only")
    args = parser.parse_args(argv)
    raw = stack_config(args.stack)
    try:
        cfg = parse(raw, "openstack-lab", args.stack, frozenset(k for k, v in raw.items() if v == UNREAD_SECRET),
                    overlay=read_overlay())
    except ConfigError as err:
        print(f"caching-proxy: {err}", file=sys.stderr)
        return 1
    auth = None
    if args.htpasswd:
        helper = next((h for h in NCSA_HELPERS if Path(h).exists()), NCSA_HELPERS[0])
        auth = BasicAuth(helper, str(Path(args.htpasswd).resolve()))
    config = squid_config(settings_for(lab_clients(cfg), args.cache_mib, auth))
    if args.print:
        print(config, end="")
        return 0
    with tempfile.NamedTemporaryFile("w", prefix="squid-", suffix=".conf") as staged:
        staged.write(config)
        staged.flush()
        proc = subprocess.run(["bash", str(ROOT / "tools" / "caching-proxy.sh"), staged.name, str(DEFAULT_PORT)],
                              stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        return proc.returncode
    # NAT mode: the management network's gateway is this machine; bridge mode: the LAN's router, so say which.
    host = (cfg.management_gateway if cfg.network.mode != "bridge"
            else "<this machine's address on the management LAN>")
    print(f"caching-proxy: squid caches for {', '.join(lab_clients(cfg))} on port {DEFAULT_PORT}; for stack "
          f"{args.stack}: pulumi config set --path packageSources.proxy http://{host}:{DEFAULT_PORT} "
          f"(a host firewall must admit tcp/{DEFAULT_PORT} from the management network)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

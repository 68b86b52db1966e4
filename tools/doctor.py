"""Host preflight (`make doctor`): every check of lab/preflight/ for a stack's config, printed one per
line, this machine's first, then each libvirt host's (probed over its URI) and each existing machine's,
before anything is created.

Usage: python tools/doctor.py [--stack NAME]  (reads Pulumi.<stack>.yaml; exit 1 on a failure)
The proxy password (packageProxyPassword) is read through the Pulumi CLI when it can (`make doctor` runs with
toolchain/env.sh), into memory only, so the proxy's login is checked too; otherwise the check says it was not.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lab.config import ConfigError, parse, read_overlay  # noqa: E402
from lab.plan import LabPlan, plan  # noqa: E402
from lab.preflight import Check, fatal_problems, gather, run_checks  # noqa: E402
from lab.preflight.probes.package_sources import UNREAD_SECRET  # noqa: E402

# The secrets a check uses (the proxy login), read through the Pulumi CLI when the stack can give them.
CHECKED_SECRETS = ("packageProxyPassword",)
Run = Callable[..., "subprocess.CompletedProcess[str]"]


def stack_config(stack: str) -> dict:
    import yaml

    path = ROOT / f"Pulumi.{stack}.yaml"
    if not path.exists():
        return {}
    values = (yaml.safe_load(path.read_text()) or {}).get("config", {}) or {}
    # Secure values are encrypted here; the preflight only needs to know they are set.
    return {
        key.split(":", 1)[1]: (UNREAD_SECRET if isinstance(value, dict) and "secure" in value else value)
        for key, value in values.items()
        if key.startswith("openstack-lab:")
    }


def read_secret(stack: str, key: str, run: Run = subprocess.run) -> Optional[str]:
    """`pulumi config get KEY` of the stack, decrypted by the CLI (its passphrase from toolchain/env.sh), kept in
    memory only; None when there is no CLI or it cannot give it (no stack yet, another passphrase): never fatal."""
    if shutil.which("pulumi") is None:
        return None
    try:
        proc = run(["pulumi", "--non-interactive", "config", "get", key, "--stack", stack], cwd=ROOT,
                   capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = proc.stdout.rstrip("\n")
    return value if proc.returncode == 0 and value else None


def report(lab: LabPlan, checks: list[Check]) -> list[str]:
    """The checks as lines: this machine's, then a heading and the checks of each host and existing machine."""
    lines, heading = [], None
    for check in checks:
        if check.host is not None:
            host = lab.hosts[check.host]
            group = f"{check.where or 'libvirtUri'} {host.uri}:"
        elif check.where:
            group = f"{check.where}:"
        else:
            group = "this machine:"
        if group != heading:
            lines.append(f"-- {group}")
        heading = group
        mark = "ok  " if check.ok else ("FAIL" if check.fatal else "warn")
        lines.append(f"[{mark}] {check.name}: {check.detail}")
    return lines


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default=os.environ.get("STACK") or os.environ.get("USER") or "dev")
    args = parser.parse_args(argv)
    raw = stack_config(args.stack)
    secret_keys = frozenset(k for k, v in raw.items() if v == UNREAD_SECRET)
    for key in secret_keys.intersection(CHECKED_SECRETS):
        raw[key] = read_secret(args.stack, key) or UNREAD_SECRET
    try:
        cfg = parse(raw, "openstack-lab", args.stack, secret_keys, overlay=read_overlay())
    except ConfigError as err:
        print(f"doctor: {err}", file=sys.stderr)
        return 1
    lab = plan(cfg)
    checks = run_checks(lab, gather(lab, sources=True))
    for line in report(lab, checks):
        print(line)
    failed = fatal_problems(checks)
    if failed:
        print(f"doctor: {len(failed)} problem(s) must be fixed before `pulumi up` (stack {args.stack})",
              file=sys.stderr)
        return 1
    hosts = len(cfg.lab_hosts) if not cfg.existing_cloud else 0
    print(f"doctor: this machine and {hosts} libvirt host(s) ready for stack {args.stack}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

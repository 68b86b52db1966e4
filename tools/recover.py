"""Recover a stack after an interrupted `pulumi up` (`make recover STACK=name`): say what the run left, then
make the next `make up` converge.

Usage: python3 tools/recover.py [--stack NAME] [--cwd PROGRAM_DIR] [--force]
       (after `source toolchain/env.sh`: the file backend in PULUMI_BACKEND_URL, the passphrase in
       PULUMI_CONFIG_PASSPHRASE(_FILE); standard library only)

What a killed (SIGKILL, lost terminal, power) `pulumi up` leaves, and what this does about each:
1. a lock file `<backend>/.pulumi/locks/organization/<project>/<stack>/<id>.json` ({pid, username, hostname,
   timestamp}); the next `up`/`refresh`/`destroy` fails with "the stack is currently locked". It is removed only
   when its pid is no pulumi process on this host any more and no other pulumi of this stack (same backend)
   runs; a lock of another host is left alone unless --force.
2. its plugin processes (language host, dynamic providers, the libvirt plugin), started in their own process
   groups: they outlive the CLI and may still finish a create. Those of this backend whose engine is gone (no
   pulumi ancestor, nothing listening on their engine port in their network namespace) are stopped first.
3. `pending_operations` in the state: a "creating" entry is an object whose create started but was never
   recorded. For libvirt domains, networks, volumes, cloud-init disks and pools the object is looked up by
   name (virsh; $RECOVER_VIRSH overrides the command) and, when it exists and the state does not hold it,
   removed: it may be half made, and `up` creates it again under the same name. Other pending creates are
   cleared (the lab's other resources are keys, answers and idempotent remote commands).
Then `pulumi refresh --clear-pending-creates --parallel 1` (a parallel refresh once hung in the libvirt plugin)
brings the state in line with libvirt. Running it again on a healthy stack changes nothing but a refresh.
Exit 0 recovered, 2 a pulumi of this stack still runs (or another host's lock), 3 passphrase or CLI failure.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout's root, before its imports

from tools.recovery.run import main

if __name__ == "__main__":
    sys.exit(main(description=__doc__.splitlines()[0] if __doc__ else ""))

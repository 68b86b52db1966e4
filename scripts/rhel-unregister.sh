#!/usr/bin/env bash
# Returns the node's subscription on `pulumi destroy`; a no-op when not registered.
set -euo pipefail
if subscription-manager identity >/dev/null 2>&1; then
  subscription-manager unregister
fi

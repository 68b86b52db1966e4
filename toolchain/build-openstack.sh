#!/usr/bin/env bash
# Build OUT_DIR/pulumi-resource-openstack (version 5.5.3 = pulumi-plugin.json of the pinned Python SDK
# pulumi-openstack==5.5.3) from the thin bridge in toolchain/providers/openstack/.
# Usage: toolchain/build-openstack.sh OUT_DIR   (idempotent; see providers/build-provider.sh)
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
exec bash "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/providers/build-provider.sh" openstack 5.5.3 "$1"

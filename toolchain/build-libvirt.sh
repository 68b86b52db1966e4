#!/usr/bin/env bash
# Build OUT_DIR/pulumi-resource-libvirt (version 0.5.4 = pulumi-plugin.json of the pinned Python SDK
# pulumi-libvirt==0.5.4) from the thin bridge in toolchain/providers/libvirt/.
# Usage: toolchain/build-libvirt.sh OUT_DIR   (idempotent; see providers/build-provider.sh)
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
exec bash "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/providers/build-provider.sh" libvirt 0.5.4 "$1"

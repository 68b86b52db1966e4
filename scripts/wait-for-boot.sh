#!/usr/bin/env bash
# First command on every node: returns once cloud-init has finished, so every
# later step sees the hostname, keys and files cloud-init installs.
# The SSH connection retries (dial errors) are carried by this command alone.
set -euo pipefail

if command -v cloud-init >/dev/null 2>&1; then
  rc=0
  cloud-init status --wait >/dev/null || rc=$?
  # cloud-init >= 23.4 exits 2 for "done, with recoverable warnings" (e.g. deprecated keys).
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then
    cloud-init status --long >&2 || true
    echo "cloud-init failed on $(hostname) (exit $rc)" >&2
    exit 1
  fi
fi
hostname -f

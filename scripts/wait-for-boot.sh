#!/usr/bin/env bash
# First command on every node: returns once cloud-init has finished cleanly, so every
# later step sees the hostname, keys and files cloud-init installs.
# The SSH connection retries (dial errors) are carried by this command alone.
# Only a clean finish counts: an error or a recoverable error ("degraded", exit 2 since
# cloud-init 23.4) fails the node here, with cloud-init's own account of what went wrong,
# instead of surfacing later as a confusing prep failure.
# Inputs (environment): LAB_BOOT_TIMEOUT (seconds to wait for cloud-init, default 900).
set -euo pipefail

timeout_s=${LAB_BOOT_TIMEOUT:-900}

report() {
  echo "--- cloud-init status --long" >&2
  cloud-init status --long >&2 || true
  # The failing modules and their messages, as cloud-init logged them.
  if [ -r /var/log/cloud-init.log ]; then
    echo "--- warnings and errors in /var/log/cloud-init.log" >&2
    grep -E '\b(WARNING|ERROR|CRITICAL)\b|[Ff]ailed|Traceback' /var/log/cloud-init.log | tail -n 30 >&2 || true
  fi
}

if command -v cloud-init >/dev/null 2>&1; then
  rc=0
  timeout "$timeout_s" cloud-init status --wait >/dev/null || rc=$?
  if [ "$rc" -eq 124 ]; then
    report
    echo "cloud-init did not finish on $(hostname) within ${timeout_s} s (LAB_BOOT_TIMEOUT)" >&2
    exit 1
  fi
  if [ "$rc" -ne 0 ]; then
    report
    echo "cloud-init did not finish cleanly on $(hostname) (cloud-init status exit $rc; 1 = error, 2 = recoverable errors)" >&2
    exit 1
  fi
fi
hostname -f

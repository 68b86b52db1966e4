#!/usr/bin/env bash
# Set this node's clock to the lab host's time (`make revert`, tools/lifecycle/guest_clock.py): a node reverted to a
# snapshot with memory resumes with its clock at the moment the snapshot was taken. chrony would not fix that soon:
# EL9's chrony.conf steps only during its first three updates (`makestep 1.0 3`) and slews any later offset (at
# most 83 ms per second by default: a week-old snapshot would take days), and a lab without NTP never corrects it. The host sends its time (seconds since the epoch, fractional) on stdin right after this script
# says `ready`, so the round trip of one line is the only error. Prints the offset it corrected.
# Idempotent: a second run sets the same clock again.
set -euo pipefail

echo ready
if ! read -r -t 30 host_now; then
    echo "clock-set: no time from the lab host within 30 s" >&2
    exit 1
fi
if ! [[ "$host_now" =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
    echo "clock-set: not a time: $host_now" >&2
    exit 1
fi
before=$(date +%s.%N)
date -u -s "@${host_now}" >/dev/null
# The hardware clock too, where there is one (a later reboot keeps the right time).
if command -v hwclock >/dev/null 2>&1; then
    hwclock --systohc >/dev/null 2>&1 || true
fi
awk -v host="$host_now" -v guest="$before" 'BEGIN { printf "offset_seconds=%.3f\n", host - guest }'

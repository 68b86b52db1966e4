#!/bin/sh
# Runs inside a `make verify` server, not on a lab node: CirrOS has busybox sh and no bash, hence POSIX sh
# (scripts/guest/ holds only such guest-side scripts). Fed through `ssh ... sh -s`: one line per virtio disk,
# "<name> <serial>" (Nova gives a Cinder volume's disk the volume ID as its serial, cut to 20 characters).
set -eu
for disk in /sys/block/vd*; do
    [ -e "$disk" ] || continue
    serial=$(cat "$disk/serial" 2>/dev/null || true)
    printf '%s %s\n' "${disk##*/}" "$serial"
done

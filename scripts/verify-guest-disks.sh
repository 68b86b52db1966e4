#!/bin/sh
# Run in a `make verify` server (CirrOS: busybox sh) through `ssh ... sh -s`: one line per virtio disk,
# "<name> <serial>" (Nova gives a Cinder volume's disk the volume ID as its serial, cut to 20 characters).
for disk in /sys/block/vd*; do
    [ -e "$disk" ] || continue
    serial=$(cat "$disk/serial" 2>/dev/null || true)
    printf '%s %s\n' "${disk##*/}" "$serial"
done

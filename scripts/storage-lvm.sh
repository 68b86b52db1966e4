#!/usr/bin/env bash
# Prepares the controller's data disks for Packstack, idempotently:
# - Cinder: the LVM volume group LAB_CINDER_VG (cinder-volumes) on LAB_CINDER_DEVICE, so Packstack
#   (CONFIG_CINDER_VOLUMES_CREATE=n) makes no loopback file on the root disk;
# - Swift: only checks LAB_SWIFT_DEVICE (Packstack's Puppet makes its file system and mounts it).
# Each disk must be the size the lab gave it (LAB_*_SIZE_GIB) and carry nothing the lab did not make:
# a disk with a partition table or a file system of its own is refused, never wiped.
# A second run changes nothing.
# Inputs (environment, all optional): LAB_CINDER_DEVICE, LAB_CINDER_SIZE_GIB, LAB_CINDER_VG,
# LAB_SWIFT_DEVICE, LAB_SWIFT_SIZE_GIB.
set -euo pipefail

log() { printf '[storage %s] %s\n' "$(hostname -s)" "$*"; }
fail() { printf '%s: %s\n' "$(hostname -s)" "$*" >&2; exit 1; }

# The disk exists and has the size the lab created it with (the wrong disk is refused before anything).
check_disk() {
  local dev=$1 gib=$2 bytes
  [ -e "$dev" ] || fail "no disk $dev: is the data disk attached? (virsh domblklist)"
  bytes=$(blockdev --getsize64 "$dev")
  [ "$bytes" = "$((gib * 1024 * 1024 * 1024))" ] \
    || fail "$dev has $bytes bytes, not the ${gib} GiB of the lab's data disk: refusing to touch it"
}

# What is on the disk: a partition table (PTTYPE) or a file system/LVM signature (TYPE); empty when blank.
signature() {
  local dev=$1 pt type
  pt=$(blkid -p -o value -s PTTYPE "$dev" 2>/dev/null || true)
  type=$(blkid -p -o value -s TYPE "$dev" 2>/dev/null || true)
  printf '%s' "${pt:+partition table $pt}${pt:+${type:+, }}${type}"
}

ensure_lvm() {
  command -v pvcreate >/dev/null 2>&1 && return
  log "installing lvm2"
  if command -v dnf >/dev/null 2>&1; then dnf -y -q install lvm2
  else DEBIAN_FRONTEND=noninteractive apt-get install -y -q lvm2
  fi
}

prepare_cinder() {
  local dev=$1 gib=$2 vg=$3 found pv_vg sig
  check_disk "$dev" "$gib"
  ensure_lvm
  if vgs "$vg" >/dev/null 2>&1; then
    found=$(pvs --noheadings -o pv_name --select "vg_name=$vg" | tr -d ' ')
    [ "$found" = "$dev" ] || fail "volume group $vg exists on ${found:-no disk}, not on $dev: refusing to change it"
    log "volume group $vg on $dev: present"
    return
  fi
  sig=$(signature "$dev")
  case "$sig" in
    "") ;;
    LVM2_member)
      pv_vg=$(pvs --noheadings -o vg_name "$dev" | tr -d ' ')
      [ -z "$pv_vg" ] || fail "$dev belongs to volume group $pv_vg, not $vg: refusing to change it"
      ;;
    *) fail "$dev carries $sig, which the lab did not make: refusing to touch it (wipe it yourself if it is yours)" ;;
  esac
  [ "$sig" = LVM2_member ] || pvcreate -q "$dev"
  vgcreate -q "$vg" "$dev"
  log "volume group $vg made on $dev"
}

check_swift() {
  local dev=$1 gib=$2 sig
  check_disk "$dev" "$gib"
  sig=$(signature "$dev")
  case "$sig" in
    ""|xfs|ext4) log "Swift disk $dev: ${sig:-blank} (Packstack makes and mounts its file system)" ;;
    *) fail "$dev carries $sig, not a Swift file system: refusing to hand it to Packstack" ;;
  esac
}

if [ -n "${LAB_CINDER_DEVICE:-}" ]; then
  prepare_cinder "$LAB_CINDER_DEVICE" "${LAB_CINDER_SIZE_GIB:?LAB_CINDER_SIZE_GIB is required}" "${LAB_CINDER_VG:-cinder-volumes}"
fi
if [ -n "${LAB_SWIFT_DEVICE:-}" ]; then
  check_swift "$LAB_SWIFT_DEVICE" "${LAB_SWIFT_SIZE_GIB:?LAB_SWIFT_SIZE_GIB is required}"
fi

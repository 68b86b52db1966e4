#!/usr/bin/env bash
# Builds, once, the Debian 13 (trixie) chroot in which the packstack tier compiles Packstack's
# manifests into catalogs: `debootstrap --variant=minbase trixie`, then Puppet and the OpenStack
# Puppet modules of puppet/chroot-packages.txt (never installed on the host itself).
#
# Cached in ${OSL_PUPPET_CHROOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/openstack-lab/puppet-chroot}/
# trixie-<key>, key = hash of the suite, the package list and this script. Built in a scratch
# directory beside it and renamed into place when complete (a reader never sees half a chroot); a
# lock per key makes a second build of the same key wait (bounded) and then reuse the first one's.
# The build runs in a private mount namespace: whatever debootstrap or a package script mounts in
# the target vanishes with it, so removing a failed build never walks into a live /proc or /sys.
#
# Usage: build-puppet-chroot.sh MIRROR   (as root; MIRROR: the Debian archive URL the host uses)
# Output: progress on stderr; the last line on stdout is the chroot directory, which holds
#   /srv/compile (the mount point for a compile's work dir) and /.osl-build-info (versions, times).
# Environment: OSL_PUPPET_CHROOT_LOCK_WAIT  seconds to wait for another build (default 900).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pkg_file="$here/puppet/chroot-packages.txt"
suite=trixie
mirror="${1:?usage: build-puppet-chroot.sh MIRROR}"
cache="${OSL_PUPPET_CHROOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/openstack-lab/puppet-chroot}"
lock_wait="${OSL_PUPPET_CHROOT_LOCK_WAIT:-900}"

log() { printf '[puppet-chroot] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [[ "${2:-}" == --in-namespace ]]; then
  # Second stage, inside `unshare --mount`: the build proper, into $3.
  root="$3"
  start=$SECONDS
  log "debootstrap --variant=minbase $suite from $mirror (log: ${root%/*}/debootstrap.log)"
  debootstrap --variant=minbase "$suite" "$root" "$mirror" >"${root%/*}/debootstrap.log" 2>&1 \
    || { tail -n 20 "${root%/*}/debootstrap.log" >&2; die "debootstrap failed"; }
  base_s=$((SECONDS - start))
  log "base system in ${base_s} s"
  # No service of a package may start inside the chroot.
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  mapfile -t packages < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$pkg_file" | grep -v '^$')
  [[ ${#packages[@]} -gt 0 ]] || die "no packages in $pkg_file"
  start=$SECONDS
  log "apt-get install ${#packages[@]} packages (puppet-agent and modules)"
  chroot "$root" apt-get -q update >"${root%/*}/apt.log" 2>&1 \
    || { tail -n 20 "${root%/*}/apt.log" >&2; die "apt-get update failed in the chroot"; }
  chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends \
    install "${packages[@]}" >>"${root%/*}/apt.log" 2>&1 \
    || { tail -n 20 "${root%/*}/apt.log" >&2; die "apt-get install failed in the chroot"; }
  install_s=$((SECONDS - start))
  log "packages in ${install_s} s"
  chroot "$root" apt-get -q clean
  rm -rf "$root"/var/lib/apt/lists/*
  install -d -m 0755 "$root/srv/compile"
  {
    printf 'suite=%s\nmirror=%s\nbase_seconds=%s\npackages_seconds=%s\n' "$suite" "$mirror" "$base_s" "$install_s"
    printf 'puppet=%s\n' "$(chroot "$root" puppet --version)"
    # shellcheck disable=SC2016 # dpkg-query's own ${field} syntax
    chroot "$root" dpkg-query -W -f='package ${Package}=${Version}\n' | grep -E ' (puppet|facter|ruby)'
  } >"$root/.osl-build-info"
  exit 0
fi

[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap, chroot)"
for tool in debootstrap chroot unshare flock sha256sum; do
  command -v "$tool" >/dev/null || die "missing tool: $tool"
done
[[ -s "$pkg_file" ]] || die "missing package list $pkg_file"

key="$({ printf '%s\n' "$suite"; cat "$pkg_file" "${BASH_SOURCE[0]}"; } | sha256sum | cut -c1-16)"
out="$cache/$suite-$key"
if [[ -f "$out/.osl-build-info" ]]; then
  log "cached chroot: $out"
  printf '%s\n' "$out"
  exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.lock-$key"
log "waiting (at most ${lock_wait} s) for the build lock of $out"
flock -w "$lock_wait" 9 || die "another build of $out held its lock for more than ${lock_wait} s"
if [[ -f "$out/.osl-build-info" ]]; then
  log "built meanwhile by another run: $out"
  printf '%s\n' "$out"
  exit 0
fi

work="$(mktemp -d "$cache/.build-$key.XXXXXX")"
trap 'rm -rf "$work"' EXIT
start=$SECONDS
unshare --mount --propagation private "${BASH_SOURCE[0]}" "$mirror" --in-namespace "$work/root"
printf 'total_seconds=%s\n' "$((SECONDS - start))" >>"$work/root/.osl-build-info"
# A directory left by an interrupted older layout is replaced; a complete one was returned above.
rm -rf "$out"
mv -T "$work/root" "$out"
log "built $out in $((SECONDS - start)) s ($(du -sh "$out" | cut -f1))"
printf '%s\n' "$out"

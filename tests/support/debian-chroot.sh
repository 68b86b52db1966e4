#!/usr/bin/env bash
# Builds, once, a Debian chroot of a tier: `debootstrap --variant=minbase SUITE`, then the packages of
# a list (never installed on the host itself), then an optional setup script run inside it.
#
# Cached in ${OSL_CHROOT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/openstack-lab/NAME}/SUITE-<key>,
# key = hash of the suite, the package list, the setup script and this script. Built in a scratch
# directory beside it and renamed into place when complete (a reader never sees half a chroot); a
# lock per key makes a second build of the same key wait (bounded) and then reuse the first one's.
# The build runs in a private mount namespace: whatever debootstrap or a package script mounts in
# the target vanishes with it, so removing a failed build never walks into a live /proc or /sys.
# No service of a package may start inside the chroot (policy-rc.d exits 101, and stays).
#
# Usage: debian-chroot.sh NAME SUITE PACKAGE_LIST MIRROR [SETUP_SCRIPT]   (as root)
#   PACKAGE_LIST  one package a line, `#` comments
#   MIRROR        the Debian archive URL the host uses (support.debian_archive.mirror())
#   SETUP_SCRIPT  bash, run as `bash /tmp/osl-setup.sh` inside the chroot after the packages; what it
#                 prints on stdout is appended to the chroot's /.osl-build-info (key=value lines)
# Output: progress on stderr; the last line on stdout is the chroot directory, whose /.osl-build-info
#   holds suite, mirror and build times.
# Environment: OSL_CHROOT_CACHE_DIR (see above), OSL_CHROOT_LOCK_WAIT seconds to wait for another
#   build of the same key (default 900).
set -euo pipefail

name="${1:?usage: debian-chroot.sh NAME SUITE PACKAGE_LIST MIRROR [SETUP_SCRIPT]}"
suite="${2:?suite missing}"
pkg_file="${3:?package list missing}"
mirror="${4:?mirror missing}"
setup="${5:-}"
cache="${OSL_CHROOT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/openstack-lab/$name}"
lock_wait="${OSL_CHROOT_LOCK_WAIT:-900}"

log() { printf '[%s] %s\n' "$name" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [[ "${6:-}" == --in-namespace ]]; then
  # Second stage, inside `unshare --mount`: the build proper, into $7.
  root="$7"
  start=$SECONDS
  log "debootstrap --variant=minbase $suite from $mirror (log: ${root%/*}/debootstrap.log)"
  debootstrap --variant=minbase "$suite" "$root" "$mirror" >"${root%/*}/debootstrap.log" 2>&1 \
    || { tail -n 20 "${root%/*}/debootstrap.log" >&2; die "debootstrap failed"; }
  base_s=$((SECONDS - start))
  log "base system in ${base_s} s"
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  # Some maintainer scripts read /proc (nova-common's debconf script: /proc/net/route); it is unmounted
  # with this namespace.
  mount -t proc proc "$root/proc"
  mapfile -t packages < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$pkg_file" | grep -v '^$')
  [[ ${#packages[@]} -gt 0 ]] || die "no packages in $pkg_file"
  start=$SECONDS
  log "apt-get install ${#packages[@]} packages (log: ${root%/*}/apt.log)"
  chroot "$root" apt-get -q update >"${root%/*}/apt.log" 2>&1 \
    || { tail -n 20 "${root%/*}/apt.log" >&2; die "apt-get update failed in the chroot"; }
  if ! chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends \
    install "${packages[@]}" >>"${root%/*}/apt.log" 2>&1; then
    cp "${root%/*}/apt.log" "${root%/*}/../failed-apt.log"
    grep -B 12 -m 3 'dpkg: error' "${root%/*}/apt.log" >&2 || tail -n 20 "${root%/*}/apt.log" >&2
    die "apt-get install failed in the chroot (whole log: ${root%/*/*}/failed-apt.log)"
  fi
  install_s=$((SECONDS - start))
  log "packages in ${install_s} s"
  chroot "$root" apt-get -q clean
  umount "$root/proc"
  rm -rf "$root"/var/lib/apt/lists/*
  printf 'suite=%s\nmirror=%s\nbase_seconds=%s\npackages_seconds=%s\n' "$suite" "$mirror" "$base_s" "$install_s" \
    >"${root%/*}/build-info"
  if [[ -n "$setup" ]]; then
    log "setup: $setup"
    install -m 0755 "$setup" "$root/tmp/osl-setup.sh"
    chroot "$root" bash /tmp/osl-setup.sh >>"${root%/*}/build-info" || die "setup script $setup failed"
    rm -f "$root/tmp/osl-setup.sh"
  fi
  mv "${root%/*}/build-info" "$root/.osl-build-info"
  exit 0
fi

[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap, chroot)"
for tool in debootstrap chroot unshare flock sha256sum; do
  command -v "$tool" >/dev/null || die "missing tool: $tool"
done
[[ -s "$pkg_file" ]] || die "missing package list $pkg_file"
[[ -z "$setup" || -s "$setup" ]] || die "missing setup script $setup"
pkg_file="$(realpath "$pkg_file")"
[[ -z "$setup" ]] || setup="$(realpath "$setup")"

key="$({ printf '%s\n' "$suite"; cat "$pkg_file" ${setup:+"$setup"} "${BASH_SOURCE[0]}"; } | sha256sum | cut -c1-16)"
out="$cache/$suite-$key"
# shellcheck source=tests/support/build-cache.sh
source "$(dirname "${BASH_SOURCE[0]}")/build-cache.sh"
cached_or_locked "$out" .osl-build-info "$cache/.lock-$key" "$lock_wait" "$name" && exit 0

work="$(mktemp -d "$cache/.build-$key.XXXXXX")"
trap 'rm -rf "$work"' EXIT
start=$SECONDS
unshare --mount --propagation private "${BASH_SOURCE[0]}" "$name" "$suite" "$pkg_file" "$mirror" "$setup" \
  --in-namespace "$work/root"
printf 'total_seconds=%s\n' "$((SECONDS - start))" >>"$work/root/.osl-build-info"
# A directory left by an interrupted older layout is replaced; a complete one was returned above.
rm -rf "$out"
mv -T "$work/root" "$out"
log "built $out in $((SECONDS - start)) s ($(du -sh "$out" | cut -f1))"
printf '%s\n' "$out"

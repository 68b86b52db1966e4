#!/usr/bin/env bash
# Builds, once, the Debian 13 (trixie) chroot in which the packstack tier compiles Packstack's
# manifests into catalogs: `debootstrap --variant=minbase trixie`, then Puppet and the OpenStack
# Puppet modules of puppet/chroot-packages.txt (never installed on the host itself), then
# puppet/chroot-setup.sh (/srv/compile, the versions) — through tests/support/debian-chroot.sh, which
# caches it atomically under a bounded lock.
#
# Cached in ${OSL_PUPPET_CHROOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/openstack-lab/puppet-chroot}/
# trixie-<key>, key = hash of the suite, the package list, the setup script and the builder.
#
# Usage: build-puppet-chroot.sh MIRROR   (as root; MIRROR: the Debian archive URL the host uses)
# Output: progress on stderr; the last line on stdout is the chroot directory, which holds
#   /srv/compile (the mount point for a compile's work dir) and /.osl-build-info (versions, times).
# Environment: OSL_PUPPET_CHROOT_LOCK_WAIT  seconds to wait for another build (default 900).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mirror="${1:?usage: build-puppet-chroot.sh MIRROR}"
OSL_CHROOT_CACHE_DIR="${OSL_PUPPET_CHROOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/openstack-lab/puppet-chroot}" \
  OSL_CHROOT_LOCK_WAIT="${OSL_PUPPET_CHROOT_LOCK_WAIT:-900}" \
  exec bash "$here/../support/debian-chroot.sh" puppet-chroot trixie "$here/puppet/chroot-packages.txt" "$mirror" \
  "$here/puppet/chroot-setup.sh"

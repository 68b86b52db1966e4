#!/usr/bin/env bash
# Runs Puppet's compiler (`puppet catalog compile`: a catalog, nothing applied) inside the packstack
# tier's chroot (build-puppet-chroot.sh), with no network at all: a fresh network namespace (only a
# loopback, down) and a private mount namespace in which WORK is bound on ROOT/srv/compile. The mount
# vanishes with the namespace; the cached chroot itself is never written to.
#
# Usage: compile-catalog.sh ROOT WORK CERTNAME [puppet option ...]
#   The catalog (JSON) on stdout, Puppet's messages on stderr and wherever the options send them.
set -euo pipefail

die() { printf '[compile-catalog] ERROR: %s\n' "$*" >&2; exit 2; }

if [[ "${1:-}" != --in-namespace ]]; then
  [[ $# -ge 3 ]] || die "usage: compile-catalog.sh ROOT WORK CERTNAME [puppet option ...]"
  [[ $(id -u) -eq 0 ]] || die "must run as root (unshare, mount, chroot)"
  exec unshare --net --mount --propagation private "${BASH_SOURCE[0]}" --in-namespace "$@"
fi
shift
root="$1" work="$2"
shift 2
[[ -f "$root/.osl-build-info" ]] || die "$root is not a complete chroot of build-puppet-chroot.sh"
[[ -d "$work" ]] || die "no work dir $work"
mount --bind "$work" "$root/srv/compile"
exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  puppet catalog compile "$@"

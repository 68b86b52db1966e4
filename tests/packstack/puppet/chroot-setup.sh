#!/usr/bin/env bash
# Runs inside the packstack tier's chroot once, after its packages (tests/support/debian-chroot.sh): the
# mount point of a compile's work dir, and the versions the tier reports (key=value lines on stdout).
set -euo pipefail
install -d -m 0755 /srv/compile
printf 'puppet=%s\n' "$(puppet --version)"
# shellcheck disable=SC2016 # dpkg-query's own ${field} syntax
dpkg-query -W -f='package ${Package}=${Version}\n' | grep -E ' (puppet|facter|ruby)'

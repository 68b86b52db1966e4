#!/usr/bin/env bash
# Installs the Debian packages given as arguments when any is missing (idempotent).
# Services that packages would start are not started (policy-rc.d), so installing
# never opens a port on this host. Needs root or sudo.
set -euo pipefail

missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
echo "installing Debian packages: ${missing[*]}"
policy=/usr/sbin/policy-rc.d
added_policy=false
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee "$policy" >/dev/null
  "${sudo_cmd[@]}" chmod 755 "$policy"
  added_policy=true
fi
cleanup() { if [ "$added_policy" = true ]; then "${sudo_cmd[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT
apt_opts=(-o DPkg::Lock::Timeout=900 -y -q --no-install-recommends)
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install "${missing[@]}" >/dev/null \
  || { "${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=900 -q update >/dev/null \
       && "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install "${missing[@]}" >/dev/null; }

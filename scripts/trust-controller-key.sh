#!/usr/bin/env bash
# Lets root on the controller log in as root here (Packstack drives every node over SSH).
# Inputs (environment): LAB_CONTROLLER_KEY (public key line); stdin: known_hosts lines
# of all nodes, installed for root so the controller's SSH never trusts blindly.
set -euo pipefail
: "${LAB_CONTROLLER_KEY:?}"

install -d -m 0700 /root/.ssh
touch /root/.ssh/authorized_keys
chmod 0600 /root/.ssh/authorized_keys
if ! grep -qxF "$LAB_CONTROLLER_KEY" /root/.ssh/authorized_keys; then
  printf '%s\n' "$LAB_CONTROLLER_KEY" >> /root/.ssh/authorized_keys
  echo "controller key trusted"
fi

known=$(mktemp)
trap 'rm -f "$known"' EXIT
cat > "$known"
if [ -s "$known" ] && ! cmp -s "$known" /root/.ssh/known_hosts; then
  install -m 0644 "$known" /root/.ssh/known_hosts
  echo "known_hosts updated"
fi

#!/usr/bin/env bash
# Lets root on the controller log in as root here (Packstack drives every node over SSH).
# Inputs (environment): LAB_CONTROLLER_KEY (public key line); stdin: known_hosts lines
# of all nodes, installed for root so the controller's SSH never trusts blindly.
# LAB_SSH_DIR overrides root's ~/.ssh (tests).
set -euo pipefail
: "${LAB_CONTROLLER_KEY:?}"

ssh_dir=${LAB_SSH_DIR:-/root/.ssh}
install -d -m 0700 "$ssh_dir"
touch "$ssh_dir/authorized_keys"
chmod 0600 "$ssh_dir/authorized_keys"
if ! grep -qxF "$LAB_CONTROLLER_KEY" "$ssh_dir/authorized_keys"; then
  printf '%s\n' "$LAB_CONTROLLER_KEY" >> "$ssh_dir/authorized_keys"
  echo "controller key trusted"
fi

known=$(mktemp)
trap 'rm -f "$known"' EXIT
cat > "$known"
if [ -s "$known" ] && ! cmp -s "$known" "$ssh_dir/known_hosts"; then
  install -m 0644 "$known" "$ssh_dir/known_hosts"
  echo "known_hosts updated"
fi

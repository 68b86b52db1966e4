#!/usr/bin/env bash
# Gives root on the controller an SSH key (Packstack's CONFIG_SSH_KEY) and prints
# its public half, which every node then trusts. Keeps an existing key.
# LAB_SSH_DIR overrides root's ~/.ssh (tests).
set -euo pipefail

ssh_dir=${LAB_SSH_DIR:-/root/.ssh}
install -d -m 0700 "$ssh_dir"
if [ ! -f "$ssh_dir/id_ed25519" ]; then
  ssh-keygen -q -t ed25519 -N '' -C "packstack@$(hostname -f)" -f "$ssh_dir/id_ed25519"
fi
cat "$ssh_dir/id_ed25519.pub"

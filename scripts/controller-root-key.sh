#!/usr/bin/env bash
# Gives root on the controller an SSH key (Packstack's CONFIG_SSH_KEY) and prints
# its public half, which every node then trusts. Keeps an existing key.
set -euo pipefail

install -d -m 0700 /root/.ssh
if [ ! -f /root/.ssh/id_ed25519 ]; then
  ssh-keygen -q -t ed25519 -N '' -C "packstack@$(hostname -f)" -f /root/.ssh/id_ed25519
fi
cat /root/.ssh/id_ed25519.pub

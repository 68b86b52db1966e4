#!/usr/bin/env bash
# First command on an existing machine (existingComputes) after it answers: lets its sshd accept
# the lab's LAB_* environment variables (how every later script gets its inputs; cloud-init does
# this on the nodes the lab creates) and says that destroy will leave the machine as it is. Its
# delete twin, existing-machine-left.sh, runs on `pulumi destroy`. Idempotent. Takes no input:
# the environment reaches it only once this has run.
set -euo pipefail

drop_in=/etc/ssh/sshd_config.d/50-openstack-lab.conf
want='AcceptEnv LAB_*'
if [ "$(cat "$drop_in" 2>/dev/null)" != "$want" ]; then
  install -d -m 0755 /etc/ssh/sshd_config.d
  printf '%s\n' "$want" > "$drop_in"
  chmod 0600 "$drop_in"
  sshd -t
  # EL9 names the unit sshd.service, Debian ssh.service; reload keeps this session open.
  for unit in sshd.service ssh.service; do
    if systemctl cat "$unit" >/dev/null 2>&1; then
      systemctl reload "$unit"
      break
    fi
  done
  echo "sshd now accepts LAB_* variables ($drop_in)"
fi
echo "$(hostname -f) joined the lab as a compute; destroy will leave it as it is"

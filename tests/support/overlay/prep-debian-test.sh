#!/usr/bin/env bash
# Host-prep profile for the Debian test guest of the e2e tier: no EL9 repositories,
# only what can be checked there (FQDN hostname, /etc/hosts, the run marker).
# Inputs (environment): LAB_FQDN, LAB_ROLE.
set -euo pipefail
: "${LAB_FQDN:?}" "${LAB_ROLE:?}"

if [ "$(hostname -f)" != "$LAB_FQDN" ]; then
  hostnamectl set-hostname "$LAB_FQDN" 2>/dev/null || hostname "$LAB_FQDN"
fi
grep -q "[[:space:]]${LAB_FQDN}[[:space:]]" /etc/hosts || {
  echo "/etc/hosts has no entry for ${LAB_FQDN}" >&2
  exit 1
}

install -d -m 0755 /var/lib/openstack-lab
printf '%s prep-debian-test %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$LAB_ROLE" >> /var/lib/openstack-lab/prep-runs
echo "prepared $(hostname -f) as ${LAB_ROLE}"

#!/usr/bin/env bash
# Maps every compute of the lab into Nova's cell after a Packstack run (run on the controller).
# Packstack runs `nova-manage cell_v2 discover_hosts` once, from the controller's post manifest
# right after the compute manifests; a nova-compute that registers after that moment would stay
# unmapped and take no instance. This asks each compute its hostname (the name nova-compute
# registers under), then runs discover_hosts as the nova user, as RDO's install guide does,
# until every compute is mapped (bounded). Idempotent: discover_hosts maps only unmapped hosts.
# Inputs (environment): LAB_COMPUTE_HOSTS (comma-separated addresses: Packstack's compute hosts),
#   LAB_DISCOVER_TIMEOUT (seconds, default 600), LAB_DISCOVER_INTERVAL (seconds, default 10).
set -euo pipefail
umask 077

: "${LAB_COMPUTE_HOSTS:?comma-separated compute addresses}"
timeout=${LAB_DISCOVER_TIMEOUT:-600}
interval=${LAB_DISCOVER_INTERVAL:-10}

as_nova() { su -s /bin/sh -c "$1" nova; }

names=()
for address in ${LAB_COMPUTE_HOSTS//,/ }; do
  # root trust and known_hosts from the controller are host prep's (trust-controller-key.sh)
  name=$(ssh -o BatchMode=yes -o ConnectTimeout=10 "root@$address" hostname) \
    || { echo "cannot ask $address for its hostname over SSH" >&2; exit 1; }
  names+=("$name")
done

deadline=$((SECONDS + timeout))
while :; do
  as_nova "nova-manage cell_v2 discover_hosts --verbose"
  # list_hosts prints a table: | cell name | cell uuid | hostname |
  mapped=$(as_nova "nova-manage cell_v2 list_hosts" | awk -F'|' 'NF > 4 { gsub(/ /, "", $4); print $4 }')
  missing=()
  for name in "${names[@]}"; do
    grep -qxF -- "$name" <<<"$mapped" || missing+=("$name")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    echo "every compute is mapped to a cell: ${names[*]}"
    exit 0
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "not mapped to a cell after ${timeout}s: ${missing[*]} (is nova-compute running there? see" \
      "'openstack compute service list' and /var/log/nova/nova-compute.log on the node)" >&2
    exit 1
  fi
  echo "waiting for nova-compute on ${missing[*]} to register"
  sleep "$interval"
done

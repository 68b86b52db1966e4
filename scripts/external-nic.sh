#!/usr/bin/env bash
# Keeps the external NIC (eth1, Packstack's br-ex uplink) up with no IPv4 and no IPv6
# address, whatever network renderer cloud-init used, and proves it. Idempotent.
#
# With NetworkManager: cloud-init wrote the lab's profile (LAB_NIC_PROFILE, methods
# disabled, highest autoconnect priority) in its network stage. On the RHEL family that
# stage is ordered after NetworkManager-wait-online, so on first boot NetworkManager had
# already activated cloud-init's own profile (DHCP + IPv6 auto under its NetworkManager
# renderer); elsewhere (the Debian test guest) the lab's profile may already be active.
# Load it and activate it when it is not; every later boot picks it by priority.
# Without NetworkManager (networkd, or ifcfg files only): no DHCP is configured for the
# NIC; IPv6 is switched off on it so not even a link-local address appears.
# On a machine the lab did not create (existingComputes) no cloud-init wrote the profile:
# LAB_NIC_KEYFILE carries its keyfile text, installed here when NetworkManager runs.
# Inputs (environment): LAB_NIC (default eth1), LAB_NIC_PROFILE (default lab-eth1),
#   LAB_NIC_KEYFILE (optional keyfile text of the profile).
set -euo pipefail

nic=${LAB_NIC:-eth1}
profile=${LAB_NIC_PROFILE:-lab-eth1}
log() { printf '[external-nic %s] %s\n' "$(hostname -s)" "$*"; }

ip link show dev "$nic" >/dev/null 2>&1 || { echo "$(hostname -s): no network interface $nic" >&2; exit 1; }

if command -v nmcli >/dev/null 2>&1 && [ "$(nmcli -t -f RUNNING general 2>/dev/null)" = "running" ]; then
  if [ -n "${LAB_NIC_KEYFILE:-}" ]; then
    keyfile=/etc/NetworkManager/system-connections/$profile.nmconnection
    want=$(printf '%s\n' "$LAB_NIC_KEYFILE")
    if [ "$(cat "$keyfile" 2>/dev/null)" != "$want" ]; then
      log "writing $keyfile"
      (umask 077 && printf '%s\n' "$want" > "$keyfile")
    fi
  fi
  nmcli connection reload
  nmcli -t -f NAME connection show | grep -qx "$profile" \
    || { echo "$(hostname -s): NetworkManager has no profile $profile (cloud-init should have written it)" >&2; exit 1; }
  active=$(nmcli -g GENERAL.CONNECTION device show "$nic" 2>/dev/null || true)
  if [ "$active" != "$profile" ]; then
    log "$nic: activating $profile (was: ${active:-none})"
    nmcli --wait 30 connection up "$profile" ifname "$nic" >/dev/null
  fi
else
  conf=/etc/sysctl.d/90-openstack-lab-external-nic.conf
  want="net.ipv6.conf.${nic}.disable_ipv6 = 1"
  if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
    log "$nic: IPv6 off (no NetworkManager)"
    printf '%s\n' "$want" > "$conf"
  fi
  sysctl -q -w "net.ipv6.conf.${nic}.disable_ipv6=1"
  ip link set dev "$nic" up
fi

flags=$(ip -o link show dev "$nic" | sed -n 's/^[0-9]*: [^:]*: <\([^>]*\)>.*/\1/p')
case ",$flags," in
  *,UP,*) ;;
  *) echo "$(hostname -s): $nic is not up (flags: $flags)" >&2; exit 1 ;;
esac
addresses=$(ip -o addr show dev "$nic" | awk '{print $3, $4}')
if [ -n "$addresses" ]; then
  echo "$(hostname -s): $nic must carry no address (it becomes the br-ex uplink), but has: $addresses" >&2
  exit 1
fi
log "$nic is up with no address"

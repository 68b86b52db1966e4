#!/usr/bin/env bash
# A private libvirtd (+ virtlogd) inside a network namespace of its own, for the e2e tier.
#
#   netns-libvirt.sh start NETNS STATEDIR   # prints the libvirt URI on stdout
#   netns-libvirt.sh stop  NETNS STATEDIR   # kills every process of the instance, deletes
#                                           # the netns and STATEDIR (idempotent)
#
# The daemons run in the network namespace NETNS (so every libvirt bridge, NAT rule,
# dnsmasq and guest NIC lives there and no guest packet reaches the host's networks)
# and in a private mount namespace where STATEDIR's directories are bind-mounted over
# /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/log/libvirt and /var/cache/libvirt:
# nothing of the host's libvirt is used or changed, several instances can coexist.
# Clients reach it through qemu+unix:///system?socket=STATEDIR/run/libvirt-sock.
set -euo pipefail

usage() { echo "usage: $0 start|stop NETNS STATEDIR" >&2; exit 2; }
[[ $# -eq 3 ]] || usage
action=$1 netns=$2 state=$3
[[ "$netns" =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "bad netns name: $netns" >&2; exit 2; }
[[ "$state" == /* ]] || { echo "STATEDIR must be absolute" >&2; exit 2; }

log() { printf '[netns-libvirt] %s\n' "$*" >&2; }

pids_of_instance() {
  # Everything running in the netns (daemons, dnsmasq, qemu) belongs to this instance.
  if ip netns list | grep -qw "^$netns"; then
    ip netns pids "$netns" 2>/dev/null || true
  fi
  local f
  for f in "$state"/libvirtd.pid "$state"/virtlogd.pid "$state"/run/qemu/*.pid "$state"/run/network/*.pid; do
    [[ -s "$f" ]] && cat "$f"
  done
  return 0
}

stop() {
  local pids round
  for round in TERM TERM KILL; do
    mapfile -t pids < <(pids_of_instance | sort -u)
    [[ ${#pids[@]} -gt 0 ]] || break
    kill "-$round" "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 1 20); do
      local alive=0 p
      for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
      [[ $alive -eq 0 ]] && break
      sleep 0.25
    done
  done
  if ip netns list | grep -qw "^$netns"; then
    ip netns delete "$netns"
  fi
  rm -rf "/etc/netns/$netns"
  if [[ -d "$state" ]]; then
    rm -rf "$state"
  fi
  log "stopped $netns"
}

start() {
  for tool in libvirtd virtlogd ip unshare virsh; do
    command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
  done
  if ! ip netns list | grep -qw "^$netns"; then
    ip netns add "$netns"
  fi
  # `ip netns exec` bind-mounts this over /etc/resolv.conf: dnsmasq (the guests' DNS
  # forwarder) and everything else in the namespace only ever ask loopback.
  mkdir -p "/etc/netns/$netns"
  echo 'nameserver 127.0.0.1' >"/etc/netns/$netns/resolv.conf"
  ip netns exec "$netns" ip link set lo up

  mkdir -p "$state"/{etc,run,lib,log,cache}
  mkdir -p "$state"/lib/{qemu,dnsmasq,network,images,boot}
  chmod 755 "$state"
  # Configuration: the packaged defaults' names, with what a private instance needs.
  cat >"$state/etc/libvirtd.conf" <<'EOF'
unix_sock_group = "root"
unix_sock_rw_perms = "0700"
unix_sock_ro_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
listen_tls = 0
listen_tcp = 0
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
EOF
  cat >"$state/etc/virtlogd.conf" <<'EOF'
log_outputs = "3:file:/var/log/libvirt/virtlogd.log"
EOF
  # Guests run as root without a security driver: disk, kernel and initrd files in the
  # test's temp dirs need no relabelling; no cgroup setup without systemd.
  cat >"$state/etc/qemu.conf" <<'EOF'
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
stdio_handler = "file"
EOF
  cat >"$state/etc/network.conf" <<'EOF'
EOF
  : >"$state/etc/libvirt.conf"

  # shellcheck disable=SC2016
  unshare --mount --propagation private -- bash -euc '
    state=$1 netns=$2
    mount --bind "$state/etc" /etc/libvirt
    mkdir -p /run/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt
    mount --bind "$state/run" /run/libvirt
    mount --bind "$state/lib" /var/lib/libvirt
    mount --bind "$state/log" /var/log/libvirt
    mount --bind "$state/cache" /var/cache/libvirt
    exec ip netns exec "$netns" bash -euc "
      virtlogd -d -p \"\$1/virtlogd.pid\"
      for _ in \$(seq 1 50); do [ -S /run/libvirt/virtlogd-sock ] && break; sleep 0.1; done
      libvirtd -d -p \"\$1/libvirtd.pid\" 2>>\"\$1/libvirtd.log\"
    " _ "$state"
  ' _ "$state" "$netns" >>"$state/daemons.log" 2>&1

  local uri="qemu+unix:///system?socket=$state/run/libvirt-sock"
  for _ in $(seq 1 100); do
    if [[ -S "$state/run/libvirt-sock" ]] && virsh -q -c "$uri" version >/dev/null 2>&1; then
      log "libvirtd up in netns $netns"
      printf '%s\n' "$uri"
      return 0
    fi
    sleep 0.2
  done
  log "libvirtd did not come up; log:"
  tail -n 30 "$state/log/libvirtd.log" "$state/libvirtd.log" "$state/daemons.log" >&2 || true
  exit 1
}

case "$action" in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac

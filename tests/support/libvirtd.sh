#!/usr/bin/env bash
# A private libvirtd in a network namespace and a mount namespace of its own, reachable by a unix socket.
# Used by the engine and e2e tiers (tests/support/libvirtd.py) and the toolchain's plugin smoke test.
#
#   libvirtd.sh start NETNS STATEDIR [--virtlogd]   # prints the socket path on stdout
#   libvirtd.sh stop  NETNS STATEDIR                # kills every process of the instance, deletes the
#                                                   # netns and STATEDIR (idempotent)
#
# The daemon runs in the network namespace NETNS (created here): every libvirt bridge, NAT rule, dnsmasq and
# guest NIC lives there, and the namespace has no uplink, so no guest packet reaches the host's networks.
# Programs that must reach guests run under `ip netns exec NETNS`, where DNS asks only loopback.
# In a private mount namespace STATEDIR's directories are bind-mounted over /etc/libvirt, /run/libvirt,
# /var/lib/libvirt, /var/log/libvirt and /var/cache/libvirt: nothing of the host's libvirt is used or changed,
# several instances coexist. Clients use qemu+unix:///system?socket=STATEDIR/run/libvirt-sock (or test+unix:
# ///default?socket=... for the in-memory test driver). Guests run as root without a security driver or
# cgroups; --virtlogd also starts virtlogd. QEMU's capability cache (minutes of probing on a loaded host) is
# kept across runs in LIBVIRTD_QEMU_CACHE (default ~/.cache/openstack-lab/libvirt-qemu-cache).
set -euo pipefail

usage() { echo "usage: $0 start|stop NETNS STATEDIR [--virtlogd]" >&2; exit 2; }
[[ $# -ge 3 ]] || usage
action=$1 netns=$2 state=$3
virtlogd=false
[[ "${4:-}" == --virtlogd ]] && virtlogd=true
[[ "$netns" =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "bad netns name: $netns" >&2; exit 2; }
[[ "$state" == /* ]] || { echo "STATEDIR must be absolute" >&2; exit 2; }

log() { printf '[libvirtd.sh] %s\n' "$*" >&2; }
netns_exists() { ip netns list | grep -qw "^$netns"; }

pids_of_instance() {
  # Everything running in the netns (daemons, dnsmasq, qemu) belongs to this instance.
  if netns_exists; then ip netns pids "$netns" 2>/dev/null || true; fi
  local f
  for f in "$state"/libvirtd.pid "$state"/virtlogd.pid "$state"/run/qemu/*.pid "$state"/run/network/*.pid; do
    if [[ -s "$f" ]]; then cat "$f"; fi
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
  if netns_exists; then ip netns delete "$netns"; fi
  rm -rf "/etc/netns/$netns" "$state"
  log "stopped $netns"
}

start() {
  local tool daemons=libvirtd
  $virtlogd && daemons="virtlogd libvirtd"
  for tool in $daemons ip unshare virsh mount; do
    command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
  done
  netns_exists || ip netns add "$netns"
  # `ip netns exec` bind-mounts this over /etc/resolv.conf: dnsmasq (the guests' DNS forwarder) and
  # everything else in the namespace only ever ask loopback.
  mkdir -p "/etc/netns/$netns"
  echo 'nameserver 127.0.0.1' >"/etc/netns/$netns/resolv.conf"
  ip netns exec "$netns" ip link set lo up

  local cache=${LIBVIRTD_QEMU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/openstack-lab/libvirt-qemu-cache}
  local old_cache=${XDG_CACHE_HOME:-$HOME/.cache}/openstack-lab/engine-libvirt-qemu-cache  # its former name
  if [[ ! -e "$cache" && -d "$old_cache" ]]; then mv "$old_cache" "$cache"; fi
  mkdir -p "$cache" "$state"/{etc,run,lib,log,cache/qemu} "$state"/lib/{qemu,dnsmasq,network,images,boot}
  chmod 755 "$state"
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
  echo 'log_outputs = "3:file:/var/log/libvirt/virtlogd.log"' >"$state/etc/virtlogd.conf"
  cat >"$state/etc/qemu.conf" <<'EOF'
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
stdio_handler = "file"
EOF
  : >"$state/etc/network.conf"
  : >"$state/etc/libvirt.conf"

  # shellcheck disable=SC2016  # expanded by the inner shells
  unshare --mount --propagation private -- bash -euc '
    state=$1 netns=$2 cache=$3 virtlogd=$4
    mkdir -p /etc/libvirt /run/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt
    mount --bind "$state/etc" /etc/libvirt
    mount --bind "$state/run" /run/libvirt
    mount --bind "$state/lib" /var/lib/libvirt
    mount --bind "$state/log" /var/log/libvirt
    mount --bind "$state/cache" /var/cache/libvirt
    mount --bind "$cache" /var/cache/libvirt/qemu
    exec ip netns exec "$netns" bash -euc "
      if \$2; then
        virtlogd -d -p \"\$1/virtlogd.pid\"
        for _ in \$(seq 1 50); do [ -S /run/libvirt/virtlogd-sock ] && break; sleep 0.1; done
      fi
      libvirtd -d -p \"\$1/libvirtd.pid\" 2>>\"\$1/libvirtd.log\"
    " _ "$state" "$virtlogd"
  ' _ "$state" "$netns" "$cache" "$virtlogd" >>"$state/daemons.log" 2>&1

  local sock="$state/run/libvirt-sock" deadline=$((SECONDS + ${LIBVIRTD_START_TIMEOUT:-60}))
  while ((SECONDS < deadline)); do
    if [[ -S "$sock" ]] && virsh -q -c "test+unix:///default?socket=$sock" version >/dev/null 2>&1; then
      log "libvirtd up in netns $netns"
      printf '%s\n' "$sock"
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

#!/usr/bin/env bash
# The caching proxy recipe (issue 21 item 3), run by `make caching-proxy` (tools/caching_proxy.py renders CONFIG
# from lab/caching_proxy.py): installs squid from the distribution's packages (apt-get on Debian/Ubuntu, dnf on
# EL/Fedora), makes CONFIG its /etc/squid/squid.conf (the distribution's file kept once as
# squid.conf.orig-openstack-lab), and (re)starts squid only when the file changed or squid is not running.
# Idempotent: a second run with the same CONFIG changes nothing and restarts nothing.
#
#   caching-proxy.sh CONFIG PORT     PORT: where the config listens (checked to answer afterwards)
# Needs root or sudo, and systemd (squid runs as the distribution's service).
set -euo pipefail

config=${1:?usage: caching-proxy.sh CONFIG PORT}
port=${2:?usage: caching-proxy.sh CONFIG PORT}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
target=${CACHING_PROXY_CONF:-/etc/squid/squid.conf}  # another path: the unit test only
backup=$target.orig-openstack-lab
wait_seconds=${CACHING_PROXY_WAIT:-60}
sudo_cmd=()
[[ "$(id -u)" -eq 0 ]] || sudo_cmd=(sudo)

if ! command -v squid >/dev/null && [[ ! -x /usr/sbin/squid ]]; then
  if command -v apt-get >/dev/null; then
    bash "$here/ensure-packages.sh" squid
  elif command -v dnf >/dev/null; then
    "${sudo_cmd[@]}" dnf -y -q install squid
  else
    echo "caching-proxy: neither apt-get nor dnf here: install squid yourself, then run this again" >&2
    exit 1
  fi
fi
squid=$(command -v squid || echo /usr/sbin/squid)

# Refuse a config squid itself refuses, before anything is replaced.
"${sudo_cmd[@]}" "$squid" -k parse -f "$config" >/dev/null 2>&1 \
  || { "${sudo_cmd[@]}" "$squid" -k parse -f "$config" || true; echo "caching-proxy: squid refuses $config" >&2; exit 1; }

changed=false
if ! "${sudo_cmd[@]}" cmp -s "$config" "$target"; then
  if [[ -e "$target" && ! -e "$backup" ]]; then
    "${sudo_cmd[@]}" cp -p "$target" "$backup"
  fi
  "${sudo_cmd[@]}" install -m 0644 "$config" "$target"
  changed=true
  echo "caching-proxy: wrote $target"
fi

# The services run `squid -z` before starting (Debian's ExecStartPre, EL's cache_swap.sh): new cache dirs are made.
"${sudo_cmd[@]}" systemctl enable squid >/dev/null 2>&1 || "${sudo_cmd[@]}" systemctl enable squid
if [[ "$changed" == true ]] || ! "${sudo_cmd[@]}" systemctl is-active --quiet squid; then
  "${sudo_cmd[@]}" systemctl restart squid
  echo "caching-proxy: (re)started squid"
else
  echo "caching-proxy: $target unchanged and squid running: nothing to do"
fi

for ((i = 0; i < wait_seconds; i++)); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "caching-proxy: squid answers on port $port"
    exit 0
  fi
  sleep 1
done
echo "caching-proxy: squid did not answer on 127.0.0.1:$port within $wait_seconds s: see journalctl -u squid" >&2
exit 1

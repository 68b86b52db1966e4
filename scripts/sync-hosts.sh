#!/usr/bin/env bash
# Writes /etc/hosts (given on stdin) listing every lab node with its FQDN.
# Runs again whenever the node set changes; rewrites the file only when it differs.
set -euo pipefail

new=$(mktemp)
trap 'rm -f "$new"' EXIT
cat > "$new"
[ -s "$new" ] || { echo "no hosts content on stdin" >&2; exit 1; }
if cmp -s "$new" /etc/hosts; then
  echo "/etc/hosts unchanged"
else
  install -m 0644 "$new" /etc/hosts
  echo "/etc/hosts updated ($(wc -l < /etc/hosts) lines)"
fi

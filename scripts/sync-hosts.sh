#!/usr/bin/env bash
# Writes /etc/hosts (given on stdin) listing every lab node with its FQDN.
# Runs again whenever the node set changes; rewrites the file only when it differs.
# LAB_HOSTS_FILE overrides the target (tests).
set -euo pipefail

target=${LAB_HOSTS_FILE:-/etc/hosts}

new=$(mktemp)
trap 'rm -f "$new"' EXIT
cat > "$new"
[ -s "$new" ] || { echo "no hosts content on stdin" >&2; exit 1; }
if cmp -s "$new" "$target"; then
  echo "$target unchanged"
else
  install -m 0644 "$new" "$target"
  echo "$target updated ($(wc -l < "$target") lines)"
fi

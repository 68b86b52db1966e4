#!/usr/bin/env bash
# Runs Packstack with the lab's answer file, streaming its progress. On failure it
# prints the tail of Packstack's own log and of the newest Puppet manifest log (where
# the actual Puppet error is), so the error in `pulumi up` says why.
# Inputs (environment): LAB_ANSWER_DIR (default /root/openstack-lab),
#   LAB_PACKSTACK_RUNS (where Packstack logs its runs, default /var/tmp/packstack).
set -euo pipefail

dir=${LAB_ANSWER_DIR:-/root/openstack-lab}
answers="$dir/answers.txt"
[ -s "$answers" ] || { echo "no answer file at $answers: run the answers step first" >&2; exit 1; }

echo "packstack --answer-file=$answers (takes 20-60 minutes; progress follows)"
status=0
packstack --answer-file="$answers" --timeout=3600 || status=$?
if [ "$status" -ne 0 ]; then
  # Packstack points "latest" at the directory of its newest run.
  latest=${LAB_PACKSTACK_RUNS:-/var/tmp/packstack}/latest
  echo "packstack failed (exit $status); last lines of $latest/openstack-setup.log:" >&2
  tail -n 40 "$latest/openstack-setup.log" >&2 || true
  # Puppet writes one <ip>_<role>.pp.log per applied manifest; the newest holds the failure.
  newest=$({ find "$latest/manifests" -maxdepth 1 -name '*.pp.log' -printf '%T@ %p\n' 2>/dev/null || true; } \
    | sort -rn | head -n 1 | cut -d' ' -f2-)
  if [ -n "$newest" ]; then
    echo "--- last lines of the newest Puppet log, $newest:" >&2
    tail -n 40 "$newest" >&2 || true
  fi
  exit "$status"
fi
echo "packstack finished"

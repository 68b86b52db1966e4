#!/usr/bin/env bash
# Runs Packstack with the lab's answer file, streaming its progress. On failure it
# prints the tail of Packstack's own log so the error in `pulumi up` says why.
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
  log=${LAB_PACKSTACK_RUNS:-/var/tmp/packstack}/latest/openstack-setup.log
  echo "packstack failed (exit $status); last lines of $log:" >&2
  tail -n 40 "$log" >&2 || true
  exit "$status"
fi
echo "packstack finished"

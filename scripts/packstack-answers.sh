#!/usr/bin/env bash
# Generates Packstack's answer file on the controller (once) and applies the lab's
# edits read from stdin (KEY=VALUE lines, passwords included: never echoed).
# Every edited key must exist in the generated file, so a typo fails loudly (EXCLUDE_SERVERS
# does: --gen-answer-file writes every option of every plugin, prescript's included).
#
# EXCLUDE_SERVERS (a scale-out: the old computes) stays only when the last finished Packstack
# run (its answers recorded by packstack-discover-hosts.sh) had the same answers apart from the
# computes and configured every excluded server; otherwise (no record, a failed run in between,
# other answers changed) it is emptied, so Packstack runs on every server, and this says why.
# Inputs (environment): LAB_ANSWER_DIR (default /root/openstack-lab).
set -euo pipefail
umask 077

dir=${LAB_ANSWER_DIR:-/root/openstack-lab}
generated="$dir/answers.generated.txt"
answers="$dir/answers.txt"
applied="$dir/answers.applied.txt"
install -d -m 0700 "$dir"
edits=$(mktemp "$dir/edits.XXXXXX")
trap 'rm -f "$edits" "$answers.new"' EXIT
cat > "$edits"

if [ ! -s "$generated" ]; then
  echo "generating the answer file with $(packstack --version 2>/dev/null || echo packstack)"
  packstack --gen-answer-file="$generated" >/dev/null
fi

awk '
  NR == FNR { i = index($0, "="); if (i > 1) { want[substr($0, 1, i - 1)] = substr($0, i + 1) } next }
  /^[A-Z0-9_]+=/ { key = substr($0, 1, index($0, "=") - 1); if (key in want) { print key "=" want[key]; seen[key] = 1; next } }
  { print }
  END { for (key in want) if (!(key in seen)) { print "unknown answer key: " key > "/dev/stderr"; bad = 1 } exit bad }
' "$edits" "$generated" > "$answers.new"

value() { sed -n "s/^$1=//p" "$2" | tail -n 1; }  # an answer's value in an answer file
others() { grep -vE '^(CONFIG_COMPUTE_HOSTS|EXCLUDE_SERVERS)=' "$1" || true; }
exclude=$(value EXCLUDE_SERVERS "$answers.new")
if [ -n "$exclude" ]; then
  why=""
  if [ ! -s "$applied" ]; then
    why="no record of a finished run in $applied"
  elif ! cmp -s <(others "$applied") <(others "$answers.new"); then
    why="answers other than the computes differ from the last finished run"
  else
    done_hosts=",$(value CONFIG_COMPUTE_HOSTS "$applied"),"
    for host in ${exclude//,/ }; do
      case "$done_hosts" in *",$host,"*) ;; *) why="$host was not a compute of the last finished run" ;; esac
    done
  fi
  if [ -n "$why" ]; then
    echo "not skipping $exclude: $why; Packstack runs on every server"
    sed -i 's/^EXCLUDE_SERVERS=.*/EXCLUDE_SERVERS=/' "$answers.new"
  else
    echo "the Packstack run skips the servers whose configuration does not change (EXCLUDE_SERVERS): $exclude"
  fi
fi

if cmp -s "$answers.new" "$answers"; then
  echo "answer file unchanged: $answers"
else
  mv "$answers.new" "$answers"
  echo "answer file written: $answers ($(wc -l < "$edits") lab answers applied)"
fi

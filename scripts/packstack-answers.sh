#!/usr/bin/env bash
# Generates Packstack's answer file on the controller (once) and applies the lab's
# edits read from stdin (KEY=VALUE lines, passwords included: never echoed).
# Every edited key must exist in the generated file, so a typo fails loudly. Keys the lab no
# longer answers go back to the generated file's values (an earlier lab's EXCLUDE_SERVERS to
# Packstack's empty default: the next run covers every server).
# Inputs (environment): LAB_ANSWER_DIR (default /root/openstack-lab).
set -euo pipefail
umask 077

dir=${LAB_ANSWER_DIR:-/root/openstack-lab}
generated="$dir/answers.generated.txt"
answers="$dir/answers.txt"
install -d -m 0700 "$dir"
# Labs before the full-run scale-out kept a record of the last run here (a copy of the answers,
# passwords included) that nothing reads any more.
rm -f "$dir/answers.applied.txt"
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

if cmp -s "$answers.new" "$answers"; then
  echo "answer file unchanged: $answers"
else
  mv "$answers.new" "$answers"
  echo "answer file written: $answers ($(wc -l < "$edits") lab answers applied)"
fi

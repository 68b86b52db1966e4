#!/usr/bin/env bash
# Runs shellcheck on every shell script of the project (`make lint`): the files under .ci/, scripts/,
# tools/, toolchain/ and tests/ named *.sh or starting with a sh/bash shebang (the Packstack tier's stand-ins
# and .ci/run have no suffix). Run from the repository root: `source=` directives name paths from there.
# Usage: tools/lint-shell.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck disable=SC2016  # $0 in the awk program is awk's
mapfile -t scripts < <(
    find .ci scripts tools toolchain tests -name __pycache__ -prune -o -type f -print0 \
        | xargs -0 awk 'FNR == 1 {
              if (FILENAME ~ /\.sh$/ || $0 ~ /^#!.*[\/ ](ba)?sh([ \t]|$)/) print FILENAME
              nextfile
          }' \
        | LC_ALL=C sort
)
# A moved folder must not make this check pass on nothing.
[ "${#scripts[@]}" -gt 0 ] || { echo "lint-shell.sh: no shell script found" >&2; exit 1; }
shellcheck -x "${scripts[@]}"
echo "shellcheck: ${#scripts[@]} scripts clean"

#!/usr/bin/env bash
# Build OUT_DIR/pulumi-resource-command, the self-built provider in toolchain/providers/command/
# that implements the pulumi-command wire contract used by the lab (remote Command, CopyToRemote,
# CopyFile, local Command, local run). It reports version 1.2.1 = pulumi-plugin.json of the pinned
# Python SDK pulumi-command==1.2.1.
#
# Usage: toolchain/build-command.sh OUT_DIR
# Idempotent: a stamp (hash of the Go sources, go.mod/go.sum, this script and the go version) lets
# a warm run just copy the previous binary. Go module/build caches are the normal ones
# (GOMODCACHE, GOCACHE), so a rebuild after a source change takes seconds.
# Environment:
#   OPENSTACK_LAB_PROVIDER_WORKDIR  work dir root (default ${XDG_CACHE_HOME:-~/.cache}/openstack-lab/provider-build)
#   OPENSTACK_LAB_GO                go binary (default: go on PATH, then /usr/local/go/bin/go)
# On failure the last line printed (stderr) is a one-line reason; the full log is in the work dir.
set -euo pipefail

VERSION=1.2.1
ME=build-command.sh
PLUGIN=pulumi-resource-command
fail() { printf '%s: ERROR: %s\n' "$ME" "$*" >&2; exit 1; }
if [ $# -ne 1 ] || [ -z "$1" ]; then fail "usage: toolchain/build-command.sh OUT_DIR"; fi
OUT=$1

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
SRC="$HERE/providers/command"
[ -f "$SRC/go.mod" ] || fail "no Go sources in $SRC"
T0=$(date +%s)
say() { printf '[%s %3ds] %s\n' "$ME" "$(( $(date +%s) - T0 ))" "$*"; }

# The engine asks for exactly the version the pinned Python SDK names; refuse a silent mismatch.
for req in "$REPO/requirements.txt" "$REPO/requirements-dev.txt"; do
    [ -f "$req" ] || continue
    pinned=$(sed -n 's/^[[:space:]]*pulumi-command[[:space:]]*==[[:space:]]*\([^[:space:];#]*\).*/\1/p' "$req" | head -n1)
    if [ -n "$pinned" ] && [ "$pinned" != "$VERSION" ]; then
        fail "$(basename "$req") pins pulumi-command==$pinned but this provider implements $VERSION (update $SRC and VERSION in $ME)"
    fi
done

# shellcheck source=toolchain/find-go.sh
source "$HERE/find-go.sh"
GO=$(find_go) || fail "go not found (set OPENSTACK_LAB_GO or put go on PATH)"
GOVER=$("$GO" env GOVERSION 2>/dev/null) || fail "$GO env GOVERSION failed"
export GOTOOLCHAIN=local CGO_ENABLED=0
export GOFLAGS="-mod=readonly -trimpath -buildvcs=false"

WORK_ROOT=${OPENSTACK_LAB_PROVIDER_WORKDIR:-${XDG_CACHE_HOME:-$HOME/.cache}/openstack-lab/provider-build}
WORK="$WORK_ROOT/command"
LOG="$WORK/build.log"

stamp=$( {
    echo "$GOVER $VERSION"
    sha256sum "$HERE/build-command.sh" | cut -d' ' -f1
    (cd "$SRC" && find . -maxdepth 1 -type f \( -name '*.go' ! -name '*_test.go' -o -name go.mod -o -name go.sum \) \
        -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
} | sha256sum | cut -c1-16)

mkdir -p "$WORK/bin" "$OUT" || fail "cannot create $WORK or $OUT"
# Serialize concurrent builds (several checkouts share the work dir).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$WORK/.lock"
    flock 9 || fail "cannot lock $WORK/.lock"
fi
if [ -x "$WORK/bin/$PLUGIN" ] && [ "$(cat "$WORK/stamp" 2>/dev/null)" = "$stamp" ]; then
    say "$PLUGIN $VERSION up to date (stamp $stamp)"
else
    rm -f "$WORK/stamp"
    : > "$LOG"
    say "$PLUGIN $VERSION: downloading Go modules (log: $LOG)"
    if ! (cd "$SRC" && "$GO" mod download) >>"$LOG" 2>&1; then
        tail -n 15 "$LOG" >&2 || true
        fail "go mod download failed for $SRC ($(grep -m1 -E 'error|403|not available|: ' "$LOG" | cut -c1-200)); log: $LOG"
    fi
    say "$PLUGIN $VERSION: compiling ($GOVER)"
    if ! (cd "$SRC" && "$GO" build -ldflags "-s -w -X main.version=$VERSION" -o "$WORK/bin/$PLUGIN.tmp" .) >>"$LOG" 2>&1; then
        tail -n 15 "$LOG" >&2 || true
        fail "go build failed ($(grep -m1 -vE '^#' "$LOG" | cut -c1-200)); log: $LOG"
    fi
    got=$("$WORK/bin/$PLUGIN.tmp" --version 2>>"$LOG") || fail "$PLUGIN --version failed; log: $LOG"
    [ "$got" = "$VERSION" ] || fail "$PLUGIN reports version '$got', expected $VERSION"
    mv -f "$WORK/bin/$PLUGIN.tmp" "$WORK/bin/$PLUGIN"
    echo "$stamp" > "$WORK/stamp"
    say "$PLUGIN $VERSION: built ($(du -k "$WORK/bin/$PLUGIN" | cut -f1) KiB)"
fi

cp -f "$WORK/bin/$PLUGIN" "$OUT/$PLUGIN.tmp.$$" || fail "cannot write $OUT"
mv -f "$OUT/$PLUGIN.tmp.$$" "$OUT/$PLUGIN"
say "installed $OUT/$PLUGIN"

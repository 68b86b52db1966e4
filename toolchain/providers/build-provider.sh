#!/usr/bin/env bash
# Build a thin Terraform-bridged Pulumi resource plugin from toolchain/providers/<name>/.
#
# Usage: build-provider.sh NAME VERSION OUT_DIR
#   Produces OUT_DIR/pulumi-resource-NAME (VERSION must match the Go source's pkgVersion,
#   i.e. pulumi-plugin.json of the pinned Python SDK). Called by toolchain/build-NAME.sh.
#
# Steps (in a persistent work dir, never in the checkout):
#   1. copy the committed Go sources (go.mod/go.sum pin everything) to WORK/src
#   2. go build -tags tfgen            -> WORK/tfgen-NAME (provider + the bridge's tfgen)
#   3. WORK/tfgen-NAME tfgen schema    -> WORK/src/schema.json (Pulumi schema)
#   4. go build -tags embedschema      -> WORK/bin/pulumi-resource-NAME (schema embedded)
#   5. check `-version`, stamp, copy to OUT_DIR
# Idempotent: a stamp (hash of sources, this script and the go version) lets a warm run just
# copy the previous result. Go module/build caches are the normal ones (GOMODCACHE, GOCACHE).
#
# Environment:
#   OPENSTACK_LAB_PROVIDER_WORKDIR  work dir root (default ${XDG_CACHE_HOME:-~/.cache}/openstack-lab/provider-build)
#   OPENSTACK_LAB_GO                go binary (default: go on PATH, then /usr/local/go/bin/go)
#   OPENSTACK_LAB_PROVIDER_SCHEMA   "embed" (default) or "none": skip steps 2-3 (saves ~80 s of a cold
#                                   build; the plugin then has no GetSchema and no input type checks,
#                                   which `pulumi up` with the Python SDK does not need)
# On failure the LAST line printed (stderr) is a one-line reason; the full log is in WORK.
set -euo pipefail

# Everything runs inside main() so that bash has parsed the whole file before running it
# (editing or checking out this file during a long build must not change what runs).
main() {
    NAME=${1:-}
    VERSION=${2:-}
    OUT=${3:-}
    ME="build-${NAME:-provider}.sh"
    fail() { printf '%s: ERROR: %s\n' "$ME" "$*" >&2; exit 1; }
    if [ -z "$NAME" ] || [ -z "$VERSION" ] || [ -z "$OUT" ]; then
        fail "usage: build-provider.sh NAME VERSION OUT_DIR"
    fi

    HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    SRC="$HERE/$NAME"
    [ -f "$SRC/go.mod" ] || fail "no Go sources in $SRC"
    PLUGIN="pulumi-resource-$NAME"
    WORK_ROOT=${OPENSTACK_LAB_PROVIDER_WORKDIR:-${XDG_CACHE_HOME:-$HOME/.cache}/openstack-lab/provider-build}
    WORK="$WORK_ROOT/$NAME"
    LOG="$WORK/build.log"
    T0=$(date +%s)
    say() { printf '[%s %3ds] %s\n' "$ME" "$(( $(date +%s) - T0 ))" "$*"; }

    # shellcheck source=toolchain/find-go.sh
    source "$HERE/../find-go.sh"
    GO=$(find_go) || fail "go not found (set OPENSTACK_LAB_GO or put go on PATH)"
    GOVER=$("$GO" env GOVERSION 2>/dev/null) || fail "$GO env GOVERSION failed"
    # go.mod says go 1.24.7; never let go try to download another toolchain.
    export GOTOOLCHAIN=local CGO_ENABLED=0
    export GOFLAGS="-mod=readonly -trimpath"

    grep -q "pkgVersion = \"$VERSION\"" "$SRC/provider.go" \
        || fail "version $VERSION does not match pkgVersion in $SRC/provider.go"

    SCHEMA_MODE=${OPENSTACK_LAB_PROVIDER_SCHEMA:-embed}
    case "$SCHEMA_MODE" in
        embed|none) ;;
        *) fail "OPENSTACK_LAB_PROVIDER_SCHEMA must be embed or none, not '$SCHEMA_MODE'" ;;
    esac
    stamp=$( {
        echo "$GOVER $VERSION $SCHEMA_MODE"
        sha256sum "$HERE/build-provider.sh"
        (cd "$SRC" && find . -maxdepth 1 -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 \
            | LC_ALL=C sort -z | xargs -0 sha256sum)
    } | sha256sum | cut -c1-16)

    mkdir -p "$WORK" "$OUT" || fail "cannot create $WORK or $OUT"
    # Serialise concurrent builds of the same plugin (several checkouts share WORK).
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$WORK/.lock"
        flock 9 || fail "cannot lock $WORK/.lock"
    fi
    if [ -x "$WORK/bin/$PLUGIN" ] && [ "$(cat "$WORK/stamp" 2>/dev/null)" = "$stamp" ]; then
        say "$PLUGIN $VERSION up to date (stamp $stamp), reusing $WORK/bin/$PLUGIN"
    else
        rm -f "$WORK/stamp"
        : > "$LOG"
        # 1. fresh copy of the sources (only the files that belong to the module)
        rm -rf "$WORK/src" "$WORK/schema"
        mkdir -p "$WORK/src" "$WORK/bin"
        cp "$SRC"/*.go "$SRC/go.mod" "$SRC/go.sum" "$WORK/src/"
        cd "$WORK/src"

        say "$PLUGIN $VERSION: downloading Go modules (log: $LOG)"
        "$GO" mod download >>"$LOG" 2>&1 \
            || fail "go mod download failed: $(grep -m1 -iE 'error|not available|403|404' "$LOG" || tail -n1 "$LOG")"

        tags=""
        if [ "$SCHEMA_MODE" = embed ]; then
            say "$PLUGIN $VERSION: compiling schema generator (cold: several minutes)"
            "$GO" build -tags tfgen -o "$WORK/tfgen-$NAME" . >>"$LOG" 2>&1 \
                || fail "go build -tags tfgen failed: $(grep -m1 -E '\.go:[0-9]+|error' "$LOG" || tail -n1 "$LOG")"

            say "$PLUGIN $VERSION: generating Pulumi schema"
            "$WORK/tfgen-$NAME" tfgen schema --out "$WORK/schema" --skip-docs --skip-examples >>"$LOG" 2>&1 \
                || fail "tfgen schema failed: $(grep -m1 -iE 'error' "$LOG" || tail -n1 "$LOG")"
            [ -s "$WORK/schema/schema.json" ] || fail "tfgen produced no $WORK/schema/schema.json"
            cp "$WORK/schema/schema.json" "$WORK/src/schema.json"
            tags=embedschema
        fi

        say "$PLUGIN $VERSION: compiling plugin"
        "$GO" build -tags "$tags" -ldflags "-s -w" -o "$WORK/bin/$PLUGIN.tmp" . >>"$LOG" 2>&1 \
            || fail "go build failed: $(grep -m1 -E '\.go:[0-9]+|error' "$LOG" || tail -n1 "$LOG")"
        got=$("$WORK/bin/$PLUGIN.tmp" -version 2>>"$LOG") || fail "$PLUGIN -version failed (log: $LOG)"
        [ "$got" = "$VERSION" ] || fail "$PLUGIN reports version '$got', expected $VERSION"
        mv -f "$WORK/bin/$PLUGIN.tmp" "$WORK/bin/$PLUGIN"
        rm -f "$WORK/tfgen-$NAME"
        echo "$stamp" > "$WORK/stamp"
        say "$PLUGIN $VERSION: built ($(du -h "$WORK/bin/$PLUGIN" | cut -f1))"
    fi

    cp -f "$WORK/bin/$PLUGIN" "$OUT/$PLUGIN.tmp" || fail "cannot copy $PLUGIN to $OUT"
    mv -f "$OUT/$PLUGIN.tmp" "$OUT/$PLUGIN" || fail "cannot move $PLUGIN into $OUT"
    say "$OUT/$PLUGIN ready"
}

main "$@"
exit $?

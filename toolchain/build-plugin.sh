#!/usr/bin/env bash
# Build one resource plugin, OUT_DIR/pulumi-resource-NAME, from the Go module providers/NAME/.
# The one build helper for all plugins; setup.sh calls it for each stale plugin (setup.sh keeps the
# stamps and the lock, so this script always builds).
#
# Usage: toolchain/build-plugin.sh NAME VERSION OUT_DIR
#   VERSION must equal pkgVersion in providers/NAME/*.go and what the built binary prints for -version.
# The sources are copied to OUT_DIR/src (the checkout is never written), then:
#   - a plugin whose go.mod requires pulumi-terraform-bridge (libvirt, openstack) gets the shared main
#     of providers/bridge/; `go build -tags tfgen` (with an empty schema.json) and `tfgen schema`
#     produce OUT_DIR/schema/schema.json, which the final build embeds (GetSchema, input checks);
#   - the others (command) are just built.
# Go's module and build caches are the normal ones, so a rebuild after a small change takes seconds.
# On failure the last line printed (stderr) is a one-line reason.
set -euo pipefail

# Everything runs inside main() so that bash has parsed the whole file before running it
# (editing or checking out this file during a long build must not change what runs).
main() {
    local name=${1:-} version=${2:-} out=${3:-}
    local here src work plugin go t0
    fail() { printf 'build-plugin.sh %s: ERROR: %s\n' "$name" "$*" >&2; exit 1; }
    if [ $# -ne 3 ] || [ -z "$name" ] || [ -z "$version" ] || [ -z "$out" ]; then
        fail "usage: toolchain/build-plugin.sh NAME VERSION OUT_DIR"
    fi
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    src="$here/providers/$name"
    [ -f "$src/go.mod" ] || fail "no Go module in $src"
    grep -qs "pkgVersion = \"$version\"" "$src"/*.go || fail "version $version does not match pkgVersion in $src"
    t0=$(date +%s)
    say() { printf '[build-plugin.sh %s %3ds] %s\n' "$name" "$(( $(date +%s) - t0 ))" "$*"; }

    # shellcheck source=toolchain/find-go.sh
    source "$here/find-go.sh"
    go=$(find_go) || fail "go not found (set OPENSTACK_LAB_GO or put go on PATH)"
    export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=readonly -trimpath -buildvcs=false"
    # go_build ARGS...: go build in the work dir; on failure the first compiler or module error.
    go_build() {
        local log
        if ! log=$(cd "$work" && "$go" build "$@" 2>&1); then
            printf '%s\n' "$log" >&2
            fail "go build $* failed: $(grep -m1 -E '\.go:[0-9]+|error|403|404|not available' <<<"$log" | cut -c1-200)"
        fi
    }

    work="$out/src"
    plugin="$out/pulumi-resource-$name"
    rm -rf "$work" "$out/schema"
    mkdir -p "$work"
    cp "$src"/*.go "$src/go.mod" "$src/go.sum" "$work/"
    rm -f "$work"/*_test.go
    if grep -q 'github.com/pulumi/pulumi-terraform-bridge/' "$src/go.mod"; then
        cp "$here/providers/bridge/"*.go "$work/"
        : > "$work/schema.json"
        say "compiling the schema generator (-tags tfgen; cold: several minutes)"
        go_build -tags tfgen -o "$out/tfgen" .
        say "generating the Pulumi schema"
        "$out/tfgen" tfgen schema --out "$out/schema" --skip-docs --skip-examples >&2 || fail "tfgen schema failed"
        [ -s "$out/schema/schema.json" ] || fail "tfgen produced no $out/schema/schema.json"
        cp "$out/schema/schema.json" "$work/schema.json"
        rm -f "$out/tfgen"
    fi
    say "compiling the plugin"
    go_build -ldflags "-s -w" -o "$plugin" .
    local got
    got=$("$plugin" -version) || fail "$plugin -version failed"
    [ "$got" = "$version" ] || fail "$plugin reports version '$got', expected $version"
    rm -rf "$work"
    say "built $plugin ($(du -h "$plugin" | cut -f1))"
}

main "$@"
exit $?

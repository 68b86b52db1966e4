#!/usr/bin/env bash
# `go vet` of every Go module under toolchain/ (called by `make lint`), offline: the modules come from
# the module cache that toolchain/setup.sh filled (GOPROXY=off), so run `make toolchain` first.
#   language-python/      the Python language host (the CLI pin in tools.go is behind the `tools` tag)
#   providers/command/    our command plugin, its tests included
#   providers/libvirt/, providers/openstack/
#                         the bridged plugins; like build-plugin.sh, each is vetted in a scratch copy
#                         joined with providers/bridge/ (their shared main) and an empty schema.json,
#                         once per build variant (default and -tags tfgen)
# Each module is vetted with the flags its build uses, so Go's build cache already holds its dependencies.
# A module whose dependencies are not in the module cache (setup.sh reused a prebuilt plugin instead of
# building it) is named and not vetted: a failure under CI=true, a warning otherwise; `--online` lets go
# download them (GOPROXY as configured) and vets it.
# Exit status: 0 when every module is clean; otherwise 1, after vetting all of them.
# Usage: toolchain/vet.sh [--online]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=toolchain/find-go.sh
source "$HERE/find-go.sh"
GO=$(find_go) || { echo "vet.sh: no go found (set OPENSTACK_LAB_GO or put go on PATH)" >&2; exit 1; }
export GOTOOLCHAIN=local
case "${1:-}" in
    --online) ;;
    "") export GOPROXY=off ;;
    *) echo "vet.sh: unknown argument: $1 (use --online or nothing)" >&2; exit 2 ;;
esac

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()
missing=()
clean=0

# vet NAME DIR GOFLAGS [go vet ARGS...]: vet one module (or scratch copy) and remember a failure.
vet() {
    local name=$1 dir=$2 flags=$3 log
    shift 3
    # What vet loads, without compiling: offline, a module missing from the cache shows here.
    if ! log=$(cd "$dir" && GOFLAGS=$flags "$GO" list -deps -test "$@" 2>&1 >/dev/null) \
            && grep -q 'module lookup disabled by GOPROXY=off' <<<"$log"; then
        echo "go vet: $name: NOT VETTED, dependencies missing from Go's module cache:" \
            "$(grep -m1 'module lookup disabled' <<<"$log")" >&2
        missing+=("$name")
        return 0
    fi
    echo "go vet: $name"
    if (cd "$dir" && GOFLAGS=$flags "$GO" vet "$@"); then
        clean=$((clean + 1))
    else
        failed+=("$name")
    fi
}

modules=0
for mod in "$HERE"/*/go.mod "$HERE"/providers/*/go.mod; do
    [ -f "$mod" ] || continue
    modules=$((modules + 1))
    dir=$(dirname "$mod")
    name=${dir#"$HERE"/}
    # Flags as each module's build uses them: setup.sh (language host), the Makefile's test-go (command),
    # build-plugin.sh (bridged plugins).
    if [ "$name" = language-python ]; then
        vet "$name" "$dir" "-mod=readonly -buildvcs=false" ./...
    elif [ "$name" = providers/command ]; then
        vet "$name" "$dir" "-mod=readonly" ./...
    elif grep -q 'github.com/pulumi/pulumi-terraform-bridge/' "$mod"; then
        work="$scratch/$(basename "$dir")"
        mkdir -p "$work"
        cp "$dir"/*.go "$dir/go.mod" "$dir/go.sum" "$HERE/providers/bridge/"*.go "$work/"
        : > "$work/schema.json"
        CGO_ENABLED=0 vet "$name" "$work" "-mod=readonly -trimpath -buildvcs=false" .
        CGO_ENABLED=0 vet "$name -tags tfgen" "$work" "-mod=readonly -trimpath -buildvcs=false" -tags tfgen .
    else
        echo "vet.sh: $name/go.mod is a module this script does not know how to vet; add it here" >&2
        failed+=("$name")
    fi
done
# A moved module directory must not make this script vet nothing.
[ "$modules" -gt 0 ] || { echo "vet.sh: no Go module found under $HERE" >&2; exit 1; }

if [ ${#missing[@]} -gt 0 ]; then
    echo "go vet: not vetted offline: ${missing[*]} (the toolchain reused a prebuilt plugin, so its modules were" \
        "never downloaded); run toolchain/vet.sh --online once" >&2
    [ "${CI:-}" != true ] || failed+=("${missing[@]}")
fi
if [ ${#failed[@]} -gt 0 ]; then
    echo "go vet failed: ${failed[*]}" >&2
    exit 1
fi
echo "go vet: $clean of $(( clean + ${#missing[@]} )) builds of $modules modules clean${missing[*]:+; not vetted: ${missing[*]}}"

#!/usr/bin/env bash
# Build (or reuse) the openstack-lab Pulumi toolchain and link it as the checkout's `.tools/`:
#   .tools/bin/pulumi                         Pulumi CLI (built from github.com/pulumi/pulumi/pkg/v3)
#   .tools/bin/pulumi-language-python         Python language host (toolchain/language-python)
#   .tools/bin/pulumi-language-python-exec    upstream program runner (from the sdk/v3 module)
#   .tools/bin/pulumi-resource-pulumi-python  upstream dynamic-provider launcher (from the sdk/v3 module)
#   .tools/pulumi-home/plugins/resource-*     resource plugins, each built by toolchain/build-plugin.sh
# The real directory is ~/.cache/openstack-lab/toolchain/<versions-key>/, shared by all checkouts.
# Idempotent: every component has a stamp (hash of its inputs); a warm run only checks stamps.
#
# Usage: toolchain/setup.sh [--check]
#   --check   build nothing; exit 0 if everything is up to date, 1 otherwise (prints what is stale).
# Environment:
#   OPENSTACK_LAB_TOOLCHAIN_CACHE   cache root (default ${XDG_CACHE_HOME:-~/.cache}/openstack-lab/toolchain)
#   OPENSTACK_LAB_GO                the go binary to use (default: go on PATH, then /usr/local/go/bin/go)
set -euo pipefail

PULUMI_VERSION=3.274.1
# name=version of each resource plugin (the versions in pulumi-plugin.json of the pinned Python SDKs).
PLUGINS=(command=1.2.1 libvirt=0.5.4 openstack=5.5.3)

CHECK_ONLY=false
case "${1:-}" in
    --check) CHECK_ONLY=true ;;
    "") ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown argument: $1 (use --check or nothing)" >&2; exit 2 ;;
esac

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
GOMOD_DIR="$HERE/language-python"
CACHE_ROOT=${OPENSTACK_LAB_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/openstack-lab/toolchain}
KEY="pulumi-${PULUMI_VERSION}"
for p in "${PLUGINS[@]}"; do KEY="${KEY}_${p/=/-}"; done
DEST="$CACHE_ROOT/$KEY"
BIN="$DEST/bin"
PHOME="$DEST/pulumi-home"
LOGS="$DEST/logs"
STAMPS="$DEST/stamps"
T0=$(date +%s)

say() { printf '[toolchain %3ds] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }
die() { printf 'toolchain setup failed: %s\n' "$*" >&2; exit 1; }

# hash_inputs FILE_OR_DIR...: stable hash of the contents (and relative names) of the given paths
# (tests and documentation do not count).
hash_inputs() {
    local p
    {
        for p in "$@"; do
            if [ -d "$p" ]; then
                (cd "$p" && find . -type f ! -name '*.pyc' ! -path '*/__pycache__/*' ! -name '*_test.go' ! -name '*.md' -print0 | LC_ALL=C sort -z \
                    | xargs -0 -r sha256sum)
            elif [ -f "$p" ]; then
                sha256sum "$p" | sed "s#  .*#  $(basename "$p")#"
            else
                echo "absent $(basename "$p")"
            fi
        done
    } | sha256sum | cut -c1-16
}

stamp_ok() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp_set() { mkdir -p "$STAMPS"; printf '%s\n' "$2" > "$STAMPS/$1.tmp"; mv -f "$STAMPS/$1.tmp" "$STAMPS/$1"; }

# run_logged LOG CMD...: run with output to LOG; on failure show its tail.
run_logged() {
    local log=$1; shift
    if ! "$@" >"$log" 2>&1; then
        tail -n 25 "$log" >&2 || true
        return 1
    fi
}

# shellcheck source=toolchain/find-go.sh
source "$HERE/find-go.sh"

GO=""
require_go() {
    [ -n "$GO" ] && return 0
    GO=$(find_go) || die "no 'go' found (need Go >= 1.26.6 on PATH or in /usr/local/go/bin) to build $1, and no prebuilt one is available"
    local want have
    want=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$GOMOD_DIR/go.mod")
    have=$(GOTOOLCHAIN=local "$GO" env GOVERSION | sed 's/^go//')
    if [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n1)" != "$want" ]; then
        die "Go $have at $GO is too old to build $1 (need >= $want)"
    fi
}
# Only our own go invocations get these (plugin build scripts keep their own environment).
gocmd() { env GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false" "$GO" "$@"; }

go_modules_ready=false
require_go_modules() {
    $go_modules_ready && return 0
    require_go "$1"
    say "Go modules: checking/downloading (pulumi pkg/v3 v$PULUMI_VERSION and dependencies)"
    if ! (cd "$GOMOD_DIR" && run_logged "$LOGS/go-mod-download.log" gocmd list -deps \
            github.com/pulumi/pulumi/pkg/v3/cmd/pulumi ./pulumi-language-python); then
        die "cannot get the Go modules for $1 (not in $("$GO" env GOMODCACHE) and the Go module proxy failed); log: $LOGS/go-mod-download.log"
    fi
    go_modules_ready=true
}

LDFLAGS="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${PULUMI_VERSION}"

STALE=()
mkdir -p "$CACHE_ROOT"
if ! $CHECK_ONLY; then
    mkdir -p "$BIN" "$PHOME" "$LOGS" "$STAMPS"
    # One setup at a time per toolchain dir (checkouts share it).
    exec 9>"$DEST/.lock"
    if ! flock -n 9; then
        say "another setup.sh is building $DEST; waiting for it"
        flock 9
    fi
fi

# ---------------------------------------------------------------- pulumi CLI
ambient_pulumi() {
    # An existing pulumi of the right version (not our own link) is reused instead of building one.
    local p v
    p=$(command -v pulumi 2>/dev/null || true)
    [ -n "$p" ] || return 1
    case "$(readlink -f "$p")" in "$(readlink -f "$BIN")"/*|"$(readlink -f "$DEST")"/*) return 1 ;; esac
    v=$(PULUMI_SKIP_UPDATE_CHECK=true "$p" version 2>/dev/null || true)
    [ "$v" = "v$PULUMI_VERSION" ] || return 1
    readlink -f "$p"
}

cli_hash=$(hash_inputs "$GOMOD_DIR/go.mod" "$GOMOD_DIR/go.sum")
cli_hash="v${PULUMI_VERSION}-${cli_hash}"
if [ -x "$BIN/pulumi" ] && { stamp_ok pulumi "$cli_hash" || stamp_ok pulumi "ambient"; }; then
    say "pulumi CLI v$PULUMI_VERSION: up to date"
elif $CHECK_ONLY; then
    STALE+=("pulumi CLI")
elif amb=$(ambient_pulumi); then
    ln -sfn "$amb" "$BIN/pulumi"
    stamp_set pulumi "ambient"
    say "pulumi CLI v$PULUMI_VERSION: using existing $amb"
else
    require_go_modules "the pulumi CLI"
    say "pulumi CLI v$PULUMI_VERSION: building from source (cold: ~10-20 min on 2 cores; log: $LOGS/pulumi-cli.log)"
    t=$(date +%s)
    if ! (cd "$GOMOD_DIR" && run_logged "$LOGS/pulumi-cli.log" gocmd build -trimpath -ldflags "$LDFLAGS" \
            -o "$BIN/.pulumi.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi); then
        die "building the pulumi CLI failed; log: $LOGS/pulumi-cli.log"
    fi
    mv -f "$BIN/.pulumi.tmp" "$BIN/pulumi"
    got=$("$BIN/pulumi" version 2>/dev/null || true)
    [ "$got" = "v$PULUMI_VERSION" ] || die "built pulumi reports version '$got', expected v$PULUMI_VERSION"
    stamp_set pulumi "$cli_hash"
    say "pulumi CLI v$PULUMI_VERSION: built in $(( $(date +%s) - t ))s"
fi

# ------------------------------------------------------- python language host
# If the reused CLI ships its own language host next to it, the engine uses that one (bundled plugin lookup).
lang_hash=$(hash_inputs "$GOMOD_DIR")
lang_hash="v${PULUMI_VERSION}-${lang_hash}"
lang_files=(pulumi-language-python pulumi-language-python-exec pulumi-resource-pulumi-python)
lang_present=true
for f in "${lang_files[@]}"; do [ -x "$BIN/$f" ] || lang_present=false; done
if $lang_present && stamp_ok language-python "$lang_hash"; then
    say "python language host: up to date"
elif $CHECK_ONLY; then
    STALE+=("python language host")
else
    require_go_modules "the python language host"
    t=$(date +%s)
    say "python language host: building (log: $LOGS/language-python.log)"
    if ! (cd "$GOMOD_DIR" && run_logged "$LOGS/language-python.log" gocmd build -trimpath -ldflags "$LDFLAGS" \
            -o "$BIN/.pulumi-language-python.tmp" ./pulumi-language-python); then
        die "building pulumi-language-python failed; log: $LOGS/language-python.log"
    fi
    mv -f "$BIN/.pulumi-language-python.tmp" "$BIN/pulumi-language-python"
    sdkdir=$(cd "$GOMOD_DIR" && gocmd list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3) \
        || die "cannot locate the github.com/pulumi/pulumi/sdk/v3 module directory"
    for src in "$sdkdir/python/cmd/pulumi-language-python-exec" "$sdkdir/python/dist/pulumi-resource-pulumi-python"; do
        [ -f "$src" ] || die "missing $src in the sdk/v3 module"
        install -m 0755 "$src" "$BIN/$(basename "$src")"
    done
    stamp_set language-python "$lang_hash"
    say "python language host: built in $(( $(date +%s) - t ))s"
fi

if ! $CHECK_ONLY; then
# ---------------------------------------------------------------- link .tools
if [ -e "$REPO/.tools" ] && [ ! -L "$REPO/.tools" ]; then
    die "$REPO/.tools exists and is not a symlink; remove it and re-run"
fi
ln -sfn "$DEST" "$REPO/.tools"
say ".tools -> $DEST"
fi

# ------------------------------------------------------------ resource plugins
pulumi_cmd() { PULUMI_HOME="$PHOME" PULUMI_SKIP_UPDATE_CHECK=true "$BIN/pulumi" "$@"; }

for entry in "${PLUGINS[@]}"; do
    name=${entry%%=*}
    ver=${entry#*=}
    # The engine asks for exactly the version in the pinned SDK's pulumi-plugin.json.
    pinned=$(sed -n "s/^pulumi-$name==\([^[:space:];#]*\).*/\1/p" "$REPO/requirements.txt")
    [ -z "$pinned" ] || [ "$pinned" = "$ver" ] \
        || die "requirements.txt pins pulumi-$name==$pinned but setup.sh builds plugin $name v$ver (update PLUGINS)"
    installed="$PHOME/plugins/resource-$name-v$ver/pulumi-resource-$name"
    inputs=("$HERE/build-plugin.sh" "$HERE/providers/$name")
    if grep -q 'github.com/pulumi/pulumi-terraform-bridge/' "$HERE/providers/$name/go.mod"; then
        inputs+=("$HERE/providers/bridge")
    fi
    p_hash="v${ver}-$(hash_inputs "${inputs[@]}")"
    if [ -x "$installed" ] && { stamp_ok "plugin-$name" "$p_hash" || stamp_ok "plugin-$name" "ambient"; }; then
        say "plugin $name v$ver: up to date"
        continue
    fi
    if $CHECK_ONLY; then
        STALE+=("plugin $name v$ver")
        continue
    fi
    # Reuse a plugin of the right version from the user's own PULUMI_HOME (~/.pulumi), if any.
    ambient_home=${PULUMI_HOME:-$HOME/.pulumi}
    src="$ambient_home/plugins/resource-$name-v$ver/pulumi-resource-$name"
    if [ "$(readlink -f "$ambient_home")" != "$(readlink -f "$PHOME")" ] && [ -x "$src" ]; then
        how="ambient"
        say "plugin $name v$ver: using existing $src"
    else
        out="$DEST/build/plugin-$name"
        t=$(date +%s)
        say "plugin $name v$ver: building with toolchain/build-plugin.sh (log: $LOGS/plugin-$name.log)"
        if ! run_logged "$LOGS/plugin-$name.log" bash "$HERE/build-plugin.sh" "$name" "$ver" "$out"; then
            die "building plugin $name v$ver failed ($(tail -n1 "$LOGS/plugin-$name.log")); log: $LOGS/plugin-$name.log"
        fi
        src="$out/pulumi-resource-$name"
        how=$p_hash
        say "plugin $name v$ver: built in $(( $(date +%s) - t ))s"
    fi
    rm -rf "$PHOME/plugins/resource-$name-v$ver" "$PHOME/plugins/resource-$name-v$ver.lock" \
        "$PHOME/plugins/resource-$name-v$ver.partial"
    if ! run_logged "$LOGS/plugin-$name-install.log" pulumi_cmd plugin install resource "$name" "$ver" --file "$src"; then
        die "pulumi plugin install resource $name $ver --file $src failed; log: $LOGS/plugin-$name-install.log"
    fi
    [ -x "$installed" ] || die "plugin $name v$ver not found at $installed after install"
    stamp_set "plugin-$name" "$how"
    # Keep only the generated schema (build/plugin-NAME/schema/schema.json, for check_sdk_names.py).
    [ "$how" = ambient ] || rm -f "$src"
done

if $CHECK_ONLY; then
    if [ ! -L "$REPO/.tools" ] || [ "$(readlink -f "$REPO/.tools")" != "$(readlink -f "$DEST" 2>/dev/null || echo "$DEST")" ]; then
        STALE+=(".tools link")
    fi
    if [ ${#STALE[@]} -gt 0 ]; then
        printf 'toolchain: stale or missing: %s\n' "$(IFS=,; echo "${STALE[*]}")"
        exit 1
    fi
    say "toolchain up to date: $DEST"
    exit 0
fi

say "done; use: source toolchain/env.sh"

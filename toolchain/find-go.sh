# shellcheck shell=bash
# Sourced by setup.sh and build-plugin.sh: the one place that picks the go binary.
# find_go prints OPENSTACK_LAB_GO if set (and executable), else go on PATH, else
# /usr/local/go/bin/go; it fails when none is executable.
find_go() {
    local g
    if [ -n "${OPENSTACK_LAB_GO:-}" ]; then
        [ -x "$OPENSTACK_LAB_GO" ] && echo "$OPENSTACK_LAB_GO"
        return
    fi
    for g in "$(command -v go 2>/dev/null || true)" /usr/local/go/bin/go; do
        if [ -n "$g" ] && [ -x "$g" ]; then echo "$g"; return 0; fi
    done
    return 1
}

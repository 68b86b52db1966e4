#!/usr/bin/env bash
# Smoke test of the installed libvirt/openstack resource plugins through the real Pulumi CLI,
# the Python language host and the pinned Python SDKs. Needs root, libvirtd and virsh; touches
# nothing on the host: a private libvirtd runs in its own mount+network namespace (tests/support/libvirtd.sh) with
# its unix socket in a temp dir, and the lab uses libvirt's in-memory test driver
# (test:///default over that socket). The openstack part only declares a Provider and previews
# Network/Subnet/Router/RouterInterface/Port against 127.0.0.1:1 (no request leaves loopback).
#
# Usage: toolchain/providers/smoke-test.sh   (after toolchain/setup.sh and make venv)
# Environment: OPENSTACK_LAB_VENV (default <repo>/.venv)
set -euo pipefail

# Globals (the EXIT trap runs after main has returned).
tmp="" netns="" libvirtd_sh="" hold_pid=""
cleanup() {
    if [ -n "$hold_pid" ]; then kill "$hold_pid" 2>/dev/null || true; fi
    if [ -n "$netns" ]; then bash "$libvirtd_sh" stop "$netns" "$tmp/libvirtd" 2>/dev/null || true; fi
    if [ -n "$tmp" ]; then rm -rf "$tmp"; fi
}
trap cleanup EXIT

main() {
    local here repo venv uri sock
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    repo=$(cd "$here/../.." && pwd)
    venv=${OPENSTACK_LAB_VENV:-$repo/.venv}
    fail() { printf 'smoke-test.sh: FAIL: %s\n' "$*" >&2; exit 1; }
    [ "$(id -u)" = 0 ] || fail "must run as root (unshare --mount)"
    command -v libvirtd >/dev/null || fail "libvirtd not installed"
    command -v virsh >/dev/null || fail "virsh not installed"
    [ -x "$venv/bin/python" ] || fail "no Python venv at $venv (run make venv or set OPENSTACK_LAB_VENV)"
    [ -x "$repo/.tools/bin/pulumi" ] || fail "no $repo/.tools/bin/pulumi (run toolchain/setup.sh)"

    tmp=$(mktemp -d /tmp/osl-plugin-smoke.XXXXXX)

    # --- private libvirtd (own mount + net namespace, state in $tmp/libvirtd; the tests' helper) ---
    mkdir -p "$tmp/pool" "$tmp/prog" "$tmp/state"
    libvirtd_sh=$repo/tests/support/libvirtd.sh netns=osl-smoke-$$
    sock=$(bash "$libvirtd_sh" start "$netns" "$tmp/libvirtd" 2>"$tmp/libvirtd.log") \
        || fail "private libvirtd did not start: $(tail -n3 "$tmp/libvirtd.log")"
    uri="test:///default?socket=$sock"
    # The test driver forgets everything when its last connection closes: hold one open.
    mkfifo "$tmp/hold"
    virsh -q -c "test+unix:///default?socket=$sock" <"$tmp/hold" >/dev/null 2>&1 &
    hold_pid=$!
    exec 8>"$tmp/hold"

    # --- Pulumi program ---
    cat > "$tmp/prog/Pulumi.yaml" <<EOF
name: plugin-smoke
runtime:
  name: python
  options:
    virtualenv: $venv
EOF
    cat > "$tmp/prog/__main__.py" <<'EOF'
import os
import pulumi
import pulumi_libvirt as libvirt
import pulumi_openstack as openstack

lv = libvirt.Provider("lv", uri=os.environ["SMOKE_URI"])
o = pulumi.ResourceOptions(provider=lv)
net = libvirt.Network("net", name="smokenet", mode="none", addresses=["10.254.254.0/24"], autostart=False, opts=o)
pool = libvirt.Pool("pool", name="smokepool", type="dir", target=libvirt.PoolTargetArgs(path=os.environ["SMOKE_POOL"]), opts=o)
vol = libvirt.Volume("vol", name="smoke.qcow2", pool=pool.name, size=64 * 1024 * 1024, format="qcow2", opts=o)
osp = openstack.Provider("os", auth_url="http://127.0.0.1:1/v3", user_name="admin",
                         password=pulumi.Output.secret("unused"), tenant_name="admin",
                         user_domain_name="Default", project_domain_name="Default", region="RegionOne",
                         insecure=True, endpoint_type="public")
if os.environ.get("SMOKE_OS_NET"):  # preview only: would need a real cloud to apply
    oo = pulumi.ResourceOptions(provider=osp)
    ext = openstack.networking.Network("ext", name="ext", external=True, admin_state_up=True, segments=[
        openstack.networking.NetworkSegmentArgs(network_type="flat", physical_network="extnet")], opts=oo)
    esub = openstack.networking.Subnet("ext-sub", network_id=ext.id, cidr="10.254.253.0/24", enable_dhcp=False,
        gateway_ip="10.254.253.1", allocation_pools=[openstack.networking.SubnetAllocationPoolArgs(
            start="10.254.253.100", end="10.254.253.200")], dns_nameservers=["10.254.253.1"], opts=oo)
    priv = openstack.networking.Network("priv", name="priv", opts=oo)
    psub = openstack.networking.Subnet("priv-sub", network_id=priv.id, cidr="192.168.254.0/24", ip_version=4, opts=oo)
    router = openstack.networking.Router("router", name="r1", external_network_id=ext.id, opts=oo)
    openstack.networking.RouterInterface("ri", router_id=router.id, subnet_id=psub.id, opts=oo)
    openstack.networking.Port("port", network_id=priv.id, fixed_ips=[openstack.networking.PortFixedIpArgs(
        subnet_id=psub.id, ip_address="192.168.254.10")], opts=oo)
pulumi.export("networkId", net.id)
pulumi.export("volumeId", vol.id)
EOF
    export PULUMI_BACKEND_URL="file://$tmp/state" PULUMI_CONFIG_PASSPHRASE_FILE="$tmp/passphrase"
    unset PULUMI_CONFIG_PASSPHRASE
    (umask 077 && head -c 24 /dev/urandom | base64 > "$tmp/passphrase")
    # shellcheck source=/dev/null
    source "$repo/toolchain/env.sh"
    export SMOKE_URI="$uri" SMOKE_POOL="$tmp/pool"
    cd "$tmp/prog"
    local log="$tmp/pulumi.log" t0
    t0=$(date +%s)
    step() { local what=$1; shift; if ! "$@" >>"$log" 2>&1; then
        grep -E 'error|Error' "$log" | tail -n 5 >&2 || true
        fail "$what failed"; fi; }
    step "stack init" pulumi stack init smoke --non-interactive
    step "pulumi up" pulumi up --yes --skip-preview --non-interactive
    virsh -q -c "test+unix:///default?socket=$sock" net-info smokenet >/dev/null 2>&1 \
        || fail "libvirt network smokenet was not created"
    virsh -q -c "test+unix:///default?socket=$sock" vol-info smoke.qcow2 --pool smokepool \
        >/dev/null 2>&1 || fail "libvirt volume smoke.qcow2 was not created"
    step "pulumi preview --expect-no-changes" pulumi preview --expect-no-changes --non-interactive
    export SMOKE_OS_NET=1
    step "openstack networking preview" pulumi preview --non-interactive
    unset SMOKE_OS_NET
    grep -q 'openstack:networking:RouterInterface' "$log" || fail "openstack preview did not plan a RouterInterface"
    if grep -q 'Type checking failed' "$log"; then fail "bridge type checker complained (see $log)"; fi
    step "pulumi destroy" pulumi destroy --yes --non-interactive
    if virsh -q -c "test+unix:///default?socket=$sock" net-info smokenet >/dev/null 2>&1; then
        fail "libvirt network smokenet still exists after destroy"
    fi
    step "stack rm" pulumi stack rm smoke --yes --non-interactive
    echo "smoke-test.sh: OK (libvirt Network/Pool/Volume up+preview+destroy, openstack networking preview) in $(( $(date +%s) - t0 ))s"
}

main "$@"

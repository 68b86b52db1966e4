#!/usr/bin/env bash
# Build the Debian 12 e2e test image (qcow2 + kernel + initrd for direct kernel boot)
# from Debian's packages with debootstrap. No image is downloaded and no loop device
# is used: the root filesystem is made by `mke2fs -d` and converted by qemu-img.
#
# Idempotent: the result is cached in
#   ${XDG_CACHE_HOME:-$HOME/.cache}/openstack-lab/images/<recipe-hash>/
# keyed by the hash of this script and packages.txt. A complete cache entry is reused.
#
# Output: progress on stderr; the last line on stdout is the image directory, holding
#   disk.qcow2, vmlinuz, initrd.img, cmdline, build-info.json
#
# Environment:
#   LAB_E2E_DEBIAN_MIRROR  (default http://deb.debian.org/debian)
#   LAB_E2E_IMAGE_CACHE    (default ${XDG_CACHE_HOME:-$HOME/.cache}/openstack-lab/images)
#   LAB_E2E_IMAGE_SIZE     (root filesystem size, default 3G; the qcow2 is sparse)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pkg_file="$here/packages.txt"
mirror="${LAB_E2E_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
cache_root="${LAB_E2E_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/openstack-lab/images}"
fs_size="${LAB_E2E_IMAGE_SIZE:-3G}"
suite=bookworm

log() { printf '[build-image] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap, chroot)"
for tool in debootstrap mke2fs qemu-img sha256sum unshare chroot python3; do
  command -v "$tool" >/dev/null || die "missing tool: $tool (apt-get install debootstrap e2fsprogs qemu-utils)"
done

recipe_hash="$(cat "${BASH_SOURCE[0]}" "$pkg_file" | sha256sum | cut -c1-16)"
out="$cache_root/$recipe_hash"
# shellcheck source=tests/support/build-cache.sh
source "$here/../../support/build-cache.sh"
cached_or_locked "$out" .complete "$cache_root/.lock-$recipe_hash" "${LAB_E2E_IMAGE_LOCK_WAIT:-1800}" build-image \
  && exit 0

start_s=$(date +%s)
work="$cache_root/.build-$recipe_hash"
rm -rf "$work"
mkdir -p "$work"
root="$work/rootfs"
cleanup() {
  # Mounts are made inside a private mount namespace (unshare -m) and vanish with it;
  # this only removes the scratch directory.
  rm -rf "$work"
}
trap cleanup EXIT

debs=()
pypi=()
while IFS= read -r line; do
  line="${line%%#*}"
  line="${line//[[:space:]]/}"
  [[ -n "$line" ]] || continue
  if [[ "$line" == pypi:* ]]; then
    pypi+=("${line#pypi:}")
  else
    debs+=("$line")
  fi
done <"$pkg_file"
[[ ${#debs[@]} -gt 0 ]] || die "no packages in $pkg_file"

log "fetching PyPI wheels: ${pypi[*]}"
mkdir -p "$work/wheels"
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$work/wheels" "${pypi[@]}"

log "debootstrap $suite (minbase) from $mirror"
debootstrap --variant=minbase --components=main "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed"; }

# --- configuration written before packages are installed -------------------------------
cat >"$root/usr/sbin/policy-rc.d" <<'EOF'
#!/bin/sh
exit 101
EOF
chmod 755 "$root/usr/sbin/policy-rc.d"

mkdir -p "$root/etc/initramfs-tools/conf.d"
echo 'MODULES=list' >"$root/etc/initramfs-tools/conf.d/lab.conf"
cat >"$root/etc/initramfs-tools/modules" <<'EOF'
virtio_pci
virtio_blk
virtio_scsi
virtio_net
virtio_console
ext4
crc32c_generic
EOF
printf 'deb %s %s main\n' "$mirror" "$suite" >"$root/etc/apt/sources.list"
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$root/etc/apt/apt.conf.d/90lab"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp -r "$work/wheels" "$root/tmp/wheels"

# --- everything that runs inside the chroot --------------------------------------------
cat >"$root/tmp/setup.sh" <<'EOS'
#!/bin/bash
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
apt-get update -q
# shellcheck disable=SC2046
apt-get install -y -q -o Dpkg::Options::=--force-confold $(cat /tmp/debs.txt)

# Packstack from PyPI into a venv that sees Debian's python3 dependencies.
python3 -m venv --system-site-packages /opt/packstack
/opt/packstack/bin/pip install --quiet --no-index --find-links /tmp/wheels "$(cat /tmp/pypi.txt)"
ln -sf /opt/packstack/bin/packstack /usr/local/bin/packstack

# NetworkManager renders and runs the network, as on CentOS Stream 9; systemd-networkd
# stays off (masked: nothing may configure eth0/eth1 beside NM). No ifupdown: Debian's NM
# leaves interfaces listed in /etc/network/interfaces unmanaged.
systemctl enable NetworkManager.service
systemctl mask systemd-networkd.service systemd-networkd.socket systemd-networkd-wait-online.service
if dpkg-query -W -f='${Status}' ifupdown 2>/dev/null | grep -q 'install ok installed'; then
  echo "ifupdown is installed: NetworkManager would not manage eth0/eth1" >&2
  exit 1
fi
if [ -e /etc/network/interfaces ] && grep -Eq '^[^#]*\b(eth0|eth1)\b' /etc/network/interfaces; then
  echo "/etc/network/interfaces lists eth0/eth1: NetworkManager would not manage them" >&2
  exit 1
fi
# cloud-init must find NM's renderer and activator (22.4.2 has both; a missing nmcli or
# NetworkManager.conf would make it fail at boot instead).
python3 -c 'from cloudinit.net import activators, renderers
print("cloud-init renderer:", renderers.select(priority=["network-manager"])[0])
print("cloud-init activator:", activators.select_activator(priority=["network-manager"]).__name__)'
systemctl enable ssh.service
systemctl enable serial-getty@ttyS0.service
echo 'LANG=C.UTF-8' >/etc/default/locale
# Classic interface names (eth0, eth1) even without net.ifnames=0 on the cmdline.
ln -sf /dev/null /etc/systemd/network/99-default.link
for t in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer; do
  systemctl mask "$t" >/dev/null 2>&1 || true
done

update-initramfs -u -k all
apt-get clean
rm -rf /var/lib/apt/lists/* /tmp/wheels /tmp/debs.txt /tmp/pypi.txt
EOS
chmod 755 "$root/tmp/setup.sh"
printf '%s\n' "${debs[@]}" >"$root/tmp/debs.txt"
printf '%s\n' "${pypi[@]}" >"$root/tmp/pypi.txt"

log "installing ${#debs[@]} packages + ${pypi[*]} in the chroot"
# A private mount namespace: /proc, /sys, /dev mounts disappear with it, even on failure.
# shellcheck disable=SC2016
unshare --mount --propagation private -- bash -euc '
  root="$1"
  mount -t proc proc "$root/proc"
  mount -t sysfs sysfs "$root/sys"
  mount --rbind /dev "$root/dev"
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$root" /tmp/setup.sh
' _ "$root" >"$work/setup.log" 2>&1 || { tail -n 40 "$work/setup.log" >&2; die "chroot setup failed"; }

# Verify `packstack --gen-answer-file` in the chroot. Packstack discovers the local IP from
# the default route and checks that it listens on port 22, so this runs in a private
# network namespace with a veth pair, a stand-in listener on port 22 and nothing else:
# no packet leaves that namespace.
cat >"$root/tmp/verify.sh" <<'EOS'
#!/bin/bash
set -euo pipefail
export LC_ALL=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 22)); s.listen(8); s.settimeout(120)
end = time.time() + 120
while time.time() < end:
    try:
        c, _ = s.accept(); c.close()
    except OSError:
        break
' &
listener=$!
sleep 1
rc=0
(cd /tmp && packstack --gen-answer-file=/tmp/a.txt >/tmp/packstack-gen.log 2>&1) || rc=$?
kill "$listener" 2>/dev/null || true
if [[ $rc -ne 0 ]] || ! grep -q '^CONFIG_CONTROLLER_HOST=198.18.0.1$' /tmp/a.txt; then
  cat /tmp/packstack-gen.log
  grep '^CONFIG_CONTROLLER_HOST=' /tmp/a.txt || true
  exit 1
fi
packstack --version
rm -rf /tmp/a.txt /tmp/packstack-gen.log /root/.packstack /var/tmp/packstack /root/.ssh
EOS
chmod 755 "$root/tmp/verify.sh"
log "verifying packstack --gen-answer-file in the chroot (private netns)"
# shellcheck disable=SC2016
unshare --mount --net --propagation private -- bash -euc '
  root="$1"
  ip link set lo up
  ip link add lab0 type veth peer name lab1
  ip addr add 198.18.0.1/24 dev lab0
  ip link set lab1 up
  ip link set lab0 up
  ip route add default via 198.18.0.254 dev lab0
  mount -t proc proc "$root/proc"
  mount -t sysfs sysfs "$root/sys"
  mount --rbind /dev "$root/dev"
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$root" /tmp/verify.sh
' _ "$root" >"$work/verify.log" 2>&1 || { tail -n 40 "$work/verify.log" >&2; die "packstack verification failed"; }
log "packstack: $(tail -n 1 "$work/verify.log")"

# --- configuration of the installed system ---------------------------------------------
cat >"$root/etc/fstab" <<'EOF'
/dev/vda  /  ext4  defaults,errors=remount-ro  0  1
EOF
echo 'debian-test' >"$root/etc/hostname"
mkdir -p "$root/etc/ssh/sshd_config.d"
cat >"$root/etc/ssh/sshd_config.d/50-lab.conf" <<'EOF'
# openstack-lab e2e test image
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
AcceptEnv LAB_* OSL_*
EOF
mkdir -p "$root/etc/cloud/cloud.cfg.d"
cat >"$root/etc/cloud/cloud.cfg.d/90-lab.cfg" <<'EOF'
# openstack-lab e2e test image: seed only from the NoCloud cidata disk.
datasource_list: [ NoCloud, None ]
# Fast host key generation under TCG.
ssh_genkeytypes: [ ed25519, ecdsa ]
# Modules that fail or only cost time in this minimal image (no generated locales, no grub).
# cloud-init validates this file with the user-data: every value must pass its schema
# (`locale: false` did not: a "Invalid cloud-config" warning on every boot). C.UTF-8 is
# the image's locale already and needs no locale-gen.
locale: C.UTF-8
grub_dpkg:
  enabled: false
ssh:
  emit_keys_to_console: false
# NetworkManager, as on CentOS Stream 9 (whose cloud-init renders NM keyfiles too).
system_info:
  network:
    renderers: [ network-manager ]
    activators: [ network-manager ]
EOF
# Host keys are generated per guest by cloud-init on first boot.
rm -f "$root"/etc/ssh/ssh_host_*
rm -f "$root/usr/sbin/policy-rc.d" "$root/etc/resolv.conf"
: >"$root/etc/machine-id"
rm -rf "$root/tmp/"* "$root/var/log/"*.log "$root/var/cache/apt/"*.bin

kernel="$(find "$root/boot" -maxdepth 1 -name 'vmlinuz-*' | sort | tail -n 1)"
initrd="$(find "$root/boot" -maxdepth 1 -name 'initrd.img-*' | sort | tail -n 1)"
[[ -n "$kernel" && -n "$initrd" ]] || die "kernel or initrd missing in $root/boot"
kver="${kernel##*/vmlinuz-}"
for m in virtio_blk virtio_net ext4; do
  [[ -n "$(find "$root/lib/modules/$kver" -name "$m.ko*" -print -quit)" ]] || die "module $m missing"
done
if command -v lsinitramfs >/dev/null; then
  listing="$(lsinitramfs "$initrd")"
  for m in virtio_blk virtio_net ext4; do
    grep -q "/$m.ko" <<<"$listing" || die "initrd lacks $m"
  done
fi

log "making ext4 ($fs_size) from the root directory and converting to qcow2"
stage="$work/out"
mkdir -p "$stage"
cp "$kernel" "$stage/vmlinuz"
cp "$initrd" "$stage/initrd.img"
chmod 644 "$stage/vmlinuz" "$stage/initrd.img"
mke2fs -q -F -t ext4 -L root -d "$root" "$work/root.raw" "$fs_size" >&2
qemu-img convert -c -O qcow2 "$work/root.raw" "$stage/disk.qcow2"
chmod 644 "$stage/disk.qcow2"
echo 'root=/dev/vda rw console=ttyS0 net.ifnames=0 biosdevname=0' >"$stage/cmdline"

end_s=$(date +%s)
python3 - "$stage" "$kver" "$recipe_hash" "$((end_s - start_s))" <<'EOF'
import json, os, sys
stage, kver, h, secs = sys.argv[1:5]
info = {
    "recipe_hash": h,
    "kernel_version": kver,
    "build_seconds": int(secs),
    "qcow2_bytes": os.path.getsize(os.path.join(stage, "disk.qcow2")),
    "initrd_bytes": os.path.getsize(os.path.join(stage, "initrd.img")),
}
with open(os.path.join(stage, "build-info.json"), "w") as f:
    json.dump(info, f, indent=2)
EOF
touch "$stage/.complete"
rm -rf "$out"
mv "$stage" "$out"
log "built $out in $((end_s - start_s)) s ($(du -h "$out/disk.qcow2" | cut -f1) qcow2)"
printf '%s\n' "$out"

#!/usr/bin/env bash
# Host preparation of an EL9 node (CentOS Stream 9 or RHEL 9) for Packstack,
# following RDO's EL9 steps. Idempotent: a second run changes nothing.
# Inputs (environment): LAB_FQDN, LAB_ROLE (controller|compute),
#   LAB_OS_FLAVOR (centos-stream|rhel), LAB_RELEASE (e.g. epoxy), LAB_PACKAGE_UPDATE (true|false),
#   LAB_STATE_DIR (default /var/lib/openstack-lab: run markers),
#   LAB_SELINUX_CONFIG (default /etc/selinux/config).
set -euo pipefail
: "${LAB_FQDN:?}" "${LAB_ROLE:?}" "${LAB_OS_FLAVOR:?}" "${LAB_RELEASE:?}"

state=${LAB_STATE_DIR:-/var/lib/openstack-lab}
selinux_config=${LAB_SELINUX_CONFIG:-/etc/selinux/config}
log() { printf '[prep %s] %s\n' "$(hostname -s)" "$*"; }
installed() { rpm -q "$@" >/dev/null 2>&1; }

# Packstack and nova use the FQDN; cloud-init set it, keep it pinned.
if [ "$(hostnamectl --static)" != "$LAB_FQDN" ]; then
  log "hostname -> $LAB_FQDN"
  hostnamectl set-hostname "$LAB_FQDN"
fi

# Puppet inside Packstack needs a UTF-8 locale.
installed glibc-langpack-en || dnf -y -q install glibc-langpack-en
if ! grep -qs '^LANG=en_US.UTF-8$' /etc/locale.conf; then
  log "locale -> en_US.UTF-8"
  localectl set-locale LANG=en_US.UTF-8
fi

# Packstack manages iptables itself; firewalld would fight it.
if systemctl is-enabled --quiet firewalld 2>/dev/null || systemctl is-active --quiet firewalld 2>/dev/null; then
  log "disabling firewalld"
  systemctl disable --now firewalld
fi

# A lab runs SELinux permissive: RDO supports enforcing, but lab users add services by hand.
if [ "$(getenforce)" = "Enforcing" ]; then
  log "SELinux -> permissive"
  setenforce 0
fi
if grep -q '^SELINUX=enforcing' "$selinux_config"; then
  sed -i 's/^SELINUX=enforcing/SELINUX=permissive/' "$selinux_config"
fi

# Repositories: CRB (or CodeReady Builder) plus RDO for the chosen release.
installed dnf-plugins-core || dnf -y -q install dnf-plugins-core
if [ "$LAB_OS_FLAVOR" = "centos-stream" ]; then
  if ! dnf repolist --enabled 2>/dev/null | grep -q '^crb'; then
    log "enabling CRB"
    dnf config-manager --set-enabled crb
  fi
  if ! installed "centos-release-openstack-${LAB_RELEASE}"; then
    log "installing centos-release-openstack-${LAB_RELEASE}"
    dnf -y -q install "centos-release-openstack-${LAB_RELEASE}"
  fi
else
  repo="codeready-builder-for-rhel-9-$(uname -m)-rpms"
  if ! dnf repolist --enabled 2>/dev/null | grep -q "^${repo}"; then
    log "enabling ${repo}"
    subscription-manager repos --enable "${repo}"
  fi
  if ! installed rdo-release; then
    log "installing rdo-release for ${LAB_RELEASE}"
    # The .el9s dist tag, as in Packstack's own manage_rdo (prescript_000.py) and RDO's repos page.
    dnf -y -q install "https://trunk.rdoproject.org/rdo_release/openstack-${LAB_RELEASE}/rdo-release-${LAB_RELEASE}.el9s.rpm"
  fi
fi

if [ "$LAB_OS_FLAVOR" = "centos-stream" ] && ! dnf -q module list --disabled mariadb 2>/dev/null | grep -q '^mariadb'; then
  # As Packstack's own CentOS Stream 9 CI does for this release (mariadb 10.11 module: RDO-241).
  log "disabling the mariadb module streams"
  dnf -y -q module disable mariadb
fi

# RDO's documented path updates every package once the release repository is there
# (packageUpdate: false opts out). Once per VM: a repeated prep does not update again.
if [ "${LAB_PACKAGE_UPDATE:-false}" = "true" ] && [ ! -e "$state/package-update.done" ]; then
  log "updating packages (dnf update; may take several minutes)"
  dnf -y -q update
  install -d -m 0755 "$state"
  date -u +%Y-%m-%dT%H:%M:%SZ > "$state/package-update.done"
fi

# NetworkManager-initscripts-updown provides ifup/ifdown, which switch puppet-vswitch's vs_port to
# its ifcfg provider (ovs_redhat) for Packstack's br-ex:eth1 port; without them it uses ovs-vsctl.
if installed NetworkManager-initscripts-updown; then
  log "removing NetworkManager-initscripts-updown (puppet-vswitch must use ovs-vsctl for br-ex)"
  dnf -y -q remove NetworkManager-initscripts-updown
fi

if [ "$LAB_ROLE" = "controller" ] && ! installed openstack-packstack; then
  log "installing openstack-packstack"
  dnf -y -q install openstack-packstack
fi

install -d -m 0755 "$state"
printf '%s prep-el9 %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$LAB_ROLE" >> "$state/prep-runs"
log "prepared as ${LAB_ROLE}"

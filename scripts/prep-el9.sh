#!/usr/bin/env bash
# Host preparation of an EL9 node (CentOS Stream 9 or RHEL 9) for Packstack,
# following RDO's EL9 steps. Idempotent: a second run changes nothing.
# Inputs (environment): LAB_FQDN, LAB_ROLE (controller|compute),
#   LAB_OS_FLAVOR (centos-stream|rhel), LAB_RELEASE (e.g. epoxy), LAB_PACKAGE_UPDATE (true|false),
#   LAB_REPOS_ONLY (the lab's mirror repositories, space-separated, all in openstack-lab.repo, which
#   package-sources.sh wrote before; set: every other repository is disabled), LAB_REPOS_DIR (default
#   /etc/yum.repos.d), LAB_RELEASE_PACKAGE (true: centos-release-openstack-<release>
#   comes from those mirrors for its GPG keys, and its public repositories are disabled too),
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

# With the lab's mirrors (packageSources.mirrors) no other repository stays enabled, before any dnf install:
# nothing of the prep, of Packstack (its prescript's yum calls) or of Puppet reaches a public mirror.
# Every section of every other repository file gets enabled=0 (no dnf call: dnf-plugins-core may be missing yet).
# A file's first version is kept under $state/repos-before-mirrors: once the mirrors are removed from the config,
# the next prep puts those files back as they were, and the public repositories serve again.
repos_dir=${LAB_REPOS_DIR:-/etc/yum.repos.d}
kept="$state/repos-before-mirrors"
disable_other_repos() {
  local file tmp
  for file in "$repos_dir"/*.repo; do
    if [ ! -f "$file" ] || [ "$file" = "$repos_dir/openstack-lab.repo" ]; then continue; fi
    tmp=$(mktemp)
    awk '/^[[:space:]]*\[/ { print; print "enabled=0"; next } /^[[:space:]]*enabled[[:space:]]*=/ { next } { print }' \
      "$file" > "$tmp"
    if ! cmp -s "$tmp" "$file"; then
      log "disabling the repositories of ${file##*/} (the lab's mirrors replace them)"
      install -d -m 0700 "$kept"
      [ -e "$kept/${file##*/}" ] || cp -p "$file" "$kept/${file##*/}"
      cat "$tmp" > "$file"
    fi
    rm -f "$tmp"
  done
}
restore_other_repos() {
  local saved file
  for saved in "$kept"/*.repo; do
    [ -f "$saved" ] || continue
    file="$repos_dir/${saved##*/}"
    if [ -f "$file" ]; then
      log "re-enabling the repositories of ${file##*/} as they were before the lab's mirrors"
      cat "$saved" > "$file"
    fi
    rm -f "$saved"
  done
}
if [ -n "${LAB_REPOS_ONLY:-}" ]; then
  for id in $LAB_REPOS_ONLY; do
    grep -qs "^\[$id\]" "$repos_dir/openstack-lab.repo" || {
      echo "prep: repository $id is not in $repos_dir/openstack-lab.repo (package-sources.sh writes it)" >&2
      exit 1
    }
  done
  disable_other_repos
else
  restore_other_repos
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
if [ -n "${LAB_REPOS_ONLY:-}" ]; then
  # The mirrors hold CRB and RDO already; the release package (for its SIG GPG keys) comes from them too, and
  # stays installed so that Packstack's prescript finds it and installs nothing (prescript_000.py:1049-1076).
  if [ "${LAB_RELEASE_PACKAGE:-false}" = "true" ] && ! installed "centos-release-openstack-${LAB_RELEASE}"; then
    log "installing centos-release-openstack-${LAB_RELEASE} from the lab's mirrors"
    dnf -y -q install "centos-release-openstack-${LAB_RELEASE}"
  fi
  disable_other_repos
elif [ "$LAB_OS_FLAVOR" = "centos-stream" ]; then
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

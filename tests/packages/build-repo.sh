#!/usr/bin/env bash
# The package tier's test mirror (packagessupport.build_mirror runs it): three tiny RPMs built from probe.spec, a
# throwaway OpenPGP key made here, osl-probe and osl-cloud signed with it (rpmsign, as a distribution signs),
# osl-unsigned not, and one createrepo_c repository per mirror the lab's config names (packageSources.mirrors),
# each repomd.xml signed too (detached, armored).
#
#   build-repo.sh OUT     OUT must not exist; on success it holds:
#     served/            what the test's HTTP mirror serves: one repository per mirror (appstream: osl-probe,
#                        rdo: osl-cloud, crb: osl-unsigned, the others empty) and keys/ (gpgKeys: <URL>)
#     etc/pki/rpm-gpg/   the same key under every name the lab's repo file points to on a node (CentOS's key,
#                        the SIGs'): packagessupport lays it over /etc in the test's mount namespace
#     key-id             the key's fingerprint
# Nothing is installed and nothing leaves OUT (gpg's home is OUT/gnupg, rpmbuild's topdir OUT/rpmbuild).
set -euo pipefail

out=${1:?usage: build-repo.sh OUT}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ ! -e "$out" ]] || { echo "build-repo.sh: $out exists" >&2; exit 1; }
mkdir -p "$out/gnupg" "$out/served"
chmod 700 "$out/gnupg"
export GNUPGHOME="$out/gnupg"
signer=packages@openstack-lab.invalid

gpg --batch --quiet --gen-key <<KEY
%no-protection
Key-Type: RSA
Key-Length: 2048
Key-Usage: sign
Name-Real: openstack-lab package tier (throwaway)
Name-Email: $signer
Expire-Date: 1d
%commit
KEY
gpg --batch --with-colons --list-keys "$signer" | awk -F: '$1 == "fpr" { print $10; exit }' >"$out/key-id"
mkdir -p "$out/served/keys" "$out/etc/pki/rpm-gpg"
for key in RPM-GPG-KEY-centosofficial RPM-GPG-KEY-CentOS-SIG-Extras RPM-GPG-KEY-CentOS-SIG-Cloud \
  RPM-GPG-KEY-CentOS-SIG-Messaging RPM-GPG-KEY-CentOS-SIG-NFV RPM-GPG-KEY-CentOS-SIG-Storage; do
  gpg --batch --armor --export "$signer" >"$out/served/keys/$key"
  cp "$out/served/keys/$key" "$out/etc/pki/rpm-gpg/$key"
done

for name in osl-probe osl-cloud osl-unsigned; do
  rpmbuild --quiet --define "_topdir $out/rpmbuild" --define "probe_name $name" -bb "$here/probe.spec" </dev/null
done
rpms="$out/rpmbuild/RPMS/noarch"
# Debian's rpm names gpg2 as its signer (%__gpg); Debian's gpg is gpg.
rpmsign --define "__gpg $(command -v gpg)" --define "_gpg_name $signer" --define "_gpg_path $GNUPGHOME" \
  --addsign "$rpms/osl-probe-1.0-1.noarch.rpm" "$rpms/osl-cloud-1.0-1.noarch.rpm" </dev/null >/dev/null

repos=(baseos appstream crb extras rdo rabbitmq openvswitch ceph)
for repo in "${repos[@]}"; do
  mkdir -p "$out/served/$repo/Packages"
done
cp "$rpms/osl-probe-1.0-1.noarch.rpm" "$out/served/appstream/Packages/"
cp "$rpms/osl-cloud-1.0-1.noarch.rpm" "$out/served/rdo/Packages/"
cp "$rpms/osl-unsigned-1.0-1.noarch.rpm" "$out/served/crb/Packages/"
for repo in "${repos[@]}"; do
  createrepo_c --quiet "$out/served/$repo"
  gpg --batch --yes --armor --detach-sign --local-user "$signer" "$out/served/$repo/repodata/repomd.xml"
done

#!/usr/bin/env bash
# Runs one command of the package tier inside the tier's network namespace, with the test's layer over /etc, so
# no name lookup can leave the namespace and the node's key files exist where the lab's repo file points.
# Started by tests/packages/packagessupport.py as
#   ip netns exec NETNS unshare --mount --propagation private bash in-netns.sh ETC_LAYER COMMAND...
# ETC_LAYER holds resolv.conf (nameserver 127.0.0.1) and pki/rpm-gpg/ (the keys a CentOS node has); it is laid
# over the machine's /etc as a read-only overlay in this private mount namespace only (checked: / must be
# private here), so nothing the command does can change the machine's /etc.
set -euo pipefail

layer=${1:?usage: in-netns.sh ETC_LAYER COMMAND...}
shift
[[ "$(findmnt -no PROPAGATION /)" == private ]] \
  || { echo "in-netns.sh: / is not a private mount here: run under unshare --mount --propagation private" >&2; exit 1; }
[[ -f "$layer/resolv.conf" ]] || { echo "in-netns.sh: $layer/resolv.conf missing" >&2; exit 1; }
mount -t overlay osl-packages-etc -o "lowerdir=$layer:/etc" /etc
grep -qx 'nameserver 127.0.0.1' /etc/resolv.conf \
  || { echo "in-netns.sh: /etc/resolv.conf is not the test's after the overlay" >&2; exit 1; }
exec "$@"

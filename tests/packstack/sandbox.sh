#!/usr/bin/env bash
# The Packstack tier's sandbox: started by tests/packstack/dryrun_sandbox.py as
#   ip netns exec NETNS unshare --mount --propagation private bash sandbox.sh
# in a network namespace the test made (the lab nodes' addresses, a default route), so this mount
# namespace is private to it. Here:
#   1. scratch directories go over /root (the Python interpreter's directories bound back read-only),
#      /var/tmp, /run and /dev/shm, scratch files over /etc/hosts (the lab's node names) and
#      /etc/resolv.conf (nameserver 127.0.0.1: no lookup leaves the namespace);
#   2. every other mount is made read-only, in this namespace only;
#   3. each of those is verified (a bind target must be its source, device and inode; everything else
#      read-only), and any failure stops here, before anything runs: a run whose bind over /root had
#      failed once wrote SSH key pairs into the machine's own /root/.ssh;
#   4. a local OpenSSH sshd (its own config, host key, PATH of stand-ins) starts on the nodes'
#      addresses, and every address must accept connections within SANDBOX_SSHD_TIMEOUT seconds;
#   5. it writes $SANDBOX_SCRATCH/ready and holds the namespaces until TERM (the test enters them
#      with nsenter), then stops sshd.
# Inputs (environment): SANDBOX_SCRATCH (mode 0700, laid out by dryrun_sandbox.py), SANDBOX_KEEP
#   (colon-separated directories under /root to bind back read-only, may be empty), SANDBOX_ADDRESSES
#   (comma-separated), SANDBOX_SSHD_TIMEOUT (seconds, default 20).
set -euo pipefail

scratch=${SANDBOX_SCRATCH:?SANDBOX_SCRATCH: the sandbox scratch directory}
keep=${SANDBOX_KEEP:-}
addresses=${SANDBOX_ADDRESSES:?SANDBOX_ADDRESSES: the lab nodes addresses}
timeout=${SANDBOX_SSHD_TIMEOUT:-20}

fail() { echo "sandbox: $*" >&2; exit 1; }
identity() { stat -Lc '%d:%i' "$1"; }

# Mounts that stay writable: the scratch itself and what is bound from it.
writable=("$scratch" /root /var/tmp /run /dev/shm)

[ "$(findmnt -no PROPAGATION /)" = private ] \
  || fail "/ is not a private mount here: run under unshare --mount --propagation private (no mount may reach the machine)"

bind() {  # bind SOURCE TARGET: SOURCE over TARGET, verified
  mount --bind "$1" "$2" || fail "cannot bind $1 over $2"
  [ "$(identity "$2")" = "$(identity "$1")" ] || fail "$2 is not $1 after the bind"
}

# 1. The scratch as a mount of its own (stays writable when the rest turns read-only), the
#    interpreter's directories under /root bound into the scratch /root read-only, then /root itself.
bind "$scratch" "$scratch"
kept=()
IFS=: read -r -a kept <<<"$keep"
for dir in "${kept[@]}"; do
  [ -n "$dir" ] || continue
  case "$dir" in /root/?*) ;; *) fail "SANDBOX_KEEP: $dir is not under /root" ;; esac
  [ -d "$dir" ] || fail "SANDBOX_KEEP: $dir is not a directory"
  inside="$scratch/root/${dir#/root/}"
  [ -d "$inside" ] || fail "no mount point $inside for $dir"
  bind "$dir" "$inside"
  mount -o remount,bind,ro "$inside" || fail "cannot make $inside read-only"
done
declare -A kept_identity=()
for dir in "${kept[@]}"; do
  [ -n "$dir" ] && kept_identity[$dir]=$(identity "$dir")
done
mount --rbind "$scratch/root" /root || fail "cannot bind $scratch/root over /root"
[ "$(identity /root)" = "$(identity "$scratch/root")" ] || fail "/root is not $scratch/root after the bind"
for dir in "${!kept_identity[@]}"; do
  [ "$(identity "$dir")" = "${kept_identity[$dir]}" ] || fail "$dir is not bound back into the scratch /root"
done
bind "$scratch/var-tmp" /var/tmp
bind "$scratch/run" /run
mount -t tmpfs -o mode=1777,size=64m sandbox-shm /dev/shm || fail "cannot mount a private tmpfs on /dev/shm"
[ "$(findmnt -no SOURCE --mountpoint /dev/shm | tail -n 1)" = sandbox-shm ] || fail "/dev/shm is not the sandbox's tmpfs"
bind "$scratch/etc/hosts" /etc/hosts
bind "$scratch/etc/resolv.conf" /etc/resolv.conf

# 2. Everything else read-only (kernel file systems aside).
is_writable() {
  local target=$1 w
  for w in "${writable[@]}"; do [ "$target" = "$w" ] && return 0; done
  return 1
}
# A mount under a path the scratch now covers (the machine's /run/netns/*) cannot be reached from here.
reachable() { [ -e "$1" ] || [ -L "$1" ]; }
while read -r target options; do
  case "$target" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac
  is_writable "$target" && continue
  reachable "$target" || continue
  case ",$options," in *,ro,*) continue ;; esac
  mount -o remount,bind,ro "$target" || fail "cannot make $target read-only"
done < <(findmnt -rn -o TARGET,OPTIONS)

# 3. Verify: every mount outside the writable ones and the kernel's is read-only now.
while read -r target options; do
  case "$target" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac
  is_writable "$target" && continue
  reachable "$target" || continue
  case ",$options," in *,ro,*) ;; *) fail "$target is still writable" ;; esac
done < <(findmnt -rn -o TARGET,OPTIONS)

# 4. sshd, bounded wait on every address.
install -d -m 0755 /run/sshd  # sshd's privilege separation directory, in the scratch /run
sshd_pid=
hold_pid=
stop() {
  local pid
  for pid in $sshd_pid $hold_pid; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
trap 'stop; exit 0' TERM INT
trap stop EXIT
/usr/sbin/sshd -D -f "$scratch/sshd/sshd_config" -E "$scratch/sshd/sshd.log" &
sshd_pid=$!
deadline=$((SECONDS + timeout))
for address in ${addresses//,/ }; do
  until (exec 3<>"/dev/tcp/$address/22") 2>/dev/null; do
    kill -0 "$sshd_pid" 2>/dev/null || fail "sshd exited before it listened on $address:22 (log: $scratch/sshd/sshd.log)"
    [ "$SECONDS" -lt "$deadline" ] \
      || fail "sshd did not accept connections on $address:22 within ${timeout}s (log: $scratch/sshd/sshd.log)"
    sleep 0.2
  done
done

# 5. Hold the namespaces until TERM.
echo "$$" > "$scratch/ready"
sleep infinity &
hold_pid=$!
wait "$hold_pid" || true

# shellcheck shell=bash
# Sourced by the tiers' cached builders (tests/support/debian-chroot.sh, tests/e2e/image/build-image.sh):
# one build per cache key at a time, and a reader never rebuilds what is already there.
#
#   cached_or_locked OUT MARKER LOCK WAIT LABEL
#     OUT is built when OUT/MARKER exists: prints OUT on stdout and returns 0. Otherwise takes the lock
#     file LOCK on fd 9, waiting at most WAIT seconds (another run may be building the same key), looks
#     again (that run may have finished it: prints OUT, returns 0) and returns 1 with the lock held for
#     the caller's build, which ends with the process. LABEL names the build in progress lines (stderr).

cached_or_locked() {
  local out=$1 marker=$2 lock=$3 wait=$4 label=$5
  if [[ -e "$out/$marker" ]]; then
    printf '[%s] cached: %s\n' "$label" "$out" >&2
    printf '%s\n' "$out"
    return 0
  fi
  mkdir -p "${lock%/*}"
  exec 9>"$lock"
  printf '[%s] waiting (at most %s s) for the build lock of %s\n' "$label" "$wait" "$out" >&2
  if ! flock -w "$wait" 9; then
    printf '[%s] ERROR: another build of %s held its lock for more than %s s\n' "$label" "$out" "$wait" >&2
    exit 1
  fi
  if [[ -e "$out/$marker" ]]; then
    printf '[%s] built meanwhile by another run: %s\n' "$label" "$out" >&2
    printf '%s\n' "$out"
    return 0
  fi
  return 1
}

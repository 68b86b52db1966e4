#!/usr/bin/env bash
# Installs the lab's package-source files (packageSources: the mirrors' repository file, dnf's or apt's proxy
# settings) as lab/package_sources.py rendered them. Idempotent: a file already as rendered is left alone.
# Input (stdin), one entry per line; contents base64-encoded, so no line of them is ever parsed:
#   file MODE PATH BASE64                     the whole file, written atomically with MODE
#   absent PATH                               a file of the lab's this config does not want: removed
#   main MODE PATH SECTION KEY,KEY BASE64     in PATH's [SECTION] the KEYs are removed, then the key=value
#                                             lines of BASE64 written right below the header; the file gets MODE
# The proxy password may be among the contents: it is never printed, and its files are 0600 root.
# LAB_ROOT (default empty: /) prefixes every path (tests).
set -euo pipefail
root=${LAB_ROOT:-}
log() { printf '[package-sources] %s\n' "$*"; }
umask 077

# Moves a new version into place when it differs (content or mode); says which file changed.
place() {
  local new=$1 path=$2 mode=$3
  chmod "$mode" "$new"
  if [ -f "$path" ] && cmp -s "$new" "$path"; then
    rm -f "$new"
    if [ "$(stat -c %a "$path")" != "${mode#0}" ]; then
      chmod "$mode" "$path"
      log "mode of ${path#"$root"} -> $mode"
    fi
    return
  fi
  mv -f "$new" "$path"
  log "wrote ${path#"$root"}"
}

set_main_keys() {
  local mode=$1 path=$2 section=$3 managed=$4 body=$5 tmp
  install -d -m 0755 "$(dirname "$path")"
  tmp=$(mktemp "$path.lab.XXXXXX")
  [ -f "$path" ] || : > "$path"
  # Drop the managed keys inside [section]; write the new lines right after its header (or add the section).
  LAB_BODY=$body awk -v section="$section" -v managed="$managed" '
    BEGIN { n = split(managed, keys, ","); for (i = 1; i <= n; i++) drop[keys[i]] = 1; body = ENVIRON["LAB_BODY"] }
    /^[[:space:]]*\[/ {
      here = ($0 ~ "^[[:space:]]*\\[" section "\\][[:space:]]*$")
      print
      if (here && !done) { if (body != "") print body; done = 1 }
      next
    }
    here {
      key = $0; sub(/[[:space:]]*=.*/, "", key); sub(/^[[:space:]]+/, "", key)
      if (key in drop) next
    }
    { print }
    END { if (!done && body != "") { print "[" section "]"; print body } }
  ' "$path" > "$tmp"
  place "$tmp" "$path" "$mode"
}

while read -r kind a b c d e; do
  case "$kind" in
    "") ;;
    file)
      path="$root$b"
      install -d -m 0755 "$(dirname "$path")"
      tmp=$(mktemp "$path.lab.XXXXXX")
      printf '%s' "$c" | base64 -d > "$tmp"
      place "$tmp" "$path" "$a"
      ;;
    absent)
      if [ -e "$root$a" ]; then
        rm -f "$root$a"
        log "removed $a"
      fi
      ;;
    main)
      set_main_keys "$a" "$root$b" "$c" "$d" "$(printf '%s' "$e" | base64 -d)"
      ;;
    *)
      echo "package-sources: unknown entry '$kind'" >&2
      exit 2
      ;;
  esac
done
log "package sources in place"

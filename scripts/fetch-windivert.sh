#!/usr/bin/env bash
# Downloads WinDivert-2.2.2-A.zip from its publisher for a release build
# (docs/windows.md) and keeps it only when its SHA-256 is the one pinned in
# cmake/WindivertArchive.cmake: a tampered or different download is removed
# and named with both digests. Prints the archive's path, for
#   make package-windows WINDIVERT_ZIP="$(scripts/fetch-windivert.sh)"
# The archive is kept in the cache (~/.cache/drover), so it is downloaded
# once.
#
# usage: fetch-windivert.sh [DEST_DIR]
#   DROVER_WINDIVERT_URL         another address to download it from (a mirror)
#   DROVER_WINDIVERT_ZIP_SHA256  another digest to expect (a reviewed move to
#                                a newer WinDivert, as for CMake; the tests)
set -euo pipefail
. "$(dirname "$0")/common.sh"

pinned="$(sed -n 's/^ *"\([0-9a-f]\{64\}\)"$/\1/p' "$DROVER_ROOT/cmake/WindivertArchive.cmake" | head -n 1)"
pinned="${DROVER_WINDIVERT_ZIP_SHA256:-$pinned}"
[[ ${#pinned} -eq 64 ]] || die "no pinned SHA-256 in cmake/WindivertArchive.cmake"
name=WinDivert-2.2.2-A.zip
urls=("${DROVER_WINDIVERT_URL:-}"
      "https://github.com/basil00/WinDivert/releases/download/v2.2.2/$name"
      "https://reqrypt.org/download/$name")
dest="${1:-${DROVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/drover}/windivert}"
mkdir -p "$dest"
zip="$dest/$name"

check() { # the digest of $1, or nothing when it is not the pinned one
  local got
  got="$(sha256sum "$1" | cut -d' ' -f1)"
  [[ $got == "$pinned" ]] && return 0
  log "$1 is not $name as its publisher made it: its SHA-256 is $got, the pinned one is $pinned; removed"
  rm -f "$1"
  return 1
}

if [[ -f $zip ]] && check "$zip"; then
  echo "$zip"
  exit 0
fi
for url in "${urls[@]}"; do
  [[ -n $url ]] || continue
  log "downloading $url"
  if curl -fsSL --proto '=https,http' --max-time 300 -o "$zip.part" "$url"; then
    mv "$zip.part" "$zip"
    if check "$zip"; then
      echo "$zip"
      exit 0
    fi
  else
    rm -f "$zip.part"
    log "could not download $url"
  fi
  [[ -n ${DROVER_WINDIVERT_URL:-} ]] && break # a mirror given: only it
done
die "no copy of $name with the pinned SHA-256 could be downloaded"

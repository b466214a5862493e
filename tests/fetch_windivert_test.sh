#!/usr/bin/env bash
# scripts/fetch-windivert.sh against a stand-in publisher on loopback: an
# archive that is not the pinned WinDivert-2.2.2-A.zip is refused, named
# with both digests and not kept; the one whose digest is expected is kept
# and printed, and found again without a download.
# usage: fetch_windivert_test.sh SOURCE_DIR
set -euo pipefail
src=$1
work="$(mktemp -d)"
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "fetch-windivert test: $*" >&2; exit 1; }

mkdir -p "$work/site/WinDivert-2.2.2-A/x64"
echo "stand-in" >"$work/site/WinDivert-2.2.2-A/x64/WinDivert.dll"
(cd "$work/site" && cmake -E tar cf WinDivert-2.2.2-A.zip --format=zip WinDivert-2.2.2-A)
digest="$(sha256sum "$work/site/WinDivert-2.2.2-A.zip" | cut -d' ' -f1)"
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$work/site" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do grep -q "Serving HTTP" "$work/server.log" && break; sleep 0.1; done
port="$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$work/server.log" | head -n 1)"
[ -n "$port" ] || fail "the stand-in publisher did not start: $(cat "$work/server.log")"
export DROVER_WINDIVERT_URL="http://127.0.0.1:$port/WinDivert-2.2.2-A.zip"

# The pinned digest: the stand-in is not the publisher's archive.
if "$src/scripts/fetch-windivert.sh" "$work/cache" >"$work/out" 2>"$work/err"; then
  fail "an archive with another digest was accepted: $(cat "$work/out")"
fi
pinned="$(sed -n 's/^ *"\([0-9a-f]\{64\}\)"$/\1/p' "$src/cmake/WindivertArchive.cmake" | head -n 1)"
grep -q "its SHA-256 is $digest, the pinned one is $pinned; removed" "$work/err" \
  || fail "the refusal does not name both digests: $(cat "$work/err")"
[ ! -e "$work/cache/WinDivert-2.2.2-A.zip" ] || fail "the refused archive was kept"

# The digest expected: kept and printed; then found without downloading.
DROVER_WINDIVERT_ZIP_SHA256="$digest" "$src/scripts/fetch-windivert.sh" "$work/cache" >"$work/out" 2>"$work/err" \
  || fail "the expected archive was refused: $(cat "$work/err")"
[ "$(cat "$work/out")" = "$work/cache/WinDivert-2.2.2-A.zip" ] || fail "printed $(cat "$work/out")"
kill "$server"
server=""
DROVER_WINDIVERT_ZIP_SHA256="$digest" "$src/scripts/fetch-windivert.sh" "$work/cache" >"$work/out" 2>"$work/err" \
  || fail "the kept archive was not found again: $(cat "$work/err")"
grep -q "downloading" "$work/err" && fail "the kept archive was downloaded again"
echo "fetch-windivert ok"

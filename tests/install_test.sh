#!/usr/bin/env bash
# scripts/install.sh into a scratch DESTDIR: every file lands where the
# service unit and the menu entry say, and uninstall removes them again.
set -euo pipefail
root="$1"; build="$2"
dest="$(mktemp -d)"
trap 'rm -rf "$dest"' EXIT
DESTDIR="$dest" "$root/scripts/install.sh" install "$build" 2>/dev/null
fail() { echo "FAIL: $*"; exit 1; }
test -x "$dest/usr/local/bin/drover" || fail "no binary"
grep -qx 'ExecStart=/usr/local/bin/drover --headless' \
  "$dest/etc/systemd/system/drover.service" || fail "unit ExecStart"
grep -qx 'Exec=/usr/local/bin/drover' \
  "$dest/usr/local/share/applications/drover.desktop" || fail "menu Exec"
test -f "$dest/usr/local/share/icons/hicolor/32x32/apps/drover.png" || fail "icon"
test -f "$dest/usr/local/share/doc/drover/desktop.md" || fail "doc"
"$dest/usr/local/bin/drover" --version | grep -q '^drover ' || fail "runs"
if command -v systemd-analyze >/dev/null; then
  # Verified against the installed binary's real path.
  sed "s|/usr/local/bin/drover|$dest/usr/local/bin/drover|" \
    "$dest/etc/systemd/system/drover.service" > "$dest/drover.service"
  systemd-analyze verify "$dest/drover.service" || fail "systemd-analyze"
fi
DESTDIR="$dest" "$root/scripts/install.sh" uninstall 2>/dev/null
test ! -e "$dest/usr/local/bin/drover" || fail "uninstall left the binary"
test ! -e "$dest/etc/systemd/system/drover.service" || fail "uninstall left the unit"
echo "install ok"

#!/usr/bin/env bash
# The Windows installer, built with CPack's NSIS generator and run under
# wine: a silent install puts drover.exe (which then runs) and the
# uninstaller in place with a Start menu entry; the silent uninstall stops
# Drover, removes the files and the sign-in entry. Its own wine prefix, so
# nothing else's registry is touched.
# usage: installer_test.sh BUILD_DIR WINE_RUN
set -euo pipefail
build=$1
wine_run=$2
cache="${DROVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/drover}"
export DROVER_WINEPREFIX="$cache/wine-prefix-installer"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

fail() { echo "installer test: $*" >&2; exit 1; }

(cd "$build" && cpack -G NSIS64 -B "$out" >"$out/cpack.log" 2>&1) \
  || { cat "$out/cpack.log" >&2; fail "cpack could not build the installer"; }
setup="$(ls "$out"/Drover-*-win64-setup*.exe)"

# wine-run creates the prefix on first use; the install folder inside it:
"$wine_run" cmd /c exit 0
target='C:\drover-installer-test'
unix_target="$DROVER_WINEPREFIX/drive_c/drover-installer-test"
rm -rf "$unix_target"

"$wine_run" "$setup" /S "/D=$target" || fail "the silent install failed"
[ -f "$unix_target/drover.exe" ] || fail "drover.exe was not installed"
[ -f "$unix_target/Uninstall.exe" ] || fail "no uninstaller"
menu="$DROVER_WINEPREFIX/drive_c/ProgramData/Microsoft/Windows/Start Menu/Programs/Drover"
[ -f "$menu/Drover.lnk" ] || fail "no Start menu entry in $menu"
version="$("$wine_run" "$unix_target/drover.exe" --version 2>/dev/null | tr -d '\r')"
[[ "$version" == "drover "* ]] || fail "the installed drover.exe does not run: '$version'"

# As Drover's own setting (or the installer's last page) would have left it.
"$wine_run" reg add 'HKCU\Software\Microsoft\Windows\CurrentVersion\Run' \
  /v Drover /d "\"$target\\drover.exe\"" /f >/dev/null
"$wine_run" "$unix_target/Uninstall.exe" /S "_?=$target" \
  || fail "the silent uninstall failed"
[ ! -e "$unix_target/drover.exe" ] || fail "drover.exe is still there after uninstall"
[ ! -e "$menu/Drover.lnk" ] || fail "the Start menu entry is still there"
if "$wine_run" reg query 'HKCU\Software\Microsoft\Windows\CurrentVersion\Run' \
     /v Drover >/dev/null 2>&1; then
  fail "the sign-in entry is still there"
fi
echo "installer ok: $(basename "$setup") installs, runs ($version) and uninstalls"

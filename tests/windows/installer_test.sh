#!/usr/bin/env bash
# The Windows installer, built with CPack's NSIS generator and run under
# wine: made only from a product build (the test build's fault hooks are
# refused; the product is built here beside it, from the same cache), and
# with WinDivert only from the archive whose SHA-256 is pinned (a stand-in
# archive is refused, then packed under its own digest given explicitly).
# A silent install puts drover.exe (which then runs, and has no fault
# hooks), WinDivert's files and the uninstaller in place with a Start menu
# entry; the silent uninstall stops Drover, removes the files and the
# sign-in entry. Its own wine prefix, so nothing else's registry is
# touched.
# Then an update as the tray hands it over (app/finish_update.hpp): the
# helper, a copy of the installed drover.exe, refuses an installer whose
# digest is not the signed one (nothing installed), runs the right one
# silently into the same folder over the running install, and starts
# Drover again saying "installed" (kept stopped when it was).
# usage: installer_test.sh BUILD_DIR WINE_RUN
set -euo pipefail
build=$1
wine_run=$2
cache="${DROVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/drover}"
export DROVER_WINEPREFIX="$cache/wine-prefix-installer"
out="$(mktemp -d)"
# Whatever happens, nothing of this test stays running in its prefix (the
# update starts Drover again, no child of this script).
trap 'WINEPREFIX="$DROVER_WINEPREFIX" timeout 30 /usr/lib/wine/wineserver -k 2>/dev/null || true; rm -rf "$out"' EXIT

fail() { echo "installer test: $*" >&2; exit 1; }

# The test build is never packed.
if (cd "$build" && cpack -G NSIS64 -B "$out/refused" >"$out/refused.log" 2>&1); then
  fail "a test build (with fault hooks) was packed"
fi
grep -q "this is a test build (it has fault hooks)" "$out/refused.log" \
  || { cat "$out/refused.log" >&2; fail "packing the test build failed otherwise"; }

# A stand-in for WinDivert-2.2.2-A.zip, laid out as the publisher's.
stand_in="$out/WinDivert-2.2.2-A"
mkdir -p "$stand_in/x64" "$stand_in/x86"
echo "stand-in WinDivert.dll" >"$stand_in/x64/WinDivert.dll"
echo "stand-in WinDivert64.sys" >"$stand_in/x64/WinDivert64.sys"
echo "stand-in x86 WinDivert.dll" >"$stand_in/x86/WinDivert.dll"
echo "stand-in licence" >"$stand_in/LICENSE"
(cd "$out" && cmake -E tar cf WinDivert-2.2.2-A.zip --format=zip WinDivert-2.2.2-A)
zip="$out/WinDivert-2.2.2-A.zip"
zip_sha256="$(sha256sum "$zip" | cut -d' ' -f1)"

# The product, as make package-windows builds it: the test build's
# settings, without tests. First with the pinned digest: the stand-in is
# not the publisher's archive and the configuration stops, naming both.
cached() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
product="$build/installer-product"
configure() {
  cmake -S "$(cached CMAKE_HOME_DIRECTORY)" -B "$product" -G Ninja \
    -DCMAKE_TOOLCHAIN_FILE="$(cached CMAKE_TOOLCHAIN_FILE)" \
    -DCAF_ROOT="$(cached CAF_ROOT)" -DDROVER_QT_ROOT="$(cached DROVER_QT_ROOT)" \
    -DDROVER_WERROR=ON -DDROVER_BUILD_TESTS=OFF -DDROVER_BUILD_BENCH=OFF \
    -DDROVER_UPDATE_KEY_FILE="$(cached CMAKE_HOME_DIRECTORY)/tests/data/update-test-key.pub" \
    -DDROVER_WINDIVERT_ZIP="$zip" "$@"
}
if configure -UDROVER_WINDIVERT_ZIP_SHA256 >"$out/pinned.log" 2>&1; then
  fail "an archive that is not WinDivert-2.2.2-A.zip was accepted"
fi
refusal="$(tr -s '[:space:]' ' ' <"$out/pinned.log")" # CMake wraps its lines
grep -q "is not the WinDivert archive Drover packs: its SHA-256 is $zip_sha256" \
  <<<"$refusal" || { cat "$out/pinned.log" >&2; fail "the refusal does not name the digest"; }
grep -q "WinDivert-2.2.2-A.zip's is 63cb41763bb4b20f600b6de04e991a9c2be73279e317d4d82f237b150c5f3f15" \
  <<<"$refusal" || fail "the refusal does not name the pinned digest"
# Without an archive: the installer says which files go where (configured
# only: CPack's settings are written then).
bare="$build/installer-product-bare"
cmake -S "$(cached CMAKE_HOME_DIRECTORY)" -B "$bare" -G Ninja \
  -DCMAKE_TOOLCHAIN_FILE="$(cached CMAKE_TOOLCHAIN_FILE)" \
  -DCAF_ROOT="$(cached CAF_ROOT)" -DDROVER_QT_ROOT="$(cached DROVER_QT_ROOT)" \
  -DDROVER_BUILD_TESTS=OFF -DDROVER_BUILD_BENCH=OFF -UDROVER_WINDIVERT_ZIP \
  >"$out/bare.log" 2>&1 || { tail -n 20 "$out/bare.log" >&2; fail "a product without WinDivert did not configure"; }
grep -q 'without-windivert' "$bare/CPackConfig.cmake" \
  || fail "an installer without WinDivert does not say so in its name"
grep -q 'copy its x64\\\\WinDivert.dll and x64\\\\WinDivert64.sys into' "$bare/CPackConfig.cmake" \
  || fail "an installer without WinDivert does not say which files go where"
configure -DDROVER_WINDIVERT_ZIP_SHA256="$zip_sha256" >"$out/product.log" 2>&1 \
  && cmake --build "$product" >>"$out/product.log" 2>&1 \
  || { tail -n 40 "$out/product.log" >&2; fail "the product did not build"; }
# The shipped binary has no fault commands (their texts are not in it;
# the text a product answers with is, so the search can find things).
grep -aq "fault injection is not built in" "$product/app/drover.exe" \
  || fail "the product's drover.exe is not where the test looks"
if grep -aq -e "injected fault" -e "the flow-manager throws" "$product/app/drover.exe"; then
  fail "the product's drover.exe has fault commands"
fi
# It loads only the WinDivert files it was packed with: their digests are
# in it (actors/platform/windows/windivert_dll.cpp checks them).
for f in x64/WinDivert.dll x64/WinDivert64.sys; do
  grep -aq "$(sha256sum "$stand_in/$f" | cut -d' ' -f1)" "$product/app/drover.exe" \
    || fail "the product's drover.exe does not know the packed $f's digest"
done
(cd "$product" && cpack -G NSIS64 -B "$out" >"$out/cpack.log" 2>&1) \
  || { cat "$out/cpack.log" >&2; fail "cpack could not build the installer"; }
setup="$(ls "$out"/Drover-*-win64-setup*.exe)"
[[ "$setup" == *-tests-update-key.exe ]] \
  || fail "an installer that takes the tests' updates does not say so: $setup"

# wine-run creates the prefix on first use; the install folder inside it:
"$wine_run" cmd /c exit 0
target='C:\drover-installer-test'
unix_target="$DROVER_WINEPREFIX/drive_c/drover-installer-test"
rm -rf "$unix_target" "$DROVER_WINEPREFIX/drive_c/drover-update-test" "$DROVER_WINEPREFIX/drive_c/Program Files/Drover"
# A run that failed half-way left its install registered (an installer
# would first run that uninstaller, which is gone): forgotten.
uninstall_keys='HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall'
"$wine_run" reg query "$uninstall_keys" 2>/dev/null | tr -d '\r' | { grep -E '\\Drover( [0-9.]+)?$' || true; } \
  | while read -r key; do "$wine_run" reg delete "$key" /f >/dev/null 2>&1 || true; done

# A standard user made C:\ProgramData\Drover first (a file here): the
# installer, elevated, moves it aside and makes the engine's folder itself.
programdata="$DROVER_WINEPREFIX/drive_c/ProgramData"
rm -rf "$programdata/Drover" "$programdata"/Drover.untrusted-*
echo "planted by a user" >"$programdata/Drover"

"$wine_run" "$setup" /S "/D=$target" || fail "the silent install failed"
[ -d "$programdata/Drover/logs" ] && [ ! -L "$programdata/Drover" ] \
  || fail "the installer did not make the engine's folder C:\ProgramData\Drover\logs"
grep -qx "planted by a user" "$programdata"/Drover.untrusted-* 2>/dev/null \
  || fail "the planted C:\ProgramData\Drover was not moved aside as it was"
rm -rf "$programdata/Drover" "$programdata"/Drover.untrusted-*
[ -f "$unix_target/drover.exe" ] || fail "drover.exe was not installed"
[ -f "$unix_target/Uninstall.exe" ] || fail "no uninstaller"
for f in WinDivert.dll WinDivert64.sys WinDivert-LICENSE.txt; do
  [ -f "$unix_target/$f" ] || fail "$f was not installed"
done
grep -q "stand-in WinDivert.dll" "$unix_target/WinDivert.dll" \
  || fail "the installed WinDivert.dll is not the archive's x64 one"
menu="$DROVER_WINEPREFIX/drive_c/ProgramData/Microsoft/Windows/Start Menu/Programs/Drover"
[ -f "$menu/Drover.lnk" ] || fail "no Start menu entry in $menu"
version="$("$wine_run" "$unix_target/drover.exe" --version 2>/dev/null | tr -d '\r')"
[[ "$version" == "drover "* ]] || fail "the installed drover.exe does not run: '$version'"
[[ "$version" != *"test build"* ]] || fail "the installed drover.exe has fault hooks: '$version'"

# The update. The installed drover.exe, as the tray leaves it: a copy
# under another name (the installer ends every drover.exe), run with the
# installed drover.exe as the program to start again.
helper_dir="$DROVER_WINEPREFIX/drive_c/drover-update-test"
helper="$helper_dir/drover-update.exe"
mkdir -p "$helper_dir"
cp "$unix_target/drover.exe" "$helper"
release="$helper_dir/Drover-99.1.0-win64-setup.exe"
finish() { # finish-update with the given digest; its output in $out/finish.log
  cp "$setup" "$release"
  "$wine_run" "$helper" finish-update \
    --installer 'C:\drover-update-test\Drover-99.1.0-win64-setup.exe' \
    --sha256 "$1" --to-version 99.1.0 --restart "$target\drover.exe" "${@:2}" \
    >"$out/finish.log" 2>&1
}
# Drover started again, as wine shows its command line (bounded wait: the
# helper ends as soon as it has started it).
restarted_with() {
  local i
  for i in $(seq 150); do
    pgrep -af -- "drover.exe --after-update $1" >/dev/null && return 0
    sleep 0.1
  done
  return 1
}
digest="$(sha256sum "$setup" | cut -d' ' -f1)"
# The Drover started again asks no real server for updates.
appdata="$DROVER_WINEPREFIX/drive_c/users/$(id -un)/AppData/Roaming/Drover"
mkdir -p "$appdata"
printf '[update]\ncheck_on_startup = false\n' >"$appdata/config.toml"
rm -f "$menu/Drover.lnk"
if finish "$(printf '%064d' 0)"; then
  fail "an installer whose digest is not the signed one was run"
fi
refusal="the downloaded installer changed before it ran; nothing was installed"
grep -q "update failed: $refusal" "$out/finish.log" \
  || { cat "$out/finish.log" >&2; fail "the refusal was not said"; }
[ ! -e "$menu/Drover.lnk" ] || fail "the refused installer ran"
[ ! -e "$release" ] || fail "the refused installer was left behind"
restarted_with "failed: $refusal" \
  || fail "Drover was not started again with the refusal: $(pgrep -af drover.exe)"
# The right one, over the install whose Drover now runs again, and whose
# drover.exe is older than the installer's: replaced, in the same folder
# (not the installer's default), and Drover started again, stopped as it was.
touch -d 2001-01-01 "$unix_target/drover.exe" # NSIS keeps its files' own times
finish "$digest" --stopped || { cat "$out/finish.log" >&2; fail "the update failed"; }
grep -q "update installed 99.1.0" "$out/finish.log" || fail "the helper did not say it installed"
[ "$(stat -c %Y "$unix_target/drover.exe")" -gt "$(date -d 2001-01-02 +%s)" ] \
  || fail "drover.exe was not replaced by the update"
[ -f "$menu/Drover.lnk" ] || fail "the update's installer did not run (no Start menu entry)"
[ ! -e "$DROVER_WINEPREFIX/drive_c/Program Files/Drover/drover.exe" ] \
  || fail "the update went to the default folder, not the user's"
[ ! -e "$release" ] || fail "the installer was left behind after the update"
restarted_with "installed 99.1.0 --start-stopped" \
  || fail "Drover was not started again as it was: $(pgrep -af drover.exe)"
pgrep -af -- "drover.exe --after-update failed" >/dev/null \
  && fail "the Drover started after the refusal still runs after the update"
rm -rf "$helper_dir"

# As Drover's own setting (or the installer's last page) would have left it.
"$wine_run" reg add 'HKCU\Software\Microsoft\Windows\CurrentVersion\Run' \
  /v Drover /d "\"$target\\drover.exe\"" /f >/dev/null
"$wine_run" "$unix_target/Uninstall.exe" /S "_?=$target" \
  || fail "the silent uninstall failed"
for f in drover.exe WinDivert.dll WinDivert64.sys WinDivert-LICENSE.txt; do
  [ ! -e "$unix_target/$f" ] || fail "$f is still there after uninstall"
done
[ ! -e "$menu/Drover.lnk" ] || fail "the Start menu entry is still there"
if "$wine_run" reg query 'HKCU\Software\Microsoft\Windows\CurrentVersion\Run' \
     /v Drover >/dev/null 2>&1; then
  fail "the sign-in entry is still there"
fi
echo "installer ok: $(basename "$setup") installs, runs ($version), updates itself and uninstalls"

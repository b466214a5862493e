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
# usage: installer_test.sh BUILD_DIR WINE_RUN
set -euo pipefail
build=$1
wine_run=$2
cache="${DROVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/drover}"
export DROVER_WINEPREFIX="$cache/wine-prefix-installer"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

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
(cd "$product" && cpack -G NSIS64 -B "$out" >"$out/cpack.log" 2>&1) \
  || { cat "$out/cpack.log" >&2; fail "cpack could not build the installer"; }
setup="$(ls "$out"/Drover-*-win64-setup*.exe)"

# wine-run creates the prefix on first use; the install folder inside it:
"$wine_run" cmd /c exit 0
target='C:\drover-installer-test'
unix_target="$DROVER_WINEPREFIX/drive_c/drover-installer-test"
rm -rf "$unix_target"

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
echo "installer ok: $(basename "$setup") installs, runs ($version) and uninstalls"

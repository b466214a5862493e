#!/usr/bin/env bash
# Builds Qt 5.15's qtbase as static libraries for Windows x64 with
# mingw-w64, from Debian's own source package (the version qtbase5-dev has), into a cache
# folder outside the checkout. Prints the install prefix. About half an
# hour on 2 cores, once per Qt version and recipe.
#
# Only what the tray uses is built (Core, Gui, Widgets, Network, Test; the
# Windows and minimal platforms, the native style; PNG images): no SQL,
# XML, Concurrent, printing, graphics view, JPEG, GIF or ICO, and no
# FreeType (on Windows only the offscreen platform needs it, so that one is
# not built: the tray's widget tests run on the minimal platform).
#
# Debian's whole patch series is applied first (debian/patches/series of
# the same source package: upstream backports with every CVE fix Debian
# shipped for this version, then Debian's own), so the Windows tray has
# what Debian's qtbase5-dev has; the list goes to $prefix/debian-patches,
# which the Windows build checks for.
#
# Two fixes:
#  - Qt appends "g++" to CROSS_COMPILE, so a folder of links gives it the
#    -posix compilers (the default mingw ones have no std::thread);
#  - Debian's +dfsg tarball lacks src/3rdparty/wintab: wine's LGPL
#    wintab.h and pktdef.h (from libwine-dev, downloaded, not installed)
#    take its place.
set -euo pipefail
. "$(dirname "$0")/common.sh"

ensure_packages qtbase5-dev g++-mingw-w64-x86-64-posix make perl python3 dpkg-dev
QT_SOURCE=qtbase-opensource-src
QT_DEB_VERSION="$(dpkg-query -W -f='${source:Version}' qtbase5-dev)"
QT_VERSION="${QT_DEB_VERSION%%+*}"
RECIPE=3 # bump when the options, patches or fixes below change
prefix="$DROVER_CACHE/qt-$QT_DEB_VERSION-mingw64-r$RECIPE"

if [ -f "$prefix/.complete" ]; then
  remove_older_builds "qt-*-mingw64-r*" "$prefix"
  echo "$prefix"
  exit 0
fi

src="$DROVER_CACHE/src/$QT_SOURCE-$QT_DEB_VERSION"
dsc="$src/${QT_SOURCE}_${QT_DEB_VERSION#*:}.dsc"
tarball="$src/${QT_SOURCE}_${QT_VERSION}+dfsg.orig.tar.xz"
debian_tarball="$src/${QT_SOURCE}_${QT_DEB_VERSION#*:}.debian.tar.xz"
if [ ! -f "$tarball" ] || [ ! -f "$dsc" ] || [ ! -f "$debian_tarball" ]; then
  log "fetching Debian's $QT_SOURCE $QT_DEB_VERSION source"
  fetch_debian_source "$QT_SOURCE=$QT_DEB_VERSION" "$src"
fi
[ -f "$dsc" ] || die "could not download $dsc"
[ -f "$tarball" ] || die "could not download $tarball"
[ -f "$debian_tarball" ] \
  || die "could not download $debian_tarball: without Debian's patches (its security fixes) Qt is not built"
verify_against_dsc "$dsc" "$tarball"
verify_against_dsc "$dsc" "$debian_tarball"

work="$(mktemp -d "$DROVER_CACHE/qt-build.XXXXXX")"
# Kept when the build fails, for its logs; removed when it succeeds.
trap 'rm -rf "$work"' EXIT
keep_on_failure() { trap - EXIT; }
log "unpacking Qt $QT_VERSION"
tar xJf "$tarball" -C "$work"
qtdir="$(find "$work" -maxdepth 1 -mindepth 1 -type d -name 'qtbase*' | head -1)"
[ -d "$qtdir" ] || die "no qtbase folder in $tarball"

log "applying Debian's patch series"
tar xJf "$debian_tarball" -C "$work"
applied="$work/debian-patches"
: >"$applied"
while read -r patch_name _; do
  case "$patch_name" in ""|"#"*) continue ;; esac
  patch -d "$qtdir" -p1 --forward --batch --quiet \
    <"$work/debian/patches/$patch_name" >&2 \
    || die "Debian's $patch_name does not apply to Qt $QT_VERSION"
  echo "$patch_name" >>"$applied"
done <"$work/debian/patches/series"
[ -s "$applied" ] || die "Debian's patch series is empty"

# wine's wintab headers where Qt's own were removed for Debian.
if [ ! -f "$qtdir/src/3rdparty/wintab/wintab.h" ]; then
  (cd "$work" && apt-get -q download libwine-dev >&2)
  dpkg-deb -x "$work"/libwine-dev_*.deb "$work/wine-dev"
  mkdir -p "$qtdir/src/3rdparty/wintab"
  for h in wintab.h pktdef.h; do
    f="$(find "$work/wine-dev" -name "$h" | head -1)"
    [ -n "$f" ] || die "libwine-dev has no $h"
    cp "$f" "$qtdir/src/3rdparty/wintab/wine-$h"
  done
  # wine's headers use two of wine's own macros, and Qt's code the API
  # macro that its removed wintab.h defined.
  cat >"$qtdir/src/3rdparty/wintab/wintab.h" <<'SHIM'
#pragma once
#include <windows.h>
#ifndef WINELIB_NAME_AW
#  ifdef UNICODE
#    define WINELIB_NAME_AW(name) name##W
#  else
#    define WINELIB_NAME_AW(name) name##A
#  endif
#endif
#ifndef DECL_WINELIB_TYPE_AW
#  define DECL_WINELIB_TYPE_AW(type) typedef WINELIB_NAME_AW(type) type;
#endif
#ifndef API
#  define API WINAPI
#endif
#include "wine-wintab.h"
SHIM
  printf '#pragma once\n#include "wine-pktdef.h"\n' \
    >"$qtdir/src/3rdparty/wintab/pktdef.h"
fi

# CROSS_COMPILE + "g++" must name the -posix compilers.
tools="$work/tools"
mkdir -p "$tools"
for t in gcc g++; do
  ln -s "$(command -v x86_64-w64-mingw32-$t-posix)" "$tools/x86_64-w64-mingw32-$t"
done
for t in ar ranlib strip windres objcopy nm; do
  ln -s "$(command -v x86_64-w64-mingw32-$t)" "$tools/x86_64-w64-mingw32-$t"
done

log "configuring Qt $QT_VERSION for mingw64 (static)"
mkdir -p "$work/build"
(cd "$work/build" && PATH="$tools:$PATH" "$qtdir/configure" \
  -xplatform win32-g++ -device-option CROSS_COMPILE=x86_64-w64-mingw32- \
  -prefix "$prefix" -opensource -confirm-license -release -static \
  -nomake examples -nomake tests -no-compile-examples \
  -no-opengl -no-direct2d -no-dbus -no-icu -no-openssl -no-vulkan \
  -no-feature-sql -no-feature-xml -no-feature-concurrent -no-feature-printer \
  -no-feature-graphicsview \
  -no-freetype -no-gif -no-ico -no-libjpeg \
  -qt-zlib -qt-libpng -qt-harfbuzz -qt-pcre \
  >"$work/configure.log" 2>&1) \
  || { tail -40 "$work/configure.log" >&2; keep_on_failure
       die "Qt's configure failed (the log: $work/configure.log)"; }
log "building Qt $QT_VERSION for mingw64 (about half an hour)"
(cd "$work/build" && PATH="$tools:$PATH" make -j "$(nproc)" >"$work/make.log" 2>&1) \
  || { grep -m 10 -B 3 -A 6 -E "error:|Error [0-9]" "$work/make.log" >&2
       keep_on_failure; die "building Qt failed (the whole log: $work/make.log)"; }
(cd "$work/build" && PATH="$tools:$PATH" make install >"$work/install.log" 2>&1) \
  || { tail -20 "$work/install.log" >&2; die "installing Qt failed"; }
cp "$applied" "$prefix/debian-patches"
touch "$prefix/.complete"
remove_older_builds "qt-*-mingw64-r*" "$prefix"
echo "$prefix"

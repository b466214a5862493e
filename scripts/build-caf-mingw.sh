#!/usr/bin/env bash
# Builds CAF 0.17.6 (the version Debian ships) as static libraries for
# Windows x64 with mingw-w64, from Debian's source package, and installs it
# into a cache folder outside the checkout. Prints the install prefix.
#
# Two fixes are applied (see shared/docs/stack.md):
#  - `#include <limits>` in receive_buffer.hpp (missing upstream);
#  - -DCAF_NO_THREAD_LOCAL: with CAF's thread_local logger pointer, about one
#    run in eight hangs in ~actor_system under wine (winpthreads TLS dtors).
set -euo pipefail
. "$(dirname "$0")/common.sh"

CAF_VERSION=0.17.6
CAF_DEB_VERSION=0.17.6-2.1
RECIPE=1 # bump when the flags or patches below change
prefix="$DROVER_CACHE/caf-$CAF_VERSION-mingw64-r$RECIPE"

if [ -f "$prefix/.complete" ]; then
  echo "$prefix"
  exit 0
fi

ensure_packages g++-mingw-w64-x86-64-posix cmake ninja-build

src="$DROVER_CACHE/src/actor-framework-$CAF_DEB_VERSION"
tarball="$src/actor-framework_$CAF_VERSION.orig.tar.gz"
dsc="$src/actor-framework_$CAF_DEB_VERSION.dsc"
if [ ! -f "$tarball" ] || [ ! -f "$dsc" ]; then
  log "fetching Debian's actor-framework $CAF_DEB_VERSION source"
  fetch_debian_source "actor-framework=$CAF_DEB_VERSION" "$src"
fi
[ -f "$dsc" ] || die "could not download $dsc"
verify_against_dsc "$dsc" "$tarball"

work="$(mktemp -d "$DROVER_CACHE/caf-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
tar xzf "$tarball" -C "$work"
cafdir="$work/actor-framework-$CAF_VERSION"

hdr="$cafdir/libcaf_io/caf/io/network/receive_buffer.hpp"
grep -q '#include <limits>' "$hdr" \
  || sed -i 's|#include <cstddef>|#include <cstddef>\n#include <limits>|' "$hdr"

log "building CAF $CAF_VERSION for mingw64 (a few minutes)"
cmake -S "$cafdir" -B "$work/build" -G Ninja \
  -DCMAKE_TOOLCHAIN_FILE="$DROVER_ROOT/cmake/toolchain-mingw64.cmake" \
  -DCMAKE_CROSSCOMPILING_EMULATOR= \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DCMAKE_CXX_FLAGS="-DCAF_NO_THREAD_LOCAL" \
  -DCAF_BUILD_STATIC_ONLY=yes -DCAF_NO_EXAMPLES=yes -DCAF_NO_TOOLS=yes \
  -DCAF_NO_UNIT_TESTS=yes -DCAF_NO_OPENSSL=yes -DCAF_NO_OPENCL=yes \
  -DCAF_NO_PYTHON=yes -DCAF_NO_COMPILER_CHECK=yes -DCAF_NO_SUMMARY=yes >&2
cmake --build "$work/build" -j "$(nproc)" >&2
cmake --install "$work/build" >&2
touch "$prefix/.complete"
echo "$prefix"

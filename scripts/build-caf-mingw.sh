#!/usr/bin/env bash
# Builds CAF 0.17.6 (the version Debian ships) as static libraries for
# Windows x64 with mingw-w64, from Debian's source package, and installs it
# into a cache folder outside the checkout. Prints the install prefix.
#
# Debian's patch series for 0.17.6-2.1 is applied, as Debian's own
# changelog lists it (/usr/share/doc/libcaf-dev/changelog.Debian.gz; the
# series goes to $prefix/debian-patches, and the Windows build refuses a
# CAF without that record):
#  - upstream pull request #1135, "Handle overflows in stream slot id
#    selection" (0.17.6-1): a stream slot past the highest wrapped to the
#    invalid slot 0. Drover uses no CAF streams; applied all the same;
#  - "Add patch to CMakeLists.txt to enable -std=c++14" (0.17.6-1): a build
#    flag for Debian's compiler of the time; this build passes C++17's
#    headers the same flags Drover's own code gets, nothing to change;
#  - "Enable building with recent gcc" (0.17.6-2.1, #983959): the missing
#    `#include <limits>` in receive_buffer.hpp.
# The mirror this project's machines reach has served the .dsc and the
# orig tarball but not `actor-framework_0.17.6-2.1.debian.tar.xz` (404):
# when it is there it is verified against the .dsc and its series applied
# instead; otherwise the three changes above are made here, each checked.
#
# Two fixes of Drover's own:
#  - -DCAF_NO_THREAD_LOCAL: with CAF's thread_local logger pointer, about
#    one run in eight hangs in ~actor_system under wine (winpthreads TLS
#    dtors);
#  - a datagram servant stops reading when the socket has nothing more:
#    CAF 0.17's read loop (datagram_handler.hpp) takes "would block" for
#    an empty datagram and goes on, so every datagram received cost 49
#    more recvfrom calls that found nothing (middleman.max-consecutive-
#    reads, 50). Under wine that was 3.4 ms before each captured UDP
#    datagram reached its association (docs/benchmarks.md); on Windows,
#    49 wasted system calls per datagram of voice.
set -euo pipefail
. "$(dirname "$0")/common.sh"

CAF_VERSION=0.17.6
CAF_DEB_VERSION=0.17.6-2.1
RECIPE=5 # bump when the flags or patches below change
prefix="$DROVER_CACHE/caf-$CAF_VERSION-mingw64-r$RECIPE"

if [ -f "$prefix/.complete" ]; then
  remove_older_builds "caf-*-mingw64-r*" "$prefix"
  echo "$prefix"
  exit 0
fi

ensure_packages g++-mingw-w64-x86-64-posix cmake ninja-build python3

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

applied="$work/debian-patches"
debian_tarball="$src/actor-framework_$CAF_DEB_VERSION.debian.tar.xz"
if [ -f "$debian_tarball" ]; then
  verify_against_dsc "$dsc" "$debian_tarball"
  log "applying Debian's patch series"
  tar xJf "$debian_tarball" -C "$work"
  while read -r patch_name _; do
    case "$patch_name" in ""|"#"*) continue ;; esac
    patch -d "$cafdir" -p1 --forward --batch --quiet \
      <"$work/debian/patches/$patch_name" \
      || die "Debian's patch $patch_name does not apply to CAF $CAF_VERSION"
    echo "$patch_name" >>"$applied"
  done <"$work/debian/patches/series"
else
  log "applying Debian's patch series as its changelog lists it"
  # Upstream #1135: past the highest slot, the lowest free one (0, the
  # invalid slot, when none is free) instead of a wrap to 0.
  slots="$cafdir/libcaf_core/src/scheduled_actor.cpp"
  python3 - "$slots" <<'PY' || die "the stream slot change (upstream #1135) does not apply"
import sys
path = sys.argv[1]
text = open(path).read()
old = "    return x.rbegin()->first + 1;\n"
new = """    auto highest = x.rbegin()->first;
    if (highest != std::numeric_limits<stream_slot>::max())
      return static_cast<stream_slot>(highest + 1);
    stream_slot lowest_free = 1;
    for (auto& entry : x) {
      if (entry.first > lowest_free)
        break;
      if (entry.first == lowest_free)
        ++lowest_free; // wraps to 0 (invalid_stream_slot) when all are taken
    }
    return lowest_free;
"""
if text.count(old) != 1:
    sys.exit(1)
text = text.replace(old, new)
anchor = '#include "caf/scheduled_actor.hpp"\n'
if "#include <limits>" not in text:
    if text.count(anchor) != 1:
        sys.exit(1)
    text = text.replace(anchor, anchor + "\n#include <limits>\n", 1)
open(path, "w").write(text)
PY
  grep -q "#include <limits>" "$slots" || die "scheduled_actor.cpp lacks <limits>"
  echo "upstream-pr-1135-stream-slot-overflow (0.17.6-1)" >>"$applied"
  echo "cmake-std-c++14 (0.17.6-1): not needed, the flags are this build's" >>"$applied"
  hdr="$cafdir/libcaf_io/caf/io/network/receive_buffer.hpp"
  grep -q '#include <limits>' "$hdr" \
    || sed -i 's|#include <cstddef>|#include <cstddef>\n#include <limits>|' "$hdr"
  grep -q '#include <limits>' "$hdr" || die "receive_buffer.hpp lacks <limits>"
  echo "recent-gcc-include-limits (0.17.6-2.1, #983959)" >>"$applied"
fi

# The datagram read loop ends at the first read that found nothing.
dgram_hdr="$cafdir/libcaf_io/caf/io/network/datagram_handler.hpp"
python3 - "$dgram_hdr" <<'PY' || die "the datagram read loop change does not apply to CAF $CAF_VERSION"
import sys
path = sys.argv[1]
text = open(path).read()
old = """          if (!handle_read_result(res))
            return;
        }
"""
new = """          if (!handle_read_result(res))
            return;
          // Drover: nothing more to read (or an empty datagram; the
          // next poll reports what follows it).
          if (num_bytes_ == 0)
            break;
        }
"""
if text.count(old) != 1:
    sys.exit(1)
open(path, "w").write(text.replace(old, new))
PY
grep -q "Drover: nothing more to read" "$dgram_hdr" || die "datagram_handler.hpp lacks the read loop change"

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
cp "$applied" "$prefix/debian-patches"
touch "$prefix/.complete"
remove_older_builds "caf-*-mingw64-r*" "$prefix"
echo "$prefix"

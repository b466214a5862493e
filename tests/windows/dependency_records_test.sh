#!/usr/bin/env bash
# The Windows build refuses a CAF or a Qt for mingw built without Debian's
# patch series: each is configured here from a copy of the real build
# (links to its folders) that lacks only the record of the series, and the
# configure must stop naming it.
# usage: dependency_records_test.sh SOURCE_DIR CAF_ROOT QT_ROOT
set -euo pipefail
src=$1
caf=$2
qt=$3
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# A copy of ROOT at COPY without its debian-patches.
without_record() {
  mkdir -p "$2"
  local part
  for part in "$1"/*; do
    [ "$(basename "$part")" = debian-patches ] || ln -s "$part" "$2/"
  done
}
without_record "$caf" "$work/caf"
without_record "$qt" "$work/qt"

# configure NAME CMAKE_ARGS...: exit code of a configure into build-NAME.
configure() {
  local name=$1
  shift
  cmake -S "$src" -B "$work/build-$name" -G Ninja \
    -DCMAKE_TOOLCHAIN_FILE="$src/cmake/toolchain-mingw64.cmake" \
    -DDROVER_BUILD_BENCH=OFF "$@" >"$work/$name.out" 2>&1
}

if configure caf -DCAF_ROOT="$work/caf" -DDROVER_QT_ROOT="$qt"; then
  echo "a CAF without the record of Debian's patches was accepted" >&2
  exit 1
fi
grep -q "$work/caf was built without Debian's patch series" "$work/caf.out" \
  || { cat "$work/caf.out" >&2; echo "the refusal does not name the CAF" >&2; exit 1; }

if configure qt -DCAF_ROOT="$caf" -DDROVER_QT_ROOT="$work/qt"; then
  echo "a Qt without the record of Debian's patches was accepted" >&2
  exit 1
fi
grep -q "$work/qt was built without Debian's patch" "$work/qt.out" \
  || { cat "$work/qt.out" >&2; echo "the refusal does not name the Qt" >&2; exit 1; }
echo "dependency records ok: a CAF or a Qt without Debian's patches is refused"

#!/usr/bin/env bash
# Refreshes the README's screenshots (docs/images/) from the tray's GUI
# tests: the real tray under Xvfb + trayer against the real engine and dante
# in the tests' namespaces (root). Build first (make test-native).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
DROVER_SCREENSHOTS="$root/docs/images" \
  "$build/tests/tray_e2e_test" \
  --gtest_filter='tray_e2e.a_users_tray_follows*:tray_e2e.the_window*'

# The Windows tray, drover.exe under wine (docs/images/windows-*.png), from
# the Windows build (make build-windows) when there is one.
windows_build="${2:-$root/build-windows}"
if [ -f "$windows_build/app/drover.exe" ]; then
  DROVER_SCREENSHOTS="$root/docs/images" "$root/scripts/with-xvfb" bash \
    "$root/tests/windows/tray_test.sh" "$windows_build/app/drover.exe" \
    "$windows_build/tests/WinDivert.dll" "$root/scripts/wine-run" \
    "$windows_build/tests/argument_recorder.exe"
fi

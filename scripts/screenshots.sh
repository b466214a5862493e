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

#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR for FUZZ_SECONDS each (default
# 30), starting from tests/fuzz/corpus/<target>. Fails on the first crash
# and leaves the crashing input in BUILD_DIR/fuzz-artifacts/.
set -euo pipefail
. "$(dirname "$0")/common.sh"
build="${1:?usage: run-fuzzers.sh BUILD_DIR}"
seconds="${FUZZ_SECONDS:-30}"
artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts"
for fuzzer in "$build"/tests/fuzz/fuzz_*; do
  name="$(basename "$fuzzer")"
  target="${name#fuzz_}"
  work="$(mktemp -d)"
  log "fuzzing $target for ${seconds}s"
  if ! "$fuzzer" -max_total_time="$seconds" -max_len=65535 -timeout=10 \
      -artifact_prefix="$artifacts/$target-" -print_final_stats=1 \
      "$work" "$DROVER_ROOT/tests/fuzz/corpus/$target" >"$artifacts/$target.log" 2>&1; then
    tail -n 40 "$artifacts/$target.log" >&2
    rm -rf "$work"
    die "fuzz_$target found a crash: $(ls "$artifacts/$target"-* 2>/dev/null | head -n 1)"
  fi
  grep -E '^stat::number_of_executed_units' "$artifacts/$target.log" | sed "s/^/  $target: /" >&2
  rm -rf "$work"
done

#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR for FUZZ_SECONDS each (default
# 30), starting from tests/fuzz/corpus/<target>, as many at once as there
# are processors (FUZZ_JOBS): each fuzzer is one process on one core, so
# one at a time left the others idle. Fails when any crashed (or could not
# run), showing its log, and leaves the crashing input in
# BUILD_DIR/fuzz-artifacts/.
set -euo pipefail
. "$(dirname "$0")/common.sh"
build="${1:?usage: run-fuzzers.sh BUILD_DIR}"
seconds="${FUZZ_SECONDS:-30}"
jobs_max="${FUZZ_JOBS:-$(nproc)}"
artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts"

# One target; its outcome goes to $artifacts/<target>.status.
fuzz_one() {
  local fuzzer="$1" target work status=0
  target="$(basename "$fuzzer")"
  target="${target#fuzz_}"
  work="$(mktemp -d)"
  "$fuzzer" -max_total_time="$seconds" -max_len=65535 -timeout=10 \
    -artifact_prefix="$artifacts/$target-" -print_final_stats=1 \
    "$work" "$DROVER_ROOT/tests/fuzz/corpus/$target" \
    >"$artifacts/$target.log" 2>&1 || status=$?
  rm -rf "$work"
  echo "$status" >"$artifacts/$target.status"
}

targets=()
for fuzzer in "$build"/tests/fuzz/fuzz_*; do
  [ -x "$fuzzer" ] || continue
  target="$(basename "$fuzzer")"
  targets+=("${target#fuzz_}")
  rm -f "$artifacts/${target#fuzz_}.status"
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
  log "fuzzing ${target#fuzz_} for ${seconds}s"
  fuzz_one "$fuzzer" &
done
wait
[ "${#targets[@]}" -gt 0 ] || die "no fuzzers in $build/tests/fuzz"

crashed=()
for target in "${targets[@]}"; do
  if [ "$(cat "$artifacts/$target.status" 2>/dev/null)" != 0 ]; then
    crashed+=("$target")
    tail -n 40 "$artifacts/$target.log" >&2
  else
    grep -E '^stat::number_of_executed_units' "$artifacts/$target.log" \
      | sed "s/^/  $target: /" >&2
  fi
done
for target in "${crashed[@]}"; do
  input="$(ls "$artifacts/$target"-* 2>/dev/null | head -n 1 || true)"
  log "fuzz_$target failed: ${input:-no crashing input (its log is above)}"
done
[ "${#crashed[@]}" -eq 0 ] || die "${#crashed[@]} fuzzer(s) failed: ${crashed[*]}"

#!/usr/bin/env bash
# The real drover.exe engine under wine, end to end on its control plane:
# started with --headless beside the test double of WinDivert.dll, it
# checks a real SOCKS5 proxy (dante, on this machine's loopback, which wine
# programs share) and goes Active; `drover.exe status`, `stop`, `start`
# and `quit` reach it through the control pipe; a second engine is
# refused. (The packet path itself is tests/windows/divert_port_test.cpp.)
# usage: engine_test.sh DROVER_EXE FAKE_WINDIVERT_DLL WINE_RUN
set -euo pipefail
exe=$1
dll=$2
wine_run=$3
export DROVER_CONTROL_PIPE="drover-engine-test-$$"
export WINEDEBUG=-all
. "$(dirname "$0")/lab.sh"
pids=()
engine=""
trap lab_cleanup EXIT
fail() {
  echo "engine test: $*" >&2
  [ -f "$dir/engine.out" ] && sed 's/^/  engine: /' "$dir/engine.out" >&2
  exit 1
}
lab_setup "$exe" "$dll"

drover() { lab_run "$@"; }

# Waits (bounded) until `drover.exe status` prints a line matching $1.
wait_status() {
  for _ in $(seq 60); do
    drover status >"$dir/status" || true
    grep -q "$1" "$dir/status" && return 0
    sleep 0.5
  done
  cat "$dir/status" >&2
  fail "the status never said: $1"
}

"$wine_run" "$dir/drover.exe" --headless --config "$config" >"$dir/engine.out" 2>&1 &
engine=$!
pids+=("$engine")
wait_status "State: *Active"
grep -q "127.0.0.1:$port" "$dir/status" || fail "the status does not name the proxy"

second="$(drover --headless --config "$config" || true)"
[[ "$second" == *"already running"* ]] || fail "a second engine was not refused: $second"

[ "$(drover stop)" = "ok" ] || fail "stop was not answered ok"
wait_status "State: *Idle"
[ "$(drover start)" = "ok" ] || fail "start was not answered ok"
wait_status "State: *Active"

[ "$(drover quit)" = "ok" ] || fail "quit was not answered ok"
lab_wait_exit "$engine" 20 || fail "the engine did not end cleanly after quit (exit $?; 124: still running)"
grep -q "capture set up: WinDivert 2.x" "$dir/engine.out" \
  || fail "the engine's log does not show the WinDivert capture"
echo "engine ok: Active through dante on port $port, controlled over the pipe"

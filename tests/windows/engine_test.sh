#!/usr/bin/env bash
# The real drover.exe engine under wine, end to end on its control plane:
# started with --headless beside the test double of WinDivert.dll, it
# checks a real SOCKS5 proxy (dante, on this machine's loopback, which wine
# programs share) and goes Active; `drover.exe status`, `stop`, `start`
# and `quit` reach it through the control pipe; a second engine is
# refused. Before it, a program that is not Drover holds the pipe's name:
# the command line sends it nothing and says what holds it, and an engine
# refuses to start; and with C:\ProgramData\Drover a link planted by a
# user, the engine refuses to start and writes nothing through it. (The packet path itself is
# tests/windows/divert_port_test.cpp.)
# `drover run` beside it joins it over the pipe. Killed, the engine leaves
# the program it captured blocked by a filter that outlives it (against a
# double of fwpuclnt.dll in the prefix's System32, whose store is a file);
# the next engine lifts it and quitting removes it; `drover unblock` is
# refused beside a running engine and removes a killed one's blocks.
# Last, `drover run` elevated the way Windows elevates (for an unelevated
# program that asked) starts its program with the asker's unelevated token.
# usage: engine_test.sh DROVER_EXE FAKE_WINDIVERT_DLL WINE_RUN PIPE_SQUATTER_EXE
#          ELEVATED_LIKE_WINDOWS_EXE TOKEN_REPORT_EXE FAKE_FWPUCLNT_DLL
set -euo pipefail
exe=$1
dll=$2
wine_run=$3
squatter=$4
elevator=$5
reporter=$6
fwpuclnt=$7
export DROVER_CONTROL_PIPE="drover-engine-test-$$"
export WINEDEBUG=-all
# Every wine program of the test is bounded well inside ctest's timeout, so
# a hang fails with the step named (fail) instead of a silent timeout.
export DROVER_WINE_TIMEOUT=90
# A wine prefix of its own: its C:\ProgramData\Drover is planted below.
cache="${DROVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/drover}"
export DROVER_WINEPREFIX="$cache/wine-prefix-engine"
# The engine loads fwpuclnt.dll from System32 only: the double goes there
# (below, once the prefix exists), preferred to wine's own.
export WINEDLLOVERRIDES="fwpuclnt=n;mscoree=d;mshtml=d"
. "$(dirname "$0")/lab.sh"
pids=()
engine=""
trap lab_cleanup EXIT
fail() {
  echo "engine test: $*" >&2
  [ -f "$dir/engine.out" ] && sed 's/^/  engine: /' "$dir/engine.out" >&2
  [ -f "$dir/squatter.out" ] && sed 's/^/  squatter: /' "$dir/squatter.out" >&2
  exit 1
}
lab_setup "$exe" "$dll"
export DROVER_FAKE_WFP_STORE="Z:${dir//\//\\}\\wfp-store.txt"
store="$dir/wfp-store.txt"
: >"$store"

drover() { lab_run "$@"; }

# An engine that must refuse to start, bounded: one that runs instead is a
# failure named at once, not a wait for ctest's timeout. Sets refused (its
# output) and refused_code.
engine_refuses() {
  refused_code=0
  refused="$(DROVER_WINE_TIMEOUT=60 drover --headless --config "$config")" || refused_code=$?
  [ "$refused_code" -ne 124 ] || fail "$1 (it was still running after 60 s)"
  [ "$refused_code" -ne 0 ] || fail "$1"
}

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

# First a program that is not Drover holds the pipe's name: the command
# line sends it nothing and says what holds it; an engine refuses to start.
"$wine_run" "$squatter" "$DROVER_CONTROL_PIPE" >"$dir/squatter.out" 2>&1 &
squatting=$!
pids+=("$squatting")
for _ in $(seq 450); do # up to 90 s (the first program makes the prefix)
  grep -q ready "$dir/squatter.out" 2>/dev/null && break
  sleep 0.2
done
grep -q ready "$dir/squatter.out" || fail "the squatter did not start: $(cat "$dir/squatter.out")"
if refused="$(drover status)"; then fail "status talked to a squatter: $refused"; fi
[[ "$refused" == *"held by another program"*"pipe_squatter.exe"* ]] \
  || fail "status did not name the squatter: $refused"
if refused="$(drover quit)"; then fail "quit talked to a squatter: $refused"; fi
engine_refuses "an engine started beside a squatter"
[[ "$refused" == *"held by another program"*"pipe_squatter.exe"* ]] \
  || fail "the engine did not name the squatter: $refused"
for _ in $(seq 150); do # its reports of the three clients, up to 30 s
  [ "$(grep -c "^read [0-9]" "$dir/squatter.out")" -ge 3 ] && break
  sleep 0.2
done
tr -d '\r' <"$dir/squatter.out" | grep "^read [0-9]" | grep -qv "^read 0 bytes$" \
  && fail "a client sent the squatter something: $(cat "$dir/squatter.out")"
[ "$(grep -c "^read 0 bytes" "$dir/squatter.out")" -ge 3 ] \
  || fail "the squatter did not see the three clients: $(cat "$dir/squatter.out")"
kill "$squatting"
lab_wait_exit "$squatting" 20 || true

# Before the engine's first start a user planted C:\ProgramData\Drover as a
# link to a folder of theirs (wine shows a Unix symbolic link as a reparse
# point): the engine refuses to start, says how to remove it, and writes
# nothing through it. Once it is gone the engine makes its own folder.
drive_c="$DROVER_WINEPREFIX/drive_c"
rm -rf "$drive_c/ProgramData/Drover" "$drive_c/ProgramData"/Drover.untrusted-* "$drive_c/planted"
mkdir -p "$drive_c/planted" "$drive_c/ProgramData"
ln -s "$drive_c/planted" "$drive_c/ProgramData/Drover"
engine_refuses "an engine started with a planted link for its folder"
[[ "$refused" == *"C:\ProgramData\Drover is a link (a junction or symbolic link)"*"writes nothing through it"* ]] \
  || fail "the engine did not name the planted link: $refused"
[ -z "$(ls -A "$drive_c/planted")" ] || fail "the engine wrote through the planted link: $(ls -A "$drive_c/planted")"
[ -L "$drive_c/ProgramData/Drover" ] || fail "the engine removed or moved the planted link"
rm "$drive_c/ProgramData/Drover" # as the message says
cp "$fwpuclnt" "$drive_c/windows/system32/fwpuclnt.dll"

"$wine_run" "$dir/drover.exe" --headless --config "$config" >"$dir/engine.out" 2>&1 &
engine=$!
pids+=("$engine")
wait_status "State: *Active"
grep -q "127.0.0.1:$port" "$dir/status" || fail "the status does not name the proxy"
[ ! -L "$drive_c/ProgramData/Drover" ] && [ -f "$drive_c/ProgramData/Drover/logs/drover.log" ] \
  || fail "the engine did not log into a folder of its own"

second="$(drover --headless --config "$config" || true)"
[[ "$second" == *"already running"* ]] || fail "a second engine was not refused: $second"

said="$(drover stop)" || true
[ "$said" = "ok" ] || fail "stop was not answered ok: [$said]"
wait_status "State: *Idle"
said="$(drover start)" || true
[ "$said" = "ok" ] || fail "start was not answered ok: [$said]"
wait_status "State: *Active"

# `drover run` beside the running engine: put in place over the pipe (the
# engine learns who asks from the pipe itself), no administrator prompt,
# the program's exit code back; a proxy name the config lacks is said.
code=0
drover run -- cmd.exe /c "exit 7" >"$dir/join.out" || code=$?
[ "$code" -eq 7 ] || fail "drover run beside the engine ended with $code: $(cat "$dir/join.out")"
wait_status "in place as a target, for drover run"
code=0
drover run --proxy nope -- cmd.exe /c "exit 0" >"$dir/join.out" || code=$?
[ "$code" -eq 1 ] && grep -q 'no proxy is called "nope"' "$dir/join.out" \
  || fail "drover run --proxy nope was not refused with a sentence ($code): $(cat "$dir/join.out")"

# The filtering engine's store (fake_fwpuclnt.cpp): "F id layer sublayer
# action weight owner persistent not-loopback app-id". cmd.exe, captured
# for drover run, gets its block (action 4097) at all four ALE layers
# within the guard's next check; the engine's permits (4098) are in a
# dynamic session (owner "pid:session"), which Windows ends with the engine.
filters() { tr -d '\r' <"$store" | grep -c "^F [0-9]* [0-9a-f]* [0-9a-f]* $1\$" || true; }
blocks() { filters "4097 1 - 0 1 .*system32.cmd\.exe"; }
for _ in $(seq 50); do [ "$(blocks)" -eq 4 ] && break; sleep 0.2; done
[ "$(blocks)" -eq 4 ] || fail "cmd.exe was not blocked for a killed engine: $(cat "$store" 2>&1)"
[ "$(filters "4098 15 [0-9]*:[0-9]* 0 0 -")" -eq 4 ] \
  || fail "the engine's permit is not in a dynamic session: $(cat "$store")"
grep -q "a Windows Filtering Platform block keeps them offline if the engine is killed" "$dir/engine.out" \
  || fail "the engine's log does not show the block for a killed engine"
permit_owner="$(tr -d '\r' <"$store" | awk '$1 == "F" && $5 == 4098 { print $7; exit }')"
# Killed (SIGKILL to the Windows process, timeout's child): nothing of it
# runs after, the blocks stay.
windows_process="$(pgrep -P "$engine")" || fail "the engine's Windows process was not found"
kill -9 $windows_process
code=0
lab_wait_exit "$engine" 20 || code=$?
[ "$code" -ne 124 ] || fail "the killed engine still runs"
[ "$(blocks)" -eq 4 ] || fail "a killed engine's blocks did not stay: $(cat "$store")"
"$wine_run" "$dir/drover.exe" --headless --config "$config" >"$dir/engine.out" 2>&1 &
engine=$!
pids+=("$engine")
wait_status "State: *Active"
# The next engine lifted the blocks with a permit of its own (the killed
# engine's went with its process).
[ "$(filters "4098 15 [0-9]*:[0-9]* 0 0 -")" -eq 4 ] \
  && ! tr -d '\r' <"$store" | grep -q " $permit_owner 0 0 -\$" \
  || fail "the next engine did not lift the blocks with its own permit: $(cat "$store")"

quit_said="$(drover quit)" || true
[ "$quit_said" = "ok" ] || fail "quit was not answered ok: $quit_said"
lab_wait_exit "$engine" 20 || fail "the engine did not end cleanly after quit (exit $?; 124: still running)"
grep -q "capture set up: WinDivert 2.x" "$dir/engine.out" \
  || fail "the engine's log does not show the WinDivert capture"
grep -q "^F " "$store" && fail "quitting left filters: $(cat "$store")"

# `drover unblock` (the uninstaller runs it after its taskkill): refused
# beside a running engine, which keeps its blocks; after a kill, the
# killed engine's blocks go and the programs go direct.
"$wine_run" "$dir/drover.exe" --headless --config "$config" >"$dir/engine.out" 2>&1 &
engine=$!
pids+=("$engine")
wait_status "State: *Active"
drover run -- cmd.exe /c "exit 0" >"$dir/join.out" || fail "drover run failed: $(cat "$dir/join.out")"
for _ in $(seq 50); do [ "$(blocks)" -eq 4 ] && break; sleep 0.2; done
[ "$(blocks)" -eq 4 ] || fail "cmd.exe was not blocked again: $(cat "$store" 2>&1)"
code=0
said="$(drover unblock)" || code=$?
[ "$code" -eq 1 ] && [[ "$said" == *"nothing was removed"* ]] \
  || fail "unblock beside a running engine was not refused ($code): $said"
[ "$(blocks)" -eq 4 ] || fail "unblock touched a running engine's blocks: $(cat "$store")"
windows_process="$(pgrep -P "$engine")" || fail "the engine's Windows process was not found"
kill -9 $windows_process
lab_wait_exit "$engine" 20 || true
said="$(drover unblock)" || fail "unblock after a kill failed: $said"
[[ "$said" == *"Windows Filtering Platform blocks (4 filters)"* ]] \
  || fail "unblock did not say what it removed: $said"
grep -q "^F " "$store" && fail "unblock left filters: $(cat "$store")"

# `drover run` elevated for an unelevated asker (elevated_like_windows does
# what Windows' AppInfo does after a UAC prompt): the engine works for the
# asker, and the program it starts has the asker's unelevated token, not
# the engine's administrator rights.
winpath() { echo "Z:${1//\//\\}"; }
code=0
"$wine_run" "$elevator" "$(winpath "$dir/drover.exe")" run --config "$config" \
  -- "$(winpath "$reporter")" "$(winpath "$dir/report.txt")" >"$dir/run.out" 2>&1 || code=$?
[ "$code" -eq 0 ] || fail "drover run for an unelevated asker ended with $code: $(cat "$dir/run.out")
$(tail -5 "$drive_c/ProgramData/Drover/logs/drover.log" 2>/dev/null)"
tr -d '\r' <"$dir/report.txt" | grep -qx "elevated 0" \
  || fail "drover run started its program elevated: $(cat "$dir/report.txt")"
echo "engine ok: Active through dante on port $port, controlled over the pipe; a killed engine's program blocked, unblocked at quit and by drover unblock; drover run's program unelevated"

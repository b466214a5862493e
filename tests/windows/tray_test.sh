#!/usr/bin/env bash
# The Windows tray, drover.exe itself, under wine on a private X server with
# trayer as the tray host: it starts its engine (beside the test double of
# WinDivert.dll, checking a real dante on loopback), its icon turns green
# in the tray, a second launch finds the first and exits, and a screenshot
# is kept (DROVER_SCREENSHOTS=folder: docs/images/windows-tray.png).
# Run through scripts/with-xvfb.
# usage: tray_test.sh DROVER_EXE FAKE_WINDIVERT_DLL WINE_RUN
set -euo pipefail
exe=$1
dll=$2
wine_run=$3
[ -n "${DISPLAY:-}" ] || { echo "tray test: no DISPLAY (run it through with-xvfb)" >&2; exit 1; }
export DROVER_CONTROL_PIPE="drover-tray-test-$$"
export WINEDEBUG=-all
. "$(dirname "$0")/lab.sh"
pids=()
trap lab_cleanup EXIT
fail() {
  echo "tray test: $*" >&2
  for f in tray.out danted.log; do
    [ -f "$dir/$f" ] && sed "s/^/  $f: /" "$dir/$f" | tail -40 >&2
  done
  exit 1
}
lab_setup "$exe" "$dll" "[ui]
shown_tray_toast = true"

trayer --edge top --align right --widthtype request --height 32 \
  --SetDockType true --transparent false --tint 0x404040 >/dev/null 2>&1 &
pids+=($!)

# The tray area: trayer's largest visible window (bounded wait).
area=""
tray_area() {
  local id best=0 g w h x y
  area=""
  for id in $(xdotool search --onlyvisible --class trayer 2>/dev/null); do
    g="$(xdotool getwindowgeometry --shell "$id")"
    eval "$(echo "$g" | grep -E '^(X|Y|WIDTH|HEIGHT)=')"
    if [ "$((WIDTH * HEIGHT))" -gt "$best" ] && [ "$WIDTH" -gt 1 ]; then
      best=$((WIDTH * HEIGHT))
      area="${WIDTH}x${HEIGHT}+${X}+${Y}"
    fi
  done
  [ -n "$area" ]
}
for _ in $(seq 100); do tray_area && break; sleep 0.1; done
[ -n "$area" ] || fail "trayer did not start"

# How many of the tray area's pixels are the Active icon's green.
green_pixels() {
  tray_area || { echo 0; return; }
  import -window root -crop "$area" txt:- 2>/dev/null \
    | grep -oE '\(([0-9]+),([0-9]+),([0-9]+)' | tr -d '(' \
    | awk -F, '$2 > 120 && $1 < 100 && $3 < 120 {n++} END {print n+0}'
}

"$wine_run" "$dir/drover.exe" --config "$config" >"$dir/tray.out" 2>&1 &
pids+=($!)
green=0
for _ in $(seq 120); do
  green=$(green_pixels)
  [ "$green" -gt 20 ] && break
  sleep 0.5
done
[ "$green" -gt 20 ] || fail "the tray icon never turned green (area $area)"
grep -q "starting the engine" "$dir/tray.out" || fail "the tray did not start its engine"

# A second launch asks the first for its window and ends.
second="$(timeout 60 "$wine_run" "$dir/drover.exe" --config "$config" 2>&1 | tr -d '\r')" \
  || fail "the second launch failed: $second"
[[ "$second" == *"already running"* ]] || fail "the second launch did not find the first: $second"
# The second has waited until the first read its request.
grep -q "another launch asked for the window" "$dir/tray.out" \
  || fail "the first tray was not asked for its window"

if [ -n "${DROVER_SCREENSHOTS:-}" ]; then
  mkdir -p "$DROVER_SCREENSHOTS"
  sleep 1 # the raised window's first paint: a picture, not a check
  import -window root "$DROVER_SCREENSHOTS/windows-tray.png"
fi
echo "tray ok: drover.exe's icon is green in the tray ($green pixels), a second launch raised the first"

#!/usr/bin/env bash
# The Windows tray, drover.exe itself, under wine on a private X server with
# trayer as the tray host: it starts its engine (beside the test double of
# WinDivert.dll, checking a real dante on loopback), its icon turns green
# in the tray, a second launch finds the first and exits, the menu's Stop
# turns the icon grey and its Quit ends the tray and the engine it started.
# DROVER_SCREENSHOTS=folder keeps pictures of the window and the menu
# (docs/images/windows-*.png).
# Run through scripts/with-xvfb.
# Then an update, as a user makes it: the tray (stopped) offers the newer
# release a stand-in Forgejo has (tests/support/fake_forgejo.py; its
# "installer" a program that records how it was run), downloads and checks
# it through WinHTTP when "Install Drover 99.1.0…" is chosen, quits, and
# its helper runs the installer silently into drover.exe's folder and
# starts the tray again, which keeps the engine stopped; its Quit ends all.
# usage: tray_test.sh DROVER_EXE FAKE_WINDIVERT_DLL WINE_RUN ARGUMENT_RECORDER_EXE
set -euo pipefail
exe=$1
dll=$2
wine_run=$3
recorder=$4
source_dir="$(cd "$(dirname "$0")/../.." && pwd)"
[ -n "${DISPLAY:-}" ] || { echo "tray test: no DISPLAY (run it through with-xvfb)" >&2; exit 1; }
export DROVER_CONTROL_PIPE="drover-tray-test-$$"
export WINEDEBUG=-all
# A wine prefix of its own: the prefix's desktop process (which docks the
# icons in the tray host) serves the display of the session's first
# program, so no other test's display may start it.
cache="${DROVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/drover}"
export DROVER_WINEPREFIX="$cache/wine-prefix-tray"
. "$(dirname "$0")/lab.sh"
pids=()
# Whatever happens, nothing of this test stays running in its prefix (the
# engine the tray started is no child of this script).
cleanup() {
  lab_cleanup
  rm -f "${forgejo_out:-}"
  WINEPREFIX="$DROVER_WINEPREFIX" timeout 30 /usr/lib/wine/wineserver -k 2>/dev/null || true
}
trap cleanup EXIT
fail() {
  echo "tray test: $*" >&2
  for f in tray.out danted.log trayer.log; do
    [ -f "$dir/$f" ] && sed "s/^/  $f: /" "$dir/$f" | tail -40 >&2
  done
  # What the screen showed (a window over the icon or the menu, a menu).
  local id
  for id in $(xdotool search --onlyvisible --name '.*' 2>/dev/null); do
    echo "  window $id '$(xdotool getwindowname "$id" 2>/dev/null)'" \
      "$(xdotool getwindowgeometry --shell "$id" 2>/dev/null | tr '\n' ' ')" >&2
  done
  exit 1
}
# The stand-in release server, on loopback, serving the recorder as the
# newer release's installer, signed with the tests' key (which a test
# build trusts).
forgejo_out="$(mktemp)"
python3 "$source_dir/tests/support/fake_forgejo.py" \
  --key "$source_dir/tests/data/update-test-key.pem" --running 0.1.0 \
  --newer 99.1.0 --installer "$recorder" >"$forgejo_out" 2>&1 &
pids+=($!)
for _ in $(seq 200); do grep -q '^listening ' "$forgejo_out" && break; sleep 0.1; done
forgejo_port="$(sed -n 's/^listening //p' "$forgejo_out")"
[ -n "$forgejo_port" ] || { cat "$forgejo_out" >&2; echo "tray test: the stand-in Forgejo did not start" >&2; exit 1; }
lab_setup "$exe" "$dll" "[ui]
shown_tray_toast = true
[update]
check_on_startup = true
forgejo_repo = \"http://127.0.0.1:$forgejo_port/drover/newer\""
# drover.exe as the installer leaves it (its uninstaller beside it): only
# such a copy installs updates itself; a portable one is told where the
# new version is (updater_test: installed_copy).
: >"$dir/Uninstall.exe"
# Where the stand-in installer writes how it was run (the helper's
# environment is the tray's).
export DROVER_RECORD="Z:$dir/installer-runs.txt"

# trayer has no readiness signal: its window is looked for below. What it
# says goes to trayer.log, shown if it never comes up.
start_trayer() {
  trayer --edge top --align right --widthtype request --height 32 \
    --SetDockType true --transparent false --tint 0x404040 \
    >>"$dir/trayer.log" 2>&1 &
  trayer_pid=$!
  pids+=("$trayer_pid")
}
start_trayer

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
# Bounded: 20 s, and trayer started again if it ended first (once seen in
# CI: no window within 10 s, and nothing kept of what trayer said).
starts=1
for _ in $(seq 200); do
  tray_area && break
  if ! kill -0 "$trayer_pid" 2>/dev/null && [ "$starts" -lt 3 ]; then
    echo "trayer ended before its window showed; starting it again" \
      >>"$dir/trayer.log"
    starts=$((starts + 1))
    start_trayer
  fi
  sleep 0.1
done
[ -n "$area" ] || fail "trayer did not start (started $starts times)"

# The tray icon's colour, as the Linux GUI tests read it: the state icons'
# fills counted over the tray area ("none" when no icon shows).
icon_colour() {
  tray_area || { echo none; return; }
  import -window root -crop "$area" txt:- 2>/dev/null \
    | grep -oE '\(([0-9]+),([0-9]+),([0-9]+)' | tr -d '(' \
    | awk -F, '
        $2 > 120 && $1 < 100 && $3 < 120 { n["green"]++; next }
        $1 > 200 && $2 > 150 && $3 < 80 { n["yellow"]++; next }
        $1 > 180 && $2 < 90 && $3 < 90 { n["red"]++; next }
        $1 > 130 && $1 < 190 && ($1 - $2) ^ 2 < 64 && ($2 - $3) ^ 2 < 64 { n["grey"]++ }
        END { best = "none"; most = 20
              for (c in n) if (n[c] > most) { best = c; most = n[c] }
              print best }'
}
# Waits (bounded, $2 tenths of a second) until the icon shows colour $1.
wait_icon() {
  local i
  for i in $(seq "$2"); do
    [ "$(icon_colour)" = "$1" ] && return 0
    sleep 0.1
  done
  return 1
}
# Waits (bounded) until the tray has printed a line matching $1.
wait_tray_says() {
  local i
  for i in $(seq 100); do
    grep -q "$1" "$dir/tray.out" && return 0
    sleep 0.1
  done
  return 1
}
# Clicks mouse button $1 on the icon.
click_icon() {
  tray_area || return 1
  local w=${area%%x*} rest=${area#*x}
  local h=${rest%%+*} xy=${rest#*+}
  xdotool mousemove $(( ${xy%%+*} + w / 2 )) $(( ${xy#*+} + h / 2 )) click "$1"
}
drover_windows() { xdotool search --onlyvisible --name '^Drover$' 2>/dev/null; }
# Opens the tray menu with a right click on the icon and waits until it
# shows (a click while the tray host re-embeds a changed icon can be lost:
# up to three). Each waits up to 5 s: a menu slower than the 2 s waited
# before would be closed by the next right click (CI once saw no menu in
# three tries, with the emulated lab running beside this test). The
# menu's window and geometry: $menu, $menu_height.
menu=""
menu_height=0
menu_shot=""
open_menu() {
  local before attempt i id
  before="$(drover_windows)"
  for attempt in 1 2 3; do
    click_icon 3 || return 1
    for i in $(seq 50); do
      for id in $(drover_windows); do
        grep -qx "$id" <<<"$before" && continue
        menu=$id
        # Its size once it stopped changing (a menu just mapped may still
        # be laid out; a click at a share of a passing height misses).
        local seen="" now
        for _ in $(seq 20); do
          now="$(xdotool getwindowgeometry --shell "$id" | grep -E '^(X|Y|HEIGHT)=' | tr '\n' ' ')"
          [ "$now" = "$seen" ] && break
          seen="$now"
          sleep 0.1
        done
        eval "$seen"
        menu_height=$HEIGHT
        # The menu and the icon above it, to the screen's right edge
        # (with-xvfb's screen is 1024 wide).
        menu_shot="$((1024 - X + 12))x$((Y + HEIGHT + 12))+$((X - 12))+0"
        return 0
      done
      sleep 0.1
    done
  done
  return 1
}
# Clicks the menu's item at $1 percent of its height. Keys do not reach
# wine's windows without a window manager, clicks do. The items: the status
# row, Stop (about 20 %), Run check, Show window, Open log file, Trace log,
# About, Quit (the last, about 93 %), with separators between groups.
click_menu_at() {
  xdotool mousemove --window "$menu" 60 $(( menu_height * $1 / 100 )) click 1
}
# Chooses the menu's item at $1 percent of its height until the tray logs
# one more line matching $2 than before (10 s a try). At most three tries:
# a menu can change between its measure and the click (the update check
# adds an item), or be slow to show; a menu still open after a miss is
# closed by a click beside it. Only a choice the tray did not log is tried
# again: some items change once taken (Stop becomes Start). $3 names the
# item for the log; $4, if set, is where the first menu's picture goes.
choose_in_menu() {
  local attempt before i
  before="$(grep -c "$2" "$dir/tray.out" || true)"
  for attempt in 1 2 3; do
    if open_menu; then
      if [ "$attempt" = 1 ] && [ -n "${4:-}" ]; then
        import -window root -crop "$menu_shot" +repage "$4"
      fi
      click_menu_at "$1"
      for i in $(seq 100); do
        [ "$(grep -c "$2" "$dir/tray.out" || true)" -gt "$before" ] && return 0
        sleep 0.1
      done
    fi
    echo "tray test: the menu's $3 did not reach the tray (try $attempt)" >&2
    xdotool mousemove 5 5 click 1
    for i in $(seq 20); do drover_windows | grep -qx "$menu" || break; sleep 0.1; done
  done
  return 1
}
# The tray's main window: the largest visible window titled Drover (its
# geometry in $window_area).
window=""
window_area=""
main_window() {
  local id best=0
  window=""
  for id in $(xdotool search --onlyvisible --name '^Drover$' 2>/dev/null); do
    eval "$(xdotool getwindowgeometry --shell "$id" | grep -E '^(X|Y|WIDTH|HEIGHT)=')"
    if [ "$((WIDTH * HEIGHT))" -gt "$best" ] && [ "$WIDTH" -gt 300 ]; then
      best=$((WIDTH * HEIGHT))
      window=$id
      window_area="${WIDTH}x${HEIGHT}+${X}+${Y}"
    fi
  done
  [ -n "$window" ]
}
shots="${DROVER_SCREENSHOTS:-}"

"$wine_run" "$dir/drover.exe" --config "$config" >"$dir/tray.out" 2>&1 &
tray=$!
pids+=("$tray")
# A first run in a new wine prefix creates it first: up to a minute.
wait_icon green 900 || fail "the tray icon never turned green (it shows $(icon_colour))"
grep -q "starting the engine" "$dir/tray.out" || fail "the tray did not start its engine"

# A second launch asks the first for its window and ends.
second="$(DROVER_WINE_TIMEOUT=60 lab_run --config "$config")" \
  || fail "the second launch failed: $second"
[[ "$second" == *"already running"* ]] || fail "the second launch did not find the first: $second"
# The second has waited until the first read its request.
grep -q "another launch asked for the window" "$dir/tray.out" \
  || fail "the first tray was not asked for its window"
for _ in $(seq 50); do main_window && break; sleep 0.1; done
[ -n "$window" ] || fail "the raised window does not show"
if [ -n "$shots" ]; then
  mkdir -p "$shots"
  sleep 1 # the raised window's first paint: a picture, not a check
  import -window root -crop "$window_area" +repage "$shots/windows-window.png"
  # The Apps tab (the second; clicks reach wine's windows, keys do not),
  # then back to Status.
  xdotool mousemove --window "$window" 92 22 click 1
  sleep 1
  import -window root -crop "$window_area" +repage "$shots/windows-apps.png"
  xdotool mousemove --window "$window" 37 22 click 1
fi
# A click on the icon hides the shown window (a single click toggles it).
click_icon 1 || fail "the tray area is gone"
for _ in $(seq 50); do main_window || break; sleep 0.1; done
main_window && fail "a click on the icon did not hide the window"

# The menu's Stop: the icon turns grey, the engine is Idle. The update
# check at start adds an item to the menu when it finds the newer release;
# it is waited for first (the update below needs it anyway), so the menu
# does not change under the click (a Stop click once missed, the offer
# likely arriving meanwhile).
wait_tray_says "update: Drover 99.1.0 is available" \
  || fail "the tray did not offer the stand-in's newer release"
choose_in_menu 20 "asking the engine to stop" Stop \
  "${shots:+$shots/windows-tray-menu.png}" \
  || fail "the menu's Stop did not reach the tray in three tries"
wait_icon grey 100 || fail "the icon did not turn grey after Stop (it shows $(icon_colour))"
status="$(lab_run status || true)"
grep -q "State: *Idle" <<<"$status" || fail "the engine is not Idle after the menu's Stop: $status"

# The update: the check at start found 99.1.0 (above); the menu's item for
# it (the one above About) downloads, checks and hands over; the tray quits.
choose_in_menu 75 "update: Installing Drover 99.1.0" "update item" \
  || fail "the update was not downloaded and checked: $(grep 'update:' "$dir/tray.out")"
lab_wait_exit "$tray" 30 || fail "the tray did not quit for the update (exit $?)"
# The helper ran the "installer" silently into drover.exe's folder...
for _ in $(seq 300); do grep -q ' /S /D=' "$dir/installer-runs.txt" 2>/dev/null && break; sleep 0.1; done
grep -q "Drover-99.1.0-win64-setup.exe\"\? /S /D=Z:${dir//\//\\\\}\$" "$dir/installer-runs.txt" \
  || fail "the installer was not run silently into drover.exe's folder: $(cat "$dir/installer-runs.txt" 2>/dev/null)"
# ...and started the tray again, saying so; it keeps the engine stopped.
for _ in $(seq 300); do
  pgrep -af -- 'drover.exe --after-update installed 99.1.0 --start-stopped' >/dev/null && break
  sleep 0.1
done
pgrep -af -- 'drover.exe --after-update installed 99.1.0 --start-stopped' >/dev/null \
  || fail "Drover was not started again after the update: $(pgrep -af drover)"
status=""
for _ in $(seq 60); do
  status="$(lab_run status 2>/dev/null || true)"
  grep -q "State: *Idle" <<<"$status" && break
  sleep 0.5
done
grep -q "State: *Idle" <<<"$status" || fail "the engine after the update is not stopped as it was: $status"
# Started stopped, not Active for a moment and then stopped: the new
# engine's timeline has no Starting or Active.
if grep -Eq '^  [0-9:]{8}  (starting|active):' <<<"$status"; then
  fail "the engine after the update was started before it was stopped: $status"
fi
pgrep -af -- 'drover.exe --headless .*--start-stopped' >/dev/null \
  || fail "the tray did not start its engine stopped: $(pgrep -af drover)"
wait_icon grey 300 || fail "the tray after the update shows $(icon_colour), not grey"

# Quit, the menu's last item, ends the tray and the engine it started
# (the relaunched tray's own update check may change its menu while it is
# open: choose_in_menu tries again).
choose_in_menu 95 "tray: quitting" Quit \
  || fail "the menu's Quit did not reach the tray in three tries"
# wine's processes show Windows paths ("Z:\...\drover.exe"); this
# script's own command line names drover.exe too.
drover_processes() { pgrep -af '^[A-Za-z]:\\.*drover\.exe'; }
for _ in $(seq 100); do drover_processes >/dev/null || break; sleep 0.2; done
drover_processes && fail "the tray did not end cleanly after Quit"
if lab_run status >/dev/null; then
  fail "the engine the tray started still runs after Quit"
fi
echo "tray ok: drover.exe's icon turned green in the tray and grey after the menu's Stop, a second launch raised the first, an update was offered, checked, installed and Drover started again stopped, Quit ended the tray and its engine"

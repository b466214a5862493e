#!/usr/bin/env bash
# drover.exe's data path under wine on the emulated WinDivert driver
# (tests/windows/emulated_lab.sh), against baselines in the same run and
# lab: the same program uploading and pinging through dante itself
# (explicit SOCKS5), and directly. The other program's packets go through
# the emulator and drover.exe's handle too (WinDivert diverts every
# outbound packet; Drover lets another program's pass), so each mode pays
# the emulator: only the ratios mean something, and only for this lab, not
# for a real Windows machine (docs/benchmarks.md).
# Rounds take turns between the modes; each ratio is the median of the
# rounds' ratios.
# usage: windows_emulated.sh BUILD_WINDOWS_DIR [ROUNDS] [MIB] [PINGS]
set -euo pipefail
build=$(cd "$1" && pwd)
rounds=${2:-5}
mib=${3:-64}
pings=${4:-2000}
root=$(cd "$(dirname "$0")/.." && pwd)
exe=$build/app/drover.exe
dll=$build/tests/WinDivert.dll
wine_run=$root/scripts/wine-run
emulator=$build/tests/windivert-emulator
client=$build/tests/traffic_client.exe
servers=$root/tests/support/echo_servers.py
for f in "$exe" "$dll" "$emulator" "$client"; do
  [ -e "$f" ] || { echo "bench: $f is missing: make build-windows first" >&2; exit 1; }
done
lab_name="windows emulated bench"
. "$root/tests/windows/emulated_lab.sh"
start_lab

socks="--socks $proxy_ip:1080"
declare -A upload rtt50 rtt99
run_round() {
  local mode=$1 said
  case $mode in
    drover) said="$(target bulk "$server_ip" "$server_port" "$mib")" ;;
    explicit) said="$(other $socks bulk "$server_ip" "$other_port" "$mib")" ;;
    direct) said="$(other bulk "$server_ip" "$other_port" "$mib")" ;;
  esac
  [[ "$said" =~ :\ ([0-9.]+)\ MiB/s ]] || fail "$mode bulk: $said"
  upload[$mode]+="${BASH_REMATCH[1]} "
  case $mode in
    drover) said="$(target rtt "$server_ip" "$server_port" "$pings")" ;;
    explicit) said="$(other $socks rtt "$server_ip" "$other_port" "$pings")" ;;
    direct) said="$(other rtt "$server_ip" "$other_port" "$pings")" ;;
  esac
  [[ "$said" =~ p50=([0-9.]+)\ p99=([0-9.]+) ]] || fail "$mode rtt: $said"
  rtt50[$mode]+="${BASH_REMATCH[1]} "
  rtt99[$mode]+="${BASH_REMATCH[2]} "
}
for r in $(seq "$rounds"); do
  for mode in direct explicit drover; do run_round "$mode"; done
  echo "round $r of $rounds done" >&2
done

# The median of the rounds' ratios a/b, with their range.
ratio() {
  python3 - "$1" "$2" <<'PY'
import statistics, sys
a = [float(x) for x in sys.argv[1].split()]
b = [float(x) for x in sys.argv[2].split()]
r = [x / y for x, y in zip(a, b)]
print(f"{statistics.median(r):.2f} ({min(r):.2f}-{max(r):.2f})")
PY
}
median() {
  python3 -c 'import statistics, sys; print(f"{statistics.median(float(x) for x in sys.argv[1:]):.1f}")' $1
}
echo "windows emulated bench ($rounds rounds, $mib MiB uploads, $pings UDP round trips of 100 bytes)"
for mode in direct explicit drover; do
  echo "  $mode: upload $(median "${upload[$mode]}") MiB/s, UDP RTT p50 $(median "${rtt50[$mode]}") us, p99 $(median "${rtt99[$mode]}") us"
done
echo "  upload, drover / explicit: $(ratio "${upload[drover]}" "${upload[explicit]}")"
echo "  upload, explicit / direct: $(ratio "${upload[explicit]}" "${upload[direct]}")"
echo "  UDP RTT p50, drover / explicit: $(ratio "${rtt50[drover]}" "${rtt50[explicit]}")"
echo "  UDP RTT p99, drover / explicit: $(ratio "${rtt99[drover]}" "${rtt99[explicit]}")"
drover quit >/dev/null 2>&1 || true

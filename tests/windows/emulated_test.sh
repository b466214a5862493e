#!/usr/bin/env bash
# drover.exe on real packets, under wine, on the emulated WinDivert driver:
# the emulator daemon (tests/support/windivert_emulator.cpp) queues every
# outbound packet of the application namespace and hands it to the
# WinDivert.dll double in emulator mode, which diverts it to drover.exe's
# handles by priority and filter as the driver does and gives what they
# send back to be injected. A real dante and the servers live in a second
# namespace on addresses of their own; the servers say whom they saw, and
# a counter there counts every packet that reaches the targets' port from
# the application's own address (direct), a stray segment as much as a
# SYN (the other program talks to a port of its own).
#   - a program named like a target: its TCP and its UDP (a bound socket
#     with sendto, a connected one) reach the servers from dante's address,
#     and it sees its server's address
#   - a program named otherwise goes direct
#   - a target's IPv6 connection and datagram are refused at once (so an
#     application falls back to IPv4 without waiting) and nothing of them
#     reaches the server, which listens and echoes there; another
#     program's IPv6 connects and is echoed direct
#   - every target started after the engine (a process Drover had not seen)
#   - 300 datagrams at once from a target: answered through dante, none
#     direct
#   - a target's LAN discovery (a datagram to its subnet's broadcast
#     address) is answered by the LAN, which saw the app itself, also on a
#     network joined while Drover runs (an address added to both ends)
#   - the capture restarted mid-flow (the packet handle fails, the
#     supervisor reopens it): what the target's open connection carried
#     went through dante, nothing of it directly, and a new connection
#     after it is proxied
#   - dante stopped: the target's new connections are refused, none goes
#     direct, and the first failure takes Drover out of Active; dante
#     back: proxied again
# usage: emulated_test.sh DROVER_EXE WINDIVERT_DLL WINE_RUN EMULATOR
#          TRAFFIC_CLIENT_EXE ECHO_SERVERS_PY
set -euo pipefail
lab_retry=(bash "$0" "$@")
exe=$1
dll=$2
wine_run=$3
emulator=$4
client=$5
servers=$6
lab_name="emulated test"
. "$(dirname "$0")/emulated_lab.sh"
start_lab
# A target's TCP: dante's address at the server, the server's at the app.
[ "$(direct_packets tcp)" = 0 ] || fail "packets reached the servers directly before any test"
said="$(target tcp "$server_ip" "$server_port" hello)" || fail "target tcp: $said"
[[ "$said" == *"peer=$server_ip:$server_port reply=$proxy_ip hello"* ]] \
  || fail "the target's TCP did not go through dante: $said"
[ "$(direct_packets tcp)" = 0 ] || fail "a target's TCP reached the server directly"
# Another program: direct (its packets are counted).
said="$(other tcp "$server_ip" "$other_port" hello)" || fail "other tcp: $said"
[[ "$said" == *"reply=$app_ip hello"* ]] || fail "the other program was not direct: $said"
[ "$(direct_packets tcp "$other_port")" -gt 0 ] || fail "the direct counter counted nothing"

# IPv6: the other program's connects direct (the listener is there, and
# counted); a target's is refused by Drover's reset (a leaked SYN would
# connect), none of its packets reach the server, and it is counted.
said="$(other tcp6 "$server_ip6" "$other_port" 5)" || fail "the other program's IPv6: $said"
[ "$(direct_packets6 "$other_port")" -gt 0 ] || fail "the IPv6 direct counter counted nothing"
said="$(target tcp6 "$server_ip6" "$server_port" 5)" && fail "a target's IPv6 connected: $said"
[[ "$said" == *"result=refused"* ]] || fail "a target's IPv6 was not refused: $said"
[ "$(direct_packets6)" = 0 ] || fail "a target's IPv6 reached the server"
counted=""
for _ in $(seq 20); do # the flow-manager pushes its counters each second
  drover status --json >"$dir/status.json" 2>&1 || true
  grep -Eq '"ipv6_dropped": *[1-9]' "$dir/status.json" && { counted=yes; break; }
  sleep 0.5
done
[ -n "$counted" ] || fail "the refused IPv6 was not counted: $(cat "$dir/status.json")"
# How the port sorted the machine's packets: the other program's were let
# out (counted), and `drover status` says so.
grep -Eq '"packets_passed": *[1-9]' "$dir/status.json" \
  || fail "the other programs' packets let out were not counted: $(cat "$dir/status.json")"
drover status >"$dir/status" 2>&1 || true
grep -Eq '^Sorted: +[1-9][0-9]* packets of other programs let out' "$dir/status" \
  || fail "drover status did not say how packets were sorted: $(cat "$dir/status")"
echo "ipv6: $said"
# IPv6 UDP: the other program's is echoed direct; a target's is answered by
# Drover's port unreachable (its socket's error, at once), none reaches
# the server.
said="$(other udp6 "$server_ip6" "$other_port" 5)" || fail "the other program's IPv6 UDP: $said"
[ "$(direct_packets6 "$other_port" udp)" -gt 0 ] || fail "the IPv6 UDP counter counted nothing"
said="$(target udp6 "$server_ip6" "$server_port" 5)" && fail "a target's IPv6 UDP was answered: $said"
[[ "$said" == *"result=refused"* ]] || fail "a target's IPv6 UDP was not refused: $said"
[ "$(direct_packets6 "$server_port" udp)" = 0 ] || fail "a target's IPv6 UDP reached the server"
echo "ipv6 udp: $said"

# A target's UDP, bound (sendto) and connected.
[ "$(direct_packets udp)" = 0 ] || fail "UDP reached the servers directly before any test"
for mode in bound connected; do
  said="$(target udp "$server_ip" "$server_port" 5 "$mode")" || fail "target udp $mode: $said"
  [[ "$said" == *"replies=5 of 5 from=$server_ip:$server_port, seen=$proxy_ip,"* ]] \
    || fail "the target's UDP ($mode) did not go through dante: $said"
done
[ "$(direct_packets udp)" = 0 ] || fail "a target's UDP reached the server directly"
said="$(other udp "$server_ip" "$other_port" 3 bound)" || fail "other udp: $said"
[[ "$said" == *"seen=$app_ip,"* ]] || fail "the other program's UDP was not direct: $said"
counted=$(direct_packets udp "$other_port")
[ "$counted" = 4 ] || fail "the other program's 4 datagrams were counted $counted"

# 300 datagrams at once.
via_dante() { grep -c "^$1 $proxy_ip\$" "$dir/servers.log" 2>/dev/null || true; }
before=$(via_dante udp)
said="$(target udp "$server_ip" "$server_port" 300 connected)" || true
[[ "$said" =~ replies=([0-9]+)\ of\ 300\ from=$server_ip:$server_port,\ seen=$proxy_ip,$ ]] \
  || fail "the burst did not go through dante alone: $said"
replies=${BASH_REMATCH[1]}
arrived=$(( $(via_dante udp) - before ))
echo "burst: $arrived of 300 reached the server through dante, $replies answers came back"
[ "$replies" -ge 285 ] || fail "the burst lost more than 5 %: $said"
[ "$(direct_packets udp)" = 0 ] || fail "datagrams of the burst went direct"

# A target's LAN discovery stays on the LAN: something there that answers
# broadcasts (bound to every address) sees the app itself, not dante.
lan_port=5355
"${in_srv[@]}" python3 "$servers" 0.0.0.0 "$lan_port" "$dir/lan.log" >"$dir/lan.out" 2>&1 &
pids+=($!)
wait_for_line "$dir/lan.out" ready 10 || fail "the LAN's answerer did not start"
said="$(target broadcast 10.211.0.255 "$lan_port" 10)" || fail "a target's broadcast was not answered: $said"
[[ "$said" == *" seen=$app_ip"* ]] || fail "a target's broadcast did not reach the LAN from the app: $said"
echo "lan: $said"
# A network joined while Drover runs (its filter was made before): the
# engine reads the interfaces again, and its sorter lets the broadcast out.
in_app ip addr add 10.212.0.1/24 dev "$veth"
in_srv ip addr add 10.212.0.2/24 dev "${veth}s"
said="$(target broadcast 10.212.0.255 "$lan_port" 30)" || fail "a broadcast to a network joined later was not answered: $said$(grep -o "[0-9]* of targets' LAN broadcasts passed" "$dir/engine.out" || true)"
[[ "$said" == *" seen=10.212.0.1"* ]] || fail "a broadcast to a network joined later did not reach the LAN from the app: $said"
echo "lan joined later: $said"

# The capture restarted mid-flow: once the held connection's third echo
# reached the server through dante.
wait_count() { # KIND AT_LEAST SECONDS: KIND lines from dante in the log
  for _ in $(seq $(( $3 * 5 ))); do
    [ "$(via_dante "$1")" -ge "$2" ] && return 0
    sleep 0.2
  done
  return 1
}
echoes=$(via_dante echo)
target hold "$server_ip" "$server_port" 6 >"$dir/hold.out" &
holding=$!
wait_count echo $(( echoes + 3 )) 30 || fail "the held connection did not talk"
said="$(drover fault driver-lost)" || fail "fault: $said"
wait $holding || true
held="$(cat "$dir/hold.out")"
# The capture's session restarts with its flow table: the connection may
# end (its relay goes), but what it carried went through dante alone.
[[ "$held" =~ answered=([0-9]+).*seen=$proxy_ip,$ ]] && [ "${BASH_REMATCH[1]}" -ge 3 ] \
  || fail "the held connection did not talk through dante before the restart: $held"
wait_active
said="$(target tcp "$server_ip" "$server_port" after-restart)" || fail "after restart: $said"
[[ "$said" == *"reply=$proxy_ip after-restart"* ]] || fail "not proxied after the restart: $said"
[ "$(direct_packets tcp)" = 0 ] || fail "a target's TCP went direct around the restart"
echo "restart: $held"
# The first capture said at its end what it decided.
for _ in $(seq 20); do
  grep -q "the capture at priority 20000 took [0-9]* packets" "$dir/engine.out" && break
  sleep 0.5
done
grep -q "the capture at priority 20000 took [0-9]* packets" "$dir/engine.out" \
  || fail "the first capture did not log what it decided"

# dante down: refused, never direct; the failure starts a check, which
# takes Drover out of Active; dante back: proxied.
kill "$dante"; wait "$dante" 2>/dev/null || true
pkill -f "danted -f $dir/danted.conf" 2>/dev/null || true
said="$(target tcp "$server_ip" "$server_port" while-down)" && fail "a connection went somewhere while dante was down: $said"
left_active=""
for _ in $(seq 60); do
  wine_crashed && fail "Drover did not notice that dante stopped"
  drover status >"$dir/status" 2>&1 || true
  grep -q "State: *Active" "$dir/status" || { left_active=yes; break; }
  sleep 0.5
done
[ -n "$left_active" ] || fail "Drover did not notice that dante stopped"
said="$(target tcp "$server_ip" "$server_port" still-down)" && fail "a connection went somewhere while Drover knew dante was down: $said"
[ "$(direct_packets tcp)" = 0 ] || fail "a target's TCP went direct while dante was down"
start_dante
drover retry >/dev/null 2>&1 || true
wait_active
said="$(target tcp "$server_ip" "$server_port" back)" || fail "after dante came back: $said"
[[ "$said" == *"reply=$proxy_ip back"* ]] || fail "not proxied once dante was back: $said"
[ "$(direct_packets tcp)" = 0 ] || fail "a target's TCP went direct after dante came back"
[ "$(direct_packets udp)" = 0 ] || fail "a target's UDP went direct"

drover quit >/dev/null 2>&1 || true
echo "emulated ok"

# The emulated-WinDivert lab, sourced by tests/windows/emulated_test.sh
# and bench/windows_emulated.sh: two network namespaces joined by a veth
# pair, the application's (drover.exe and its programs under wine, on a
# wine prefix of its own whose server starts inside the namespace; the
# emulator daemon queueing every outbound packet there) and the servers'
# (a real dante on 10.211.0.2, tests/support/echo_servers.py on
# 10.211.0.3); drover.exe started headless with a config naming
# DroverTestDiscord.exe as its target, and Active.
# The caller sets exe, dll, wine_run, emulator, client, servers (the
# paths) and lab_name; gets in_app/in_srv, wine_app, drover, target,
# other, wait_active, fail, and the addresses; everything is taken down
# when the caller exits. A failure shows the logs' tails and every packet
# that reached the targets' port direct (tcpdump, with its time);
# DROVER_LAB_KEEP=DIR keeps the lab's files in DIR.

export WINEDEBUG=-all
export DROVER_WINE_TIMEOUT=120
export DROVER_CONTROL_PIPE="drover-emulated-$$"
cache="${DROVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/drover}"
# A prefix of its own: its wineserver, which creates every socket of its
# programs, must start inside the application namespace.
export DROVER_WINEPREFIX="$cache/wine-prefix-emulated"
app_ns="drover-wdemu-app-$$"
srv_ns="drover-wdemu-srv-$$"
veth="wdemu$$"
tun="wdin$$"
bridge_port=7410
mark=0x5744
app_ip=10.211.0.1
proxy_ip=10.211.0.2
server_ip=10.211.0.3
app_ip6=fd79::1 # the targets' IPv6 (refused) and the other program's
server_ip6=fd79::3
server_port=7000 # the targets'
other_port=7001  # the other program's
dir="$(mktemp -d)"
pids=()

wineserver_kill() {
  WINEPREFIX="$DROVER_WINEPREFIX" timeout 30 /usr/lib/wine/wineserver -k 2>/dev/null || true
}
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wineserver_kill
  wait 2>/dev/null || true
  ip netns del "$app_ns" 2>/dev/null || true
  ip netns del "$srv_ns" 2>/dev/null || true
  ip link del "$veth" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
wine_crashed() { grep -q "wineserver crashed" "$dir/engine.out" 2>/dev/null; }
fail() {
  echo "${lab_name:-emulated lab}: $*" >&2
  # Wine 8's server was seen to crash on this 2-core machine under load,
  # with or without the emulator's calls into it (here twice in a row, in
  # one of some 70 runs): said as what it is, and the caller may set the
  # lab up again, twice at most (lab_retry).
  # So is a program of the lab that exited at once having printed nothing
  # (wine lost its output; every path of the programs prints): not one
  # that ran out its time (exit code 124), which may be Drover's doing.
  local lost_output=""
  [[ "$*" =~ \(no\ output\ at\ all\ from\ [^\;]*\;\ exit\ code\ ([0-9]+)\) ]] \
    && [ "${BASH_REMATCH[1]}" != 124 ] && lost_output=yes
  if wine_crashed || [ -n "$lost_output" ]; then
    if [ -n "$lost_output" ]; then
      echo "  (wine lost a program's output: a wine flake, not Drover's)" >&2
    else
      echo "  (wine's own server crashed: a wine bug, not Drover's)" >&2
    fi
    local tried=${DROVER_LAB_RETRIED:-0}
    if [ -n "${lab_retry:-}" ] && [ "$tried" -lt 2 ]; then
      echo "  setting the lab up again" >&2
      trap - EXIT
      cleanup
      DROVER_LAB_RETRIED=$((tried + 1)) exec "${lab_retry[@]}"
    fi
  fi
  # The engine's capture says at its end what it decided (passed, held,
  # dropped), and the emulator's counters (taken, passed, injected) where
  # packets went.
  if [ -z "${quitting:-}" ] && [ -f "$dir/engine.out" ] && ! wine_crashed; then
    quitting=yes
    local said
    said=$(grep -c "the capture at priority" "$dir/engine.out" || true)
    drover quit >/dev/null 2>&1 || true # bounded: the CLI's own patience
    for _ in $(seq 20); do
      [ "$(grep -c "the capture at priority" "$dir/engine.out" || true)" -gt "$said" ] && break
      sleep 0.5
    done
  fi
  [ -n "${emulating:-}" ] && { kill "$emulating" 2>/dev/null; sleep 0.5; }
  for f in engine.out emulator.err servers.log danted.log direct.txt; do
    [ -f "$dir/$f" ] && tail -n 40 "$dir/$f" | sed "s/^/  $f: /" >&2
  done
  [ -n "${DROVER_LAB_KEEP:-}" ] && cp -r "$dir" "$DROVER_LAB_KEEP"
  exit 1
}
# Arrays, not functions: a background function would be a subshell, and
# its PID not the program's.
in_app=(ip netns exec "$app_ns")
in_srv=(ip netns exec "$srv_ns")
in_app() { "${in_app[@]}" "$@"; }
in_srv() { "${in_srv[@]}" "$@"; }

# -- the two namespaces ---------------------------------------------------------
ip netns add "$app_ns"
ip netns add "$srv_ns"
ip link add "$veth" type veth peer name "${veth}s"
ip link set "$veth" netns "$app_ns"
ip link set "${veth}s" netns "$srv_ns"
in_app ip link set lo up
in_app ip addr add "$app_ip/24" dev "$veth"
# nodad: usable at once, not after duplicate address detection.
in_app ip addr add "$app_ip6/64" dev "$veth" nodad
in_app ip link set "$veth" up
in_srv ip link set lo up
in_srv ip addr add "$proxy_ip/24" dev "${veth}s"
in_srv ip addr add "$server_ip/24" dev "${veth}s"
in_srv ip addr add "$server_ip6/64" dev "${veth}s" nodad
in_srv ip link set "${veth}s" up
# Counters of what reaches the servers from the application's own address
# (direct): every packet, a stray segment of a flow as much as a SYN.
for port in "$server_port" "$other_port"; do
  for proto in tcp udp; do
    in_srv iptables -A INPUT -s "$app_ip" -d "$server_ip" -p "$proto" --dport "$port" -j ACCEPT
  done
done
for port in "$server_port" "$other_port"; do
  for proto in tcp udp; do
    in_srv ip6tables -A INPUT -s "$app_ip6" -d "$server_ip6" -p "$proto" --dport "$port" -j ACCEPT
  done
done
# What reached the targets' port direct, each packet with its time, shown
# when the test fails (the counters say how many, not which).
if command -v tcpdump >/dev/null; then
  in_srv tcpdump -i "${veth}s" -nn -l -tttt \
    "src host $app_ip and dst host $server_ip and dst port $server_port" \
    >"$dir/direct.txt" 2>"$dir/direct.err" &
  pids+=($!)
fi
# Packets of protocol $2 (tcp when not given) that reached the servers'
# IPv6 port $1 (the targets' when not given) from the application's IPv6
# address.
direct_packets6() {
  in_srv ip6tables -L INPUT -v -x -n \
    | awk -v port="dpt:${1:-$server_port}" -v proto="${2:-tcp}" \
        '$3 == "ACCEPT" && $(NF-1) == proto && $NF == port { print $1 }'
}
# Packets of protocol $1 that reached the servers' port $2 (the targets'
# when not given) from the application's own address.
direct_packets() {
  local number=6
  [ "$1" = udp ] && number=17
  in_srv iptables -L INPUT -v -x -n \
    | awk -v p="$1" -v n="$number" -v port="dpt:${2:-$server_port}" \
        '$3 == "ACCEPT" && ($4 == p || $4 == n) && $NF == port { print $1 }'
}

# Every outbound packet of the application namespace is the driver's, but
# the emulator's own: what it injects (its mark) and its link to the DLL.
in_app iptables -t mangle -A OUTPUT -m mark --mark "$mark" -j ACCEPT
in_app iptables -t mangle -A OUTPUT -o lo -p tcp --dport "$bridge_port" -j ACCEPT
in_app iptables -t mangle -A OUTPUT -o lo -p tcp --sport "$bridge_port" -j ACCEPT
in_app iptables -t mangle -A OUTPUT -j NFQUEUE --queue-num 0
in_app ip6tables -t mangle -A OUTPUT -m mark --mark "$mark" -j ACCEPT
in_app ip6tables -t mangle -A OUTPUT -j NFQUEUE --queue-num 0

# -- servers, dante, the emulator -----------------------------------------------
wait_for_line() { # FILE TEXT SECONDS
  for _ in $(seq $(( $3 * 5 ))); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}
"${in_srv[@]}" python3 "$servers" "$server_ip" "$server_port" "$dir/servers.log" >"$dir/servers.out" 2>&1 &
pids+=($!)
"${in_srv[@]}" python3 "$servers" "$server_ip" "$other_port" "$dir/servers.log" >"$dir/servers-other.out" 2>&1 &
pids+=($!)
. "$(dirname "${BASH_SOURCE[0]}")/lab.sh" # danted_conf
danted_conf "$dir" "$proxy_ip" 1080
start_dante() {
  "${in_srv[@]}" danted -f "$dir/danted.conf" -p "$dir/danted.pid" >/dev/null 2>&1 &
  dante=$!
  pids+=("$dante")
}
start_dante
"${in_app[@]}" "$emulator" 0 "$bridge_port" "$tun" "$mark" >"$dir/emulator.out" 2>"$dir/emulator.err" &
emulating=$!
pids+=("$emulating")
wait_for_line "$dir/emulator.out" ready 10 || fail "the emulator did not start"
if [ -f "$dir/direct.err" ]; then
  wait_for_line "$dir/direct.err" "listening on" 10 || fail "tcpdump did not start: $(cat "$dir/direct.err")"
fi
wait_for_line "$dir/servers.out" ready 10 || fail "the servers did not start"
wait_for_line "$dir/servers-other.out" ready 10 || fail "the other servers did not start"
# IPv6 listeners on both ports: a target's IPv6 that leaked would connect
# or be echoed (and be counted), not be refused by a closed port.
"${in_srv[@]}" python3 -c '
import select, socket, sys, time
held, echo = [], []
for port in sys.argv[2:]:
    s = socket.socket(socket.AF_INET6)
    s.bind((sys.argv[1], int(port)))
    s.listen(16)
    held.append(s)
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u.bind((sys.argv[1], int(port)))
    echo.append(u)
print("ready", flush=True)
end = time.monotonic() + 3600
while time.monotonic() < end:
    for u in select.select(echo, [], [], 1)[0]:
        data, peer = u.recvfrom(2048)
        u.sendto(data, peer)' "$server_ip6" "$server_port" "$other_port" >"$dir/servers6.out" 2>&1 &
pids+=($!)
wait_for_line "$dir/servers6.out" ready 10 || fail "the IPv6 listeners did not start"
# Inbound injections arrive on the TUN device from remote addresses.
in_app ip link set "$tun" up
in_app sysctl -qw net.ipv4.conf.all.rp_filter=0 "net.ipv4.conf.$tun.rp_filter=0"

# -- drover.exe and the programs ------------------------------------------------
cp "$exe" "$dir/drover.exe"
cp "$dll" "$dir/WinDivert.dll"
cp "$client" "$dir/DroverTestDiscord.exe"
cp "$client" "$dir/OtherApp.exe"
cat >"$dir/config.toml" <<CONF
version = 1
[proxy]
host = "$proxy_ip"
port = 1080
[targets]
processes = ["DroverTestDiscord.exe"]
CONF
config="Z:${dir//\//\\}\\config.toml"
wineserver_kill # started again below, inside the namespace
wine_app() { # a program of the lab under wine, its output to stdout
  local out="$dir/run.$BASHPID.out" code=0
  in_app env DROVER_WINDIVERT_EMULATOR="$bridge_port" "$wine_run" "$@" >"$out" 2>&1 || code=$?
  tr -d '\r' <"$out"
  # Every path of the lab's programs prints before it exits: none at all
  # means wine did not run it, or lost its output (a rare flake): say so.
  [ -s "$out" ] || echo "(no output at all from $(basename "$1"); exit code $code)"
  return $code
}
drover() { wine_app "$dir/drover.exe" "$@"; }
target() { wine_app "$dir/DroverTestDiscord.exe" "$@"; }
other() { wine_app "$dir/OtherApp.exe" "$@"; }

wait_active() {
  for _ in $(seq 120); do
    wine_crashed && fail "the engine did not become Active"
    drover status >"$dir/status" 2>&1 || true
    grep -q "State: *Active" "$dir/status" && return 0
    sleep 0.5
  done
  cat "$dir/status" >&2
  # Seen a few times under load: the engine's log says Active while every
  # `drover status` finds no control pipe, for a minute. The wine servers
  # running then (two for one prefix would keep the pipe from the
  # command) are evidence for whoever looks next.
  if grep -q "Drover is not running" "$dir/status"; then
    echo "  wine servers now:" >&2
    pgrep -a wineserver | sed 's/^/    /' >&2 || true
  fi
  fail "the engine did not become Active"
}

start_lab() {
  "${in_app[@]}" env DROVER_WINDIVERT_EMULATOR="$bridge_port" DROVER_WINE_TIMEOUT="${lab_engine_timeout:-500}" \
    "$wine_run" "$dir/drover.exe" --headless --config "$config" >"$dir/engine.out" 2>&1 &
  pids+=($!)
  wait_active
}

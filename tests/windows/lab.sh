# Shared by the Windows end-to-end scripts (sourced): a folder with
# drover.exe beside the test double of WinDivert.dll, as the installer lays
# them out, a real dante on a free loopback port (wine programs share this
# machine's loopback), and a config pointing at it.
# Sets: dir, port, config (its Windows path); appends background PIDs to
# pids (the caller's cleanup kills them). The caller sets wine_run.

# danted_conf DIR ADDRESS PORT: DIR/danted.conf for a dante on ADDRESS:PORT
# (also its external address) that allows everything, logging to
# DIR/danted.log.
danted_conf() {
  cat >"$1/danted.conf" <<CONF
logoutput: $1/danted.log
internal: $2 port = $3
external: $2
socksmethod: none
clientmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }
socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 command: bind connect udpassociate udpreply }
CONF
}

# lab_setup DROVER_EXE FAKE_WINDIVERT_DLL [extra config lines]
lab_setup() {
  dir="$(mktemp -d)"
  cp "$1" "$dir/drover.exe"
  cp "$2" "$dir/WinDivert.dll"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  danted_conf "$dir" 127.0.0.1 "$port"
  danted -f "$dir/danted.conf" -p "$dir/danted.pid" &
  pids+=($!)
  cat >"$dir/config.toml" <<CONF
version = 1
[proxy]
host = "127.0.0.1"
port = $port
[targets]
processes = ["DroverTestDiscord.exe"]
${3:-}
CONF
  config="Z:${dir//\//\\}\\config.toml"
}

# lab_run ARGS...: runs the lab's drover.exe, prints its output (carriage
# returns removed) and returns its exit code. The output goes through a
# file, not a pipe: a pipe may be held open by the wine session's daemons
# (scripts/wine-run).
lab_run() {
  local out="$dir/run.$BASHPID.out" code=0
  "$wine_run" "$dir/drover.exe" "$@" >"$out" 2>&1 || code=$?
  tr -d '\r' <"$out"
  return $code
}

# lab_wait_exit PID SECONDS: waits (bounded) until the background process
# PID ends; its exit code, or 124 when it still runs after SECONDS.
lab_wait_exit() {
  local i
  for i in $(seq $(( $2 * 5 ))); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.2
  done
  kill -0 "$1" 2>/dev/null && return 124
  wait "$1"
}

lab_cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${dir:-}" ] && rm -rf "$dir"
}

#!/usr/bin/env bash
# Regenerates the packet fixtures from real traffic: two network namespaces
# joined by veth, real TCP/UDP clients and servers, tcpdump on the sender.
#   fixtures-complete.pcap  sender checksum offload off: complete checksums
#   fixtures-partial.pcap   offload on: TCP/UDP checksums left partial (the
#                           kernel would finish them), as NFQUEUE may see
# Needs root, iproute2, tcpdump, ethtool, netcat-openbsd. Touches nothing
# outside the two namespaces it makes, and removes them on exit.
set -euo pipefail
out="$(cd "$(dirname "$0")" && pwd)"
a=drvfix-a-$$ b=drvfix-b-$$
cleanup() { ip netns del "$a" 2>/dev/null || true; ip netns del "$b" 2>/dev/null || true; }
trap cleanup EXIT
ip netns add "$a"
ip netns add "$b"
ip -n "$a" link add veth0 type veth peer name veth1 netns "$b"
ip -n "$a" addr add 10.77.0.1/24 dev veth0
ip -n "$b" addr add 10.77.0.2/24 dev veth1
ip -n "$a" addr add fd77::1/64 dev veth0 nodad
ip -n "$b" addr add fd77::2/64 dev veth1 nodad
for ns in "$a" "$b"; do ip -n "$ns" link set lo up; done
ip -n "$a" link set veth0 up
ip -n "$b" link set veth1 up

capture() { # file, then the traffic commands run in $a
  local file="$1"; shift
  # Unfiltered live capture, filtered offline below: a live filter with an
  # IPv6 term matched nothing on this kind of kernel.
  ip netns exec "$a" tcpdump -Z root -i veth0 -U -w "$file.all" 2>/dev/null &
  local dump=$!
  sleep 1 # tcpdump has no "ready" signal; it only has to be listening
  "$@"
  sleep 1
  kill -TERM "$dump"; wait "$dump" 2>/dev/null || true
  tcpdump -r "$file.all" -w "$file" \
    '(ip and src host 10.77.0.1) or (ip6 and src host fd77::1 and udp)' 2>/dev/null
  rm -f "$file.all"
}

traffic() {
  timeout 5 ip netns exec "$b" nc -l 10.77.0.2 8080 >/dev/null &
  local srv=$!
  sleep 0.3
  printf 'hello over tcp\n' | timeout 5 ip netns exec "$a" nc -N 10.77.0.2 8080 || true
  wait "$srv" 2>/dev/null || true
  printf 'ping over udp' | timeout 2 ip netns exec "$a" nc -u -w0 -p 40000 10.77.0.2 9000 || true
  head -c 3000 /dev/zero | tr '\0' 'x' \
    | timeout 2 ip netns exec "$a" nc -u -w0 -p 40001 10.77.0.2 9001 || true
  printf 'ping over udp6' | timeout 2 ip netns exec "$a" nc -6 -u -w0 -p 40002 fd77::2 9002 || true
}

ip netns exec "$a" ethtool -K veth0 tx off >/dev/null
capture "$out/fixtures-complete.pcap" traffic
ip netns exec "$a" ethtool -K veth0 tx on >/dev/null
capture "$out/fixtures-partial.pcap" traffic
chmod 644 "$out"/fixtures-*.pcap

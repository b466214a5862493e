#!/usr/bin/env bash
# Installs what Drover needs from Debian 12's packages (only what is
# missing). `setup.sh run` installs what building and running need;
# `setup.sh package` adds what the Debian package needs (dpkg-shlibdeps);
# `setup.sh test` adds the test tools and the Windows cross toolchain, then
# builds CAF for mingw (cached outside the checkout; prints nothing else).
set -euo pipefail
. "$(dirname "$0")/common.sh"

native=(make g++ cmake ninja-build ccache pkg-config
        libcaf-dev libspdlog-dev libtomlplusplus-dev libcli11-dev
        libnetfilter-queue-dev libmnl-dev libsystemd-dev iptables iproute2
        libbpf-dev bpftool clang qtbase5-dev pkexec)
# dpkg-shlibdeps: the package's library dependencies.
packaging=(dpkg-dev)
testing=("${packaging[@]}" libgtest-dev libbenchmark-dev libclang-rt-14-dev
         dante-server microsocks coturn openssl curl dbus-daemon tcpdump python3 g++-mingw-w64-x86-64-posix wine64
         fonts-wine xvfb trayer xdotool imagemagick nsis)

# Programs the tests and the bench run themselves, in their namespaces
# (TOOL:PACKAGE): their binaries only. Debian's packages start services of
# their own (iperf3's when asked); ones installed here are turned off
# again.
ensure_tools_without_services() {
  for tool in "$@"; do
    if ! command -v "${tool%%:*}" >/dev/null; then
      ensure_packages "${tool#*:}"
      if command -v systemctl >/dev/null; then
        systemctl disable --now "${tool#*:}" >/dev/null 2>&1 || true
      fi
    fi
  done
}

case "${1:-run}" in
  run) ensure_packages "${native[@]}" ;;
  bench)
    ensure_packages "${native[@]}" "${testing[@]}"
    # redsocks, the peer the engine bench compares with, and iperf3.
    ensure_tools_without_services redsocks:redsocks iperf3:iperf3
    ;;
  package) ensure_packages "${native[@]}" "${packaging[@]}" ;;
  test)
    ensure_packages "${native[@]}" "${testing[@]}"
    # shadowsocks-libev (ss-local) and tinyproxy (an HTTP proxy), real
    # upstreams of the e2e tests, and iperf3, a real target.
    ensure_tools_without_services ss-local:shadowsocks-libev \
      tinyproxy:tinyproxy iperf3:iperf3
    "$(dirname "$0")/build-caf-mingw.sh" >/dev/null
    ;;
  *) die "usage: setup.sh run|package|test|bench" ;;
esac

#!/usr/bin/env bash
# Installs Drover for a desktop (docs/desktop.md): the binary and the
# tray's library, the engine as a systemd service, the menu entry and
# icons, and the group "drover" whose members' trays may control the
# engine. Run as root: `sudo make install`.
#   install.sh install BUILD_DIR   install (and start the service)
#   install.sh uninstall           remove it all (the config stays)
# DESTDIR=DIR installs into DIR only (no group, no systemctl): for tests
# and packagers.
set -euo pipefail
. "$(dirname "$0")/common.sh"

prefix="${PREFIX:-/usr/local}"
dest="${DESTDIR:-}"
bindir="$prefix/bin"
# The tray's library (app/tray/module.hpp): drover looks in ../lib/drover.
libdir="$dest$prefix/lib/drover"
unit="$dest/etc/systemd/system/drover.service"
entry="$dest$prefix/share/applications/drover.desktop"
docdir="$dest$prefix/share/doc/drover"
icons="$dest$prefix/share/icons/hicolor"
# polkit reads actions from /usr/share only, whatever the prefix.
policy="$dest/usr/share/polkit-1/actions/org.drover.engine.policy"

live() { [ -z "$dest" ]; }
have_systemd() { live && [ -d /run/systemd/system ]; }

install_all() {
  local build="$1"
  [ -x "$build/app/drover" ] || die "no $build/app/drover: build first (make build)"
  # A test build answers fault commands (make the engine throw, drop its
  # packet handle): never installed, unless a test installs it into a
  # scratch DESTDIR on purpose.
  if "$build/app/drover" --version | grep -q "test build"; then
    if [ -z "$dest" ] || [ "${DROVER_ALLOW_TEST_BUILD:-0}" != 1 ]; then
      die "$build/app/drover is a test build (it has fault hooks): build the product with make build"
    fi
  fi
  live && [ "$(id -u)" -ne 0 ] && die "run as root: sudo make install"
  install -D -m 0755 "$build/app/drover" "$dest$bindir/drover"
  install -D -m 0644 "$build/app/drover-tray.so" "$libdir/drover-tray.so"
  sed -e "s|@BINDIR@|$bindir|" -e "s|@DOCDIR@|$prefix/share/doc/drover|" \
    "$DROVER_ROOT/app/desktop/drover.service" \
    | install -D -m 0644 /dev/stdin "$unit"
  sed "s|@BINDIR@|$bindir|" "$DROVER_ROOT/app/desktop/drover.desktop" \
    | install -D -m 0644 /dev/stdin "$entry"
  sed "s|@BINDIR@|$bindir|" "$DROVER_ROOT/app/desktop/org.drover.engine.policy" \
    | install -D -m 0644 /dev/stdin "$policy"
  for size in 16 22 24 32 48 64 128; do
    install -D -m 0644 "$DROVER_ROOT/app/tray/icons/drover-$size.png" \
      "$icons/${size}x${size}/apps/drover.png"
  done
  install -D -m 0644 "$DROVER_ROOT/docs/desktop.md" "$docdir/desktop.md"
  if live; then
    getent group drover >/dev/null || groupadd --system drover
    local user="${SUDO_USER:-}"
    if [ -n "$user" ] && [ "$user" != root ]; then
      usermod -aG drover "$user"
      log "$user is in the group drover (log out and in once for it to count)"
    fi
  fi
  if have_systemd; then
    systemctl daemon-reload
    systemctl enable --now drover.service
    log "the engine runs as the service drover (systemctl status drover)"
  elif live; then
    log "no systemd here: start the engine with: sudo $bindir/drover --headless"
  fi
  log "installed; start the tray from the menu (Drover) or with: drover"
}

uninstall_all() {
  if have_systemd; then
    systemctl disable --now drover.service 2>/dev/null || true
  fi
  rm -f "$dest$bindir/drover" "$unit" "$entry" "$policy"
  rm -rf "$libdir"
  rm -rf "$docdir"
  for size in 16 22 24 32 48 64 128; do
    rm -f "$icons/${size}x${size}/apps/drover.png"
  done
  have_systemd && systemctl daemon-reload
  log "removed; /etc/drover and the group drover are kept (groupdel drover)"
}

case "${1:-}" in
  install) install_all "${2:-build-run}" ;;
  uninstall) uninstall_all ;;
  *) die "usage: install.sh install BUILD_DIR | uninstall" ;;
esac

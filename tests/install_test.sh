#!/usr/bin/env bash
# scripts/install.sh into a scratch DESTDIR: every file lands where the
# service unit and the menu entry say, and uninstall removes them again.
set -euo pipefail
root="$1"; build="$2"
dest="$(mktemp -d)"
trap 'rm -rf "$dest"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
if "$build/app/drover" --version | grep -q "test build"; then
  # The product is never installed from a test build (it has fault hooks).
  if refused="$(DESTDIR="$dest" "$root/scripts/install.sh" install "$build" 2>&1)"; then
    fail "a test build was installed"
  fi
  grep -q "is a test build (it has fault hooks)" <<<"$refused" || fail "refusal: $refused"
  test ! -e "$dest/usr/local/bin/drover" || fail "a refused install left the binary"
  export DROVER_ALLOW_TEST_BUILD=1 # for the rest: what lands where
fi
DESTDIR="$dest" "$root/scripts/install.sh" install "$build" 2>/dev/null
test -x "$dest/usr/local/bin/drover" || fail "no binary"
test -f "$dest/usr/local/lib/drover/drover-tray.so" || fail "no tray library"
grep -qx 'ExecStart=/usr/local/bin/drover --headless' \
  "$dest/etc/systemd/system/drover.service" || fail "unit ExecStart"
grep -qx 'Exec=/usr/local/bin/drover' \
  "$dest/usr/local/share/applications/drover.desktop" || fail "menu Exec"
test -f "$dest/usr/local/share/icons/hicolor/32x32/apps/drover.png" || fail "icon"
grep -q '<annotate key="org.freedesktop.policykit.exec.path">/usr/local/bin/drover</annotate>' \
  "$dest/usr/share/polkit-1/actions/org.drover.engine.policy" || fail "polkit action"
test -f "$dest/usr/local/share/doc/drover/desktop.md" || fail "doc"
"$dest/usr/local/bin/drover" --version | grep -q '^drover ' || fail "runs"
if command -v systemd-analyze >/dev/null; then
  # Verified against the installed binary's real path.
  sed "s|/usr/local/bin/drover|$dest/usr/local/bin/drover|" \
    "$dest/etc/systemd/system/drover.service" > "$dest/drover.service"
  systemd-analyze verify "$dest/drover.service" || fail "systemd-analyze"
  # The sandbox: an exposure of 3.0 or less (issue #16).
  exposure="$(systemd-analyze security --offline=yes "$dest/drover.service" 2>&1 | tail -n 1)"
  systemd-analyze security --offline=yes --threshold=30 "$dest/drover.service" >/dev/null 2>&1 \
    || fail "the service is too exposed: $exposure"
  echo "service: $exposure"
  # The calls the engine makes beyond @system-service stay allowed: named
  # in the allow list, and in no group of the deny list (systemd removes
  # a denied group's calls from the allow list).
  allow="$(sed -n 's/^SystemCallFilter=\([^~].*\)/\1/p' "$dest/drover.service")"
  deny="$(sed -n 's/^SystemCallFilter=~//p' "$dest/drover.service")"
  for call in pidfd_getfd pidfd_open bpf; do
    allowed=no
    for item in $allow; do
      if [ "$item" = "$call" ] || { [[ "$item" == @* ]] \
           && systemd-analyze syscall-filter "$item" | grep -qx "    $call"; }; then
        allowed=yes
      fi
    done
    [ "$allowed" = yes ] || fail "the unit does not allow $call"
    for group in $deny; do
      if systemd-analyze syscall-filter "$group" | grep -qx "    $call"; then
        fail "the unit denies $call (in $group), which the engine needs"
      fi
    done
  done
  # ptrace itself stays out (only pidfd_getfd of @debug is allowed).
  for item in $allow; do
    [[ "$item" == @* ]] && systemd-analyze syscall-filter "$item" | grep -qx "    ptrace" \
      && fail "the unit allows ptrace (through $item)"
  done
fi
DESTDIR="$dest" "$root/scripts/install.sh" uninstall 2>/dev/null
test ! -e "$dest/usr/local/bin/drover" || fail "uninstall left the binary"
test ! -e "$dest/usr/local/lib/drover" || fail "uninstall left the tray library"
test ! -e "$dest/etc/systemd/system/drover.service" || fail "uninstall left the unit"
test ! -e "$dest/usr/share/polkit-1/actions/org.drover.engine.policy" || fail "uninstall left the polkit action"
echo "install ok"

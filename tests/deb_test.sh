#!/usr/bin/env bash
# The Debian package (make package-linux), installed and removed with the
# real dpkg: made only from a product build (the test build is refused;
# the product is built beside it, from the same cache). dpkg runs in a
# chroot whose root is an overlay over this machine's (its changes land in
# a scratch folder and vanish with the test's mount namespace), with its
# own D-Bus system bus and the real polkitd:
#   - dpkg -i puts every file in place, makes the group drover and adds
#     the installing user (SUDO_USER) to it;
#   - polkitd reads the action: its message, pinned to /usr/bin/drover
#     with --headless; granted that action alone, a user's pkexec runs
#     `drover --headless`, and is refused `drover --version` (another first
#     argument falls to pkexec's own action);
#   - the engine, run as the service runs it and capturing in a network
#     namespace, is stopped by dpkg -r (prerm: `drover quit`, which
#     waits): its rules and cgroup are gone when dpkg returns; the config
#     stays;
#   - dpkg -P leaves nothing of Drover: the overlay holds no file of it,
#     and the group is gone.
# usage: deb_test.sh BUILD_DIR
set -euo pipefail
build=$1
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
fail() { echo "deb test: $*" >&2; exit 1; }

# The test build is never packed.
if (cd "$build" && cpack -G DEB -B "$out/refused" >"$out/refused.log" 2>&1); then
  fail "a test build (with fault hooks) was packed"
fi
grep -q "this is a test build (it has fault hooks)" "$out/refused.log" \
  || { cat "$out/refused.log" >&2; fail "packing the test build failed otherwise"; }

# The product, as make package-linux builds it.
product="$build/deb-product"
src="$(sed -n 's/^CMAKE_HOME_DIRECTORY:[A-Z]*=//p' "$build/CMakeCache.txt")"
cmake -S "$src" -B "$product" -G Ninja -DDROVER_WERROR=ON \
  -DDROVER_BUILD_TESTS=OFF -DDROVER_BUILD_BENCH=OFF >"$out/product.log" 2>&1 \
  && cmake --build "$product" >>"$out/product.log" 2>&1 \
  || { tail -n 40 "$out/product.log" >&2; fail "the product did not build"; }
(cd "$product" && cpack -G DEB -B "$out/deb" >"$out/cpack.log" 2>&1) \
  || { cat "$out/cpack.log" >&2; fail "cpack could not build the package"; }
deb="$(ls "$out"/deb/drover_*_amd64.deb)"
dpkg-deb -f "$deb" Depends | grep -q "libcaf-core0.17" \
  || fail "the package does not depend on the libraries it links"
# The tray in its own library, where drover looks (../lib/drover), and its
# Qt among the dependencies although drover itself links none.
contents="$(dpkg-deb -c "$deb")"
grep -q '\./usr/lib/drover/drover-tray\.so$' <<<"$contents" \
  || fail "the package has no tray library"
dpkg-deb -f "$deb" Depends | grep -q "libqt5widgets5" \
  || fail "the package does not depend on the tray's Qt"

# Everything below happens in a mount namespace of its own: the overlay,
# its mounts and the chroot's daemons end with it.
cat >"$out/inside.sh" <<'INSIDE'
set -euo pipefail
out=$1; deb=$2
fail() { echo "deb test: $*" >&2; exit 1; }
root="$out/root"
mkdir -p "$out/layer" "$root"
mount -t tmpfs tmpfs "$out/layer"
mkdir -p "$out/layer/upper" "$out/layer/work"
mount -t overlay overlay \
  -o "lowerdir=/,upperdir=$out/layer/upper,workdir=$out/layer/work" "$root"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs tmpfs "$root/run"
mount -t tmpfs tmpfs "$root/tmp"
cp "$deb" "$root/tmp/drover.deb"
in_root() { chroot "$root" "$@"; }
# Whatever happens, nothing started here outlives the test.
engine_parent=""
cleanup() {
  [ -n "$engine_parent" ] && kill "$engine_parent" 2>/dev/null && wait "$engine_parent" 2>/dev/null
  for pidfile in "$root/run/polkitd.pid" "$root/run/dbus/pid"; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
  done
  return 0
}
trap cleanup EXIT

# No Drover on this machine's root to begin with (the overlay shows it).
in_root dpkg -s drover >/dev/null 2>&1 && fail "drover is installed on this machine already"

# Install, as `sudo apt install ./drover.deb` by the user nobody would.
in_root env SUDO_USER=nobody dpkg -i /tmp/drover.deb >"$out/install.log" 2>&1 \
  || { cat "$out/install.log" >&2; fail "dpkg -i failed"; }
grep -q "no systemd here: start the engine with: sudo drover --headless" "$out/install.log" \
  || fail "postinst did not say how to start the engine without systemd"
for f in /usr/bin/drover /usr/lib/systemd/system/drover.service \
         /usr/share/applications/drover.desktop \
         /usr/share/polkit-1/actions/org.drover.engine.policy \
         /usr/share/icons/hicolor/48x48/apps/drover.png \
         /usr/share/doc/drover/desktop.md; do
  [ -f "$root$f" ] || fail "$f was not installed"
done
grep -qx 'ExecStart=/usr/bin/drover --headless' "$root/usr/lib/systemd/system/drover.service" \
  || fail "the unit does not start /usr/bin/drover"
grep -qx 'Documentation=file:///usr/share/doc/drover/desktop.md' \
  "$root/usr/lib/systemd/system/drover.service" || fail "the unit's Documentation"
in_root getent group drover >/dev/null || fail "no group drover"
in_root id -nG nobody | grep -qw drover || fail "the installing user is not in the group drover"
in_root drover --version | grep -q '^drover ' || fail "the installed drover does not run"
in_root drover --version | grep -q 'test build' && fail "the package holds a test build"

# polkit: a system bus and polkitd of the chroot's own; one rule grants
# Drover's action (and nothing else) to nobody, as an administrator's
# password would.
mkdir -p "$root/etc/polkit-1/rules.d"
cat >"$root/etc/polkit-1/rules.d/50-drover-test.rules" <<'RULES'
polkit.addRule(function(action, subject) {
  if (action.id == "org.drover.engine" && subject.user == "nobody")
    return polkit.Result.YES;
});
RULES
mkdir -p "$root/run/dbus"
in_root dbus-daemon --system --fork
in_root sh -c '/usr/lib/polkit-1/polkitd --no-debug >/tmp/polkitd.log 2>&1 & echo $! >/run/polkitd.pid'
seen=""
for _ in $(seq 300); do # up to 30 s for polkitd to own its bus name
  if seen="$(in_root pkaction --action-id org.drover.engine --verbose 2>/dev/null)"; then break; fi
  sleep 0.1
done
[ -n "$seen" ] || { cat "$root/tmp/polkitd.log" >&2; fail "polkitd does not know org.drover.engine"; }
grep -q "message: *Drover needs administrator rights to send the applications you chose" <<<"$seen" \
  || fail "the action's message: $seen"
grep -q "org.freedesktop.policykit.exec.path -> /usr/bin/drover" <<<"$seen" \
  || fail "the action is not pinned to /usr/bin/drover: $seen"
grep -q "org.freedesktop.policykit.exec.argv1 -> --headless" <<<"$seen" \
  || fail "the action is not pinned to --headless: $seen"
# Asked once, not again for a few minutes, and always an administrator's
# password (docs/desktop.md).
grep -q "implicit active: *auth_admin_keep" <<<"$seen" \
  && grep -q "implicit any: *auth_admin$" <<<"$seen" \
  || fail "the action's defaults: $seen"
as_nobody() { in_root setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; }
granted="$(as_nobody pkexec /usr/bin/drover --headless --version 2>&1)" \
  || fail "pkexec refused drover --headless under Drover's action: $granted"
grep -q '^drover ' <<<"$granted" || fail "pkexec drover --headless: $granted"
if other="$(as_nobody pkexec /usr/bin/drover --version 2>&1)"; then
  fail "pkexec ran drover with another first argument under Drover's action: $other"
fi
rm "$root/etc/polkit-1/rules.d/50-drover-test.rules"

# The engine as the service runs it (systemd's INVOCATION_ID: /etc/drover,
# /var/log/drover), capturing in a network namespace: dpkg -r (run there
# too, so prerm's `drover quit` reaches its control socket) stops it.
mkdir -p "$root/etc/drover"
cat >"$root/etc/drover/config.toml" <<'CONFIG'
[proxy]
host = "127.0.0.1"
port = 1080
[targets]
processes = ["deb-test-target"]
CONFIG
# The namespace is kept by a file, so its rules can be read after the
# engine has gone.
touch "$out/netns"
unshare --net="$out/netns" true
nsenter --net="$out/netns" ip link set lo up
# A cgroup of that name left by a killed engine of an earlier namespace with
# the same inode is not this engine's.
stale="drover-$(stat -L -c %i "$out/netns")"
find /sys/fs/cgroup -maxdepth 4 -depth -type d -name "$stale" -exec rmdir {} + 2>/dev/null || true
nsenter --net="$out/netns" chroot "$root" env INVOCATION_ID=deb-test \
  /usr/bin/drover --headless >"$out/engine.log" 2>&1 &
engine=$! # nsenter and chroot each become the next program: this is drover
engine_parent=$engine
for _ in $(seq 300); do # its rules, up to 30 s
  nsenter --net="$out/netns" iptables-save -t raw 2>/dev/null | grep -q -- '-j DROVER' && break
  kill -0 "$engine" 2>/dev/null || break
  sleep 0.1
done
nsenter --net="$out/netns" iptables-save -t raw | grep -q -- '-j DROVER' \
  || { cat "$out/engine.log" >&2; fail "the engine's rules are not in place"; }
netns="$(readlink "/proc/$engine/ns/net" | tr -dc 0-9)"
group="$(find /sys/fs/cgroup -maxdepth 3 -type d -name "drover-$netns" | head -n 1)"
[ -n "$group" ] || fail "the engine's cgroup drover-$netns is not there"
nsenter --net="$out/netns" chroot "$root" dpkg -r drover >"$out/remove.log" 2>&1 \
  || { cat "$out/remove.log" >&2; fail "dpkg -r failed"; }
# prerm's `drover quit` returned only once the engine had ended.
state="$(cut -d' ' -f3 "/proc/$engine/stat" 2>/dev/null || true)"
[ -z "$state" ] || [ "$state" = Z ] || fail "the engine still runs after dpkg -r"
engine_parent=""
wait "$engine" || fail "the engine did not end cleanly: $(tail -n 5 "$out/engine.log")"
[ ! -d "$group" ] || fail "the engine's cgroup is still there after dpkg -r"
nsenter --net="$out/netns" iptables-save -t raw | grep -q DROVER \
  && fail "the engine's rules are still there after dpkg -r"
[ ! -e "$root/usr/bin/drover" ] || fail "dpkg -r left /usr/bin/drover"
[ -f "$root/etc/drover/config.toml" ] || fail "dpkg -r removed the config"
[ -f "$root/var/log/drover/drover.log" ] || fail "the engine did not log to /var/log/drover"

# Purge: nothing of Drover is left.
in_root dpkg -P drover >"$out/purge.log" 2>&1 || { cat "$out/purge.log" >&2; fail "dpkg -P failed"; }
in_root getent group drover >/dev/null && fail "the group drover is still there after purge"
left="$(cd "$out/layer/upper" && find . | grep -i drover || true)"
[ -z "$left" ] || fail "purge left: $left"
echo "deb ok: $(basename "$deb") installs, prompts through its polkit action, stops its engine on removal and purges clean"
INSIDE
unshare --mount --propagation private bash "$out/inside.sh" "$out" "$deb"

# Shared by the scripts in this folder. Sourced, not run.

# Slow dependency builds live outside the checkout, keyed by version, so a
# fresh clone on the same machine reuses them.
DROVER_CACHE="${DROVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/drover}"
DROVER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# apt-get with a wait for the dpkg lock (another apt run may hold it).
apt_get() {
  apt-get -y -q -o DPkg::Lock::Timeout=600 "$@"
}

# Installs the Debian packages that are missing; apt-get update runs only
# when something has to be installed.
ensure_packages() {
  local missing=()
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
      || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get -q -o DPkg::Lock::Timeout=600 update
  $sudo apt-get -y -q -o DPkg::Lock::Timeout=600 install --no-install-recommends "${missing[@]}"
}

# Downloads a Debian source package's files into $2 through a private apt
# directory made from the machine's own deb sources (turned into deb-src), so
# the system's apt configuration is never changed. apt checks the .dsc against
# the signed index; the caller checks the tarball against the .dsc.
fetch_debian_source() {
  local pkg="$1" dest="$2" d="$DROVER_CACHE/apt-src"
  mkdir -p "$d/lists/partial" "$d/parts" "$d/cache" "$dest"
  rm -f "$d/parts/"*
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    sed -E 's/^Types:[[:space:]]*deb[[:space:]]*$/Types: deb-src/' "$f" \
      > "$d/parts/$(basename "$f")"
  done
  if [ -f /etc/apt/sources.list ]; then
    sed -nE 's/^deb[[:space:]]/deb-src /p' /etc/apt/sources.list > "$d/parts/main.list"
  fi
  local opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$d/parts"
              -o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache")
  apt-get -q "${opts[@]}" update >&2
  # The Debian packaging tarball is not needed (and not always served); the
  # download may report it missing while the .dsc and orig tarball arrive.
  (cd "$dest" && apt-get -q "${opts[@]}" source --download-only "$pkg" >&2) || true
}

# Removes the cache's other builds of a dependency (older versions or
# recipes) once `current` is complete: each is hundreds of megabytes and no
# checkout of this version uses it. usage: remove_older_builds GLOB CURRENT
remove_older_builds() {
  local glob="$1" current="$2" old
  for old in "$DROVER_CACHE"/$glob; do
    [ -d "$old" ] && [ "$old" != "$current" ] || continue
    log "removing an older build from the cache: $old"
    rm -rf "$old"
  done
}

# Checks a file's sha256 against the Checksums-Sha256 section of a .dsc.
verify_against_dsc() {
  local dsc="$1" file="$2" name want got
  name="$(basename "$file")"
  want="$(sed -n '/^Checksums-Sha256:/,/^[A-Za-z]/p' "$dsc" | awk -v n="$name" '$3 == n {print $1}')"
  [ -n "$want" ] || die "$name is not listed in $dsc"
  got="$(sha256sum "$file" | awk '{print $1}')"
  [ "$want" = "$got" ] || die "sha256 mismatch for $name: expected $want, got $got"
}

#!/usr/bin/env bash
# Signs a release for Drover's updater (docs/updates.md): writes
# SHA256SUMS (sha256sum's format) over the release's files, and
# SHA256SUMS.sig, the release key's Ed25519 signature over SHA256SUMS in
# 128 hexadecimal digits. Upload the three with the release; an update is
# installed only when the signature is the key built into Drover
# (app/update-key.pub) and the installer's digest is the one listed.
#
# usage: sign-release.sh KEY.pem FILE...       (writes beside the first FILE)
#        sign-release.sh --new-key KEY.pem      (a new key; prints its public half)
set -euo pipefail

if [[ ${1:-} == --new-key ]]; then
  key=${2:?usage: sign-release.sh --new-key KEY.pem}
  [[ -e $key ]] && { echo "sign-release: $key exists; not overwritten" >&2; exit 1; }
  (umask 077 && openssl genpkey -algorithm ed25519 -out "$key")
  openssl pkey -in "$key" -pubout -outform DER | tail -c 32 | od -An -tx1 | tr -d ' \n'
  echo
  exit 0
fi

key=${1:?usage: sign-release.sh KEY.pem FILE...}
shift
(($# > 0)) || { echo "sign-release: no files to sign" >&2; exit 1; }
dir=$(dirname "$1")
for f in "$@"; do
  [[ -f $f ]] || { echo "sign-release: $f is not a file" >&2; exit 1; }
  [[ $(dirname "$f") == "$dir" ]] || { echo "sign-release: $f: all files in one folder" >&2; exit 1; }
done
(cd "$dir" && sha256sum -- "${@##*/}") >"$dir/SHA256SUMS"
openssl pkeyutl -sign -inkey "$key" -rawin -in "$dir/SHA256SUMS" \
  | od -An -tx1 | tr -d ' \n' >"$dir/SHA256SUMS.sig"
echo >>"$dir/SHA256SUMS.sig"
echo "signed: $dir/SHA256SUMS ($# files), $dir/SHA256SUMS.sig"

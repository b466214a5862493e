#!/usr/bin/env python3
"""A stand-in for a Forgejo server's releases, for Drover's update tests.

Answers GET /api/v1/repos/drover/<scenario>/releases/latest as Forgejo's
API does (the fields Forgejo sends), and serves each release's files under
/files/<scenario>/<name>. Scenarios, named by the repository:

  newer       v<NEWER> with the installer, the .deb, SHA256SUMS and its
              signature (the release script, scripts/sign-release.sh)
  same        the running version        older     an older one
  prerelease  a newer pre-release        malformed JSON cut short
  hang        accepts and never answers  unsigned  a newer one without lists
  huge        a release's JSON of 2 MiB
  tampered    the installer served is not the one signed
  forged      SHA256SUMS signed with another key

usage: fake_forgejo.py --key KEY.pem --running 0.1.0 [--newer 99.1.0]
                       [--installer FILE] [--port N]
Prints "listening PORT" once ready; serves until killed.
"""
import argparse
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))

ap = argparse.ArgumentParser()
ap.add_argument("--key", required=True)
ap.add_argument("--running", required=True)
ap.add_argument("--newer", default="99.1.0")
ap.add_argument("--installer")
ap.add_argument("--port", type=int, default=0)
args = ap.parse_args()

work = tempfile.mkdtemp(prefix="fake-forgejo-")
files = {}  # scenario -> {name: bytes}


def release_files(scenario, version, key, installer_bytes):
    d = os.path.join(work, scenario)
    os.makedirs(d)
    names = ["Drover-%s-win64-setup.exe" % version, "drover_%s_amd64.deb" % version]
    with open(os.path.join(d, names[0]), "wb") as f:
        f.write(installer_bytes)
    with open(os.path.join(d, names[1]), "wb") as f:
        f.write(b"!<arch>\nstand-in .deb for " + version.encode())
    subprocess.run([os.path.join(root, "scripts", "sign-release.sh"), key]
                   + [os.path.join(d, n) for n in names],
                   check=True, stdout=subprocess.DEVNULL)
    out = {}
    for n in names + ["SHA256SUMS", "SHA256SUMS.sig"]:
        with open(os.path.join(d, n), "rb") as f:
            out[n] = f.read()
    return out


if args.installer:
    with open(args.installer, "rb") as f:
        installer = f.read()
else:
    installer = os.urandom(200000)

files["newer"] = release_files("newer", args.newer, args.key, installer)
files["unsigned"] = {k: v for k, v in files["newer"].items() if not k.startswith("SHA256SUMS")}
# Every file changed by one bit after signing: the installer and the .deb.
files["tampered"] = {k: (v if k.startswith("SHA256SUMS") else v[:-1] + bytes([v[-1] ^ 1]))
                     for k, v in files["newer"].items()}
other_key = os.path.join(work, "other.pem")
subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", other_key], check=True)
files["forged"] = release_files("forged", args.newer, other_key, installer)


def release_json(base, scenario, tag, prerelease=False):
    assets = []
    for i, (n, data) in enumerate(sorted(files.get(scenario, {}).items())):
        assets.append({
            "id": 100 + i, "name": n, "size": len(data), "download_count": 0,
            "created_at": "2026-12-01T10:00:00Z",
            "uuid": "00000000-0000-0000-0000-%012d" % i,
            "browser_download_url": "%s/files/%s/%s" % (base, scenario, n),
            "type": "attachment",
        })
    return {
        "id": 7, "tag_name": tag, "target_commitish": "main", "name": "Drover " + tag,
        "body": "Release notes.", "url": base + "/api/v1/repos/drover/%s/releases/7" % scenario,
        "html_url": base + "/drover/%s/releases/tag/%s" % (scenario, tag),
        "tarball_url": base + "/drover/%s/archive/%s.tar.gz" % (scenario, tag),
        "zipball_url": base + "/drover/%s/archive/%s.zip" % (scenario, tag),
        "upload_url": base + "/api/v1/repos/drover/%s/releases/7/assets" % scenario,
        "draft": False, "prerelease": prerelease,
        "created_at": "2026-12-01T10:00:00Z", "published_at": "2026-12-01T10:00:00Z",
        "author": {"id": 1, "login": "drover", "full_name": "", "email": "drover@noreply.example"},
        "assets": assets,
    }


class handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        sys.stderr.write("fake-forgejo: " + (fmt % a) + "\n")

    def send(self, status, body, kind="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        base = "http://" + self.headers.get("Host", "127.0.0.1")
        parts = self.path.split("/")
        # /api/v1/repos/drover/<scenario>/releases/latest
        if len(parts) == 8 and parts[1:4] == ["api", "v1", "repos"] and parts[6:] == ["releases", "latest"]:
            scenario = parts[5]
            known = ("newer", "same", "older", "prerelease", "malformed", "hang",
                     "unsigned", "tampered", "forged", "huge")
            if scenario not in known:
                return self.send(404, b'{"message":"The target couldn\'t be found."}')
            if scenario == "hang":
                time.sleep(120)
                return
            if scenario == "huge":  # 2 MiB of a release's JSON
                return self.send(200, b'{"tag_name": "v99.1.0", "body": "' + b"x" * (2 << 20) + b'"}')
            if scenario == "malformed":
                return self.send(200, b'{"id": 7, "tag_name": "v99.1.0", "assets": [')
            tag = {"same": "v" + args.running, "older": "v0.0.9"}.get(scenario, "v" + args.newer)
            source = "newer" if scenario == "prerelease" else scenario
            doc = release_json(base, source, tag, prerelease=(scenario == "prerelease"))
            return self.send(200, json.dumps(doc).encode())
        # /files/<scenario>/<name>
        if len(parts) == 4 and parts[1] == "files" and parts[3] in files.get(parts[2], {}):
            return self.send(200, files[parts[2]][parts[3]], "application/octet-stream")
        self.send(404, b'{"message":"The target couldn\'t be found."}')


server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler)
server.daemon_threads = True
print("listening %d" % server.server_address[1], flush=True)
try:
    server.serve_forever()
finally:
    shutil.rmtree(work, ignore_errors=True)

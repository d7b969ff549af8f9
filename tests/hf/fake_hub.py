#!/usr/bin/env python3
"""A local stand-in for the Hugging Face hub, enough for `strixcore pull` (standard library only).

It answers what the hub answers for model downloads:
  GET  /api/models/{org}/{name}/revision/{rev}   {"id", "sha", "siblings": [{"rfilename"}]}
  HEAD /{org}/{name}/resolve/{rev}/{path}        X-Repo-Commit, ETag (git blob sha1) and Content-Length;
                                                 for LFS files a 302 with a *relative* Location plus
                                                 X-Linked-Etag (the sha256) and X-Linked-Size
  GET  the same                                  the bytes, or the same 302 for LFS files
  GET  /lfs/{sha256}                             LFS bytes, with Range (206 + Content-Range)
A renamed repo answers 307 with a relative Location to its new name. A gated repo answers 401 without `Authorization: Bearer <its token>`; unknown repos and revisions
404 with X-Error-Code. With `cut_next_lfs` set, the next full LFS GET sends its headers and half its
bytes, then closes the connection (a transfer cut halfway); with `corrupt_next_lfs`, the next one has a
byte changed. Every request is recorded in `log`.

  FakeHub(repos).start() -> port;  .stop()
  python3 fake_hub.py DIR   serves the files of DIR as acme/tiny (for trying it by hand)
"""
import hashlib
import http.server
import json
import os
import sys
import threading
import urllib.parse


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Repo:
    """files: {path: bytes}; lfs: paths stored in LFS; revs: {name: commit}."""

    def __init__(self, files, lfs=(), revs=None, token=None, commit="0123456789abcdef0123456789abcdef01234567"):
        self.files = dict(files)
        self.lfs = set(lfs)
        self.commit = commit
        self.revs = dict(revs or {})
        self.revs.setdefault("main", commit)
        self.token = token

    def resolve(self, rev):
        if rev == self.commit:
            return rev
        return self.revs.get(rev)


class FakeHub:
    def __init__(self, repos):
        self.repos = repos  # {"org/name": Repo}
        self.renamed = {}  # {"org/old": "org/new"}: 307 with a relative Location, as for a renamed repo
        self.log = []  # (method, path, Range header or None, Authorization or None)
        self.cut_next_lfs = False
        self.corrupt_next_lfs = False  # the next full LFS GET has one byte changed
        self.lock = threading.Lock()
        self.server = None

    def lfs_blob(self, sha):
        for repo in self.repos.values():
            for path in repo.lfs:
                data = repo.files[path]
                if hashlib.sha256(data).hexdigest() == sha:
                    return data
        return None

    def start(self):
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def send(self, code, body=b"", headers=None, head=False):
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                if "Content-Length" not in (headers or {}):
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head and body:
                    self.wfile.write(body)

            def error(self, code, code_name, head):
                body = json.dumps({"error": code_name}).encode()
                self.send(code, body, {"X-Error-Code": code_name, "Content-Type": "application/json"}, head)

            def repo_for(self, org, name, head):
                repo = hub.repos.get(f"{org}/{name}")
                if repo is None:
                    self.error(404, "RepoNotFound", head)
                    return None
                if repo.token and self.headers.get("Authorization") != f"Bearer {repo.token}":
                    self.error(401, "GatedRepo", head)
                    return None
                return repo

            def handle_one(self, head):
                with hub.lock:
                    hub.log.append((self.command, self.path, self.headers.get("Range"),
                                    self.headers.get("Authorization")))
                url = urllib.parse.urlsplit(self.path)
                parts = [urllib.parse.unquote(p) for p in url.path.split("/")[1:]]
                at = 2 if parts[:2] == ["api", "models"] else 0
                old = "/".join(parts[at:at + 2])
                if old in hub.renamed:
                    org, name = hub.renamed[old].split("/")
                    segs = url.path.split("/")
                    segs[1 + at:3 + at] = [org, name]
                    return self.send(307, b"", {"Location": "/".join(segs)}, head)
                # /api/models/{org}/{name}/revision/{rev}
                if len(parts) == 6 and parts[:2] == ["api", "models"] and parts[4] == "revision":
                    repo = self.repo_for(parts[2], parts[3], head)
                    if repo is None:
                        return
                    commit = repo.resolve(parts[5])
                    if commit is None:
                        return self.error(404, "RevisionNotFound", head)
                    body = json.dumps({"id": f"{parts[2]}/{parts[3]}", "sha": commit,
                                       "siblings": [{"rfilename": p} for p in sorted(repo.files)]}).encode()
                    return self.send(200, body, {"Content-Type": "application/json"}, head)
                # /{org}/{name}/resolve/{rev}/{path...}
                if len(parts) >= 5 and parts[2] == "resolve":
                    repo = self.repo_for(parts[0], parts[1], head)
                    if repo is None:
                        return
                    commit = repo.resolve(parts[3])
                    path = "/".join(parts[4:])
                    if commit is None:
                        return self.error(404, "RevisionNotFound", head)
                    if path not in repo.files:
                        return self.error(404, "EntryNotFound", head)
                    data = repo.files[path]
                    hdr = {"X-Repo-Commit": commit, "ETag": f'"{git_blob_sha1(data)}"'}
                    if path in repo.lfs:
                        sha = hashlib.sha256(data).hexdigest()
                        hdr.update({"X-Linked-Etag": f'"{sha}"', "X-Linked-Size": str(len(data)),
                                    "Location": f"/lfs/{sha}?download=true"})
                        return self.send(302, b"", hdr, head)
                    hdr["Content-Type"] = "application/octet-stream"
                    return self.send(200, data, hdr, head)
                # /lfs/{sha256}
                if len(parts) == 2 and parts[0] == "lfs":
                    data = hub.lfs_blob(parts[1])
                    if data is None:
                        return self.error(404, "EntryNotFound", head)
                    rng = self.headers.get("Range")
                    if rng and rng.startswith("bytes=") and rng.endswith("-"):
                        start = int(rng[6:-1])
                        if start >= len(data):
                            return self.send(416, b"", {"Content-Range": f"bytes */{len(data)}"}, head)
                        hdr = {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}
                        return self.send(206, data[start:], hdr, head)
                    if hub.cut_next_lfs and not head:
                        hub.cut_next_lfs = False
                        self.send_response(200)
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data[: len(data) // 2])
                        self.wfile.flush()
                        self.close_connection = True
                        return
                    if hub.corrupt_next_lfs and not head:
                        hub.corrupt_next_lfs = False
                        data = bytes([data[0] ^ 1]) + data[1:]
                    return self.send(200, data, {"Content-Type": "application/octet-stream"}, head)
                return self.error(404, "NotFound", head)

            def do_HEAD(self):
                self.handle_one(True)

            def do_GET(self):
                self.handle_one(False)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self.server.server_address[1]

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: fake_hub.py DIR")
    files = {}
    for root, _, names in os.walk(sys.argv[1]):
        for n in names:
            p = os.path.join(root, n)
            files[os.path.relpath(p, sys.argv[1])] = open(p, "rb").read()
    hub = FakeHub({"acme/tiny": Repo(files, lfs=[p for p in files if p.endswith(".safetensors")])})
    port = hub.start()
    print(f"HF_ENDPOINT=http://127.0.0.1:{port}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""`strixcore --backend BACKEND serve` end to end on one device: the GPU check's serving row.

usage: serve-check.py EXE BACKEND MODEL_DIR TOKENIZER TEMPLATE

Starts the server on a free port with an API key, waits (bounded) for /health, then checks
  - /v1/models lists the served name,
  - POST /v1/chat/completions (greedy, 16 tokens) answers 200 with a message and usage,
  - the same request streamed answers 200 with SSE chunks ending in [DONE],
  - a request without the key answers 401,
  - SIGTERM stops it with exit status 0.
Prints one line per check and exits 0 only when all pass. Needs only python3's standard library.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

KEY = "sk-check"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def request(url, body=None, key=KEY, timeout=60):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if body is not None else "GET")
    req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Authorization", "Bearer " + key)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def main():
    if len(sys.argv) != 6:
        print(__doc__)
        return 2
    exe, backend, model, tok, tmpl = sys.argv[1:]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [exe, "--backend", backend, "serve", model, "--tokenizer", tok, "--chat-template", tmpl,
           "--host", "127.0.0.1", "--port", str(port), "--api-key", KEY, "--served-model-name", "tiny",
           "--max-model-len", "256"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ok = True

    def check(name, cond, detail=""):
        nonlocal ok
        ok = ok and cond
        print(f"{'ok  ' if cond else 'FAIL'} {name}{': ' + detail if detail else ''}")

    try:
        deadline = time.monotonic() + 120
        up = False
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if request(base + "/health", key=None, timeout=2)[0] == 200:
                    up = True
                    break
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.2)
        check(f"serve --backend {backend} is up", up)
        if not up:
            return 1
        st, body = request(base + "/v1/models")
        check("/v1/models", st == 200 and '"tiny"' in body, f"{st}")
        chat = {"model": "tiny", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 16,
                "temperature": 0}
        st, body = request(base + "/v1/chat/completions", chat)
        good = False
        if st == 200:
            j = json.loads(body)
            good = (j["choices"][0]["message"]["role"] == "assistant" and j["usage"]["completion_tokens"] > 0)
        check("chat completion", good, f"{st} {body[:160]}")
        st, body = request(base + "/v1/chat/completions", dict(chat, stream=True))
        chunks = [l for l in body.splitlines() if l.startswith("data: ")]
        check("streamed chat completion", st == 200 and len(chunks) > 2 and chunks[-1] == "data: [DONE]",
              f"{st}, {len(chunks)} events")
        st, _ = request(base + "/v1/chat/completions", chat, key="wrong")
        check("wrong API key is refused", st == 401, f"{st}")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        out = proc.stdout.read() if proc.stdout else ""
    check("SIGTERM exits 0", proc.returncode == 0, f"status {proc.returncode}")
    if not ok:
        sys.stdout.write(out[-3000:])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""`strixcore serve --tune`: the kernels are tuned before the server listens.

usage: serve_tune.py EXE MODEL_DIR TOKENIZER TEMPLATE

Starts the server on the tiny fixture with an empty tuning cache and --tune, waits (bounded) for /health,
and checks that the tuning finished before (the progress and the in-graph check on stderr, the cache file
written), that a chat completion works, and that SIGTERM exits 0. A second start without --tune loads the
table (its info line) and tunes nothing.
"""
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fail(msg, err_path=None):
    if err_path and os.path.exists(err_path):
        sys.stdout.write(open(err_path).read()[-4000:])
    sys.exit("FAIL: " + msg)


def wait_health(port, proc, deadline):
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if r.status == 200:
                    return True
        except Exception:
            time.sleep(0.1)
    return False


def serve(exe, model, tok, tpl, cache, err_path, extra, port=None):
    port = port or free_port()
    args = [exe, "-v", "--backend", "cpu", "--tuning-dir", cache, "serve", model, "--tokenizer", tok,
            "--chat-template", tpl, "--port", str(port), "--host", "127.0.0.1", "--max-model-len", "64",
            "--max-num-seqs", "2", "--max-num-batched-tokens", "32", "--served-model-name", "tiny"] + extra
    err = open(err_path, "w")
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)
    return proc, port, err


def main():
    exe, model, tok, tpl = sys.argv[1:5]
    with tempfile.TemporaryDirectory() as tmp:
        cache = os.path.join(tmp, "cache")
        err_path = os.path.join(tmp, "serve.err")
        proc, port, err = serve(exe, model, tok, tpl, cache, err_path, ["--tune"])
        try:
            up = wait_health(port, proc, time.monotonic() + 120)
            for _ in range(3):  # the free port taken by a test running beside this one: another port
                if up or proc.poll() is None or "cannot listen" not in open(err_path).read():
                    break
                err.close()
                shutil.rmtree(cache, ignore_errors=True)
                proc, port, err = serve(exe, model, tok, tpl, cache, err_path, ["--tune"])
                up = wait_health(port, proc, time.monotonic() + 120)
            if not up:
                fail("the server did not come up", err_path)
            text = open(err_path).read()
            if "in-graph check done" not in text or "passes" not in text:
                fail("no tuning before listening", err_path)
            files = glob.glob(os.path.join(cache, "*.json"))
            if len(files) != 1 or not json.load(open(files[0]))["results"]:
                fail(f"no tuning cache written: {files}", err_path)
            n = len(json.load(open(files[0]))["results"])
            body = json.dumps({"model": "tiny", "messages": [{"role": "user", "content": "hi"}],
                               "max_tokens": 4}).encode()
            req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", data=body,
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as r:
                if r.status != 200:
                    fail(f"chat completion: {r.status}", err_path)
            proc.send_signal(signal.SIGTERM)
            if proc.wait(timeout=30) != 0:
                fail("SIGTERM did not exit 0", err_path)
        finally:
            if proc.poll() is None:
                proc.kill()
            err.close()
        # again without --tune: the table is loaded, nothing tuned
        proc, port, err = serve(exe, model, tok, tpl, cache, err_path, [])
        try:
            up = wait_health(port, proc, time.monotonic() + 60)
            for _ in range(3):
                if up or proc.poll() is None or "cannot listen" not in open(err_path).read():
                    break
                err.close()
                proc, port, err = serve(exe, model, tok, tpl, cache, err_path, [])
                up = wait_health(port, proc, time.monotonic() + 60)
            if not up:
                fail("the second server did not come up", err_path)
            text = open(err_path).read()
            if f"{n} tuned choices from" not in text:
                fail(f"the second server did not load the {n} tuned choices", err_path)
            if "passes" in text:
                fail("the second server tuned", err_path)
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
            err.close()
    print(f"ok: serve --tune tuned {n} keys before listening, and a restart used them")


if __name__ == "__main__":
    main()

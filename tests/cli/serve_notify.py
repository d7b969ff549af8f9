#!/usr/bin/env python3
"""sd_notify readiness of `strixcore serve`, as systemd (Type=notify) and Podman (Notify=true) see it.

usage: serve_notify.py EXE PLUGIN_DIR MODEL_DIR TOKENIZER TEMPLATE

Twice (a socket path given on the command line, then an abstract '@' socket with the same settings from a
--config file): start the server on the tiny fixture with $NOTIFY_SOCKET set, and check that
  - STATUS= messages come while loading, READY=1 only after them,
  - /health answers 200 the moment READY=1 arrives (no retry),
  - SIGTERM sends STOPPING=1 and the process exits 0.
Every wait is bounded and the server is always killed. SERVE_NOTIFY_DEBUG=1 prints the datagrams.
"""
import json
import os
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


def recv_until(sock, want, deadline, got, proc):
    """Collect datagrams into got until one holds the line `want`."""
    while time.monotonic() < deadline:
        sock.settimeout(0.2)
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            if proc.poll() is not None:
                return False
            continue
        got.append(msg)
        if want in msg.split("\n"):
            return True
    return False


def one_run(exe, plugdir, args, notify_addr, notify_env, tmp, label):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(notify_addr)
    env = {k: v for k, v in os.environ.items() if k not in ("STRIXCORE_API_KEY", "VLLM_API_KEY")}
    env.update({"NOTIFY_SOCKET": notify_env, "STRIXCORE_PLUGIN_PATH": plugdir})
    log = open(os.path.join(tmp, f"{label}.log"), "w+")
    proc = subprocess.Popen([exe, "serve"] + args, stdout=log, stderr=subprocess.STDOUT, env=env)

    def fail(msg):
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.seek(0)
        sys.exit(f"FAIL ({label}): {msg}\n--- datagrams: {got}\n--- server log\n{log.read()}")

    got = []
    try:
        if not recv_until(sock, "READY=1", time.monotonic() + 90, got, proc):
            fail("no READY=1")
        # at READY=1 the server must answer at once
        port = int(args[args.index("--port") + 1]) if "--port" in args else json.load(
            open(args[args.index("--config") + 1]))["port"]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
                code = r.status
        except Exception as e:  # noqa: BLE001 - any failure is the finding
            fail(f"/health right after READY=1: {e!r}")
        if code != 200:
            fail(f"/health right after READY=1: {code}")
        ready_at = next(i for i, m in enumerate(got) if "READY=1" in m.split("\n"))
        if not any(m.startswith("STATUS=") for m in got[:ready_at]):
            fail("no STATUS= before READY=1")
        if sum("READY=1" in m.split("\n") for m in got) != 1:
            fail("READY=1 sent more than once")
        proc.send_signal(signal.SIGTERM)
        if not recv_until(sock, "STOPPING=1", time.monotonic() + 20, got, proc):
            fail("no STOPPING=1 after SIGTERM")
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            fail("did not exit after SIGTERM")
        if rc != 0:
            fail(f"exit status {rc} after SIGTERM")
        if any("READY=1" in m.split("\n") for m in got[got.index(next(m for m in got if "STOPPING=1" in m)):]):
            fail("READY=1 after STOPPING=1")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sock.close()
        log.close()
    print(f"{label}: ok ({len(got)} datagrams)")
    if os.environ.get("SERVE_NOTIFY_DEBUG"):
        print(got)


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    exe, plugdir, model, tok, tmpl = sys.argv[1:]
    tmp = tempfile.mkdtemp()
    try:
        base = ["--tokenizer", tok, "--chat-template", tmpl, "--host", "127.0.0.1", "--api-key", "sk-test",
                "--served-model-name", "tiny"]
        path = os.path.join(tmp, "notify.sock")
        one_run(exe, plugdir, [model] + base + ["--port", str(free_port())], path, path, tmp, "socket path")

        cfg = {"model": model, "tokenizer": tok, "chat_template": tmpl, "host": "127.0.0.1", "port": free_port(),
               "api_key": ["sk-test"], "served_model_name": "tiny"}
        cpath = os.path.join(tmp, "deploy.json")
        with open(cpath, "w") as f:
            json.dump(cfg, f)
        name = f"strixcore-test-{os.getpid()}"
        one_run(exe, plugdir, ["--config", cpath], "\0" + name, "@" + name, tmp, "abstract socket, --config")
    finally:
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Hugging Face repo ids in `strixcore`: the cache layout, `pull`, and offline use.

usage:
  test_hf.py pull EXE MODEL_DIR TOKENIZER
      `strixcore pull` against tests/hf/fake_hub.py: the layout huggingface_hub writes (blobs, relative
      symlinks, refs), sha256 of LFS blobs, a transfer cut halfway and resumed, nothing downloaded twice,
      a gated repo (401) with and without a token, 404s, a network error, HF_HUB_OFFLINE.
  test_hf.py offline EXE PLUGIN_DIR MODEL_DIR TOKENIZER TEMPLATE
      a cache filled by hand the way huggingface_hub fills it; with HF_HUB_OFFLINE=1 and HF_ENDPOINT
      pointing nowhere, `run ORG/NAME` generates and `serve ORG/NAME` answers /health.
Every wait is bounded and every server is stopped.
"""
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_hub  # noqa: E402

COMMIT = "0123456789abcdef0123456789abcdef01234567"
V1 = "89abcdef0123456789abcdef0123456789abcdef"


def fail(msg):
    sys.exit("FAIL: " + msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def clean_env(**kw):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_")) and k != "XDG_CACHE_HOME"}
    env.update(kw)
    return env


def run(cmd, env, timeout=120):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def model_files(model_dir, tokenizer):
    files = {}
    for n in ("config.json", "generation_config.json", "model.safetensors"):
        files[n] = open(os.path.join(model_dir, n), "rb").read()
    files["tokenizer.json"] = open(tokenizer, "rb").read()
    return files


def check_layout(repo_dir, files, lfs, commit, rev="main"):
    """What huggingface_hub would find: refs/<rev>, blobs/<etag>, relative symlinks."""
    ref = open(os.path.join(repo_dir, "refs", rev)).read()
    check(ref == commit, f"refs/{rev} holds {ref!r}, not {commit}")
    snap = os.path.join(repo_dir, "snapshots", commit)
    for path, data in files.items():
        link = os.path.join(snap, path)
        check(os.path.islink(link), f"{link} is not a symlink")
        target = os.readlink(link)
        etag = hashlib.sha256(data).hexdigest() if path in lfs else fake_hub.git_blob_sha1(data)
        want = "../" * (2 + path.count("/")) + "blobs/" + etag
        check(target == want, f"{path} links to {target}, not {want}")
        check(open(link, "rb").read() == data, f"{path}: contents differ")
        if path in lfs:
            check(hashlib.sha256(open(link, "rb").read()).hexdigest() == etag, f"{path}: sha256")
    blobs = os.listdir(os.path.join(repo_dir, "blobs"))
    check(not [b for b in blobs if b.endswith(".incomplete")], f".incomplete files left: {blobs}")


def test_pull(exe, model_dir, tokenizer):
    files = model_files(model_dir, tokenizer)
    files["extra/nested/special_tokens_map.json"] = b'{"eos_token": "<|im_end|>"}\n'
    skipped = {"README.md": b"# tiny\n", "flax_model.msgpack": b"\0" * 64, "pytorch_model.bin": b"\1" * 64}
    lfs = {"model.safetensors"}
    v1_files = {"config.json": files["config.json"], "model.safetensors": files["model.safetensors"]}
    repos = {
        "acme/tiny": fake_hub.Repo({**files, **skipped}, lfs=lfs | {"pytorch_model.bin"}, commit=COMMIT),
        "acme/tiny-v1": fake_hub.Repo(v1_files, lfs=lfs, commit=V1, revs={"v1.0": V1}),
        "acme/gated": fake_hub.Repo({"config.json": files["config.json"]}, token="hf_sesame"),
    }
    hub = fake_hub.FakeHub(repos)
    port = hub.start()
    tmp = tempfile.mkdtemp(prefix="sc-pull-")
    try:
        home = os.path.join(tmp, "hf")
        env = clean_env(HF_HOME=home, HF_ENDPOINT=f"http://127.0.0.1:{port}/")
        repo_dir = os.path.join(home, "hub", "models--acme--tiny")

        # 1. the first transfer of the LFS file is cut halfway: pull fails, keeps the .incomplete
        hub.cut_next_lfs = True
        rc, out, err = run([exe, "pull", "acme/tiny"], env)
        check(rc != 0, f"a cut transfer must fail the pull\n{err}")
        check("resume" in err, f"no hint to run the pull again:\n{err}")
        parts = [b for b in os.listdir(os.path.join(repo_dir, "blobs")) if b.endswith(".incomplete")]
        check(len(parts) == 1, f"expected one .incomplete blob, got {parts}")
        sha = hashlib.sha256(files["model.safetensors"]).hexdigest()
        check(parts[0].startswith(sha + ".") and len(parts[0]) == len(sha) + 1 + 8 + len(".incomplete"),
              f"bad .incomplete name {parts[0]}")
        half = os.path.getsize(os.path.join(repo_dir, "blobs", parts[0]))
        check(0 < half < len(files["model.safetensors"]), f".incomplete holds {half} bytes")

        # 2. the next pull resumes with a Range request and completes
        del hub.log[:]
        rc, out, err = run([exe, "pull", "acme/tiny"], env)
        check(rc == 0, f"pull failed:\n{err}")
        snap = os.path.join(repo_dir, "snapshots", COMMIT)
        check(out.strip() == snap, f"pull printed {out!r}, not {snap}")
        ranges = [r for m, p, r, _ in hub.log if m == "GET" and p.startswith("/lfs/")]
        check(ranges == [f"bytes={half}-"], f"the LFS GET did not resume from {half}: {ranges}")
        check_layout(repo_dir, files, lfs, COMMIT)
        for name in skipped:
            check(not os.path.lexists(os.path.join(snap, name)), f"{name} should not be downloaded")
        check(not any(p.endswith(("README.md", ".msgpack", ".bin")) for _, p, _, _ in hub.log),
              "a file strixcore does not need was requested")

        # 3. a second pull downloads nothing
        del hub.log[:]
        rc, out, err = run([exe, "pull", "acme/tiny"], env)
        check(rc == 0, f"second pull failed:\n{err}")
        gets = [p for m, p, _, _ in hub.log if m == "GET" and not p.startswith("/api/")]
        check(not gets, f"second pull downloaded {gets}")
        check("0 downloaded" in err, f"second pull should say 0 downloaded:\n{err}")

        # 4. a revision by tag writes refs/<tag>; HF_HUB_CACHE moves the cache
        cache2 = os.path.join(tmp, "cache2")
        rc, out, err = run([exe, "pull", "acme/tiny-v1@v1.0"], {**env, "HF_HUB_CACHE": cache2})
        check(rc == 0, f"pull @v1.0 failed:\n{err}")
        check_layout(os.path.join(cache2, "models--acme--tiny-v1"), v1_files, lfs, V1, rev="v1.0")

        # 4a. a blob whose sha256 is not its etag is thrown away; the next pull gets it right
        cache3 = os.path.join(tmp, "cache3")
        hub.corrupt_next_lfs = True
        rc, out, err = run([exe, "pull", "acme/tiny-v1@v1.0"], {**env, "HF_HUB_CACHE": cache3})
        check(rc != 0 and "sha256" in err, f"a corrupt LFS download must fail on sha256 (rc {rc}):\n{err}")
        blobs3 = os.listdir(os.path.join(cache3, "models--acme--tiny-v1", "blobs"))
        check(not [b for b in blobs3 if b.startswith(sha)], f"the corrupt download was kept: {blobs3}")
        check(not os.path.exists(os.path.join(cache3, "models--acme--tiny-v1", "refs", "v1.0")),
              "refs/v1.0 written for a failed pull")
        rc, out, err = run([exe, "pull", "acme/tiny-v1@v1.0"], {**env, "HF_HUB_CACHE": cache3})
        check(rc == 0, f"pull after a corrupt download failed:\n{err}")
        check_layout(os.path.join(cache3, "models--acme--tiny-v1"), v1_files, lfs, V1, rev="v1.0")

        # 4b. a renamed repo: relative redirects, followed by HEAD too; cached under the name asked for
        hub.renamed["acme/old-tiny"] = "acme/tiny-v1"
        rc, out, err = run([exe, "pull", "acme/old-tiny@v1.0"], env)
        check(rc == 0, f"pull of a renamed repo failed:\n{err}")
        check_layout(os.path.join(home, "hub", "models--acme--old-tiny"), v1_files, lfs, V1, rev="v1.0")

        # 5. gated: 401 without a token, a message naming HF_TOKEN; then with HF_TOKEN, then $HF_HOME/token
        rc, out, err = run([exe, "pull", "acme/gated"], env)
        check(rc != 0 and "HF_TOKEN" in err and "401" in err, f"401 not reported well (rc {rc}):\n{err}")
        rc, out, err = run([exe, "pull", "acme/gated"], {**env, "HF_TOKEN": "hf_wrong"})
        check(rc != 0 and "HF_TOKEN" in err, f"a wrong token must fail (rc {rc}):\n{err}")
        rc, out, err = run([exe, "pull", "acme/gated"], {**env, "HF_TOKEN": "hf_sesame"})
        check(rc == 0, f"pull with HF_TOKEN failed:\n{err}")
        shutil.rmtree(os.path.join(home, "hub", "models--acme--gated"))
        with open(os.path.join(home, "token"), "w") as f:
            f.write("hf_sesame\n")
        rc, out, err = run([exe, "pull", "acme/gated"], env)
        check(rc == 0, f"pull with $HF_HOME/token failed:\n{err}")
        os.unlink(os.path.join(home, "token"))

        # 6. 404s: no such repo, no such revision
        rc, out, err = run([exe, "pull", "acme/nothing"], env)
        check(rc != 0 and "not found" in err and "acme/nothing" in err, f"404 repo (rc {rc}):\n{err}")
        rc, out, err = run([exe, "pull", "acme/tiny@no-such-branch"], env)
        check(rc != 0 and "not found" in err and "no-such-branch" in err, f"404 revision (rc {rc}):\n{err}")

        # 7. bad arguments
        rc, out, err = run([exe, "pull", "not-a-repo-id"], env)
        check(rc == 2, f"a bad repo id should be a usage error (rc {rc}):\n{err}")

        # 8. offline: the cache answers, the network is never touched
        del hub.log[:]
        rc, out, err = run([exe, "pull", "acme/tiny"], {**env, "HF_HUB_OFFLINE": "1"})
        check(rc == 0 and out.strip() == snap, f"offline pull of a cached repo (rc {rc}):\n{err}")
        rc, out, err = run([exe, "pull", "acme/nothing"], {**env, "HF_HUB_OFFLINE": "1"})
        check(rc != 0 and "HF_HUB_OFFLINE" in err and os.path.join(home, "hub") in err,
              f"offline miss should name the cache (rc {rc}):\n{err}")
        check(not hub.log, f"offline mode made requests: {hub.log}")

        # 9. a network error: nothing listens
        rc, out, err = run([exe, "pull", "acme/other"], {**env, "HF_ENDPOINT": f"http://127.0.0.1:{free_port()}"})
        check(rc != 0 and "HF_ENDPOINT" in err, f"network error not reported well (rc {rc}):\n{err}")

        # 10. `run ORG/NAME` downloads a repo that is not cached yet, then generates
        rc, out, err = run([exe, "run", "acme/tiny-v1@v1.0", "--tokenizer", tokenizer, "--no-chat", "-p", "hello",
                            "-n", "4", "--temp", "0"], env)
        check(rc == 0 and out, f"run of a repo id that had to be pulled (rc {rc}):\n{err}")
        check(os.path.isdir(os.path.join(home, "hub", "models--acme--tiny-v1", "snapshots", V1)),
              "run did not pull into the cache")
    finally:
        hub.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print("ok: pull")


def fill_cache(hub_cache, repo, files, lfs, commit):
    """The cache as huggingface_hub writes it."""
    d = os.path.join(hub_cache, "models--" + repo.replace("/", "--"))
    os.makedirs(os.path.join(d, "blobs"))
    os.makedirs(os.path.join(d, "refs"))
    for path, data in files.items():
        etag = hashlib.sha256(data).hexdigest() if path in lfs else fake_hub.git_blob_sha1(data)
        with open(os.path.join(d, "blobs", etag), "wb") as f:
            f.write(data)
        link = os.path.join(d, "snapshots", commit, path)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink("../" * (2 + path.count("/")) + "blobs/" + etag, link)
    with open(os.path.join(d, "refs", "main"), "w") as f:
        f.write(commit)
    open(os.path.join(hub_cache, "CACHEDIR.TAG"), "w").write("Signature: 8a477f597d28d172789f06886806bc55\n")
    return os.path.join(d, "snapshots", commit)


def test_offline(exe, plugdir, model_dir, tokenizer, template):
    files = model_files(model_dir, tokenizer)
    files["chat_template.jinja"] = open(template, "rb").read()
    tmp = tempfile.mkdtemp(prefix="sc-hf-offline-")
    proc = None
    try:
        xdg = os.path.join(tmp, "xdg")
        # the default place: $XDG_CACHE_HOME/huggingface/hub
        fill_cache(os.path.join(xdg, "huggingface", "hub"), "acme/tiny", files, {"model.safetensors"}, COMMIT)
        env = clean_env(XDG_CACHE_HOME=xdg, HF_HUB_OFFLINE="1", HF_ENDPOINT=f"http://127.0.0.1:{free_port()}",
                        STRIXCORE_PLUGIN_PATH=plugdir)
        env.pop("STRIXCORE_API_KEY", None)
        env.pop("VLLM_API_KEY", None)

        rc, out, err = run([exe, "run", "acme/tiny", "--no-chat", "-p", "hello the world", "-n", "6", "--temp", "0"],
                           env)
        check(rc == 0 and out.strip(), f"run acme/tiny offline (rc {rc}):\nstdout: {out}\nstderr: {err}")
        rc, out, err = run([exe, "run", "acme/tiny@" + COMMIT, "--no-chat", "-p", "hello", "-n", "2", "--temp", "0"],
                           env)
        check(rc == 0, f"run acme/tiny@<commit> offline (rc {rc}):\n{err}")
        rc, out, err = run([exe, "run", "acme/missing", "-p", "hi"], env)
        check(rc != 0 and "HF_HUB_OFFLINE" in err and os.path.join(xdg, "huggingface", "hub") in err,
              f"a missing repo offline must name the cache (rc {rc}):\n{err}")
        rc, out, err = run([exe, "run", "acme/tiny@v9", "-p", "hi"], env)
        check(rc != 0 and "refs/v9" in err, f"a missing ref offline (rc {rc}):\n{err}")

        rc, out, err = run([exe, "bench", "acme/tiny", "-p", "4", "-n", "2", "-r", "1", "--no-probe"], env)
        check(rc == 0 and "tg2" in out, f"bench acme/tiny offline (rc {rc}):\n{out}\n{err}")

        port = free_port()
        log = open(os.path.join(tmp, "serve.log"), "w+")
        proc = subprocess.Popen([exe, "serve", "acme/tiny", "--host", "127.0.0.1", "--port", str(port)],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 90
        ok = False
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    ok = r.status == 200
                    break
            except OSError:
                time.sleep(0.2)
        if ok:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=5) as r:
                body = r.read().decode()
            ok = '"acme/tiny"' in body
            if not ok:
                log.write(f"\n/v1/models does not name acme/tiny: {body}\n")
        if not ok:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            log.seek(0)
            fail(f"serve acme/tiny offline did not answer /health (and name the model)\n{log.read()}")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        proc = None
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print("ok: offline")


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "pull":
        test_pull(*sys.argv[2:])
    elif len(sys.argv) == 7 and sys.argv[1] == "offline":
        test_offline(*sys.argv[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()

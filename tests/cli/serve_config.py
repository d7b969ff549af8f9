#!/usr/bin/env python3
"""`strixcore serve` settings, checked through --print-config (no model is loaded).

usage: serve_config.py compare EXE            flags and a --config file with the same values print the same
       serve_config.py errors EXE             bad keys, types, sizes and flags fail, naming the key or flag
       serve_config.py docs EXE DEPLOY_DIR    docs/deploy: every key and flag is in README.md, deploy.json
                                              has every key and loads, strixcore.container uses known keys
       serve_config.py systemd EXE DEPLOY_DIR systemd-analyze verify of strixcore.service (77: no systemd-analyze)
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

SKIP = 77


def run(exe, args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k not in ("STRIXCORE_API_KEY", "VLLM_API_KEY")}
    env.update(env_extra or {})
    p = subprocess.run([exe, "serve"] + args, capture_output=True, text=True, env=env, timeout=60)
    return p.returncode, p.stdout, p.stderr


def print_config(exe, args, env_extra=None):
    rc, out, err = run(exe, args + ["--print-config"], env_extra)
    if rc != 0:
        sys.exit(f"FAIL: strixcore serve {' '.join(args)} --print-config: rc {rc}\n{err}")
    return out, err


def write(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def check(cond, msg):
    if not cond:
        sys.exit("FAIL: " + msg)


def compare(exe):
    tmp = tempfile.mkdtemp()
    try:
        keyfile = write(tmp, "keys", "# one key a line\nk3\n\n")
        flags = [
            "/models/qwen",
            "--tokenizer", "/t/tokenizer.json",
            "--chat-template=/t/template.jinja",
            "--generation-config", "vllm",
            "--max-model-len", "32K",                 # vLLM's human_readable_int: 32768
            "--max-num-seqs", "4",
            "--max-num-batched-tokens", "2000",
            "--max-waiting-requests", "64",
            "--kv-cache-memory-bytes", "4GiB",
            "--block-size", "32",
            "--kv-cache-dtype", "bfloat16",
            "--no-enable-prefix-caching",
            "--tune",
            "--frontend", "otherfe",
            "--host", "127.0.0.1",
            "--port", "9001",
            "--api-key", "k1", "k2",                  # vLLM's several values after one flag
            "--api-key-file", keyfile,
            "--served-model-name", "qwen",
            "--compat", "llama",
            "--allowed-origins", '["http://a.example", "http://b.example"]',
            "--allowed-methods", "GET, POST",
            "--allowed-headers", '["Authorization"]',
            "--allow-credentials",
            "--enable-prompt-tokens-details",
            "--no-enable-auto-tool-choice",
            "--tool-call-parser", "qwen3_coder",
            "--uvicorn-log-level", "debug",           # accepted and ignored
            "--disable-log-requests",
            "-tp", "1",
        ]
        cfg = {
            "model": "/models/qwen",
            "tokenizer": "/t/tokenizer.json",
            "chat_template": "/t/template.jinja",
            "generation_config": "vllm",
            "max_model_len": 32768,
            "max_num_seqs": 4,
            "max_num_batched_tokens": "2k",           # 2000
            "max_waiting_requests": 64,
            "kv_cache_memory_bytes": 4294967296,
            "block_size": 32,
            "kv_cache_dtype": "bfloat16",
            "enable_prefix_caching": False,
            "tune": True,
            "frontend": "otherfe",
            "host": "127.0.0.1",
            "port": 9001,
            "api_key": ["k1", "k2"],
            "api_key_file": keyfile,
            "served_model_name": "qwen",
            "compat": "llama",
            "allowed_origins": ["http://a.example", "http://b.example"],
            "allowed_methods": ["GET", "POST"],
            "allowed-headers": "Authorization",       # vLLM's dashed spelling; a string for a list
            "allow_credentials": True,
            "enable_prompt_tokens_details": True,
            "enable_auto_tool_choice": False,
            "tool_call_parser": "qwen3_coder",
            "uvicorn_log_level": "debug",
            "disable_log_requests": True,
            "tensor_parallel_size": 1,
        }
        # every key of the table is exercised with a non-default value
        defaults = json.loads(print_config(exe, ["/m"])[0])
        keys = {k.replace("-", "_") for k in cfg}
        missing = [k for k in defaults if k not in keys]
        check(not missing, f"the compare test does not set {missing}: add them")
        a, a_err = print_config(exe, flags)
        b, _ = print_config(exe, ["--config", write(tmp, "deploy.json", json.dumps(cfg))])
        if a != b:
            sys.exit(f"FAIL: flags and --config differ\n--- flags\n{a}\n--- config\n{b}")
        got = json.loads(a)
        for k, v in defaults.items():
            check(got[k] != v, f"{k} kept its default {v!r}")
        check(got["max_model_len"] == 32768 and got["max_num_batched_tokens"] == 2000, "human-readable ints")
        check(got["api_key"] == ["<redacted>"] * 3, f"api keys: {got['api_key']}")
        check("--uvicorn-log-level" in a_err and "ignoring" in a_err, "no warning for an ignored vLLM flag")
        check(a.endswith("}\n"), "print-config ends with a newline")

        # CLI overrides the file; the first --api-key replaces the file's keys
        over = json.loads(print_config(exe, ["--config", os.path.join(tmp, "deploy.json"), "--port", "9002",
                                             "--api-key", "x", "--enable-prefix-caching", "--block-size=64"])[0])
        check(over["port"] == 9002 and over["block_size"] == 64 and over["enable_prefix_caching"] is True,
              f"flags did not override the file: {over}")
        check(len(over["api_key"]) == 2, "--api-key x plus the key file's k3")  # file's k1 k2 replaced
        check(over["max_num_seqs"] == 4, "the file's other values stay")

        # the environment's key, only when no key is given
        e = json.loads(print_config(exe, ["/m"], {"STRIXCORE_API_KEY": "envkey"})[0])
        check(e["api_key"] == ["<redacted>"], "STRIXCORE_API_KEY")
        e = json.loads(print_config(exe, ["/m"], {"VLLM_API_KEY": "envkey"})[0])
        check(e["api_key"] == ["<redacted>"], "VLLM_API_KEY")
        e = json.loads(print_config(exe, ["/m", "--api-key", "a"], {"STRIXCORE_API_KEY": "envkey"})[0])
        check(len(e["api_key"]) == 1, "a flag key replaces the environment's")

        # print-config's output (without keys) is itself a valid config that resolves the same
        nokeys = dict(cfg)
        del nokeys["api_key"], nokeys["api_key_file"]
        c, _ = print_config(exe, ["--config", write(tmp, "nokeys.json", json.dumps(nokeys))])
        d, _ = print_config(exe, ["--config", write(tmp, "again.json", c)])
        check(c == d, f"print-config output does not round-trip\n{c}\n{d}")
    finally:
        shutil.rmtree(tmp)
    print("ok")


def errors(exe):
    tmp = tempfile.mkdtemp()
    try:
        file_cases = [
            ('{"model": "/m", "prot": 8000}', ['unknown key "prot"', 'did you mean "port"']),
            ('{"model": "/m", "port": "80a"}', ['"port"']),
            ('{"model": "/m", "port": 70000}', ['"port"', "65535"]),
            ('{"model": "/m", "kv_cache_memory_bytes": "4XiB"}', ['"kv_cache_memory_bytes"']),
            ('{"model": "/m", "kv_cache_memory_bytes": 1.5}', ['"kv_cache_memory_bytes"']),
            ('{"model": "/m", "block_size": 48}', ['"block_size"', "power of two"]),
            ('{"model": "/m", "kv_cache_dtype": "fp8"}', ['"kv_cache_dtype"']),
            ('{"model": "/m", "enable_prefix_caching": "yes"}', ['"enable_prefix_caching"']),
            ('{"model": "/m", "allowed_origins": [1]}', ['"allowed_origins"']),
            ('{"model": "/m", "tool_call_parser": "nope"}', ['"tool_call_parser"']),
            ('{"model": "/m", "tensor_parallel_size": 2}', ['"tensor_parallel_size"']),
            ('{"model": "/m", "max_model_len": 1, "max-model-len": 2}', ['"max_model_len"', "twice"]),
            ('{"model": "/m",}', ["line 1"]),
            ('["model"]', ["JSON object"]),
        ]
        for text, needles in file_cases:
            rc, _, err = run(exe, ["--config", write(tmp, "bad.json", text), "--print-config"])
            check(rc == 2, f"{text}: rc {rc} (want 2)\n{err}")
            for n in needles:
                check(n in err, f"{text}: {n!r} not in {err!r}")
        flag_cases = [
            (["--kv-cache-memory-bytes", "4XB"], ["--kv-cache-memory-bytes", "4XB"]),
            (["--block-size", "3"], ["--block-size"]),
            (["--kv-cache-dtype", "fp8"], ["--kv-cache-dtype"]),
            (["--port"], ["--port", "needs a value"]),
            (["--port", "x"], ["--port"]),
            (["--bogus"], ["--bogus"]),
            (["--max-num-seq", "4"], ["--max-num-seq", "did you mean --max-num-seqs"]),
            (["--enable-prefix-caching=maybe"], ["--enable-prefix-caching"]),
            (["--no-enable-prefix-caching=1"], ["takes no value"]),
            (["-tp", "2"], ["--tensor-parallel-size"]),
            (["--max-num-batched-tokens", "2", "--max-num-seqs", "4"], ["max_num_batched_tokens"]),
        ]
        for args, needles in flag_cases:
            rc, _, err = run(exe, ["/m"] + args + ["--print-config"])
            check(rc == 2, f"{args}: rc {rc} (want 2)\n{err}")
            for n in needles:
                check(n in err, f"{args}: {n!r} not in {err!r}")
        rc, _, err = run(exe, ["--print-config"])
        check(rc == 2 and "MODEL_DIR" in err, f"no model: rc {rc} {err}")
        rc, _, err = run(exe, ["--api-key", "k1", "/m", "--print-config"])
        check(rc == 2 and "--api-key takes every value" in err, f"greedy --api-key hint: {err}")
        rc, _, err = run(exe, ["/m", "/n", "--print-config"])
        check(rc == 2 and "'/n'" in err, f"two models: {err}")
        rc, _, err = run(exe, ["--config", os.path.join(tmp, "absent.json"), "--print-config"])
        check(rc == 1 and "absent.json" in err, f"unreadable config: rc {rc} {err}")
        rc, _, err = run(exe, ["/m", "--api-key-file", os.path.join(tmp, "absent"), "--print-config"])
        check(rc == 1 and "api_key_file" in err, f"unreadable key file: rc {rc} {err}")
        # help: every flag, exit 0 (main.c answers `serve --help` itself; this is serve's own list)
        rc, out, _ = run(exe, ["/m", "--help"])
        check(rc == 0 and "--kv-cache-memory-bytes" in out and "--[no-]enable-prefix-caching" in out,
              "serve's --help")
    finally:
        shutil.rmtree(tmp)
    print("ok")


def help_flags(exe):
    rc, out, _ = run(exe, ["/m", "--help"])
    check(rc == 0, "--help failed")
    flags = set()
    for m in re.finditer(r"--(\[no-\])?([a-z][a-z0-9-]+)", out):
        flags.add(m.group(2))
    return flags


# Quadlet [Container] keys (podman-systemd.unit(5), Podman 4.4+)
QUADLET_CONTAINER_KEYS = set("""
AddCapability AddDevice AddHost Annotation AutoUpdate CgroupsMode ContainerName ContainersConfModule DNS DNSOption
DNSSearch DropCapability Entrypoint Environment EnvironmentFile EnvironmentHost Exec ExposeHostPort GIDMap GlobalArgs
Group GroupAdd HealthCmd HealthInterval HealthLogDestination HealthMaxLogCount HealthMaxLogSize HealthOnFailure
HealthRetries HealthStartPeriod HealthStartupCmd HealthStartupInterval HealthStartupRetries HealthStartupSuccess
HealthStartupTimeout HealthTimeout HostName Image IP IP6 Label LogDriver LogOpt Mask Memory Mount Network NetworkAlias
NoNewPrivileges Notify PidsLimit Pod PodmanArgs PublishPort Pull ReadOnly ReadOnlyTmpfs ReloadCmd ReloadSignal Retry
RetryDelay Rootfs RunInit SeccompProfile Secret SecurityLabelDisable SecurityLabelFileType SecurityLabelLevel
SecurityLabelNested SecurityLabelType ShmSize StartWithPod StopSignal StopTimeout SubGIDMap SubUIDMap Sysctl Timezone
Tmpfs UIDMap Ulimit Unmask User UserNS Volume WorkingDir
""".split())


def ini_sections(path):
    """[(section, key, value)] of a systemd-style file; fails on lines that are neither."""
    out, section = [], None
    with open(path) as f:
        for n, line in enumerate(f, 1):
            s = line.strip()
            if not s or s[0] in "#;":
                continue
            if s.startswith("[") and s.endswith("]"):
                section = s[1:-1]
                continue
            m = re.match(r"([A-Za-z0-9]+)=(.*)$", s)
            check(m and section, f"{path}:{n}: not a section or Key=value line: {s!r}")
            out.append((section, m.group(1), m.group(2)))
    return out


def docs(exe, deploy):
    readme = open(os.path.join(deploy, "README.md")).read()
    defaults = json.loads(print_config(exe, ["/m"])[0])
    missing = [k for k in defaults if f"`{k}`" not in readme]
    check(not missing, f"keys missing from docs/deploy/README.md (as `key`): {missing}")
    missing = [f for f in help_flags(exe) if f"--{f}" not in readme]
    check(not missing, f"flags missing from docs/deploy/README.md: {missing}")
    # deploy.json: every key, and it loads
    path = os.path.join(deploy, "deploy.json")
    with open(path) as f:
        sample = json.load(f)
    missing = [k for k in defaults if k not in sample]
    check(not missing, f"deploy.json lacks keys {missing}")
    out, err = print_config(exe, ["--config", path])
    check(not err.strip(), f"deploy.json gives warnings: {err}")
    got = json.loads(out)
    for k, v in sample.items():
        if k != "api_key" and not k.endswith("memory_bytes"):
            check(got[k] == v, f"deploy.json {k}: {v!r} resolves to {got[k]!r}")
    # the Quadlet file: known sections and keys, Notify and the GPU devices
    items = ini_sections(os.path.join(deploy, "strixcore.container"))
    for sec, key, _ in items:
        check(sec in ("Unit", "Container", "Service", "Install"), f"strixcore.container: section [{sec}]")
        if sec == "Container":
            check(key in QUADLET_CONTAINER_KEYS, f"strixcore.container: unknown [Container] key {key}")
    kv = {(s, k, v) for s, k, v in items}
    for want in [("Container", "Notify", "true"), ("Container", "AddDevice", "/dev/kfd"),
                 ("Container", "AddDevice", "/dev/dri"), ("Container", "GroupAdd", "keep-groups")]:
        check(want in kv, f"strixcore.container lacks {want[1]}={want[2]}")
    check(any(k == "Exec" and "--config" in v for _, k, v in items), "strixcore.container: Exec with --config")
    # the unit: the settings the deployment relies on
    items = ini_sections(os.path.join(deploy, "strixcore.service"))
    kv = {(s, k): v for s, k, v in items}
    for key, val in [("Type", "notify"), ("TimeoutStartSec", "15min"), ("Restart", "on-failure"),
                     ("ProtectSystem", "strict"), ("PrivateDevices", "no"), ("DevicePolicy", "closed")]:
        check(kv.get(("Service", key)) == val, f"strixcore.service: {key}={val}")
    check("--config" in kv.get(("Service", "ExecStart"), ""), "strixcore.service: ExecStart with --config")
    print("ok")


def systemd(exe, deploy):
    sa = shutil.which("systemd-analyze")
    if not sa:
        print("systemd-analyze not found: skipping")
        return SKIP
    tmp = tempfile.mkdtemp()
    try:
        # the unit as installed, with this build's binary in ExecStart (verify checks it exists)
        text = open(os.path.join(deploy, "strixcore.service")).read()
        text = re.sub(r"^ExecStart=\S+", f"ExecStart={os.path.abspath(exe)}", text, flags=re.M)
        unit = write(tmp, "strixcore.service", text)
        p = subprocess.run([sa, "verify", "--man=no", unit], capture_output=True, text=True, timeout=120)
        # messages about the host's own units (a container has few) are not ours
        ours = [l for l in (p.stdout + p.stderr).splitlines() if "strixcore.service" in l]
        if p.returncode != 0 or ours:
            sys.exit(f"FAIL: systemd-analyze verify: rc {p.returncode}\n{p.stdout}{p.stderr}")
        # the exposure score (informational; --offline needs systemd >= 250)
        p = subprocess.run([sa, "security", "--offline=true", "--no-pager", unit], capture_output=True, text=True,
                           timeout=120)
        tail = [l for l in p.stdout.splitlines() if "Overall exposure" in l]
        print(tail[0].strip() if tail else "(no systemd-analyze security --offline)")
    finally:
        shutil.rmtree(tmp)
    print("ok")
    return 0


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    cmd, exe = sys.argv[1], sys.argv[2]
    if cmd == "compare":
        compare(exe)
    elif cmd == "errors":
        errors(exe)
    elif cmd == "docs":
        docs(exe, sys.argv[3])
    elif cmd == "systemd":
        sys.exit(systemd(exe, sys.argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()

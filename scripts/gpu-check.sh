#!/usr/bin/env bash
# One call on the GPU machine checks a GPU backend end to end and prints one
# summary table: backend-ops on the device, the transformers logit fixtures
# (16-bit and every quantized format) on the device, and the benchmarks
# (pp512 / tg128 of synthetic Qwen3-14B and Qwen3-30B-A3B in GPTQ int4, with
# achieved bandwidth against the device's measured read rate).
#
# Packed here by scripts/gpu-pack.sh into .gpu/; run there from the repo root:
#   for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig; .gpu/gpu-check.sh vulkan
#   .gpu/gpu-check.sh hip            (the HIP backend on NVIDIA: kernels/<name>.hip are
#                                     compiled here by nvcc through kernels/sc_hip_cuda.h)
# Options (environment): QUICK=1 skips the 30B bench; BENCH_REPS (default 3);
# NEXT_ONLY=1 runs only what Qwen3-Next needs (backend-ops of its ops, its
# fixtures with the split-prefill checks, the synthetic 80B-A3B bench).
set -uo pipefail
BACKEND=${1:-vulkan}
DEV=${2:-$BACKEND}
G=$(cd "$(dirname "$0")" && pwd)
export LD_LIBRARY_PATH="$G/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export STRIXCORE_PLUGIN_PATH="$G/plugins"
if [ "$BACKEND" = vulkan ] && [ -z "${VK_DRIVER_FILES:-}" ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] &&
   ! ls /usr/share/vulkan/icd.d/*.json >/dev/null 2>&1; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"


REPS=${BENCH_REPS:-3}
declare -a ROWS

row() { ROWS+=("$(printf '| %-44s | %-8s | %s |' "$1" "$2" "$3")"); }

# HIP on NVIDIA: every kernels/<name>.hip through nvcc into a fatbin for this
# GPU (plus PTX), where the plugin looks for them (hip_device.c)
if [ "$BACKEND" = hip ]; then
  export STRIXCORE_HIP_PLATFORM=nvidia
  cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n 1 | tr -d '. ')
  cc=${cc:-90}
  NVCC=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null | head -n 1)
  mkdir -p "$G/plugins/hip/nvidia"
  echo "== nvcc: kernels for sm_$cc ($NVCC)"
  nrc=0
  for k in "$G"/kernels/*.hip; do
    n=$(basename "$k" .hip)
    "$NVCC" -fatbin -O3 -std=c++17 -gencode "arch=compute_$cc,code=[sm_$cc,compute_$cc]" -I"$G/kernels" -x cu "$k" \
      -o "$G/plugins/hip/nvidia/$n.fatbin" >"$OUT/nvcc-$n.txt" 2>&1 || { nrc=1; cat "$OUT/nvcc-$n.txt"; }
  done
  row "nvcc kernels/<name>.hip for sm_$cc" "$([ $nrc = 0 ] && echo pass || echo FAIL)" \
    "$(ls "$G/plugins/hip/nvidia" | wc -l) fatbins"
fi

echo "== devices"
"$G/bin/strixcore" devices 2>&1 | tee "$OUT/devices.txt"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | tee -a "$OUT/devices.txt"

echo "== backend-ops on $DEV"
if [ -n "${NEXT_ONLY:-}" ]; then
  rc=0
  : >"$OUT/backend-ops.txt"
  for op in sigmoid ssm_conv gated_delta_net; do
    "$G/bin/backend-ops" test -b "$DEV" -o $op >>"$OUT/backend-ops.txt" 2>&1 || rc=1
  done
else
  "$G/bin/backend-ops" test -b "$DEV" >"$OUT/backend-ops.txt" 2>&1
  rc=$?
fi
tail -n 5 "$OUT/backend-ops.txt"
row "backend-ops -b $DEV" "$([ $rc = 0 ] && echo pass || echo FAIL)" "$(grep -E 'passed|failed' "$OUT/backend-ops.txt" | tail -n 1)"
if [ $rc != 0 ]; then grep -E "FAIL" "$OUT/backend-ops.txt" | head -n 20; fi

# Vulkan: the matrix paths only a GPU runs (lavapipe has no cooperative
# matrices): every MUL_MAT / MUL_MAT_ID case on the matrix units, and MUL_MAT
# split along K into 3 parts
if [ "$BACKEND" = vulkan ] && [ -z "${NEXT_ONLY:-}" ]; then
  for v in coopmin=1,coopidmin=1 coopmin=1,splitk=3; do
    f="$OUT/backend-ops-${v//[=,]/-}.txt"
    STRIXCORE_VK_MATMUL=$v "$G/bin/backend-ops" test -b "$DEV" -o mul_mat >"$f" 2>&1
    rc=$?
    if [ "$v" = coopmin=1,coopidmin=1 ]; then
      STRIXCORE_VK_MATMUL=$v "$G/bin/backend-ops" test -b "$DEV" -o mul_mat_id >>"$f" 2>&1
      rc=$((rc | $?))
    fi
    row "backend-ops matmuls, STRIXCORE_VK_MATMUL=$v" "$([ $rc = 0 ] && echo pass || echo FAIL)" \
      "$(grep -E 'tests passed' "$f" | tr -s ' ' | paste -sd ';' -)"
    if [ $rc != 0 ]; then grep -E "FAIL" "$f" | head -n 10; fi
  done
fi

# The logit fixtures as ctest runs them (tests/fixtures/CMakeLists.txt): the
# exact paths (on Vulkan STRIXCORE_VK_MATMUL=exact keeps the f32 GEMV) with the
# 2e-5-of-range bound and greedy identity, then the default int8-activation
# decode GEMV fed one token per step under the CPU's int8 bound.
fixtures() { # name env-assignment test_fixtures-args...
  local name=$1 envv=$2
  shift 2
  echo "== fixtures/$name on $DEV"
  env $envv "$G/bin/test_fixtures" --device "$DEV" "$@" >"$OUT/fixtures-$name.txt" 2>&1
  local rc=$?
  cat "$OUT/fixtures-$name.txt"
  local worst
  worst=$(grep -oE 'max abs err [0-9.e+-]+' "$OUT/fixtures-$name.txt" | awk '{print $4}' | sort -g | tail -n 1)
  row "fixtures/$name" "$([ $rc = 0 ] && echo pass || echo FAIL)" "$(tail -n 1 "$OUT/fixtures-$name.txt"); worst logit err ${worst:-?}"
}
EXACT=STRIXCORE_VK_MATMUL=exact
[ "$BACKEND" = hip ] && EXACT=STRIXCORE_HIP_MATMUL=exact
fixtures qwen3next "$EXACT" --split "$G/fixtures/qwen3next"
fixtures qwen3next-stepwise "$EXACT" --stepwise "$G/fixtures/qwen3next"
if [ -z "${NEXT_ONLY:-}" ]; then
fixtures qwen3 "$EXACT" "$G/fixtures/qwen3"
fixtures quant "$EXACT" "$G/fixtures/quant"
fixtures quant-int8-stepwise STRIXCORE_GPU_CHECK=1 --rel-bound 0.15 --no-greedy --stepwise "$G/fixtures/quant"
fi

# --backend BACKEND for run and serve, on the tiny fixture model (tokenizer and
# chat template of the CLI tests)
TINY="$G/fixtures/qwen3/qwen3-tiny-gqa4"
if [ -z "${NEXT_ONLY:-}" ] && [ -f "$TINY/config.json" ] && [ -f "$G/tiny/tokenizer.json" ]; then
  echo "== run --backend $BACKEND"
  "$G/bin/strixcore" --backend "$BACKEND" run "$TINY" --tokenizer "$G/tiny/tokenizer.json" \
    --chat-template "$G/tiny/template.jinja" -p "hello" -n 16 --temp 0 >"$OUT/run.txt" 2>&1
  rc=$?
  tail -n 3 "$OUT/run.txt"
  row "run --backend $BACKEND (tiny fixture)" "$([ $rc = 0 ] && echo pass || echo FAIL)" "exit $rc"
  echo "== serve --backend $BACKEND"
  python3 "$G/serve-check.py" "$G/bin/strixcore" "$BACKEND" "$TINY" "$G/tiny/tokenizer.json" \
    "$G/tiny/template.jinja" >"$OUT/serve.txt" 2>&1
  rc=$?
  cat "$OUT/serve.txt"
  row "serve --backend $BACKEND (tiny fixture)" "$([ $rc = 0 ] && echo pass || echo FAIL)" \
    "$(grep -c '^ok' "$OUT/serve.txt") checks ok, $(grep -c '^FAIL' "$OUT/serve.txt") failed"
fi

bench() { # shape [weights]
  local shape=$1 w=${2:-gptq-int4} f="$OUT/bench-$1.json"
  echo "== bench $shape $w on $BACKEND"
  "$G/bin/strixcore" --backend "$BACKEND" bench --synthetic "$shape" --weights "$w" -p 512 -n 128 -r "$REPS" \
    -o json >"$f" 2>"$OUT/bench-$shape.err"
  local rc=$?
  cat "$f"; tail -n 3 "$OUT/bench-$shape.err"
  if [ $rc = 0 ]; then
    row "bench $shape $w${STRIXCORE_HIP_GRAPHS:+ (graphs)}" ok "$(python3 - "$f" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
parts = []
probe = d.get("memory_probe", {}).get("gbps", 0)
for t in d.get("results", []):
    s = f"{t['test']} {t['avg_ts']:.1f} t/s"
    if t.get("achieved_gbps"): s += f", {t['achieved_gbps']:.0f} GB/s"
    if t.get("bandwidth_fraction"): s += f" = {100*t['bandwidth_fraction']:.0f}% of {probe:.0f} GB/s"
    if t.get("tflops"): s += f" ({t['tflops']:.1f} TFLOP/s)"
    parts.append(s)
if d.get("op_latency_us"): parts.append(f"dependent-op latency {d['op_latency_us']:.2f} us")
print("; ".join(parts))
PY
)"
  else
    row "bench $shape $w" FAIL "see $OUT/bench-$shape.err"
  fi
}
[ -n "${NEXT_ONLY:-}" ] || bench qwen3-14b
[ -n "${QUICK:-}${NEXT_ONLY:-}" ] || bench qwen3-30b-a3b
bench qwen3-next-80b-a3b ct-w4a16
# HIP: the same with decode steps captured into graphs (hipGraph / CUDA graphs)
if [ "$BACKEND" = hip ]; then
  export STRIXCORE_HIP_GRAPHS=1
  OUT_SAVE=$OUT
  OUT="$OUT/graphs"
  mkdir -p "$OUT"
  [ -n "${NEXT_ONLY:-}" ] || bench qwen3-14b
  [ -n "${QUICK:-}${NEXT_ONLY:-}" ] || bench qwen3-30b-a3b
  bench qwen3-next-80b-a3b ct-w4a16
  OUT=$OUT_SAVE
  unset STRIXCORE_HIP_GRAPHS
fi

echo
echo "== summary ($BACKEND, $DEV)"
printf '| %-44s | %-8s | %s |\n' check result detail
printf '|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..46})" "----------" "--------"
for r in "${ROWS[@]}"; do echo "$r"; done

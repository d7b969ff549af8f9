#!/usr/bin/env bash
# Kernel tuning on the GPU machine, both GPU backends: every tuning variant
# against the CPU reference (backend-ops --variants on the matrix and
# attention cases), then for synthetic Qwen3-14B and Qwen3-30B-A3B in GPTQ
# int4: bench with tuning off, `strixcore tune` (timed), bench with the tuned
# table. One summary table at the end. Packed by scripts/gpu-pack.sh into
# .gpu/; run there from the repo root with .gpu and .gl carried:
#   for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig; .gpu/gpu-tune-check.sh [vulkan hip]
# Options (environment): BENCH_REPS (default 3), SHAPES (default "qwen3-14b qwen3-30b-a3b"), OUT.
set -uo pipefail
G=$(cd "$(dirname "$0")" && pwd)
export LD_LIBRARY_PATH="$G/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export STRIXCORE_PLUGIN_PATH="$G/plugins"
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] &&
   ! ls /usr/share/vulkan/icd.d/*.json >/dev/null 2>&1; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
# everything goes to $W; $OUT gets the summary and one archive of $W (few files
# come back from the device machine)
OUT=${OUT:-/tmp/gpu-tune-check}
W=$(mktemp -d /tmp/gpu-tune-XXXXXX)
mkdir -p "$OUT"
export STRIXCORE_TUNING_DIR="$W/tuning"
REPS=${BENCH_REPS:-3}
SHAPES=${SHAPES:-"qwen3-14b qwen3-30b-a3b"}
BACKENDS=${*:-vulkan hip}
declare -a ROWS
row() { ROWS+=("$(printf '| %-8s | %-44s | %s |' "$1" "$2" "$3")"); }

# the HIP kernels for this GPU (as gpu-check.sh does)
if [[ " $BACKENDS " == *" hip "* ]]; then
  cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n 1 | tr -d '. ')
  cc=${cc:-90}
  NVCC=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null | head -n 1)
  mkdir -p "$G/plugins/hip/nvidia"
  for k in "$G"/kernels/*.hip; do
    n=$(basename "$k" .hip)
    "$NVCC" -fatbin -O3 -std=c++17 -gencode "arch=compute_$cc,code=[sm_$cc,compute_$cc]" -I"$G/kernels" -x cu "$k" \
      -o "$G/plugins/hip/nvidia/$n.fatbin" >"$W/nvcc-$n.txt" 2>&1 || { echo "nvcc $n failed"; cat "$W/nvcc-$n.txt"; }
  done
fi
"$G/bin/strixcore" devices 2>&1 | tee "$W/devices.txt"

summ() { # bench json -> "pp512 X t/s; tg128 Y t/s (Z% of bw)"
  python3 - "$1" <<'PY'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception as e:
    print("no result"); sys.exit(0)
parts = []
for t in d.get("results", []):
    s = f"{t['test']} {t['avg_ts']:.1f}"
    if t.get("bandwidth_fraction"): s += f" ({100*t['bandwidth_fraction']:.0f}% bw)"
    parts.append(s)
print(", ".join(parts) + " t/s")
PY
}

for BE in $BACKENDS; do
  [ "$BE" = hip ] && export STRIXCORE_HIP_PLATFORM=nvidia
  echo "== backend-ops --variants on $BE"
  f="$W/variants-$BE.txt"
  : >"$f"
  rc=0
  for op in mul_mat mul_mat_id attention rms_norm; do
    "$G/bin/backend-ops" test -b "$BE" --variants -o $op >>"$f" 2>&1 || rc=1
  done
  # Vulkan: the matrix-unit paths too (their own tunable variants)
  if [ "$BE" = vulkan ]; then
    STRIXCORE_VK_MATMUL=coopmin=1,coopidmin=1 "$G/bin/backend-ops" test -b "$BE" --variants -o mul_mat >>"$f" 2>&1 || rc=1
  fi
  grep -E "FAIL" "$f" | head -n 20
  row "$BE" "backend-ops --variants (matmul, moe, attn, norm)" \
    "$([ $rc = 0 ] && echo pass || echo FAIL): $(grep -E 'tuning variants:' "$f" | awk '{s+=$3; c+=$6} END {print s " variants on " c " cases"}')"
  for shape in $SHAPES; do
    b="$W/$BE-$shape"
    echo "== $BE $shape: bench untuned"
    "$G/bin/strixcore" --backend "$BE" --tuning-enabled 0 bench --synthetic "$shape" --weights gptq-int4 \
      -p 512 -n 128 -r "$REPS" -o json >"$b-off.json" 2>"$b-off.err"
    row "$BE" "$shape gptq-int4, tuning off" "$(summ "$b-off.json")"
    echo "== $BE $shape: tune"
    t0=$(date +%s.%N)
    "$G/bin/strixcore" --backend "$BE" tune --synthetic "$shape" --weights gptq-int4 --show >"$b-tune.txt" 2>"$b-tune.err"
    trc=$?
    t1=$(date +%s.%N)
    tail -n 3 "$b-tune.err"
    row "$BE" "$shape: strixcore tune" "$([ $trc = 0 ] && echo ok || echo FAIL) in $(python3 -c "print(f'{$t1-$t0:.1f}')") s wall incl. load; $(grep '^tuned' "$b-tune.txt" | head -n 1)"
    echo "== $BE $shape: bench tuned"
    "$G/bin/strixcore" -v --backend "$BE" bench --synthetic "$shape" --weights gptq-int4 \
      -p 512 -n 128 -r "$REPS" -o json >"$b-on.json" 2>"$b-on.err"
    row "$BE" "$shape gptq-int4, tuned" "$(summ "$b-on.json") [$(grep -o '[0-9]* tuned choices' "$b-on.err" | head -n 1)]"
    # HIP: the same two with decode steps captured into CUDA graphs
    if [ "$BE" = hip ]; then
      for mode in off on; do
        en=1; [ $mode = off ] && en=0
        STRIXCORE_HIP_GRAPHS=1 "$G/bin/strixcore" --backend "$BE" --tuning-enabled $en bench --synthetic "$shape" \
          --weights gptq-int4 -p 512 -n 128 -r "$REPS" -o json >"$b-graphs-$mode.json" 2>"$b-graphs-$mode.err"
        row "$BE" "$shape gptq-int4, graphs, tuning $mode" "$(summ "$b-graphs-$mode.json")"
      done
    fi
  done
  unset STRIXCORE_HIP_PLATFORM
done

{
  echo
  echo "== summary"
  printf '| %-8s | %-44s | %s |\n' backend check result
  for r in "${ROWS[@]}"; do echo "$r"; done
} | tee "$OUT/summary.txt"
tar -C "$W" -czf "$OUT/logs.tar.gz" .

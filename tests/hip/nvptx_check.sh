#!/bin/sh
# tests/hip/nvptx_check.sh CLANG KERNEL_DIR KERNEL.hip...
#
# The NVIDIA half of the HIP backend, checked without a GPU or CUDA SDK:
# every kernel file compiles for sm_90 through kernels/sc_hip_cuda.h (our
# HIP-to-CUDA mapping) with clang's CUDA front end and NVPTX back end, under
# -Wall -Werror, and the PTX holds kernel entry points. cuda_stub/ stands in
# for the SDK's cuda_runtime.h. The GPU machine builds the same files with
# nvcc (scripts/gpu-check.sh hip) and runs them.
set -eu
clang="$1"
kdir="$2"
shift 2
here=$(cd "$(dirname "$0")" && pwd)
t="${TMPDIR:-/tmp}/nvptx_check.$$"
mkdir -p "$t"
trap 'rm -rf "$t"' EXIT
fail=0
for k in "$@"; do
  n=$(basename "$k" .hip)
  if ! "$clang" -x cuda --cuda-device-only --cuda-gpu-arch=sm_90 -nocudainc -nocudalib -D__CUDACC__ \
      -O2 -std=c++17 -Wall -Wextra -Werror -Wno-unknown-cuda-version -I"$here/cuda_stub" -I"$kdir" -S "$k" -o "$t/$n.ptx"; then
    echo "FAIL $n: does not compile for NVIDIA" >&2
    fail=1
    continue
  fi
  e=$(grep -c '^\.visible \.entry ' "$t/$n.ptx" || true)
  if [ "$e" -eq 0 ]; then
    echo "FAIL $n: no kernel entry points in the PTX" >&2
    fail=1
  else
    echo "ok   $n: $e kernels for sm_90"
  fi
done
exit $fail

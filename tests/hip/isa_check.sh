#!/bin/sh
# tests/hip/isa_check.sh OBJDUMP CODE_OBJECT_DIR
#
# The instructions the hot kernels were written to get, read back from the
# gfx11 code objects' disassembly (llvm-objdump --mcpu): a compiler or source
# change that silently loses them fails here. Rules: file kernel regex
# (the regex must match at least one line of that kernel's code); and no
# kernel anywhere may touch scratch memory (scratch_* instructions).
set -eu
objdump="$1"
dir="$2"
arch=$(basename "$dir")
t="${TMPDIR:-/tmp}/isa_check.$$"
mkdir -p "$t"
trap 'rm -rf "$t"' EXIT
fail=0
# one file per kernel: $t/<file>.<kernel>.s
for co in "$dir"/*.co; do
  f=$(basename "$co" .co)
  "$objdump" -d --mcpu="$arch" "$co" > "$t/$f.all"
  awk -v dir="$t" -v f="$f" '/^[0-9a-f]+ <[A-Za-z_0-9]+>:$/ { k = $2; gsub(/[<>:]/, "", k); out = dir "/" f "." k ".s"; next }
                              out != "" { print > out }' "$t/$f.all"
  if grep -q 'scratch_' "$t/$f.all"; then
    echo "FAIL $arch/$f: scratch_ instructions:" >&2
    grep -m 3 'scratch_' "$t/$f.all" >&2
    fail=1
  fi
done
check() { # file kernel regex what
  if [ ! -f "$t/$1.$2.s" ]; then
    echo "FAIL $arch/$1: no kernel $2" >&2
    fail=1
  elif grep -Eq "$3" "$t/$1.$2.s"; then
    echo "ok   $arch $2: $4"
  else
    echo "FAIL $arch $2: expected $4 ($3)" >&2
    fail=1
  fi
}
for r in "" _r1 _r4; do
  check matmul_dp4 k_mm_gemv_dp4_q4$r 'v_dot4_i32_iu8' "packed int8 dot products"
  check matmul_dp4 k_mm_gemv_dp4_q8$r 'v_dot4_i32_iu8' "packed int8 dot products"
  check matmul_dp4 k_mm_gemv_dp4_q4$r 'global_load_b128' "128-bit weight loads"
done
check matmul_gemv k_mm_gemv_q4 'global_load_b128' "128-bit weight loads"
check matmul_gemv k_mm_gemv_f16 'global_load_b128' "128-bit weight loads"
for k in k_mm_gemm_wmma_f16 k_mm_gemm_wmma_bf16 k_mm_gemm_wmma_qg k_mm_gemm_wmma_qg_bf; do
  check matmul_gemm $k 'v_wmma_f32_16x16x16_b?f16' "WMMA"
done
for k in f16_f16 f16_bf16 bf16_f16 bf16_bf16; do
  for dm in 128 256; do
    check attn k_attn_pfw_${k}_$dm 'v_wmma_f32_16x16x16_b?f16' "WMMA"
  done
done
check attn k_attn_pfw_f16_bf16_128 'v_wmma_f32_16x16x16_f16' "f16 WMMA for S (f16 k)"
check attn k_attn_pfw_f16_bf16_128 'v_wmma_f32_16x16x16_bf16' "bf16 WMMA for P V (bf16 v)"
check eltwise k_elt_add_f32 'global_load_b128' "float4 loads"
exit $fail

/*
 * kernels/sc_hip.h - the one header every kernels/<name>.hip file includes.
 *
 * The same kernel sources build for three targets:
 *
 *   AMD      clang -x hip --offload-arch=gfx1151 (gfx1150, gfx1100): real
 *            code objects, loaded by the HIP backend with hipModuleLoadData.
 *   NVIDIA   nvcc with sc_hip_cuda.h, our HIP-to-CUDA mapping: the GPU
 *            machine runs every kernel this way.
 *   EMU      the host C++ compiler with sc_hip_emu.h (-DSC_HIP_EMU): each
 *            thread of a block is a fiber on the CPU, so CI runs every kernel
 *            (as lavapipe runs every Vulkan shader).
 *
 * What a kernel file may use, and nothing else from a GPU runtime:
 *
 *   SC_KERNEL(name, args_t, threads)  defines an extern "C" kernel taking one
 *            argument `const args_t p` (a plain struct shared with the host
 *            code, see the family's kernels/<family>.h), launched with at most
 *            `threads` threads a block (__launch_bounds__).
 *   threadIdx / blockIdx / blockDim / gridDim (.x .y .z)
 *   __syncthreads(), __shared__ (static sizes only), __device__,
 *   __forceinline__, __restrict__
 *   SC_WARP (32: RDNA's wave32 and NVIDIA's warp; the kernels assume 32)
 *   sc_lane()               threadIdx.x % 32 (blocks are whole warps in x)
 *   sc_shfl_xor(v, m)       butterfly exchange inside a warp, v float or int
 *   sc_shfl(v, lane)        read v of another lane of the warp
 *   sc_warp_sum(v), sc_warp_max(v)   all lanes get the result (float)
 *   atomicAdd(float* / int* / unsigned*, v), atomicOr(unsigned*, v)
 *   sc_report(err, SC_HIP_ERR_RANGE)   flag a data-dependent range error (an
 *                           id, position or block outside its table) in the
 *                           stream's error word; the host returns SC_ERANGE
 *   sc_dot4_i8(a, b, acc)   acc + the dot product of 4 signed bytes packed in
 *                           int a and int b (v_dot4_i32_i8 / dp4a)
 *   sc_h2f(u16), sc_bf2f(u16)         f16 / bf16 bits -> float
 *   sc_f2h(float), sc_f2bf(float)     float -> bits, round to nearest even
 *   expf logf log1pf sqrtf rsqrtf fabsf fmaxf fminf powf sinf cosf floorf
 *   SC_HIP_WMMA             1 where gfx11 WMMA is available (AMD gfx11 device
 *                           code only): __builtin_amdgcn_wmma_f32_16x16x16_f16_w32
 *
 * All memory the kernels see is global memory passed through the args struct
 * (device pointers, byte strides as int64).
 */
#ifndef SC_HIP_H
#define SC_HIP_H

#include <stdint.h>

#if defined(SC_HIP_EMU)
#include "sc_hip_emu.h"
#elif defined(__CUDACC__)
#include "sc_hip_cuda.h"
#else
#include <hip/hip_runtime.h>
#define SC_HIP_AMD 1
#endif

#define SC_WARP 32

/* Data-dependent errors kernels report (hip_err_word() on the host): the
 * offending element is skipped, graph_compute returns SC_ERANGE. */
#define SC_HIP_ERR_RANGE 1u
static __device__ __forceinline__ void sc_report(unsigned *err, unsigned what) {
    if (err) atomicOr(err, what);
}

/* ---- kernels ------------------------------------------------------------ */
#if !defined(SC_HIP_EMU)
#define SC_KERNEL(name, args_t, threads) \
    extern "C" __global__ void __launch_bounds__(threads) name(const args_t p)
#endif

/* ---- gfx11 matrix cores -------------------------------------------------- */
#if defined(SC_HIP_AMD) && (defined(__gfx1100__) || defined(__gfx1101__) || defined(__gfx1102__) || \
                            defined(__gfx1103__) || defined(__gfx1150__) || defined(__gfx1151__))
#define SC_HIP_WMMA 1
#else
#define SC_HIP_WMMA 0
#endif

/* ---- warp exchange -------------------------------------------------------- */
#if defined(SC_HIP_AMD)
static __device__ __forceinline__ float sc_shfl_xor(float v, int m) { return __shfl_xor(v, m, SC_WARP); }
static __device__ __forceinline__ int sc_shfl_xor(int v, int m) { return __shfl_xor(v, m, SC_WARP); }
static __device__ __forceinline__ float sc_shfl(float v, int l) { return __shfl(v, l, SC_WARP); }
static __device__ __forceinline__ int sc_shfl(int v, int l) { return __shfl(v, l, SC_WARP); }
#endif
/* (sc_hip_cuda.h and sc_hip_emu.h define the same four overloads) */

static __device__ __forceinline__ unsigned sc_lane(void) { return threadIdx.x % SC_WARP; }

static __device__ __forceinline__ float sc_warp_sum(float v) {
    for (int m = SC_WARP / 2; m > 0; m >>= 1) v += sc_shfl_xor(v, m);
    return v;
}
static __device__ __forceinline__ float sc_warp_max(float v) {
    for (int m = SC_WARP / 2; m > 0; m >>= 1) v = fmaxf(v, sc_shfl_xor(v, m));
    return v;
}

/* ---- packed int8 dot product ---------------------------------------------- */
#if defined(SC_HIP_AMD)
/* gfx11: v_dot4_i32_iu8 with both operands signed (gfx1030 and older: v_dot4_i32_i8) */
static __device__ __forceinline__ int sc_dot4_i8(int a, int b, int acc) {
#if defined(__gfx1100__) || defined(__gfx1101__) || defined(__gfx1102__) || defined(__gfx1103__) || \
    defined(__gfx1150__) || defined(__gfx1151__)
    return __builtin_amdgcn_sudot4(true, a, true, b, acc, false);
#else
    return __builtin_amdgcn_sdot4(a, b, acc, false);
#endif
}
#endif

/* ---- 16-bit floats (bit patterns in uint16_t) ------------------------------ */
static __device__ __forceinline__ float sc_bf2f(uint16_t b) { return __uint_as_float((uint32_t)b << 16); }
static __device__ __forceinline__ uint16_t sc_f2bf(float f) {
    uint32_t u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* NaN stays NaN */
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
#if defined(SC_HIP_AMD)
static __device__ __forceinline__ float sc_h2f(uint16_t h) { return (float)__builtin_bit_cast(_Float16, h); }
static __device__ __forceinline__ uint16_t sc_f2h(float f) { return __builtin_bit_cast(uint16_t, (_Float16)f); }
#endif

#endif /* SC_HIP_H */

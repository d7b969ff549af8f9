/*
 * kernels/sc_hip_cuda.h - our HIP-to-CUDA mapping for the kernel sources
 * (included by sc_hip.h under nvcc).
 *
 * Only the names kernels/<name>.hip use (sc_hip.h lists them) are mapped, onto
 * CUDA's own: HIP's warp functions take an optional width and no mask, CUDA's
 * *_sync forms take a mask of the lanes taking part (all 32 here: the kernels
 * keep whole warps converged at every exchange). Debian's HIP 5.2
 * nvidia_detail headers do the same job for the whole HIP API but no longer
 * compile with CUDA 12/13, hence this small header.
 *
 * The host half of the mapping is hip_runtime.c's "nvidia" table (the CUDA
 * driver API: cuModuleLoadData, cuLaunchKernel, ...). Build:
 *   nvcc -fatbin -arch=sm_90 -std=c++17 -Ikernels -x cu kernels/<file>.hip -o <file>.fatbin
 */
#ifndef SC_HIP_CUDA_H
#define SC_HIP_CUDA_H

#include <cuda_runtime.h>
#include <stdint.h>

#define SC_HIP_NVIDIA 1
#define SC_CUDA_FULL_MASK 0xffffffffu

static __device__ __forceinline__ float sc_shfl_xor(float v, int m) { return __shfl_xor_sync(SC_CUDA_FULL_MASK, v, m, 32); }
static __device__ __forceinline__ int sc_shfl_xor(int v, int m) { return __shfl_xor_sync(SC_CUDA_FULL_MASK, v, m, 32); }
static __device__ __forceinline__ float sc_shfl(float v, int l) { return __shfl_sync(SC_CUDA_FULL_MASK, v, l, 32); }
static __device__ __forceinline__ int sc_shfl(int v, int l) { return __shfl_sync(SC_CUDA_FULL_MASK, v, l, 32); }

/* signed 4 x int8 dot product: dp4a (sm_61+) */
static __device__ __forceinline__ int sc_dot4_i8(int a, int b, int acc) { return __dp4a(a, b, acc); }

/* f16 bits <-> float without cuda_fp16.h's class types: PTX cvt */
static __device__ __forceinline__ float sc_h2f(uint16_t h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
static __device__ __forceinline__ uint16_t sc_f2h(float f) {
    uint16_t h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}

#endif /* SC_HIP_CUDA_H */

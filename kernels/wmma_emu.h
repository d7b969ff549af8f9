/*
 * kernels/wmma_emu.h - gfx11 WMMA (v_wmma_f32_16x16x16_f16 / _bf16, wave32)
 * for the kernels that use it (matmul_gemm.hip, attn.hip): the operand types
 * and one call, the instruction where SC_HIP_WMMA, else in EMU test builds
 * with -DSC_MM_EMU_WMMA the instruction emulated per the documented layout.
 * SC_WMMA_ON says whether either is there; elsewhere (EMU default, NVIDIA,
 * gfx without WMMA) the kernels that need it compile to an empty body.
 *
 * Operand layout (gfx11, wave32; AMD's "WMMA on RDNA 3" and LLVM's AMDGPU
 * tests): D = A (16 x 16, M x K) * B (16 x 16, K x N) + C.
 *   A: lane l holds row l % 16, its 16 K values in order (16 halves);
 *   B: lane l holds column l % 16, its 16 K values in order;
 *      lanes 16..31 repeat lanes 0..15 (both halves of the wave load the same);
 *   C, D: 8 floats per lane; element i is D[2i + l / 16][l % 16].
 * Every lane of the warp must make the call (warp-uniform control flow).
 */
#ifndef SC_WMMA_EMU_H
#define SC_WMMA_EMU_H

#include "sc_hip.h"

#if SC_HIP_WMMA
#define SC_WMMA_ON 1
typedef _Float16 sc_wmma_v16h __attribute__((ext_vector_type(16)));
typedef short sc_wmma_v16s __attribute__((ext_vector_type(16)));
typedef float sc_wmma_v8f __attribute__((ext_vector_type(8)));
#elif defined(SC_HIP_EMU) && defined(SC_MM_EMU_WMMA)
#define SC_WMMA_ON 1
struct sc_wmma_v8f {
    float v[8];
    float &operator[](int i) { return v[i]; }
};
#else
#define SC_WMMA_ON 0
#endif

#if SC_WMMA_ON
/* one A or B operand: 16 16-bit values of a lane, two a word, in K order */
struct sc_wmma_u8w {
    uint32_t v[8];
};

/* c + A * B with f16 (BF false) or bf16 (BF true) operands, f32 accumulation */
template <bool BF>
static __device__ __forceinline__ sc_wmma_v8f sc_wmma(const sc_wmma_u8w &a, const sc_wmma_u8w &b, sc_wmma_v8f c) {
#if !SC_HIP_WMMA /* EMU test build: D[2i + l/16][l%16] += sum_k A[2i + l/16][k] * B[k][l%16] */
    const int l = (int)sc_lane();
    for (int i = 0; i < 8; i++) {
        float s = 0.0f;
        for (int k = 0; k < 16; k++) {
            const uint16_t ak = (uint16_t)(a.v[k / 2] >> (16 * (k % 2))), bk = (uint16_t)(b.v[k / 2] >> (16 * (k % 2)));
            const float av = sc_shfl(BF ? sc_bf2f(ak) : sc_h2f(ak), 2 * i + l / 16); /* row 2i + l/16 is lane 2i + l/16's */
            s += av * (BF ? sc_bf2f(bk) : sc_h2f(bk));
        }
        c[i] += s;
    }
    return c;
#else
    if constexpr (BF)
        return __builtin_amdgcn_wmma_f32_16x16x16_bf16_w32(__builtin_bit_cast(sc_wmma_v16s, a),
                                                           __builtin_bit_cast(sc_wmma_v16s, b), c);
    else
        return __builtin_amdgcn_wmma_f32_16x16x16_f16_w32(__builtin_bit_cast(sc_wmma_v16h, a),
                                                          __builtin_bit_cast(sc_wmma_v16h, b), c);
#endif
}

/* two floats as 16-bit values (f16 or bf16, round to nearest even), lo first */
template <bool BF> static __device__ __forceinline__ uint32_t sc_wmma_pack16(float lo, float hi) {
    return BF ? (uint32_t)sc_f2bf(lo) | ((uint32_t)sc_f2bf(hi) << 16) : (uint32_t)sc_f2h(lo) | ((uint32_t)sc_f2h(hi) << 16);
}
#endif

#endif /* SC_WMMA_EMU_H */

// backends/vulkan/shaders/mul_mat_common.glsl - what the MUL_MAT / MUL_MAT_ID
// shaders share: push constants (mirrored by vk_op_matmul.h), specialization
// constants, weight access and the QG dequantisation of docs/ops.md.
//
// Shapes (ggml order, ne0 innermost):
//   mul_mat    : w [K, N, B2, B3], x f32 [K, M, b2, b3] -> y f32 [N, M, b2, b3]
//   mul_mat_id : w [K, N, E],      x f32 [K, X, T], ids i32 [n_used, T]
//                -> y f32 [N, n_used, T]
// A weight "row" n is the K-long run W[:, n]; an activation "column" m is the
// K-long run x[:, m]; an output column is the N-long run y[:, m]. Every row
// and column is contiguous; the strides between them are free.
//
// Defines: MUL_MAT_ID (the push block and column mapping of MUL_MAT_ID);
// the GEMV's fused epilogues (mul_mat_vec.comp, vk_fuse_gemv.c), each with a
// push block of its own (<= 128 bytes, the guaranteed minimum):
//   EPI_SWIGLU  a second weight matrix w2 of w's layout: y = silu(W x) * (W2 x)
//               (MUL_MAT: 2-D only; MUL_MAT_ID: per (i, t) pair)
//   EPI_ADD     MUL_MAT, 2-D only: y = r + W x (r: residual of y's shape)
//   EPI_MOE     MUL_MAT_ID: y[:, t] = r[:, t] + sum_i rw[i, t] * (W_{ids[i, t]} x[:, i, t])
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

// ---- specialization constants (0..2: local size, from common.glsl) --------------
layout(constant_id = 3) const uint WTYPE = 0;   // sc_type of w: 0 f32, 1 f16, 2 bf16, 5 QG
layout(constant_id = 4) const uint QBITS = 4;   // QG: 2, 3, 4 or 8
layout(constant_id = 5) const uint QFLAGS = 0;  // QG: SC_QUANT_* (1 g_idx, 2 bf16 rounding)
layout(constant_id = 6) const uint GMODE = 2;   // GEMV, QG: how the group of a code is found (below)
layout(constant_id = 7) const uint UW = 1;      // GEMV: u32 words (QG) / elements (dense) per lane per step
layout(constant_id = 8) const uint NR = 1;      // GEMV: weight rows per workgroup
layout(constant_id = 9) const uint NC = 1;      // GEMV: activation columns per workgroup; GEMM: tile width
layout(constant_id = 10) const uint OPTS = 0;   // GEMV: OPT_* below
layout(constant_id = 11) const uint SGX = 32;   // GEMV: the subgroup size the host expects

const uint W_F32 = 0u, W_F16 = 1u, W_BF16 = 2u, W_QG = 5u;
const uint QF_GIDX = 1u, QF_BF16 = 2u;
const uint OPT_SUBGROUP = 1u; // reduce with subgroupAdd (vk_caps.subgroup_arithmetic)
const uint OPT_XVEC4 = 2u;    // x base and strides are 16-byte aligned: vec4 loads of x
const uint OPT_WGX = 4u;      // (host bookkeeping) the WGX module: NR == warps * rows per warp
// GMODE: 0: every code of a GEMV step (UW words) is in one group (group_size a
// multiple of the codes per step, or one group per row); 1: every 8 (4 for
// 8-bit) codes are (group_size a multiple of that); 2: look the group up per
// code (g_idx, or odd group sizes).

const bool HAS_GIDX = (QFLAGS & QF_GIDX) != 0u;
const bool BF16_ROUND = (QFLAGS & QF_BF16) != 0u;
const uint QMASK = (1u << QBITS) - 1u;

// ---- push constants ---------------------------------------------------------------
// Byte strides for weights (slabs can pass 4 GiB), element (float) strides for x
// and y. base_x / base_z: workgroup offsets when the host splits a grid past 65535.
#if defined(MUL_MAT_ID) && defined(EPI_MOE)
layout(push_constant) uniform Push {
    uint64_t w, x, y, err;      // x [K, X, T] (X == n_used, or 1: x_nb1 == 0); y [N, T]
    uint64_t ids, rw, r;        // rw: routing weights f32, slot i of token t at i + t * rw_nb2; r: residual [N, T] or 0
    uint w_nb2, w_nb1, K, N;    // w_nb2: bytes between experts
    uint E, x_nb1, x_nb2, n_used;
    uint ids_nb1, rw_nb2, y_nb1, r_nb1;
    uint q_scales, q_zeros, q_gidx, group_size;
    uint G, base_x;             // grid z (tokens) is never split
} pc;
#elif defined(MUL_MAT_ID) && defined(EPI_SWIGLU)
layout(push_constant) uniform Push {
    uint64_t w, x, y, err;
    uint64_t ids, w2;           // w2: the second stack, w's layout
    uint w_nb2, w_nb1, K, N;
    uint E, x_nb1, x_nb2, y_nb1;
    uint y_nb2, n_used, x_bcast, ids_nb1;
    uint q_scales, q_zeros, q_gidx, group_size;
    uint G, base_x, base_z, pad_;
} pc;
#elif defined(EPI_SWIGLU) || defined(EPI_ADD)
layout(push_constant) uniform Push {
    uint64_t w, x, y, err;      // w [K, N], x [K, M], y [N, M]: one matrix, no batch
#ifdef EPI_SWIGLU
    uint64_t w2;                // the second matrix, w's layout
#else
    uint64_t r;                 // the residual [N, M], r_nb1 floats between columns
#endif
    uint w_nb1, K, N, M;
    uint x_nb1, y_nb1, r_nb1, q_scales;
    uint q_zeros, q_gidx, group_size, G;
    uint base_x, base_z;
} pc;
#elif !defined(MUL_MAT_ID)
layout(push_constant) uniform Push {
    uint64_t w, x, y, err;
    uint64_t w_nb2, w_nb3;      // bytes between weight matrices (QG: slabs)
    uint w_nb1, K, N, M;        // w_nb1: bytes between weight rows (QG: row_bytes)
    uint x_nb1, x_nb2, x_nb3;   // floats
    uint y_nb1, y_nb2, y_nb3;   // floats
    uint ne2, r2, r3;           // x/y ne[2]; broadcast factors b2/B2, b3/B3
    uint q_scales, q_zeros, q_gidx, group_size, G; // QG: byte offsets inside a slab
    uint base_x, base_z;
} pc;
#else
layout(push_constant) uniform Push {
    uint64_t w, x, y, err;
    uint64_t ids;               // GEMV: ids i32 [n_used, T]; grouped GEMM: the expert lists
    uint64_t w_nb2;             // bytes between experts
    uint w_nb1, K, N, E;
    uint x_nb1, x_nb2, y_nb1, y_nb2; // floats
    uint n_used, T, x_bcast, ids_nb1; // x_bcast: X == 1; ids_nb1 in i32 elements
    uint q_scales, q_zeros, q_gidx, group_size, G;
    uint base_x, base_z;
    uint pad_;
} pc;
#endif

// ---- memory views (read-only, with the alignment the host checked) -----------------
layout(buffer_reference, scalar, buffer_reference_align = 4) readonly buffer RF32 { float v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 4) readonly buffer RU32 { uint v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 4) readonly buffer RI32 { int v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 2) readonly buffer RU16 { uint16_t v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 1) readonly buffer RU8 { uint8_t v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 16) readonly buffer RVec4 { vec4 v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 16) readonly buffer RU32x4 { uvec4 v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 8) readonly buffer RU32x2 { uvec2 v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 4) writeonly buffer WF32 { float v[]; };

void flag_range_error() { atomicOr(ErrBuf(pc.err).flag, ERR_RANGE); }

#include "qg_round.glsl"

// W = round(scale * (code - zero))
float qg_weight(uint code, float scale, int zero) {
    float p = scale * float(int(code) - zero);
    return BF16_ROUND ? round_to_bf16(p) : round_to_f16(p);
}

// ---- QG slab addressing ---------------------------------------------------------
// Slab: codes [N rows x w_nb1 bytes], f16 scales [N, G] at q_scales, u8 zeros
// [N, G] at q_zeros, i32 g_idx [K] at q_gidx.
uint qg_row_words() { return (pc.K * QBITS + 31u) / 32u; }
uint64_t qg_scales_row(uint64_t slab, uint n) { return slab + pc.q_scales + uint64_t(n) * pc.G * 2u; }
uint64_t qg_zeros_row(uint64_t slab, uint n) { return slab + pc.q_zeros + uint64_t(n) * pc.G; }

// The group of column k (GMODE 2): g_idx[k] or k / group_size. An out-of-range
// g_idx entry raises the error flag and returns -1 (its terms are dropped).
int qg_group(uint64_t slab, uint k) {
    if (!HAS_GIDX) return int(k / pc.group_size);
    int g = RI32(slab + pc.q_gidx).v[k];
    if (g < 0 || uint(g) >= pc.G) {
        flag_range_error();
        return -1;
    }
    return g;
}

// Code k of a row of codes (any bit width; a 3-bit field may straddle words).
uint qg_code(uint64_t row, uint k, uint row_words) {
    uint bo = k * QBITS, wi = bo >> 5, sh = bo & 31u;
    uint v = RU32(row).v[wi] >> sh;
    if (sh + QBITS > 32u && wi + 1u < row_words) v |= RU32(row).v[wi + 1u] << (32u - sh);
    return v & QMASK;
}

// The fully dequantised weight W[n][k] (slow path: tails, GEMM tile loads of odd layouts).
float qg_weight_at(uint64_t slab, uint n, uint k, uint row_words) {
    int g = qg_group(slab, k);
    if (g < 0) return 0.0;
    uint code = qg_code(slab + uint64_t(n) * pc.w_nb1, k, row_words);
    float s = f16_to_f32(RU16(qg_scales_row(slab, n)).v[g]);
    int z = int(RU8(qg_zeros_row(slab, n)).v[g]);
    return qg_weight(code, s, z);
}

// ---- dense weights -------------------------------------------------------------------
float dense_at(uint64_t row, uint k) {
    if (WTYPE == W_F32) return RF32(row).v[k];
    if (WTYPE == W_F16) return f16_to_f32(RU16(row).v[k]);
    return bf16_to_f32(RU16(row).v[k]);
}

// Four consecutive elements k = 4*q .. 4*q+3 of a row aligned to 16 (f32) or 8 bytes.
vec4 dense_at4(uint64_t row, uint q) {
    if (WTYPE == W_F32) return RVec4(row).v[q];
    uvec2 h = RU32x2(row).v[q];
    if (WTYPE == W_F16) return vec4(unpackHalf2x16(h.x), unpackHalf2x16(h.y));
    return uintBitsToFloat(uvec4(h.x << 16, h.x & 0xffff0000u, h.y << 16, h.y & 0xffff0000u));
}

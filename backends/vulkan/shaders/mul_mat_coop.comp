#version 450
// backends/vulkan/shaders/mul_mat_coop.comp - MUL_MAT on the matrix units
// (vk_op_matmul_coop.c): prefill, many activation columns.
//
//   w [K, N, B2, B3] (f16, bf16, QG), x f32 [K, M, b2, b3] -> y f32 [N, M, b2, b3]
//
// Written against GL_NV_cooperative_matrix, which Debian 12's glslc knows;
// the build rewrites the SPIR-V into SPV_KHR_cooperative_matrix
// (tools/spv_coopmat_khr.c), the extension RADV and NVIDIA expose. For that
// rewrite every matrix type must have one use: A (weights) is
// <CM_M x CM_K>, B (activations) <CM_K x CM_N>, C <CM_M x CM_N>, the three
// dimensions being specialization constants of distinct ids, so A and B are
// distinct types even when the shape is 16 x 16 x 16. Avoid .length() (it
// becomes an OpSpecConstantOp on spec-sized types).
//
// A workgroup of NSG = 8 subgroups (SGS lanes each: the host requires that
// size) computes a BN x BM = 128 x 128 tile of y: weight rows n0.., columns
// m0... Subgroup (sn, sm) of a 2 x 4 grid owns 64 x 32 of it: FN x FM
// accumulators of CM_M x CM_N f32.
// The K loop runs in BK = 64 steps through shared memory, all in f16:
//   Ws[n][k] = W[n, k0 + k] (QG dequantised: round(scale * (code - zero)) to
//              f16 (or bf16 when QF_BF16) as docs/ops.md says, then to f16:
//              exact unless the value lies outside f16's range)
//   Xs[m][k] = f16(x[k0 + k, m]) (the device's conversion: round to nearest)
// each a row of BK halves as uvec4s plus one uvec4 of padding (a 144-byte row
// pitch: the 8 rows of a 16-byte-per-row matrix fetch hit distinct banks).
// A is read row-major from Ws, B column-major from Xs. The next step's global
// loads are issued into registers before the current step's MMAs run.
//
// Numerics: x is rounded to f16 (relative error <= 2^-11 per element; 2^-10
// on a device whose f32 -> f16 conversion truncates), weights
// are exact (f16, QG) or exact within f16's range (bf16), products and sums
// are f32: nmse ~ 2^-22 / 3 relative to the f32 path, below every
// backend-ops bound for f16/bf16/QG weights. |x| > 65504 would become inf.
//
// grid x = row tiles (+ base_x), y = column tiles, z = batch matrix
// i2 + ne2*i3 (+ base_z).
//
// -DMUL_MAT_ID (module mul_mat_coop_id): MUL_MAT_ID grouped by expert,
//
//   w [K, N, E], x f32 [K, X, T] (X == n_used, or 1: broadcast),
//   pairs sorted by expert -> y f32 [N, n_used, T]
//
// after mul_mat_id_group.comp has written the expert lists (u32 at pc.lists:
// off[E + 1], then the pairs p = i + n_used*t grouped by expert; expert e's
// are list[off[e] .. off[e+1]-1]). Tiles of BN x BM = 128 x 64 (an expert
// gets about 32 pairs in a 512-token prompt of a 128-expert, top-8 model:
// 128 columns would be three quarters padding), subgroups 4 x 2 of 32 x 32.
// grid x = row tiles (+ base_x), y = expert, z = zs: the workgroup takes the
// expert's column tiles zs, zs + zsplit, ... (the host sizes zsplit to the
// pairs per expert on average; a busier expert loops). A tile's columns are
// gathered: column j is pair p = colp[j], read from x[:, X == 1 ? 0 : i, t];
// results are scattered to y[:, i, t] element by element through shared
// memory (the columns of a tile are not evenly spaced in y).
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

// ---- specialization constants (0..2: local size) ----------------------------------
layout(constant_id = 3) const uint WTYPE = 1u;  // sc_type of w: 1 f16, 2 bf16, 5 QG
layout(constant_id = 4) const uint QBITS = 4u;  // QG: 2, 3, 4 or 8
layout(constant_id = 5) const uint QFLAGS = 0u; // QG: 1 g_idx, 2 bf16 rounding
layout(constant_id = 6) const uint GMODE = 0u;  // QG: 0 every 8-code chunk in one group, 2 per code
layout(constant_id = 7) const uint CM_M = 16u;  // matrix-unit shape: rows of A and C
layout(constant_id = 8) const uint CM_N = 16u;  //   columns of B and C
layout(constant_id = 9) const uint CM_K = 16u;  //   columns of A, rows of B (a multiple of 8)
layout(constant_id = 10) const uint SGS = 32u;  // the subgroup size the pipeline runs with
layout(constant_id = 11) const uint OPTS = 0u;  // OPT_* below
// MUL_MAT split along K (one matrix only, ne2 = ne3 = 1): grid z = the split
// s < SPLITK, which sums K steps [s * KS, (s + 1) * KS) (KS a multiple of BK)
// into its own partial y at pc.y + s * M * y_nb1 floats; mul_mat_splitk.comp
// adds the partials in split order. For grids too small to fill the device.
layout(constant_id = 12) const uint SPLITK = 1u;

const uint W_F16 = 1u, W_BF16 = 2u, W_QG = 5u;
const uint QF_GIDX = 1u, QF_BF16 = 2u;
const uint OPT_WVEC = 1u; // weight rows 16-byte aligned: uvec4 loads of 8 halves
const uint OPT_XVEC = 2u; // x base and strides 16-byte aligned: vec4 loads
// OPT_QVEC: 4-bit QG, GMODE 0, groups and K multiples of 32, 16-byte aligned
// rows, 256 lanes: each lane fetches one row's 32 codes (4 chunks) as one
// uvec4 with their group's scale and zero, rather than 4 x (word, scale, zero)
const uint OPT_QVEC = 4u;
const bool QVEC = (OPTS & OPT_QVEC) != 0u;
// OPT_XF16: pc.x is x_to_f16.comp's f16 rows [columns][x_nb1 halves], 16-byte
// aligned with zeros past K: 8 halves per load, no conversion here
const uint OPT_XF16 = 8u;
const bool XF16 = (OPTS & OPT_XF16) != 0u;
const bool HAS_GIDX = (QFLAGS & QF_GIDX) != 0u;
const bool BF16_ROUND = (QFLAGS & QF_BF16) != 0u;
const uint QMASK = (1u << QBITS) - 1u;

// Tiles (one module each; vk_op_matmul_coop.c's table mirrors them):
//   mul_mat_coop       128 x 128, 8 subgroups of 64 x 32
//   mul_mat_coop_m64   128 x 64,  8 subgroups of 32 x 32 (TILE_M64)
//   mul_mat_coop_id    the same as m64, MUL_MAT_ID
// Tried on an H200 and dropped: two shared stages with one barrier per K step
// and the loads two steps ahead (BK 32, to stay within the 48 KB of shared
// memory NVIDIA's Vulkan driver allows): 12-28% slower than m64; 4 subgroups
// of 64 x 32 in a 128 x 64 tile (162 registers a lane): 30-60% slower.
#if !defined(MUL_MAT_ID) && !defined(TILE_M64)
const uint BN = 128u, BM = 128u, BK = 64u;
const uint NSG = 8u, WGN = 2u;          // subgroups: 2 along n x 4 along m
const uint TN = 64u, TM = 32u;          // a subgroup's tile
#else // MUL_MAT_ID, and MUL_MAT's TILE_M64 (mul_mat_coop_m64: half the accumulators)
const uint BN = 128u, BM = 64u, BK = 64u;
const uint NSG = 8u, WGN = 4u;          // subgroups: 4 along n x 2 along m
const uint TN = 32u, TM = 32u;          // a subgroup's tile
#endif
const uint FN = TN / CM_M, FM = TM / CM_N;
const uint NT = NSG * SGS;              // lanes (local_size_x)
const uint ROWQ = BK / 8u + 1u;         // uvec4 per shared row (8 halves each), +1 pad
const uint CPR = BK / 8u;               // 8-element chunks per row per step
const uint WCH = BN * CPR / NT;         // weight chunks per lane per step
const uint XCH = BM * CPR / NT;         // activation chunks per lane per step

// ---- push constants (mirrored by vk_op_matmul_coop.c: coop_push, coop_id_push) -----
#ifdef MUL_MAT_ID
layout(push_constant) uniform Push {
    uint64_t w, x, y, err;
    uint64_t lists;             // the expert lists of mul_mat_id_group.comp
    uint64_t w_nb2;             // bytes between experts (QG: slabs)
    uint w_nb1, K, N, E;        // w_nb1: bytes between weight rows (QG: row_bytes)
    uint x_nb1, x_nb2, y_nb1, y_nb2; // floats
    uint n_used, x_bcast, zsplit, base_x; // x_bcast: X == 1
    uint q_scales, q_zeros, q_gidx, group_size, G; // QG: byte offsets inside a slab
    uint pad_;
} pc;
#else
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
#endif

layout(buffer_reference, scalar, buffer_reference_align = 4) readonly buffer RF32 { float v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 4) readonly buffer RU32 { uint v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 4) readonly buffer RI32 { int v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 2) readonly buffer RU16 { uint16_t v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 1) readonly buffer RU8 { uint8_t v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 16) readonly buffer RVec4 { vec4 v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 16) readonly buffer RU32x4 { uvec4 v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 4) buffer WF32 { float v[]; };

shared uvec4 Ws[BN * ROWQ];
shared uvec4 Xs[BM * ROWQ];
shared float Cs[NSG * CM_M * CM_N]; // a subgroup's accumulator on its way to a tile edge
#ifdef MUL_MAT_ID
shared uint colp[BM];               // the tile's pairs p = i + n_used*t
uint g_mcount;                      // the tile's valid columns (<= BM)
#endif

// ---- rounding of a dequantised weight: qg_round.glsl (shared with the GEMV/GEMM) --
#include "qg_round.glsl"

float qg_weight(uint code, float scale, int zero) {
    float p = scale * float(int(code) - zero);
    return BF16_ROUND ? round_to_bf16(p) : round_to_f16(p);
}

// two f32 that are f16 values -> one u32 of two halves (exact)
uint pack2(float a, float b) { return packFloat2x16(f16vec2(float16_t(a), float16_t(b))); }

uint64_t g_mat;        // weight matrix / QG slab
uint g_row_words;      // QG: u32 words per row

// ---- global -> registers -------------------------------------------------------------
// Weight chunk: 8 elements k .. k+7 of row n. Dense: 8 halves. QG: the code bits
// (.x, and .y for 8-bit), scale bits (.z) and zero (.w) of the chunk's group
// (GMODE 0); GMODE 2 looks groups up per code when committing.
uvec4 fetch_w(uint n, uint k) {
    const uint K = pc.K;
    uvec4 r = uvec4(0u);
    if (n >= pc.N || k >= K) return r;
    const uint64_t row = g_mat + uint64_t(n) * pc.w_nb1;
    if (WTYPE == W_QG) {
        const uint bo = k * QBITS, wi = bo >> 5, sh = bo & 31u;
        if (QBITS == 8u) {
            r.x = RU32(row).v[wi];
            if (wi + 1u < g_row_words) r.y = RU32(row).v[wi + 1u];
        } else {
            uint bits = RU32(row).v[wi] >> sh;
            if (sh + 8u * QBITS > 32u && wi + 1u < g_row_words) bits |= RU32(row).v[wi + 1u] << (32u - sh);
            r.x = bits;
        }
        if (GMODE == 0u) {
            const uint g = k / pc.group_size;
            r.z = uint(RU16(g_mat + pc.q_scales + uint64_t(n) * pc.G * 2u).v[g]);
            r.w = uint(RU8(g_mat + pc.q_zeros + uint64_t(n) * pc.G).v[g]);
        }
    } else if ((OPTS & OPT_WVEC) != 0u && k + 8u <= K) {
        r = RU32x4(row).v[k / 8u];
    } else {
        uint h[8];
        [[unroll]] for (uint i = 0; i < 8u; i++) h[i] = k + i < K ? uint(RU16(row).v[k + i]) : 0u;
        r = uvec4(h[0] | (h[1] << 16), h[2] | (h[3] << 16), h[4] | (h[5] << 16), h[6] | (h[7] << 16));
    }
    return r;
}

// OPT_QVEC: codes k .. k+31 (k a multiple of 32) of row n, and their group's
// scale bits | zero << 16 in sz (zeros past N and K: dequant_w masks them).
uvec4 fetch_q4(uint n, uint k, out uint sz) {
    sz = 0u;
    if (n >= pc.N || k >= pc.K) return uvec4(0u);
    const uint g = k / pc.group_size;
    sz = uint(RU16(g_mat + pc.q_scales + uint64_t(n) * pc.G * 2u).v[g]) |
         (uint(RU8(g_mat + pc.q_zeros + uint64_t(n) * pc.G).v[g]) << 16);
    return RU32x4(g_mat + uint64_t(n) * pc.w_nb1).v[k / 32u];
}

// The f16 halves of a fetched weight chunk.
uvec4 dequant_w(uvec4 r, uint n, uint k) {
    const uint K = pc.K;
    if (WTYPE == W_F16) return r;
    if (WTYPE == W_BF16) {
        uvec4 o;
        [[unroll]] for (uint i = 0; i < 4u; i++)
            o[i] = pack2(uintBitsToFloat(r[i] << 16), uintBitsToFloat(r[i] & 0xffff0000u));
        return o;
    }
    float v[8];
    [[unroll]] for (uint i = 0; i < 8u; i++) v[i] = 0.0;
    if (n < pc.N && k < K) {
        if (GMODE == 0u && !BF16_ROUND) {
            // f16 multiplies: (code - zero) is an integer |.| <= 255, exact in f16,
            // and one IEEE f16 multiply rounds scale * (code - zero) to nearest
            // even, which is round_to_f16 of the exact product (as the GEMV's
            // QG_F16MUL variant relies on)
            const float16_t s = unpackFloat2x16(r.z).x;
            const int z = int(r.w);
            uvec4 o;
            [[unroll]] for (uint i = 0; i < 8u; i += 2u) {
                const uint c0 = QBITS == 8u ? ((i < 4u ? r.x : r.y) >> (8u * (i & 3u))) & 0xffu
                                            : (r.x >> (i * QBITS)) & QMASK;
                const uint c1 = QBITS == 8u ? ((i < 4u ? r.x : r.y) >> (8u * ((i + 1u) & 3u))) & 0xffu
                                            : (r.x >> ((i + 1u) * QBITS)) & QMASK;
                f16vec2 v = f16vec2(ivec2(int(c0), int(c1)) - z) * s;
                if (k + i >= K) v.x = float16_t(0.0);
                if (k + i + 1u >= K) v.y = float16_t(0.0);
                o[i / 2u] = packFloat2x16(v);
            }
            return o;
        } else if (GMODE == 0u) {
            const float s = f16_to_f32(uint16_t(r.z));
            const int z = int(r.w);
            [[unroll]] for (uint i = 0; i < 8u; i++) {
                const uint code = QBITS == 8u ? ((i < 4u ? r.x : r.y) >> (8u * (i & 3u))) & 0xffu
                                              : (r.x >> (i * QBITS)) & QMASK;
                if (k + i < K) v[i] = qg_weight(code, s, z);
            }
        } else { // per code: g_idx, or groups not a multiple of 8
            const uint64_t srow = g_mat + pc.q_scales + uint64_t(n) * pc.G * 2u;
            const uint64_t zrow = g_mat + pc.q_zeros + uint64_t(n) * pc.G;
            [[unroll]] for (uint i = 0; i < 8u; i++) {
                if (k + i < K) {
                    int g = HAS_GIDX ? RI32(g_mat + pc.q_gidx).v[k + i] : int((k + i) / pc.group_size);
                    if (g < 0 || uint(g) >= pc.G) {
                        atomicOr(ErrBuf(pc.err).flag, ERR_RANGE);
                    } else {
                        const uint code = QBITS == 8u ? ((i < 4u ? r.x : r.y) >> (8u * (i & 3u))) & 0xffu
                                                      : (r.x >> (i * QBITS)) & QMASK;
                        v[i] = qg_weight(code, f16_to_f32(RU16(srow).v[g]), int(RU8(zrow).v[g]));
                    }
                }
            }
        }
    }
    return uvec4(pack2(v[0], v[1]), pack2(v[2], v[3]), pack2(v[4], v[5]), pack2(v[6], v[7]));
}

#ifndef MUL_MAT_ID
// Activation chunk: x[k .. k+7, column m] (zeros past K and M).
void fetch_x(uint64_t xb, uint m, uint k, out vec4 a, out vec4 b) {
    const uint K = pc.K;
    a = vec4(0.0);
    b = vec4(0.0);
    if (m >= pc.M || k >= K) return;
    const uint64_t col = xb + 4u * uint64_t(m) * pc.x_nb1;
    if ((OPTS & OPT_XVEC) != 0u && k + 8u <= K) {
        a = RVec4(col).v[k / 4u];
        b = RVec4(col).v[k / 4u + 1u];
    } else {
        [[unroll]] for (uint i = 0; i < 4u; i++) {
            if (k + i < K) a[i] = RF32(col).v[k + i];
            if (k + 4u + i < K) b[i] = RF32(col).v[k + 4u + i];
        }
    }
}

// OPT_XF16: halves k .. k+7 of activation row m (zeros past M; past K the row's padding is zero).
uvec4 fetch_xh(uint m, uint k) {
    if (m >= pc.M || k >= pc.K) return uvec4(0u);
    return RU32x4(pc.x + 2u * uint64_t(m) * pc.x_nb1).v[k / 8u];
}

#else
// x column (slot i, token t) of pair p, and y's. OPT_XF16: the f16 row of that
// column in x_to_f16.comp's copy (rows x_nb1 halves apart: token t, or slot i
// of token t at i + n_used*t).
uint64_t pair_x(uint p) {
    const uint i = p % pc.n_used, t = p / pc.n_used;
    if (XF16) return pc.x + 2u * uint64_t(pc.x_bcast != 0u ? t : i + pc.n_used * t) * pc.x_nb1;
    return pc.x + 4u * (uint64_t(pc.x_bcast != 0u ? 0u : i) * pc.x_nb1 + uint64_t(t) * pc.x_nb2);
}
uint64_t pair_y(uint p) {
    const uint i = p % pc.n_used, t = p / pc.n_used;
    return pc.y + 4u * (uint64_t(i) * pc.y_nb1 + uint64_t(t) * pc.y_nb2);
}

// Activation chunk: x[k .. k+7] of the column at address col (0: a padding
// column past the expert's pairs; zeros there and past K).
void fetch_x(uint64_t col, uint k, out vec4 a, out vec4 b) {
    const uint K = pc.K;
    a = vec4(0.0);
    b = vec4(0.0);
    if (col == 0ul || k >= K) return;
    if ((OPTS & OPT_XVEC) != 0u && k + 8u <= K) {
        a = RVec4(col).v[k / 4u];
        b = RVec4(col).v[k / 4u + 1u];
    } else {
        [[unroll]] for (uint i = 0; i < 4u; i++) {
            if (k + i < K) a[i] = RF32(col).v[k + i];
            if (k + 4u + i < K) b[i] = RF32(col).v[k + 4u + i];
        }
    }
}

// OPT_XF16: halves k .. k+7 of the f16 row at col (0: padding; the row's tail past K is zero).
uvec4 fetch_xh(uint64_t col, uint k) {
    if (col == 0ul || k >= pc.K) return uvec4(0u);
    return RU32x4(col).v[k / 8u];
}

#endif

// x -> f16 by the device's conversion (OpFConvert: round to nearest on NVIDIA
// and AMD; a device that truncated would double the error, still inside the
// bounds). round_to_f16 in integer arithmetic cost as much as the weights.
uvec4 to_f16x8(vec4 a, vec4 b) {
    return uvec4(packFloat2x16(f16vec2(a.xy)), packFloat2x16(f16vec2(a.zw)), packFloat2x16(f16vec2(b.xy)),
                 packFloat2x16(f16vec2(b.zw)));
}

void main() {
    const uint tid = gl_LocalInvocationID.x;
    if (gl_NumSubgroups != NSG) { // the host's subgroup size did not hold: refuse, loudly
        if (tid == 0u) atomicOr(ErrBuf(pc.err).flag, ERR_RANGE);
        return;
    }
    const uint sg = gl_SubgroupID, sn = sg % WGN, sm = sg / WGN;
    const uint n0 = (gl_WorkGroupID.x + pc.base_x) * BN;
#ifndef MUL_MAT_ID
    const uint m0 = gl_WorkGroupID.y * BM;
    const uint z = SPLITK > 1u ? 0u : gl_WorkGroupID.z + pc.base_z;
    const uint i2 = z % pc.ne2, i3 = z / pc.ne2;
    g_mat = pc.w + uint64_t(i2 / pc.r2) * pc.w_nb2 + uint64_t(i3 / pc.r3) * pc.w_nb3;
    g_row_words = (pc.K * QBITS + 31u) / 32u;
    const uint64_t xb = pc.x + 4u * (uint64_t(i2) * pc.x_nb2 + uint64_t(i3) * pc.x_nb3);
    // this workgroup's K steps [kbeg, kend), and its partial's base (SPLITK)
    const uint ks = SPLITK > 1u ? gl_WorkGroupID.z : 0u;
    const uint kstep = SPLITK > 1u ? ((pc.K + SPLITK - 1u) / SPLITK + BK - 1u) / BK * BK : pc.K;
    const uint kbeg = min(pc.K, ks * kstep), kend = min(pc.K, kbeg + kstep);
    const uint64_t yb = pc.y + 4u * (uint64_t(i2) * pc.y_nb2 + uint64_t(i3) * pc.y_nb3 +
                                     uint64_t(ks) * pc.M * pc.y_nb1);
#else
    const uint ex = gl_WorkGroupID.y;
    g_mat = pc.w + uint64_t(ex) * pc.w_nb2;
    g_row_words = (pc.K * QBITS + 31u) / 32u;
    const uint off = RU32(pc.lists).v[ex], cnt = RU32(pc.lists).v[ex + 1u] - off;
    // the expert's column tiles gl_WorkGroupID.z, + zsplit, ... (uniform in the workgroup)
    for (uint mt0 = gl_WorkGroupID.z * BM; mt0 < cnt; mt0 += pc.zsplit * BM) {
    barrier(); // the previous tile's colp is no longer read
    if (tid < BM) colp[tid] = mt0 + tid < cnt ? RU32(pc.lists).v[pc.E + 1u + off + mt0 + tid] : 0u;
    barrier();
    g_mcount = min(BM, cnt - mt0);
    uint64_t xcol[XCH]; // this lane's activation columns (0: padding)
    [[unroll]] for (uint i = 0; i < XCH; i++) {
        const uint c = (tid + i * NT) / CPR;
        xcol[i] = c < g_mcount ? pair_x(colp[c]) : 0ul;
    }
    const uint kbeg = 0u, kend = pc.K;
#endif

    fcoopmatNV<32, gl_ScopeSubgroup, CM_M, CM_N> acc[FN * FM];
    [[unroll]] for (uint i = 0; i < FN * FM; i++) acc[i] = fcoopmatNV<32, gl_ScopeSubgroup, CM_M, CM_N>(0.0);

    // registers holding the next step's tiles (QVEC: lane tid owns row tid / 2,
    // chunks (tid % 2) * 4 .. + 3 of every step, fetched as qv / qsz)
    uvec4 wr[WCH];
    uvec4 qv;
    uint qsz;
    vec4 xa[XCH], xc[XCH];
    uvec4 xh[XCH];
    const uint qn = tid / 2u, qc = (tid % 2u) * 4u;
    if (QVEC) {
        qv = fetch_q4(n0 + qn, kbeg + qc * 8u, qsz);
    } else {
        [[unroll]] for (uint i = 0; i < WCH; i++) {
            const uint c = tid + i * NT;
            wr[i] = fetch_w(n0 + c / CPR, kbeg + (c % CPR) * 8u);
        }
    }
    [[unroll]] for (uint i = 0; i < XCH; i++) {
        const uint c = tid + i * NT;
#ifndef MUL_MAT_ID
        if (XF16) xh[i] = fetch_xh(m0 + c / CPR, kbeg + (c % CPR) * 8u);
        else fetch_x(xb, m0 + c / CPR, kbeg + (c % CPR) * 8u, xa[i], xc[i]);
#else
        if (XF16) xh[i] = fetch_xh(xcol[i], kbeg + (c % CPR) * 8u);
        else fetch_x(xcol[i], kbeg + (c % CPR) * 8u, xa[i], xc[i]);
#endif
    }

    // ---- the hot loop: K in BK steps -------------------------------------------------
    for (uint k0 = kbeg; k0 < kend; k0 += BK) {
        barrier(); // the previous step's tiles are consumed
        if (QVEC) {
            [[unroll]] for (uint i = 0; i < 4u; i++)
                Ws[qn * ROWQ + qc + i] =
                    dequant_w(uvec4(qv[i], 0u, qsz & 0xffffu, qsz >> 16), n0 + qn, k0 + (qc + i) * 8u);
        } else {
            [[unroll]] for (uint i = 0; i < WCH; i++) {
                const uint c = tid + i * NT, nl = c / CPR, j = c % CPR;
                Ws[nl * ROWQ + j] = dequant_w(wr[i], n0 + nl, k0 + j * 8u);
            }
        }
        [[unroll]] for (uint i = 0; i < XCH; i++) {
            const uint c = tid + i * NT;
            Xs[(c / CPR) * ROWQ + c % CPR] = XF16 ? xh[i] : to_f16x8(xa[i], xc[i]);
        }
        barrier();
        if (k0 + BK < kend) { // next step's loads in flight during the MMAs
            if (QVEC) {
                qv = fetch_q4(n0 + qn, k0 + BK + qc * 8u, qsz);
            } else {
                [[unroll]] for (uint i = 0; i < WCH; i++) {
                    const uint c = tid + i * NT;
                    wr[i] = fetch_w(n0 + c / CPR, k0 + BK + (c % CPR) * 8u);
                }
            }
            [[unroll]] for (uint i = 0; i < XCH; i++) {
                const uint c = tid + i * NT;
#ifndef MUL_MAT_ID
                if (XF16) xh[i] = fetch_xh(m0 + c / CPR, k0 + BK + (c % CPR) * 8u);
                else fetch_x(xb, m0 + c / CPR, k0 + BK + (c % CPR) * 8u, xa[i], xc[i]);
#else
                if (XF16) xh[i] = fetch_xh(xcol[i], k0 + BK + (c % CPR) * 8u);
                else fetch_x(xcol[i], k0 + BK + (c % CPR) * 8u, xa[i], xc[i]);
#endif
            }
        }
        [[unroll]] for (uint kk = 0; kk < BK; kk += CM_K) {
            fcoopmatNV<16, gl_ScopeSubgroup, CM_M, CM_K> a[FN];
            fcoopmatNV<16, gl_ScopeSubgroup, CM_K, CM_N> b[FM];
            [[unroll]] for (uint i = 0; i < FN; i++)
                coopMatLoadNV(a[i], Ws, (sn * TN + i * CM_M) * ROWQ + kk / 8u, ROWQ, false);
            [[unroll]] for (uint j = 0; j < FM; j++)
                coopMatLoadNV(b[j], Xs, (sm * TM + j * CM_N) * ROWQ + kk / 8u, ROWQ, true);
            [[unroll]] for (uint i = 0; i < FN; i++)
                [[unroll]] for (uint j = 0; j < FM; j++)
                    acc[i * FM + j] = coopMatMulAddNV(a[i], b[j], acc[i * FM + j]);
        }
    }

#ifndef MUL_MAT_ID
    // ---- y[n, m] = C: column-major (m) with stride y_nb1 -----------------------------
    [[unroll]] for (uint i = 0; i < FN; i++) {
        [[unroll]] for (uint j = 0; j < FM; j++) {
            const uint nf = n0 + sn * TN + i * CM_M, mf = m0 + sm * TM + j * CM_N;
            if (nf >= pc.N || mf >= pc.M) continue;
            const uint64_t base = yb + 4u * (uint64_t(mf) * pc.y_nb1 + nf);
            if (nf + CM_M <= pc.N && mf + CM_N <= pc.M) {
                coopMatStoreNV(acc[i * FM + j], WF32(base).v, 0u, pc.y_nb1, true);
            } else { // a tile edge: through shared memory, element by element
                coopMatStoreNV(acc[i * FM + j], Cs, sg * CM_M * CM_N, CM_M, true);
                subgroupMemoryBarrierShared();
                subgroupBarrier();
                for (uint e = gl_SubgroupInvocationID; e < CM_M * CM_N; e += SGS) {
                    const uint r = e % CM_M, c = e / CM_M;
                    if (nf + r < pc.N && mf + c < pc.M)
                        WF32(base + 4u * (uint64_t(c) * pc.y_nb1 + r)).v[0] = Cs[sg * CM_M * CM_N + e];
                }
                subgroupBarrier(); // Cs is reused by the next fragment
            }
        }
    }
#else
    // ---- y[n, i, t] = C[n, column of pair p = i + n_used*t]: scattered ---------------
    // every fragment through shared memory: its columns are not evenly spaced in y
    [[unroll]] for (uint i = 0; i < FN; i++) {
        [[unroll]] for (uint j = 0; j < FM; j++) {
            const uint nf = n0 + sn * TN + i * CM_M, mlf = sm * TM + j * CM_N;
            if (nf >= pc.N || mlf >= g_mcount) continue;
            coopMatStoreNV(acc[i * FM + j], Cs, sg * CM_M * CM_N, CM_M, true);
            subgroupMemoryBarrierShared();
            subgroupBarrier();
            for (uint e = gl_SubgroupInvocationID; e < CM_M * CM_N; e += SGS) {
                const uint r = e % CM_M, c = e / CM_M;
                if (nf + r < pc.N && mlf + c < g_mcount)
                    WF32(pair_y(colp[mlf + c]) + 4u * uint64_t(nf + r)).v[0] = Cs[sg * CM_M * CM_N + e];
            }
            subgroupBarrier(); // Cs is reused by the next fragment
        }
    }
    } // column tiles
#endif
}

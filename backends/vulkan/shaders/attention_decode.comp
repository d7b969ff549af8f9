#version 450
#extension GL_EXT_control_flow_attributes : require
// backends/vulkan/shaders/attention_decode.comp - ATTENTION for few query
// tokens (decode, speculative verify, batches of many sequences): one
// workgroup per (key split, kv head x head group, token), flash-decoding
// style. docs/ops.md "ATTENTION"; reference backends/cpu/ref_attention.c.
//
//   q     f32 [D, H, T]            rows contiguous (slices and permutes allowed)
//   k, v      [D, Hkv, BS, NB]     paged caches, f32/f16/bf16 (KT, VT)
//   bt    i32 [MB, NSEQ]; pos, seq i32 [T] (seq 0: NULL, every token in sequence 0)
//   out   NS == 1: f32 [D, H, T] contiguous, normalised
//         NS  > 1: split-K partial records (attention_common.glsl), merged by
//                  attention_reduce.comp
//
// Grid: x = split (NS = gl_NumWorkGroups.x), y = kvh * NHG + head group,
// z = token - t_base. Token t reads the keys 0..pos[t] of seq[t]; split s
// takes the s-th run of `chunk` keys, chunk = ceil(ctx / NS) rounded up to a
// whole tile of WG keys (ctx is known only here, on the device, so the host
// sizes NS from the block table's capacity and empty splits just record
// m = -inf).
//
// The GH query heads of a workgroup share one kv head (GQA): each key and
// value row is read once for all of them. Per tile of WG keys:
//   scores  invocation j takes key j: reads its K row (16-byte loads when
//           aligned) and dots it with the GH pre-scaled q rows in shared
//           memory (broadcast reads);
//   softmax online, in log2 units: tile max per head by subgroupMax and a
//           shared array across subgroups, running max m, rescale alpha,
//           p = exp2(s - m), tile sum by subgroupAdd;
//   p @ V   invocation (dl, ks) owns elements 4*dl..4*dl+3 of every head's
//           accumulator and the keys ks, ks + KS, ...: V rows are read
//           coalesced, p comes from shared memory.
// The KS partial accumulators are summed at the end. All accumulation is f32.
#include "common.glsl"
#include "attention_common.glsl"

layout(constant_id = 0) const uint WG = 128;        // = local_size_x: keys per tile
layout(constant_id = 3) const uint D = 128;         // head_dim
layout(constant_id = 4) const uint G = 1;           // query heads per kv head (n_heads / n_kv_heads)
layout(constant_id = 5) const uint GH = 1;          // query heads per workgroup (<= G, <= GHMAX)
layout(constant_id = 6) const uint KT = 0;          // k cache type
layout(constant_id = 7) const uint VT = 0;          // v cache type
layout(constant_id = 8) const bool K_ALIGNED = false;
layout(constant_id = 9) const bool V_ALIGNED = false;
layout(constant_id = 10) const uint NSG = 128;      // bound on gl_NumSubgroups (array sizes)

const uint D4 = (D + 3) / 4;        // 4-element groups per row (host: D4 <= WG)
const uint NHG = (G + GH - 1) / GH; // head groups per kv head
const uint KS = WG / D4;            // key subsets in p @ V
// Per-invocation arrays have this compile-time size and every loop over them
// is unrolled ([[unroll]]), so they live in registers; `i < GH` (a
// specialization constant) then folds away in the driver.
#define GHMAX 8 // WRITE_HEAD below lists 0..7
// Loads in flight per invocation (the kernel is bound by memory latency; 16
// instead of 8 for 16-bit caches measured no different on an H200).
#define KB 8 // K row loads (16 bytes each when aligned)
#define VB 8 // V rows in p @ V (V_LOAD/V_ACC below list 0..7)

layout(push_constant, std430) uniform PC {
    uint64_t q, k, v, bt, pos, seq, dst, err; // dst: the output or the partial records
    uint q_nb1, q_nb2;              // bytes
    uint k_nb1, k_nb2, k_nb3;
    uint v_nb1, v_nb2, v_nb3;
    uint bt_nb1;
    uint BS, NB, MB, NSEQ;
    uint t_base;
    float qscale;                   // scale * log2(e)
#ifdef Q8OUT
    uint q8_T;                      // tokens of the int8 copy (its ds follow its qs)
#endif
} pc;

#ifdef Q8OUT
// Q8OUT keeps the guaranteed 128 bytes of push constants: pc.err points at a
// table the recording carries, {the error flag's address, the int8 copy of
// out [D*H, T] (q8_block.glsl's layout, 4-bit order)}.
#define Q8_NO_SRC
#include "q8_block.glsl"
layout(buffer_reference, scalar, buffer_reference_align = 8) readonly buffer RU64 { uint64_t v[]; };
#define ERR_ADDR (RU64(pc.err).v[0])
#else
#define ERR_ADDR (pc.err)
#endif

shared vec4 q_sh[GH * D4];          // [GH][D4] q * qscale; reused to sum the KS partials
shared float p_sh[GH * WG];         // [GH][WG] exp2(s - m) of the tile
shared int blk_sh[WG];              // block of each key of the tile, -1: none
shared float max_sh[GH * NSG];      // [GH][subgroup] tile max
shared float sum_sh[GH * NSG];      // [GH][subgroup] tile sum

void main() {
    const uint tid = gl_LocalInvocationIndex;
    const uint split = gl_WorkGroupID.x, NS = gl_NumWorkGroups.x;
    const uint hg = gl_WorkGroupID.y % NHG, kvh = gl_WorkGroupID.y / NHG;
    const uint H = gl_NumWorkGroups.y / NHG * G;
    const uint t = pc.t_base + gl_WorkGroupID.z;
    const uint hh0 = hg * GH;            // first head of the group, within the kv head's G
    const uint nh = min(GH, G - hh0);    // heads of this group that exist

    const int s = pc.seq != 0 ? I32Buf(pc.seq).v[t] : 0;
    const int p = I32Buf(pc.pos).v[t];
    const bool tok_ok = s >= 0 && uint(s) < pc.NSEQ && p >= 0;
    if (!tok_ok && tid == 0) atomicOr(ErrBuf(ERR_ADDR).flag, ERR_RANGE);
    const uint ctx = tok_ok ? uint(p) + 1u : 0u;            // keys 0..pos
    const uint chunk = ((ctx + NS - 1u) / NS + WG - 1u) / WG * WG;
    const uint kbeg = min(ctx, split * chunk);
    const uint kend = min(ctx, kbeg + chunk);

    // q rows of the group, scaled into log2 units: [GH][D4]
    for (uint idx = tid; idx < GH * D4; idx += WG) {
        const uint i = idx / D4, d4 = idx % D4;
        vec4 x = vec4(0.0);
        if (i < nh)
            x = attn_load_q4(D, pc.q + uint64_t(kvh * G + hh0 + i) * pc.q_nb1 + uint64_t(t) * pc.q_nb2, d4) *
                pc.qscale;
        q_sh[idx] = x;
    }
    barrier();

    float m[GHMAX], l[GHMAX];
    vec4 acc[GHMAX];
    [[unroll]] for (uint i = 0; i < GHMAX; i++) {
        m[i] = NEG_INF;
        l[i] = 0.0;
        acc[i] = vec4(0.0);
    }
    const uint dl = tid % D4, ks = tid / D4;
    const uint64_t krow0 = pc.k + uint64_t(kvh) * pc.k_nb1;
    const uint64_t vrow0 = pc.v + uint64_t(kvh) * pc.v_nb1;
    const uint64_t btrow = pc.bt + uint64_t(uint(max(s, 0))) * pc.bt_nb1; // [MB] of sequence s

    // ---- hot loop: one tile of WG keys per iteration ----
    for (uint kb = kbeg; kb < kend; kb += WG) {
        const uint j = kb + tid;
        float sc[GHMAX];
        [[unroll]] for (uint i = 0; i < GHMAX; i++) sc[i] = NEG_INF;
        int blk = -1;
        if (j < kend) {
            const uint rb = j / pc.BS;
            const int b = rb < pc.MB ? I32Buf(btrow).v[rb] : -1;
            if (b >= 0 && uint(b) < pc.NB) {
                blk = b;
                const uint64_t row = krow0 + uint64_t(j % pc.BS) * pc.k_nb2 + uint64_t(uint(b)) * pc.k_nb3;
                float dt[GHMAX];
                [[unroll]] for (uint i = 0; i < GHMAX; i++) dt[i] = 0.0;
                // the row in batches of KB loads issued before their first use
                if (K_ALIGNED) { // D % 8 == 0: 8 elements (16 bytes of a 16-bit cache) per load
                    for (uint d0 = 0; d0 < D4 / 2; d0 += KB) {
                        vec4 ka[KB], kb4[KB];
                        [[unroll]] for (uint u = 0; u < KB; u++)
                            if (d0 + u < D4 / 2) attn_load8(KT, true, D, row, d0 + u, ka[u], kb4[u]);
                        [[unroll]] for (uint u = 0; u < KB; u++)
                            [[unroll]] for (uint i = 0; i < GHMAX; i++)
                                if (i < GH && d0 + u < D4 / 2)
                                    dt[i] += dot(q_sh[i * D4 + 2 * (d0 + u)], ka[u]) +
                                             dot(q_sh[i * D4 + 2 * (d0 + u) + 1], kb4[u]);
                    }
                } else {
                    for (uint d0 = 0; d0 < D4; d0 += KB) {
                        vec4 kv[KB];
                        [[unroll]] for (uint u = 0; u < KB; u++)
                            if (d0 + u < D4) kv[u] = attn_load4(KT, false, D, row, d0 + u);
                        [[unroll]] for (uint u = 0; u < KB; u++)
                            [[unroll]] for (uint i = 0; i < GHMAX; i++)
                                if (i < GH && d0 + u < D4) dt[i] += dot(q_sh[i * D4 + d0 + u], kv[u]);
                    }
                }
                [[unroll]] for (uint i = 0; i < GHMAX; i++) sc[i] = dt[i];
            } else {
                atomicOr(ErrBuf(ERR_ADDR).flag, ERR_RANGE); // block index or block id out of range
            }
        }
        blk_sh[tid] = blk;
        [[unroll]] for (uint i = 0; i < GHMAX; i++) {
            if (i < GH) {
                const float mx = subgroupMax(sc[i]);
                if (subgroupElect()) max_sh[i * NSG + gl_SubgroupID] = mx;
            }
        }
        barrier();

        float alpha[GHMAX], cm[GHMAX];
        [[unroll]] for (uint i = 0; i < GHMAX; i++) cm[i] = NEG_INF;
        for (uint g = 0; g < gl_NumSubgroups; g++)
            [[unroll]] for (uint i = 0; i < GHMAX; i++)
                if (i < GH) cm[i] = max(cm[i], max_sh[i * NSG + g]);
        [[unroll]] for (uint i = 0; i < GHMAX; i++) {
            alpha[i] = 1.0;
            if (i < GH) {
                const float mn = max(m[i], cm[i]);
                alpha[i] = m[i] == NEG_INF ? (mn == NEG_INF ? 1.0 : 0.0) : exp2(m[i] - mn);
                const float pj = sc[i] == NEG_INF ? 0.0 : exp2(sc[i] - mn);
                m[i] = mn;
                p_sh[i * WG + tid] = pj;
                const float ps = subgroupAdd(pj);
                if (subgroupElect()) sum_sh[i * NSG + gl_SubgroupID] = ps;
            }
        }
        barrier();

        float ts[GHMAX];
        [[unroll]] for (uint i = 0; i < GHMAX; i++) ts[i] = 0.0;
        for (uint g = 0; g < gl_NumSubgroups; g++)
            [[unroll]] for (uint i = 0; i < GHMAX; i++)
                if (i < GH) ts[i] += sum_sh[i * NSG + g];
        [[unroll]] for (uint i = 0; i < GHMAX; i++) {
            l[i] = l[i] * alpha[i] + ts[i];
            acc[i] *= alpha[i];
        }
        if (ks < KS) {
            // keys ks, ks + KS, ... in batches of VB whose V loads are all
            // issued before the first is used
            const uint nk = min(WG, kend - kb);
            for (uint j0 = ks; j0 < nk; j0 += VB * KS) {
                // unrolled by hand (literal indices): these loops keep vv in registers
                vec4 vv[VB];
                #define V_LOAD(u)                                                                        \
                    {                                                                                    \
                        const uint jj = j0 + (u) * KS;                                                   \
                        const int b = jj < nk ? blk_sh[jj] : -1;                                         \
                        vv[u] = b < 0 ? vec4(0.0)                                                        \
                                      : attn_load4(VT, V_ALIGNED, D,                                     \
                                                   vrow0 + uint64_t((kb + jj) % pc.BS) * pc.v_nb2 +      \
                                                       uint64_t(uint(b)) * pc.v_nb3, dl);                \
                    }
                #define V_ACC(u)                                                                         \
                    {                                                                                    \
                        const uint jj = j0 + (u) * KS;                                                   \
                        if (jj < nk)                                                                     \
                            [[unroll]] for (uint i = 0; i < GHMAX; i++)                                  \
                                if (i < GH) acc[i] += p_sh[i * WG + jj] * vv[u];                         \
                    }
                V_LOAD(0) V_LOAD(1) V_LOAD(2) V_LOAD(3) V_LOAD(4) V_LOAD(5) V_LOAD(6) V_LOAD(7)
                V_ACC(0) V_ACC(1) V_ACC(2) V_ACC(3) V_ACC(4) V_ACC(5) V_ACC(6) V_ACC(7)
            }
        }
        barrier(); // p_sh, blk_sh, max_sh, sum_sh are rewritten by the next tile
    }

    // sum the KS partial accumulators into ks == 0, one subset at a time through q_sh
    for (uint r = 1; r < KS; r++) {
        barrier();
        if (ks == r)
            [[unroll]] for (uint i = 0; i < GHMAX; i++)
                if (i < GH) q_sh[i * D4 + dl] = acc[i];
        barrier();
        if (ks == 0)
            [[unroll]] for (uint i = 0; i < GHMAX; i++)
                if (i < GH) acc[i] += q_sh[i * D4 + dl];
    }
#ifndef Q8OUT
    if (ks != 0) return;
#else
    // Q8OUT (NS == 1, D % 32 == 0): the normalised heads also go to shared
    // memory (q_sh is free now), then invocation bi < nh * D/32 packs block bi
    // (head bi / (D/32), its 32 elements bi % (D/32)) of the int8 copy the
    // output projection's int8-activation GEMV reads (vk_op_matmul_dp4.c).
    barrier(); // the last q_sh reads of the partial sums are done
    if (ks == 0)
        [[unroll]] for (uint i = 0; i < GHMAX; i++)
            if (i < GH) q_sh[i * D4 + dl] = l[i] > 0.0 ? acc[i] / l[i] : vec4(0.0);
    barrier();
    if (tid < nh * (D / 32u)) {
        const uint i = tid / (D / 32u), b = tid % (D / 32u);
        float v[32];
        [[unroll]] for (uint c = 0; c < 8u; c++) {
            const vec4 y4 = q_sh[i * D4 + b * 8u + c];
            v[4u * c] = y4.x; v[4u * c + 1u] = y4.y; v[4u * c + 2u] = y4.z; v[4u * c + 3u] = y4.w;
        }
        uvec4 w0, w1;
        vec2 dsum;
        q8_pack(v, true, w0, w1, dsum);
        const uint nblk = H * D / 32u, h = kvh * G + hh0 + i;
        const uint64_t qs = RU64(pc.err).v[1];
        q8_store(qs, qs + 32u * uint64_t(pc.q8_T) * nblk, t * nblk + h * (D / 32u) + b, w0, w1, dsum);
    }
    if (ks != 0) return;
#endif

    // heads 0..nh-1 of the group (unrolled by hand, literal indices)
    #define WRITE_HEAD(i)                                                                                \
        if ((i) < nh) {                                                                                  \
            const uint h = kvh * G + hh0 + (i);                                                          \
            if (NS == 1u) {                                                                              \
                const uint64_t orow = pc.dst + (uint64_t(t) * H + h) * D * 4u; /* [D] of out [D, H, T] */ \
                const vec4 y = l[i] > 0.0 ? acc[i] / l[i] : vec4(0.0);  /* no key with weight: zeros */  \
                [[unroll]] for (uint c = 0; c < 4; c++)                                                  \
                    if (4 * dl + c < D) F32Buf(orow).v[4 * dl + c] = y[c];                               \
            } else {                                                                                     \
                const uint64_t prow = pc.dst + ((uint64_t(t) * H + h) * NS + split) * attn_part_stride(D) * 4u; \
                if (dl == 0) {                                                                           \
                    F32Buf(prow).v[0] = m[i];                                                            \
                    F32Buf(prow).v[1] = l[i];                                                            \
                }                                                                                        \
                [[unroll]] for (uint c = 0; c < 4; c++)                                                  \
                    if (4 * dl + c < D) F32Buf(prow).v[4 + 4 * dl + c] = acc[i][c];                      \
            }                                                                                            \
        }
    WRITE_HEAD(0) WRITE_HEAD(1) WRITE_HEAD(2) WRITE_HEAD(3) WRITE_HEAD(4) WRITE_HEAD(5) WRITE_HEAD(6) WRITE_HEAD(7)
}

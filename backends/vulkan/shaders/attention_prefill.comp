#version 450
#extension GL_EXT_control_flow_attributes : require
// backends/vulkan/shaders/attention_prefill.comp - ATTENTION for many query
// tokens (prompt chunks): flash attention over tiles of query rows, with K
// and V tiles staged in shared memory. docs/ops.md "ATTENTION"; reference
// backends/cpu/ref_attention.c.
//
//   q     f32 [D, H, T]            rows contiguous (slices and permutes allowed)
//   k, v      [D, Hkv, BS, NB]     paged caches, f32/f16/bf16 (KT, VT)
//   bt    i32 [MB, NSEQ]; pos, seq i32 [T] (seq 0: NULL)
//   out   NS == 1: f32 [D, H, T] contiguous; NS > 1: split-K partial records
//         (attention_common.glsl) for attention_reduce.comp
//
// A workgroup takes R query rows that read one kv head: BQ = R / GHP
// consecutive tokens x GHP heads of that kv head (GQA: the rows of all GHP
// heads share each K/V tile). Grid: x = token tile - tile_base, y = kvh * NHG
// + head group, z = split (NS).
//
// The tokens of a tile may belong to different sequences (a batch mixes
// sequences and orders its tokens freely), so the tile walks its distinct
// sequences in increasing id; for each it streams that sequence's keys
// 0..max pos of its rows, in tiles of BK keys, and a row takes a key only when
// the key is of its sequence and at or before its position (causal). With the
// usual layout, a tile of one sequence, the walk is a single pass.
//
// Per key tile, software-pipelined so that global loads overlap compute:
//   K tile  [BK][D4] vec4 in shared memory (loaded into registers during the
//           previous tile's P @ V), converted to f32
//   V loads issued into registers, to be stored while...
//   S       invocation (r, c) computes the scores of row r with keys
//           c, c + TPR, ... (KPT of them) from q_sh and kv_sh
//   softmax online per row in log2 units (q is pre-scaled by scale * log2 e)
//   V tile  stored into the same shared array (the scores are done with K),
//           and the next K tile's loads issued
//   P @ V   invocation (r, c) owns vec4 columns c, c + TPR, ... (DPT of them)
// Rows are padded to DS = D4 + 1 vec4 so that the TPR invocations of a row,
// reading TPR different key rows at one column, hit different banks.
//
// Shared memory, bytes: 16 * DS * (R + BK) + 8 * R * BK + small. The host
// picks (R, BK) = (32, 32) for D <= 64, (16, 32) for D <= 128, (8, 16) for
// D <= 256: at most 29.3 KB, under the 32 KB of lavapipe.
#include "common.glsl"
#include "attention_common.glsl"

layout(constant_id = 0) const uint WG = 128;
layout(constant_id = 3) const uint D = 128;         // head_dim
layout(constant_id = 4) const uint G = 1;           // query heads per kv head
layout(constant_id = 5) const uint GHP = 1;         // heads per tile (<= R)
layout(constant_id = 6) const uint R = 16;          // query rows per tile (divides WG)
layout(constant_id = 7) const uint BK = 32;         // keys per tile (a multiple of WG / R)
layout(constant_id = 8) const uint KT = 0;
layout(constant_id = 9) const uint VT = 0;
layout(constant_id = 10) const bool K_ALIGNED = false;
layout(constant_id = 11) const bool V_ALIGNED = false;

const uint D4 = (D + 3) / 4;
const uint DS = D4 + 1;                   // padded shared row, in vec4
const uint TPR = WG / R;                  // invocations per row
const uint KPT = BK / TPR;                // keys per invocation in S
const uint DPT = (D4 + TPR - 1) / TPR;    // vec4 columns per invocation in P @ V
const uint BQ = R / GHP;                  // tokens per tile
const uint NHG = (G + GHP - 1) / GHP;     // head groups per kv head
// Compile-time sizes of the per-invocation arrays (host: KPT <= 8, DPT <= 4);
// their loops are unrolled so they stay in registers, and `i < KPT` folds
// away once the pipeline is specialised.
#define KPTMAX 8
#define DPTMAX 4
const uint NLD = (BK * D4 + WG - 1) / WG; // tile elements (vec4) each invocation loads (host: <= 8)
#define NLDMAX 8

layout(push_constant, std430) uniform PC {
    uint64_t q, k, v, bt, pos, seq, dst, err; // dst: the output or the partial records
    uint q_nb1, q_nb2;
    uint k_nb1, k_nb2, k_nb3;
    uint v_nb1, v_nb2, v_nb3;
    uint bt_nb1;
    uint BS, NB, MB, NSEQ;
    uint T, tile_base;
    float qscale;                         // scale * log2(e)
} pc;

shared vec4 q_sh[R * DS];                 // [R][DS] q * qscale
shared vec4 kv_sh[BK * DS];               // [BK][DS] the K tile, then the V tile
shared float s_sh[R * BK];                // [R][BK] scores (-inf: masked)
shared float p_sh[R * BK];                // [R][BK] exp2(s - m)
shared int rseq_sh[R];                    // sequence of each row, -1: no keys (no row, bad seq/pos)
shared int rpos_sh[R];                    // position of each row

const int INT_MAX = 0x7fffffff;

// Token and query head of row rr of this tile; false when the row is padding.
bool row_of(uint rr, uint tile, uint hg, uint kvh, out uint t, out uint h) {
    const uint hh = hg * GHP + rr % GHP;
    t = tile * BQ + rr / GHP;
    h = kvh * G + hh;
    return rr < BQ * GHP && hh < G && t < pc.T;
}

void main() {
    const uint tid = gl_LocalInvocationIndex;
    const uint tile = pc.tile_base + gl_WorkGroupID.x;
    const uint hg = gl_WorkGroupID.y % NHG, kvh = gl_WorkGroupID.y / NHG;
    const uint H = gl_NumWorkGroups.y / NHG * G;
    const uint split = gl_WorkGroupID.z, NS = gl_NumWorkGroups.z;
    const uint r = tid / TPR, c = tid % TPR;
    uint t, h;

    if (tid < R) {
        int sq = -1, ps = -1;
        if (row_of(tid, tile, hg, kvh, t, h)) {
            const int s = pc.seq != 0 ? I32Buf(pc.seq).v[t] : 0;
            const int p = I32Buf(pc.pos).v[t];
            if (s >= 0 && uint(s) < pc.NSEQ && p >= 0) {
                sq = s;
                ps = p;
            } else if (split == 0u) {
                atomicOr(ErrBuf(pc.err).flag, ERR_RANGE);
            }
        }
        rseq_sh[tid] = sq;
        rpos_sh[tid] = ps;
    }
    for (uint idx = tid; idx < R * D4; idx += WG) {
        const uint rr = idx / D4, d4 = idx % D4;
        vec4 x = vec4(0.0);
        if (row_of(rr, tile, hg, kvh, t, h))
            x = attn_load_q4(D, pc.q + uint64_t(h) * pc.q_nb1 + uint64_t(t) * pc.q_nb2, d4) * pc.qscale;
        q_sh[rr * DS + d4] = x;
    }
    barrier();

    float m = NEG_INF, l = 0.0;
    vec4 acc[DPTMAX];
    [[unroll]] for (uint i = 0; i < DPTMAX; i++) acc[i] = vec4(0.0);
    const uint64_t krow0 = pc.k + uint64_t(kvh) * pc.k_nb1;
    const uint64_t vrow0 = pc.v + uint64_t(kvh) * pc.v_nb1;

    // the tile's sequences, in increasing id (uniform: every invocation reads the same shared rows)
    int prev = -1;
    for (;;) {
        int cur = INT_MAX;
        for (uint rr = 0; rr < R; rr++) {
            const int sq = rseq_sh[rr];
            if (sq > prev && sq < cur) cur = sq;
        }
        if (cur == INT_MAX) break;
        uint kend = 0; // keys 0..kend-1 of sequence cur are read by some row
        for (uint rr = 0; rr < R; rr++)
            if (rseq_sh[rr] == cur) kend = max(kend, uint(rpos_sh[rr]) + 1u);
        const uint chunk = ((kend + NS - 1u) / NS + BK - 1u) / BK * BK;
        const uint kbeg = min(kend, split * chunk);
        const uint kstop = min(kend, kbeg + chunk);
        const bool mine = rseq_sh[r] == cur;
        const int mypos = rpos_sh[r];
        const uint64_t btrow = pc.bt + uint64_t(uint(cur)) * pc.bt_nb1; // [MB] of sequence cur

        vec4 kreg[NLDMAX], vreg[NLDMAX]; // this invocation's share of a K or V tile, in flight
        uint rowoff[NLDMAX];              // slot of each share's key: row % BS, blk (-1 none) in parallel
        int rowblk[NLDMAX];
        // block and row of this invocation's tile elements; an out-of-range
        // block is flagged and read as zeros
        #define TILE_SLOTS(kb_)                                                                     \
            [[unroll]] for (uint i = 0; i < NLDMAX; i++) {                                          \
                const uint idx = tid + i * WG, j = (kb_) + idx / D4;                                \
                rowblk[i] = -1;                                                                     \
                rowoff[i] = 0;                                                                      \
                if (i < NLD && idx < BK * D4 && j < kstop) {                                        \
                    const uint rb = j / pc.BS;                                                      \
                    const int bb = rb < pc.MB ? I32Buf(btrow).v[rb] : -1;                           \
                    if (bb >= 0 && uint(bb) < pc.NB) {                                              \
                        rowblk[i] = bb;                                                             \
                        rowoff[i] = j % pc.BS;                                                      \
                    } else {                                                                        \
                        atomicOr(ErrBuf(pc.err).flag, ERR_RANGE);                                   \
                    }                                                                               \
                }                                                                                   \
            }
        #define TILE_LOAD(reg, T_, AL_, row0, nb2, nb3)                                             \
            [[unroll]] for (uint i = 0; i < NLDMAX; i++) {                                          \
                reg[i] = vec4(0.0);                                                                 \
                if (rowblk[i] >= 0)                                                                 \
                    reg[i] = attn_load4(T_, AL_, D, row0 + uint64_t(rowoff[i]) * nb2 +              \
                                        uint64_t(uint(rowblk[i])) * nb3, (tid + i * WG) % D4);      \
            }
        #define TILE_STORE(reg)                                                                     \
            [[unroll]] for (uint i = 0; i < NLDMAX; i++) {                                          \
                const uint idx = tid + i * WG;                                                      \
                if (i < NLD && idx < BK * D4) kv_sh[(idx / D4) * DS + idx % D4] = reg[i];           \
            }

        if (kbeg < kstop) {
            TILE_SLOTS(kbeg)
            TILE_LOAD(kreg, KT, K_ALIGNED, krow0, pc.k_nb2, pc.k_nb3)
        }
        // ---- hot loop: one tile of BK keys per iteration ----
        for (uint kb = kbeg; kb < kstop; kb += BK) {
            barrier(); // the previous tile's P @ V is done with kv_sh and p_sh
            TILE_STORE(kreg)
            TILE_LOAD(vreg, VT, V_ALIGNED, vrow0, pc.v_nb2, pc.v_nb3) // same slots; lands during S
            barrier();

            // S = q K^T for row r, keys c + i * TPR
            float sacc[KPTMAX];
            [[unroll]] for (uint i = 0; i < KPTMAX; i++) sacc[i] = 0.0;
            [[unroll]] for (uint d4 = 0; d4 < D4; d4++) {
                const vec4 qv = q_sh[r * DS + d4];
                [[unroll]] for (uint i = 0; i < KPTMAX; i++)
                    if (i < KPT) sacc[i] += dot(qv, kv_sh[(c + i * TPR) * DS + d4]);
            }
            [[unroll]] for (uint i = 0; i < KPTMAX; i++) {
                const uint jj = c + i * TPR, j = kb + jj;
                const bool ok = mine && int(j) <= mypos && j < kstop;
                if (i < KPT) s_sh[r * BK + jj] = ok ? sacc[i] : NEG_INF;
            }
            barrier();

            TILE_STORE(vreg) // the V tile replaces the K tile
            if (kb + BK < kstop) { // the next K tile lands during P @ V
                TILE_SLOTS(kb + BK)
                TILE_LOAD(kreg, KT, K_ALIGNED, krow0, pc.k_nb2, pc.k_nb3)
            }
            // online softmax of row r (each of its TPR invocations computes the same m, l)
            float cm = NEG_INF;
            for (uint jj = 0; jj < BK; jj++) cm = max(cm, s_sh[r * BK + jj]);
            const float mn = max(m, cm);
            const float alpha = m == NEG_INF ? (mn == NEG_INF ? 1.0 : 0.0) : exp2(m - mn);
            [[unroll]] for (uint i = 0; i < KPTMAX; i++) {
                const uint jj = c + i * TPR;
                if (i < KPT) {
                    const float sv = s_sh[r * BK + jj];
                    p_sh[r * BK + jj] = sv == NEG_INF ? 0.0 : exp2(sv - mn);
                }
            }
            m = mn;
            barrier();

            // O = O * alpha + P V
            [[unroll]] for (uint i = 0; i < DPTMAX; i++) acc[i] *= alpha;
            float ts = 0.0;
            for (uint jj = 0; jj < BK; jj++) {
                const float pj = p_sh[r * BK + jj];
                ts += pj;
                [[unroll]] for (uint i = 0; i < DPTMAX; i++) {
                    const uint d4 = c + i * TPR;
                    if (i < DPT && d4 < D4) acc[i] += pj * kv_sh[jj * DS + d4];
                }
            }
            l = l * alpha + ts;
        }
        prev = cur;
    }

    if (!row_of(r, tile, hg, kvh, t, h)) return;
    if (NS == 1u) {
        const uint64_t orow = pc.dst + (uint64_t(t) * H + h) * D * 4u; // [D] of out [D, H, T]
        [[unroll]] for (uint i = 0; i < DPTMAX; i++) {
            const uint d4 = c + i * TPR;
            const vec4 y = l > 0.0 ? acc[i] / l : vec4(0.0); // no key with weight: zeros
            [[unroll]] for (uint e = 0; e < 4; e++)
                if (i < DPT && d4 < D4 && 4 * d4 + e < D) F32Buf(orow).v[4 * d4 + e] = y[e];
        }
    } else {
        const uint64_t prow = pc.dst + ((uint64_t(t) * H + h) * NS + split) * attn_part_stride(D) * 4u;
        if (c == 0) {
            F32Buf(prow).v[0] = m;
            F32Buf(prow).v[1] = l;
        }
        [[unroll]] for (uint i = 0; i < DPTMAX; i++) {
            const uint d4 = c + i * TPR;
            [[unroll]] for (uint e = 0; e < 4; e++)
                if (i < DPT && d4 < D4 && 4 * d4 + e < D) F32Buf(prow).v[4 + 4 * d4 + e] = acc[i][e];
        }
    }
}

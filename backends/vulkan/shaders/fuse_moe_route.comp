#version 450
// backends/vulkan/shaders/fuse_moe_route.comp - MoE routing as one dispatch
// (vk_fuse_rows.c moe_route): SOFTMAX, TOP_K, the MUL_MAT_ID gather over the
// one-hot stack, and (norm_topk_prob) the SOFTMAX over the k gathered values.
//
//   x    f32 [E, T]      router logits, rows contiguous (xnb1: token stride)
//   p    f32 [E, T]      softmax(x * s0)                (written when p != 0)
//   ids  i32 [k, T]      top_k(p), largest first        (written when ids != 0)
//   g    f32 [1, k, T]   g[i, t] = src[ids[i, t], t], src = p (FROM_P) or x
//                                                       (written when g != 0)
//   y    f32 [k, T]      softmax(g * s1) over the k     (FINAL; written when y != 0)
//
// One workgroup per token t, E <= MAX_E, k <= MAX_K:
//  1. p exactly as norm_softmax.comp computes it (same expressions, same
//     workgroup reductions of norm_reduce.glsl at the same workgroup size),
//     so the ranking sees the values the TOP_K node would have read.
//  2. TOP_K's order (select_rank.glsl): element e ranks before j when
//     rank_key(p[e]) > rank_key(p[j]), or the keys are equal and e < j; this
//     order is total, so each element's rank is the number of elements
//     ranking before it, and the element of rank r < k is ids[r]. Only the
//     candidates that can be in the top k are ranked (see step 2 below).
//  3. The gather: the MUL_MAT_ID over moe_eye (row e of the identity) gives
//     src[e] * 1 plus zeros, i.e. src[e] itself (for finite src).
//  4. SOFTMAX over the k gathered values: the max and the sum in index order,
//     as the reference does (each of k invocations computes them and writes
//     its own value).
#include "common.glsl"
#include "select_rank.glsl"

#define MAX_E 512
#define MAX_K 16

layout(constant_id = 4) const uint FROM_P = 0; // 1: gather from p (no norm_topk_prob), 0: from x
layout(constant_id = 5) const uint FINAL = 0;  // 1: the renormalising SOFTMAX is a member

layout(push_constant, scalar) uniform Push {
    uint64_t x, p, ids, g, y;  // 0: not written (p, ids, g, y)
    uint xnb1, pnb1, idsnb1;   // byte strides between tokens
    uint gnb1, gnb2;           // g: slot, token
    uint ynb1;
    uint E, K;
    float s0, s1;              // the two SOFTMAX scales
    uint wg_base, wg_count;    // this dispatch's tokens
} pc;

#include "norm_reduce.glsl"

shared float sh_x[MAX_E];
shared float sh_p[MAX_E];
shared uvec4 sh_key4[MAX_E / 4]; // rank keys, 4 a load; 0 past E (ranks after every element)
shared uint sh_id[MAX_K];
shared uint sh_cmax[MAX_E / 16]; // the largest key of each chunk of 16
shared uint sh_cand[MAX_E];      // candidates: indices whose key >= sh_thresh
shared uint sh_ncand, sh_thresh;
shared float sh_g[MAX_K];

void main() {
    uint t;
    if (!norm_row(pc.wg_base, pc.wg_count, t)) return; // whole workgroup: uniform
    const uint tid = gl_LocalInvocationID.x;
    const uint E = pc.E, K = pc.K;
    F32Buf xr = F32Buf(pc.x + uint64_t(t) * pc.xnb1); // [E]
    const float s = pc.s0;

    // ---- 1. softmax (norm_softmax.comp's maths)
    float m = -1.0 / 0.0;
    for (uint e = tid; e < E; e += WG) {
        const float v = xr.v[e];
        sh_x[e] = v;
        m = fmax_nonan(m, v * s);
    }
    m = wg_max(m);
    float sum = 0.0;
    if (m != -1.0 / 0.0) { // uniform
        for (uint e = tid; e < E; e += WG) sum += exp(sh_x[e] * s - m);
        sum = wg_sum(sum);
    }
    const uint E4 = (E + 3u) / 4u;
    for (uint e = tid; e < E4 * 4u; e += WG) {
        uint key = 0u;
        if (e < E) {
            const float pv = m == -1.0 / 0.0 ? 0.0 : exp(sh_x[e] * s - m) / sum;
            sh_p[e] = pv;
            key = rank_key(floatBitsToUint(pv));
            if (pc.p != 0ul) F32Buf(pc.p + uint64_t(t) * pc.pnb1).v[e] = pv;
        }
        sh_key4[e / 4u][e % 4u] = key;
    }
    barrier();

    // ---- 2. top-k. Ranking every element against all E costs E^2 / WG
    // compares per workgroup (about 30 us at E = 512 on a big GPU), so only
    // candidates are ranked: with M the K-th largest of the maxima of chunks
    // of 16 keys, at least K keys are >= M (those K maxima), so every key of
    // the top K is >= M; the keys >= M (typically a few more than K) are
    // gathered and ranked among themselves, which gives exactly the ranks
    // they have among all E (whatever ranks before a candidate is a candidate).
    const uint NCH = (E4 + 3u) / 4u; // chunks of 16 keys
    for (uint c = tid; c < NCH; c += WG) {
        uint mx = 0u;
        for (uint j4 = 4u * c; j4 < min(4u * c + 4u, E4); j4++) {
            const uvec4 v = sh_key4[j4];
            mx = max(mx, max(max(v.x, v.y), max(v.z, v.w)));
        }
        sh_cmax[c] = mx;
    }
    if (tid == 0u) {
        sh_ncand = 0u;
        sh_thresh = 0u; // fewer than K chunks: every key is a candidate
    }
    barrier();
    for (uint c = tid; c < NCH; c += WG) {
        const uint mc = sh_cmax[c];
        uint r = 0u;
        for (uint c2 = 0u; c2 < NCH; c2++) {
            const uint m2 = sh_cmax[c2];
            r += (m2 > mc || (m2 == mc && c2 < c)) ? 1u : 0u;
        }
        if (r == K - 1u) sh_thresh = mc;
    }
    barrier();
    const uint thresh = sh_thresh;
    for (uint e = tid; e < E; e += WG)
        if (sh_key4[e / 4u][e % 4u] >= thresh) sh_cand[atomicAdd(sh_ncand, 1u)] = e;
    barrier();
    const uint NC = sh_ncand;
    for (uint c = tid; c < NC; c += WG) {
        const uint e = sh_cand[c], key = sh_key4[e / 4u][e % 4u];
        uint r = 0u;
        for (uint c2 = 0u; c2 < NC; c2++) {
            const uint e2 = sh_cand[c2], k2 = sh_key4[e2 / 4u][e2 % 4u];
            r += (k2 > key || (k2 == key && e2 < e)) ? 1u : 0u;
        }
        if (r < K) sh_id[r] = e;
    }
    barrier();

    // ---- 3. ids and the gather
    if (tid < K) {
        const uint e = sh_id[tid];
        const float v = FROM_P != 0u ? sh_p[e] : sh_x[e];
        sh_g[tid] = v;
        if (pc.ids != 0ul) I32Buf(pc.ids + uint64_t(t) * pc.idsnb1).v[tid] = int(e);
        if (pc.g != 0ul) F32Buf(pc.g + uint64_t(t) * pc.gnb2 + uint64_t(tid) * pc.gnb1).v[0] = v;
    }

    // ---- 4. softmax over the k gathered values: invocation i < K writes y[i],
    // each computing the max and the sum over all k in index order (the same
    // value in every invocation, as one sequential pass would give)
    if (FINAL != 0u) {
        barrier();
        if (tid < K) {
            const float s1 = pc.s1;
            float m1 = -1.0 / 0.0;
            for (uint i = 0u; i < K; i++) m1 = fmax_nonan(m1, sh_g[i] * s1);
            float y = 0.0;
            if (m1 != -1.0 / 0.0) {
                float sum1 = 0.0;
                for (uint i = 0u; i < K; i++) sum1 += exp(sh_g[i] * s1 - m1);
                y = exp(sh_g[tid] * s1 - m1) / sum1;
            }
            F32Buf(pc.y + uint64_t(t) * pc.ynb1).v[tid] = y;
        }
    }
}

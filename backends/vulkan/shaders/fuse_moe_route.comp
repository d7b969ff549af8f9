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
//     rank_key(p[e]) > rank_key(p[j]), or the keys are equal and e < j; these
//     keys are distinct, so each element's rank is the number of elements
//     ranking before it (counted against shared memory, stopping at k), and
//     the element of rank r < k is ids[r].
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

    // ---- 2. top-k: rank = how many elements rank before e, counted over all
    // E keys four at a time (independent loads, no early exit: a serial scan
    // that stopped at k cost several microseconds on a big GPU); padding keys
    // are 0 at indices >= E, which never rank before a real element
    for (uint e = tid; e < E; e += WG) {
        const uint key = sh_key4[e / 4u][e % 4u];
        uint r = 0u;
        for (uint j4 = 0u; j4 < E4; j4++) {
            const uvec4 kj = sh_key4[j4];
            const uvec4 j = uvec4(4u * j4) + uvec4(0u, 1u, 2u, 3u);
            const uvec4 before = uvec4(greaterThan(kj, uvec4(key))) |
                                 (uvec4(equal(kj, uvec4(key))) & uvec4(lessThan(j, uvec4(e))));
            r += before.x + before.y + before.z + before.w;
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

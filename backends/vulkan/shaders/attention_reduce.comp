#version 450
#extension GL_EXT_control_flow_attributes : require
// backends/vulkan/shaders/attention_reduce.comp - the second pass of split-K
// ATTENTION: merges the NS partial records of each (head, token) written by
// attention_decode.comp / attention_prefill.comp (layout in
// attention_common.glsl) into the output.
//
//   part  NS records of (m, l, acc [D]) per (h, t), m in log2 units
//   out   f32 [D, H, T] contiguous
//
//   M = max_s m_s,  w_s = exp2(m_s - M),  y = sum_s w_s acc_s / sum_s w_s l_s
// and zeros when no split saw a key with weight (M = -inf or the sum is 0).
// Grid: x = h, y = t - t_base. The workgroup first finds M and the weights
// (invocations over splits, tree reductions in shared memory), then its
// invocations stride over D, each summing NS accumulator entries with RB
// loads in flight (a rolled loop would wait one memory latency per split).
//
// -DQ8OUT (attention_reduce_q8; D % 32 == 0, D <= MAX_D): the row also goes
// to the int8 copy the output projection's int8-activation GEMV reads
// (out [D, H, T] as x [D*H, T], q8_block.glsl's layout in the 4-bit byte
// order, its ds after its qs), as attention_decode.comp's Q8OUT does for a
// single split: invocation b < D/32 packs block b of the head from shared
// memory.
#include "common.glsl"
#include "attention_common.glsl"
#ifdef Q8OUT
#define Q8_NO_SRC
#include "q8_block.glsl"
#define MAX_D 512
shared float y_sh[MAX_D];
#endif

layout(constant_id = 0) const uint WG = 128; // a power of two
layout(constant_id = 3) const uint D = 128;

#define MAX_NS 128 // host: NS <= VK_ATTN_MAX_SPLITS == MAX_NS
#define RB 8       // accumulator loads in flight per invocation

layout(push_constant, std430) uniform PC {
    uint64_t part;
    uint64_t dst;  // f32 [D, H, T]
    uint H, NS, t_base;
    uint q8_T;     // Q8OUT: tokens of the int8 copy
    uint64_t qs;   // Q8OUT: the int8 copy
} pc;

shared float w_sh[MAX_NS]; // exp2(m_s - M): the weight of split s
shared float red_sh[WG];

void main() {
    const uint tid = gl_LocalInvocationIndex;
    const uint h = gl_WorkGroupID.x, t = pc.t_base + gl_WorkGroupID.y;
    const uint PS = attn_part_stride(D);
    const uint64_t base = pc.part + (uint64_t(t) * pc.H + h) * pc.NS * PS * 4u; // [NS][PS] f32
    const uint64_t orow = pc.dst + (uint64_t(t) * pc.H + h) * D * 4u;

    // M = max over the splits
    float mx = NEG_INF;
    for (uint s = tid; s < pc.NS; s += WG) mx = max(mx, F32Buf(base + uint64_t(s) * PS * 4u).v[0]);
    red_sh[tid] = mx;
    barrier();
    for (uint k = WG / 2; k > 0; k /= 2) {
        if (tid < k) red_sh[tid] = max(red_sh[tid], red_sh[tid + k]);
        barrier();
    }
    const float M = red_sh[0];
    barrier();

    // weights and L = sum_s w_s l_s
    float ls = 0.0;
    for (uint s = tid; s < pc.NS; s += WG) {
        F32Buf rec = F32Buf(base + uint64_t(s) * PS * 4u);
        const float ms = rec.v[0];
        const float w = M == NEG_INF || ms == NEG_INF ? 0.0 : exp2(ms - M);
        w_sh[s] = w;
        ls += w * rec.v[1];
    }
    red_sh[tid] = ls;
    barrier();
    for (uint k = WG / 2; k > 0; k /= 2) {
        if (tid < k) red_sh[tid] += red_sh[tid + k];
        barrier();
    }
    const float L = red_sh[0];

    // ---- y[d] = sum_s w_s acc_s[d] / L ----
    for (uint d = tid; d < D; d += WG) {
        float y = 0.0;
        for (uint s0 = 0; s0 < pc.NS; s0 += RB) {
            float a[RB];
            [[unroll]] for (uint u = 0; u < RB; u++)
                a[u] = s0 + u < pc.NS ? F32Buf(base + uint64_t(s0 + u) * PS * 4u).v[4 + d] : 0.0;
            [[unroll]] for (uint u = 0; u < RB; u++)
                if (s0 + u < pc.NS) y += w_sh[s0 + u] * a[u];
        }
        const float yv = L > 0.0 ? y / L : 0.0;
        F32Buf(orow).v[d] = yv;
#ifdef Q8OUT
        y_sh[d] = yv;
#endif
    }
#ifdef Q8OUT
    barrier();
    if (tid < D / 32u) {
        float v[32];
        [[unroll]] for (uint k = 0; k < 32u; k++) v[k] = y_sh[tid * 32u + k];
        uvec4 w0, w1;
        vec2 dsum;
        q8_pack(v, true, w0, w1, dsum);
        const uint nblk = pc.H * D / 32u;
        q8_store(pc.qs, pc.qs + 32u * uint64_t(pc.q8_T) * nblk, t * nblk + h * (D / 32u) + tid, w0, w1, dsum);
    }
#endif
}

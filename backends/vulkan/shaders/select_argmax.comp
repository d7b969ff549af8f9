#version 450
// backends/vulkan/shaders/select_argmax.comp - ARGMAX (docs/ops.md).
//
//   x f32 [n, r1, r2, r3]   rows contiguous, the other strides free
//   y i32 [r1, r2, r3]      the index TOP_K would rank first
//
// One workgroup per row. Each invocation keeps the best (rank_key, ~index)
// pair of a strided subset of the row; the workgroup then takes the
// lexicographic maximum: with -DUSE_SUBGROUP=1 (vk_caps.subgroup_arithmetic)
// by subgroupMax of the key, then subgroupMax of ~index among the lanes that
// hold that key (two 32-bit reductions: 64-bit subgroup arithmetic is an
// optional feature), one pair per subgroup through shared memory; otherwise,
// or when the pipeline runs at a subgroup size other than SG, by a shared
// memory tree.
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
#include "select_fp.glsl"
#include "select_rank.glsl"

layout(buffer_reference, scalar, buffer_reference_align = 16) readonly buffer U32x4Buf { uvec4 v[]; };

layout(constant_id = 0) const uint WG = 256; // power of two, >= SG
layout(constant_id = 3) const uint SG = 32;  // vk_caps.subgroup_size

layout(push_constant, scalar) uniform Push {
    uint64_t x, y;
    uint64_t xnb1, xnb2, xnb3; // byte strides of x's rows
    uint64_t ynb0, ynb1, ynb2; // byte strides of y (its dims are x's rows)
    uint n, r1, r2, r3;
    uint wg_base, wg_count;
} pc;

shared uint red_k[WG], red_i[WG];

// (k, i) ranks before (bk, bi)?
bool better(uint k, uint i, uint bk, uint bi) { return k > bk || (k == bk && i > bi); }

void main() {
    uint row;
    if (!sel_group(pc.wg_base, pc.wg_count, row)) return;
    const uint i1 = row % pc.r1, i2 = (row / pc.r1) % pc.r2, i3 = row / (pc.r1 * pc.r2);
    U32Buf xr = U32Buf(pc.x + i1 * pc.xnb1 + i2 * pc.xnb2 + i3 * pc.xnb3); // [n] f32 bits
    const uint tid = gl_LocalInvocationID.x;

    // (0, 0) loses to every element: even a NaN at index i has ~i > 0 (n <= INT32_MAX)
    uint bk = 0u, bi = 0u;
    // A 16-byte aligned row of n % 4 == 0 is read 16 bytes per load, two loads
    // in flight per invocation (the row is a plain stream: this is what makes
    // ARGMAX a device bandwidth probe); any other row one float at a time.
    // The visiting order does not matter: better() is a total order.
    const uint64_t xa = pc.x + i1 * pc.xnb1 + i2 * pc.xnb2 + i3 * pc.xnb3;
    uint vec_end = 0u;
    if ((xa & 15ul) == 0ul && (pc.n & 3u) == 0u) {
        U32x4Buf xv = U32x4Buf(xa);
        const uint n4 = pc.n / 4u;
        uint j = tid;
        for (; j + WG < n4; j += 2u * WG) {
            const uvec4 a = xv.v[j], b = xv.v[j + WG];
            [[unroll]] for (uint c = 0; c < 4u; c++) {
                const uint ia = 4u * j + c, ib = 4u * (j + WG) + c;
                const uint ka = rank_key(a[c]), kb = rank_key(b[c]);
                if (better(ka, ~ia, bk, bi)) { bk = ka; bi = ~ia; }
                if (better(kb, ~ib, bk, bi)) { bk = kb; bi = ~ib; }
            }
        }
        if (j < n4) {
            const uvec4 a = xv.v[j];
            [[unroll]] for (uint c = 0; c < 4u; c++) {
                const uint ia = 4u * j + c, ka = rank_key(a[c]);
                if (better(ka, ~ia, bk, bi)) { bk = ka; bi = ~ia; }
            }
        }
        vec_end = pc.n;
    }
    for (uint i = vec_end + tid; i < pc.n; i += WG) {
        const uint k = rank_key(xr.v[i]);
        if (better(k, ~i, bk, bi)) {
            bk = k;
            bi = ~i;
        }
    }

    bool done = false;
#ifdef USE_SUBGROUP
    if (gl_SubgroupSize == SG) {
        const uint mk = subgroupMax(bk);
        const uint mi = subgroupMax(bk == mk ? bi : 0u);
        if (subgroupElect()) {
            red_k[gl_SubgroupID] = mk;
            red_i[gl_SubgroupID] = mi;
        }
        barrier();
        if (tid == 0u) {
            for (uint s = 1; s < WG / SG; s++)
                if (better(red_k[s], red_i[s], red_k[0], red_i[0])) {
                    red_k[0] = red_k[s];
                    red_i[0] = red_i[s];
                }
        }
        done = true;
    }
#endif
    if (!done) {
        red_k[tid] = bk;
        red_i[tid] = bi;
        barrier();
        for (uint s = WG / 2; s > 0; s >>= 1) {
            if (tid < s && better(red_k[tid + s], red_i[tid + s], red_k[tid], red_i[tid])) {
                red_k[tid] = red_k[tid + s];
                red_i[tid] = red_i[tid + s];
            }
            barrier();
        }
    }
    if (tid == 0u) {
        I32Buf yo = I32Buf(pc.y + i1 * pc.ynb0 + i2 * pc.ynb1 + i3 * pc.ynb2);
        yo.v[0] = int(~red_i[0]);
    }
}

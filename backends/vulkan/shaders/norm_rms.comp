#version 450
// backends/vulkan/shaders/norm_rms.comp - RMS_NORM (docs/ops.md).
//
//   x f32 [D, r1, r2, r3]   rows contiguous, the other strides free (views)
//   w f32 [D] or none
//   y f32 [D, r1, r2, r3]   may be x itself (same shape and strides)
//
//   y = w * (x * inv),  inv = 1 / sqrt(sum(x^2) / D + eps)
//
// in Hugging Face's order of operations, like backends/cpu/ref_norm.c. One
// workgroup per row: each invocation sums the squares of a strided subset of
// the row, wg_sum() combines them, then every invocation scales its subset.
// In place is safe: an element is written only by the invocation that read
// it, after the reduction's barriers.
#include "common.glsl"

layout(push_constant, scalar) uniform Push {
    uint64_t x, w, y;          // device addresses of element 0; w == 0: no weight
    uint64_t xnb1, xnb2, xnb3; // byte strides of x's rows
    uint64_t ynb1, ynb2, ynb3; // byte strides of y's rows
    uint D;                    // row length
    uint r1, r2, r3;           // rows per dim (r1 * r2 * r3 < 2^32)
    float eps;
    uint wg_base, wg_count;    // this dispatch's rows (norm_row)
} pc;

#include "norm_reduce.glsl"

void main() {
    uint row;
    if (!norm_row(pc.wg_base, pc.wg_count, row)) return; // whole workgroup: uniform
    const uint i1 = row % pc.r1, i2 = (row / pc.r1) % pc.r2, i3 = row / (pc.r1 * pc.r2);
    F32Buf xr = F32Buf(pc.x + i1 * pc.xnb1 + i2 * pc.xnb2 + i3 * pc.xnb3); // [D]
    F32Buf yr = F32Buf(pc.y + i1 * pc.ynb1 + i2 * pc.ynb2 + i3 * pc.ynb3); // [D]
    const uint tid = gl_LocalInvocationID.x;

    float ss = 0.0;
    for (uint i = tid; i < pc.D; i += WG) {
        const float v = xr.v[i];
        ss += v * v;
    }
    ss = wg_sum(ss);
    const float inv = 1.0 / sqrt(ss / float(pc.D) + pc.eps);

    if (pc.w != 0ul) {
        F32Buf wr = F32Buf(pc.w); // [D]
        for (uint i = tid; i < pc.D; i += WG) yr.v[i] = wr.v[i] * (xr.v[i] * inv);
    } else {
        for (uint i = tid; i < pc.D; i += WG) yr.v[i] = xr.v[i] * inv;
    }
}

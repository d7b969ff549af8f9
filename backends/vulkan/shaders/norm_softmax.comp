#version 450
// backends/vulkan/shaders/norm_softmax.comp - SOFTMAX (docs/ops.md).
//
//   x f32 [n, r1, r2, r3]   rows contiguous, the other strides free
//   y f32 [n, r1, r2, r3]   may be x itself
//
//   v = x * scale;  y = exp(v - max v) / sum exp(v - max v)
//
// A row whose every v is -inf (a fully masked attention row) gives zeros, not
// NaN, as backends/cpu/ref_softmax.c does. One workgroup per row, three
// sweeps over it (max, sum, write); each invocation touches the same strided
// subset of the row in every sweep, so in place is safe.
#include "common.glsl"

layout(push_constant, scalar) uniform Push {
    uint64_t x, y;
    uint64_t xnb1, xnb2, xnb3;
    uint64_t ynb1, ynb2, ynb3;
    uint n;
    uint r1, r2, r3;
    float scale;
    uint wg_base, wg_count;
} pc;

#include "norm_reduce.glsl"

void main() {
    uint row;
    if (!norm_row(pc.wg_base, pc.wg_count, row)) return;
    const uint i1 = row % pc.r1, i2 = (row / pc.r1) % pc.r2, i3 = row / (pc.r1 * pc.r2);
    F32Buf xr = F32Buf(pc.x + i1 * pc.xnb1 + i2 * pc.xnb2 + i3 * pc.xnb3); // [n]
    F32Buf yr = F32Buf(pc.y + i1 * pc.ynb1 + i2 * pc.ynb2 + i3 * pc.ynb3); // [n]
    const uint tid = gl_LocalInvocationID.x;
    const float s = pc.scale;

    float m = -1.0 / 0.0; // -inf
    for (uint i = tid; i < pc.n; i += WG) m = fmax_nonan(m, xr.v[i] * s);
    m = wg_max(m);

    if (m == -1.0 / 0.0) { // uniform: every invocation holds the same m
        for (uint i = tid; i < pc.n; i += WG) yr.v[i] = 0.0;
        return;
    }

    float sum = 0.0;
    for (uint i = tid; i < pc.n; i += WG) sum += exp(xr.v[i] * s - m);
    sum = wg_sum(sum);

    for (uint i = tid; i < pc.n; i += WG) yr.v[i] = exp(xr.v[i] * s - m) / sum;
}

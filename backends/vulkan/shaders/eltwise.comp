#version 450
// backends/vulkan/shaders/eltwise.comp - ADD, MUL, SCALE, SILU, SWIGLU, SIGMOID on f32
// rows (docs/ops.md), one module per -D OP_<NAME> (shaders/eltwise.cmake).
//
//   y[i0, i1, i2, i3] = a[i0, i1, i2, i3] (op) b[i0 % nb0, i1 % nb1, ...]
//
// Grid: x over the row (ne0, grid-stride), y + z * gridY over the rows
// (ne1 * ne2 * ne3). Rows are contiguous; the other strides are free and come
// in elements. The output may alias an input: every invocation reads its
// elements before writing the same index.
#include "common.glsl"

layout(push_constant) uniform PC {
    uint64_t a, b, d;             // element 0 of a, b (up for SWIGLU), y
    uint ne0, ne1, ne2, ne3;      // shape of a and y
    uint a1, a2, a3;              // strides of a, elements
    uint bn0, bn1, bn2, bn3;      // shape of b (divides a's)
    uint b1, b2, b3;
    uint d1, d2, d3;
    float s;                      // SCALE
} pc;

float silu(float x) { return x / (1.0 + exp(-x)); }

void main() {
    const uint row = gl_WorkGroupID.y + gl_WorkGroupID.z * gl_NumWorkGroups.y;
    if (row >= pc.ne1 * pc.ne2 * pc.ne3) return;
    const uint i1 = row % pc.ne1, i2 = (row / pc.ne1) % pc.ne2, i3 = row / (pc.ne1 * pc.ne2);

    F32Buf A = F32Buf(pc.a + 4 * (uint64_t(i1) * pc.a1 + uint64_t(i2) * pc.a2 + uint64_t(i3) * pc.a3));
    F32Buf D = F32Buf(pc.d + 4 * (uint64_t(i1) * pc.d1 + uint64_t(i2) * pc.d2 + uint64_t(i3) * pc.d3));
#if defined(OP_ADD) || defined(OP_MUL) || defined(OP_SWIGLU)
    F32Buf B = F32Buf(pc.b + 4 * (uint64_t(i1 % pc.bn1) * pc.b1 + uint64_t(i2 % pc.bn2) * pc.b2 +
                                  uint64_t(i3 % pc.bn3) * pc.b3));
#endif
    const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    // hot loop: one row
    for (uint i0 = gl_GlobalInvocationID.x; i0 < pc.ne0; i0 += stride) {
        const float x = A.v[i0];
#if defined(OP_ADD)
        D.v[i0] = x + B.v[pc.bn0 == pc.ne0 ? i0 : i0 % pc.bn0];
#elif defined(OP_MUL)
        D.v[i0] = x * B.v[pc.bn0 == pc.ne0 ? i0 : i0 % pc.bn0];
#elif defined(OP_SCALE)
        D.v[i0] = x * pc.s;
#elif defined(OP_SILU)
        D.v[i0] = silu(x);
#elif defined(OP_SWIGLU)
        D.v[i0] = silu(x) * B.v[i0];
#elif defined(OP_SIGMOID)
        D.v[i0] = 1.0 / (1.0 + exp(-x));
#else
#error "define one of OP_ADD, OP_MUL, OP_SCALE, OP_SILU, OP_SWIGLU, OP_SIGMOID"
#endif
    }
}

#version 450
// backends/vulkan/shaders/mul_mat_splitk.comp - the second pass of a MUL_MAT
// split along K (mul_mat_coop.comp's SPLITK; vk_op_matmul_coop.c):
//
//   part f32 [S][M][N] contiguous (split s's partial product)
//   -> y f32 [N, M], y_nb1 floats between columns
//
//   y[n, m] = ((part[0][m][n] + part[1][m][n]) + part[2][m][n]) + ...
//
// in split order, so the result does not depend on the schedule. One
// invocation per element; grid x, y of at most 65535 workgroups.
#include "common.glsl"

layout(push_constant) uniform Push {
    uint64_t part, y;
    uint N, M, S, y_nb1;
    uint gx; // workgroups along x
} pc;

void main() {
    const uint i = (gl_WorkGroupID.y * pc.gx + gl_WorkGroupID.x) * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (i >= pc.N * pc.M) return;
    const uint n = i % pc.N, m = i / pc.N;
    const uint64_t plane = 4u * uint64_t(pc.M) * pc.N; // bytes per partial
    const uint64_t e = pc.part + 4u * uint64_t(i);
    float acc = F32Buf(e).v[0];
    for (uint s = 1u; s < pc.S; s++) acc += F32Buf(e + s * plane).v[0];
    F32Buf(pc.y + 4u * (uint64_t(m) * pc.y_nb1 + n)).v[0] = acc;
}

#version 450
// backends/vulkan/shaders/fuse_moe_sum.comp - the MoE combine as one dispatch
// (vk_fuse_rows.c moe_sum: the chain of vk_fg_moe_sum where the experts'
// products come from a GEMM, i.e. at prefill):
//
//   mm f32 [D, k, T], rw f32 [1, k, T] (slots contiguous), r f32 [D, T] or none
//   y[n, t] = r[n, t] + (((mm[n,0,t]*rw[0,t] + mm[n,1,t]*rw[1,t]) + mm[n,2,t]*rw[2,t]) + ...)
//
// in the graph's f32 operations and order (MUL, then the ADDs in slot order,
// then the residual ADD), so the result is the unfused chain's bit for bit:
// `precise` keeps the products from being contracted into the sums. One
// invocation per element (grid-stride over D * T).
#include "common.glsl"

layout(push_constant) uniform Push {
    uint64_t mm, rw, r, y;     // r == 0: no residual
    uint D, k, T, total;       // total = D * T
    uint mm_nb1, mm_nb2;       // floats between slots / tokens of mm
    uint y_nb1, r_nb1, rw_nb2; // floats between tokens of y, r, rw
    uint pad_;
} pc;

layout(buffer_reference, scalar, buffer_reference_align = 4) readonly buffer RF32 { float v[]; };

void main() {
    const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint idx = gl_GlobalInvocationID.x; idx < pc.total; idx += stride) {
        const uint n = idx % pc.D, t = idx / pc.D;
        const uint64_t mt = pc.mm + 4u * (uint64_t(t) * pc.mm_nb2 + n);
        const uint64_t wt = pc.rw + 4u * uint64_t(t) * pc.rw_nb2;
        precise float s = RF32(mt).v[0] * RF32(wt).v[0];
        for (uint i = 1u; i < pc.k; i++) {
            precise float p = RF32(mt + 4u * uint64_t(i) * pc.mm_nb1).v[0] * RF32(wt).v[i];
            s = s + p;
        }
        if (pc.r != 0ul) s = RF32(pc.r + 4u * (uint64_t(t) * pc.r_nb1 + n)).v[0] + s;
        F32Buf(pc.y + 4u * (uint64_t(t) * pc.y_nb1 + n)).v[0] = s;
    }
}

#version 450
// backends/vulkan/shaders/x_to_f16.comp - activations to f16 rows for the
// cooperative-matrix GEMM (mul_mat_coop.comp, OPT_XF16; vk_op_matmul_coop.c):
//
//   x f32 [K, M] (column m at x + 4 * m * x_nb1) -> xh f16 [M, Kp8 * 8]
//
// rows of Kp8 16-byte chunks, zeros past K. The GEMM then reads 8 halves per
// 16-byte load instead of 8 floats per two, and the projections that read one
// activation (a layer's Q, K and V) share one conversion (vk_rec_memo). The
// conversion is the device's f32 -> f16 (round to nearest), as the GEMM's
// own to_f16x8 does: the results are the same either way.
// One invocation per chunk.
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

layout(push_constant) uniform Push {
    uint64_t x, xh;
    uint K, Kp8, M, x_nb1; // Kp8: chunks per row of xh; x_nb1: floats between columns of x
} pc;

layout(buffer_reference, scalar, buffer_reference_align = 4) readonly buffer RF32 { float v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 16) writeonly buffer WU32x4 { uvec4 v[]; };

void main() {
    const uint i = gl_GlobalInvocationID.x; // chunk i = j + Kp8 * m
    if (i >= pc.Kp8 * pc.M) return;
    const uint j = i % pc.Kp8, m = i / pc.Kp8;
    const uint64_t col = pc.x + 4u * uint64_t(m) * pc.x_nb1;
    float v[8];
    [[unroll]] for (uint k = 0; k < 8u; k++) {
        const uint kk = j * 8u + k;
        v[k] = kk < pc.K ? RF32(col).v[kk] : 0.0;
    }
    WU32x4(pc.xh).v[i] = uvec4(packFloat2x16(f16vec2(v[0], v[1])), packFloat2x16(f16vec2(v[2], v[3])),
                               packFloat2x16(f16vec2(v[4], v[5])), packFloat2x16(f16vec2(v[6], v[7])));
}

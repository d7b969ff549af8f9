#version 450
// backends/vulkan/shaders/quantize_q8.comp - f32 activations to int8 blocks of
// 32 for the int8 dot-product GEMV (mul_mat_vec_dp4.comp, vk_op_matmul_dp4.c).
//
//   x f32 [K, M] (column m at x + 4 * m * x_nb1, K % 32 == 0)
//   -> qs: int8 [M, K/32, 32] (32 bytes = 8 u32 per block, byte order below)
//      ds: vec2 [M, K/32]     (d = max|x|/127 of the block, float(sum of its int8 values))
//
// xq[k] = roundEven(x[k] / d), |xq| <= 127, so x[k] ~= d * xq[k] with
// |error| <= d / 2. The block sum serves the GEMV's zero-point correction:
// sum_k (code_k - zero) * xq_k = dot(code, xq) - zero * sum_k xq_k.
//
// Byte order (specialization constant PERM):
//   0: natural, word j = xq[4j .. 4j+3] (8-bit codes: code word j holds codes
//      4j .. 4j+3, byte by byte);
//   1: nibble-interleaved for 4-bit codes, whose word j holds codes 8j .. 8j+7
//      as nibbles: x word 2j = xq[8j + 0, 2, 4, 6] (the low nibbles,
//      code & 0x0f0f0f0f) and x word 2j+1 = xq[8j + 1, 3, 5, 7] (the high
//      nibbles), so the GEMV unpacks codes with one shift/mask and no shuffle.
//
// One invocation per block (K/32 * M of them; the pass is tiny next to the
// GEMV it feeds).
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

layout(push_constant) uniform Push {
    uint64_t x, qs, ds;
    uint x_nb1;   // floats between columns of x
    uint nblk;    // K / 32
    uint M;
    uint pad_;
} pc;

layout(constant_id = 3) const uint PERM = 0; // byte order above

layout(buffer_reference, scalar, buffer_reference_align = 4) readonly buffer RF32 { float v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 16) writeonly buffer WU32x4 { uvec4 v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 8) writeonly buffer WVec2 { vec2 v[]; };

void main() {
    const uint i = gl_GlobalInvocationID.x; // block i = b + nblk * m
    if (i >= pc.nblk * pc.M) return;
    const uint b = i % pc.nblk, m = i / pc.nblk;
    const uint64_t col = pc.x + 4u * uint64_t(m) * pc.x_nb1;

    float v[32];
    float amax = 0.0;
    [[unroll]] for (uint k = 0; k < 32u; k++) {
        v[k] = RF32(col).v[b * 32u + k];
        amax = max(amax, abs(v[k]));
    }
    const float d = amax / 127.0;
    const float id = amax > 0.0 ? 127.0 / amax : 0.0;

    // int8 values in packing order (constant indices only: v stays in registers)
    int q[32];
    if (PERM != 0u) {
        // word 2h + o (o = 0: low nibbles, 1: high) byte t holds xq[8h + 2t + o]
        [[unroll]] for (uint j = 0; j < 8u; j++)
            [[unroll]] for (uint t = 0; t < 4u; t++)
                q[4u * j + t] = int(clamp(roundEven(v[8u * (j / 2u) + 2u * t + (j % 2u)] * id), -127.0, 127.0));
    } else {
        [[unroll]] for (uint k = 0; k < 32u; k++) q[k] = int(clamp(roundEven(v[k] * id), -127.0, 127.0));
    }
    uint w[8];
    int sum = 0;
    [[unroll]] for (uint j = 0; j < 8u; j++) {
        uint packed = 0u;
        [[unroll]] for (uint t = 0; t < 4u; t++) {
            sum += q[4u * j + t];
            packed |= (uint(q[4u * j + t]) & 0xffu) << (8u * t);
        }
        w[j] = packed;
    }
    WU32x4(pc.qs).v[2u * i] = uvec4(w[0], w[1], w[2], w[3]);
    WU32x4(pc.qs).v[2u * i + 1u] = uvec4(w[4], w[5], w[6], w[7]);
    WVec2(pc.ds).v[i] = vec2(d, float(sum));
}

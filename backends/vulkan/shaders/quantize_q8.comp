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
#include "q8_block.glsl"

void main() {
    const uint i = gl_GlobalInvocationID.x; // block i = b + nblk * m
    if (i >= pc.nblk * pc.M) return;
    const uint b = i % pc.nblk, m = i / pc.nblk;
    q8_block(pc.x + 4u * uint64_t(m) * pc.x_nb1, b, pc.qs, pc.ds, i, PERM != 0u);
}

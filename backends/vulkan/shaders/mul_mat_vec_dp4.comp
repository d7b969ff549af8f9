#version 450
// backends/vulkan/shaders/mul_mat_vec_dp4.comp - decode GEMV for QG 4- and
// 8-bit weights on int8 activations through packed 4x8-bit dot products
// (VK_KHR_shader_integer_dot_product; host: vk_op_matmul_dp4.c).
//
//   w QG [K, N] (no g_idx, f16 rounding, group_size % 32 == 0),
//   x as int8 blocks from quantize_q8.comp: qs [M, K/32, 32], ds vec2 [M, K/32]
//   -> y f32 [N, M]
//
// Per 32-weight block b (in group g of row n) and column m, with
// W = scale_g * (code - zero_g) (before the reference's f16 rounding) and
// x ~= d_b * xq:
//   sum_{k in b} W[k] x[k] ~= scale_g * d_b * (sum_k code_k * xq_k - zero_g * sum_k xq_k)
// The code/xq products go through OpSDot on packed bytes, 4 per instruction,
// the rest is integer until one f32 multiply-add per (block, row, column).
//  - 4-bit: a block's 32 codes are 16 bytes, one uvec4 of the row: word j
//    holds codes 8j .. 8j+7 as nibbles. (word & 0x0f0f0f0f) is codes
//    8j + 0, 2, 4, 6 as bytes 0..15 (valid signed bytes), ((word >> 4) &
//    0x0f0f0f0f) codes 8j + 1, 3, 5, 7; quantize_q8.comp stored x in that
//    order (PERM = 1): 8 dot instructions per block, no shuffles.
//  - 8-bit: 32 bytes, two uvec4: word j is codes 4j .. 4j+3. Codes 0..255 are
//    no signed bytes: word ^ 0x80808080 is code - 128 per byte, so
//    sum (code - zero) xq = sdot(word ^ 0x80808080, xq) + (128 - zero) * sum xq.
//    (OpSUDot would take the codes as they are, but the signed form is the
//    one devices report accelerated: integerDotProduct4x8BitPackedSigned.)
//
// Layout as mul_mat_vec.comp: one workgroup of BS lanes owns NR consecutive
// rows and all NC (= M <= 4) columns; lane t takes blocks t, t + BS, ...:
// one step of the workgroup reads BS consecutive 16-byte (4-bit) / 32-byte
// (8-bit) pieces of each row, every weight byte once. subgroupAdd, then
// shared memory across subgroups. Rows past N read row N-1 and write nothing.
// Grid: x = row blocks (+ base_x, the host splits past 65535).
#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_spirv_intrinsics : require
#include "common.glsl"

// OpSDot (SPV_KHR_integer_dot_product; core in SPIR-V 1.6) on two u32 each
// holding 4 signed bytes; fmt 0 = PackedVectorFormat4x8Bit. Capabilities:
// DotProduct (6019), DotProductInput4x8BitPacked (6018). Written with
// GL_EXT_spirv_intrinsics because Debian 12's glslang lacks
// GL_EXT_integer_dot_product.
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6019, 6018], id = 4450)
int sdot4(uint a, uint b, spirv_literal int fmt);

layout(constant_id = 3) const uint QBITS = 4; // 4 or 8
layout(constant_id = 4) const uint NR = 4;    // rows per workgroup
layout(constant_id = 5) const uint NC = 1;    // columns (the host's M, <= 4)
layout(constant_id = 6) const uint SGX = 32;  // the smallest subgroup size the pipeline may run with

layout(push_constant) uniform Push {
    uint64_t w, qs, ds, y;       // w: QG slab; qs/ds: quantize_q8.comp's output; y f32 [N, M]
    uint w_nb1, N, M, nblk;      // w_nb1: bytes per row of codes; nblk = K / 32
    uint y_nb1, q_scales, q_zeros, G; // y_nb1 floats; q_*: byte offsets in the slab; G groups per row
    uint gblk, base_x, pad0_, pad1_;  // gblk: blocks per group (group_size / 32)
} pc;

layout(buffer_reference, scalar, buffer_reference_align = 16) readonly buffer RU32x4 { uvec4 v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 8) readonly buffer RVec2 { vec2 v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 2) readonly buffer RU16 { uint16_t v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 1) readonly buffer RU8 { uint8_t v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 4) writeonly buffer WF32 { float v[]; };

const uint BS = gl_WorkGroupSize.x;
const uint NSG = (BS + SGX - 1u) / SGX; // subgroups per workgroup, at most
const uint NOUT = NR * NC;
const int BIAS = QBITS == 8u ? 128 : 0; // code bytes are stored as code - BIAS
shared float red[NOUT * NSG];

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint n0 = (gl_WorkGroupID.x + pc.base_x) * NR;

    uint64_t wrow[NR], srow[NR], zrow[NR]; // codes, f16 scales [G], u8 zeros [G] of each row
    [[unroll]] for (uint r = 0; r < NR; r++) {
        const uint n = min(n0 + r, pc.N - 1u);
        wrow[r] = pc.w + uint64_t(n) * pc.w_nb1;
        srow[r] = pc.w + pc.q_scales + uint64_t(n) * pc.G * 2u;
        zrow[r] = pc.w + pc.q_zeros + uint64_t(n) * pc.G;
    }
    uint64_t qcol[NC], dcol[NC]; // column c's int8 blocks and (d, sum) pairs
    [[unroll]] for (uint c = 0; c < NC; c++) {
        qcol[c] = pc.qs + 32u * uint64_t(c) * pc.nblk;
        dcol[c] = pc.ds + 8u * uint64_t(c) * pc.nblk;
    }

    float acc[NR][NC];
    [[unroll]] for (uint r = 0; r < NR; r++)
        [[unroll]] for (uint c = 0; c < NC; c++) acc[r][c] = 0.0;

    // ---- hot loop: one 32-weight block of NR rows x NC columns per lane step ----------
    for (uint b = tid; b < pc.nblk; b += BS) {
        const uint g = b / pc.gblk;
        uint xq[NC][8];
        vec2 xd[NC]; // (d, float(sum of the block's xq))
        [[unroll]] for (uint c = 0; c < NC; c++) {
            const uvec4 lo = RU32x4(qcol[c]).v[2u * b], hi = RU32x4(qcol[c]).v[2u * b + 1u];
            xq[c][0] = lo.x; xq[c][1] = lo.y; xq[c][2] = lo.z; xq[c][3] = lo.w;
            xq[c][4] = hi.x; xq[c][5] = hi.y; xq[c][6] = hi.z; xq[c][7] = hi.w;
            xd[c] = RVec2(dcol[c]).v[b];
        }
        [[unroll]] for (uint r = 0; r < NR; r++) {
            // the block's 8 words of code bytes, in the byte order of xq
            uint cw[8];
            if (QBITS == 4u) {
                const uvec4 q = RU32x4(wrow[r]).v[b];
                const uint qw[4] = uint[4](q.x, q.y, q.z, q.w);
                [[unroll]] for (uint j = 0; j < 4u; j++) {
                    cw[2u * j] = qw[j] & 0x0f0f0f0fu;
                    cw[2u * j + 1u] = (qw[j] >> 4) & 0x0f0f0f0fu;
                }
            } else {
                const uvec4 q0 = RU32x4(wrow[r]).v[2u * b], q1 = RU32x4(wrow[r]).v[2u * b + 1u];
                cw[0] = q0.x; cw[1] = q0.y; cw[2] = q0.z; cw[3] = q0.w;
                cw[4] = q1.x; cw[5] = q1.y; cw[6] = q1.z; cw[7] = q1.w;
                [[unroll]] for (uint j = 0; j < 8u; j++) cw[j] ^= 0x80808080u;
            }
            const float sc = f16_to_f32(RU16(srow[r]).v[g]);
            const int zb = BIAS - int(RU8(zrow[r]).v[g]);
            [[unroll]] for (uint c = 0; c < NC; c++) {
                int dot = 0;
                [[unroll]] for (uint j = 0; j < 8u; j++) dot += sdot4(cw[j], xq[c][j], 0);
                // exact: |dot + zb * sum| <= 32 * 255 * 127 < 2^24
                const int s = dot + zb * int(xd[c].y);
                acc[r][c] = fma(sc * xd[c].x, float(s), acc[r][c]);
            }
        }
    }

    // ---- reduce: subgroupAdd, then across subgroups; lanes o, o + BS, ... write output o ---
    [[unroll]] for (uint r = 0; r < NR; r++)
        [[unroll]] for (uint c = 0; c < NC; c++) {
            const float a = subgroupAdd(acc[r][c]);
            if (gl_SubgroupInvocationID == 0u) red[(r * NC + c) * NSG + gl_SubgroupID] = a;
        }
    barrier();
    for (uint o = tid; o < NOUT; o += BS) { // NR * NC may exceed BS ("dp4rows=16")
        const uint r = o / NC, c = o % NC, n = n0 + r;
        float v = 0.0;
        for (uint s = 0; s < gl_NumSubgroups; s++) v += red[o * NSG + s];
        if (n < pc.N && c < pc.M) WF32(pc.y + 4u * uint64_t(c) * pc.y_nb1).v[n] = v;
    }
}

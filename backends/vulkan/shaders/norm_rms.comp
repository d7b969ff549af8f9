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
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

layout(push_constant, scalar) uniform Push {
    uint64_t x, w, y;          // device addresses of element 0; w == 0: no weight
    uint64_t xnb1, xnb2, xnb3; // byte strides of x's rows
    uint64_t ynb1, ynb2, ynb3; // byte strides of y's rows
    uint D;                    // row length
    uint r1, r2, r3;           // rows per dim (r1 * r2 * r3 < 2^32)
    float eps;
    uint wg_base, wg_count;    // this dispatch's rows (norm_row)
#ifdef Q8OUT
    uint64_t qs, ds;           // the int8 copy of y: q8_block's layout, column = row
    uint q8_perm, pad_;        // the 4-bit byte order or not
#endif
} pc;

#include "norm_reduce.glsl"
const uint NCACHE = 16; // values per invocation kept in registers (rows <= 16 * WG)
#ifdef Q8OUT
// The int8 copy of the row (the GEMV's layout, quantize_q8.comp), built in
// shared memory from the values in registers: per 32-block the max |y| and
// the sum of the int8 values (by subgroup operations on 32-lane subgroups,
// else by shared atomics on the max's ordered uint bits), the bytes ORed into
// their words. The host picks this variant only for
// D % 32 == 0 and D <= NCACHE * WG.
shared uint q8_words[NCACHE * WG / 4];
shared uint q8_amax[NCACHE * WG / 32];
shared int q8_sum[NCACHE * WG / 32];
layout(buffer_reference, scalar, buffer_reference_align = 4) writeonly buffer WU32 { uint v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 8) writeonly buffer WVec2 { vec2 v[]; };
#endif


void main() {
    uint row;
    if (!norm_row(pc.wg_base, pc.wg_count, row)) return; // whole workgroup: uniform
    const uint i1 = row % pc.r1, i2 = (row / pc.r1) % pc.r2, i3 = row / (pc.r1 * pc.r2);
    F32Buf xr = F32Buf(pc.x + i1 * pc.xnb1 + i2 * pc.xnb2 + i3 * pc.xnb3); // [D]
    F32Buf yr = F32Buf(pc.y + i1 * pc.ynb1 + i2 * pc.ynb2 + i3 * pc.ynb3); // [D]
    F32Buf wr = F32Buf(pc.w); // [D], when pc.w != 0
    const uint tid = gl_LocalInvocationID.x;

    if (pc.D <= NCACHE * WG) {
        // Every load of the row issued at once (one memory latency rather than
        // D / WG dependent ones: a decode step's norms are single rows, so
        // latency-bound), the values kept in registers for the scaling.
        float xv[NCACHE], wv[NCACHE];
        float ss = 0.0;
#ifdef Q8OUT
        const bool sg32 = gl_SubgroupSize == 32u; // uniform: a 32-block is one subgroup
        for (uint i = tid; i < NCACHE * WG / 4; i += WG) q8_words[i] = 0u;
        if (!sg32) {
            for (uint i = tid; i < NCACHE * WG / 32; i += WG) {
                q8_amax[i] = 0u;
                q8_sum[i] = 0;
            }
        }
#endif
        // unconditional loads (clamped index) so that they issue together
        const bool has_w = pc.w != 0ul;
        F32Buf wl = has_w ? wr : xr;
        [[unroll]] for (uint j = 0; j < NCACHE; j++) {
            const uint i = tid + j * WG, ic = min(i, pc.D - 1u);
            const float a = xr.v[ic], b = wl.v[ic]; // w loaded with x: one memory round trip
            xv[j] = i < pc.D ? a : 0.0;
            wv[j] = has_w ? b : 1.0;
        }
        [[unroll]] for (uint j = 0; j < NCACHE; j++) ss += xv[j] * xv[j];
        ss = wg_sum(ss); // its barriers also order the zeroing above
        const float inv = 1.0 / sqrt(ss / float(pc.D) + pc.eps);
        [[unroll]] for (uint j = 0; j < NCACHE; j++) {
            const uint i = tid + j * WG;
            xv[j] = pc.w != 0ul ? wv[j] * (xv[j] * inv) : xv[j] * inv;
            if (i < pc.D) yr.v[i] = xv[j];
        }
#ifdef Q8OUT
        const uint nblk = pc.D / 32u;
        if (sg32) {
            // subgroup s of the workgroup holds blocks (s*32 + j*WG) / 32: each
            // block's max and sum by subgroup operations, for every j with no
            // branch or barrier between them (independent reductions the
            // compiler can overlap: one after the other, with a barrier each,
            // they made this norm several microseconds slower on a big GPU).
            // Blocks past D hold zeros (D % 32 == 0) and write only into
            // q8_words' unused tail. The bytes meet in q8_words by atomicOr.
            const uint l = gl_SubgroupInvocationID, s0 = tid - l;
            [[unroll]] for (uint j = 0; j < NCACHE; j++) {
                const uint i = tid + j * WG;
                const float amax = subgroupMax(abs(xv[j]));
                const float id = amax > 0.0 ? 127.0 / amax : 0.0;
                const int q = int(clamp(roundEven(xv[j] * id), -127.0, 127.0));
                const int sum = subgroupAdd(q);
                const uint p = l % 8u;
                const uint word = (i / 32u) * 8u + (pc.q8_perm != 0u ? 2u * (l / 8u) + p % 2u : l / 4u);
                const uint byte = pc.q8_perm != 0u ? p / 2u : l % 4u;
                atomicOr(q8_words[word], (uint(q) & 0xffu) << (8u * byte));
                const uint i0 = s0 + j * WG; // the block's first element
                if (l == 0u && i0 < pc.D) WVec2(pc.ds).v[row * nblk + i0 / 32u] = vec2(amax / 127.0, float(sum));
            }
            barrier();
            for (uint k = tid; k < nblk * 8u; k += WG) WU32(pc.qs).v[row * nblk * 8u + k] = q8_words[k];
            return;
        }
        // other subgroup sizes: per block, amax, then d = amax / 127, the int8
        // values, their sum and bytes through shared atomics
        [[unroll]] for (uint j = 0; j < NCACHE; j++) {
            const uint i = tid + j * WG;
            if (i < pc.D) atomicMax(q8_amax[i / 32u], floatBitsToUint(abs(xv[j])));
        }
        barrier();
        [[unroll]] for (uint j = 0; j < NCACHE; j++) {
            const uint i = tid + j * WG;
            if (i < pc.D) {
                const float amax = uintBitsToFloat(q8_amax[i / 32u]);
                const float id = amax > 0.0 ? 127.0 / amax : 0.0;
                const int q = int(clamp(roundEven(xv[j] * id), -127.0, 127.0));
                atomicAdd(q8_sum[i / 32u], q);
                const uint l = i % 32u, p = l % 8u;
                // perm: word 2h + o of the block (h = l / 8, o = p % 2) byte p / 2
                const uint word = (i / 32u) * 8u + (pc.q8_perm != 0u ? 2u * (l / 8u) + p % 2u : l / 4u);
                const uint byte = pc.q8_perm != 0u ? p / 2u : l % 4u;
                atomicOr(q8_words[word], (uint(q) & 0xffu) << (8u * byte));
            }
        }
        barrier();
        for (uint k = tid; k < nblk * 8u; k += WG) WU32(pc.qs).v[row * nblk * 8u + k] = q8_words[k];
        for (uint k = tid; k < nblk; k += WG)
            WVec2(pc.ds).v[row * nblk + k] = vec2(uintBitsToFloat(q8_amax[k]) / 127.0, float(q8_sum[k]));
#endif
    } else {
        float ss = 0.0;
        for (uint i = tid; i < pc.D; i += WG) {
            const float v = xr.v[i];
            ss += v * v;
        }
        ss = wg_sum(ss);
        const float inv = 1.0 / sqrt(ss / float(pc.D) + pc.eps);
        if (pc.w != 0ul) {
            for (uint i = tid; i < pc.D; i += WG) yr.v[i] = wr.v[i] * (xr.v[i] * inv);
        } else {
            for (uint i = tid; i < pc.D; i += WG) yr.v[i] = xr.v[i] * inv;
        }
    }
}

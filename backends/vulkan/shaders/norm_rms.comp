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
#ifdef Q8OUT
// y is written and read back by other invocations of the workgroup (one block
// of 32 each): coherent on both sides, with memoryBarrierBuffer() + barrier().
layout(buffer_reference, scalar, buffer_reference_align = 4) coherent buffer CF32 { float v[]; };
#define Q8_SRC CF32
#define YBUF CF32
#include "q8_block.glsl"
#else
#define YBUF F32Buf
#endif

const uint NCACHE = 16; // values per invocation kept in registers (rows <= 16 * WG)

void main() {
    uint row;
    if (!norm_row(pc.wg_base, pc.wg_count, row)) return; // whole workgroup: uniform
    const uint i1 = row % pc.r1, i2 = (row / pc.r1) % pc.r2, i3 = row / (pc.r1 * pc.r2);
    F32Buf xr = F32Buf(pc.x + i1 * pc.xnb1 + i2 * pc.xnb2 + i3 * pc.xnb3); // [D]
    const uint64_t yaddr = pc.y + i1 * pc.ynb1 + i2 * pc.ynb2 + i3 * pc.ynb3;
    YBUF yr = YBUF(yaddr); // [D]
    F32Buf wr = F32Buf(pc.w); // [D], when pc.w != 0
    const uint tid = gl_LocalInvocationID.x;

    if (pc.D <= NCACHE * WG) {
        // Every load of the row issued at once (one memory latency rather than
        // D / WG dependent ones: a decode step's norms are single rows, so
        // latency-bound), the values kept in registers for the scaling.
        float xv[NCACHE];
        float ss = 0.0;
        [[unroll]] for (uint j = 0; j < NCACHE; j++) {
            const uint i = tid + j * WG;
            xv[j] = i < pc.D ? xr.v[i] : 0.0;
        }
        [[unroll]] for (uint j = 0; j < NCACHE; j++) ss += xv[j] * xv[j];
        ss = wg_sum(ss);
        const float inv = 1.0 / sqrt(ss / float(pc.D) + pc.eps);
        [[unroll]] for (uint j = 0; j < NCACHE; j++) {
            const uint i = tid + j * WG;
            if (i < pc.D) yr.v[i] = pc.w != 0ul ? wr.v[i] * (xv[j] * inv) : xv[j] * inv;
        }
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
#ifdef Q8OUT
    // the int8 copy of this row (the host asks only for D % 32 == 0 and rows
    // numbered as columns: one dispatch row per GEMV column)
    memoryBarrierBuffer();
    barrier();
    const uint nblk = pc.D / 32u;
    for (uint b = tid; b < nblk; b += WG) q8_block(yaddr, b, pc.qs, pc.ds, b + nblk * row, pc.q8_perm != 0u);
#endif
}

#version 450
// backends/vulkan/shaders/fuse_norm_rope.comp - RMS_NORM over each head, then
// ROPE, then (K path) KV_WRITE, as one dispatch (vk_fuse_rows.c norm_rope).
//
//   x     f32 [D, H, T]        rows contiguous, head/token strides free (the
//                              q/k projection reshaped)
//   w     f32 [D] or none      the q_norm / k_norm weight
//   pos   i32 [T]
//   y     f32 [D, H, T]        the ROPE result (KV == 0: the Q path; ATTENTION reads it)
//   cache     [D, H, BS, NB]   f32/f16/bf16 (KT), KV == 1: the K path, whose ROPE
//   bt, seq                    result only the KV_WRITE reads (kv_slot.glsl)
//   freq  f32 [n_rot / 2]      inv_freq[i] = 1 / powf(base, 2i / n_rot), the
//                              reference's values bit for bit, computed on the
//                              host and stored once per graph by
//                              fuse_rope_freq.comp (norm_rope.comp takes them in
//                              push constants instead, which do not hold 64 of
//                              them next to this block)
//
// Per (head h, token t), exactly the member ops' maths:
//   RMS_NORM  n[c] = w[c] * (x[c] * inv),  inv = 1 / sqrt(sum(x^2) / D + eps)
//   ROPE      pair i < half = n_rot / 2: theta = (float)pos[t] * inv_freq[i],
//             y[i] = n[i] cos - n[i + half] sin, y[i + half] = n[i + half] cos
//             + n[i] sin (sincos_exact, norm_sincos.glsl); y[c] = n[c] beyond
//             n_rot
//   KV_WRITE  y rounded to the cache type exactly as kv_write.comp does
//             (kv_store), into block bt[p / BS, s], row p % BS; a token out
//             of range is flagged and skipped
// One workgroup per (head, token): the sum of squares is a workgroup
// reduction (norm_reduce.glsl), then each invocation rotates pairs
// i = tid, tid + WG, ... and writes both elements of each (with one pair per
// invocation, its angle and inputs are fetched before the reduction).
#include "common.glsl"
#include "select_fp.glsl"
#include "kv_slot.glsl"
#include "norm_sincos.glsl"

layout(constant_id = 4) const uint KV = 0; // 0: write y (Q path); 1: write the cache (K path)
layout(constant_id = 5) const uint KT = 0; // cache type (KV == 1): 0 f32, 1 f16, 2 bf16

layout(push_constant, scalar) uniform Push { // 124 bytes: fits the guaranteed 128
    uint64_t x, w, pos, freq; // w == 0: no weight
    uint64_t dst;             // y (KV == 0) or the cache (KV == 1)
    uint64_t bt, seq, err;    // KV == 1; seq == 0: one sequence
    uint xnb1, xnb2;          // byte strides: head, token
    uint onb1, onb2, onb3;    // y: head, token, -; cache: head, row, block
    uint bt_nb1;
    uint H;
    uint d_nrot;              // D | n_rot << 16
    uint BS, NB, MB, NSEQ;
    float eps;
    uint wg_base, wg_count;   // this dispatch's (head, token) rows: h + H * t
} pc;

#include "norm_reduce.glsl"

// element c of the output row: f32 into y, or rounded into the cache
void put(uint64_t row, uint c, float v) {
    if (KV == 0u) {
        F32Buf(row).v[c] = v;
    } else {
        kv_store(KT, row, c, floatBitsToUint(v));
    }
}

void main() {
    uint row;
    if (!norm_row(pc.wg_base, pc.wg_count, row)) return; // whole workgroup: uniform
    const uint h = row % pc.H, t = row / pc.H;
    const uint tid = gl_LocalInvocationID.x;
    const uint D = pc.d_nrot & 0xffffu, n_rot = pc.d_nrot >> 16, half_ = n_rot / 2u;
    F32Buf xr = F32Buf(pc.x + uint64_t(h) * pc.xnb1 + uint64_t(t) * pc.xnb2); // [D]

    const bool has_w = pc.w != 0ul;
    F32Buf wr = F32Buf(pc.w);
    F32Buf fr = F32Buf(pc.freq);
    const float p = float(I32Buf(pc.pos).v[t]);

    // The rotation does not depend on the norm: when each invocation has at
    // most one pair (half <= WG, the usual case), its angle, sin/cos, weights
    // and elements are fetched and computed before the reduction rather than
    // after it (one memory round trip less on the critical path).
    const bool one_pair = half_ <= WG;
    float s1 = 0.0, c1 = 1.0, a0 = 0.0, a1 = 0.0, w0 = 1.0, w1 = 1.0;
    if (one_pair && tid < half_) {
        sincos_exact(p * fr.v[tid], s1, c1);
        a0 = xr.v[tid];
        a1 = xr.v[tid + half_];
        if (has_w) {
            w0 = wr.v[tid];
            w1 = wr.v[tid + half_];
        }
    }

    // ---- RMS_NORM: the head's inverse rms
    float ss = 0.0;
    for (uint c = tid; c < D; c += WG) {
        const float v = xr.v[c];
        ss += v * v;
    }
    ss = wg_sum(ss);
    const float inv = 1.0 / sqrt(ss / float(D) + pc.eps);

    // ---- where the row goes: y, or KV_WRITE's slot (range-checked once per token)
    bool store = true;
    uint64_t orow = pc.dst + uint64_t(h) * pc.onb1 + uint64_t(t) * pc.onb2; // y's row [D]
    if (KV != 0u) {
        uint slot, blk;
        store = kv_slot(pc.bt, pc.bt_nb1, pc.pos, pc.seq, t, pc.BS, pc.NB, pc.MB, pc.NSEQ, slot, blk);
        if (!store && h == 0u && tid == 0u) atomicOr(ErrBuf(pc.err).flag, ERR_RANGE);
        orow = pc.dst + uint64_t(h) * pc.onb1 + uint64_t(slot) * pc.onb2 + uint64_t(blk) * pc.onb3; // [D]
    }

    // ---- ROPE on the normed row (the same expressions either way)
    if (one_pair) {
        if (tid < half_ && store) {
            const float x0 = has_w ? w0 * (a0 * inv) : a0 * inv;
            const float x1 = has_w ? w1 * (a1 * inv) : a1 * inv;
            put(orow, tid, x0 * c1 - x1 * s1);
            put(orow, tid + half_, x1 * c1 + x0 * s1);
        }
    } else {
        for (uint i = tid; i < half_; i += WG) {
            const float theta = p * fr.v[i];
            float s, c;
            sincos_exact(theta, s, c);
            const float x0 = has_w ? wr.v[i] * (xr.v[i] * inv) : xr.v[i] * inv;
            const float x1 = has_w ? wr.v[i + half_] * (xr.v[i + half_] * inv) : xr.v[i + half_] * inv;
            if (store) {
                put(orow, i, x0 * c - x1 * s);
                put(orow, i + half_, x1 * c + x0 * s);
            }
        }
    }
    for (uint c = n_rot + tid; c < D; c += WG) { // partial rotary: the rest passes through
        const float v = has_w ? wr.v[c] * (xr.v[c] * inv) : xr.v[c] * inv;
        if (store) put(orow, c, v);
    }
}

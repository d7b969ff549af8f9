#version 450
// backends/vulkan/shaders/norm_rope.comp - ROPE, neox style (docs/ops.md).
//
//   x   f32 [D, H, T]   rows contiguous, head/token strides free (q through a
//                       permute, k sliced out of a fused projection)
//   pos i32 [T]
//   y   f32 [D, H, T]   may be x itself
//
// With half = n_rot / 2, for pair i < half:
//   theta       = (float)pos[t] * inv_freq[i]
//   y[i]        = x[i] * cos(theta) - x[i + half] * sin(theta)
//   y[i + half] = x[i + half] * cos(theta) + x[i] * sin(theta)
// and y[c] = x[c] for n_rot <= c < D (partial rotary).
//
// Accuracy. inv_freq[i] = 1 / powf(base, 2i / n_rot) comes from the host,
// computed with the very expression of backends/cpu/cpu_impl.h, so it is the
// reference's f32 bit for bit; the product theta is correctly rounded on
// every Vulkan device. What is left is cos/sin of an f32 theta that reaches
// thousands of radians: GPU sin/cos are only specified to 2^-11 absolute
// error and reduce large arguments in f32 (an error of ~|theta| * 2^-24),
// so sincos_exact (norm_sincos.glsl) reduces theta modulo pi/2 exactly in
// 64-bit integers and evaluates minimax polynomials on [-pi/4, pi/4]: within
// ~2 ulp of the true values, on any device.
//
// The host splits the pairs into chunks of at most NFREQ (the push-constant
// space: NFREQ = 16 fits 128 bytes, 48 fits 256) and records one dispatch
// per chunk; the chunk with i0 == 0 also copies the pass-through columns.
// One invocation per (pair, head, token) item: it reads x[i] and x[i + half]
// and writes both, so in place is safe.
#include "common.glsl"
#include "norm_sincos.glsl"

#ifndef NFREQ
#define NFREQ 16
#endif

layout(constant_id = 0) const uint WG = 256;

layout(push_constant, scalar) uniform Push {
    uint64_t x, y, pos;
    uint xnb1, xnb2;        // byte strides: head, token
    uint ynb1, ynb2;
    uint H, T;
    uint d_nrot;            // D | n_rot << 16
    uint i0_ni;             // first pair of this chunk | pairs in it << 16
    uint wg_base, wg_count; // this dispatch's workgroups
    float inv_freq[NFREQ];  // inv_freq[i0 + j] for j < ni
} pc;

void main() {
    const uint local = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    if (local >= pc.wg_count) return;
    const uint item = (pc.wg_base + local) * WG + gl_LocalInvocationID.x;

    const uint D = pc.d_nrot & 0xffffu, n_rot = pc.d_nrot >> 16, half_ = n_rot / 2u;
    const uint i0 = pc.i0_ni & 0xffffu, ni = pc.i0_ni >> 16;
    const uint n_pairs = ni * pc.H * pc.T; // items of rotated pairs; the pass-through ones follow

    if (item < n_pairs) {
        const uint j = item % ni, rest = item / ni;
        const uint h = rest % pc.H, t = rest / pc.H;
        F32Buf xr = F32Buf(pc.x + uint64_t(h) * pc.xnb1 + uint64_t(t) * pc.xnb2); // [D]
        F32Buf yr = F32Buf(pc.y + uint64_t(h) * pc.ynb1 + uint64_t(t) * pc.ynb2); // [D]
        const float p = float(I32Buf(pc.pos).v[t]);
        const float theta = p * pc.inv_freq[j];
        float s, c;
        sincos_exact(theta, s, c);
        const uint i = i0 + j;
        const float x0 = xr.v[i], x1 = xr.v[i + half_];
        yr.v[i] = x0 * c - x1 * s;
        yr.v[i + half_] = x1 * c + x0 * s;
    } else if (i0 == 0u && D > n_rot) {
        const uint q = item - n_pairs, n_pass = D - n_rot;
        const uint cc = n_rot + q % n_pass, rest = q / n_pass;
        const uint h = rest % pc.H, t = rest / pc.H;
        if (t < pc.T) {
            F32Buf xr = F32Buf(pc.x + uint64_t(h) * pc.xnb1 + uint64_t(t) * pc.xnb2);
            F32Buf yr = F32Buf(pc.y + uint64_t(h) * pc.ynb1 + uint64_t(t) * pc.ynb2);
            yr.v[cc] = xr.v[cc];
        }
    }
}

#version 450
// backends/vulkan/shaders/select_topk.comp - TOP_K (docs/ops.md).
//
//   x f32 [n, r1, r2, r3]   rows contiguous, the other strides free
//   y i32 [k, r1, r2, r3]   indices of the k largest, largest first
//
// Order (select_rank.glsl): every element has a distinct 64-bit key
// K = rank_key(x[i]) << 32 | ~i, and "ranks before" is K > K'. So the answer
// is the k largest keys, sorted descending.
//
// One workgroup per row, any k <= n, in rounds of at most CAP keys (CAP keys
// fit shared memory; 1024 x 8 bytes stays inside Vulkan's 16 KiB minimum):
//   1. Of the keys below U (initially all), pick the threshold T such that
//      exactly m = min(k - done, CAP) keys lie in [T, U): a radix select, 8
//      bits at a time from the top, a 256-bin shared histogram per pass. It
//      stops as soon as the chosen bin is taken whole (usually after 3 or 4
//      passes); when all remaining keys fit (n - done <= CAP) it is skipped.
//   2. Gather the keys in [T, U) into shared memory, bitonic-sort them
//      descending, write the first min(m, k - done) indices to y.
//   3. U = the smallest key written; the next round continues below it.
// Sampling's usual k (<= a few hundred) takes one round. No scratch memory,
// no second dispatch; x is read a few times per round.
#include "common.glsl"
#include "select_fp.glsl"
#include "select_rank.glsl"

layout(constant_id = 0) const uint WG = 256;  // power of two
layout(constant_id = 4) const uint CAP = 1024; // power of two

layout(push_constant, scalar) uniform Push {
    uint64_t x, y;
    uint64_t xnb1, xnb2, xnb3;
    uint64_t ynb1, ynb2, ynb3;
    uint n, k, r1, r2, r3;
    uint wg_base, wg_count;
} pc;

shared uint64_t keys[CAP];
shared uint hist[256];
shared uint s_count;              // gather slot counter
shared uint s_digit, s_need, s_whole;

uint64_t key_of(U32Buf xr, uint i) { return (uint64_t(rank_key(xr.v[i])) << 32) | uint64_t(~i); }

void main() {
    uint row;
    if (!sel_group(pc.wg_base, pc.wg_count, row)) return;
    const uint i1 = row % pc.r1, i2 = (row / pc.r1) % pc.r2, i3 = row / (pc.r1 * pc.r2);
    U32Buf xr = U32Buf(pc.x + i1 * pc.xnb1 + i2 * pc.xnb2 + i3 * pc.xnb3);   // [n] f32 bits
    I32Buf yr = I32Buf(pc.y + i1 * pc.ynb1 + i2 * pc.ynb2 + i3 * pc.ynb3);   // [k]
    const uint tid = gl_LocalInvocationID.x;
    const uint n = pc.n, k = pc.k;

    uint done = 0u;                 // indices written so far
    uint64_t U = 0xfffffffffffffffful; // keys taken are >= U; no key equals all ones
    while (done < k) {                  // uniform: done and U come from shared memory
        const uint remaining = n - done; // keys below U
        const uint want = min(k - done, CAP);

        // ---- 1. threshold T: exactly m keys in [T, U)
        uint64_t T = 0ul;
        uint m = remaining;
        if (remaining > CAP) {
            uint64_t prefix = 0ul, mask = 0ul;
            uint need = want;
            for (int shift = 56; shift >= 0; shift -= 8) {
                for (uint b = tid; b < 256u; b += WG) hist[b] = 0u;
                barrier();
                for (uint i = tid; i < n; i += WG) {
                    const uint64_t K = key_of(xr, i);
                    if (K < U && (K & mask) == prefix) atomicAdd(hist[uint(K >> shift) & 255u], 1u);
                }
                barrier();
                if (tid == 0u) { // highest bin first; the keys in higher bins are all taken
                    uint cum = 0u;
                    int b = 255;
                    while (b > 0 && cum + hist[b] < need) cum += hist[b--];
                    s_digit = uint(b);
                    s_need = need - cum;
                    s_whole = hist[b] == need - cum ? 1u : 0u;
                }
                barrier();
                prefix |= uint64_t(s_digit) << shift;
                mask |= 0xfful << shift;
                need = s_need;
                const bool whole = s_whole != 0u;
                barrier(); // everyone has read s_* before they are written again
                if (whole) break;
            }
            T = prefix; // [T, U) = the higher bins at every level + the whole final bin
            m = want;
        }

        // ---- 2. gather [T, U), sort descending, write
        if (tid == 0u) s_count = 0u;
        barrier();
        for (uint i = tid; i < n; i += WG) {
            const uint64_t K = key_of(xr, i);
            if (K >= T && K < U) {
                const uint slot = atomicAdd(s_count, 1u);
                if (slot < CAP) keys[slot] = K;
            }
        }
        barrier();
        uint P = 1u; // sort size: a power of two >= m; padding keys 0 sort last
        while (P < m) P <<= 1;
        for (uint j = m + tid; j < P; j += WG) keys[j] = 0ul;
        barrier();
        for (uint size = 2u; size <= P; size <<= 1) {
            for (uint stride = size >> 1; stride > 0u; stride >>= 1) {
                for (uint t = tid; t < P / 2u; t += WG) {
                    const uint lo = 2u * t - (t & (stride - 1u)); // t with a 0 inserted at bit log2(stride)
                    const uint hi = lo + stride;
                    const bool desc = (lo & size) == 0u;          // the final merge (size == P) is descending
                    const uint64_t a = keys[lo], b = keys[hi];
                    if ((a < b) == desc) {
                        keys[lo] = b;
                        keys[hi] = a;
                    }
                }
                barrier();
            }
        }
        const uint n_out = min(m, k - done);
        for (uint j = tid; j < n_out; j += WG) yr.v[done + j] = int(~uint(keys[j] & 0xfffffffful));
        U = keys[m - 1u];
        done += m;
        barrier(); // keys are rewritten by the next round
    }
}

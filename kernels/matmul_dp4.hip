/*
 * kernels/matmul_dp4.hip - decode GEMV for 4- and 8-bit QG weights on int8
 * activations and packed 4 x int8 dot products (sc_dot4_i8: v_dot4 / dp4a);
 * arguments kernels/matmul.h, host backends/hip/hip_op_matmul.c (which says
 * when it runs: the numerics differ from the reference's, see there).
 *
 *  k_mm_quant_q8      x f32 -> int8 blocks of 32 values with one f32 scale:
 *                     d = max|x| / 127, q = round(x / d), and the block's
 *                     sum of q (for the zero points), in node scratch.
 *  k_mm_gemv_dp4_q*   the GEMV of matmul_gemv.hip (same block, job and lane
 *                     split: one 32-code unit per lane per step; _r1 / _r4:
 *                     1 or 4 weight rows a warp instead of 2, the tuner's
 *                     launch-geometry variants) with, per unit and row,
 *                       sum_k W[k] x[k] ~= scale * d * (sum_k code_k q_k - zero * sum_k q_k)
 *                     W is scale*(code - zero) not rounded to f16/bf16 here
 *                     (a relative 2^-12 / 2^-9, far below the int8 error).
 *
 * Requires (host): no g_idx, every 32-code unit in one group (group_size % 32
 * == 0 or one group), K % 32 == 0.
 *
 * 4-bit: a word holds codes c0..c7 as nibbles; (w & 0x0f0f0f0f) gives bytes
 * c0 c2 c4 c6 and (w >> 4) & 0x0f0f0f0f bytes c1 c3 c5 c7, which the
 * quantizer's order (perm) matches. 8-bit: the codes 0..255 go in as signed
 * bytes code - 128 (w ^ 0x80808080), the zero point as zero - 128.
 */
#include "sc_hip.h"
#include "matmul.h"
#include "matmul_dev.h"

#define MC SC_MM_GEMV_COLS

/* ---- x -> int8 ------------------------------------------------------------------------ */
SC_KERNEL(k_mm_quant_q8, sc_mm_q8_args, SC_MM_Q8_THREADS) {
    const uint32_t nblk = p.K / SC_MM_Q8_BLOCK, lane = sc_lane();
    const uint64_t job = (uint64_t)blockIdx.x * (SC_MM_Q8_THREADS / SC_WARP) + threadIdx.x / SC_WARP;
    if (job >= (uint64_t)p.ncols * nblk) return; /* whole warps */
    const uint32_t q = (uint32_t)(job / nblk), b = (uint32_t)(job % nblk);
    const uint32_t c1 = q % p.ne1, c2 = (q / p.ne1) % p.ne2, c3 = q / p.ne1 / p.ne2;
    const float *x = (const float *)(p.x + (int64_t)c1 * p.nb1 + (int64_t)c2 * p.nb2 + (int64_t)c3 * p.nb3);
    const float v = x[b * SC_MM_Q8_BLOCK + lane];
    const float amax = sc_warp_max(fabsf(v));
    const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
    const int qi = (int)fminf(fmaxf(floorf(v * id + 0.5f), -127.0f), 127.0f);
    const float sum = sc_warp_sum((float)qi); /* |sum| <= 32 * 127: exact */
    /* perm (4-bit weights): value 8j + r -> byte 8j + 4*(r & 1) + r/2 */
    const uint32_t pos = p.perm ? (lane & ~7u) + 4u * (lane & 1u) + ((lane & 7u) >> 1) : lane;
    p.xq[(int64_t)q * p.K + b * SC_MM_Q8_BLOCK + pos] = (int8_t)qi;
    if (lane == 0) {
        p.xd[((int64_t)q * nblk + b) * 2] = amax / 127.0f;
        p.xd[((int64_t)q * nblk + b) * 2 + 1] = sum;
    }
}

/* ---- the GEMV ----------------------------------------------------------------------------- */
/* R: weight rows per warp (SC_MM_GEMV_ROWS for the default kernels; 1 and 4
 * for the _r1 / _r4 launch-geometry variants the tuner may pick) */
template <int BITS, int R>
static __device__ __forceinline__ void mm_gemv_dp4(const sc_mm_gemv_args &p) {
    const sc_mm_weight &w = p.w;
    const mm_job job = mm_gemv_job(w, p.c);
    const uint32_t lane = sc_lane(), warp = threadIdx.x / SC_WARP;
    const uint32_t n0 = (blockIdx.x * SC_MM_GEMV_WARPS + warp) * R;
    if (!job.ok || n0 >= w.N) return; /* whole warps */
    const uint32_t K = w.K, nc = job.nc, nblk = K / SC_MM_Q8_BLOCK;

    uint32_t nr[R]; /* rows past N read row N - 1 and are not written */
    MM_UNROLL
    for (int r = 0; r < R; r++) nr[r] = n0 + r < w.N ? n0 + r : w.N - 1;

    float acc[R][MC];
    MM_UNROLL
    for (int r = 0; r < R; r++)
        MM_UNROLL
        for (int c = 0; c < MC; c++) acc[r][c] = 0.0f;

    /* ---- hot loop: one block of 32 codes per lane per step ---- */
    for (uint32_t u = lane; u < nblk; u += SC_WARP) {
        const uint32_t g = u * SC_MM_Q8_BLOCK / w.group_size;
        uint32_t q[R][BITS];
        float scale[R];
        int zoff[R]; /* what multiplies the block's sum of q */
        MM_UNROLL
        for (int r = 0; r < R; r++) {
            const uint8_t *row = job.w + (int64_t)nr[r] * w.nb1;
            mm_load_words<BITS>((const uint32_t *)row + (int64_t)u * BITS, w.align, q[r]);
            scale[r] = sc_h2f(((const uint16_t *)(job.w + w.q_scales))[(int64_t)nr[r] * w.G + g]);
            const int z = (job.w + w.q_zeros)[(int64_t)nr[r] * w.G + g];
            zoff[r] = BITS == 8 ? 128 - z : -z;
        }
        MM_UNROLL
        for (int c = 0; c < MC; c++) {
            if ((uint32_t)c >= nc) break;
            const int64_t col = (int64_t)job.q + c;
            const mm_u4 *xq = (const mm_u4 *)(p.xq + col * K + (int64_t)u * SC_MM_Q8_BLOCK);
            const mm_u4 a0 = xq[0], a1 = xq[1];
            const int a[8] = {(int)a0.v[0], (int)a0.v[1], (int)a0.v[2], (int)a0.v[3],
                              (int)a1.v[0], (int)a1.v[1], (int)a1.v[2], (int)a1.v[3]};
            const float d = p.xd[(col * nblk + u) * 2], s = p.xd[(col * nblk + u) * 2 + 1];
            MM_UNROLL
            for (int r = 0; r < R; r++) {
                int dot = 0;
                if constexpr (BITS == 4) {
                    MM_UNROLL
                    for (int j = 0; j < 4; j++) {
                        dot = sc_dot4_i8((int)(q[r][j] & 0x0f0f0f0fu), a[2 * j], dot);
                        dot = sc_dot4_i8((int)((q[r][j] >> 4) & 0x0f0f0f0fu), a[2 * j + 1], dot);
                    }
                } else {
                    MM_UNROLL
                    for (int j = 0; j < 8; j++) dot = sc_dot4_i8((int)(q[r][j] ^ 0x80808080u), a[j], dot);
                }
                acc[r][c] = fmaf(scale[r] * d, (float)dot + (float)zoff[r] * s, acc[r][c]);
            }
        }
    }

    /* ---- reduce; lane r*MC + c writes y[n0 + r, c] ---- */
    MM_UNROLL
    for (int c = 0; c < MC; c++) {
        if ((uint32_t)c >= nc) break;
        float *yc = (float *)((uint8_t *)job.y + (int64_t)c * job.y_cs);
        MM_UNROLL
        for (int r = 0; r < R; r++) {
            const float sum = sc_warp_sum(acc[r][c]);
            if (lane == (uint32_t)(r * MC + c) && n0 + r < w.N) yc[n0 + r] = sum;
        }
    }
}

SC_KERNEL(k_mm_gemv_dp4_q4, sc_mm_gemv_args, SC_MM_GEMV_THREADS) { mm_gemv_dp4<4, SC_MM_GEMV_ROWS>(p); }
SC_KERNEL(k_mm_gemv_dp4_q8, sc_mm_gemv_args, SC_MM_GEMV_THREADS) { mm_gemv_dp4<8, SC_MM_GEMV_ROWS>(p); }
/* launch-geometry variants (tuning: gemv-dp4.r1 / gemv-dp4.r4): grid x ceil(N / (WARPS * R)) */
SC_KERNEL(k_mm_gemv_dp4_q4_r1, sc_mm_gemv_args, SC_MM_GEMV_THREADS) { mm_gemv_dp4<4, 1>(p); }
SC_KERNEL(k_mm_gemv_dp4_q8_r1, sc_mm_gemv_args, SC_MM_GEMV_THREADS) { mm_gemv_dp4<8, 1>(p); }
SC_KERNEL(k_mm_gemv_dp4_q4_r4, sc_mm_gemv_args, SC_MM_GEMV_THREADS) { mm_gemv_dp4<4, 4>(p); }
SC_KERNEL(k_mm_gemv_dp4_q8_r4, sc_mm_gemv_args, SC_MM_GEMV_THREADS) { mm_gemv_dp4<8, 4>(p); }

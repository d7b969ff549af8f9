/*
 * kernels/matmul_gemv.hip - decode GEMV for MUL_MAT (M small) and
 * MUL_MAT_ID (one (i, t) pair per block column), f32 arithmetic on the
 * weights exactly as the reference dequantises them (backends/cpu/
 * ref_matmul.c); arguments kernels/matmul.h, host backends/hip/hip_op_matmul.c.
 *
 *   y[n, m] = sum_k W[n, k] * x[k, m]      W [N, K] (rows), x [K, nc columns]
 *
 * Block: SC_MM_GEMV_WARPS warps; warp w owns rows n0 .. n0 + ROWS - 1,
 * n0 = (blockIdx.x * WARPS + w) * ROWS, and all nc (<= SC_MM_GEMV_COLS)
 * columns of the block (mm_gemv_job). The lanes split K into units of UK
 * weights (32 codes of QG = `bits` words, 8 dense elements = 16 or 32
 * bytes): lane l takes units l, l + 32, ..., so each load instruction of the
 * warp reads one contiguous span of every row (128-bit loads where the rows
 * are 16-byte aligned) and every weight is read once per column block. A
 * unit's weights are dequantised in registers, then reused for the nc
 * columns; its x values (8 at a time) for the ROWS rows. The last K % UK
 * weights go one per lane; sc_warp_sum reduces.
 */
#include "sc_hip.h"
#include "matmul.h"
#include "matmul_dev.h"

#define R SC_MM_GEMV_ROWS
#define MC SC_MM_GEMV_COLS

/* 8 weights (chunk j of a unit) of one row from the unit's words q. */
template <int WT, bool BF>
static __device__ __forceinline__ void mm_unit_chunk(const uint32_t (&q)[mw_traits<WT>::NW], int j, float scale,
                                                     int zero, float (&v)[8]) {
    typedef mw_traits<WT> T;
    if (WT == MW_F32) {
        MM_UNROLL
        for (int i = 0; i < 8; i++) v[i] = __uint_as_float(q[i]);
    } else if (WT == MW_F16) {
        MM_UNROLL
        for (int i = 0; i < 8; i++) v[i] = sc_h2f((uint16_t)(q[i / 2] >> (16 * (i % 2))));
    } else if (WT == MW_BF16) {
        MM_UNROLL
        for (int i = 0; i < 8; i++) v[i] = __uint_as_float((i % 2) ? (q[i / 2] & 0xffff0000u) : (q[i / 2] << 16));
    } else {
        /* chunk j: codes 8j .. 8j+7 at bit 8*bits*j of the unit (compile-time after unrolling) */
        const int B = T::QBITS, bo = 8 * B * j, wi = bo / 32, sh = bo % 32;
        const uint64_t lo = q[wi], hi = (sh + 8 * B > 32 && wi + 1 < T::NW) ? q[wi + 1] : 0u;
        const uint64_t win = (lo | (hi << 32)) >> sh;
        MM_UNROLL
        for (int i = 0; i < 8; i++) {
            const int code = (int)((win >> (i * B)) & ((1u << B) - 1u));
            v[i] = mm_qg_round<BF>(scale * (float)(code - zero));
        }
    }
}

template <int WT, bool BF>
static __device__ __forceinline__ void mm_gemv(const sc_mm_gemv_args &p) {
    typedef mw_traits<WT> T;
    const sc_mm_weight &w = p.w;
    const mm_job job = mm_gemv_job(w, p.c);
    const uint32_t lane = sc_lane(), warp = threadIdx.x / SC_WARP;
    const uint32_t n0 = (blockIdx.x * SC_MM_GEMV_WARPS + warp) * R;
    if (!job.ok || n0 >= w.N) return; /* the whole warp: no sync point skipped by some lanes only */
    const uint32_t K = w.K, nc = job.nc;
    const bool xvec = p.c.xvec != 0;

    const uint8_t *rows[R]; /* rows past N read row N - 1 and are not written */
    MM_UNROLL
    for (int r = 0; r < R; r++) rows[r] = job.w + (int64_t)(n0 + r < w.N ? n0 + r : w.N - 1) * w.nb1;
    const float *xc[MC];
    MM_UNROLL
    for (int c = 0; c < MC; c++) xc[c] = (const float *)((const uint8_t *)job.x + (int64_t)c * job.x_cs);

    float acc[R][MC];
    MM_UNROLL
    for (int r = 0; r < R; r++)
        MM_UNROLL
        for (int c = 0; c < MC; c++) acc[r][c] = 0.0f;

    /* ---- hot loop: whole units, one per lane per step (none for MW_QG, or
     * for 16-bit rows that are not 4-byte aligned: all go one by one) ---- */
    const uint32_t nunits = (WT == MW_QG || w.align < 4) ? 0u : K / T::UK;
    for (uint32_t u = lane; u < nunits; u += SC_WARP) {
        const uint32_t k0 = u * T::UK;
        uint32_t q[R][T::NW];
        float scale[R];
        int zero[R];
        MM_UNROLL
        for (int r = 0; r < R; r++) {
            mm_load_words<T::NW>((const uint32_t *)rows[r] + (int64_t)u * T::NW, w.align, q[r]);
            scale[r] = 0.0f;
            zero[r] = 0;
            if (T::QBITS) { /* one group per unit */
                const uint32_t g = k0 / w.group_size, n = n0 + r < w.N ? n0 + r : w.N - 1;
                scale[r] = sc_h2f(((const uint16_t *)(job.w + w.q_scales))[(int64_t)n * w.G + g]);
                zero[r] = (job.w + w.q_zeros)[(int64_t)n * w.G + g];
            }
        }
        MM_UNROLL
        for (int j = 0; j < T::UK / 8; j++) {
            float wv[R][8];
            MM_UNROLL
            for (int r = 0; r < R; r++) mm_unit_chunk<WT, BF>(q[r], j, scale[r], zero[r], wv[r]);
            MM_UNROLL
            for (int c = 0; c < MC; c++) {
                if ((uint32_t)c >= nc) break;
                float xv[8];
                mm_load_x8(xc[c], k0 + 8 * j, xvec, xv);
                MM_UNROLL
                for (int r = 0; r < R; r++)
                    MM_UNROLL
                    for (int i = 0; i < 8; i++) acc[r][c] = fmaf(wv[r][i], xv[i], acc[r][c]);
            }
        }
    }

    /* ---- the rest of K (all of it for MW_QG): one weight per lane per step ---- */
    for (uint32_t k = nunits * T::UK + lane; k < K; k += SC_WARP) {
        float wk[R];
        MM_UNROLL
        for (int r = 0; r < R; r++) {
            const uint32_t n = n0 + r < w.N ? n0 + r : w.N - 1;
            wk[r] = mm_w_at<(WT == MW_QG || T::QBITS != 0) ? MW_QG : WT>(w, job.w, n, k, p.c.err);
        }
        MM_UNROLL
        for (int c = 0; c < MC; c++) {
            if ((uint32_t)c >= nc) break;
            const float xk = xc[c][k];
            MM_UNROLL
            for (int r = 0; r < R; r++) acc[r][c] = fmaf(wk[r], xk, acc[r][c]);
        }
    }

    /* ---- reduce over the warp; lane r*MC + c writes y[n0 + r, c] ---- */
    MM_UNROLL
    for (int c = 0; c < MC; c++) {
        if ((uint32_t)c >= nc) break; /* uniform: every lane takes the same shuffles */
        float *yc = (float *)((uint8_t *)job.y + (int64_t)c * job.y_cs);
        MM_UNROLL
        for (int r = 0; r < R; r++) {
            const float s = sc_warp_sum(acc[r][c]);
            if (lane == (uint32_t)(r * MC + c) && n0 + r < w.N) yc[n0 + r] = s;
        }
    }
}

#define MM_GEMV(name, WT, BF) \
    SC_KERNEL(name, sc_mm_gemv_args, SC_MM_GEMV_THREADS) { mm_gemv<WT, BF>(p); }

MM_GEMV(k_mm_gemv_f32, MW_F32, false)
MM_GEMV(k_mm_gemv_f16, MW_F16, false)
MM_GEMV(k_mm_gemv_bf16, MW_BF16, false)
MM_GEMV(k_mm_gemv_q2, MW_Q2, false)
MM_GEMV(k_mm_gemv_q3, MW_Q3, false)
MM_GEMV(k_mm_gemv_q4, MW_Q4, false)
MM_GEMV(k_mm_gemv_q8, MW_Q8, false)
MM_GEMV(k_mm_gemv_q2_bf, MW_Q2, true)
MM_GEMV(k_mm_gemv_q3_bf, MW_Q3, true)
MM_GEMV(k_mm_gemv_q4_bf, MW_Q4, true)
MM_GEMV(k_mm_gemv_q8_bf, MW_Q8, true)
MM_GEMV(k_mm_gemv_qg, MW_QG, false) /* any QG: g_idx, odd groups; rounding from p.w */

/*
 * kernels/matmul_dev.h - device-side helpers of the matmul family, included
 * by kernels/matmul_*.hip after sc_hip.h and matmul.h: weight access
 * (dense rows, QG codes, groups, the reference's rounding) and the job a
 * GEMV block does.
 *
 * QG (plugin.h): code k of a row is the `bits`-wide field at bit bits*k of
 * the row's words, least significant bit first; its group is g_idx[k] or
 * k / group_size; W[n][k] = round16(scale[n][g] * (code - zero[n][g])) where
 * round16 is f16 rounding, or bf16 with SC_QUANT_BF16_ROUND. The product of
 * an f16 scale and an integer of at most 9 bits is exact in f32, so
 * sc_h2f(sc_f2h(...)) gives the reference's weight bit for bit.
 *
 * Range errors (the reference's SC_ERANGE) are reported in the stream's
 * error word `err` (sc_mm_cols.err): a g_idx entry outside 0..G-1 (the weight
 * then uses group 0) where the weight is read, an expert id outside 0..E-1
 * (the pair is skipped) by mm_gemv_job.
 */
#ifndef SC_KERNELS_MATMUL_DEV_H
#define SC_KERNELS_MATMUL_DEV_H

#include "matmul.h"
#include "sc_hip.h"

/* Full unrolling, which keeps the small per-thread arrays in registers (no
 * scratch on the GPU); g++ (EMU) knows no such pragma and needs none. */
#if defined(__clang__) || defined(__CUDACC__)
#define MM_UNROLL _Pragma("unroll")
#else
#define MM_UNROLL
#endif

/* 128- and 64-bit accesses (global_load_b128 / _b64 on gfx11) */
struct alignas(16) mm_u4 {
    uint32_t v[4];
};
struct alignas(8) mm_u2 {
    uint32_t v[2];
};

/* ---- weight kinds (compile-time) ---------------------------------------------------- */
/* MW_Q2..MW_Q8 are QG of that width whose groups are whole 32-code units
 * (no g_idx, group_size % 32 == 0 or one group); MW_QG is any QG (bits,
 * groups and rounding looked up per weight: g_idx, odd group sizes). */
enum { MW_F32 = 0, MW_F16 = 1, MW_BF16 = 2, MW_Q2 = 12, MW_Q3 = 13, MW_Q4 = 14, MW_Q8 = 18, MW_QG = 20 };

template <int WT> struct mw_traits {
    /* QBITS: QG width (0: dense or MW_QG); UK: weights a lane takes per step
     * (one "unit"); NW: u32 words of a unit */
    static constexpr int QBITS = (WT >= MW_Q2 && WT <= MW_Q8) ? WT - 10 : 0;
    static constexpr int UK = QBITS ? 32 : 8;
    static constexpr int NW = WT == MW_F32 ? 8 : (WT == MW_F16 || WT == MW_BF16) ? 4 : QBITS ? QBITS : 1;
};

/* ---- loads ------------------------------------------------------------------------------ */
/* NW consecutive words at p; `align` (bytes) is what p is known to be aligned to. */
template <int NW>
static __device__ __forceinline__ void mm_load_words(const uint32_t *__restrict__ p, uint32_t align,
                                                     uint32_t (&q)[NW]) {
    if (NW % 4 == 0 && align >= 16) {
        MM_UNROLL
        for (int i = 0; i < NW / 4; i++) {
            const mm_u4 v = ((const mm_u4 *)p)[i];
            MM_UNROLL
            for (int j = 0; j < 4; j++) q[4 * i + j] = v.v[j];
        }
    } else if (NW % 2 == 0 && align >= 8) {
        MM_UNROLL
        for (int i = 0; i < NW / 2; i++) {
            const mm_u2 v = ((const mm_u2 *)p)[i];
            q[2 * i] = v.v[0];
            q[2 * i + 1] = v.v[1];
        }
    } else {
        MM_UNROLL
        for (int i = 0; i < NW; i++) q[i] = p[i];
    }
}

/* x[k .. k+7] of a column (k + 8 <= K); vec: the column is 16-byte aligned, k % 8 == 0 */
static __device__ __forceinline__ void mm_load_x8(const float *__restrict__ x, uint32_t k, bool vec, float (&v)[8]) {
    if (vec) {
        const mm_u4 a = ((const mm_u4 *)(x + k))[0], b = ((const mm_u4 *)(x + k))[1];
        MM_UNROLL
        for (int i = 0; i < 4; i++) {
            v[i] = __uint_as_float(a.v[i]);
            v[4 + i] = __uint_as_float(b.v[i]);
        }
    } else {
        MM_UNROLL
        for (int i = 0; i < 8; i++) v[i] = x[k + i];
    }
}

/* ---- QG ------------------------------------------------------------------------------- */
template <bool BF16>
static __device__ __forceinline__ float mm_qg_round(float v) {
    return BF16 ? sc_bf2f(sc_f2bf(v)) : sc_h2f(sc_f2h(v));
}

static __device__ __forceinline__ float mm_qg_weight(uint32_t code, float scale, int zero, bool bf16) {
    const float v = scale * (float)((int)code - zero);
    return bf16 ? mm_qg_round<true>(v) : mm_qg_round<false>(v);
}

static __device__ __forceinline__ uint32_t mm_qg_group(const sc_mm_weight &w, const uint8_t *slab, uint32_t k,
                                                      unsigned *err) {
    if (w.q_gidx >= 0) {
        const int32_t g = ((const int32_t *)(slab + w.q_gidx))[k];
        if (g < 0 || (uint32_t)g >= w.G) { /* the reference's SC_ERANGE: reported, group 0 here */
            sc_report(err, SC_HIP_ERR_RANGE);
            return 0u;
        }
        return (uint32_t)g;
    }
    return k / w.group_size;
}

/* Code k of a row (any width; a 3-bit field may straddle two words). */
static __device__ __forceinline__ uint32_t mm_qg_code(const uint32_t *row, uint32_t bits, uint32_t k) {
    const uint32_t bo = k * bits, wi = bo >> 5, sh = bo & 31u;
    uint32_t v = row[wi] >> sh;
    if (sh + bits > 32u) v |= row[wi + 1] << (32u - sh);
    return v & ((1u << bits) - 1u);
}

/* ---- one weight, or 8, anywhere (tails, GEMM tiles) ---------------------------------------- */
/* W[n][k] of the matrix at `mat` (weight type WT: MW_F32/F16/BF16, or any QG
 * kind: then every QG parameter is read from w). k < K, n < N. err: a g_idx
 * entry out of range is reported there. */
template <int WT>
static __device__ __forceinline__ float mm_w_at(const sc_mm_weight &w, const uint8_t *mat, uint32_t n, uint32_t k,
                                               unsigned *err) {
    const uint8_t *row = mat + (int64_t)n * w.nb1;
    if (WT == MW_F32) return ((const float *)row)[k];
    if (WT == MW_F16) return sc_h2f(((const uint16_t *)row)[k]);
    if (WT == MW_BF16) return sc_bf2f(((const uint16_t *)row)[k]);
    const uint32_t g = mm_qg_group(w, mat, k, err);
    const uint32_t code = mm_qg_code((const uint32_t *)row, w.bits, k);
    const float s = sc_h2f(((const uint16_t *)(mat + w.q_scales))[(int64_t)n * w.G + g]);
    const int z = (mat + w.q_zeros)[(int64_t)n * w.G + g];
    return mm_qg_weight(code, s, z, w.bf16_round != 0);
}

/* W[n][k .. k+7], zero past K or N; k % 8 == 0. WT and err as for mm_w_at. */
template <int WT>
static __device__ __forceinline__ void mm_w_load8(const sc_mm_weight &w, const uint8_t *mat, uint32_t n, uint32_t k,
                                                  unsigned *err, float (&v)[8]) {
    if (n >= w.N || k >= w.K) {
        MM_UNROLL
        for (int i = 0; i < 8; i++) v[i] = 0.0f;
        return;
    }
    const uint8_t *row = mat + (int64_t)n * w.nb1;
    const bool full = k + 8 <= w.K;
    if (WT == MW_F32 || WT == MW_F16 || WT == MW_BF16) {
        if (full && w.align >= 16) {
            uint32_t q[WT == MW_F32 ? 8 : 4];
            mm_load_words<WT == MW_F32 ? 8 : 4>((const uint32_t *)row + k / (WT == MW_F32 ? 1 : 2), 16, q);
            MM_UNROLL
            for (int i = 0; i < 8; i++) {
                if (WT == MW_F32) v[i] = __uint_as_float(q[i]);
                else if (WT == MW_F16) v[i] = sc_h2f((uint16_t)(q[i / 2] >> (16 * (i % 2))));
                else v[i] = __uint_as_float((i % 2) ? (q[i / 2] & 0xffff0000u) : (q[i / 2] << 16));
            }
            return;
        }
        MM_UNROLL
        for (int i = 0; i < 8; i++) v[i] = (k + i < w.K) ? mm_w_at<WT>(w, mat, n, k + i, err) : 0.0f;
        return;
    }
    /* QG: the 8 codes share a group unless g_idx or a group size that is not a multiple of 8 */
    if (full && w.q_gidx < 0 && (w.group_size % 8u == 0 || w.G == 1)) {
        const uint32_t *r = (const uint32_t *)row;
        const uint32_t bits = w.bits, bo = k * bits, wi = bo >> 5, sh = bo & 31u;
        const uint32_t row_words = (w.K * bits + 31u) / 32u;
        const uint64_t lo = r[wi], hi = (sh + 8u * bits > 32u && wi + 1 < row_words) ? r[wi + 1] : 0u;
        const uint64_t win = (lo | (hi << 32)) >> sh; /* 8 codes, at most 64 bits */
        const uint32_t g = k / w.group_size, mask = (1u << bits) - 1u;
        const float s = sc_h2f(((const uint16_t *)(mat + w.q_scales))[(int64_t)n * w.G + g]);
        const int z = (mat + w.q_zeros)[(int64_t)n * w.G + g];
        const bool bf = w.bf16_round != 0;
        MM_UNROLL
        for (int i = 0; i < 8; i++) v[i] = mm_qg_weight((uint32_t)(win >> (i * bits)) & mask, s, z, bf);
        return;
    }
    MM_UNROLL
    for (int i = 0; i < 8; i++) v[i] = (k + i < w.K) ? mm_w_at<MW_QG>(w, mat, n, k + i, err) : 0.0f;
}

/* ---- the columns a GEMV block works on --------------------------------------------------- */
struct mm_job {
    const uint8_t *w; /* the weight matrix (QG: slab) */
    const float *x;   /* column 0 */
    float *y;
    int64_t x_cs, y_cs; /* bytes between the columns (MUL_MAT: x_nb1, y_nb1) */
    uint32_t nc;        /* columns, 1..SC_MM_GEMV_COLS */
    uint32_t q;         /* dp4: the int8 copy's column of column 0 */
    bool ok;
};

/* MUL_MAT: blockIdx.y = column block, blockIdx.z = batch (i2 + ne2 * i3).
 * MUL_MAT_ID: blockIdx.z = pair i + n_used * t, one column; an expert id
 * outside 0..E-1 gives ok = false, reported once per pair (block x 0,
 * thread 0). */
static __device__ __forceinline__ mm_job mm_gemv_job(const sc_mm_weight &w, const sc_mm_cols &c) {
    mm_job j;
    if (c.ids) {
        const uint32_t pair = blockIdx.z, i = pair % c.M, t = pair / c.M;
        const int32_t e = *(const int32_t *)(c.ids + (int64_t)t * c.ids_nb1 + (int64_t)i * 4);
        const uint32_t xi = c.x_bcast ? 0u : i;
        j.ok = e >= 0 && (uint32_t)e < c.E;
        if (!j.ok && blockIdx.x == 0 && threadIdx.x == 0) sc_report(c.err, SC_HIP_ERR_RANGE);
        j.w = w.base + (int64_t)(j.ok ? e : 0) * w.nb2;
        j.x = (const float *)(c.x + (int64_t)xi * c.x_nb1 + (int64_t)t * c.x_nb2);
        j.y = (float *)(c.y + (int64_t)i * c.y_nb1 + (int64_t)t * c.y_nb2);
        j.x_cs = j.y_cs = 0;
        j.nc = 1;
        j.q = t * (c.x_bcast ? 1u : c.M) + xi;
    } else {
        const uint32_t b = blockIdx.z, i2 = b % c.ne2, i3 = b / c.ne2, m0 = blockIdx.y * SC_MM_GEMV_COLS;
        j.ok = true;
        j.w = w.base + (int64_t)(i2 / c.r2) * w.nb2 + (int64_t)(i3 / c.r3) * w.nb3;
        j.x = (const float *)(c.x + (int64_t)m0 * c.x_nb1 + (int64_t)i2 * c.x_nb2 + (int64_t)i3 * c.x_nb3);
        j.y = (float *)(c.y + (int64_t)m0 * c.y_nb1 + (int64_t)i2 * c.y_nb2 + (int64_t)i3 * c.y_nb3);
        j.x_cs = c.x_nb1;
        j.y_cs = c.y_nb1;
        j.nc = c.M - m0 < SC_MM_GEMV_COLS ? c.M - m0 : SC_MM_GEMV_COLS;
        j.q = b * c.M + m0;
    }
    return j;
}

#endif /* SC_KERNELS_MATMUL_DEV_H */

/*
 * backends/cpu/fast_kern_avx512.c - AVX-512 (F, BW, VL, DQ, VNNI) kernels for
 * batches: continuous-batching decode (M = a few to tens of columns) and
 * prefill. Everything else is the base table's, AVX2 + AVX-VNNI (or plain
 * AVX2 where the CPU has AVX-512 VNNI without AVX-VNNI, e.g. Zen 4, Ice
 * Lake): this table starts as a copy of it. Single-column decode keeps the
 * base's kernels too: it is memory-bound, and one row streaming after
 * another keeps the prefetchers busier than the tiles below do.
 *
 * What 32 zmm registers buy is register tiles, 4 weight rows x 4 columns:
 * every weight vector loaded (and widened or unpacked) feeds four columns,
 * every column vector loaded feeds four rows.
 *
 *  - gemm: dense f32/f16/bf16 weights against M >= 3 f32 columns (the
 *    batched lm_head, prefill), f32 arithmetic. The weights are widened in
 *    registers, no f32 copy of the rows: bf16 in two ops per 32 weights, as
 *    a 64-byte load holds 16 dwords (w[2i+1] << 16 | w[2i]), so `dword <<
 *    16` is w[2i] and `dword & 0xffff0000` is w[2i+1] as f32; the columns
 *    are prepared once per call as [evens | odds] of every 32 values
 *    (gemm_prep) to meet them.
 *  - gemm_q8: 4-bit QG rows with groups and K multiples of 128 (GPTQ / AWQ
 *    at group size 128) against int8 columns (sc_cpu_q8, in this table's
 *    own order, quant_q8_tiled). On Zen 5 a zmm vpdpbusd issues at half the
 *    rate of a zmm FMA (measured: the same multiply-adds per cycle as ymm
 *    AVX-VNNI), so the int8 dots are the bound and the tile's job is to keep
 *    the unpacking, loads and f32 scaling from adding to them.
 *  - dot4_f32 / axpy4_f32 for attention over short contexts.
 * Both GEMMs prefetch the next tile's rows on their first pass over a block:
 * four interleaved row streams otherwise run below memory bandwidth.
 *
 * Function-level target attributes as in fast_kern_avx2.c: the file builds
 * with the project's flags and fast_dispatch.c hands this table out only
 * when CPUID and XCR0 say AVX-512 is usable.
 */
#include "cpu_impl.h"

#if SC_CPU_X86

#include <immintrin.h>
#include <pthread.h>

#define SC_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))
#define SC_AVX512_INLINE SC_AVX512 static inline __attribute__((always_inline))

static const sc_cpu_kernels *avx512_base; /* set once, before the table is handed out */

/* ------------------------------------------------------------------------ */
/* horizontal sums                                                           */
/* ------------------------------------------------------------------------ */

/* [sum(a), sum(b), sum(c), sum(d)] */
SC_AVX512_INLINE __m128 hsum4(__m512 a, __m512 b, __m512 c, __m512 d) {
    /* 128-bit chunks: ab = [a0+a2, a1+a3, b0+b2, b1+b3], likewise cd */
    const __m512 ab = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xee));
    const __m512 cd = _mm512_add_ps(_mm512_shuffle_f32x4(c, d, 0x44), _mm512_shuffle_f32x4(c, d, 0xee));
    /* [A | B | C | D], four partial sums each */
    __m512 u = _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, 0x88), _mm512_shuffle_f32x4(ab, cd, 0xdd));
    u = _mm512_add_ps(u, _mm512_permute_ps(u, 0x4e));
    u = _mm512_add_ps(u, _mm512_permute_ps(u, 0xb1));
    return _mm512_castps512_ps128(_mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                                          0, 0),
                                                        u));
}

/* ------------------------------------------------------------------------ */
/* dense GEMM: 4 rows x 4 columns of f32 accumulators                        */
/* ------------------------------------------------------------------------ */

#define GEMM_STEP 32 /* K values per step: two zmm of f32 per row and column */

/* The prepared columns are padded with zeros to a multiple of 32. */
static size_t gemm_prep_len(int64_t K) { return (size_t)((K + GEMM_STEP - 1) / GEMM_STEP * GEMM_STEP); }

/* bf16: every 32 values as [x0 x2 .. x30 | x1 x3 .. x31] (see the file
 * comment); f32/f16: as they are, copied only to pad a K tail. */
SC_AVX512 static const float *gemm_prep(int32_t wtype, const float *x, int64_t K, float *buf) {
    const bool eo = wtype == SC_TYPE_BF16;
    if (!eo && K % GEMM_STEP == 0) return x;
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    for (int64_t k = 0; k < K; k += GEMM_STEP) {
        const int64_t n = K - k < GEMM_STEP ? K - k : GEMM_STEP;
        const __mmask16 m0 = (__mmask16)(n >= 16 ? 0xffffu : (1u << n) - 1u);
        const __mmask16 m1 = (__mmask16)(n >= 32 ? 0xffffu : n > 16 ? (1u << (n - 16)) - 1u : 0u);
        const __m512 a = _mm512_maskz_loadu_ps(m0, x + k), b = _mm512_maskz_loadu_ps(m1, x + k + 16);
        _mm512_store_ps(buf + k, eo ? _mm512_permutex2var_ps(a, ie, b) : a);
        _mm512_store_ps(buf + k + 16, eo ? _mm512_permutex2var_ps(a, io, b) : b);
    }
    return buf;
}

/* Weights k..k+31 of a row as two f32 vectors that meet the prepared column
 * halves x[k..k+15] and x[k+16..k+31]; n < 32 loads only n of them (the
 * rest read as 0; masked-off bytes are never touched). */
SC_AVX512_INLINE void gemm_load_w(const int32_t wtype, const uint8_t *row, int64_t k, int64_t n, __m512 *w0,
                                  __m512 *w1) {
    const bool full = n >= GEMM_STEP;
    const __mmask16 m0 = (__mmask16)(full || n >= 16 ? 0xffffu : (1u << n) - 1u);
    const __mmask16 m1 = (__mmask16)(full ? 0xffffu : n > 16 ? (1u << (n - 16)) - 1u : 0u);
    switch (wtype) {
    case SC_TYPE_BF16: {
        const void *p = row + k * 2;
        const __m512i raw = full ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi16((__mmask32)((1u << n) - 1u), p);
        *w0 = _mm512_castsi512_ps(_mm512_slli_epi32(raw, 16));
        *w1 = _mm512_castsi512_ps(_mm512_and_si512(raw, _mm512_set1_epi32((int32_t)0xffff0000u)));
        break;
    }
    case SC_TYPE_F16: {
        const void *p = row + k * 2;
        *w0 = _mm512_cvtph_ps(full ? _mm256_loadu_si256(p) : _mm256_maskz_loadu_epi16(m0, p));
        *w1 = _mm512_cvtph_ps(full ? _mm256_loadu_si256((const __m256i *)p + 1)
                                   : _mm256_maskz_loadu_epi16(m1, (const __m256i *)p + 1));
        break;
    }
    default: {
        const float *p = (const float *)(const void *)row + k;
        *w0 = full ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(m0, p);
        *w1 = full ? _mm512_loadu_ps(p + 16) : _mm512_maskz_loadu_ps(m1, p + 16);
        break;
    }
    }
}

#define GEMM_UNROLL _Pragma("GCC unroll 4")
#define GEMM_KC 1024                /* K per pass: four prepared columns of it (16 KiB) stay in L1 */
#define GEMM_WBLOCK (256u * 1024u) /* bytes of weight rows per block: they stay in L2 across columns */

/* One RT x CT tile (RT in {1, 4}, CT in 1..4, compile-time constants after
 * inlining) over K values [k0, k1): y[c][r] = (add ? y[c][r] : 0) + row r .
 * column c. 16 accumulators, 8 widened weight vectors and 2 column vectors:
 * 26 of 32 registers. */
SC_AVX512_INLINE void gemm_tile(const int32_t wtype, const int RT, const int CT, const uint8_t *w, size_t ldw,
                                const uint8_t *pf, int64_t k0, int64_t k1, bool add, const float *const *xp,
                                float *const *y, int64_t y_off) {
    const size_t es = wtype == SC_TYPE_F32 ? 4 : 2;
    __m512 acc[4][4], acc2[4][4]; /* acc2: a second chain per pair in small tiles (FMA latency) */
    const bool two = RT * CT <= 4;
    GEMM_UNROLL
    for (int r = 0; r < 4; r++) {
        GEMM_UNROLL
        for (int c = 0; c < 4; c++) acc[r][c] = acc2[r][c] = _mm512_setzero_ps();
    }
    const float *xc[4];
    GEMM_UNROLL
    for (int c = 0; c < CT; c++) xc[c] = xp[c];
    for (int64_t k = k0; k < k1; k += GEMM_STEP) { /* hot loop: RT rows x CT columns x 32 values */
        const int64_t n = k1 - k;
        __m512 w0[4], w1[4];
        if (pf) {
            GEMM_UNROLL
            for (int r = 0; r < RT; r++) _mm_prefetch((const char *)pf + r * ldw + (size_t)k * es, _MM_HINT_T0);
        }
        if (n >= GEMM_STEP) {
            GEMM_UNROLL
            for (int r = 0; r < RT; r++) gemm_load_w(wtype, w + (size_t)r * ldw, k, GEMM_STEP, &w0[r], &w1[r]);
        } else {
            GEMM_UNROLL
            for (int r = 0; r < RT; r++) gemm_load_w(wtype, w + (size_t)r * ldw, k, n, &w0[r], &w1[r]);
        }
        GEMM_UNROLL
        for (int c = 0; c < CT; c++) {
            const __m512 x0 = _mm512_loadu_ps(xc[c] + k), x1 = _mm512_loadu_ps(xc[c] + k + 16);
            GEMM_UNROLL
            for (int r = 0; r < RT; r++) {
                acc[r][c] = _mm512_fmadd_ps(w0[r], x0, acc[r][c]);
                if (two)
                    acc2[r][c] = _mm512_fmadd_ps(w1[r], x1, acc2[r][c]);
                else
                    acc[r][c] = _mm512_fmadd_ps(w1[r], x1, acc[r][c]);
            }
        }
    }
    GEMM_UNROLL
    for (int c = 0; c < CT; c++) {
        if (two) {
            GEMM_UNROLL
            for (int r = 0; r < RT; r++) acc[r][c] = _mm512_add_ps(acc[r][c], acc2[r][c]);
        }
        float *out = y[c] + y_off;
        if (RT == 4) {
            const __m128 s = hsum4(acc[0][c], acc[1][c], acc[2][c], acc[3][c]);
            _mm_storeu_ps(out, add ? _mm_add_ps(_mm_loadu_ps(out), s) : s);
        } else {
            const float s = _mm512_reduce_add_ps(acc[0][c]);
            *out = add ? *out + s : s;
        }
    }
}

/* CT columns against rows [0, R) over K values [k0, k1). */
SC_AVX512_INLINE void gemm_cols(const int32_t wtype, const int CT, const uint8_t *w, size_t ldw, int64_t R,
                                bool pf, int64_t k0, int64_t k1, const float *const *xp, float *const *y,
                                int64_t y_off) {
    const bool add = k0 > 0;
    int64_t r = 0;
    for (; r + 4 <= R; r += 4) {
        const uint8_t *wr = w + (size_t)r * ldw;
        gemm_tile(wtype, 4, CT, wr, ldw, pf && r + 8 <= R ? wr + 4 * ldw : NULL, k0, k1, add, xp, y, y_off + r);
    }
    for (; r < R; r++) gemm_tile(wtype, 1, CT, w + (size_t)r * ldw, ldw, NULL, k0, k1, add, xp, y, y_off + r);
}

/* Rows [0, R) x all M columns. Loop order, outside in: blocks of rows
 * (GEMM_WBLOCK bytes: read from memory once, then from L2), K in pieces of
 * GEMM_KC (later pieces add to y), columns four at a time (in L1 while the
 * block's rows go by), rows four at a time. */
SC_AVX512_INLINE void gemm_rows(const int32_t wtype, const uint8_t *w, size_t ldw, int64_t R, int64_t K,
                                const float *const *xp, int64_t M, float *const *y, int64_t y_off) {
    const size_t es = sc__cpu_type_size(wtype);
    const int64_t kc = K < GEMM_KC ? K : GEMM_KC;
    int64_t rb = (int64_t)(GEMM_WBLOCK / ((size_t)kc * es)) / 4 * 4;
    if (rb < 4) rb = 4;
    for (int64_t r0 = 0; r0 < R; r0 += rb) {
        const int64_t nr = R - r0 < rb ? R - r0 : rb;
        const uint8_t *wb = w + (size_t)r0 * ldw;
        for (int64_t k0 = 0; k0 < K; k0 += GEMM_KC) {
            const int64_t k1 = K - k0 < GEMM_KC ? K : k0 + GEMM_KC;
            int64_t m = 0;
            for (; m + 4 <= M; m += 4) gemm_cols(wtype, 4, wb, ldw, nr, m == 0, k0, k1, xp + m, y + m, y_off + r0);
            switch (M - m) {
            case 1: gemm_cols(wtype, 1, wb, ldw, nr, m == 0, k0, k1, xp + m, y + m, y_off + r0); break;
            case 2: gemm_cols(wtype, 2, wb, ldw, nr, m == 0, k0, k1, xp + m, y + m, y_off + r0); break;
            case 3: gemm_cols(wtype, 3, wb, ldw, nr, m == 0, k0, k1, xp + m, y + m, y_off + r0); break;
            default: break;
            }
        }
    }
}

SC_AVX512 static void gemm(int32_t wtype, const uint8_t *w, size_t ldw, int64_t R, int64_t K,
                           const float *const *xp, int64_t M, float *const *y, int64_t y_off) {
    switch (wtype) { /* one instantiation per weight type */
    case SC_TYPE_BF16: gemm_rows(SC_TYPE_BF16, w, ldw, R, K, xp, M, y, y_off); break;
    case SC_TYPE_F16: gemm_rows(SC_TYPE_F16, w, ldw, R, K, xp, M, y, y_off); break;
    default: gemm_rows(SC_TYPE_F32, w, ldw, R, K, xp, M, y, y_off); break;
    }
}

/* ------------------------------------------------------------------------ */
/* attention's small shapes: four K rows per query, four V rows per store   */
/* ------------------------------------------------------------------------ */

/* out[r] = dot(w + r*ldw, x), r < 4; the tail is masked. */
SC_AVX512 static void dot4_f32(const float *w, int64_t ldw, const float *x, int64_t n, float out[4]) {
    const float *w1 = w + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (int64_t i = 0; i < n; i += 16) { /* hot loop: one x load feeds four rows */
        const __mmask16 m = (__mmask16)(n - i >= 16 ? 0xffffu : (1u << (n - i)) - 1u);
        const __m512 xv = _mm512_maskz_loadu_ps(m, x + i);
        s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + i), xv, s0);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w1 + i), xv, s1);
        s2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w2 + i), xv, s2);
        s3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w3 + i), xv, s3);
    }
    _mm_storeu_ps(out, hsum4(s0, s1, s2, s3));
}

/* y[i..i+16) (lanes in m) += a0 x0 + a1 x1 + a2 x2 + a3 x3, FMA by FMA. */
SC_AVX512_INLINE void axpy4_step(__m512 a0, __m512 a1, __m512 a2, __m512 a3, const float *x0, const float *x1,
                                 const float *x2, const float *x3, float *y, __mmask16 m) {
    __m512 v = _mm512_fmadd_ps(a0, _mm512_maskz_loadu_ps(m, x0), _mm512_maskz_loadu_ps(m, y));
    v = _mm512_fmadd_ps(a1, _mm512_maskz_loadu_ps(m, x1), v);
    v = _mm512_fmadd_ps(a2, _mm512_maskz_loadu_ps(m, x2), v);
    _mm512_mask_storeu_ps(y, m, _mm512_fmadd_ps(a3, _mm512_maskz_loadu_ps(m, x3), v));
}

/* As the base table's axpy_f32 four times: FMA over whole blocks of 8,
 * plain multiply-add on the tail (bit-identical results). */
SC_AVX512 static void axpy4_f32(const float a[4], const float *x, int64_t ldx, float *y, int64_t n) {
    const float *x1 = x + ldx, *x2 = x1 + ldx, *x3 = x2 + ldx;
    const __m512 a0 = _mm512_set1_ps(a[0]), a1 = _mm512_set1_ps(a[1]), a2 = _mm512_set1_ps(a[2]),
                 a3 = _mm512_set1_ps(a[3]);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) /* hot loop: four rows per load and store of y */
        axpy4_step(a0, a1, a2, a3, x + i, x1 + i, x2 + i, x3 + i, y + i, 0xffff);
    if (i + 8 <= n) {
        axpy4_step(a0, a1, a2, a3, x + i, x1 + i, x2 + i, x3 + i, y + i, 0xff);
        i += 8;
    }
    for (; i < n; i++) {
        float v = y[i];
        v += a[0] * x[i];
        v += a[1] * x1[i];
        v += a[2] * x2[i];
        v += a[3] * x3[i];
        y[i] = v;
    }
}

/* ------------------------------------------------------------------------ */
/* QG 4-bit x int8 columns: 128 values per step, tiles of 4 rows x 4 columns */
/* ------------------------------------------------------------------------ */

/* This table's int8 column order for 4-bit rows with groups and K multiples
 * of 128 ("quad" layout), per 128 values v[0..127] (blocks 0-3):
 *   q[j] = v[2j], q[64 + j] = v[2j + 1]  (j < 64)
 * i.e. the low nibbles of the step's 64 code bytes, then the high nibbles:
 * one 64-byte code load, a shift and two ANDs give two zmm of codes, and
 * dpbusd lane l (bytes 4l..4l+3 of both) sums v[8l .. 8l+7], all in block
 * l / 4. dx holds d[l / 4] in lane l, the AVX2 table's dx; d and gsum are
 * as in sc_cpu_q8. Other rows keep the base table's layouts and kernels. */
static bool q4_quad(uint32_t bits, uint32_t gs, int64_t K) { return bits == 4 && gs % 128 == 0 && K % 128 == 0; }

SC_AVX512 static void quant_q8_tiled(const float *x, int64_t K, uint32_t bits, uint32_t group_size, int8_t *q,
                                     float *d, float *gsum, float *dx) {
    if (!q4_quad(bits, group_size, K)) {
        avx512_base->quant_q8(x, K, bits, group_size, q, d, gsum, dx);
        return;
    }
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const int64_t bpg = (int64_t)group_size / SC_CPU_Q8_BLOCK;
    for (int64_t b = 0; b < K / SC_CPU_Q8_BLOCK; b++) { /* one block of 32 */
        const float *xb = x + b * SC_CPU_Q8_BLOCK;
        const __m512 v0 = _mm512_loadu_ps(xb), v1 = _mm512_loadu_ps(xb + 16);
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        const float db = amax / 127.0f;
        const __m512 id = _mm512_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
        /* round to nearest even, like the portable lrintf; |i| <= 127 */
        const __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, id)), i1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, id));
        const int32_t sum = _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
        int8_t *qs = q + (b & ~3) * SC_CPU_Q8_BLOCK + (b & 3) * 16; /* the block's evens; odds 64 further */
        _mm_storeu_si128((__m128i *)(void *)qs, _mm512_cvtepi32_epi8(_mm512_permutex2var_epi32(i0, ie, i1)));
        _mm_storeu_si128((__m128i *)(void *)(qs + 64), _mm512_cvtepi32_epi8(_mm512_permutex2var_epi32(i0, io, i1)));
        d[b] = db;
        _mm_storeu_ps(dx + b * 4, _mm_set1_ps(db));
        if (b % bpg == 0) gsum[b / bpg] = 0.0f;
        gsum[b / bpg] += db * (float)sum;
    }
}

#define Q4Q_UNROLL _Pragma("GCC unroll 4")

/* RT (1 or 4) quad-layout rows q[0..RT) x CT (1..4) columns x[0..CT), both
 * compile-time constants: y[c][y_off + r] = row r . column c.
 * Per 128-value step, row and column: two dpbusd (low, high nibbles), one
 * conversion, one multiply by the blocks' d, one FMA with the group scale.
 * dpbusd is the bound (a zmm one issues at half the rate of an FMA on Zen
 * 5), so the tile is there to keep everything else off it: each row's codes
 * are unpacked once per four columns, each column's int8 loads feed four
 * rows. The zero point, sum_g s_g z_g gsum_cg, goes into the same
 * accumulators sixteen groups per FMA (lane i takes group g0 + i: the lanes
 * are summed at the end anyway). Registers in the hot loop: 16
 * accumulators, 8 code vectors, 3 column vectors, 2 temporaries, the mask. */
SC_AVX512_INLINE void q4q_tile(const sc_cpu_qrow *q, const sc_cpu_q8 *x, const int RT, const int CT, const int64_t GS,
                               const sc_cpu_qrow *pf, int64_t K, float *const *y, int64_t y_off) {
    const int64_t gs = GS ? GS : (int64_t)q[0].group_size, G = (K + gs - 1) / gs; /* GS: 128 or 0 (any) */
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    __m512 acc[4][4];
    Q4Q_UNROLL
    for (int r = 0; r < 4; r++) {
        Q4Q_UNROLL
        for (int c = 0; c < 4; c++) acc[r][c] = _mm512_setzero_ps();
    }
    for (int64_t g0 = 0; g0 < G; g0 += 16) {
        const int ng = G - g0 < 16 ? (int)(G - g0) : 16;
        const __mmask16 gm = (__mmask16)((1u << ng) - 1u);
        float sf[4][16]; /* the rows' group scales */
        Q4Q_UNROLL
        for (int r = 0; r < RT; r++) {
            const __m512 s16 = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(gm, q[r].scales + g0 * 2));
            const __m512 z16 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(gm, q[r].zeros + g0)));
            const __m512 sz = _mm512_mul_ps(s16, z16);
            Q4Q_UNROLL
            for (int c = 0; c < CT; c++)
                acc[r][c] = _mm512_fnmadd_ps(sz, _mm512_maskz_loadu_ps(gm, x[c].gsum + g0), acc[r][c]);
            _mm512_storeu_ps(sf[r], s16);
        }
        const int64_t k1 = (g0 + ng) * gs < K ? (g0 + ng) * gs : K;
        int gi = 0;
        int64_t in_group = 0;
        for (int64_t k = g0 * gs; k < k1; k += 128) { /* hot loop: 128 codes x RT rows x CT columns */
            __m512i lo[4], hi[4];
            if (pf) { /* the next tile's codes, while this one computes */
                Q4Q_UNROLL
                for (int r = 0; r < RT; r++) _mm_prefetch((const char *)pf[r].codes + k / 2, _MM_HINT_T0);
            }
            Q4Q_UNROLL
            for (int r = 0; r < RT; r++) {
                const __m512i raw = _mm512_loadu_si512(q[r].codes + k / 2);
                lo[r] = _mm512_and_si512(raw, m4);
                hi[r] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
            }
            Q4Q_UNROLL
            for (int c = 0; c < CT; c++) {
                const __m512i x0 = _mm512_loadu_si512(x[c].q + k), x1 = _mm512_loadu_si512(x[c].q + k + 64);
                const __m512 d = _mm512_loadu_ps(x[c].dx + k / 8);
                Q4Q_UNROLL
                for (int r = 0; r < RT; r++) {
                    /* an empty asm "writing" the scale keeps it a memory operand (an FMA with
                     * {1to16} broadcast) rather than four hoisted registers, which would spill
                     * an accumulator out of the 32 */
                    __asm__("" : "+m"(sf[r][gi]));
                    __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo[r], x0);
                    p = _mm512_dpbusd_epi32(p, hi[r], x1);
                    acc[r][c] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(p), d), _mm512_set1_ps(sf[r][gi]),
                                                acc[r][c]);
                }
            }
            in_group += 128;
            if (in_group == gs) {
                in_group = 0;
                gi++;
            }
        }
    }
    Q4Q_UNROLL
    for (int c = 0; c < CT; c++) {
        if (RT == 4)
            _mm_storeu_ps(y[c] + y_off, hsum4(acc[0][c], acc[1][c], acc[2][c], acc[3][c]));
        else
            y[c][y_off] = _mm512_reduce_add_ps(acc[0][c]);
    }
}

/* CT columns against rows [0, R): 4-row tiles, then single rows. */
SC_AVX512_INLINE void q4q_cols(const sc_cpu_qrow *q, int64_t R, const sc_cpu_q8 *x, const int CT, const int64_t GS,
                               bool pf, int64_t K, float *const *y, int64_t y_off) {
    int64_t r = 0;
    for (; r + 4 <= R; r += 4) q4q_tile(q + r, x, 4, CT, GS, pf && r + 8 <= R ? q + r + 4 : NULL, K, y, y_off + r);
    for (; r < R; r++) q4q_tile(q + r, x, 1, CT, GS, NULL, K, y, y_off + r);
}

/* All M columns against rows [0, R), four columns at a time. */
SC_AVX512_INLINE void q4q_all(const sc_cpu_qrow *q, int64_t R, const sc_cpu_q8 *x, int64_t M, const int64_t GS,
                              int64_t K, float *const *y, int64_t y_off) {
    int64_t m = 0;
    for (; m + 4 <= M; m += 4) q4q_cols(q, R, x + m, 4, GS, m == 0, K, y + m, y_off);
    switch (M - m) {
    case 1: q4q_cols(q, R, x + m, 1, GS, m == 0, K, y + m, y_off); break;
    case 2: q4q_cols(q, R, x + m, 2, GS, m == 0, K, y + m, y_off); break;
    case 3: q4q_cols(q, R, x + m, 3, GS, m == 0, K, y + m, y_off); break;
    default: break;
    }
}

/* Rows q[0..R) of one matrix x M int8 columns, columns four at a time in
 * the outer loop: the four columns stay in L1 while the rows' codes (a
 * caller's chunk, L2-sized) go by. */
SC_AVX512 static void gemm_q8(const sc_cpu_qrow *q, int64_t R, const sc_cpu_q8 *x, int64_t M, int64_t K,
                              float *const *y, int64_t y_off) {
    if (R <= 0) return;
    if (!q4_quad(q[0].bits, q[0].group_size, K)) { /* the base table's kernels, row by row */
        float out[4];
        for (int64_t m = 0; m < M; m += 4) {
            const int nx = M - m < 4 ? (int)(M - m) : 4;
            for (int64_t r = 0; r < R; r++) {
                avx512_base->dot_qg_q8(q + r, x + m, nx, K, out);
                for (int j = 0; j < nx; j++) y[m + j][y_off + r] = out[j];
            }
        }
        return;
    }
    if (q[0].group_size == 128)
        q4q_all(q, R, x, M, 128, K, y, y_off);
    else
        q4q_all(q, R, x, M, 0, K, y, y_off);
}

/* ------------------------------------------------------------------------ */
/* the table                                                                 */
/* ------------------------------------------------------------------------ */

static sc_cpu_kernels avx512_kernels;
static pthread_once_t avx512_once = PTHREAD_ONCE_INIT;

static void avx512_init(void) {
    avx512_kernels = *avx512_base; /* everything not overridden below */
    avx512_kernels.name = avx512_base->dot_qg_q8 == sc__cpu_kernels_avxvnni()->dot_qg_q8 ? "avx512 vnni avx-vnni"
                                                                                        : "avx512 vnni";
    avx512_kernels.dot4_f32 = dot4_f32;
    avx512_kernels.axpy4_f32 = axpy4_f32;
    avx512_kernels.gemm_prep_len = gemm_prep_len;
    avx512_kernels.gemm_prep = gemm_prep;
    avx512_kernels.gemm = gemm;
    avx512_kernels.quant_q8_tiled = quant_q8_tiled;
    avx512_kernels.gemm_q8 = gemm_q8;
}

const sc_cpu_kernels *sc__cpu_kernels_avx512(const sc_cpu_kernels *base) {
    static pthread_mutex_t set = PTHREAD_MUTEX_INITIALIZER;
    if (!base) return NULL;
    pthread_mutex_lock(&set);
    if (!avx512_base) avx512_base = base;
    pthread_mutex_unlock(&set);
    pthread_once(&avx512_once, avx512_init);
    return &avx512_kernels;
}

#else /* not x86 */

const sc_cpu_kernels *sc__cpu_kernels_avx512(const sc_cpu_kernels *base) {
    (void)base;
    return NULL;
}

#endif

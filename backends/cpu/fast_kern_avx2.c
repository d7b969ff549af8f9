/*
 * backends/cpu/fast_kern_avx2.c - AVX2 + FMA + F16C kernels for the fast path.
 *
 * Every function carries a target attribute instead of the file being built
 * with -mavx2, so the library still runs on any x86-64: fast_dispatch.c only
 * hands out this table after __builtin_cpu_supports said yes. Tails (n not a
 * multiple of 8) are done with the exact scalar conversions of cpu_fp.h.
 * On non-x86 targets this file compiles to a stub returning NULL.
 */
#include "cpu_impl.h"

#if SC_CPU_X86

#include <immintrin.h>

#define SC_AVX2 __attribute__((target("avx2,fma,f16c")))

SC_AVX2 static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

SC_AVX2 static inline __m256 load_f16(const uint16_t *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));
}

SC_AVX2 static inline __m256 load_bf16(const uint16_t *p) {
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

/* exp(x) for 8 lanes: Cephes-style range reduction x = n*ln2 + r and a
 * degree-6 polynomial; about 1 ulp. Below ln(2^-126) it returns 0, above
 * ln(FLT_MAX) +inf, NaN stays NaN. */
SC_AVX2 static inline __m256 exp8(__m256 x) {
    const __m256 hi = _mm256_set1_ps(88.3762626647949f), lo = _mm256_set1_ps(-87.3365478515625f);
    const __m256 too_big = _mm256_cmp_ps(x, hi, _CMP_GT_OQ), too_small = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    __m256 xc = _mm256_max_ps(lo, _mm256_min_ps(hi, x)); /* operand order keeps NaN */
    __m256 fx = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), xc);
    r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201e-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i n = _mm256_cvtps_epi32(fx); /* -126..127 after the clamp */
    __m256 pow2n = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23));
    y = _mm256_mul_ps(y, pow2n);
    y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), too_big);
    return _mm256_blendv_ps(y, _mm256_setzero_ps(), too_small);
}

SC_AVX2 static float dot_f32(const float *a, const float *b, int64_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) { /* hot loop: four independent FMA chains */
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float t = 0.0f;
    for (; i < n; i++) t += a[i] * b[i];
    return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3))) + t;
}

SC_AVX2 static float dot_f16(const uint16_t *a, const float *b, int64_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) { /* hot loop */
        s0 = _mm256_fmadd_ps(load_f16(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(load_f16(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(load_f16(a + i), _mm256_loadu_ps(b + i), s0);
    float t = 0.0f;
    for (; i < n; i++) t += sc__f16_to_f32_inl(a[i]) * b[i];
    return hsum(_mm256_add_ps(s0, s1)) + t;
}

SC_AVX2 static float dot_bf16(const uint16_t *a, const float *b, int64_t n) {
    /* four independent chains: the lm_head GEMV (bf16, the largest matrix
     * of a small model) must keep up with memory, not with FMA latency */
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) { /* hot loop */
        s0 = _mm256_fmadd_ps(load_bf16(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(load_bf16(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(load_bf16(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(load_bf16(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(load_bf16(a + i), _mm256_loadu_ps(b + i), s0);
    float t = 0.0f;
    for (; i < n; i++) t += sc__bf16_to_f32_inl(a[i]) * b[i];
    return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3))) + t;
}

SC_AVX2 static void dot4_f32(const float *w, int64_t ldw, const float *x, int64_t n, float out[4]) {
    const float *w0 = w, *w1 = w + ldw, *w2 = w + 2 * ldw, *w3 = w + 3 * ldw;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) { /* hot loop: one x load feeds four rows */
        const __m256 xv = _mm256_loadu_ps(x + i);
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + i), xv, s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + i), xv, s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + i), xv, s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + i), xv, s3);
    }
    float t0 = 0.0f, t1 = 0.0f, t2 = 0.0f, t3 = 0.0f;
    for (; i < n; i++) {
        t0 += w0[i] * x[i];
        t1 += w1[i] * x[i];
        t2 += w2[i] * x[i];
        t3 += w3[i] * x[i];
    }
    out[0] = hsum(s0) + t0;
    out[1] = hsum(s1) + t1;
    out[2] = hsum(s2) + t2;
    out[3] = hsum(s3) + t3;
}

/* 4 rows x 2 columns: 6 loads feed 8 FMAs (dot4: 5 loads for 4), so the
 * prefill GEMM is bound by the FMA units rather than by loads. */
SC_AVX2 static void dot4x2_f32(const float *w, int64_t ldw, const float *x0, const float *x1, int64_t n,
                               float out0[4], float out1[4]) {
    const float *w0 = w, *w1 = w + ldw, *w2 = w + 2 * ldw, *w3 = w + 3 * ldw;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) { /* hot loop */
        const __m256 u = _mm256_loadu_ps(x0 + i), v = _mm256_loadu_ps(x1 + i);
        __m256 r = _mm256_loadu_ps(w0 + i);
        a0 = _mm256_fmadd_ps(r, u, a0);
        b0 = _mm256_fmadd_ps(r, v, b0);
        r = _mm256_loadu_ps(w1 + i);
        a1 = _mm256_fmadd_ps(r, u, a1);
        b1 = _mm256_fmadd_ps(r, v, b1);
        r = _mm256_loadu_ps(w2 + i);
        a2 = _mm256_fmadd_ps(r, u, a2);
        b2 = _mm256_fmadd_ps(r, v, b2);
        r = _mm256_loadu_ps(w3 + i);
        a3 = _mm256_fmadd_ps(r, u, a3);
        b3 = _mm256_fmadd_ps(r, v, b3);
    }
    float t[8] = {0};
    for (; i < n; i++) {
        t[0] += w0[i] * x0[i];
        t[1] += w1[i] * x0[i];
        t[2] += w2[i] * x0[i];
        t[3] += w3[i] * x0[i];
        t[4] += w0[i] * x1[i];
        t[5] += w1[i] * x1[i];
        t[6] += w2[i] * x1[i];
        t[7] += w3[i] * x1[i];
    }
    out0[0] = hsum(a0) + t[0];
    out0[1] = hsum(a1) + t[1];
    out0[2] = hsum(a2) + t[2];
    out0[3] = hsum(a3) + t[3];
    out1[0] = hsum(b0) + t[4];
    out1[1] = hsum(b1) + t[5];
    out1[2] = hsum(b2) + t[6];
    out1[3] = hsum(b3) + t[7];
}

/* ---- QG: 8 codes at a time --------------------------------------------- */

/* Codes k..k+7 as floats. 4-bit: k % 8 == 0, so the eight nibbles are one
 * little-endian 32-bit word, code j at bits 4j. 8-bit: eight bytes. */
SC_AVX2 static inline __m256 qg_codes8(const sc_cpu_qrow *q, int64_t k) {
    __m256i c;
    if (q->bits == 4) {
        uint32_t word;
        memcpy(&word, q->codes + k / 2, sizeof word);
        c = _mm256_srlv_epi32(_mm256_set1_epi32((int32_t)word), _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28));
        c = _mm256_and_si256(c, _mm256_set1_epi32(0xf));
    } else {
        c = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(q->codes + k)));
    }
    return _mm256_cvtepi32_ps(c);
}

/* scale * (code - zero), exact in f32, then the format's single rounding. */
SC_AVX2 static inline __m256 qg_weights8(__m256 codes, __m256 vz, __m256 vs, bool bf16) {
    __m256 w = _mm256_mul_ps(_mm256_sub_ps(codes, vz), vs);
    if (!bf16) return _mm256_cvtph_ps(_mm256_cvtps_ph(w, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    __m256i b = _mm256_castps_si256(w); /* RNE to the top 16 bits (finite inputs) */
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(1));
    b = _mm256_add_epi32(b, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff)));
    return _mm256_castsi256_ps(_mm256_and_si256(b, _mm256_set1_epi32((int32_t)0xffff0000u)));
}

SC_AVX2 static float dot_qg(const sc_cpu_qrow *q, const float *x, int64_t K) {
    /* 2/3 bits and groups that split 8-column blocks: the portable table path */
    if ((q->bits != 4 && q->bits != 8) || q->group_size % 8 != 0) return sc__cpu_kernels_generic()->dot_qg(q, x, K);
    const bool bf16 = (q->flags & SC_QUANT_BF16_ROUND) != 0;
    const int64_t gs = q->group_size;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
    float tail = 0.0f;
    for (int64_t k0 = 0, g = 0; k0 < K; k0 += gs, g++) { /* one group: one scale, one zero */
        const int64_t k1 = k0 + gs < K ? k0 + gs : K;
        uint16_t sh;
        memcpy(&sh, q->scales + g * 2, 2);
        const __m256 vs = _mm256_set1_ps(sc__f16_to_f32_inl(sh)), vz = _mm256_set1_ps((float)q->zeros[g]);
        int64_t k = k0;
        for (; k < k1 && (k & 7); k++) tail += sc__cpu_qg_weight(q, k) * x[k];
        for (; k + 16 <= k1; k += 16) { /* hot loop: unpack, dequantise, round, FMA */
            acc0 = _mm256_fmadd_ps(qg_weights8(qg_codes8(q, k), vz, vs, bf16), _mm256_loadu_ps(x + k), acc0);
            acc1 = _mm256_fmadd_ps(qg_weights8(qg_codes8(q, k + 8), vz, vs, bf16), _mm256_loadu_ps(x + k + 8),
                                   acc1);
        }
        for (; k + 8 <= k1; k += 8)
            acc0 = _mm256_fmadd_ps(qg_weights8(qg_codes8(q, k), vz, vs, bf16), _mm256_loadu_ps(x + k), acc0);
        for (; k < k1; k++) tail += sc__cpu_qg_weight(q, k) * x[k];
    }
    return hsum(_mm256_add_ps(acc0, acc1)) + tail;
}

SC_AVX2 static void dequant_qg(const sc_cpu_qrow *q, float *dst, int64_t K) {
    if ((q->bits != 4 && q->bits != 8) || q->group_size % 8 != 0) {
        sc__cpu_kernels_generic()->dequant_qg(q, dst, K);
        return;
    }
    const bool bf16 = (q->flags & SC_QUANT_BF16_ROUND) != 0;
    const int64_t gs = q->group_size;
    for (int64_t k0 = 0, g = 0; k0 < K; k0 += gs, g++) {
        const int64_t k1 = k0 + gs < K ? k0 + gs : K;
        uint16_t sh;
        memcpy(&sh, q->scales + g * 2, 2);
        const __m256 vs = _mm256_set1_ps(sc__f16_to_f32_inl(sh)), vz = _mm256_set1_ps((float)q->zeros[g]);
        int64_t k = k0;
        for (; k < k1 && (k & 7); k++) dst[k] = sc__cpu_qg_weight(q, k);
        for (; k + 8 <= k1; k += 8) _mm256_storeu_ps(dst + k, qg_weights8(qg_codes8(q, k), vz, vs, bf16));
        for (; k < k1; k++) dst[k] = sc__cpu_qg_weight(q, k);
    }
}

/* ---- QG x int8 activations ------------------------------------------------ */

/* 4-bit with groups and K multiples of 64: this table stores the int8
 * columns in its own order, per 64 values v[0..63] (blocks 0 and 1):
 *   q[j] = v[2j], q[16+j] = v[32+2j], q[32+j] = v[2j+1], q[48+j] = v[33+2j]
 * (j < 16), i.e. the low nibbles of the 32 code bytes of both blocks, then
 * the high nibbles: one 32-byte code load, two ANDs and one shift feed two
 * maddubs for 64 codes. d and gsum are as in sc_cpu_q8. */
static bool q4_paired(uint32_t bits, uint32_t gs, int64_t K) { return bits == 4 && gs % 64 == 0 && K % 64 == 0; }

/* One block of 32 floats to int8 (x ~= d * q, d = max|x| / 127, rounded to
 * nearest even like the portable lrintf) in natural order, or with
 * evens_odds as [x0 x2 .. x30 | x1 x3 .. x31]. Returns sum(q); *d set. */
SC_AVX2 static inline __m256i q8_block(const float *x, bool evens_odds, float *d, int32_t *sum) {
    const __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8), v2 = _mm256_loadu_ps(x + 16),
                 v3 = _mm256_loadu_ps(x + 24);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                             _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);
    *d = amax / 127.0f;
    const __m256 id = _mm256_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
    const __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(v0, id)), i1 = _mm256_cvtps_epi32(_mm256_mul_ps(v1, id)),
                  i2 = _mm256_cvtps_epi32(_mm256_mul_ps(v2, id)), i3 = _mm256_cvtps_epi32(_mm256_mul_ps(v3, id));
    const __m256i s32 = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s32), _mm256_extracti128_si256(s32, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
    *sum = _mm_cvtsi128_si32(s4);
    /* packs interleave 128-bit lanes; the permute restores x order */
    __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    if (evens_odds) {
        const __m256i eo = _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15, 0, 2, 4, 6, 8, 10,
                                            12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
        b = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(b, eo), 0xd8); /* qwords 0, 2, 1, 3 */
    }
    return b;
}

SC_AVX2 static void quant_q8(const float *x, int64_t K, uint32_t bits, uint32_t group_size, int8_t *q, float *d,
                             float *gsum, float *dx) {
    const bool paired = q4_paired(bits, group_size, K), eo = bits == 4;
    const int64_t bpg = (int64_t)group_size / 32, nb = K / 32;
    for (int64_t b = 0; b < nb; b++) { /* hot loop: one block of 32, or two when paired */
        int32_t sum0, sum1 = 0;
        const __m256i b0 = q8_block(x + b * 32, eo, &d[b], &sum0);
        float gs_add = d[b] * (float)sum0;
        if (paired) { /* [E0 | E1] then [O0 | O1] */
            const __m256i b1 = q8_block(x + b * 32 + 32, eo, &d[b + 1], &sum1);
            _mm256_storeu_si256((__m256i *)(void *)(q + b * 32), _mm256_permute2x128_si256(b0, b1, 0x20));
            _mm256_storeu_si256((__m256i *)(void *)(q + b * 32 + 32), _mm256_permute2x128_si256(b0, b1, 0x31));
            if (b % bpg == 0) gsum[b / bpg] = 0.0f;
            gsum[b / bpg] += gs_add + d[b + 1] * (float)sum1; /* bpg is even: both blocks in one group */
            _mm256_storeu_ps(dx + b * 4, _mm256_setr_ps(d[b], d[b], d[b], d[b], d[b + 1], d[b + 1], d[b + 1], d[b + 1]));
            b++;
            continue;
        }
        _mm256_storeu_si256((__m256i *)(void *)(q + b * 32), b0);
        if (b % bpg == 0) gsum[b / bpg] = 0.0f;
        gsum[b / bpg] += gs_add;
    }
}

#define Q8_TARGET SC_AVX2
#define Q8_SFX(name) name##_avx2
#define Q8_VNNI 0
#include "fast_kern_q8_tmpl.h"
#undef Q8_TARGET
#undef Q8_SFX
#undef Q8_VNNI

#define Q8_TARGET __attribute__((target("avx2,fma,f16c,avxvnni")))
#define Q8_SFX(name) name##_vnni
#define Q8_VNNI 1
#include "fast_kern_q8_tmpl.h"
#undef Q8_TARGET
#undef Q8_SFX
#undef Q8_VNNI


/* ---- conversions and axpy ---------------------------------------------- */

SC_AVX2 static void cvt_f16(const uint16_t *src, float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_f16(src + i));
    for (; i < n; i++) dst[i] = sc__f16_to_f32_inl(src[i]);
}

SC_AVX2 static void cvt_bf16(const uint16_t *src, float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_bf16(src + i));
    for (; i < n; i++) dst[i] = sc__bf16_to_f32_inl(src[i]);
}

SC_AVX2 static void axpy_f32(float a, const float *x, float *y, int64_t n) {
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

SC_AVX2 static void axpy4_f32(const float a[4], const float *x, int64_t ldx, float *y, int64_t n) {
    const float *x1 = x + ldx, *x2 = x1 + ldx, *x3 = x2 + ldx;
    const __m256 a0 = _mm256_set1_ps(a[0]), a1 = _mm256_set1_ps(a[1]), a2 = _mm256_set1_ps(a[2]),
                 a3 = _mm256_set1_ps(a[3]);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) { /* hot loop: four rows per load and store of y */
        __m256 v = _mm256_fmadd_ps(a0, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i));
        v = _mm256_fmadd_ps(a1, _mm256_loadu_ps(x1 + i), v);
        v = _mm256_fmadd_ps(a2, _mm256_loadu_ps(x2 + i), v);
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(a3, _mm256_loadu_ps(x3 + i), v));
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

SC_AVX2 static void axpy_f16(float a, const uint16_t *x, float *y, int64_t n) {
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, load_f16(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * sc__f16_to_f32_inl(x[i]);
}

SC_AVX2 static void axpy_bf16(float a, const uint16_t *x, float *y, int64_t n) {
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, load_bf16(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * sc__bf16_to_f32_inl(x[i]);
}

/* ---- elementwise -------------------------------------------------------- */

SC_AVX2 static void add(const float *a, const float *b, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    for (; i < n; i++) y[i] = a[i] + b[i];
}

SC_AVX2 static void mul(const float *a, const float *b, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    for (; i < n; i++) y[i] = a[i] * b[i];
}

SC_AVX2 static void scale(const float *a, float s, float *y, int64_t n) {
    const __m256 vs = _mm256_set1_ps(s);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(a + i), vs));
    for (; i < n; i++) y[i] = a[i] * s;
}

SC_AVX2 static inline __m256 silu8(__m256 x) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), x));
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

SC_AVX2 static void silu(const float *a, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, silu8(_mm256_loadu_ps(a + i)));
    for (; i < n; i++) y[i] = a[i] / (1.0f + expf(-a[i]));
}

SC_AVX2 static void swiglu(const float *g, const float *u, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_mul_ps(silu8(_mm256_loadu_ps(g + i)), _mm256_loadu_ps(u + i)));
    for (; i < n; i++) y[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

/* ---- norms and softmax -------------------------------------------------- */

SC_AVX2 static float sum_sq(const float *x, int64_t n) { return dot_f32(x, x, n); }

SC_AVX2 static void scale_mul(const float *x, float s, const float *w, float *y, int64_t n) {
    const __m256 vs = _mm256_set1_ps(s);
    int64_t i = 0;
    if (w) {
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(w + i), _mm256_mul_ps(_mm256_loadu_ps(x + i), vs)));
        for (; i < n; i++) y[i] = w[i] * (x[i] * s);
    } else {
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
        for (; i < n; i++) y[i] = x[i] * s;
    }
}

SC_AVX2 static float max_scaled(const float *x, float s, int64_t n) {
    const __m256 vs = _mm256_set1_ps(s);
    __m256 m8 = _mm256_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) m8 = _mm256_max_ps(m8, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
    float buf[8], m = -INFINITY;
    _mm256_storeu_ps(buf, m8);
    for (int j = 0; j < 8; j++) m = fmaxf(m, buf[j]);
    for (; i < n; i++) m = fmaxf(m, x[i] * s);
    return m;
}

SC_AVX2 static float exp_sum(const float *x, float s, float m, float *y, int64_t n) {
    const __m256 vs = _mm256_set1_ps(s), vm = _mm256_set1_ps(m);
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) { /* hot loop */
        __m256 e = exp8(_mm256_fmsub_ps(_mm256_loadu_ps(x + i), vs, vm));
        _mm256_storeu_ps(y + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    float sum = hsum(acc);
    for (; i < n; i++) {
        y[i] = expf(x[i] * s - m);
        sum += y[i];
    }
    return sum;
}

#define AVX2_COMMON_KERNELS \
    .dot_f32 = dot_f32, \
    .dot_f16 = dot_f16, \
    .dot_bf16 = dot_bf16, \
    .dot4_f32 = dot4_f32, \
    .dot4x2_f32 = dot4x2_f32, \
    .dot_qg = dot_qg, \
    .cvt_f16 = cvt_f16, \
    .cvt_bf16 = cvt_bf16, \
    .dequant_qg = dequant_qg, \
    .axpy_f32 = axpy_f32, \
    .axpy4_f32 = axpy4_f32, \
    .axpy_f16 = axpy_f16, \
    .axpy_bf16 = axpy_bf16, \
    .add = add, \
    .mul = mul, \
    .scale = scale, \
    .silu = silu, \
    .swiglu = swiglu, \
    .sum_sq = sum_sq, \
    .scale_mul = scale_mul, \
    .max_scaled = max_scaled, \
    .exp_sum = exp_sum, \
    .quant_q8 = quant_q8,

static const sc_cpu_kernels avx2_kernels = {
    .name = "avx2 fma f16c",
    AVX2_COMMON_KERNELS
    .dot_qg_q8 = dot_qg_q8_avx2,
};

/* The same with AVX-VNNI integer dots (Zen 4/5, Strix Halo, Alder Lake+). */
static const sc_cpu_kernels avxvnni_kernels = {
    .name = "avx2 fma f16c avx-vnni",
    AVX2_COMMON_KERNELS
    .dot_qg_q8 = dot_qg_q8_vnni,
};
#undef AVX2_COMMON_KERNELS

const sc_cpu_kernels *sc__cpu_kernels_avx2(void) { return &avx2_kernels; }
const sc_cpu_kernels *sc__cpu_kernels_avxvnni(void) { return &avxvnni_kernels; }

#else /* not x86 */

const sc_cpu_kernels *sc__cpu_kernels_avx2(void) { return NULL; }
const sc_cpu_kernels *sc__cpu_kernels_avxvnni(void) { return NULL; }

#endif

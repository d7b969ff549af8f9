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
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) { /* hot loop */
        s0 = _mm256_fmadd_ps(load_bf16(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(load_bf16(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(load_bf16(a + i), _mm256_loadu_ps(b + i), s0);
    float t = 0.0f;
    for (; i < n; i++) t += sc__bf16_to_f32_inl(a[i]) * b[i];
    return hsum(_mm256_add_ps(s0, s1)) + t;
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

static const sc_cpu_kernels avx2_kernels = {
    .name = "avx2 fma f16c",
    .dot_f32 = dot_f32,
    .dot_f16 = dot_f16,
    .dot_bf16 = dot_bf16,
    .dot4_f32 = dot4_f32,
    .dot4x2_f32 = dot4x2_f32,
    .dot_qg = dot_qg,
    .cvt_f16 = cvt_f16,
    .cvt_bf16 = cvt_bf16,
    .dequant_qg = dequant_qg,
    .axpy_f32 = axpy_f32,
    .axpy_f16 = axpy_f16,
    .axpy_bf16 = axpy_bf16,
    .add = add,
    .mul = mul,
    .scale = scale,
    .silu = silu,
    .swiglu = swiglu,
    .sum_sq = sum_sq,
    .scale_mul = scale_mul,
    .max_scaled = max_scaled,
    .exp_sum = exp_sum,
};

const sc_cpu_kernels *sc__cpu_kernels_avx2(void) { return &avx2_kernels; }

#else /* not x86 */

const sc_cpu_kernels *sc__cpu_kernels_avx2(void) { return NULL; }

#endif

/*
 * backends/cpu/fast_kern_q8_tmpl.h - the QG x int8-activation dot kernels,
 * one source for two instruction sets: fast_kern_avx2.c includes it twice,
 *   Q8_VNNI 0: AVX2 maddubs/madd (u8 x s8 -> s16 pairs -> s32);
 *   Q8_VNNI 1: AVX-VNNI dpbusd (u8 x s8 summed straight into s32: one
 *              instruction for the three, and 8-bit codes need no bias),
 * with Q8_TARGET the functions' target attribute and Q8_SFX(name) their
 * suffixed names. The int8 columns come from fast_kern_avx2.c's quant_q8
 * (the same layout for both). The column loops (nx <= 4, a constant after
 * inlining) are unrolled by force so that the accumulators stay in
 * registers (GCC -O2 left them in memory: a store-forward in every FMA chain).
 */
#ifndef Q8_UNROLL
#define Q8_UNROLL _Pragma("GCC unroll 4")
#endif
/* One row of 4- or 8-bit codes against nx (1..4, a compile-time constant
 * after inlining) int8 columns. Per 32-column block b of group g:
 *   4-bit: the block's 16 code bytes split into low nibbles (even columns)
 *          and high nibbles (odd columns), matching q's evens-then-odds
 *          order; maddubs(u8 code, s8 x) cannot saturate (2*15*127).
 *   8-bit: codes are biased to c - 128 (s8) and multiplied as
 *          maddubs(|c - 128|, sign(x, c - 128)) (at most 2*128*127 < 2^15);
 *          the bias joins the zero point: z' = z - 128.
 * acc_j += s_g * d_jb * dot(c, x_jb); out_j = acc_j - sum_g s_g * z'_g * gsum_jg. */
/* The 32 codes of block k (k % 32 == 0) as u8 (4-bit) or biased s8 in *w
 * and |w| returned (8-bit). */
Q8_TARGET static inline __attribute__((always_inline)) __m256i Q8_SFX(qg_q8_codes)(const sc_cpu_qrow *q, int64_t k, __m256i *w) {
    if (q->bits == 4) {
        const __m128i raw = _mm_loadu_si128((const __m128i *)(const void *)(q->codes + k / 2));
        return _mm256_and_si256(_mm256_inserti128_si256(_mm256_castsi128_si256(raw), _mm_srli_epi16(raw, 4), 1),
                                _mm256_set1_epi8(0x0f));
    }
#if Q8_VNNI
    (void)w; /* dpbusd sums u8 x s8 in int32: the codes go in as they are */
    return _mm256_loadu_si256((const __m256i *)(const void *)(q->codes + k));
#else
    *w = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)(q->codes + k)),
                          _mm256_set1_epi8((char)0x80));
    return _mm256_abs_epi8(*w);
#endif
}

/* dot(codes, x_j) of one block as 8 f32 partial sums. */
Q8_TARGET static inline __attribute__((always_inline)) __m256 Q8_SFX(qg_q8_block)(const sc_cpu_qrow *q, __m256i v, __m256i w,
                                                                        const int8_t *xq) {
    __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)xq);
#if Q8_VNNI
    (void)q;
    (void)w;
    return _mm256_cvtepi32_ps(_mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), v, x));
#else
    if (q->bits != 4) x = _mm256_sign_epi8(x, w);
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(v, x), _mm256_set1_epi16(1)));
#endif
}

/* Blocks [k, k1) of one group (scale s) into the accumulators, two blocks
 * per step into two accumulators per column: the FMA latency chain would
 * otherwise bound the decode GEMV. */
Q8_TARGET static inline __attribute__((always_inline)) void Q8_SFX(qg_q8_group)(const sc_cpu_qrow *q, const sc_cpu_q8 *x,
                                                                      const int nx, int64_t k, int64_t k1, float s,
                                                                      __m256 *acc, __m256 *acc2) {
    const __m256 vs = _mm256_set1_ps(s);
    for (; k + 64 <= k1; k += 64) { /* hot loop: 2 x 32 codes x nx columns */
        const int64_t b = k / 32;
        __m256i w0 = _mm256_setzero_si256(), w1 = w0;
        const __m256i v0 = Q8_SFX(qg_q8_codes)(q, k, &w0), v1 = Q8_SFX(qg_q8_codes)(q, k + 32, &w1);
        Q8_UNROLL
        for (int j = 0; j < nx; j++) {
            acc[j] = _mm256_fmadd_ps(Q8_SFX(qg_q8_block)(q, v0, w0, x[j].q + k),
                                     _mm256_mul_ps(vs, _mm256_broadcast_ss(x[j].d + b)), acc[j]);
            acc2[j] = _mm256_fmadd_ps(Q8_SFX(qg_q8_block)(q, v1, w1, x[j].q + k + 32),
                                      _mm256_mul_ps(vs, _mm256_broadcast_ss(x[j].d + b + 1)), acc2[j]);
        }
    }
    if (k < k1) { /* an odd block */
        __m256i w0 = _mm256_setzero_si256();
        const __m256i v0 = Q8_SFX(qg_q8_codes)(q, k, &w0);
        Q8_UNROLL
        for (int j = 0; j < nx; j++)
            acc[j] = _mm256_fmadd_ps(Q8_SFX(qg_q8_block)(q, v0, w0, x[j].q + k),
                                     _mm256_mul_ps(vs, _mm256_broadcast_ss(x[j].d + k / 32)), acc[j]);
    }
}

/* gs is a compile-time constant after inlining for the common group sizes,
 * so a whole group's blocks unroll. */
Q8_TARGET static inline __attribute__((always_inline)) void Q8_SFX(qg_q8_rows)(const sc_cpu_qrow *q, const sc_cpu_q8 *x,
                                                                     const int nx, const int64_t gs, int64_t K,
                                                                     float *out) {
    const int zbias = q->bits == 8 && !Q8_VNNI ? 128 : 0;
    __m256 acc[4], acc2[4];
    float corr[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    Q8_UNROLL
    for (int j = 0; j < 4; j++) acc[j] = acc2[j] = _mm256_setzero_ps();
    int64_t k0 = 0, g = 0;
    for (; k0 < K; k0 += gs, g++) { /* one group: one scale, one zero */
        uint16_t sh;
        memcpy(&sh, q->scales + g * 2, 2);
        const float s = _cvtsh_ss(sh);
        const float zs = s * (float)((int)q->zeros[g] - zbias);
        Q8_UNROLL
        for (int j = 0; j < nx; j++) corr[j] += zs * x[j].gsum[g];
        if (k0 + gs <= K)
            Q8_SFX(qg_q8_group)(q, x, nx, k0, k0 + gs, s, acc, acc2);
        else
            Q8_SFX(qg_q8_group)(q, x, nx, k0, K, s, acc, acc2); /* a partial last group */
    }
    Q8_UNROLL
    for (int j = 0; j < nx; j++) out[j] = hsum(_mm256_add_ps(acc[j], acc2[j])) - corr[j];
}

#define QG_Q8_NX(gs)                                     \
    switch (nx) {                                        \
    case 1: Q8_SFX(qg_q8_rows)(q, x, 1, gs, K, out); break;      \
    case 2: Q8_SFX(qg_q8_rows)(q, x, 2, gs, K, out); break;      \
    case 3: Q8_SFX(qg_q8_rows)(q, x, 3, gs, K, out); break;      \
    default: Q8_SFX(qg_q8_rows)(q, x, 4, gs, K, out); break;     \
    }

/* Paired 4-bit rows: per 64 codes and column, the two blocks' int32 sums
 * sit in lanes 0-3 and 4-7, scaled by [d0 x4, d1 x4]; a group's blocks
 * gather in gacc before one FMA with the group scale. */
/* Groups [g0, g0 + ng) of a paired 4-bit row (group scales sf[0..ng)). */
Q8_TARGET static inline __attribute__((always_inline)) void Q8_SFX(q4p_groups)(const sc_cpu_qrow *q, const sc_cpu_q8 *x,
                                                                     const int nx, const int64_t gs, int64_t K,
                                                                     int64_t g0, int ng, const float *sf,
                                                                     __m256 *acc) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
#if !Q8_VNNI
    const __m256i ones = _mm256_set1_epi16(1);
#endif
    for (int gi = 0; gi < ng; gi++) {
        const int64_t k0 = (g0 + gi) * gs, k1 = k0 + gs < K ? k0 + gs : K;
        __m256 gacc[4];
        Q8_UNROLL
        for (int j = 0; j < 4; j++) gacc[j] = _mm256_setzero_ps();
        for (int64_t k = k0; k < k1; k += 64) { /* hot loop: 64 codes x nx columns */
            const __m256i raw = _mm256_loadu_si256((const __m256i *)(const void *)(q->codes + k / 2));
            const __m256i lo = _mm256_and_si256(raw, m4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
            Q8_UNROLL
            for (int j = 0; j < nx; j++) {
                const int8_t *xq = x[j].q + k;
#if Q8_VNNI
                const __m256i p32 = _mm256_dpbusd_avx_epi32(
                    _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), lo,
                                            _mm256_loadu_si256((const __m256i *)(const void *)xq)),
                    hi, _mm256_loadu_si256((const __m256i *)(const void *)(xq + 32)));
#else
                const __m256i p16 =
                    _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(const void *)xq)),
                                     _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(const void *)(xq + 32))));
                const __m256i p32 = _mm256_madd_epi16(p16, ones);
#endif
                gacc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p32), _mm256_loadu_ps(x[j].dx + k / 8), gacc[j]);
            }
        }
        const __m256 vs = _mm256_broadcast_ss(sf + gi);
        Q8_UNROLL
        for (int j = 0; j < nx; j++) acc[j] = _mm256_fmadd_ps(gacc[j], vs, acc[j]);
    }
}

/* Paired 4-bit rows: per 64 codes and column, the two blocks' int32 sums
 * sit in lanes 0-3 and 4-7, scaled by dx = [d0 x4, d1 x4]; a group's blocks
 * gather in gacc before one FMA with the group scale. Scales and the zero
 * term sum_g s_g z_g gsum_g are done eight groups at a time. */
Q8_TARGET static inline __attribute__((always_inline)) void Q8_SFX(q4p_rows)(const sc_cpu_qrow *q, const sc_cpu_q8 *x,
                                                                   const int nx, const int64_t gs, int64_t K,
                                                                   float *out) {
    const int64_t G = (K + gs - 1) / gs;
    __m256 acc[4], corr[4];
    float tail[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    Q8_UNROLL
    for (int j = 0; j < 4; j++) acc[j] = corr[j] = _mm256_setzero_ps();
    int64_t g = 0;
    for (; g + 8 <= G; g += 8) {
        const __m256 s8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(q->scales + g * 2)));
        const __m256 z8 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(q->zeros + g))));
        const __m256 sz = _mm256_mul_ps(s8, z8);
        Q8_UNROLL
        for (int j = 0; j < nx; j++) corr[j] = _mm256_fmadd_ps(sz, _mm256_loadu_ps(x[j].gsum + g), corr[j]);
        float sf[8];
        _mm256_storeu_ps(sf, s8);
        Q8_SFX(q4p_groups)(q, x, nx, gs, K, g, 8, sf, acc);
    }
    for (; g < G; g++) { /* the last G % 8 groups */
        uint16_t sh;
        memcpy(&sh, q->scales + g * 2, 2);
        const float sf = _cvtsh_ss(sh);
        Q8_UNROLL
        for (int j = 0; j < nx; j++) tail[j] += sf * (float)q->zeros[g] * x[j].gsum[g];
        Q8_SFX(q4p_groups)(q, x, nx, gs, K, g, 1, &sf, acc);
    }
    Q8_UNROLL
    for (int j = 0; j < nx; j++) out[j] = hsum(_mm256_sub_ps(acc[j], corr[j])) - tail[j];
}

#define Q4P_NX(gs)                                     \
    switch (nx) {                                      \
    case 1: Q8_SFX(q4p_rows)(q, x, 1, gs, K, out); break;      \
    case 2: Q8_SFX(q4p_rows)(q, x, 2, gs, K, out); break;      \
    case 3: Q8_SFX(q4p_rows)(q, x, 3, gs, K, out); break;      \
    default: Q8_SFX(q4p_rows)(q, x, 4, gs, K, out); break;     \
    }

Q8_TARGET static void Q8_SFX(dot_qg_q8)(const sc_cpu_qrow *q, const sc_cpu_q8 *x, int nx, int64_t K, float *out) {
    if (q4_paired(q->bits, q->group_size, K)) {
        if (q->group_size == 128) {
            Q4P_NX(128)
        } else {
            Q4P_NX((int64_t)q->group_size)
        }
    } else {
        QG_Q8_NX((int64_t)q->group_size)
    }
}
#undef QG_Q8_NX
#undef Q4P_NX

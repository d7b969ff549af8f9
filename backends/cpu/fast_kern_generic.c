/*
 * backends/cpu/fast_kern_generic.c - portable kernels for the fast path.
 *
 * Plain C, unrolled by four with independent accumulators so the compiler
 * can keep several FMAs in flight (and vectorise where it may). Used on CPUs
 * without AVX2/FMA/F16C and on non-x86 targets (aarch64 compiles this only).
 */
#include "cpu_impl.h"

static float dot_f32(const float *a, const float *b, int64_t n) {
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) { /* hot loop */
        s0 += a[i + 0] * b[i + 0];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

static float dot_f16(const uint16_t *a, const float *b, int64_t n) {
    float s0 = 0.0f, s1 = 0.0f;
    int64_t i = 0;
    for (; i + 2 <= n; i += 2) {
        s0 += sc__f16_to_f32_inl(a[i]) * b[i];
        s1 += sc__f16_to_f32_inl(a[i + 1]) * b[i + 1];
    }
    for (; i < n; i++) s0 += sc__f16_to_f32_inl(a[i]) * b[i];
    return s0 + s1;
}

static float dot_bf16(const uint16_t *a, const float *b, int64_t n) {
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += sc__bf16_to_f32_inl(a[i + 0]) * b[i + 0];
        s1 += sc__bf16_to_f32_inl(a[i + 1]) * b[i + 1];
        s2 += sc__bf16_to_f32_inl(a[i + 2]) * b[i + 2];
        s3 += sc__bf16_to_f32_inl(a[i + 3]) * b[i + 3];
    }
    for (; i < n; i++) s0 += sc__bf16_to_f32_inl(a[i]) * b[i];
    return (s0 + s1) + (s2 + s3);
}

static void dot4_f32(const float *w, int64_t ldw, const float *x, int64_t n, float out[4]) {
    const float *w0 = w, *w1 = w + ldw, *w2 = w + 2 * ldw, *w3 = w + 3 * ldw;
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    for (int64_t i = 0; i < n; i++) { /* hot loop: one x load feeds four rows */
        const float xv = x[i];
        s0 += w0[i] * xv;
        s1 += w1[i] * xv;
        s2 += w2[i] * xv;
        s3 += w3[i] * xv;
    }
    out[0] = s0;
    out[1] = s1;
    out[2] = s2;
    out[3] = s3;
}

static void dot4x2_f32(const float *w, int64_t ldw, const float *x0, const float *x1, int64_t n, float out0[4],
                       float out1[4]) {
    dot4_f32(w, ldw, x0, n, out0);
    dot4_f32(w, ldw, x1, n, out1);
}

/* Dequantise columns [k0, k1) of a QG row (no g_idx) into dst[0 .. k1-k0).
 * Per group segment: at 2-4 bits every possible weight of the group is
 * rounded once into a table of 2^bits entries and each column is a lookup;
 * at 8 bits (or for segments shorter than the table) each weight is computed. */
static void qg_range(const sc_cpu_qrow *q, int64_t k0, int64_t k1, float *dst) {
    const int64_t gs = q->group_size;
    const uint32_t n_codes = 1u << q->bits;
    const bool bf16 = (q->flags & SC_QUANT_BF16_ROUND) != 0;
    float lut[16]; /* bits <= 4 */
    for (int64_t k = k0; k < k1;) {
        const int64_t g = k / gs, end = (g + 1) * gs < k1 ? (g + 1) * gs : k1;
        uint16_t sh;
        memcpy(&sh, q->scales + g * 2, 2);
        const float scale = sc__f16_to_f32_inl(sh);
        const int32_t zero = q->zeros[g];
        if (q->bits == 8) { /* 256 possible weights: cheaper to compute the ones we meet */
            for (; k < end; k++) {
                const float w = scale * (float)((int32_t)q->codes[k] - zero);
                dst[k - k0] = bf16 ? sc__round_bf16_inl(w) : sc__round_f16_inl(w);
            }
            continue;
        }
        if (end - k < (int64_t)n_codes) { /* tiny groups: no table */
            for (; k < end; k++) dst[k - k0] = sc__cpu_qg_weight(q, k);
            continue;
        }
        for (uint32_t c = 0; c < n_codes; c++) {
            const float w = scale * (float)((int32_t)c - zero);
            lut[c] = bf16 ? sc__round_bf16_inl(w) : sc__round_f16_inl(w);
        }
        if (q->bits == 4) {
            for (; k < end; k++) dst[k - k0] = lut[(q->codes[k >> 1] >> ((k & 1) * 4)) & 15u]; /* hot loop */
        } else {
            for (; k < end; k++) {
                const uint64_t bit = (uint64_t)k * q->bits;
                uint32_t v = q->codes[bit >> 3];
                if ((bit & 7u) + q->bits > 8) v |= (uint32_t)q->codes[(bit >> 3) + 1] << 8;
                dst[k - k0] = lut[(v >> (bit & 7u)) & (n_codes - 1u)];
            }
        }
    }
}

static void dequant_qg(const sc_cpu_qrow *q, float *dst, int64_t K) { qg_range(q, 0, K, dst); }

/* Dequantise 256 columns at a time into the stack, then an f32 dot. */
static float dot_qg(const sc_cpu_qrow *q, const float *x, int64_t K) {
    float buf[256];
    float acc = 0.0f;
    for (int64_t k0 = 0; k0 < K; k0 += 256) {
        const int64_t k1 = k0 + 256 < K ? k0 + 256 : K;
        qg_range(q, k0, k1, buf);
        acc += dot_f32(buf, x + k0, k1 - k0);
    }
    return acc;
}

static void cvt_f16(const uint16_t *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = sc__f16_to_f32_inl(src[i]);
}

static void cvt_bf16(const uint16_t *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = sc__bf16_to_f32_inl(src[i]);
}

static void axpy4_f32(const float a[4], const float *x, int64_t ldx, float *y, int64_t n) {
    const float *x1 = x + ldx, *x2 = x1 + ldx, *x3 = x2 + ldx;
    for (int64_t i = 0; i < n; i++) {
        float v = y[i];
        v += a[0] * x[i];
        v += a[1] * x1[i];
        v += a[2] * x2[i];
        v += a[3] * x3[i];
        y[i] = v;
    }
}

static void axpy_f32(float a, const float *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

static void axpy_f16(float a, const uint16_t *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * sc__f16_to_f32_inl(x[i]);
}

static void axpy_bf16(float a, const uint16_t *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * sc__bf16_to_f32_inl(x[i]);
}

static void add(const float *a, const float *b, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

static void mul(const float *a, const float *b, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = a[i] * b[i];
}

static void scale(const float *a, float s, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = a[i] * s;
}

static void silu(const float *a, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = a[i] / (1.0f + expf(-a[i]));
}

static void swiglu(const float *g, const float *u, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

static float sum_sq(const float *x, int64_t n) { return dot_f32(x, x, n); }

static void scale_mul(const float *x, float s, const float *w, float *y, int64_t n) {
    if (w)
        for (int64_t i = 0; i < n; i++) y[i] = w[i] * (x[i] * s);
    else
        for (int64_t i = 0; i < n; i++) y[i] = x[i] * s;
}

static float max_scaled(const float *x, float s, int64_t n) {
    float m = -INFINITY;
    for (int64_t i = 0; i < n; i++) m = fmaxf(m, x[i] * s);
    return m;
}

static float exp_sum(const float *x, float s, float m, float *y, int64_t n) {
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        y[i] = expf(x[i] * s - m);
        sum += y[i];
    }
    return sum;
}

/* ---- int8 activations (sc_cpu_q8) ---------------------------------------- */

/* Position inside a 32-block of q of the value at offset i of the block. */
static inline int q8_slot(uint32_t bits, int i) { return bits == 4 ? (i & 1) * 16 + (i >> 1) : i; }

static void quant_q8(const float *x, int64_t K, uint32_t bits, uint32_t group_size, int8_t *q, float *d,
                     float *gsum, float *dx) {
    (void)dx;
    const int64_t bpg = (int64_t)group_size / SC_CPU_Q8_BLOCK; /* blocks per weight group */
    for (int64_t b = 0; b < K / SC_CPU_Q8_BLOCK; b++) {
        const float *xb = x + b * SC_CPU_Q8_BLOCK;
        int8_t *qb = q + b * SC_CPU_Q8_BLOCK;
        float amax = 0.0f;
        for (int i = 0; i < SC_CPU_Q8_BLOCK; i++) amax = fmaxf(amax, fabsf(xb[i]));
        const float db = amax / 127.0f, id = amax > 0.0f ? 127.0f / amax : 0.0f;
        int32_t sum = 0;
        for (int i = 0; i < SC_CPU_Q8_BLOCK; i++) {
            const int v = (int)lrintf(xb[i] * id); /* |v| <= 127 */
            qb[q8_slot(bits, i)] = (int8_t)v;
            sum += v;
        }
        d[b] = db;
        if (b % bpg == 0) gsum[b / bpg] = 0.0f;
        gsum[b / bpg] += db * (float)sum;
    }
}

static void dot_qg_q8(const sc_cpu_qrow *q, const sc_cpu_q8 *x, int nx, int64_t K, float *out) {
    const int64_t gs = q->group_size;
    for (int j = 0; j < nx; j++) {
        float acc = 0.0f;
        for (int64_t k0 = 0, g = 0; k0 < K; k0 += gs, g++) {
            uint16_t sh;
            memcpy(&sh, q->scales + g * 2, 2);
            const float s = sc__f16_to_f32_inl(sh);
            const int64_t k1 = k0 + gs < K ? k0 + gs : K;
            float ga = 0.0f;
            for (int64_t b0 = k0; b0 < k1; b0 += SC_CPU_Q8_BLOCK) {
                int32_t isum = 0;
                for (int i = 0; i < SC_CPU_Q8_BLOCK; i++) {
                    const int64_t k = b0 + i;
                    const uint32_t code = q->bits == 4 ? (q->codes[k >> 1] >> ((k & 1) * 4)) & 0xfu : q->codes[k];
                    isum += (int32_t)code * x[j].q[b0 + q8_slot(q->bits, i)];
                }
                ga += x[j].d[b0 / SC_CPU_Q8_BLOCK] * (float)isum;
            }
            acc += s * (ga - (float)q->zeros[g] * x[j].gsum[g]);
        }
        out[j] = acc;
    }
}

static const sc_cpu_kernels generic_kernels = {
    .name = "generic",
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
    .axpy4_f32 = axpy4_f32,
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
    .quant_q8 = quant_q8,
    .dot_qg_q8 = dot_qg_q8,
};

const sc_cpu_kernels *sc__cpu_kernels_generic(void) { return &generic_kernels; }

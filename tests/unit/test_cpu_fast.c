/*
 * tests/unit/test_cpu_fast.c - the CPU fast path against the reference.
 *
 * Every case runs four ways: portable and AVX2 kernels (when the CPU has
 * them), one thread and three threads. The fast output must match the
 * reference within a normalised squared error, may not hold a NaN where the
 * reference has none, and may not touch guard bytes around the output.
 * Shapes are chosen to hit the edges: K not a multiple of the SIMD width,
 * one row, N = 1, large K, padded row strides, odd group sizes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "cpu_test_util.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define GUARD 64
#define GUARD_BYTE 0xa5

/* An output node with guard bytes on both sides of its data. */
static sc_tensor *out_node(tt_arena *a, int op, int32_t type, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3) {
    sc_tensor *t = tt_alloc(a, sizeof *t);
    t->type = type;
    t->op = op;
    t->ne[0] = ne0;
    t->ne[1] = ne1;
    t->ne[2] = ne2;
    t->ne[3] = ne3;
    t->nb[0] = sc__cpu_type_size(type);
    for (int d = 1; d < 4; d++) t->nb[d] = t->nb[d - 1] * (size_t)t->ne[d - 1];
    uint8_t *base = tt_alloc(a, t->nb[3] * (size_t)ne3 + 2 * GUARD);
    t->data = base + GUARD;
    return t;
}

static size_t out_bytes(const sc_tensor *t) { return t->nb[3] * (size_t)t->ne[3]; }

static void set_guards(sc_tensor *t) {
    uint8_t *d = t->data;
    memset(d - GUARD, GUARD_BYTE, GUARD);
    memset(d + out_bytes(t), GUARD_BYTE, GUARD);
    memset(d, 0xff, out_bytes(t)); /* NaN poison: a missed write shows up */
}

static void check_guards(const sc_tensor *t) {
    const uint8_t *d = t->data;
    for (int i = 0; i < GUARD; i++) {
        if (d[-1 - i] != GUARD_BYTE || d[out_bytes(t) + (size_t)i] != GUARD_BYTE)
            fail_msg("write outside the output (guard byte %d)", i);
    }
}

static double worst_nmse;

/* x rounded the way the int8-activation QG path quantizes it: per block of
 * 32 values of a row, d = max|x| / 127, x' = d * rint(x * 127 / max|x|).
 * Returns a copy of x's memory (free it) with every row rounded. */
static void *q8_roundtrip(const sc_tensor *x) {
    const size_t bytes = x->nb[3] * (size_t)x->ne[3];
    uint8_t *copy = malloc(bytes);
    assert_non_null(copy);
    memcpy(copy, x->data, bytes);
    for (int64_t i3 = 0; i3 < x->ne[3]; i3++)
        for (int64_t i2 = 0; i2 < x->ne[2]; i2++)
            for (int64_t i1 = 0; i1 < x->ne[1]; i1++) {
                float *row = (float *)(void *)(copy + i1 * x->nb[1] + i2 * x->nb[2] + i3 * x->nb[3]);
                for (int64_t b = 0; b + 32 <= x->ne[0]; b += 32) {
                    float amax = 0.0f;
                    for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(row[b + i]));
                    const float d = amax / 127.0f, id = amax > 0.0f ? 127.0f / amax : 0.0f;
                    for (int i = 0; i < 32; i++) row[b + i] = d * rintf(row[b + i] * id);
                }
            }
    return copy;
}

/* Reference into a copy, then fast under every configuration; compare.
 * q8_ref: the reference sees src[1] rounded by q8_roundtrip (the fast path
 * quantizes activations to int8), so that tol bounds only the kernels' own
 * error, not the (by design) quantization error. */
static void compare_ex(sc_tensor *node, double tol, const char *what, bool q8_ref) {
    const size_t n_bytes = out_bytes(node);
    const int64_t n = (int64_t)(n_bytes / sizeof(float));
    float *want = malloc(n_bytes);
    assert_non_null(want);
    set_guards(node);
    void *x_data = node->src[1] ? node->src[1]->data : NULL, *x_q8 = NULL;
    if (q8_ref) node->src[1]->data = x_q8 = q8_roundtrip(node->src[1]);
    assert_int_equal(sc__cpu_ref_compute(node), SC_OK);
    if (q8_ref) {
        node->src[1]->data = x_data;
        free(x_q8);
    }
    check_guards(node);
    memcpy(want, node->data, n_bytes);
    const bool avx2 = sc__cpu_kernels_avx2() != NULL;
    for (int cfg = 0; cfg < 4; cfg++) {
        const bool generic = (cfg & 1) != 0;
        if (!generic && !avx2) continue;
        sc__cpu_force_generic(generic);
        if (!generic && strcmp(sc__cpu_features(), "generic") == 0) continue; /* CPU lacks AVX2 */
        sc_cpu_set_threads(cfg & 2 ? 3 : 1);
        set_guards(node);
        int rc = sc__cpu_fast_compute(node);
        if (rc != SC_OK) fail_msg("%s: fast path returned %d", what, rc);
        check_guards(node);
        if (node->type == SC_TYPE_I32) {
            assert_memory_equal(node->data, want, n_bytes);
            continue;
        }
        const float *got = node->data;
        double num = 0.0, den = 0.0;
        for (int64_t i = 0; i < n; i++) {
            if (isnan(want[i])) continue;
            if (isnan(got[i])) fail_msg("%s [%s, %d threads]: NaN at %lld (want %g)", what, sc__cpu_features(),
                                        cfg & 2 ? 3 : 1, (long long)i, want[i]);
            double d = (double)got[i] - want[i];
            num += d * d;
            den += (double)want[i] * want[i];
        }
        const double e = den > 0.0 ? num / den : num;
        if (e > worst_nmse) worst_nmse = e;
        if (!(e <= tol))
            fail_msg("%s [%s, %d threads]: nmse %.3g > %.3g", what, sc__cpu_features(), cfg & 2 ? 3 : 1, e, tol);
    }
    sc__cpu_force_generic(false);
    sc_cpu_set_threads(0);
    free(want);
}

static void compare(sc_tensor *node, double tol, const char *what) { compare_ex(node, tol, what, false); }

/* ---- weights ------------------------------------------------------------ */

typedef struct wspec {
    int32_t type;
    uint32_t bits, gs;
    bool gidx, bf16;
    const char *name;
} wspec;

static const wspec weight_specs[] = {
    {SC_TYPE_F32, 0, 0, false, false, "f32"},
    {SC_TYPE_F16, 0, 0, false, false, "f16"},
    {SC_TYPE_BF16, 0, 0, false, false, "bf16"},
    {SC_TYPE_QG, 4, 32, false, false, "qg4/32"},
    {SC_TYPE_QG, 8, 128, false, false, "qg8/128"},
    {SC_TYPE_QG, 4, 7, false, false, "qg4/7"},
    {SC_TYPE_QG, 3, 16, false, false, "qg3/16"},
    {SC_TYPE_QG, 2, 64, false, false, "qg2/64"},
    {SC_TYPE_QG, 4, 32, true, false, "qg4/32+gidx"},
    {SC_TYPE_QG, 8, 32, false, true, "qg8/32 bf16-round"},
};

static uint32_t rand_u32(void) { return (uint32_t)((tt_rand() + 1.0f) * 8388608.0f); }

static void fill_qg(sc_tensor *w) {
    const sc_quant_info *q = &w->quant;
    const int64_t K = w->ne[0], N = w->ne[1];
    uint8_t *codes = malloc((size_t)K);
    assert_non_null(codes);
    for (int64_t m = 0; m < w->ne[2]; m++) {
        uint8_t *slab = (uint8_t *)w->data + (size_t)m * w->nb[2];
        for (int64_t n = 0; n < N; n++) {
            for (int64_t k = 0; k < K; k++) codes[k] = (uint8_t)(rand_u32() % (1u << q->bits));
            assert_int_equal(sc_quant_pack_row(q->bits, K, codes, slab + (size_t)n * q->row_bytes), SC_OK);
            for (uint32_t g = 0; g < q->n_groups; g++) {
                uint16_t s = sc_f32_to_f16(0.01f + 0.02f * (tt_rand() + 1.0f));
                memcpy(slab + q->scales_offset + (size_t)(n * q->n_groups + g) * 2, &s, 2);
                slab[q->zeros_offset + (size_t)(n * q->n_groups + g)] = (uint8_t)(rand_u32() % (1u << q->bits));
            }
        }
        if (q->flags & SC_QUANT_HAS_GIDX)
            for (int64_t k = 0; k < K; k++) {
                int32_t g = (int32_t)(rand_u32() % q->n_groups);
                memcpy(slab + q->gidx_offset + (size_t)k * 4, &g, 4);
            }
    }
    free(codes);
}

static sc_tensor *make_weight(tt_arena *a, const wspec *s, int64_t K, int64_t N, int64_t n_mat) {
    if (s->type != SC_TYPE_QG) {
        sc_tensor *w = tt_new(a, s->type, K, N, n_mat, 1);
        tt_fill(w);
        return w;
    }
    sc_tensor *w = tt_new_qg(a, s->bits, s->gs, s->gidx, K, N, n_mat);
    if (s->bf16) w->quant.flags |= SC_QUANT_BF16_ROUND;
    fill_qg(w);
    return w;
}

/* ---- mul_mat / mul_mat_id ------------------------------------------------ */

/* QG cases on the int8-activation path (sc__cpu_q8_ok) compare with a
 * reference fed the int8-rounded activations: what remains is the per-weight
 * f16/bf16 rounding the integer path skips (nmse ~1e-7 / ~1e-6), bounded by
 * backend-ops' QG bound; everything else must match to summation order. */
static bool mm_q8(const wspec *ws, int64_t K) {
    return ws->type == SC_TYPE_QG && sc__cpu_qg_int8() && sc__cpu_q8_ok(ws->bits, ws->gs, ws->gidx ? SC_QUANT_HAS_GIDX : 0u, K);
}

static void test_mul_mat(void **state) {
    (void)state;
    /* K, N, M, x batches (b2), weight batches (B2), x row padding */
    static const int64_t shapes[][6] = {
        {1, 1, 1, 1, 1, 0},    {37, 5, 1, 1, 1, 0},  {4099, 17, 1, 1, 1, 0}, {8192, 1, 1, 1, 1, 0},
        {64, 33, 7, 1, 1, 0},  {130, 9, 5, 4, 2, 3}, {256, 1, 4, 1, 1, 0},   {33, 70, 2, 2, 1, 5},
        {200, 130, 9, 1, 1, 1},
    };
    char what[96];
    for (size_t wi = 0; wi < ARRAY_LEN(weight_specs); wi++)
        for (size_t si = 0; si < ARRAY_LEN(shapes); si++) {
            const int64_t *s = shapes[si];
            tt_arena a = {0};
            tt_seed(100 * wi + si);
            sc_tensor *w = make_weight(&a, &weight_specs[wi], s[0], s[1], s[4]);
            sc_tensor *x = tt_new_padded(&a, SC_TYPE_F32, s[0], s[2], s[3], s[5]);
            tt_fill(x);
            sc_tensor *y = out_node(&a, SC_OP_MUL_MAT, SC_TYPE_F32, s[1], s[2], s[3], 1);
            y->src[0] = w;
            y->src[1] = x;
            snprintf(what, sizeof what, "mul_mat %s K=%lld N=%lld M=%lld b=%lld/%lld", weight_specs[wi].name,
                     (long long)s[0], (long long)s[1], (long long)s[2], (long long)s[3], (long long)s[4]);
            const bool q8 = mm_q8(&weight_specs[wi], s[0]);
            compare_ex(y, q8 ? 5e-5 : 1e-9, what, q8);
            tt_free(&a);
        }
}

static void test_mul_mat_id(void **state) {
    (void)state;
    static const int64_t shapes[][4] = {{70, 24, 2, 5}, {64, 40, 2, 9}, {33, 3, 4, 1}}; /* K, N, n_used, T */
    char what[96];
    for (size_t wi = 0; wi < ARRAY_LEN(weight_specs); wi++)
        for (size_t si = 0; si < ARRAY_LEN(shapes); si++)
            for (int per_slot = 0; per_slot < 2; per_slot++) {
                const int64_t K = shapes[si][0], N = shapes[si][1], U = shapes[si][2], T = shapes[si][3], E = 4;
                tt_arena a = {0};
                tt_seed(7 * wi + si);
                sc_tensor *w = make_weight(&a, &weight_specs[wi], K, N, E);
                sc_tensor *x = tt_new(&a, SC_TYPE_F32, K, per_slot ? U : 1, T, 1);
                tt_fill(x);
                sc_tensor *ids = tt_new(&a, SC_TYPE_I32, U, T, 1, 1);
                for (int64_t t = 0; t < T; t++)
                    for (int64_t i = 0; i < U; i++) tt_seti(ids, i, t, 0, 0, (int32_t)((t + i * 3) % E));
                sc_tensor *y = out_node(&a, SC_OP_MUL_MAT_ID, SC_TYPE_F32, N, U, T, 1);
                y->src[0] = w;
                y->src[1] = x;
                y->src[2] = ids;
                snprintf(what, sizeof what, "mul_mat_id %s K=%lld N=%lld U=%lld T=%lld X=%s", weight_specs[wi].name,
                         (long long)K, (long long)N, (long long)U, (long long)T, per_slot ? "U" : "1");
                const bool q8 = mm_q8(&weight_specs[wi], K);
                compare_ex(y, q8 ? 5e-5 : 1e-9, what, q8);
                tt_free(&a);
            }
}

/* ---- row ops -------------------------------------------------------------- */

static void test_norm_softmax(void **state) {
    (void)state;
    static const int64_t dims[] = {1, 7, 64, 4101};
    char what[64];
    for (size_t di = 0; di < ARRAY_LEN(dims); di++) {
        const int64_t D = dims[di];
        tt_arena a = {0};
        tt_seed(di);
        sc_tensor *x = tt_new_padded(&a, SC_TYPE_F32, D, 3, 2, 1), *w = tt_new(&a, SC_TYPE_F32, D, 1, 1, 1);
        tt_fill(x);
        tt_fill(w);
        for (int withw = 0; withw < 2; withw++) {
            sc_tensor *y = out_node(&a, SC_OP_RMS_NORM, SC_TYPE_F32, D, 3, 2, 1);
            y->src[0] = x;
            y->src[1] = withw ? w : NULL;
            tt_set_f32_param(y, 0, 1e-6f);
            snprintf(what, sizeof what, "rms_norm D=%lld w=%d", (long long)D, withw);
            compare(y, 1e-12, what);
        }
        /* softmax with masked entries and one fully masked row */
        for (int64_t i = 0; i < D; i += 3) tt_setf(x, i, 1, 0, 0, -INFINITY);
        for (int64_t i = 0; i < D; i++) tt_setf(x, i, 2, 1, 0, -INFINITY);
        for (int64_t i = 0; i < D; i++) tt_setf(x, i, 0, 1, 0, 30.0f * tt_rand()); /* wide range */
        sc_tensor *y = out_node(&a, SC_OP_SOFTMAX, SC_TYPE_F32, D, 3, 2, 1);
        y->src[0] = x;
        tt_set_f32_param(y, 0, 0.7f);
        snprintf(what, sizeof what, "softmax n=%lld", (long long)D);
        compare(y, 1e-12, what);
        tt_free(&a);
    }
}

static void test_elementwise(void **state) {
    (void)state;
    static const int64_t bshape[][4] = {{37, 5, 2, 1}, {1, 5, 1, 1}, {37, 1, 2, 1}, {1, 1, 1, 1}};
    static const int ops[] = {SC_OP_ADD, SC_OP_MUL};
    char what[64];
    tt_arena a = {0};
    tt_seed(3);
    sc_tensor *x = tt_new_padded(&a, SC_TYPE_F32, 37, 5, 2, 2), *u = tt_new(&a, SC_TYPE_F32, 37, 5, 2, 1);
    tt_fill(x);
    tt_fill(u);
    for (int64_t i = 0; i < 37; i++) tt_setf(x, i, 0, 0, 0, 60.0f * tt_rand()); /* exp range edges */
    for (size_t oi = 0; oi < 2; oi++)
        for (size_t bi = 0; bi < ARRAY_LEN(bshape); bi++) {
            sc_tensor *b = tt_new(&a, SC_TYPE_F32, bshape[bi][0], bshape[bi][1], bshape[bi][2], bshape[bi][3]);
            tt_fill(b);
            sc_tensor *y = out_node(&a, ops[oi], SC_TYPE_F32, 37, 5, 2, 1);
            y->src[0] = x;
            y->src[1] = b;
            snprintf(what, sizeof what, "%s b=[%lld,%lld,%lld]", oi ? "mul" : "add", (long long)bshape[bi][0],
                     (long long)bshape[bi][1], (long long)bshape[bi][2]);
            compare(y, 0.0, what);
        }
    sc_tensor *y = out_node(&a, SC_OP_SCALE, SC_TYPE_F32, 37, 5, 2, 1);
    y->src[0] = x;
    tt_set_f32_param(y, 0, -1.25f);
    compare(y, 0.0, "scale");
    y->op = SC_OP_SILU;
    compare(y, 1e-13, "silu");
    y->op = SC_OP_SWIGLU;
    y->src[1] = u;
    compare(y, 1e-13, "swiglu");
    tt_free(&a);
}

static void test_rope(void **state) {
    (void)state;
    static const int64_t cfg[][4] = {{64, 32, 3, 5}, {128, 128, 2, 3}, {10, 4, 1, 1}}; /* D, n_rot, H, T */
    for (size_t ci = 0; ci < ARRAY_LEN(cfg); ci++) {
        tt_arena a = {0};
        tt_seed(ci);
        const int64_t D = cfg[ci][0], H = cfg[ci][2], T = cfg[ci][3];
        sc_tensor *x = tt_new(&a, SC_TYPE_F32, D, H, T, 1), *pos = tt_new(&a, SC_TYPE_I32, T, 1, 1, 1);
        tt_fill(x);
        for (int64_t t = 0; t < T; t++) tt_seti(pos, t, 0, 0, 0, (int32_t)(rand_u32() % 5000));
        sc_tensor *y = out_node(&a, SC_OP_ROPE, SC_TYPE_F32, D, H, T, 1);
        y->src[0] = x;
        y->src[1] = pos;
        y->op_params[0] = (int32_t)cfg[ci][1];
        tt_set_f32_param(y, 1, 1000000.0f);
        compare(y, 0.0, "rope"); /* same angles, same arithmetic: bit-identical */
        tt_free(&a);
    }
}

static void test_get_rows(void **state) {
    (void)state;
    char what[64];
    for (size_t wi = 0; wi < ARRAY_LEN(weight_specs); wi++) {
        tt_arena a = {0};
        tt_seed(wi);
        sc_tensor *tab = make_weight(&a, &weight_specs[wi], 67, 11, 1);
        sc_tensor *ids = tt_new(&a, SC_TYPE_I32, 6, 1, 1, 1);
        const int32_t iv[6] = {10, 0, 3, 3, 7, 1};
        memcpy(ids->data, iv, sizeof iv);
        sc_tensor *y = out_node(&a, SC_OP_GET_ROWS, SC_TYPE_F32, 67, 6, 1, 1);
        y->src[0] = tab;
        y->src[1] = ids;
        snprintf(what, sizeof what, "get_rows %s", weight_specs[wi].name);
        compare(y, 0.0, what); /* a conversion: exact */
        tt_seti(ids, 2, 0, 0, 0, 11);
        assert_int_equal(sc__cpu_fast_compute(y), SC_ERANGE);
        tt_free(&a);
    }
}

static void test_attention(void **state) {
    (void)state;
    static const int32_t types[3] = {SC_TYPE_F32, SC_TYPE_F16, SC_TYPE_BF16};
    static const int64_t cfg[][5] = {/* D, H, Hkv, BS, T; the last two are decode shapes (head sub-groups) */
                                     {64, 8, 2, 16, 6}, {20, 3, 3, 4, 9}, {128, 4, 1, 32, 1}, {128, 8, 1, 16, 1},
                                     {64, 12, 2, 8, 1}};
    char what[64];
    for (int ti = 0; ti < 3; ti++)
        for (size_t ci = 0; ci < ARRAY_LEN(cfg); ci++) {
            const int64_t D = cfg[ci][0], H = cfg[ci][1], Hkv = cfg[ci][2], BS = cfg[ci][3], T = cfg[ci][4];
            const int64_t NB = 12, MAXB = 6;
            tt_arena a = {0};
            tt_seed(10 * ti + ci);
            sc_tensor *kc = tt_new(&a, types[ti], D, Hkv, BS, NB), *vc = tt_new(&a, types[ti], D, Hkv, BS, NB);
            sc_tensor *q = tt_new(&a, SC_TYPE_F32, D, H, T, 1), *bt = tt_new(&a, SC_TYPE_I32, MAXB, 2, 1, 1);
            sc_tensor *pos = tt_new(&a, SC_TYPE_I32, T, 1, 1, 1), *seq = tt_new(&a, SC_TYPE_I32, T, 1, 1, 1);
            tt_fill(kc);
            tt_fill(vc);
            tt_fill(q);
            for (int64_t s = 0; s < 2; s++) /* blocks out of order, the two sequences interleaved */
                for (int64_t b = 0; b < MAXB; b++) tt_seti(bt, b, s, 0, 0, (int32_t)((b * 5 + s * 7 + 3) % NB));
            for (int64_t t = 0; t < T; t++) {
                tt_seti(seq, t, 0, 0, 0, (int32_t)(t % 2));
                tt_seti(pos, t, 0, 0, 0, (int32_t)(rand_u32() % (uint32_t)(MAXB * BS)));
            }
            sc_tensor *y = out_node(&a, SC_OP_ATTENTION, SC_TYPE_F32, D, H, T, 1);
            y->src[0] = q;
            y->src[1] = kc;
            y->src[2] = vc;
            y->src[3] = bt;
            y->src[4] = pos;
            y->src[5] = seq;
            tt_set_f32_param(y, 0, 1.0f / sqrtf((float)D));
            snprintf(what, sizeof what, "attention %s D=%lld H=%lld/%lld", types[ti] == SC_TYPE_F32 ? "f32" : "half",
                     (long long)D, (long long)H, (long long)Hkv);
            compare(y, 1e-11, what);
            tt_free(&a);
        }
}

/* ---- the pool itself ------------------------------------------------------ */

typedef struct pool_probe {
    int hits[1000];
    int nested[8];
} pool_probe;

static void nested_task(void *ctx, int64_t i) { ((int *)ctx)[i]++; }

static void probe_task(void *ctx, int64_t i) {
    pool_probe *p = ctx;
    __atomic_fetch_add(&p->hits[i], 1, __ATOMIC_RELAXED);
    if (i == 500) sc__cpu_parallel_for(8, nested_task, p->nested); /* runs serially, no deadlock */
}

static void test_threadpool(void **state) {
    (void)state;
    for (int threads = 1; threads <= 4; threads++) {
        sc_cpu_set_threads(threads);
        assert_int_equal(sc__cpu_n_threads(), threads);
        for (int rep = 0; rep < 20; rep++) {
            pool_probe p;
            memset(&p, 0, sizeof p);
            sc__cpu_parallel_for(1000, probe_task, &p);
            for (int i = 0; i < 1000; i++) assert_int_equal(p.hits[i], 1);
            for (int i = 0; i < 8; i++) assert_int_equal(p.nested[i], 1);
        }
    }
    sc_cpu_set_threads(0);
    assert_true(sc__cpu_n_threads() >= 1);
    /* scratch: per slot, aligned, grows */
    uint8_t *s0 = sc__cpu_scratch(0, 100), *s1 = sc__cpu_scratch(1, 100);
    assert_non_null(s0);
    assert_non_null(s1);
    assert_true(s0 != s1);
    assert_int_equal((uintptr_t)s0 % 64, 0);
    memset(sc__cpu_scratch(0, 1 << 20), 1, 1 << 20);
    assert_null(sc__cpu_scratch(SC_CPU_SCRATCH_SLOTS, 8));
}

static void test_report(void **state) {
    (void)state;
    printf("fast path: %s; worst nmse seen %.3g\n", sc__cpu_features(), worst_nmse);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mul_mat),  cmocka_unit_test(test_mul_mat_id), cmocka_unit_test(test_norm_softmax),
        cmocka_unit_test(test_elementwise), cmocka_unit_test(test_rope),  cmocka_unit_test(test_get_rows),
        cmocka_unit_test(test_attention), cmocka_unit_test(test_threadpool), cmocka_unit_test(test_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

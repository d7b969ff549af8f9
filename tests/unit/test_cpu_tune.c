/*
 * tests/unit/test_cpu_tune.c - kernel tuning of the CPU backend
 * (backends/cpu/fast_tune.c, through sc_cpu_backend_iface()'s tune_query /
 * tune_set).
 *
 *  - every variant tune_query lists for a set of mul_mat / mul_mat_id nodes
 *    (f32/f16/bf16 and QG weights, decode and batch shapes) computes the
 *    reference's result within the fast path's tolerance (test_cpu_fast's:
 *    1e-9 nmse, 5e-5 for the int8-activation QG variants against a reference
 *    fed int8-rounded activations), and the dispatch ran that variant;
 *  - tune_set refuses names that can never be variants (SC_ENOENT) and
 *    keys of families the CPU does not tune;
 *  - a choice changes what runs (kernel table, activation path, rows per
 *    task) and forgetting it brings the default back;
 *  - device_props fills driver.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "cpu_test_util.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const sc_backend_iface *iface(void) { return sc_cpu_backend_iface(); }

static int query(const sc_tensor *node, sc_tune_info *info) {
    memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
    return iface()->tune_query(NULL, node, info);
}

static void fill_qg(sc_tensor *w) {
    const sc_quant_info *q = &w->quant;
    const int64_t K = w->ne[0], N = w->ne[1];
    uint8_t *codes = malloc((size_t)K);
    assert_non_null(codes);
    for (int64_t m = 0; m < w->ne[2]; m++) {
        uint8_t *slab = (uint8_t *)w->data + (size_t)m * w->nb[2];
        for (int64_t n = 0; n < N; n++) {
            for (int64_t k = 0; k < K; k++) codes[k] = (uint8_t)((tt_rand() + 1.0f) * 0.5f * (float)(1u << q->bits)) & ((1u << q->bits) - 1u);
            assert_int_equal(sc_quant_pack_row(q->bits, K, codes, slab + (size_t)n * q->row_bytes), SC_OK);
            for (uint32_t g = 0; g < q->n_groups; g++) {
                uint16_t s = sc_f32_to_f16(0.01f + 0.02f * (tt_rand() + 1.0f));
                memcpy(slab + q->scales_offset + (size_t)(n * q->n_groups + g) * 2, &s, 2);
                slab[q->zeros_offset + (size_t)(n * q->n_groups + g)] = (uint8_t)(1u << (q->bits - 1));
            }
        }
        if (q->flags & SC_QUANT_HAS_GIDX)
            for (int64_t k = 0; k < K; k++) {
                int32_t g = (int32_t)(k % q->n_groups);
                memcpy(slab + q->gidx_offset + (size_t)k * 4, &g, 4);
            }
    }
    free(codes);
}

typedef struct wspec {
    int32_t type;
    uint32_t bits, gs;
    bool gidx;
} wspec;

static const wspec specs[] = {
    {SC_TYPE_F32, 0, 0, false}, {SC_TYPE_F16, 0, 0, false}, {SC_TYPE_BF16, 0, 0, false},
    {SC_TYPE_QG, 4, 32, false}, {SC_TYPE_QG, 8, 64, false}, {SC_TYPE_QG, 3, 16, false},
    {SC_TYPE_QG, 4, 32, true},
};

static sc_tensor *make_weight(tt_arena *a, const wspec *s, int64_t K, int64_t N, int64_t n_mat) {
    if (s->type != SC_TYPE_QG) {
        sc_tensor *w = tt_new(a, s->type, K, N, n_mat, 1);
        tt_fill(w);
        return w;
    }
    sc_tensor *w = tt_new_qg(a, s->bits, s->gs, s->gidx, K, N, n_mat);
    fill_qg(w);
    return w;
}

/* x with every block of 32 values rounded as the int8 path quantizes it */
static void *q8_roundtrip(const sc_tensor *x) {
    const size_t bytes = x->nb[3] * (size_t)x->ne[3];
    uint8_t *copy = malloc(bytes);
    assert_non_null(copy);
    memcpy(copy, x->data, bytes);
    for (int64_t i2 = 0; i2 < x->ne[2]; i2++)
        for (int64_t i1 = 0; i1 < x->ne[1]; i1++) {
            float *row = (float *)(void *)(copy + i1 * x->nb[1] + i2 * x->nb[2]);
            for (int64_t b = 0; b + 32 <= x->ne[0]; b += 32) {
                float amax = 0.0f;
                for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(row[b + i]));
                const float d = amax / 127.0f, id = amax > 0.0f ? 127.0f / amax : 0.0f;
                for (int i = 0; i < 32; i++) row[b + i] = d * rintf(row[b + i] * id);
            }
        }
    return copy;
}

static double nmse(const float *got, const float *want, size_t n) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(got[i])) return INFINITY;
        const double d = (double)got[i] - want[i];
        num += d * d;
        den += (double)want[i] * want[i];
    }
    return den > 0.0 ? num / den : num;
}

static int n_checked;

static int find(const sc_tune_info *info, const char *name) {
    for (int i = 0; i < info->n_variants; i++)
        if (strcmp(info->variants[i], name) == 0) return i;
    return -1;
}

/* Run every listed variant of node and compare with the reference. */
static void check_variants(sc_tensor *node, const char *what) {
    sc_tune_info info;
    assert_int_equal(query(node, &info), SC_OK);
    assert_true(info.n_variants >= 1 && info.n_variants <= SC_TUNE_MAX_VARIANTS);
    assert_int_equal(info.default_variant, 0);
    assert_int_equal(info.current, 0);
    for (const char *c = info.key; *c; c++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:=,+-", *c))
            fail_msg("%s: key '%s' has '%c'", what, info.key, *c);
    const size_t n = (size_t)(node->nb[3] * (size_t)node->ne[3]) / sizeof(float);
    float *want = malloc(n * sizeof(float)), *want_q8 = malloc(n * sizeof(float));
    assert_non_null(want);
    assert_non_null(want_q8);
    assert_int_equal(sc__cpu_ref_compute(node), SC_OK);
    memcpy(want, node->data, n * sizeof(float));
    void *x_data = node->src[1]->data, *xq = q8_roundtrip(node->src[1]);
    node->src[1]->data = xq;
    assert_int_equal(sc__cpu_ref_compute(node), SC_OK);
    node->src[1]->data = x_data;
    free(xq);
    memcpy(want_q8, node->data, n * sizeof(float));
    for (int threads = 1; threads <= 3; threads += 2) {
        sc_cpu_set_threads(threads);
        for (int v = 0; v < info.n_variants; v++) {
            assert_int_equal(iface()->tune_set(NULL, info.key, info.variants[v]), SC_OK);
            sc_tune_info again;
            assert_int_equal(query(node, &again), SC_OK);
            assert_int_equal(again.current, v);
            memset(node->data, 0xff, n * sizeof(float)); /* NaN poison */
            assert_int_equal(sc__cpu_fast_compute(node), SC_OK);
            const sc_cpu_mm_last *last = sc__cpu_mm_last();
            if (strcmp(last->variant, info.variants[v]) != 0)
                fail_msg("%s: ran '%s', chose '%s'", what, last->variant, info.variants[v]);
            const bool q8 = strstr(info.variants[v], ".q8") != NULL;
            assert_int_equal(last->q8, q8);
            const double e = nmse(node->data, q8 ? want_q8 : want, n);
            if (!(e <= (q8 ? 5e-5 : 1e-9)))
                fail_msg("%s [%s, %d threads]: nmse %.3g", what, info.variants[v], threads, e);
            n_checked++;
        }
        assert_int_equal(iface()->tune_set(NULL, info.key, NULL), SC_OK);
    }
    sc_cpu_set_threads(0);
    free(want);
    free(want_q8);
}

static void test_variants_mul_mat(void **state) {
    (void)state;
    static const int64_t shapes[][4] = {{256, 200, 1, 1}, {128, 37, 5, 1}, {64, 136, 9, 2}, {96, 9, 2, 1}}; /* K N M B */
    char what[96];
    for (size_t wi = 0; wi < ARRAY_LEN(specs); wi++)
        for (size_t si = 0; si < ARRAY_LEN(shapes); si++) {
            const int64_t *s = shapes[si];
            tt_arena a = {0};
            tt_seed(31 * wi + si);
            sc_tensor *w = make_weight(&a, &specs[wi], s[0], s[1], 1);
            sc_tensor *x = tt_new(&a, SC_TYPE_F32, s[0], s[2], s[3], 1);
            tt_fill(x);
            sc_tensor *y = tt_op(&a, SC_OP_MUL_MAT, SC_TYPE_F32, s[1], s[2], s[3], 1, w, x, NULL);
            snprintf(what, sizeof what, "mul_mat spec %zu K=%lld N=%lld M=%lld", wi, (long long)s[0],
                     (long long)s[1], (long long)s[2]);
            check_variants(y, what);
            tt_free(&a);
        }
}

static void test_variants_mul_mat_id(void **state) {
    (void)state;
    static const int64_t shapes[][4] = {{128, 40, 2, 1}, {64, 136, 2, 9}}; /* K N n_used T */
    char what[96];
    for (size_t wi = 0; wi < ARRAY_LEN(specs); wi++)
        for (size_t si = 0; si < ARRAY_LEN(shapes); si++) {
            const int64_t K = shapes[si][0], N = shapes[si][1], U = shapes[si][2], T = shapes[si][3], E = 4;
            tt_arena a = {0};
            tt_seed(17 * wi + si);
            sc_tensor *w = make_weight(&a, &specs[wi], K, N, E);
            sc_tensor *x = tt_new(&a, SC_TYPE_F32, K, U, T, 1);
            tt_fill(x);
            sc_tensor *ids = tt_new(&a, SC_TYPE_I32, U, T, 1, 1);
            for (int64_t t = 0; t < T; t++)
                for (int64_t i = 0; i < U; i++) tt_seti(ids, i, t, 0, 0, (int32_t)((t + i * 3) % E));
            sc_tensor *y = tt_op(&a, SC_OP_MUL_MAT_ID, SC_TYPE_F32, N, U, T, 1, w, x, ids);
            snprintf(what, sizeof what, "mul_mat_id spec %zu K=%lld N=%lld U=%lld T=%lld", wi, (long long)K,
                     (long long)N, (long long)U, (long long)T);
            check_variants(y, what);
            tt_free(&a);
        }
    print_message("%d variant runs matched the reference\n", n_checked);
}

/* A q4g32 mul_mat of N rows: tune_query's key and variants. */
static sc_tensor *q4_node(tt_arena *a, int64_t N, int64_t M) {
    static const wspec q4 = {SC_TYPE_QG, 4, 32, false};
    sc_tensor *w = make_weight(a, &q4, 128, N, 1);
    sc_tensor *x = tt_new(a, SC_TYPE_F32, 128, M, 1, 1);
    tt_fill(x);
    return tt_op(a, SC_OP_MUL_MAT, SC_TYPE_F32, N, M, 1, 1, w, x, NULL);
}

static void test_set_rejects(void **state) {
    (void)state;
    const char *key = "mm.q4g32:N=64,K=128,M=1,B=1", *fkey = "mm.f16:N=64,K=128,M=1,B=1";
    static const char *const bad[] = {"avx9", "avx512.q9", "avx512.q8.r7", "avx512", "", "generic.f32.r8.r8",
                                      "avx2.q8 ", "AVX2.q8", "generic.q8x"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        if (iface()->tune_set(NULL, key, bad[i]) != SC_ENOENT) fail_msg("accepted '%s' for %s", bad[i], key);
    assert_int_equal(iface()->tune_set(NULL, fkey, "avx2.q8"), SC_ENOENT); /* no activation word for floats */
    assert_int_equal(iface()->tune_set(NULL, "attn.f16:H=8", "avx2"), SC_ENOENT); /* not a CPU family */
    assert_int_equal(iface()->tune_set(NULL, NULL, "avx2"), SC_EINVAL);
    /* known names are accepted even where this CPU lacks the ISA: a choice
     * not valid for a node just runs the default */
    assert_int_equal(iface()->tune_set(NULL, key, "avx512.q8.r128"), SC_OK);
    assert_int_equal(iface()->tune_set(NULL, fkey, "generic.r8"), SC_OK);
    assert_int_equal(iface()->tune_set(NULL, key, NULL), SC_OK);
    assert_int_equal(iface()->tune_set(NULL, fkey, NULL), SC_OK);
    assert_int_equal(iface()->tune_set(NULL, fkey, NULL), SC_OK); /* forgetting twice is fine */

    tt_arena a = {0};
    sc_tensor *add = tt_op(&a, SC_OP_ADD, SC_TYPE_F32, 4, 1, 1, 1, tt_new(&a, SC_TYPE_F32, 4, 1, 1, 1),
                           tt_new(&a, SC_TYPE_F32, 4, 1, 1, 1), NULL);
    sc_tune_info info;
    assert_int_equal(query(add, &info), SC_ENOTSUP);
    tt_free(&a);
}

static void test_choice_changes_what_runs(void **state) {
    (void)state;
    tt_arena a = {0};
    tt_seed(5);
    sc_tensor *y = q4_node(&a, 200, 1);
    sc_tune_info info;
    assert_int_equal(query(y, &info), SC_OK);
    assert_string_equal(info.key, "mm.q4g32:N=200,K=128,M=1,B=1");
    for (int v = 0; v < info.n_variants; v++) print_message("%s%s", v ? " " : "variants: ", info.variants[v]);
    print_message("\n");
    if (!sc__cpu_qg_int8()) { /* STRIXCORE_CPU_QG_ACT=f32: no int8 variants; the rest is the same */
        tt_free(&a);
        skip();
    }
    const sc_cpu_kernels *tabs[SC_CPU_N_LEVELS];
    const char *names[SC_CPU_N_LEVELS];
    const int n_lv = sc__cpu_kernel_levels(tabs, names);
    char name[SC_TUNE_NAME_LEN];
    snprintf(name, sizeof name, "%s.q8", names[0]);
    assert_string_equal(info.variants[0], name); /* the default: active table, int8 activations */

    /* untuned: the default, no variant name looked up */
    assert_int_equal(sc__cpu_fast_compute(y), SC_OK);
    const sc_cpu_mm_last *last = sc__cpu_mm_last();
    assert_string_equal(last->variant, "");
    assert_string_equal(last->table, tabs[0]->name);
    assert_true(last->q8);
    const int64_t auto_rows = last->rows_per_task;

    /* the lowest table listed with f32 activations */
    snprintf(name, sizeof name, "%s.f32", names[n_lv - 1]);
    assert_int_equal(iface()->tune_set(NULL, info.key, name), SC_OK);
    assert_int_equal(sc__cpu_fast_compute(y), SC_OK);
    assert_string_equal(last->variant, name);
    assert_string_equal(last->table, tabs[n_lv - 1]->name);
    assert_false(last->q8);

    /* the portable table is listed only when it is the active one; chosen
     * anyway (a cache from a CPU without SIMD), the default runs */
    if (n_lv > 1) {
        assert_int_equal(find(&info, "generic.q8"), -1);
        assert_int_equal(iface()->tune_set(NULL, info.key, "generic.q8"), SC_OK);
        assert_int_equal(sc__cpu_fast_compute(y), SC_OK);
        assert_string_equal(last->variant, "");
        assert_string_equal(last->table, tabs[0]->name);
    }

    /* every level the CPU has */
    for (int l = 0; l < n_lv; l++) {
        snprintf(name, sizeof name, "%s.f32", names[l]);
        assert_int_equal(iface()->tune_set(NULL, info.key, name), SC_OK);
        assert_int_equal(sc__cpu_fast_compute(y), SC_OK);
        assert_string_equal(last->table, tabs[l]->name);
    }

    /* the work split */
    snprintf(name, sizeof name, "%s.q8.r8", names[0]);
    assert_int_equal(iface()->tune_set(NULL, info.key, name), SC_OK);
    assert_int_equal(sc__cpu_fast_compute(y), SC_OK);
    assert_int_equal(last->rows_per_task, 8);
    assert_true(last->q8);

    /* a known name not valid for this node (r128 needs N > 128; this node
     * has N = 64) runs the default */
    sc_tensor *small = q4_node(&a, 64, 1);
    assert_int_equal(query(small, &info), SC_OK);
    snprintf(name, sizeof name, "%s.q8.r128", names[0]);
    assert_int_equal(find(&info, name), -1);
    assert_int_equal(iface()->tune_set(NULL, info.key, name), SC_OK);
    assert_int_equal(sc__cpu_fast_compute(small), SC_OK);
    assert_string_equal(last->variant, "");
    assert_true(last->q8);
    assert_int_equal(query(small, &info), SC_OK);
    assert_int_equal(info.current, info.default_variant);
    assert_int_equal(iface()->tune_set(NULL, info.key, NULL), SC_OK);

    /* forgetting brings the default back */
    assert_int_equal(query(y, &info), SC_OK);
    assert_int_equal(iface()->tune_set(NULL, info.key, NULL), SC_OK);
    assert_int_equal(sc__cpu_fast_compute(y), SC_OK);
    assert_string_equal(last->variant, "");
    assert_string_equal(last->table, tabs[0]->name);
    assert_int_equal(last->rows_per_task, auto_rows);
    tt_free(&a);
}

static void test_keys(void **state) {
    (void)state;
    tt_arena a = {0};
    static const wspec q4gidx = {SC_TYPE_QG, 4, 32, true}, bf16 = {SC_TYPE_BF16, 0, 0, false};
    sc_tune_info info;
    sc_tensor *w = make_weight(&a, &q4gidx, 64, 16, 8);
    sc_tensor *x = tt_new(&a, SC_TYPE_F32, 64, 1, 300, 1);
    sc_tensor *ids = tt_new(&a, SC_TYPE_I32, 2, 300, 1, 1);
    sc_tensor *y = tt_op(&a, SC_OP_MUL_MAT_ID, SC_TYPE_F32, 16, 2, 300, 1, w, x, ids);
    assert_int_equal(query(y, &info), SC_OK);
    assert_string_equal(info.key, "mmid.q4g32.gidx:N=16,K=64,E=8,U=2,T=512");
    for (int v = 0; v < info.n_variants; v++) assert_non_null(strstr(info.variants[v], ".f32")); /* no int8 path */
    w = make_weight(&a, &bf16, 64, 16, 1);
    x = tt_new(&a, SC_TYPE_F32, 64, 20, 3, 1);
    y = tt_op(&a, SC_OP_MUL_MAT, SC_TYPE_F32, 16, 20, 3, 1, w, x, NULL);
    assert_int_equal(query(y, &info), SC_OK);
    assert_string_equal(info.key, "mm.bf16:N=16,K=64,M=32,B=3");

    sc_device_props p = {.struct_size = sizeof p};
    assert_int_equal(iface()->device_props(NULL, 0, &p), SC_OK);
    assert_string_equal(p.driver, sc__cpu_features());
    tt_free(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_set_rejects),
        cmocka_unit_test(test_choice_changes_what_runs),
        cmocka_unit_test(test_variants_mul_mat),
        cmocka_unit_test(test_variants_mul_mat_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * tests/unit/test_cpu_ref.c - the CPU reference ops on small hand-computed
 * cases (backends/cpu/ref_*.c). Tensors are built by hand, so these tests
 * depend only on the CPU backend and quant.c/fp16.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cpu_test_util.h"

#define assert_close(a, b, tol)                                                                  \
    do {                                                                                         \
        double a_ = (a), b_ = (b);                                                               \
        if (!(fabs(a_ - b_) <= (tol))) fail_msg("%s = %.9g, expected %.9g", #a, a_, b_);         \
    } while (0)

static void test_rms_norm(void **state) {
    (void)state;
    tt_arena a = {0};
    sc_tensor *x = tt_new(&a, SC_TYPE_F32, 4, 2, 1, 1), *w = tt_new(&a, SC_TYPE_F32, 4, 1, 1, 1);
    const float xv[8] = {1, 2, 3, 4, -2, 0, 0, 2}, wv[4] = {1, 0.5f, 2, 1};
    memcpy(x->data, xv, sizeof xv);
    memcpy(w->data, wv, sizeof wv);
    sc_tensor *y = tt_op(&a, SC_OP_RMS_NORM, SC_TYPE_F32, 4, 2, 1, 1, x, w, NULL);
    tt_set_f32_param(y, 0, 0.0f);
    assert_int_equal(sc__cpu_ref_compute(y), SC_OK);
    /* row 0: mean(x^2) = 30/4 = 7.5 -> inv = 0.365148372 */
    const double inv0 = 0.36514837167011072;
    assert_close(tt_getf(y, 0, 0, 0, 0), 1 * inv0 * 1, 1e-6);
    assert_close(tt_getf(y, 1, 0, 0, 0), 2 * inv0 * 0.5, 1e-6);
    assert_close(tt_getf(y, 2, 0, 0, 0), 3 * inv0 * 2, 1e-6);
    assert_close(tt_getf(y, 3, 0, 0, 0), 4 * inv0 * 1, 1e-6);
    /* row 1: mean(x^2) = 8/4 = 2, with eps = 2: inv = 1/2 */
    tt_set_f32_param(y, 0, 2.0f);
    y->src[1] = NULL;
    assert_int_equal(sc__cpu_ref_compute(y), SC_OK);
    assert_close(tt_getf(y, 0, 1, 0, 0), -1.0, 1e-7);
    assert_close(tt_getf(y, 1, 1, 0, 0), 0.0, 1e-7);
    assert_close(tt_getf(y, 3, 1, 0, 0), 1.0, 1e-7);
    /* bad: weight of the wrong length, negative eps */
    sc_tensor *w3 = tt_new(&a, SC_TYPE_F32, 3, 1, 1, 1);
    y->src[1] = w3;
    assert_int_equal(sc__cpu_ref_compute(y), SC_EINVAL);
    y->src[1] = w;
    tt_set_f32_param(y, 0, -1.0f);
    assert_int_equal(sc__cpu_ref_compute(y), SC_EINVAL);
    tt_free(&a);
}

static void test_softmax(void **state) {
    (void)state;
    tt_arena a = {0};
    sc_tensor *x = tt_new(&a, SC_TYPE_F32, 3, 3, 1, 1);
    const float l3 = logf(3.0f);
    const float xv[9] = {1, 2, 3, 0, 2 * l3, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    memcpy(x->data, xv, sizeof xv);
    sc_tensor *y = tt_op(&a, SC_OP_SOFTMAX, SC_TYPE_F32, 3, 3, 1, 1, x, NULL, NULL);
    tt_set_f32_param(y, 0, 1.0f);
    assert_int_equal(sc__cpu_ref_compute(y), SC_OK);
    assert_close(tt_getf(y, 0, 0, 0, 0), 0.090030573, 1e-7);
    assert_close(tt_getf(y, 1, 0, 0, 0), 0.244728471, 1e-7);
    assert_close(tt_getf(y, 2, 0, 0, 0), 0.665240956, 1e-7);
    assert_close(tt_getf(y, 0, 1, 0, 0), 0.1, 1e-7); /* exp: 1, 9, 0 */
    assert_close(tt_getf(y, 1, 1, 0, 0), 0.9, 1e-7);
    assert_close(tt_getf(y, 2, 1, 0, 0), 0.0, 0.0);
    for (int i = 0; i < 3; i++) assert_close(tt_getf(y, i, 2, 0, 0), 0.0, 0.0); /* all -inf: zeros */
    /* the scale applies before the exp: scale 0.5 on row 1 gives 1 : 3 */
    tt_set_f32_param(y, 0, 0.5f);
    assert_int_equal(sc__cpu_ref_compute(y), SC_OK);
    assert_close(tt_getf(y, 0, 1, 0, 0), 0.25, 1e-7);
    assert_close(tt_getf(y, 1, 1, 0, 0), 0.75, 1e-7);
    tt_free(&a);
}

static void test_rope_partial(void **state) {
    (void)state;
    tt_arena a = {0};
    /* head_dim 6, n_rot 4 (pairs (0,2) and (1,3)), dims 4,5 pass through;
     * base 10000: inv_freq = 1 and 10000^(-1/2) = 0.01. Token 0 at pos 3,
     * token 1 at pos 0 (identity). */
    sc_tensor *x = tt_new(&a, SC_TYPE_F32, 6, 1, 2, 1), *pos = tt_new(&a, SC_TYPE_I32, 2, 1, 1, 1);
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < 6; i++) tt_setf(x, i, 0, t, 0, (float)(i + 1));
    tt_seti(pos, 0, 0, 0, 0, 3);
    tt_seti(pos, 1, 0, 0, 0, 0);
    sc_tensor *y = tt_op(&a, SC_OP_ROPE, SC_TYPE_F32, 6, 1, 2, 1, x, pos, NULL);
    y->op_params[0] = 4;
    tt_set_f32_param(y, 1, 10000.0f);
    assert_int_equal(sc__cpu_ref_compute(y), SC_OK);
    const double c0 = cos(3.0), s0 = sin(3.0), c1 = cos(0.03), s1 = sin(0.03);
    assert_close(tt_getf(y, 0, 0, 0, 0), 1 * c0 - 3 * s0, 2e-6);
    assert_close(tt_getf(y, 2, 0, 0, 0), 3 * c0 + 1 * s0, 2e-6);
    assert_close(tt_getf(y, 1, 0, 0, 0), 2 * c1 - 4 * s1, 2e-6);
    assert_close(tt_getf(y, 3, 0, 0, 0), 4 * c1 + 2 * s1, 2e-6);
    assert_close(tt_getf(y, 4, 0, 0, 0), 5.0, 0.0);
    assert_close(tt_getf(y, 5, 0, 0, 0), 6.0, 0.0);
    for (int i = 0; i < 6; i++) assert_close(tt_getf(y, i, 0, 1, 0), (double)(i + 1), 0.0);
    y->op_params[0] = 3; /* odd n_rot */
    assert_int_equal(sc__cpu_ref_compute(y), SC_EINVAL);
    y->op_params[0] = 8; /* wider than the head */
    assert_int_equal(sc__cpu_ref_compute(y), SC_EINVAL);
    tt_free(&a);
}

static void test_top_k_and_argmax(void **state) {
    (void)state;
    tt_arena a = {0};
    sc_tensor *x = tt_new(&a, SC_TYPE_F32, 5, 3, 1, 1);
    const float xv[15] = {1, 3, 3, 2, 3,                       /* ties: lower index first */
                          NAN, -INFINITY, 0, 7, NAN,           /* NaN ranks last */
                          -1, -1, -1, -1, -1};
    memcpy(x->data, xv, sizeof xv);
    sc_tensor *tk = tt_op(&a, SC_OP_TOP_K, SC_TYPE_I32, 4, 3, 1, 1, x, NULL, NULL);
    tk->op_params[0] = 4;
    assert_int_equal(sc__cpu_ref_compute(tk), SC_OK);
    const int32_t want[12] = {1, 2, 4, 3, 3, 2, 1, 0, 0, 1, 2, 3};
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 4; i++) assert_int_equal(tt_geti(tk, i, r, 0, 0), want[r * 4 + i]);

    sc_tensor *am = tt_op(&a, SC_OP_ARGMAX, SC_TYPE_I32, 3, 1, 1, 1, x, NULL, NULL);
    assert_int_equal(sc__cpu_ref_compute(am), SC_OK);
    assert_int_equal(tt_geti(am, 0, 0, 0, 0), 1);
    assert_int_equal(tt_geti(am, 1, 0, 0, 0), 3);
    assert_int_equal(tt_geti(am, 2, 0, 0, 0), 0);

    tk->op_params[0] = 6; /* k > n */
    assert_int_equal(sc__cpu_ref_compute(tk), SC_EINVAL);
    tk->op_params[0] = 0;
    assert_int_equal(sc__cpu_ref_compute(tk), SC_EINVAL);
    tt_free(&a);
}

/* Paged KV fixture: D=4, n_kv_heads=2, block_size=2, 5 blocks, 2 sequences.
 * Sequence 0 lives in blocks 3, 0, 4; sequence 1 in blocks 1, 2. */
enum { D = 4, HKV = 2, BS = 2, NB = 5, MAXB = 3 };
static const int32_t block_table[2][MAXB] = {{3, 0, 4}, {1, 2, 0}};

static sc_tensor *make_bt(tt_arena *a) {
    sc_tensor *bt = tt_new(a, SC_TYPE_I32, MAXB, 2, 1, 1);
    memcpy(bt->data, block_table, sizeof block_table);
    return bt;
}

static void test_kv_write(void **state) {
    (void)state;
    tt_arena a = {0};
    sc_tensor *cache = tt_new(&a, SC_TYPE_F16, D, HKV, BS, NB), *bt = make_bt(&a);
    sc_tensor *src = tt_new(&a, SC_TYPE_F32, D, HKV, 3, 1);
    sc_tensor *pos = tt_new(&a, SC_TYPE_I32, 3, 1, 1, 1), *seq = tt_new(&a, SC_TYPE_I32, 3, 1, 1, 1);
    for (int t = 0; t < 3; t++)
        for (int h = 0; h < HKV; h++)
            for (int i = 0; i < D; i++) tt_setf(src, i, h, t, 0, (float)(100 * t + 10 * h + i) + 1.0f / 3.0f);
    /* t0: seq 0, pos 3 -> block bt[1][0]=0, row 1; t1: seq 1, pos 0 -> block 1, row 0;
     * t2: seq 0, pos 5 -> block bt[2][0]=4, row 1 */
    const int32_t pv[3] = {3, 0, 5}, sv[3] = {0, 1, 0};
    memcpy(pos->data, pv, sizeof pv);
    memcpy(seq->data, sv, sizeof sv);
    sc_tensor *node = tt_alloc(&a, sizeof *node);
    *node = *cache; /* a view of the cache: same memory */
    node->op = SC_OP_KV_WRITE;
    node->view_src = cache;
    node->src[0] = cache;
    node->src[1] = src;
    node->src[2] = bt;
    node->src[3] = pos;
    node->src[4] = seq;
    assert_int_equal(sc__cpu_ref_compute(node), SC_OK);
    const int where[3][3] = {{0, 0, 1}, {1, 1, 0}, {2, 4, 1}}; /* token, block, row */
    for (int b = 0; b < NB; b++)
        for (int r = 0; r < BS; r++)
            for (int h = 0; h < HKV; h++)
                for (int i = 0; i < D; i++) {
                    float want = 0.0f;
                    for (int w = 0; w < 3; w++)
                        if (where[w][1] == b && where[w][2] == r)
                            want = sc_f16_to_f32(sc_f32_to_f16((float)(100 * where[w][0] + 10 * h + i) + 1.0f / 3.0f));
                    assert_true(tt_getf(cache, i, h, r, b) == want);
                }
    /* out of range: pos 6 needs table column 3 (max_blocks 3), seq 2, block id -1 */
    uint16_t before[D * HKV * BS * NB];
    memcpy(before, cache->data, sizeof before);
    tt_seti(pos, 1, 0, 0, 0, 6);
    assert_int_equal(sc__cpu_ref_compute(node), SC_ERANGE);
    tt_seti(pos, 1, 0, 0, 0, 0);
    tt_seti(seq, 1, 0, 0, 0, 2);
    assert_int_equal(sc__cpu_ref_compute(node), SC_ERANGE);
    tt_seti(seq, 1, 0, 0, 0, 1);
    tt_seti(bt, 0, 1, 0, 0, -1);
    assert_int_equal(sc__cpu_ref_compute(node), SC_ERANGE);
    assert_memory_equal(before, cache->data, sizeof before); /* nothing written on error */
    tt_free(&a);
}

/* Attention from its definition, in double, walking the block table by hand. */
static void naive_attention(const sc_tensor *q, const sc_tensor *k, const sc_tensor *v, const int32_t *pos,
                            const int32_t *seq, int T, int H, float scale, double *out /* [T][H][D] */) {
    for (int t = 0; t < T; t++)
        for (int h = 0; h < H; h++) {
            const int kvh = h / (H / HKV), p = pos[t];
            double s[16], m = -INFINITY, sum = 0.0;
            for (int j = 0; j <= p; j++) {
                const int blk = block_table[seq[t]][j / BS];
                double d = 0.0;
                for (int i = 0; i < D; i++) d += (double)tt_getf(q, i, h, t, 0) * tt_getf(k, i, kvh, j % BS, blk);
                s[j] = d * scale;
                if (s[j] > m) m = s[j];
            }
            for (int j = 0; j <= p; j++) sum += s[j] = exp(s[j] - m);
            for (int i = 0; i < D; i++) {
                double acc = 0.0;
                for (int j = 0; j <= p; j++) acc += s[j] * tt_getf(v, i, kvh, j % BS, block_table[seq[t]][j / BS]);
                out[(t * H + h) * D + i] = acc / sum;
            }
        }
}

static void run_attention_case(int32_t cache_type) {
    tt_arena a = {0};
    enum { H = 4, T = 3 };
    sc_tensor *kc = tt_new(&a, cache_type, D, HKV, BS, NB), *vc = tt_new(&a, cache_type, D, HKV, BS, NB);
    sc_tensor *q = tt_new(&a, SC_TYPE_F32, D, H, T, 1), *bt = make_bt(&a);
    sc_tensor *pos = tt_new(&a, SC_TYPE_I32, T, 1, 1, 1), *seq = tt_new(&a, SC_TYPE_I32, T, 1, 1, 1);
    tt_seed(11);
    tt_fill(kc);
    tt_fill(vc);
    tt_fill(q);
    /* t0: seq 0 at pos 4 (blocks 3, 0, 4), t1: seq 1 at pos 2 (blocks 1, 2), t2: seq 0 at pos 0 */
    const int32_t pv[T] = {4, 2, 0}, sv[T] = {0, 1, 0};
    memcpy(pos->data, pv, sizeof pv);
    memcpy(seq->data, sv, sizeof sv);
    sc_tensor *y = tt_op(&a, SC_OP_ATTENTION, SC_TYPE_F32, D, H, T, 1, q, kc, vc);
    y->src[3] = bt;
    y->src[4] = pos;
    y->src[5] = seq;
    tt_set_f32_param(y, 0, 0.5f);
    assert_int_equal(sc__cpu_ref_compute(y), SC_OK);
    double want[T * H * D];
    naive_attention(q, kc, vc, pv, sv, T, H, 0.5f, want);
    for (int t = 0; t < T; t++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < D; i++) assert_close(tt_getf(y, i, h, t, 0), want[(t * H + h) * D + i], 2e-6);
    /* pos 0 attends to one position: the output is that V row exactly */
    for (int h = 0; h < H; h++)
        for (int i = 0; i < D; i++) assert_close(tt_getf(y, i, h, 2, 0), tt_getf(vc, i, h / 2, 0, 3), 1e-6);

    tt_seti(pos, 1, 0, 0, 0, 4); /* seq 1 has no third block: table entry 0 is valid... */
    assert_int_equal(sc__cpu_ref_compute(y), SC_OK);
    tt_seti(pos, 1, 0, 0, 0, 6); /* ...but column 3 does not exist */
    assert_int_equal(sc__cpu_ref_compute(y), SC_ERANGE);
    tt_seti(pos, 1, 0, 0, 0, -1);
    assert_int_equal(sc__cpu_ref_compute(y), SC_ERANGE);
    tt_free(&a);
}

static void test_attention_gqa_paged(void **state) {
    (void)state;
    run_attention_case(SC_TYPE_F32);
    run_attention_case(SC_TYPE_F16);
    run_attention_case(SC_TYPE_BF16);
}

static void test_mul_mat(void **state) {
    (void)state;
    tt_arena a = {0};
    /* w f16 rows (1,2) and (3,4); x two batches (5,6) and (-1,1) broadcast over one w */
    sc_tensor *w = tt_new(&a, SC_TYPE_F16, 2, 2, 1, 1), *x = tt_new(&a, SC_TYPE_F32, 2, 1, 2, 1);
    const float wv[4] = {1, 2, 3, 4}, xv[4] = {5, 6, -1, 1};
    for (int i = 0; i < 4; i++) tt_setf(w, i % 2, i / 2, 0, 0, wv[i]);
    memcpy(x->data, xv, sizeof xv);
    sc_tensor *y = tt_op(&a, SC_OP_MUL_MAT, SC_TYPE_F32, 2, 1, 2, 1, w, x, NULL);
    assert_int_equal(sc__cpu_ref_compute(y), SC_OK);
    assert_close(tt_getf(y, 0, 0, 0, 0), 17.0, 0.0);
    assert_close(tt_getf(y, 1, 0, 0, 0), 39.0, 0.0);
    assert_close(tt_getf(y, 0, 0, 1, 0), 1.0, 0.0);
    assert_close(tt_getf(y, 1, 0, 1, 0), 1.0, 0.0);
    sc_tensor *x3 = tt_new(&a, SC_TYPE_F32, 3, 1, 2, 1); /* K mismatch */
    y->src[1] = x3;
    assert_int_equal(sc__cpu_ref_compute(y), SC_EINVAL);
    assert_false(sc__cpu_supports(y));
    tt_free(&a);
}

static void test_mul_mat_id(void **state) {
    (void)state;
    tt_arena a = {0};
    /* 3 experts of w [K=3, N=2]: expert e row n = (e+1) * (n+1) * (1, 2, 3) */
    sc_tensor *w = tt_new(&a, SC_TYPE_F32, 3, 2, 3, 1);
    for (int e = 0; e < 3; e++)
        for (int n = 0; n < 2; n++)
            for (int k = 0; k < 3; k++) tt_setf(w, k, n, e, 0, (float)((e + 1) * (n + 1) * (k + 1)));
    sc_tensor *x = tt_new(&a, SC_TYPE_F32, 3, 1, 2, 1); /* X == 1: one input per token */
    const float xv[6] = {1, 0, 0, 0, 1, 1};
    memcpy(x->data, xv, sizeof xv);
    sc_tensor *ids = tt_new(&a, SC_TYPE_I32, 2, 2, 1, 1);
    const int32_t iv[4] = {2, 0, 1, 2}; /* token 0 -> experts 2, 0; token 1 -> experts 1, 2 */
    memcpy(ids->data, iv, sizeof iv);
    sc_tensor *y = tt_op(&a, SC_OP_MUL_MAT_ID, SC_TYPE_F32, 2, 2, 2, 1, w, x, ids);
    assert_int_equal(sc__cpu_ref_compute(y), SC_OK);
    /* token 0, x = (1,0,0): expert e row n -> (e+1)(n+1); token 1, x = (0,1,1): (e+1)(n+1)*5 */
    const float want[2][2][2] = {{{3, 6}, {1, 2}}, {{10, 20}, {15, 30}}}; /* [t][i][n] */
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < 2; i++)
            for (int n = 0; n < 2; n++) assert_close(tt_getf(y, n, i, t, 0), want[t][i][n], 0.0);
    /* X == n_used: each slot has its own input */
    sc_tensor *x2 = tt_new(&a, SC_TYPE_F32, 3, 2, 2, 1);
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < 2; i++) tt_setf(x2, i, i, t, 0, 1.0f); /* slot i picks column i */
    y->src[1] = x2;
    assert_int_equal(sc__cpu_ref_compute(y), SC_OK);
    assert_close(tt_getf(y, 0, 1, 0, 0), 2.0, 0.0); /* expert 0, row 0, k=1 -> 1*1*2 */
    assert_close(tt_getf(y, 1, 0, 1, 0), 4.0, 0.0); /* expert 1, row 1, k=0 -> 2*2*1 */
    tt_seti(ids, 1, 1, 0, 0, 3);                    /* expert 3 does not exist */
    assert_int_equal(sc__cpu_ref_compute(y), SC_ERANGE);
    tt_free(&a);
}

static void test_get_rows_qg(void **state) {
    (void)state;
    tt_arena a = {0};
    /* QG table, D=6 (4-bit, groups of 4 -> G=2), V=3 rows; row v: codes k+v,
     * scale 0.5 (group 0) / 2 (group 1), zero 8 / 1 */
    sc_tensor *tab = tt_new_qg(&a, 4, 4, false, 6, 3, 1);
    uint8_t *slab = tab->data;
    for (int v = 0; v < 3; v++) {
        uint8_t codes[6];
        for (int k = 0; k < 6; k++) codes[k] = (uint8_t)(k + v);
        sc_quant_pack_row(4, 6, codes, slab + v * tab->quant.row_bytes);
        const uint16_t sc[2] = {0x3800, 0x4000};
        memcpy(slab + tab->quant.scales_offset + v * 4, sc, 4);
        slab[tab->quant.zeros_offset + v * 2] = 8;
        slab[tab->quant.zeros_offset + v * 2 + 1] = 1;
    }
    sc_tensor *ids = tt_new(&a, SC_TYPE_I32, 3, 1, 1, 1);
    const int32_t iv[3] = {2, 0, 2};
    memcpy(ids->data, iv, sizeof iv);
    sc_tensor *y = tt_op(&a, SC_OP_GET_ROWS, SC_TYPE_F32, 6, 3, 1, 1, tab, ids, NULL);
    assert_int_equal(sc__cpu_ref_compute(y), SC_OK);
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 6; k++) {
            const int v = iv[i], code = k + v;
            const double want = k < 4 ? 0.5 * (code - 8) : 2.0 * (code - 1);
            assert_close(tt_getf(y, k, i, 0, 0), want, 0.0);
        }
    tt_seti(ids, 1, 0, 0, 0, 3);
    assert_int_equal(sc__cpu_ref_compute(y), SC_ERANGE);
    tt_free(&a);
}

static void test_cpy_f32_f16_f32(void **state) {
    (void)state;
    tt_arena a = {0};
    /* source: a transposed view of a [2, 2] f32 matrix (nb swapped) */
    sc_tensor *m = tt_new(&a, SC_TYPE_F32, 2, 2, 1, 1);
    const float mv[4] = {1.0f / 3.0f, 65520.0f, 1e-8f, -2.5f};
    memcpy(m->data, mv, sizeof mv);
    sc_tensor *tr = tt_alloc(&a, sizeof *tr);
    *tr = *m;
    tr->nb[0] = m->nb[1];
    tr->nb[1] = m->nb[0];
    sc_tensor *h = tt_op(&a, SC_OP_CPY, SC_TYPE_F16, 2, 2, 1, 1, tr, NULL, NULL);
    assert_int_equal(sc__cpu_ref_compute(h), SC_OK);
    /* logical order of the transpose: (0,0)=1/3, (1,0)=1e-8, (0,1)=65520, (1,1)=-2.5 */
    const uint16_t want_h[4] = {0x3555, 0x0000, 0x7c00, 0xc100};
    assert_memory_equal(h->data, want_h, sizeof want_h);
    sc_tensor *back = tt_op(&a, SC_OP_CPY, SC_TYPE_F32, 4, 1, 1, 1, h, NULL, NULL); /* reshape too */
    assert_int_equal(sc__cpu_ref_compute(back), SC_OK);
    assert_true(tt_getf(back, 0, 0, 0, 0) == 0.333251953125f);
    assert_true(tt_getf(back, 1, 0, 0, 0) == 0.0f);
    assert_true(isinf(tt_getf(back, 2, 0, 0, 0)));
    assert_true(tt_getf(back, 3, 0, 0, 0) == -2.5f);
    /* float -> int is not a cast this op does; element counts must agree */
    sc_tensor *bad = tt_op(&a, SC_OP_CPY, SC_TYPE_I32, 2, 2, 1, 1, m, NULL, NULL);
    assert_int_equal(sc__cpu_ref_compute(bad), SC_ENOTSUP);
    sc_tensor *bad2 = tt_op(&a, SC_OP_CPY, SC_TYPE_F32, 3, 1, 1, 1, m, NULL, NULL);
    assert_int_equal(sc__cpu_ref_compute(bad2), SC_EINVAL);
    /* i32 -> i8 narrowing: in range copies, out of range is refused */
    sc_tensor *iv = tt_new(&a, SC_TYPE_I32, 3, 1, 1, 1);
    const int32_t vals[3] = {-128, 5, 127};
    memcpy(iv->data, vals, sizeof vals);
    sc_tensor *i8 = tt_op(&a, SC_OP_CPY, SC_TYPE_I8, 3, 1, 1, 1, iv, NULL, NULL);
    assert_int_equal(sc__cpu_ref_compute(i8), SC_OK);
    assert_int_equal(((int8_t *)i8->data)[0], -128);
    assert_int_equal(((int8_t *)i8->data)[2], 127);
    tt_seti(iv, 1, 0, 0, 0, 128);
    assert_int_equal(sc__cpu_ref_compute(i8), SC_ERANGE);
    tt_free(&a);
}

static void test_elementwise(void **state) {
    (void)state;
    tt_arena a = {0};
    sc_tensor *x = tt_new(&a, SC_TYPE_F32, 4, 2, 1, 1), *b = tt_new(&a, SC_TYPE_F32, 2, 1, 1, 1);
    const float xv[8] = {1, 2, 3, 4, -1, 0, 1, 2}, bv[2] = {10, 20};
    memcpy(x->data, xv, sizeof xv);
    memcpy(b->data, bv, sizeof bv);
    sc_tensor *y = tt_op(&a, SC_OP_ADD, SC_TYPE_F32, 4, 2, 1, 1, x, b, NULL);
    assert_int_equal(sc__cpu_ref_compute(y), SC_OK);
    const float want_add[8] = {11, 22, 13, 24, 9, 20, 11, 22};
    assert_memory_equal(y->data, want_add, sizeof want_add);
    y->op = SC_OP_MUL;
    assert_int_equal(sc__cpu_ref_compute(y), SC_OK);
    const float want_mul[8] = {10, 40, 30, 80, -10, 0, 10, 40};
    assert_memory_equal(y->data, want_mul, sizeof want_mul);
    y->op = SC_OP_SILU;
    y->src[1] = NULL;
    assert_int_equal(sc__cpu_ref_compute(y), SC_OK);
    assert_close(tt_getf(y, 0, 0, 0, 0), 0.7310585786, 1e-7);
    assert_close(tt_getf(y, 0, 1, 0, 0), -0.2689414214, 1e-7);
    y->op = SC_OP_SWIGLU;
    y->src[1] = x; /* silu(x) * x */
    assert_int_equal(sc__cpu_ref_compute(y), SC_OK);
    assert_close(tt_getf(y, 1, 0, 0, 0), 2 * 1.7615941560, 1e-6);
    y->op = SC_OP_SCALE;
    y->src[1] = NULL;
    tt_set_f32_param(y, 0, -0.5f);
    assert_int_equal(sc__cpu_ref_compute(y), SC_OK);
    assert_close(tt_getf(y, 3, 0, 0, 0), -2.0, 0.0);
    sc_tensor *b3 = tt_new(&a, SC_TYPE_F32, 3, 1, 1, 1); /* 3 does not divide 4 */
    y->op = SC_OP_ADD;
    y->src[1] = b3;
    assert_int_equal(sc__cpu_ref_compute(y), SC_EINVAL);
    tt_free(&a);
}

static void test_dispatch_edges(void **state) {
    (void)state;
    tt_arena a = {0};
    sc_tensor *x = tt_new(&a, SC_TYPE_F32, 4, 1, 1, 1);
    x->op = SC_OP_VIEW;
    assert_int_equal(sc__cpu_ref_compute(x), SC_OK);
    assert_true(sc__cpu_supports(x));
    x->op = SC_OP_NONE;
    assert_int_equal(sc__cpu_ref_compute(x), SC_OK);
    x->op = SC_OP_COUNT + 3; /* an op from a newer core */
    assert_int_equal(sc__cpu_ref_compute(x), SC_ENOTSUP);
    assert_false(sc__cpu_supports(x));
    assert_int_equal(sc__cpu_ref_compute(NULL), SC_EINVAL);
    sc_tensor *y = tt_op(&a, SC_OP_SILU, SC_TYPE_F32, 4, 1, 1, 1, x, NULL, NULL);
    x->op = SC_OP_NONE;
    assert_true(sc__cpu_supports(y));
    y->data = NULL; /* unallocated: supported, but cannot run */
    assert_true(sc__cpu_supports(y));
    assert_int_equal(sc__cpu_ref_compute(y), SC_EINVAL);
    assert_int_equal(sc__cpu_fast_compute(y), SC_EINVAL);
    y->src[0] = NULL;
    assert_false(sc__cpu_supports(y));
    tt_free(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rms_norm),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_rope_partial),
        cmocka_unit_test(test_top_k_and_argmax),
        cmocka_unit_test(test_kv_write),
        cmocka_unit_test(test_attention_gqa_paged),
        cmocka_unit_test(test_mul_mat),
        cmocka_unit_test(test_mul_mat_id),
        cmocka_unit_test(test_get_rows_qg),
        cmocka_unit_test(test_cpy_f32_f16_f32),
        cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_dispatch_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * tests/unit/test_model_next.c - a Qwen3-Next model's sequences (synthetic
 * "tiny-next": 3 Gated DeltaNet layers and 1 full-attention layer) on the
 * CPU: the recurrent state per sequence slot beside the paged KV cache.
 *  - continuing a sequence (prefill A, then B; then single tokens) gives the
 *    logits of one prefill of A+B, for every split point;
 *  - a sequence restarted at position 0 forgets its old state;
 *  - two sequences in one batch equal each alone, and one sequence's steps
 *    leave the other's state alone;
 *  - a batch whose sequences interleave is refused (SC_EINVAL) and changes
 *    nothing; prefix caching attaches nothing (the state is not in blocks).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "strixcore/model.h"
#include "strixcore/model_synth.h"

#define N 23

static const int32_t toks[N] = {1, 17, 42, 300, 5, 99, 511, 7, 8, 250, 3, 64, 65, 200, 201, 9, 10, 11, 400, 12, 13, 14, 15};

static sc_model_t *load(int max_seqs) {
    sc_model_opts o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.seed = 11;
    o.max_model_len = 64;
    o.max_seqs = max_seqs;
    sc_model_t *m = NULL;
    char err[256];
    int rc = sc_model_synthetic("tiny-next", &o, &m, err, sizeof err);
    if (rc != SC_OK) fprintf(stderr, "tiny-next: %s\n", err);
    assert_int_equal(rc, SC_OK);
    return m;
}

static double max_diff(const float *a, const float *b, size_t n) {
    double e = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= e)) e = isnan(d) ? INFINITY : d;
    }
    return e;
}

#define TOL 1e-4 /* logits ~1; only summation order may differ */

static void test_split_prefill(void **state) {
    (void)state;
    sc_model_t *m = load(1);
    const size_t V = (size_t)sc_model_config_of(m)->vocab_size;
    float *ref = malloc(N * V * sizeof(float)), *got = malloc(N * V * sizeof(float));
    assert_int_equal(sc_model_forward(m, 0, toks, N, ref, true), SC_OK);
    for (int s = 1; s < N; s += 3) {
        assert_int_equal(sc_model_seq_reset(m, 0), SC_OK);
        assert_int_equal(sc_model_forward(m, 0, toks, s, got, true), SC_OK);
        assert_int_equal(sc_model_forward(m, 0, toks + s, N - s, got + (size_t)s * V, true), SC_OK);
        const double e = max_diff(got, ref, N * V);
        if (e > TOL) fprintf(stderr, "split at %d: max diff %g\n", s, e);
        assert_true(e <= TOL);
    }
    /* three chunks, then the last tokens one at a time (decode steps) */
    assert_int_equal(sc_model_seq_reset(m, 0), SC_OK);
    assert_int_equal(sc_model_forward(m, 0, toks, 5, got, true), SC_OK);
    assert_int_equal(sc_model_forward(m, 0, toks + 5, 2, got + 5 * V, true), SC_OK);
    assert_int_equal(sc_model_forward(m, 0, toks + 7, 9, got + 7 * V, true), SC_OK);
    for (int t = 16; t < N; t++) assert_int_equal(sc_model_forward(m, 0, toks + t, 1, got + (size_t)t * V, false), SC_OK);
    assert_true(max_diff(got, ref, N * V) <= TOL);
    /* prefix caching attaches nothing: the recurrent state is not in blocks */
    assert_int_equal(sc_model_seq_reset(m, 0), SC_OK);
    assert_int_equal(sc_model_seq_attach_prefix(m, 0, toks, N), 0);
    free(ref);
    free(got);
    sc_model_free(m);
}

static void test_batch_and_restart(void **state) {
    (void)state;
    sc_model_t *m = load(3);
    const size_t V = (size_t)sc_model_config_of(m)->vocab_size;
    float *ref = malloc(N * V * sizeof(float)), *got = malloc(2 * N * V * sizeof(float));
    assert_int_equal(sc_model_forward(m, 0, toks, N, ref, true), SC_OK);

    /* restart: the same slot at position 0 with other tokens first */
    assert_int_equal(sc_model_seq_reset(m, 1), SC_OK);
    const int32_t junk[4] = {500, 501, 502, 503};
    assert_int_equal(sc_model_forward(m, 1, junk, 4, got, false), SC_OK);
    assert_int_equal(sc_model_seq_reset(m, 1), SC_OK);
    assert_int_equal(sc_model_forward(m, 1, toks, N, got, true), SC_OK);
    assert_true(max_diff(got, ref, N * V) <= TOL);

    /* sequences 1 (whole prompt) and 2 (first 9 tokens) in one call */
    int32_t bt[N + 9], bs[N + 9];
    uint8_t bl[N + 9];
    for (int i = 0; i < N; i++) { bt[i] = toks[i]; bs[i] = 1; bl[i] = 1; }
    for (int i = 0; i < 9; i++) { bt[N + i] = toks[i]; bs[N + i] = 2; bl[N + i] = 1; }
    assert_int_equal(sc_model_seq_reset(m, 1), SC_OK);
    sc_model_batch b = {.n_tokens = N + 9, .tokens = bt, .seq = bs, .logits = bl};
    assert_int_equal(sc_model_forward_batch(m, &b, got), SC_OK);
    assert_true(max_diff(got, ref, N * V) <= TOL);
    assert_true(max_diff(got + N * V, ref, 9 * V) <= TOL);

    /* decode: slot 2 continues with token 9 while slot 0 (full) decodes too;
     * slot 2's logits must equal the prompt's row 9 */
    int32_t dt[2] = {toks[9], 7}, ds[2] = {2, 0};
    sc_model_batch d = {.n_tokens = 2, .tokens = dt, .seq = ds, .logits = NULL};
    assert_int_equal(sc_model_forward_batch(m, &d, got), SC_OK);
    assert_true(max_diff(got, ref + 9 * V, V) <= TOL);

    /* interleaved sequences: refused, nothing changes */
    const int64_t len2 = sc_model_seq_len(m, 2);
    int32_t it[3] = {toks[10], 4, toks[11]}, is[3] = {2, 0, 2};
    sc_model_batch bad = {.n_tokens = 3, .tokens = it, .seq = is, .logits = NULL};
    assert_int_equal(sc_model_forward_batch(m, &bad, got), SC_EINVAL);
    assert_int_equal(sc_model_seq_len(m, 2), len2);
    assert_int_equal(sc_model_forward(m, 2, toks + 10, 1, got, false), SC_OK);
    assert_true(max_diff(got, ref + 10 * V, V) <= TOL);
    free(ref);
    free(got);
    sc_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_prefill),
        cmocka_unit_test(test_batch_and_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

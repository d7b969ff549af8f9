/*
 * tests/unit/test_model_synth.c - synthetic models with quantized weights
 * (sc_model_synthetic_quant): each weights kind builds "tiny" (and
 * "tiny-moe": QG experts through mul_mat_id; "tiny-next": Qwen3-Next's
 * Gated DeltaNet layers with QG in_proj_qkvz / out_proj), runs a prefill and decode
 * steps with finite, non-constant logits, and a prefill (GEMM path, M > 1)
 * agrees with token-by-token decode (GEMV path, M = 1) of the same tokens.
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

#define NTOK 7

static void run_kind(const char *name, const char *weights) {
    sc_model_opts o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.seed = 7;
    o.max_model_len = 64;
    sc_model_t *m = NULL;
    char err[256];
    int rc = sc_model_synthetic_quant(name, weights, &o, &m, err, sizeof err);
    if (rc != SC_OK) fprintf(stderr, "%s %s: %s\n", name, weights ? weights : "dense", err);
    assert_int_equal(rc, SC_OK);
    assert_non_null(m);
    const int64_t V = sc_model_config_of(m)->vocab_size;
    /* quantized Linear layers: fewer bytes than the dense bf16 model */
    assert_true(sc_model_weight_bytes(m) > 0);
    assert_true(sc_model_decode_bytes(m, 1) > 0);

    const int32_t toks[NTOK] = {1, 17, 42, 300, 5, 99, 511};
    float *all = malloc((size_t)(NTOK * V) * sizeof(float));
    float *one = malloc((size_t)V * sizeof(float));
    assert_non_null(all);
    assert_non_null(one);
    assert_int_equal(sc_model_forward(m, 0, toks, NTOK, all, true), SC_OK);
    double mean = 0.0, var = 0.0;
    for (int64_t i = 0; i < NTOK * V; i++) {
        assert_true(isfinite(all[i]));
        mean += all[i];
    }
    mean /= (double)(NTOK * V);
    for (int64_t i = 0; i < NTOK * V; i++) var += (all[i] - mean) * (all[i] - mean);
    var /= (double)(NTOK * V);
    assert_true(var > 1e-4); /* not constant */

    /* the same tokens one at a time on a second sequence: M = 1 kernels */
    assert_int_equal(sc_model_seq_reset(m, 0), SC_OK);
    double max_err = 0.0, max_abs = 0.0;
    for (int t = 0; t < NTOK; t++) {
        assert_int_equal(sc_model_forward(m, 0, &toks[t], 1, one, false), SC_OK);
        for (int64_t v = 0; v < V; v++) {
            const double e = fabs((double)one[v] - (double)all[(int64_t)t * V + v]);
            if (e > max_err) max_err = e;
            if (fabs(one[v]) > max_abs) max_abs = fabs(one[v]);
        }
    }
    /* each token's activations are quantized the same way in both paths:
     * only summation order differs */
    if (max_err > 1e-3 * (1.0 + max_abs)) fprintf(stderr, "%s %s: prefill vs decode max err %g (max |logit| %g)\n",
                                                  name, weights ? weights : "dense", max_err, max_abs);
    assert_true(max_err <= 1e-3 * (1.0 + max_abs));
    free(all);
    free(one);
    sc_model_free(m);
}

static void test_gptq_int4(void **state) { (void)state; run_kind("tiny", "gptq-int4"); }
static void test_gptq_int8(void **state) { (void)state; run_kind("tiny", "gptq-int8"); }
static void test_awq_int4(void **state) { (void)state; run_kind("tiny", "awq-int4"); }
static void test_ct_w4a16(void **state) { (void)state; run_kind("tiny", "ct-w4a16"); }
static void test_moe_int4(void **state) { (void)state; run_kind("tiny-moe", "gptq-int4"); }
static void test_moe_int8(void **state) { (void)state; run_kind("tiny-moe", "gptq-int8"); }
static void test_dense(void **state) { (void)state; run_kind("tiny", NULL); }
static void test_next_dense(void **state) { (void)state; run_kind("tiny-next", NULL); }
static void test_next_ct_w4a16(void **state) { (void)state; run_kind("tiny-next", "ct-w4a16"); }
static void test_next_gptq_awq(void **state) {
    (void)state;
    run_kind("tiny-next", "gptq-int4");
    run_kind("tiny-next", "gptq-int8");
    run_kind("tiny-next", "awq-int4");
}

static void test_bad_weights(void **state) {
    (void)state;
    sc_model_t *m = (sc_model_t *)(uintptr_t)1;
    char err[256];
    assert_int_equal(sc_model_synthetic_quant("tiny", "gptq-int3", NULL, &m, err, sizeof err), SC_EINVAL);
    assert_null(m);
    assert_non_null(strstr(err, "gptq-int3"));
    assert_int_equal(sc_model_synthetic_quant("nope", "gptq-int4", NULL, &m, err, sizeof err), SC_ENOENT);
    assert_int_equal(sc_model_synthetic_quant("tiny", "gptq-int4", NULL, NULL, err, sizeof err), SC_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gptq_int4), cmocka_unit_test(test_gptq_int8), cmocka_unit_test(test_awq_int4),
        cmocka_unit_test(test_ct_w4a16),  cmocka_unit_test(test_moe_int4),  cmocka_unit_test(test_moe_int8),
        cmocka_unit_test(test_dense),     cmocka_unit_test(test_bad_weights), cmocka_unit_test(test_next_dense),
        cmocka_unit_test(test_next_ct_w4a16), cmocka_unit_test(test_next_gptq_awq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * tests/unit/test_sampler.c - the sampler (greedy, seeds, top-k, top-p,
 * min-p, penalties) and the stop-string matcher.
 *
 * Distributions are checked empirically: many draws with a fixed seed over a
 * small vocabulary, frequencies against the renormalised probabilities of the
 * set that HF's definitions keep. A naive full-sort reference checks the fast
 * selection paths on a 152k vocabulary.
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

#include "strixcore/sampler.h"

static sc_sampler_params params(float temp, int top_k, float top_p, float min_p, uint64_t seed) {
    sc_sampler_params p;
    sc_sampler_params_default(&p);
    p.temperature = temp;
    p.top_k = top_k;
    p.top_p = top_p;
    p.min_p = min_p;
    p.seed = seed;
    return p;
}

static int32_t sample_once(sc_sampler_t *s, const float *logits, int n) {
    float buf[64];
    int32_t id = -1;
    assert_true(n <= 64);
    memcpy(buf, logits, (size_t)n * sizeof(float));
    assert_int_equal(sc_sampler_sample(s, buf, &id), SC_OK);
    assert_true(id >= 0 && id < n);
    return id;
}

/* Frequencies of `draws` samples; expected[i] the probability of token i. */
static void check_freqs(const sc_sampler_params *p, const float *logits, int n, const double *expected) {
    enum { DRAWS = 40000 };
    int counts[64] = {0};
    sc_sampler_t *s = sc_sampler_create(p, n);
    assert_non_null(s);
    for (int i = 0; i < DRAWS; i++)
        counts[sample_once(s, logits, n)]++;
    for (int i = 0; i < n; i++) {
        double f = (double)counts[i] / DRAWS;
        if (expected[i] == 0.0 && counts[i] != 0)
            fail_msg("token %d drawn %d times but should be filtered out", i, counts[i]);
        if (fabs(f - expected[i]) > 0.015)
            fail_msg("token %d: frequency %.4f, expected %.4f", i, f, expected[i]);
    }
    sc_sampler_free(s);
}

/* logits whose softmax is the given probabilities */
static void logits_of(const double *probs, int n, float *logits) {
    for (int i = 0; i < n; i++)
        logits[i] = probs[i] > 0 ? (float)log(probs[i]) : -INFINITY;
}

static void test_greedy_is_argmax(void **state) {
    const float l[6] = {0.5f, 3.0f, -1.0f, 3.0f, NAN, 2.9f};
    sc_sampler_params p = params(0.0f, 0, 1.0f, 0.0f, 1);
    sc_sampler_t *s = sc_sampler_create(&p, 6);
    for (int i = 0; i < 10; i++)
        assert_int_equal(sample_once(s, l, 6), 1); /* tie with 3 goes to the lower id, NaN never wins */
    sc_sampler_free(s);
}

static void test_all_masked_is_error(void **state) {
    float l[3] = {-INFINITY, -INFINITY, NAN};
    int32_t id;
    sc_sampler_params p = params(1.0f, 0, 1.0f, 0.0f, 1);
    sc_sampler_t *s = sc_sampler_create(&p, 3);
    assert_int_equal(sc_sampler_sample(s, l, &id), SC_EINVAL);
    sc_sampler_free(s);
    p.temperature = 0.0f;
    s = sc_sampler_create(&p, 3);
    l[0] = l[1] = -INFINITY;
    assert_int_equal(sc_sampler_sample(s, l, &id), SC_EINVAL);
    sc_sampler_free(s);
}

static void test_seed_reproducible(void **state) {
    float l[32];
    int32_t a[200], b[200], c[200];
    sc_sampler_params p = params(1.0f, 0, 1.0f, 0.0f, 1234);
    sc_sampler_t *s1 = sc_sampler_create(&p, 32), *s2 = sc_sampler_create(&p, 32), *s3;
    p.seed = 1235;
    s3 = sc_sampler_create(&p, 32);
    for (int i = 0; i < 32; i++)
        l[i] = (float)((i * 7) % 11) * 0.1f; /* flat enough that draws vary */
    for (int i = 0; i < 200; i++) {
        a[i] = sample_once(s1, l, 32);
        b[i] = sample_once(s2, l, 32);
        c[i] = sample_once(s3, l, 32);
    }
    assert_memory_equal(a, b, sizeof(a));
    assert_memory_not_equal(a, c, sizeof(a));
    /* reset restarts the stream */
    sc_sampler_reset(s1);
    for (int i = 0; i < 200; i++)
        b[i] = sample_once(s1, l, 32);
    assert_memory_equal(a, b, sizeof(a));
    sc_sampler_free(s1);
    sc_sampler_free(s2);
    sc_sampler_free(s3);
}

static void test_top_k_1_is_greedy(void **state) {
    float l[16];
    sc_sampler_params g = params(0.0f, 0, 1.0f, 0.0f, 9), k1 = params(1.5f, 1, 0.9f, 0.0f, 9);
    sc_sampler_t *sg = sc_sampler_create(&g, 16), *sk = sc_sampler_create(&k1, 16);
    for (int t = 0; t < 50; t++) {
        for (int i = 0; i < 16; i++)
            l[i] = (float)(((t + 3) * (i + 5) * 2654435761u) % 1000) / 100.0f;
        assert_int_equal(sample_once(sg, l, 16), sample_once(sk, l, 16));
    }
    sc_sampler_free(sg);
    sc_sampler_free(sk);
}

static void test_temperature(void **state) {
    const double probs[4] = {0.4, 0.3, 0.2, 0.1};
    double expect[4], z = 0;
    float l[4];
    sc_sampler_params p = params(2.0f, 0, 1.0f, 0.0f, 7);
    logits_of(probs, 4, l);
    for (int i = 0; i < 4; i++)
        z += expect[i] = sqrt(probs[i]); /* softmax(l / 2) = p^(1/2) renormalised */
    for (int i = 0; i < 4; i++)
        expect[i] /= z;
    check_freqs(&p, l, 4, expect);
}

static void test_top_k_set(void **state) {
    const double probs[6] = {0.1, 0.3, 0.05, 0.25, 0.2, 0.1};
    const double expect[6] = {0, 0.3 / 0.75, 0, 0.25 / 0.75, 0.2 / 0.75, 0};
    /* ties at the k-th value are kept, as HF's `scores < topk[-1]` does */
    const double tie_probs[5] = {0.4, 0.2, 0.2, 0.1, 0.1};
    const double tie_expect[5] = {0.5, 0.25, 0.25, 0, 0};
    float l[6];
    sc_sampler_params p = params(1.0f, 3, 1.0f, 0.0f, 11);
    logits_of(probs, 6, l);
    check_freqs(&p, l, 6, expect);
    p.top_k = 2;
    logits_of(tie_probs, 5, l);
    check_freqs(&p, l, 5, tie_expect);
}

static void test_top_p_set(void **state) {
    const double probs[5] = {0.05, 0.5, 0.15, 0.3, 0.0};
    /* p = 0.75: token 1 (mass before 0), token 3 (0.5 < 0.75); token 2 has 0.8 before it */
    const double e75[5] = {0, 0.5 / 0.8, 0, 0.3 / 0.8, 0};
    /* p = 0.85: token 2 joins (0.8 < 0.85) */
    const double e85[5] = {0, 0.5 / 0.95, 0.15 / 0.95, 0.3 / 0.95, 0};
    /* p small: only the best token */
    const double e01[5] = {0, 1, 0, 0, 0};
    float l[5];
    sc_sampler_params p = params(1.0f, 0, 0.75f, 0.0f, 5);
    logits_of(probs, 5, l);
    check_freqs(&p, l, 5, e75);
    p.top_p = 0.85f;
    check_freqs(&p, l, 5, e85);
    p.top_p = 0.01f;
    check_freqs(&p, l, 5, e01);
}

static void test_min_p_set(void **state) {
    const double probs[5] = {0.05, 0.5, 0.15, 0.3, 0.0};
    /* min_p 0.2: threshold 0.1 -> tokens 1, 2, 3 */
    const double e[5] = {0, 0.5 / 0.95, 0.15 / 0.95, 0.3 / 0.95, 0};
    /* min_p 0.5: threshold 0.25 -> tokens 1, 3 */
    const double e2[5] = {0, 0.5 / 0.8, 0, 0.3 / 0.8, 0};
    float l[5];
    sc_sampler_params p = params(1.0f, 0, 1.0f, 0.2f, 3);
    logits_of(probs, 5, l);
    check_freqs(&p, l, 5, e);
    p.min_p = 0.5f;
    check_freqs(&p, l, 5, e2);
}

static void test_penalties_exact(void **state) {
    const int32_t prompt[3] = {0, 1, 99 /* outside the vocabulary: ignored */};
    float l[6] = {2.0f, -2.0f, 3.0f, 1.0f, -1.0f, 0.0f};
    sc_sampler_params p = params(1.0f, 0, 1.0f, 0.0f, 0);
    sc_sampler_t *s;
    p.repetition_penalty = 1.5f;
    p.presence_penalty = 0.5f;
    p.frequency_penalty = 0.25f;
    s = sc_sampler_create(&p, 6);
    assert_int_equal(sc_sampler_add_prompt(s, prompt, 3), SC_OK);
    assert_int_equal(sc_sampler_accept(s, 1), SC_OK);
    assert_int_equal(sc_sampler_accept(s, 2), SC_OK);
    assert_int_equal(sc_sampler_accept(s, 2), SC_OK);
    assert_int_equal(sc_sampler_accept(s, 5), SC_OK);
    assert_int_equal(sc_sampler_accept(s, 6), SC_EINVAL);
    sc_sampler_apply_penalties(s, l);
    assert_true(l[0] == 2.0f / 1.5f);                             /* prompt only: repetition */
    assert_true(l[1] == -2.0f * 1.5f - (0.25f * 1 + 0.5f));       /* prompt + once in the output */
    assert_true(l[2] == 3.0f / 1.5f - (0.25f * 2 + 0.5f));        /* twice in the output */
    assert_true(l[3] == 1.0f);                                    /* never seen */
    assert_true(l[4] == -1.0f);
    assert_true(l[5] == 0.0f - (0.25f + 0.5f));                   /* 0 is neither / nor * */
    /* after reset nothing is penalised */
    sc_sampler_reset(s);
    l[0] = 2.0f;
    sc_sampler_apply_penalties(s, l);
    assert_true(l[0] == 2.0f);
    sc_sampler_free(s);
}

static void test_penalty_changes_greedy(void **state) {
    float l[3] = {1.0f, 0.9f, 0.0f};
    int32_t id;
    sc_sampler_params p = params(0.0f, 0, 1.0f, 0.0f, 0);
    sc_sampler_t *s;
    p.frequency_penalty = 0.2f;
    s = sc_sampler_create(&p, 3);
    sc_sampler_accept(s, 0);
    assert_int_equal(sc_sampler_sample(s, l, &id), SC_OK);
    assert_int_equal(id, 1);
    sc_sampler_free(s);
}

static void test_params_check(void **state) {
    sc_sampler_params p;
    char err[128];
    sc_generation_config gen = {.do_sample = true, .temperature = 0.6f, .top_k = 20, .top_p = 0.95f,
                                .repetition_penalty = 1.0f};
    sc_sampler_params_default(&p);
    assert_int_equal(sc_sampler_params_check(&p, err, sizeof(err)), SC_OK);
    p.top_p = 0.0f;
    assert_int_equal(sc_sampler_params_check(&p, err, sizeof(err)), SC_EINVAL);
    assert_non_null(strstr(err, "top_p"));
    assert_null(sc_sampler_create(&p, 10));
    sc_sampler_params_default(&p);
    p.temperature = -1.0f;
    assert_int_equal(sc_sampler_params_check(&p, err, sizeof(err)), SC_EINVAL);
    sc_sampler_params_from_gen(&p, &gen);
    assert_true(p.temperature == 0.6f && p.top_k == 20 && p.top_p == 0.95f);
    gen.do_sample = false;
    sc_sampler_params_from_gen(&p, &gen);
    assert_true(p.temperature == 0.0f);
}

/* The fast paths (quickselect, chunked top-p sort) against a full sort on a
 * Qwen-sized vocabulary: every draw must fall in the reference's kept set. */
static int ref_cmp(const void *x, const void *y) {
    const float *a = *(const float *const *)x, *b = *(const float *const *)y;
    return *a > *b ? -1 : *a < *b ? 1 : (a < b ? -1 : a > b);
}

static void test_large_vocab_against_reference(void **state) {
    enum { V = 151936 };
    float *l = malloc(V * sizeof(float)), *work = malloc(V * sizeof(float));
    const float **order = malloc(V * sizeof(*order));
    unsigned char *kept = malloc(V);
    const struct { int k; float p, minp; } cases[] = {{20, 0.95f, 0.0f}, {0, 0.9f, 0.0f}, {0, 0.999f, 0.0f},
                                                     {50, 1.0f, 0.05f}, {0, 1.0f, 0.3f}, {40, 0.5f, 0.1f},
                                                     {2000, 0.95f, 0.0f}, {3000, 1.0f, 0.0f}};
    uint64_t x = 42;
    assert_non_null(l);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        sc_sampler_params p = params(0.8f, cases[c].k, cases[c].p, cases[c].minp, c);
        sc_sampler_t *s = sc_sampler_create(&p, V);
        for (int round = 0; round < 4; round++) {
            int n = V;
            double z = 0, cum = 0;
            float mx;
            int32_t id;
            for (int i = 0; i < V; i++) {
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                /* a peaked head and a long flat tail, like real logits */
                work[i] = (float)((x >> 40) % 10000) / 1000.0f + (i % 997 == 0 ? 8.0f : 0.0f);
                l[i] = work[i] / 0.8f; /* what the sampler's temperature step computes */
                order[i] = &l[i];
            }
            qsort(order, V, sizeof(*order), ref_cmp);
            if (cases[c].k > 0)
                while (n > cases[c].k && *order[n - 1] < *order[cases[c].k - 1])
                    n--;
            mx = *order[0];
            for (int i = 0; i < n; i++)
                z += exp((double)(*order[i] - mx));
            if (cases[c].p < 1.0f) {
                int i;
                for (i = 0; i < n; i++) {
                    if (i > 0 && cum >= cases[c].p * z)
                        break;
                    cum += exp((double)(*order[i] - mx));
                }
                n = i;
            }
            memset(kept, 0, V);
            for (int i = 0; i < n; i++)
                if (exp((double)(*order[i] - mx)) >= cases[c].minp)
                    kept[order[i] - l] = 1;
            assert_int_equal(sc_sampler_sample(s, work, &id), SC_OK);
            if (!kept[id])
                fail_msg("case %zu: token %d (logit %f) is outside the kept set", c, id, l[id]);
        }
        sc_sampler_free(s);
    }
    free(l);
    free(work);
    free(order);
    free(kept);
}

/* ------------------------------------------------------------------------ */
/* stop strings                                                              */
/* ------------------------------------------------------------------------ */
/* Feed pieces, collect the output; returns the feed result of the last piece. */
static int feed_all(sc_stop_t *st, const char *const *pieces, int n, char *acc, size_t cap) {
    int r = 0;
    acc[0] = '\0';
    for (int i = 0; i < n && r == 0; i++) {
        const char *o;
        size_t ol;
        r = sc_stop_feed(st, pieces[i], strlen(pieces[i]), &o, &ol);
        assert_true(r >= 0);
        assert_true(strlen(acc) + ol < cap);
        strncat(acc, o, ol);
    }
    if (r == 0) {
        const char *o;
        size_t ol;
        sc_stop_flush(st, &o, &ol);
        strncat(acc, o, ol);
    }
    return r;
}

static void test_stop_holds_back_partial(void **state) {
    const char *stops[] = {"</s>"};
    sc_stop_t *st = sc_stop_create(stops, 1, false);
    const char *o;
    size_t ol;
    assert_int_equal(sc_stop_feed(st, "Hello <", 7, &o, &ol), 0);
    assert_int_equal(ol, 6); /* "<" could start "</s>" */
    assert_memory_equal(o, "Hello ", 6);
    assert_int_equal(sc_stop_feed(st, "/", 1, &o, &ol), 0);
    assert_int_equal(ol, 0);
    assert_int_equal(sc_stop_feed(st, "x", 1, &o, &ol), 0); /* "</x" is no stop string: released */
    assert_string_equal(o, "</x");
    assert_int_equal(sc_stop_matched(st), -1);
    assert_int_equal(sc_stop_max_len(st), 4);
    sc_stop_free(st);
}

static void test_stop_split_across_tokens(void **state) {
    const char *stops[] = {"<|im_end|>"};
    const char *pieces[] = {"The answer", " is 4.<", "|im", "_", "end|", ">\nmore"};
    char acc[128];
    sc_stop_t *st = sc_stop_create(stops, 1, false);
    assert_int_equal(feed_all(st, pieces, 6, acc, sizeof(acc)), 1);
    assert_string_equal(acc, "The answer is 4.");
    assert_int_equal(sc_stop_matched(st), 0);
    /* later text is swallowed */
    {
        const char *o;
        size_t ol;
        assert_int_equal(sc_stop_feed(st, "x", 1, &o, &ol), 1);
        assert_int_equal(ol, 0);
    }
    /* include_stop keeps the stop string */
    sc_stop_free(st);
    st = sc_stop_create(stops, 1, true);
    feed_all(st, pieces, 6, acc, sizeof(acc));
    assert_string_equal(acc, "The answer is 4.<|im_end|>");
    sc_stop_free(st);
}

static void test_stop_multiple(void **state) {
    const char *stops[] = {"", "STOP", "END", "xyzzy"};
    const char *p1[] = {"abc EN", "D def STOP"};
    const char *p2[] = {"a xyz", "STO", "P b"};
    const char *p3[] = {"no stop here, just S", "TO"};
    const char *p4[] = {"both ENDSTOP"}; /* same piece: the first to start wins */
    char acc[128];
    sc_stop_t *st = sc_stop_create(stops, 4, false);
    assert_int_equal(feed_all(st, p1, 2, acc, sizeof(acc)), 1);
    assert_string_equal(acc, "abc ");
    assert_int_equal(sc_stop_matched(st), 2);
    sc_stop_reset(st);
    assert_int_equal(feed_all(st, p2, 3, acc, sizeof(acc)), 1);
    assert_string_equal(acc, "a xyz"); /* "xyz" was held (could be xyzzy), then released */
    assert_int_equal(sc_stop_matched(st), 1);
    sc_stop_reset(st);
    assert_int_equal(feed_all(st, p3, 2, acc, sizeof(acc)), 0);
    assert_string_equal(acc, "no stop here, just STO"); /* flush releases the held "STO" */
    assert_int_equal(sc_stop_matched(st), -1);
    sc_stop_reset(st);
    assert_int_equal(feed_all(st, p4, 1, acc, sizeof(acc)), 1);
    assert_string_equal(acc, "both ");
    assert_int_equal(sc_stop_matched(st), 2);
    sc_stop_free(st);
}

static void test_stop_utf8(void **state) {
    const char *stops[] = {"世界"};
    sc_stop_t *st = sc_stop_create(stops, 1, false);
    const char *o;
    size_t ol;
    /* "你好世" : "世" could start the stop string */
    assert_int_equal(sc_stop_feed(st, "你好世", strlen("你好世"), &o, &ol), 0);
    assert_int_equal(ol, strlen("你好"));
    /* bytes of "界" arriving one by one: nothing half-made is output */
    assert_int_equal(sc_stop_feed(st, "\xe7", 1, &o, &ol), 0);
    assert_int_equal(ol, 0);
    assert_int_equal(sc_stop_feed(st, "\x95", 1, &o, &ol), 0);
    assert_int_equal(ol, 0);
    assert_int_equal(sc_stop_feed(st, "\x8c", 1, &o, &ol), 1);
    assert_int_equal(ol, 0);
    sc_stop_free(st);

    /* no stop strings at all: a character split over pieces is still held */
    st = sc_stop_create(NULL, 0, false);
    assert_int_equal(sc_stop_feed(st, "a\xc3", 2, &o, &ol), 0);
    assert_int_equal(ol, 1);
    assert_int_equal(sc_stop_feed(st, "\xa9", 1, &o, &ol), 0);
    assert_int_equal(ol, 2);
    assert_memory_equal(o, "\xc3\xa9", 2);
    /* "世" (e4 b8 96) split 1 + 2 */
    assert_int_equal(sc_stop_feed(st, "x\xe4", 2, &o, &ol), 0);
    assert_int_equal(ol, 1);
    assert_int_equal(sc_stop_feed(st, "\xb8\x96!", 3, &o, &ol), 0);
    assert_int_equal(ol, 4);
    sc_stop_free(st);

    /* a stop string that shares a lead byte with the text: "é" vs "è" */
    {
        const char *s2[] = {"\xc3\xa9"};
        const char *pieces[] = {"caf\xc3\xa8", " caf", "\xc3\xa9 au lait"};
        char acc[64];
        st = sc_stop_create(s2, 1, false);
        assert_int_equal(feed_all(st, pieces, 3, acc, sizeof(acc)), 1);
        assert_string_equal(acc, "caf\xc3\xa8 caf");
        sc_stop_free(st);
    }
}

static void test_stop_flush_without_feed(void **state) {
    const char *o = NULL;
    size_t ol = 1;
    sc_stop_t *st = sc_stop_create(NULL, 0, false);
    assert_int_equal(sc_stop_flush(st, &o, &ol), 0);
    assert_int_equal(ol, 0);
    assert_string_equal(o, "");
    sc_stop_free(st);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_is_argmax),
        cmocka_unit_test(test_all_masked_is_error),
        cmocka_unit_test(test_seed_reproducible),
        cmocka_unit_test(test_top_k_1_is_greedy),
        cmocka_unit_test(test_temperature),
        cmocka_unit_test(test_top_k_set),
        cmocka_unit_test(test_top_p_set),
        cmocka_unit_test(test_min_p_set),
        cmocka_unit_test(test_penalties_exact),
        cmocka_unit_test(test_penalty_changes_greedy),
        cmocka_unit_test(test_params_check),
        cmocka_unit_test(test_large_vocab_against_reference),
        cmocka_unit_test(test_stop_holds_back_partial),
        cmocka_unit_test(test_stop_split_across_tokens),
        cmocka_unit_test(test_stop_multiple),
        cmocka_unit_test(test_stop_utf8),
        cmocka_unit_test(test_stop_flush_without_feed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

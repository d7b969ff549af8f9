/*
 * tests/cli/test_generate.c - the generation loop on a tiny checkpoint
 * against Hugging Face: greedy decoding must reproduce the continuation that
 * transformers generated (reference.json "greedy"), with and without a
 * reused cache prefix; finish reasons and counts are checked on the way.
 *
 *   test_generate FIXTURE_DIR [TOKENIZER_JSON]
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "strixcore/generate.h"

static const char *g_dir, *g_tok;
static int32_t g_prompt[256], g_greedy[256];
static size_t g_n_prompt, g_n_greedy;

typedef struct collect {
    int32_t ids[512];
    size_t n;
    size_t abort_after; /* 0 = never */
    char text[4096];
    size_t text_len;
} collect;

static int on_token(int32_t id, void *user) {
    collect *c = user;
    if (c->n < 512)
        c->ids[c->n++] = id;
    return c->abort_after && c->n >= c->abort_after;
}

static int on_text(const char *text, size_t len, void *user) {
    collect *c = user;
    assert_true(c->text_len + len < sizeof(c->text));
    assert_int_equal(strlen(text), len); /* NUL-terminated pieces */
    memcpy(c->text + c->text_len, text, len);
    c->text_len += len;
    c->text[c->text_len] = '\0';
    return 0;
}

static int load_reference(void **state) {
    char path[1024];
    json_error_t je;
    json_t *root, *t, *g;
    snprintf(path, sizeof(path), "%s/reference.json", g_dir);
    root = json_load_file(path, 0, &je);
    if (!root)
        return -1;
    t = json_object_get(root, "tokens");
    g = json_object_get(root, "greedy");
    g_n_prompt = json_array_size(t);
    g_n_greedy = json_array_size(g);
    if (g_n_prompt == 0 || g_n_prompt > 256 || g_n_greedy == 0 || g_n_greedy > 256)
        return -1;
    for (size_t i = 0; i < g_n_prompt; i++)
        g_prompt[i] = (int32_t)json_integer_value(json_array_get(t, i));
    for (size_t i = 0; i < g_n_greedy; i++)
        g_greedy[i] = (int32_t)json_integer_value(json_array_get(g, i));
    json_decref(root);
    return 0;
}

static sc_model_t *load(void) {
    sc_model_t *m = NULL;
    sc_model_opts o;
    char err[512] = "";
    memset(&o, 0, sizeof(o));
    o.struct_size = sizeof(o);
    if (sc_model_load(g_dir, &o, &m, err, sizeof(err)) != SC_OK)
        fail_msg("load %s: %s", g_dir, err);
    return m;
}

static void test_greedy_matches_hf(void **state) {
    sc_model_t *m = load();
    sc_gen_params p;
    sc_gen_result r;
    collect c = {.n = 0};
    char err[256];
    sc_gen_params_default(&p);
    p.max_tokens = (int64_t)g_n_greedy;
    p.on_token = on_token;
    p.user = &c;
    assert_int_equal(sc_generate(m, NULL, g_prompt, g_n_prompt, &p, NULL, &r, err, sizeof(err)), SC_OK);
    assert_int_equal(r.finish, SC_FINISH_LENGTH);
    assert_int_equal(r.n_generated, (int64_t)g_n_greedy);
    assert_int_equal(r.n_prompt, (int64_t)g_n_prompt);
    assert_int_equal(c.n, g_n_greedy);
    assert_memory_equal(c.ids, g_greedy, g_n_greedy * sizeof(int32_t));
    assert_true(r.prefill_tps > 0 && r.decode_tps > 0);
    sc_model_free(m);
}

/* The first half of the prompt fills the cache; the full prompt then only
 * prefills the rest, and the continuation is unchanged. */
static void test_cache_prefix_reuse(void **state) {
    sc_model_t *m = load();
    sc_gen_params p;
    sc_gen_result r;
    sc_gen_cache cache = {0};
    collect c = {.n = 0};
    size_t half = g_n_prompt / 2;
    char err[256];
    sc_gen_params_default(&p);
    p.max_tokens = 1;
    assert_int_equal(sc_generate(m, NULL, g_prompt, half, &p, &cache, &r, err, sizeof(err)), SC_OK);
    assert_int_equal(r.n_cached, 0);
    assert_int_equal(cache.n, half); /* the sampled token was never forwarded */
    p.max_tokens = (int64_t)g_n_greedy;
    p.on_token = on_token;
    p.user = &c;
    assert_int_equal(sc_generate(m, NULL, g_prompt, g_n_prompt, &p, &cache, &r, err, sizeof(err)), SC_OK);
    assert_int_equal(r.n_cached, (int64_t)half);
    assert_memory_equal(c.ids, g_greedy, g_n_greedy * sizeof(int32_t));
    assert_int_equal(cache.n, g_n_prompt + g_n_greedy - 1);
    assert_int_equal(sc_model_seq_len(m, 0), (int64_t)cache.n);
    /* a prompt that ends inside the cached tokens: reset, same answer */
    c.n = 0;
    assert_int_equal(sc_generate(m, NULL, g_prompt, g_n_prompt, &p, &cache, &r, err, sizeof(err)), SC_OK);
    assert_int_equal(r.n_cached, 0);
    assert_memory_equal(c.ids, g_greedy, g_n_greedy * sizeof(int32_t));
    sc_gen_cache_free(&cache);
    sc_model_free(m);
}

static void test_finish_reasons(void **state) {
    sc_model_t *m = load();
    sc_gen_params p;
    sc_gen_result r;
    collect c = {.n = 0};
    int32_t eos = g_greedy[3];
    char err[256];
    size_t first = 0;
    sc_gen_params_default(&p);
    p.on_token = on_token;
    p.user = &c;
    /* eos: the first occurrence of greedy[3] ends it */
    while (g_greedy[first] != eos)
        first++;
    p.eos_ids = &eos;
    p.n_eos = 1;
    p.max_tokens = 100;
    assert_int_equal(sc_generate(m, NULL, g_prompt, g_n_prompt, &p, NULL, &r, err, sizeof(err)), SC_OK);
    assert_int_equal(r.finish, SC_FINISH_EOS);
    assert_int_equal(r.n_generated, (int64_t)first + 1);
    /* ignore_eos runs to max_tokens */
    p.ignore_eos = true;
    p.max_tokens = 6;
    assert_int_equal(sc_generate(m, NULL, g_prompt, g_n_prompt, &p, NULL, &r, err, sizeof(err)), SC_OK);
    assert_int_equal(r.finish, SC_FINISH_LENGTH);
    assert_int_equal(r.n_generated, 6);
    /* a callback stops it */
    c.n = 0;
    c.abort_after = 3;
    p.max_tokens = 0;
    assert_int_equal(sc_generate(m, NULL, g_prompt, g_n_prompt, &p, NULL, &r, err, sizeof(err)), SC_OK);
    assert_int_equal(r.finish, SC_FINISH_ABORT);
    assert_int_equal(r.n_generated, 3);
    /* no max_tokens: the context bounds it */
    c.abort_after = 0;
    assert_int_equal(sc_generate(m, NULL, g_prompt, g_n_prompt, &p, NULL, &r, err, sizeof(err)), SC_OK);
    assert_int_equal(r.finish, SC_FINISH_LENGTH);
    assert_int_equal(r.n_generated, sc_model_max_len(m) - (int64_t)g_n_prompt);
    sc_model_free(m);
}

static void test_bad_arguments_fire_no_callback(void **state) {
    sc_model_t *m = load();
    sc_gen_params p;
    sc_gen_result r;
    collect c = {.n = 0};
    int32_t bad = 1 << 20;
    char err[256] = "";
    int32_t *long_prompt = calloc((size_t)sc_model_max_len(m), sizeof(int32_t));
    sc_gen_params_default(&p);
    p.on_token = on_token;
    p.on_text = on_text;
    p.user = &c;
    assert_int_equal(sc_generate(m, NULL, g_prompt, 0, &p, NULL, &r, err, sizeof(err)), SC_EINVAL);
    assert_int_equal(sc_generate(m, NULL, &bad, 1, &p, NULL, &r, err, sizeof(err)), SC_EINVAL);
    assert_non_null(strstr(err, "vocabulary"));
    assert_int_equal(sc_generate(m, NULL, long_prompt, (size_t)sc_model_max_len(m), &p, NULL, &r, err, sizeof(err)),
                     SC_ERANGE);
    assert_non_null(strstr(err, "context"));
    p.sampling.top_p = 2.0f;
    assert_int_equal(sc_generate(m, NULL, g_prompt, g_n_prompt, &p, NULL, &r, err, sizeof(err)), SC_EINVAL);
    assert_int_equal(c.n, 0);
    free(long_prompt);
    sc_model_free(m);
}

/* With a tokenizer: text arrives, stop strings cut it, and it equals the
 * decoded tokens up to the cut. */
static void test_text_and_stop(void **state) {
    sc_model_t *m;
    sc_tokenizer_t *tok = NULL;
    sc_gen_params p;
    sc_gen_result r;
    collect c = {.n = 0}, c2 = {.n = 0};
    char err[256], *full = NULL, stop[8];
    const char *stops[1];
    size_t full_len;
    int32_t prompt[4] = {107, 104, 111, 114}; /* byte tokens of the test tokenizer */
    if (!g_tok)
        skip();
    assert_int_equal(sc_tokenizer_load(g_tok, &tok, err, sizeof(err)), SC_OK);
    m = load();
    sc_gen_params_default(&p);
    p.sampling.temperature = 1.0f;
    p.sampling.seed = 3;
    p.max_tokens = 40;
    p.on_token = on_token;
    p.on_text = on_text;
    p.user = &c;
    assert_int_equal(sc_generate(m, tok, prompt, 4, &p, NULL, &r, err, sizeof(err)), SC_OK);
    for (size_t i = 0; i < c.n; i++)
        assert_true(c.ids[i] < sc_tokenizer_vocab_size(tok)); /* padding rows masked */
    assert_int_equal(sc_tokenizer_decode(tok, c.ids, c.n, true, &full, &full_len), SC_OK);
    assert_string_equal(c.text, full);
    /* same seed, a stop string taken from the middle of that text */
    assert_true(full_len >= 12); /* 40 random byte tokens */
    {
        memcpy(stop, full + full_len / 2, 3);
        stop[3] = '\0';
        stops[0] = stop;
        p.stop = stops;
        p.n_stop = 1;
        p.user = &c2;
        assert_int_equal(sc_generate(m, tok, prompt, 4, &p, NULL, &r, err, sizeof(err)), SC_OK);
        assert_int_equal(r.finish, SC_FINISH_STOP);
        assert_int_equal(r.stop_index, 0);
        assert_int_equal(c2.text_len, (size_t)(strstr(full, stop) - full));
        assert_memory_equal(c2.text, full, c2.text_len);
    }
    free(full);
    sc_tokenizer_free(tok);
    sc_model_free(m);
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_matches_hf),
        cmocka_unit_test(test_cache_prefix_reuse),
        cmocka_unit_test(test_finish_reasons),
        cmocka_unit_test(test_bad_arguments_fire_no_callback),
        cmocka_unit_test(test_text_and_stop),
    };
    if (argc < 2) {
        fprintf(stderr, "usage: %s FIXTURE_DIR [TOKENIZER_JSON]\n", argv[0]);
        return 2;
    }
    g_dir = argv[1];
    g_tok = argc > 2 ? argv[2] : NULL;
    return cmocka_run_group_tests(tests, load_reference, NULL);
}

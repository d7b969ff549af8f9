/*
 * tests/unit/test_serve.c - sc_server_t's sc_serve_api on the tiny Qwen3
 * fixture (random weights, the CLI tests' tokenizer and template): tokenizer
 * round trip, 4 greedy requests from 2 threads against sc_generate, cancel,
 * the over-context error, stats; and `strixcore serve`'s config parsing
 * (cli/serve_config.c, compiled in here).
 * Paths come from __FILE__, since the unit tests take no arguments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <cmocka.h>

#include "strixcore/serve.h"
#include "../../cli/serve_config.c"

#define N_GEN 8

static char g_root[1024];
static sc_model_t *g_model;
static sc_tokenizer_t *g_tok;
static sc_chat_template_t *g_tmpl;
static sc_generation_config g_gen;

static void path_of(char *out, size_t n, const char *rel) { snprintf(out, n, "%s/%s", g_root, rel); }

/* One request's collected output. */
typedef struct collect {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int32_t toks[256];
    int n;
    int32_t finish;
    int n_final;
    int64_t prompt_tokens, completion_tokens;
} collect;

static void collect_init(collect *c) {
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
}

static void on_out(void *user, const sc_serve_output *o) {
    collect *c = user;
    pthread_mutex_lock(&c->mu);
    if (o->token >= 0 && c->n < 256)
        c->toks[c->n++] = o->token;
    if (o->finish != SC_SERVE_RUNNING) {
        c->finish = o->finish;
        c->n_final++;
        c->prompt_tokens = o->prompt_tokens;
        c->completion_tokens = o->completion_tokens;
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
}

static void collect_wait(collect *c) {
    pthread_mutex_lock(&c->mu);
    while (c->n_final == 0)
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
}

static sc_server_t *make_server(void) {
    sc_server_opts so = {.struct_size = sizeof so, .model_name = "tiny", .max_num_seqs = 4};
    sc_server_t *s = NULL;
    char err[256] = "";
    assert_int_equal(sc_server_create(g_model, g_tok, g_tmpl, &g_gen, &so, &s, err, sizeof err), SC_OK);
    return s;
}

static int setup(void **state) {
    (void)state;
    char p[1200], err[256] = "";
    snprintf(g_root, sizeof g_root, "%s", __FILE__);
    char *slash = strstr(g_root, "/tests/unit/");
    if (!slash)
        return -1;
    *slash = '\0';
    path_of(p, sizeof p, "tests/fixtures/qwen3/qwen3-tiny-gqa4/config.json");
    if (access(p, R_OK) != 0)
        return 0; /* no fixture: the model tests skip */
    path_of(p, sizeof p, "tests/cli/tiny-tokenizer.json");
    if (sc_tokenizer_load(p, &g_tok, err, sizeof err) < 0)
        return -1;
    path_of(p, sizeof p, "tests/cli/tiny-chat-template.jinja");
    if (sc_chat_template_load(p, &g_tmpl, err, sizeof err) < 0)
        return -1;
    path_of(p, sizeof p, "tests/fixtures/qwen3/qwen3-tiny-gqa4");
    sc_model_opts mo = {.struct_size = sizeof mo, .max_seqs = 4, .max_model_len = 64};
    if (sc_model_load(p, &mo, &g_model, err, sizeof err) < 0)
        return -1;
    if (sc_generation_config_load(p, sc_model_config_of(g_model), &g_gen, err, sizeof err) < 0)
        return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    sc_model_free(g_model);
    sc_chat_template_free(g_tmpl);
    sc_tokenizer_free(g_tok);
    return 0;
}

static void test_tokenize_roundtrip(void **state) {
    (void)state;
    if (!g_model) skip();
    sc_server_t *s = make_server();
    const sc_serve_api *api = sc_server_api(s);
    int32_t *ids = NULL;
    size_t n = 0, len = 0;
    char *text = NULL;
    const char *in = "hello world";
    assert_string_equal(api->model_name, "tiny");
    assert_true(api->max_model_len == 64);
    assert_non_null(strstr(api->generation_defaults_json, "temperature"));
    assert_int_equal(api->tokenize(api->ctx, in, strlen(in), true, &ids, &n), SC_OK);
    assert_true(n > 0);
    assert_int_equal(api->detokenize(api->ctx, ids, n, false, &text, &len), SC_OK);
    assert_int_equal(len, strlen(in));
    assert_memory_equal(text, in, len);
    free(ids);
    free(text);
    /* the template renders with the caller's variables */
    char err[256] = "";
    assert_int_equal(api->apply_chat_template(api->ctx,
                                              "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], "
                                              "\"add_generation_prompt\": true}",
                                              &text, &len, err, sizeof err),
                     SC_OK);
    assert_non_null(strstr(text, "hi"));
    free(text);
    assert_true(api->apply_chat_template(api->ctx, "[1]", &text, &len, err, sizeof err) < 0);
    sc_server_destroy(s);
}

typedef struct ref_rec {
    int32_t t[256];
    int n;
} ref_rec;

static int ref_token(int32_t id, void *user) {
    ref_rec *r = user;
    if (r->n < 256)
        r->t[r->n++] = id;
    return 0;
}

static const char *g_prompts[4] = {"hello", "the sky is", "one two three", "abc def"};

typedef struct submitter {
    const sc_serve_api *api;
    int first;
    collect *c;
} submitter;

static void fill_req(sc_serve_request *r, const int32_t *ids, size_t n, collect *c) {
    memset(r, 0, sizeof(*r));
    r->struct_size = sizeof(*r);
    r->prompt = ids;
    r->n_prompt = n;
    r->sampling.struct_size = sizeof(r->sampling);
    r->sampling.temperature = 0;
    r->sampling.top_p = 1;
    r->sampling.repetition_penalty = 1;
    r->sampling.has_seed = true;
    r->max_tokens = N_GEN;
    r->ignore_eos = true;
    r->skip_special = true;
    r->on_output = on_out;
    r->user = c;
}

static void *submit_two(void *arg) {
    submitter *sb = arg;
    for (int k = 0; k < 2; k++) {
        int i = sb->first + k;
        int32_t *ids = NULL;
        size_t n = 0;
        sc_serve_request r;
        uint64_t id;
        char err[256];
        if (sb->api->tokenize(sb->api->ctx, g_prompts[i], strlen(g_prompts[i]), true, &ids, &n) != SC_OK)
            return NULL;
        fill_req(&r, ids, n, &sb->c[i]);
        int rc = sb->api->submit(sb->api->ctx, &r, &id, err, sizeof err);
        free(ids); /* submit copied the prompt */
        if (rc != SC_OK)
            return NULL;
    }
    return sb;
}

static void test_greedy_matches_generate(void **state) {
    (void)state;
    if (!g_model) skip();
    collect c[4];
    for (int i = 0; i < 4; i++) collect_init(&c[i]);
    sc_server_t *s = make_server();
    const sc_serve_api *api = sc_server_api(s);
    submitter sb[2] = {{api, 0, c}, {api, 2, c}};
    pthread_t th[2];
    void *res[2];
    for (int t = 0; t < 2; t++) pthread_create(&th[t], NULL, submit_two, &sb[t]);
    for (int t = 0; t < 2; t++) pthread_join(th[t], &res[t]);
    assert_non_null(res[0]);
    assert_non_null(res[1]);
    for (int i = 0; i < 4; i++) collect_wait(&c[i]);
    sc_serve_stats st = {.struct_size = sizeof st};
    /* the engine counts a request finished just after its last callback */
    for (int tries = 0; tries < 200; tries++) {
        api->stats(api->ctx, &st);
        if (st.finished >= 4 && st.running == 0)
            break;
        usleep(5000);
    }
    assert_true(st.finished >= 4);
    assert_true(st.generation_tokens >= 4 * N_GEN);
    assert_int_equal(st.running, 0);
    sc_server_destroy(s); /* the engine's sequences are free again for sc_generate */

    for (int i = 0; i < 4; i++) {
        int32_t *ids = NULL;
        size_t n = 0;
        char err[256] = "";
        ref_rec rr = {.n = 0};
        sc_gen_params gp;
        sc_gen_result gr;
        assert_int_equal(sc_tokenizer_encode(g_tok, g_prompts[i], strlen(g_prompts[i]), true, &ids, &n), SC_OK);
        sc_gen_params_default(&gp);
        gp.max_tokens = N_GEN;
        gp.ignore_eos = true;
        gp.on_token = ref_token;
        gp.user = &rr;
        assert_int_equal(sc_generate(g_model, g_tok, ids, n, &gp, NULL, &gr, err, sizeof err), SC_OK);
        assert_int_equal(c[i].n, rr.n);
        assert_memory_equal(c[i].toks, rr.t, (size_t)rr.n * sizeof(int32_t));
        assert_int_equal(c[i].finish, SC_SERVE_LENGTH);
        assert_int_equal(c[i].n_final, 1);
        assert_int_equal(c[i].prompt_tokens, (int64_t)n);
        assert_int_equal(c[i].completion_tokens, N_GEN);
        free(ids);
    }
}

static void test_cancel_and_range(void **state) {
    (void)state;
    if (!g_model) skip();
    sc_server_t *s = make_server();
    const sc_serve_api *api = sc_server_api(s);
    collect c;
    collect_init(&c);
    int32_t ids[4] = {1, 2, 3, 4};
    sc_serve_request r;
    uint64_t id = 0;
    char err[256] = "";
    fill_req(&r, ids, 4, &c);
    r.max_tokens = 0; /* until the context is full: long enough to cancel */
    assert_int_equal(api->submit(api->ctx, &r, &id, err, sizeof err), SC_OK);
    int rc = api->cancel(api->ctx, id);
    collect_wait(&c);
    /* the request may have finished on its own before the cancel landed */
    if (rc == SC_OK)
        assert_int_equal(c.finish, SC_SERVE_ABORT);
    assert_int_equal(c.n_final, 1);

    /* over the context: an error, and no output ever */
    collect c2;
    collect_init(&c2);
    fill_req(&r, ids, 4, &c2);
    r.max_tokens = 1000;
    err[0] = '\0';
    assert_int_equal(api->submit(api->ctx, &r, &id, err, sizeof err), SC_ERANGE);
    assert_true(strlen(err) > 0);
    assert_non_null(strstr(err, "context"));
    sc_server_destroy(s);
    assert_int_equal(c2.n_final, 0);
}

/* ------------------------------------------------------------------------ */
/* serve config parsing                                                       */
/* ------------------------------------------------------------------------ */
static void test_config(void **state) {
    (void)state;
    serve_cfg c;
    char err[256] = "";
    int first = 1;
    serve_cfg_init(&c);
    assert_int_equal(serve_cfg_apply_json(&c,
                                          "{\"model\": \"/m\", \"port\": 9000, \"api_key\": [\"k1\", \"k2\"], "
                                          "\"max_model_len\": 4096, \"compat\": \"llama\"}",
                                          err, sizeof err),
                     0);
    assert_string_equal(c.model, "/m");
    assert_int_equal(c.port, 9000);
    assert_int_equal(c.n_api_keys, 2);
    assert_int_equal(c.max_model_len, 4096);
    /* the command line overrides the file; its first --api-key replaces the list */
    assert_int_equal(serve_cfg_apply_flag(&c, "port", "8001", &first, err, sizeof err), 0);
    assert_int_equal(serve_cfg_apply_flag(&c, "api-key", "k3", &first, err, sizeof err), 0);
    assert_int_equal(serve_cfg_apply_flag(&c, "api-key", "k4", &first, err, sizeof err), 0);
    assert_int_equal(c.port, 8001);
    assert_int_equal(c.n_api_keys, 2);
    assert_string_equal(c.api_keys[0], "k3");
    assert_int_equal(serve_cfg_apply_flag(&c, "bogus", "1", &first, err, sizeof err), 1);
    assert_int_equal(serve_cfg_apply_flag(&c, "port", "x", &first, err, sizeof err), -1);
    assert_int_equal(serve_cfg_apply_flag(&c, "compat", "tgi", &first, err, sizeof err), -1);
    char *js = serve_cfg_settings_json(&c);
    assert_non_null(strstr(js, "\"port\":8001"));
    assert_non_null(strstr(js, "\"api_keys\":[\"k3\",\"k4\"]"));
    free(js);

    assert_int_equal(serve_cfg_apply_json(&c, "{\"prot\": 1}", err, sizeof err), -1);
    assert_non_null(strstr(err, "\"prot\""));
    assert_int_equal(serve_cfg_apply_json(&c, "{\"port\": \"8000\"}", err, sizeof err), -1);
    assert_non_null(strstr(err, "\"port\""));
    assert_int_equal(serve_cfg_apply_json(&c, "{\"api_key\": [1]}", err, sizeof err), -1);
    assert_non_null(strstr(err, "\"api_key\""));
    assert_int_equal(serve_cfg_apply_json(&c, "[]", err, sizeof err), -1);
    serve_cfg_free(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_tokenize_roundtrip),
        cmocka_unit_test(test_greedy_matches_generate),
        cmocka_unit_test(test_cancel_and_range),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

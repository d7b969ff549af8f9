/*
 * tests/unit/test_engine.c - continuous batching: batched, chunked and
 * interleaved requests must produce exactly what each produces alone through
 * sc_generate; cancel, limits and queueing.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "strixcore/engine.h"
#include "strixcore/model_synth.h"

#define MAX_LEN 128
#define NREQ 8
#define MAXTOK 64

typedef struct out {
    uint64_t id;
    int32_t toks[MAXTOK];
    int n;
    int n_final;          /* calls with a finish reason */
    int n_after;          /* calls after the final one (must stay 0) */
    sc_finish fin;
    int64_t n_cached;     /* as the last output reported it */
    float lp[MAXTOK];     /* logprob of each token */
    int n_top[MAXTOK];
    int32_t top0[MAXTOK]; /* the most likely token */
    float top0_lp[MAXTOK];
} out;

static void on_out(const sc_engine_output *eo, void *user) {
    out *o = user;
    int32_t tok = eo->token;
    sc_finish fin = eo->finish;
    o->id = eo->request_id;
    if (o->n_final) {
        o->n_after++;
        return;
    }
    o->n_cached = eo->n_cached;
    if (tok >= 0 && o->n < MAXTOK) {
        o->lp[o->n] = eo->logprob;
        o->n_top[o->n] = eo->n_top;
        o->top0[o->n] = eo->n_top > 0 ? eo->top_ids[0] : -1;
        o->top0_lp[o->n] = eo->n_top > 0 ? eo->top_logprobs[0] : 0.0f;
        for (int j = 1; j < eo->n_top; j++) /* most likely first */
            if (eo->top_logprobs[j] > eo->top_logprobs[j - 1])
                o->n_after += 1000;
        o->toks[o->n++] = tok;
    }
    if (fin != SC_FINISH_NONE) {
        o->n_final++;
        o->fin = fin;
    }
}

static int on_tok(int32_t id, void *user) {
    out *o = user;
    if (o->n < MAXTOK)
        o->toks[o->n++] = id;
    return 0;
}

/* The synthetic model the batching tests run: "tiny", or "tiny-next"
 * (Qwen3-Next: recurrent state per sequence beside the KV cache). */
static const char *g_model = "tiny";

static sc_model_t *tiny(int max_seqs) {
    sc_model_opts o = {.struct_size = sizeof o, .max_seqs = max_seqs, .max_model_len = MAX_LEN, .seed = 7};
    sc_model_t *m = NULL;
    char err[256];
    int rc = sc_model_synthetic(g_model, &o, &m, err, sizeof err);
    if (rc != SC_OK)
        print_message("synthetic failed: %s\n", err);
    assert_int_equal(rc, SC_OK);
    return m;
}

/* Request i: a prompt of 3 + 5i tokens, 4 + 3i new tokens; the last one
 * samples (seeded) so that the per-request random streams are checked too. */
static int32_t g_prompts[NREQ][64];
static size_t g_plen[NREQ];

static void make_prompts(void) {
    uint32_t x = 12345;
    for (int i = 0; i < NREQ; i++) {
        g_plen[i] = 3 + 5 * (size_t)i;
        for (size_t j = 0; j < g_plen[i]; j++) {
            x = x * 1103515245u + 12345u;
            g_prompts[i][j] = (int32_t)((x >> 8) % 500);
        }
    }
}

static sc_sampler_params sampling_of(int i) {
    sc_sampler_params p;
    sc_sampler_params_default(&p);
    p.temperature = 0.0f;
    if (i == NREQ - 1) {
        p.temperature = 0.9f;
        p.top_k = 40;
        p.seed = 1234;
    }
    return p;
}

static int g_extra; /* more new tokens per request (the preemption test) */
static int64_t max_tokens_of(int i) { return 4 + 3 * i + g_extra; }

/* Each request alone through sc_generate on sequence 0. */
static void reference(sc_model_t *m, out ref[NREQ]) {
    char err[256];
    for (int i = 0; i < NREQ; i++) {
        sc_gen_params p;
        sc_gen_result res;
        sc_gen_params_default(&p);
        p.sampling = sampling_of(i);
        p.max_tokens = max_tokens_of(i);
        p.on_token = on_tok;
        p.user = &ref[i];
        memset(&ref[i], 0, sizeof(ref[i]));
        assert_int_equal(sc_generate(m, NULL, g_prompts[i], g_plen[i], &p, NULL, &res, err, sizeof err), SC_OK);
        assert_int_equal(ref[i].n, max_tokens_of(i));
        ref[i].fin = res.finish;
    }
    /* the comparison means something only if the outputs differ */
    assert_true(memcmp(ref[2].toks, ref[3].toks, 4 * sizeof(int32_t)) != 0 ||
                memcmp(ref[4].toks, ref[5].toks, 4 * sizeof(int32_t)) != 0);
}

static void add(sc_engine_t *e, int i, out *o, uint64_t *id) {
    sc_engine_request q;
    char err[256];
    sc_engine_request_default(&q);
    q.prompt = g_prompts[i];
    q.n_prompt = g_plen[i];
    q.sampling = sampling_of(i);
    q.max_tokens = max_tokens_of(i);
    q.callback = on_out;
    q.user = o;
    memset(o, 0, sizeof(*o));
    int rc = sc_engine_add_request(e, &q, id, err, sizeof err);
    if (rc != SC_OK)
        print_message("add failed: %s\n", err);
    assert_int_equal(rc, SC_OK);
}

static void drain(sc_engine_t *e) {
    int guard = 0;
    while (sc_engine_has_work(e)) {
        assert_true(sc_engine_step(e) >= 0);
        assert_true(++guard < 10000);
    }
}

static void check_same(const out *got, const out *ref) {
    assert_int_equal(got->n_final, 1);
    assert_int_equal(got->n_after, 0);
    assert_int_equal(got->fin, SC_FINISH_LENGTH);
    assert_int_equal(got->n, ref->n);
    assert_memory_equal(got->toks, ref->toks, (size_t)ref->n * sizeof(int32_t));
}

/* 8 requests, 5 at first and 3 joining while the others decode, with a
 * given token budget: the same tokens as alone. */
static void run_batched(int budget, int max_num_seqs) {
    sc_model_t *m = tiny(8);
    out ref[NREQ], got[NREQ];
    uint64_t ids[NREQ];
    sc_engine_t *e = NULL;
    sc_engine_opts o = {.struct_size = sizeof o, .max_num_seqs = max_num_seqs, .max_num_batched_tokens = budget};
    sc_engine_stats st;
    char err[256];
    int free0;

    make_prompts();
    reference(m, ref);
    assert_int_equal(sc_engine_create(m, NULL, &o, &e, err, sizeof err), SC_OK);
    sc_engine_stats_get(e, &st);
    free0 = st.kv_blocks_free;
    assert_int_equal(free0, st.kv_blocks_total);
    for (int i = 0; i < 5; i++)
        add(e, i, &got[i], &ids[i]);
    for (int s = 0; s < 3; s++)
        assert_true(sc_engine_step(e) > 0);
    for (int i = 5; i < NREQ; i++)
        add(e, i, &got[i], &ids[i]);
    drain(e);
    for (int i = 0; i < NREQ; i++) {
        assert_int_equal(got[i].id, ids[i]);
        check_same(&got[i], &ref[i]);
    }
    sc_engine_stats_get(e, &st);
    assert_int_equal(st.running, 0);
    assert_int_equal(st.waiting, 0);
    assert_int_equal(st.kv_blocks_free, free0);
    assert_int_equal((int)st.finished, NREQ);
    {
        uint64_t np = 0, ng = 0;
        for (int i = 0; i < NREQ; i++) {
            np += g_plen[i];
            ng += (uint64_t)max_tokens_of(i);
        }
        assert_int_equal(st.prompt_tokens, np);
        assert_int_equal(st.generation_tokens, ng);
    }
    sc_engine_destroy(e);
    sc_model_free(m);
}

static void test_batched_equals_alone(void **state) {
    (void)state;
    run_batched(512, 8);
}

static void test_chunked_prefill(void **state) {
    (void)state;
    run_batched(8, 8); /* prompts of up to 38 tokens over many steps, beside 8 decoders */
    run_batched(3, 3); /* three tokens a step: prefill chunks interleave with decodes */
}

static void test_more_than_max_seqs(void **state) {
    sc_engine_stats st;
    (void)state;
    run_batched(64, 2); /* at most 2 running, the rest wait */
    {
        sc_model_t *m = tiny(8);
        sc_engine_t *e = NULL;
        sc_engine_opts o = {.max_num_seqs = 2};
        out got[NREQ];
        uint64_t id;
        char err[256];
        make_prompts();
        assert_int_equal(sc_engine_create(m, NULL, &o, &e, err, sizeof err), SC_OK);
        for (int i = 0; i < 6; i++)
            add(e, i, &got[i], &id);
        assert_true(sc_engine_step(e) > 0);
        sc_engine_stats_get(e, &st);
        assert_int_equal(st.running, 2);
        assert_int_equal(st.waiting, 4);
        drain(e);
        for (int i = 0; i < 6; i++)
            assert_int_equal(got[i].fin, SC_FINISH_LENGTH);
        sc_engine_destroy(e);
        sc_model_free(m);
    }
}

/* With budget == max_num_seqs every running request advances every step
 * (none starves behind the first ones); a smaller budget is refused. */
static void add_long(sc_engine_t *e, int i, out *o) {
    sc_engine_request q;
    uint64_t id;
    char err[256];
    sc_engine_request_default(&q);
    q.prompt = g_prompts[i];
    q.n_prompt = 3;
    q.sampling = sampling_of(0);
    q.max_tokens = 40;
    q.callback = on_out;
    q.user = o;
    memset(o, 0, sizeof(*o));
    assert_int_equal(sc_engine_add_request(e, &q, &id, err, sizeof err), SC_OK);
}

static void test_decode_fairness(void **state) {
    sc_model_t *m = tiny(8);
    sc_engine_t *e = NULL;
    sc_engine_opts o = {.struct_size = sizeof o, .max_num_seqs = 4, .max_num_batched_tokens = 2};
    out got[4];
    char err[256] = "";
    (void)state;
    make_prompts();
    assert_int_equal(sc_engine_create(m, NULL, &o, &e, err, sizeof err), SC_EINVAL);
    assert_non_null(strstr(err, "max_num_batched_tokens (2) must be >= max_num_seqs (4)"));
    o.max_num_batched_tokens = 4;
    assert_int_equal(sc_engine_create(m, NULL, &o, &e, err, sizeof err), SC_OK);
    for (int i = 0; i < 4; i++) add_long(e, i, &got[i]);
    /* 12 prompt tokens at most 4 a step, decodes first: every request has its
     * first token within 8 steps (decoding 40 tokens first would take 40) */
    int steps = 0;
    while ((got[0].n == 0 || got[1].n == 0 || got[2].n == 0 || got[3].n == 0) && steps < 8) {
        assert_true(sc_engine_step(e) > 0);
        steps++;
    }
    for (int i = 0; i < 4; i++) assert_true(got[i].n > 0);
    for (int round = 0; round < 4; round++) { /* all 4 decode in every step */
        int before[4];
        for (int i = 0; i < 4; i++) before[i] = got[i].n;
        assert_true(sc_engine_step(e) > 0);
        for (int i = 0; i < 4; i++) assert_true(got[i].n == before[i] + 1);
    }
    sc_engine_destroy(e);
    sc_model_free(m);
}

static void test_cancel(void **state) {
    sc_model_t *m = tiny(8);
    sc_engine_t *e = NULL;
    sc_engine_opts o = {.struct_size = sizeof o, .max_num_seqs = 2, .max_num_batched_tokens = 16};
    sc_engine_stats st;
    out got[4];
    uint64_t ids[4];
    char err[256];
    int free0;
    (void)state;
    make_prompts();
    assert_int_equal(sc_engine_create(m, NULL, &o, &e, err, sizeof err), SC_OK);
    sc_engine_stats_get(e, &st);
    free0 = st.kv_blocks_free;
    add(e, 7, &got[0], &ids[0]); /* 38-token prompt: prefills over several steps */
    add(e, 6, &got[1], &ids[1]);
    add(e, 5, &got[2], &ids[2]); /* waits: only 2 sequences */
    for (int s = 0; s < 4; s++)
        assert_true(sc_engine_step(e) > 0);
    sc_engine_stats_get(e, &st);
    assert_true(st.kv_blocks_free < free0);
    assert_int_equal(st.running, 2);
    assert_int_equal(st.waiting, 1);

    /* cancel everything: sequences come back at once, aborts on the next step */
    assert_int_equal(sc_engine_cancel(e, ids[0]), SC_OK);
    assert_int_equal(sc_engine_cancel(e, ids[1]), SC_OK);
    assert_int_equal(sc_engine_cancel(e, ids[2]), SC_OK);
    assert_int_equal(sc_engine_cancel(e, ids[2]), SC_ENOENT);
    assert_int_equal(sc_engine_cancel(e, 999999), SC_ENOENT);
    sc_engine_stats_get(e, &st);
    assert_int_equal(st.kv_blocks_free, free0);
    assert_int_equal(st.running, 0);
    assert_int_equal(st.waiting, 0);
    /* counted in the same snapshot that shows them gone, before their
     * final callbacks run (a /metrics scrape must never see them in neither) */
    assert_int_equal(st.ended_abort, 3);
    assert_int_equal(st.ended_stop + st.ended_length, 0);
    assert_int_equal(got[0].n_final + got[1].n_final + got[2].n_final, 0);
    assert_true(sc_engine_has_work(e));
    assert_int_equal(sc_engine_step(e), 0);
    assert_false(sc_engine_has_work(e));
    for (int i = 0; i < 3; i++) {
        assert_int_equal(got[i].n_final, 1);
        assert_int_equal(got[i].fin, SC_FINISH_ABORT);
        assert_int_equal(got[i].n_after, 0);
    }
    /* the engine still works, and a cancelled request stays quiet */
    add(e, 2, &got[3], &ids[3]);
    drain(e);
    assert_int_equal(got[3].fin, SC_FINISH_LENGTH);
    assert_int_equal(got[0].n_after + got[1].n_after + got[2].n_after, 0);
    sc_engine_stats_get(e, &st);
    assert_int_equal(st.kv_blocks_free, free0);
    assert_int_equal(st.ended_length, 1);
    assert_int_equal(st.ended_abort, 3);

    /* destroy aborts what is left */
    add(e, 3, &got[3], &ids[3]);
    assert_true(sc_engine_step(e) > 0);
    sc_engine_destroy(e);
    assert_int_equal(got[3].fin, SC_FINISH_ABORT);
    assert_int_equal(got[3].n_final, 1);
    sc_model_free(m);
}

static void test_limits(void **state) {
    sc_model_t *m = tiny(2);
    sc_engine_t *e = NULL;
    sc_engine_opts o = {.struct_size = sizeof o, .max_waiting = 2};
    sc_engine_request q;
    int32_t prompt[MAX_LEN];
    uint64_t id;
    char err[512];
    (void)state;
    for (int i = 0; i < MAX_LEN; i++)
        prompt[i] = i;
    assert_int_equal(sc_engine_create(m, NULL, &o, &e, err, sizeof err), SC_OK);
    sc_engine_request_default(&q);
    q.prompt = prompt;
    q.n_prompt = 100;
    q.max_tokens = MAX_LEN - 100 + 1;
    assert_int_equal(sc_engine_add_request(e, &q, &id, err, sizeof err), SC_ERANGE);
    assert_non_null(strstr(err, "maximum context length is 128 tokens"));
    assert_non_null(strstr(err, "you requested 129 tokens (100 in the messages, 29 in the completion)"));
    q.n_prompt = MAX_LEN; /* no room for even one token */
    q.max_tokens = 0;
    assert_int_equal(sc_engine_add_request(e, &q, &id, err, sizeof err), SC_ERANGE);
    q.n_prompt = 0;
    assert_int_equal(sc_engine_add_request(e, &q, &id, err, sizeof err), SC_EINVAL);
    prompt[0] = 1 << 20;
    q.n_prompt = 4;
    assert_int_equal(sc_engine_add_request(e, &q, &id, err, sizeof err), SC_EINVAL);
    prompt[0] = 0;

    q.n_prompt = 100;
    q.max_tokens = MAX_LEN - 100;
    assert_int_equal(sc_engine_add_request(e, &q, &id, err, sizeof err), SC_OK);
    assert_int_equal(sc_engine_add_request(e, &q, &id, err, sizeof err), SC_OK);
    assert_int_equal(sc_engine_add_request(e, &q, &id, err, sizeof err), SC_ESTATE);
    assert_non_null(strstr(err, "busy"));
    /* the queue drains into sequences; then there is room again */
    assert_true(sc_engine_step(e) > 0);
    assert_int_equal(sc_engine_add_request(e, &q, &id, err, sizeof err), SC_OK);
    q.max_tokens = 0; /* until the context is full */
    q.n_prompt = 90;
    assert_int_equal(sc_engine_add_request(e, &q, &id, err, sizeof err), SC_OK);
    drain(e);
    sc_engine_destroy(e);
    sc_model_free(m);
}

/* add and cancel from another thread while this one steps (the server's
 * event loop and worker); run under TSan to check the locking. */
typedef struct producer {
    sc_engine_t *e;
    out got[NREQ];
    uint64_t ids[NREQ];
} producer;

static void *produce(void *arg) {
    producer *p = arg;
    for (int i = 0; i < NREQ; i++) {
        add(p->e, i, &p->got[i], &p->ids[i]);
        if (i % 3 == 2)
            sc_engine_cancel(p->e, p->ids[i - 1]);
        nanosleep(&(struct timespec){.tv_nsec = 200000}, NULL);
    }
    return NULL;
}

static void test_threads(void **state) {
    sc_model_t *m = tiny(8);
    sc_engine_opts o = {.max_num_seqs = 4, .max_num_batched_tokens = 8};
    producer p = {0};
    pthread_t th;
    char err[256];
    int guard = 0;
    sc_engine_stats st;
    (void)state;
    make_prompts();
    assert_int_equal(sc_engine_create(m, NULL, &o, &p.e, err, sizeof err), SC_OK);
    sc_engine_stats_get(p.e, &st);
    assert_int_equal(pthread_create(&th, NULL, produce, &p), 0);
    for (;;) {
        int n = sc_engine_step(p.e), done = 0;
        if (n < 0)
            break;
        for (int i = 0; i < NREQ; i++)
            done += __atomic_load_n(&p.got[i].n_final, __ATOMIC_ACQUIRE) ? 1 : 0;
        if (done == NREQ || ++guard > 200000)
            break;
        if (n == 0) /* idle: let the producer run (slow under valgrind) */
            nanosleep(&(struct timespec){.tv_nsec = 100000}, NULL);
    }
    pthread_join(th, NULL); /* before any assert: the thread uses this frame */
    assert_true(guard <= 200000);
    for (int i = 0; i < NREQ; i++) {
        assert_int_equal(p.got[i].n_final, 1);
        assert_int_equal(p.got[i].n_after, 0);
        assert_true(p.got[i].fin == SC_FINISH_LENGTH || p.got[i].fin == SC_FINISH_ABORT);
    }
    assert_false(sc_engine_has_work(p.e));
    {
        sc_engine_stats st2;
        sc_engine_stats_get(p.e, &st2);
        assert_int_equal(st2.kv_blocks_free, st.kv_blocks_free);
    }
    sc_engine_destroy(p.e);
    sc_model_free(m);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Aggregate decode throughput of 1, 4 and 16 concurrent greedy requests on a
 * synthetic Qwen3-0.6B with GPTQ int4 weights. Printed, never asserted, and
 * only with STRIXCORE_ENGINE_BENCH=1 (a few seconds on 2 cores, a minute
 * under sanitizers): a benchmark, not a test. */
static void test_bench(void **state) {
    sc_model_opts mo = {.struct_size = sizeof mo, .max_seqs = 16, .max_model_len = 256, .seed = 3};
    sc_model_t *m = NULL;
    char err[256];
    const char *env = getenv("STRIXCORE_ENGINE_BENCH");
    int ntok = 32;
    (void)state;
    if (!env || strcmp(env, "1") != 0) {
        print_message("engine bench skipped (set STRIXCORE_ENGINE_BENCH=1 to run it)\n");
        return;
    }
    if (sc_model_synthetic_quant("qwen3-0.6b", "gptq-int4", &mo, &m, err, sizeof err) != SC_OK) {
        print_message("bench skipped: %s\n", err);
        return;
    }
    for (int conc = 1; conc <= 16; conc *= 4) {
        sc_engine_t *e = NULL;
        out got[16];
        uint64_t id;
        int32_t prompt[8];
        double t0, t1;
        assert_int_equal(sc_engine_create(m, NULL, NULL, &e, err, sizeof err), SC_OK);
        for (int i = 0; i < conc; i++) {
            sc_engine_request q;
            for (int j = 0; j < 8; j++)
                prompt[j] = 100 + 7 * i + j;
            sc_engine_request_default(&q);
            q.prompt = prompt;
            q.n_prompt = 8;
            q.max_tokens = ntok;
            q.ignore_eos = true;
            q.callback = on_out;
            q.user = &got[i];
            memset(&got[i], 0, sizeof(got[i]));
            assert_int_equal(sc_engine_add_request(e, &q, &id, err, sizeof err), SC_OK);
        }
        assert_true(sc_engine_step(e) > 0); /* prefill + first token */
        t0 = now_s();
        drain(e);
        t1 = now_s();
        print_message("engine bench qwen3-0.6b gptq-int4: %d concurrent: %.1f tok/s aggregate decode "
                      "(%d tokens in %.2f s)\n",
                      conc, (double)(conc * (ntok - 1)) / (t1 - t0), conc * (ntok - 1), t1 - t0);
        sc_engine_destroy(e);
    }
    sc_model_free(m);
}


/* A KV pool far smaller than max_seqs full sequences: the engine preempts
 * and recomputes, and every request still gets exactly its tokens alone. */
static sc_model_t *tiny_pool(int max_seqs, int n_blocks) {
    sc_model_t *m = tiny(1);
    const sc_model_config *c = sc_model_config_of(m);
    const uint64_t kv_layers = (uint64_t)(c->n_layers - c->n_linear_layers); /* full-attention layers */
    uint64_t per_block = 2ull * kv_layers * (uint64_t)c->n_kv_heads * (uint64_t)c->head_dim * 4u * 16u;
    sc_model_free(m);
    sc_model_opts o = {.struct_size = sizeof o, .max_seqs = max_seqs, .max_model_len = MAX_LEN, .seed = 7,
                       .kv_cache_bytes = per_block * (uint64_t)n_blocks + per_block / 2};
    char err[256];
    m = NULL;
    assert_int_equal(sc_model_synthetic(g_model, &o, &m, err, sizeof err), SC_OK);
    int total = 0;
    sc_model_kv_blocks(m, NULL, &total);
    assert_int_equal(total, n_blocks);
    return m;
}

static void run_preempt(int prefix_caching, int budget) {
    sc_model_t *m = tiny_pool(8, 8); /* 8 blocks of 16: 128 tokens for 8 requests of 37 .. 93 */
    out ref[NREQ], got[NREQ];
    uint64_t ids[NREQ];
    sc_engine_t *e = NULL;
    sc_engine_opts o = {.struct_size = sizeof o, .max_num_batched_tokens = budget, .prefix_caching = prefix_caching};
    sc_engine_stats st;
    char err[256];
    make_prompts();
    g_extra = 30;
    reference(m, ref);
    assert_int_equal(sc_engine_create(m, NULL, &o, &e, err, sizeof err), SC_OK);
    for (int i = 0; i < NREQ; i++)
        add(e, i, &got[i], &ids[i]);
    drain(e);
    g_extra = 0;
    for (int i = 0; i < NREQ; i++)
        check_same(&got[i], &ref[i]);
    sc_engine_stats_get(e, &st);
    print_message("preemption (prefix caching %d, budget %d): %llu preemptions, %llu/%llu prefix tokens hit\n",
                  prefix_caching, budget, (unsigned long long)st.preemptions, (unsigned long long)st.prefix_hits,
                  (unsigned long long)st.prefix_queries);
    assert_true(st.preemptions > 0);
    assert_int_equal(st.kv_blocks_free, st.kv_blocks_total);
    assert_int_equal((int)st.finished, NREQ);
    sc_engine_destroy(e);
    sc_model_free(m);
}

static void test_preemption(void **state) {
    (void)state;
    run_preempt(-1, 512);
    run_preempt(0, 512);
    run_preempt(0, 8);
    /* a pool smaller than one max_model_len sequence is refused, naming sizes */
    sc_model_opts o = {.struct_size = sizeof o, .max_seqs = 2, .max_model_len = MAX_LEN, .kv_cache_bytes = 1000};
    sc_model_t *m = NULL;
    char err[256] = "";
    assert_int_equal(sc_model_synthetic("tiny", &o, &m, err, sizeof err), SC_EINVAL);
    assert_non_null(strstr(err, "fewer than max_model_len (128)"));
}

/* Qwen3-Next's Gated DeltaNet layers under continuous batching: requests
 * joining mid-decode, chunked prefill interleaved with decodes, and
 * preemption with recompute (prefix caching on: it must attach nothing,
 * the recurrent state is not held in blocks) all give the tokens each
 * request gets alone. */
static void test_hybrid_model(void **state) {
    (void)state;
    g_model = "tiny-next";
    run_batched(512, 8);
    run_batched(3, 3);
    run_preempt(1, 8);
    g_model = "tiny";
}

/* Prefix caching: a second request sharing 40 prompt tokens with a finished
 * one computes only what is new (2 blocks of 16 cached) and produces the
 * same tokens as alone; the cache survives the first request's end. */
static void test_prefix_cache(void **state) {
    sc_model_t *m = tiny(4);
    sc_engine_t *e = NULL;
    sc_engine_opts o = {.struct_size = sizeof o};
    sc_engine_stats st;
    out ref, got[3];
    uint64_t id;
    char err[256];
    int32_t a[48], b[45];
    (void)state;
    make_prompts();
    for (int i = 0; i < 48; i++) a[i] = (i * 37 + 11) % 500;
    memcpy(b, a, 40 * sizeof(int32_t));
    for (int i = 40; i < 45; i++) b[i] = (i * 91 + 3) % 500;
    /* b alone, on a fresh sequence without any cache */
    {
        sc_gen_params p;
        sc_gen_result res;
        sc_gen_params_default(&p);
        p.sampling = sampling_of(0);
        p.max_tokens = 6;
        p.on_token = on_tok;
        p.user = &ref;
        memset(&ref, 0, sizeof ref);
        assert_int_equal(sc_generate(m, NULL, b, 45, &p, NULL, &res, err, sizeof err), SC_OK);
        sc_model_seq_reset(m, 0);
    }
    for (int pass = 0; pass < 2; pass++) {
        o.prefix_caching = pass == 0 ? 0 : -1;
        sc_model_free(m);
        m = tiny(4);
        assert_int_equal(sc_engine_create(m, NULL, &o, &e, err, sizeof err), SC_OK);
        sc_engine_request q;
        sc_engine_request_default(&q);
        q.prompt = a;
        q.n_prompt = 48;
        q.max_tokens = 3;
        q.callback = on_out;
        q.user = &got[0];
        memset(&got[0], 0, sizeof got[0]);
        assert_int_equal(sc_engine_add_request(e, &q, &id, err, sizeof err), SC_OK);
        drain(e);
        assert_int_equal(got[0].n_cached, 0);
        q.prompt = b;
        q.n_prompt = 45;
        q.max_tokens = 6;
        q.user = &got[1];
        memset(&got[1], 0, sizeof got[1]);
        assert_int_equal(sc_engine_add_request(e, &q, &id, err, sizeof err), SC_OK);
        drain(e);
        assert_int_equal(got[1].n_cached, pass == 0 ? 32 : 0);
        check_same(&got[1], &ref);
        sc_engine_stats_get(e, &st);
        if (pass == 0) {
            assert_int_equal(st.prefix_queries, 48 + 45);
            assert_int_equal(st.prefix_hits, 32);
        }
        assert_int_equal(st.prompt_tokens, 48 + 45);
        /* the whole prompt cached: the last block is still recomputed */
        q.prompt = a;
        q.n_prompt = 48;
        q.max_tokens = 3;
        q.user = &got[2];
        memset(&got[2], 0, sizeof got[2]);
        assert_int_equal(sc_engine_add_request(e, &q, &id, err, sizeof err), SC_OK);
        drain(e);
        assert_int_equal(got[2].n_cached, pass == 0 ? 32 : 0);
        assert_int_equal(got[2].n, 3);
        assert_memory_equal(got[2].toks, got[0].toks, 3 * sizeof(int32_t));
        sc_engine_destroy(e);
    }
    sc_model_free(m);
}

/* Logprobs: the greedy token is the most likely, its logprob equals a
 * log-softmax of the model's own logits, alternatives come sorted. */
static void test_logprobs(void **state) {
    sc_model_t *m = tiny(2);
    sc_engine_t *e = NULL;
    out got;
    uint64_t id;
    char err[256];
    (void)state;
    make_prompts();
    const int64_t V = sc_model_config_of(m)->vocab_size;
    float *lg = malloc((size_t)V * sizeof(float));
    assert_non_null(lg);
    assert_int_equal(sc_model_forward(m, 0, g_prompts[3], (int)g_plen[3], lg, false), SC_OK);
    sc_model_seq_reset(m, 0);
    double mx = -1e30, sum = 0;
    for (int64_t i = 0; i < V; i++) mx = lg[i] > mx ? lg[i] : mx;
    for (int64_t i = 0; i < V; i++) sum += exp(lg[i] - mx);
    int32_t best = 0;
    for (int64_t i = 1; i < V; i++) if (lg[i] > lg[best]) best = (int32_t)i;
    double want = lg[best] - mx - log(sum);

    assert_int_equal(sc_engine_create(m, NULL, NULL, &e, err, sizeof err), SC_OK);
    sc_engine_request q;
    sc_engine_request_default(&q);
    q.prompt = g_prompts[3];
    q.n_prompt = g_plen[3];
    q.max_tokens = 5;
    q.logprobs = 5;
    q.callback = on_out;
    q.user = &got;
    memset(&got, 0, sizeof got);
    assert_int_equal(sc_engine_add_request(e, &q, &id, err, sizeof err), SC_OK);
    drain(e);
    assert_int_equal(got.n, 5);
    assert_int_equal(got.n_after, 0); /* sorted */
    assert_int_equal(got.toks[0], best);
    assert_true(fabs(got.lp[0] - want) < 1e-4);
    for (int t = 0; t < 5; t++) {
        assert_int_equal(got.n_top[t], 5);
        assert_int_equal(got.top0[t], got.toks[t]); /* greedy */
        assert_true(fabs(got.top0_lp[t] - got.lp[t]) < 1e-6);
        assert_true(got.lp[t] <= 0.0f);
    }
    q.logprobs = 21;
    assert_int_equal(sc_engine_add_request(e, &q, &id, err, sizeof err), SC_EINVAL);
    sc_engine_destroy(e);
    free(lg);
    sc_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batched_equals_alone),
        cmocka_unit_test(test_chunked_prefill),
        cmocka_unit_test(test_more_than_max_seqs),
        cmocka_unit_test(test_decode_fairness),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_preemption),
        cmocka_unit_test(test_hybrid_model),
        cmocka_unit_test(test_prefix_cache),
        cmocka_unit_test(test_logprobs),
        cmocka_unit_test(test_bench),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

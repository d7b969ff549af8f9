/*
 * core/src/serve.c - sc_server_t: the sc_serve_api table a frontend plugin
 * drives, over one continuous-batching engine stepped by one worker thread.
 *
 * The engine allows adds and cancels from any thread while one thread steps,
 * so the API functions call it directly; the worker only steps. It sleeps on
 * a condition variable while the engine has nothing to do; submit and cancel
 * wake it. has_work is checked under the same mutex the wakers signal under,
 * so a wakeup between the check and the wait cannot be lost.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "internal.h"
#include "strixcore/sampler.h"
#include "strixcore/serve.h"

struct sc_server {
    sc_serve_api api;
    sc_model_t *model;
    const sc_tokenizer_t *tok;
    const sc_chat_template_t *tmpl;
    sc_generation_config gen;
    bool have_gen;
    sc_engine_t *engine;
    char *model_name;
    char *defaults_json;
    char *bos_token, *eos_token;  /* for the chat template; NULL when unknown */
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;                /* under mu */
    atomic_uint_fast64_t seed_counter;
};

/* What the engine callback needs to turn its output into sc_serve_output:
 * one per request, freed with the request's last output. */
typedef struct serve_req {
    sc_serve_output_fn on_output;
    void *user;
} serve_req;

static int32_t map_finish(sc_finish f) {
    switch (f) {
    case SC_FINISH_NONE: return SC_SERVE_RUNNING;
    case SC_FINISH_EOS: return SC_SERVE_EOS;
    case SC_FINISH_STOP: return SC_SERVE_STOP;
    case SC_FINISH_LENGTH: return SC_SERVE_LENGTH;
    default: return SC_SERVE_ABORT;
    }
}

static void on_engine(const sc_engine_output *eo, void *user) {
    serve_req *r = user;
    sc_serve_output out;
    memset(&out, 0, sizeof(out));
    out.struct_size = sizeof(out);
    out.request_id = eo->request_id;
    out.token = eo->token;
    out.text = eo->text ? eo->text : "";
    out.text_len = eo->text ? eo->len : 0;
    out.finish = map_finish(eo->finish);
    out.prompt_tokens = eo->n_prompt;
    out.completion_tokens = eo->n_generated;
    out.cached_tokens = eo->n_cached;
    out.logprob = eo->logprob;
    out.n_top = eo->n_top;
    out.top_ids = eo->top_ids;
    out.top_logprobs = eo->top_logprobs;
    if (r->on_output)
        r->on_output(r->user, &out);
    if (eo->finish != SC_FINISH_NONE)
        free(r);
}

static void wake(sc_server_t *s) {
    pthread_mutex_lock(&s->mu);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void *worker(void *arg) {
    sc_server_t *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->stopping && !sc_engine_has_work(s->engine))
            pthread_cond_wait(&s->cv, &s->mu);
        bool stop = s->stopping;
        pthread_mutex_unlock(&s->mu);
        if (stop)
            break;
        int rc = sc_engine_step(s->engine);
        /* A failed step has already aborted its batch's requests; the
         * server keeps serving the others. */
        if (rc < 0)
            sc_log(SC_LOG_WARN, "serve", "engine step failed: %s", sc_strerror(rc));
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* the sc_serve_api functions                                                */
/* ------------------------------------------------------------------------ */
static int api_tokenize(void *ctx, const char *text, size_t len, bool parse_special, int32_t **ids, size_t *n_ids) {
    sc_server_t *s = ctx;
    if (!text || !ids || !n_ids)
        return SC_EINVAL;
    return sc_tokenizer_encode(s->tok, text, len, parse_special, ids, n_ids);
}

static int api_detokenize(void *ctx, const int32_t *ids, size_t n, bool skip_special, char **text, size_t *len) {
    sc_server_t *s = ctx;
    if ((!ids && n) || !text || !len)
        return SC_EINVAL;
    return sc_tokenizer_decode(s->tok, ids, n, skip_special, text, len);
}

static int api_apply_chat_template(void *ctx, const char *vars_json, char **text, size_t *len, char *err,
                                   size_t err_len) {
    sc_server_t *s = ctx;
    json_error_t jerr;
    json_t *vars;
    char *dumped;
    int rc;
    if (!vars_json || !text || !len)
        return sc__errf(err, err_len, SC_EINVAL, "no template variables");
    if (!s->tmpl)
        return sc__errf(err, err_len, SC_ENOTSUP, "the model has no chat template");
    vars = json_loads(vars_json, JSON_DECODE_ANY, &jerr);
    if (!vars || !json_is_object(vars)) {
        json_decref(vars);
        return sc__errf(err, err_len, SC_EINVAL, "template variables are not a JSON object");
    }
    /* The frontend merged everything else; only the tokenizer's special
     * tokens are the core's to add (templates use them), never over a
     * value the caller set. */
    if (s->bos_token && !json_object_get(vars, "bos_token"))
        json_object_set_new(vars, "bos_token", json_string(s->bos_token));
    if (s->eos_token && !json_object_get(vars, "eos_token"))
        json_object_set_new(vars, "eos_token", json_string(s->eos_token));
    dumped = json_dumps(vars, JSON_COMPACT);
    json_decref(vars);
    if (!dumped)
        return sc__errf(err, err_len, SC_ENOMEM, "out of memory");
    rc = sc_chat_template_render(s->tmpl, dumped, text, len, err, err_len);
    free(dumped);
    return rc;
}

/* A fresh seed per unseeded request: the clock and a counter through
 * splitmix64, so two requests in the same nanosecond still differ. */
static uint64_t fresh_seed(sc_server_t *s) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t z = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^
                 (atomic_fetch_add(&s->seed_counter, 1) * 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int api_submit(void *ctx, const sc_serve_request *req, uint64_t *request_id, char *err, size_t err_len) {
    sc_server_t *s = ctx;
    sc_engine_request er;
    int32_t eos[SC_MAX_EOS + 64], *eos_buf = eos;
    size_t n_eos = 0;
    serve_req *r;
    int rc;

    if (!req || !req->prompt || req->n_prompt == 0)
        return sc__errf(err, err_len, SC_EINVAL, "empty prompt");
    if (req->n_stop_token_ids < 0 || (req->n_stop_token_ids > 0 && !req->stop_token_ids) || req->n_stop < 0)
        return sc__errf(err, err_len, SC_EINVAL, "bad stop_token_ids or stop");
    sc_engine_request_default(&er);
    er.prompt = req->prompt;
    er.n_prompt = req->n_prompt;
    if (SC_HAS_FIELD(&req->sampling, sc_serve_sampling, has_seed)) {
        const sc_serve_sampling *sp = &req->sampling;
        er.sampling.temperature = sp->temperature;
        er.sampling.top_p = sp->top_p;
        er.sampling.top_k = sp->top_k;
        er.sampling.min_p = sp->min_p;
        er.sampling.repetition_penalty = sp->repetition_penalty;
        er.sampling.presence_penalty = sp->presence_penalty;
        er.sampling.frequency_penalty = sp->frequency_penalty;
        er.sampling.seed = sp->has_seed ? sp->seed : fresh_seed(s);
    } else {
        /* a caller that left sampling unset: greedy defaults */
        er.sampling.seed = fresh_seed(s);
    }
    if ((rc = sc_sampler_params_check(&er.sampling, err, err_len)) < 0)
        return rc;
    er.max_tokens = req->max_tokens;
    er.stop = req->stop;
    er.n_stop = req->n_stop;
    er.include_stop_str = req->include_stop_str;
    /* eos ids: generation_config.json's, then the request's extra ones */
    n_eos = (s->have_gen ? (size_t)s->gen.n_eos : 0) + (size_t)req->n_stop_token_ids;
    if (n_eos > SC_ARRAY_LEN(eos) && !(eos_buf = malloc(n_eos * sizeof(*eos_buf))))
        return sc__errf(err, err_len, SC_ENOMEM, "out of memory");
    n_eos = 0;
    for (int i = 0; s->have_gen && i < s->gen.n_eos; i++)
        eos_buf[n_eos++] = s->gen.eos_ids[i];
    for (int i = 0; i < req->n_stop_token_ids; i++)
        eos_buf[n_eos++] = req->stop_token_ids[i];
    er.eos_ids = eos_buf;
    er.n_eos = (int)n_eos;
    er.ignore_eos = req->ignore_eos;
    er.skip_special = req->skip_special;
    er.callback = on_engine;
    /* an older frontend's struct has no logprobs field: none */
    er.logprobs = SC_HAS_FIELD(req, sc_serve_request, logprobs) ? req->logprobs : -1;
    if (er.logprobs < -1 || er.logprobs > SC_SERVE_MAX_LOGPROBS) {
        if (eos_buf != eos) free(eos_buf);
        return sc__errf(err, err_len, SC_EINVAL, "logprobs must be -1 (none) or from 0 to %d",
                        SC_SERVE_MAX_LOGPROBS);
    }

    if (!(r = calloc(1, sizeof(*r)))) {
        if (eos_buf != eos) free(eos_buf);
        return sc__errf(err, err_len, SC_ENOMEM, "out of memory");
    }
    r->on_output = req->on_output;
    r->user = req->user;
    er.user = r;
    uint64_t id = 0;
    rc = sc_engine_add_request(s->engine, &er, &id, err, err_len);
    if (eos_buf != eos) free(eos_buf);
    if (rc < 0) {
        free(r); /* no callback fires after a failed add */
        return rc;
    }
    if (request_id)
        *request_id = id;
    wake(s);
    return SC_OK;
}

static int api_cancel(void *ctx, uint64_t request_id) {
    sc_server_t *s = ctx;
    int rc = sc_engine_cancel(s->engine, request_id);
    if (rc == SC_OK)
        wake(s); /* the abort output is delivered by the next step */
    return rc;
}

static void api_stats(void *ctx, sc_serve_stats *out) {
    sc_server_t *s = ctx;
    sc_engine_stats es;
    size_t size;
    sc_serve_stats st;
    if (!out)
        return;
    size = out->struct_size && out->struct_size < sizeof(st) ? out->struct_size : sizeof(st);
    sc_engine_stats_get(s->engine, &es);
    memset(&st, 0, sizeof(st));
    st.struct_size = size;
    st.running = es.running;
    st.waiting = es.waiting;
    st.kv_blocks_free = es.kv_blocks_free;
    st.kv_blocks_total = es.kv_blocks_total;
    st.prompt_tokens = es.prompt_tokens;
    st.generation_tokens = es.generation_tokens;
    st.finished = es.finished;
    st.preemptions = es.preemptions;
    st.prefix_cache_queries = es.prefix_queries;
    st.prefix_cache_hits = es.prefix_hits;
    st.max_num_seqs = es.max_num_seqs;
    st.block_size = es.block_size;
    st.ended_stop = es.ended_stop;
    st.ended_length = es.ended_length;
    st.ended_abort = es.ended_abort;
    memcpy(out, &st, size); /* an older caller's shorter struct is written only up to its size */
}

/* ------------------------------------------------------------------------ */
/* setup                                                                     */
/* ------------------------------------------------------------------------ */
/* A special token of tokenizer_config.json: a string, or {"content": ...}. */
static char *config_token(json_t *cfg, const char *key) {
    json_t *v = json_object_get(cfg, key);
    if (json_is_object(v))
        v = json_object_get(v, "content");
    return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

static char *token_text(const sc_tokenizer_t *tok, int32_t id) {
    size_t len = 0;
    const char *b = id >= 0 ? sc_tokenizer_token_bytes(tok, id, &len) : NULL;
    char *t;
    if (!b || !(t = malloc(len + 1)))
        return NULL;
    memcpy(t, b, len);
    t[len] = '\0';
    return t;
}

static void load_special_tokens(sc_server_t *s, const char *dir) {
    if (dir) {
        size_t n = strlen(dir) + sizeof("/tokenizer_config.json");
        char *path = malloc(n);
        if (path) {
            snprintf(path, n, "%s/tokenizer_config.json", dir);
            json_t *cfg = json_load_file(path, 0, NULL); /* absent or broken: fall back below */
            free(path);
            if (cfg) {
                s->bos_token = config_token(cfg, "bos_token");
                s->eos_token = config_token(cfg, "eos_token");
                json_decref(cfg);
            }
        }
    }
    /* No tokenizer_config.json: the generation config's ids, as `run` does. */
    if (s->have_gen && !s->bos_token)
        s->bos_token = token_text(s->tok, s->gen.bos_token_id);
    if (s->have_gen && !s->eos_token && s->gen.n_eos > 0)
        s->eos_token = token_text(s->tok, s->gen.eos_ids[0]);
}

static char *defaults_json(const sc_server_t *s) {
    sc_sampler_params p;
    sc_sampler_params_default(&p);
    if (s->have_gen)
        sc_sampler_params_from_gen(&p, &s->gen);
    json_t *o = json_pack("{s:f, s:f, s:i, s:f, s:f}", "temperature", (double)p.temperature, "top_p",
                          (double)p.top_p, "top_k", (int)p.top_k, "min_p", (double)p.min_p,
                          "repetition_penalty", (double)p.repetition_penalty);
    char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return txt;
}

int sc_server_create(sc_model_t *m, const sc_tokenizer_t *tok, const sc_chat_template_t *tmpl,
                     const sc_generation_config *gen, const sc_server_opts *opts, sc_server_t **out, char *err,
                     size_t err_len) {
    sc_server_opts o;
    sc_engine_opts eo;
    sc_server_t *s;
    int rc;

    if (!out)
        return sc__errf(err, err_len, SC_EINVAL, "no output pointer");
    *out = NULL;
    if (!m || !tok)
        return sc__errf(err, err_len, SC_EINVAL, "a server needs a model and a tokenizer");
    memset(&o, 0, sizeof(o));
    if (opts)
        memcpy(&o, opts, opts->struct_size && opts->struct_size < sizeof(o) ? opts->struct_size : sizeof(o));
    if (!(s = calloc(1, sizeof(*s))))
        return sc__errf(err, err_len, SC_ENOMEM, "out of memory");
    s->model = m;
    s->tok = tok;
    s->tmpl = tmpl;
    if (gen) {
        s->gen = *gen;
        s->have_gen = true;
    }
    atomic_init(&s->seed_counter, 0);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->model_name = strdup(o.model_name ? o.model_name : "model");
    s->defaults_json = defaults_json(s);
    if (!s->model_name || !s->defaults_json) {
        sc_server_destroy(s);
        return sc__errf(err, err_len, SC_ENOMEM, "out of memory");
    }
    load_special_tokens(s, o.model_dir);

    memset(&eo, 0, sizeof(eo));
    eo.struct_size = sizeof(eo);
    eo.max_num_seqs = o.max_num_seqs;
    eo.max_num_batched_tokens = o.max_num_batched_tokens;
    eo.prefix_caching = o.prefix_caching;
    eo.max_waiting = o.max_waiting;
    if ((rc = sc_engine_create(m, tok, &eo, &s->engine, err, err_len)) < 0) {
        sc_server_destroy(s);
        return rc;
    }
    if (pthread_create(&s->thread, NULL, worker, s) != 0) {
        sc_server_destroy(s);
        return sc__errf(err, err_len, SC_ENOMEM, "cannot start the engine thread");
    }
    s->thread_started = true;

    s->api.struct_size = sizeof(s->api);
    s->api.ctx = s;
    s->api.model_name = s->model_name;
    s->api.max_model_len = sc_model_max_len(m);
    s->api.generation_defaults_json = s->defaults_json;
    s->api.tokenize = api_tokenize;
    s->api.detokenize = api_detokenize;
    s->api.apply_chat_template = api_apply_chat_template;
    s->api.submit = api_submit;
    s->api.cancel = api_cancel;
    s->api.stats = api_stats;
    *out = s;
    return SC_OK;
}

const sc_serve_api *sc_server_api(sc_server_t *s) { return s ? &s->api : NULL; }

void sc_server_destroy(sc_server_t *s) {
    if (!s)
        return;
    if (s->thread_started) {
        pthread_mutex_lock(&s->mu);
        s->stopping = true;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
    }
    /* after the join: nobody steps, so destroy may deliver the aborts */
    sc_engine_destroy(s->engine);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s->model_name);
    free(s->defaults_json);
    free(s->bos_token);
    free(s->eos_token);
    free(s);
}

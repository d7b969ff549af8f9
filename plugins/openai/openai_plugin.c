/*
 * plugins/openai/openai_plugin.c - the OpenAI-compatible HTTP frontend
 * plugin ("openai", SC_PLUGIN_FRONTEND, ABI minor 2): entry points,
 * settings, routing (CORS, then auth, then the route) and the small routes.
 * Chat and text completions are in openai_generate.c.
 *
 * Threads: run() owns a private libuv loop; every HTTP callback and every
 * piece of per-request state lives on that loop thread. The engine delivers
 * output on its own thread, so generation copies each piece and hands it to
 * the loop with sc_http_post(). stop() may come from any thread (SIGTERM): it
 * posts the shutdown onto the loop as well.
 *
 * Like every plugin it links nothing from the core: the host table (logging,
 * version) and the sc_serve_api table passed to run() are all it uses.
 */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <uv.h>

#include "openai_internal.h"
#include "oai_cors.h"
#include "oai_llama.h"

const sc_host_api *oai_host;

/* ---------------------------------------------------------------- helpers */

void oai_respond_json(sc_http_req_t *req, int status, json_t *body) {
    char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (s) {
        sc_http_respond(req, status, "application/json", s, strlen(s), NULL, 0);
    } else {
        /* allocation failed: still finish the request, it must not leak */
        static const char oom[] = "{\"error\":\"out of memory\"}";
        sc_http_respond(req, 500, "application/json", oom, sizeof oom - 1, NULL, 0);
    }
    free(s);
    json_decref(body);
}

void oai_respond_err(plugin_t *p, sc_http_req_t *req, int status, const char *msg, const char *param) {
    oai_respond_json(req, status, oai_error_body(p->flavor, status, NULL, msg, param));
}

/* Constant-time over the candidate key: no early exit on the first differing
 * byte, so response timing does not reveal how much of a key matched. */
static bool ct_equal(const char *a, size_t la, const char *b, size_t lb) {
    unsigned diff = (unsigned)(la ^ lb);
    for (size_t i = 0; i < lb; i++) {
        unsigned char ca = i < la ? (unsigned char)a[i] : 0;
        diff |= (unsigned)(ca ^ (unsigned char)b[i]);
    }
    return diff == 0;
}

static bool authorized(plugin_t *p, sc_http_req_t *req) {
    const char *tok = NULL;
    const char *h = sc_http_req_header(req, "Authorization");
    if (h && strncasecmp(h, "Bearer ", 7) == 0) {
        tok = h + 7;
        while (*tok == ' ') tok++;
    } else if (p->flavor == OAI_FLAVOR_LLAMA) {
        tok = sc_http_req_header(req, "X-Api-Key"); /* llama-server accepts it too */
    }
    if (!tok) return false;
    bool ok = false;
    size_t lt = strlen(tok);
    for (size_t i = 0; i < p->set.n_keys; i++) ok |= ct_equal(tok, lt, p->set.keys[i], strlen(p->set.keys[i]));
    return ok;
}

/* vLLM guards only /v1 paths; llama-server guards everything but its public
 * endpoints. Neither asks a CORS preflight (OPTIONS) for a key: browsers
 * send none. */
static bool needs_key(plugin_t *p, const char *method, const char *path) {
    if (p->set.n_keys == 0 || strcmp(method, "OPTIONS") == 0) return false;
    if (p->flavor == OAI_FLAVOR_LLAMA)
        return strcmp(path, "/health") && strcmp(path, "/v1/health") && strcmp(path, "/models") &&
               strcmp(path, "/v1/models");
    return strncmp(path, "/v1", 3) == 0;
}

/* CORS before anything else: a preflight is answered here (no auth, no
 * route); otherwise the headers ride on whatever response follows. Returns
 * true when the request has been answered. */
static bool apply_cors(plugin_t *p, sc_http_req_t *req, const char *method) {
    oai_cors_result_t cr;
    if (oai_cors_apply(&p->set.cors, method, sc_http_req_header(req, "Origin"),
                       sc_http_req_header(req, "Access-Control-Request-Method"),
                       sc_http_req_header(req, "Access-Control-Request-Headers"),
                       sc_http_req_header(req, "Cookie") != NULL, &cr) != SC_OK)
        return false; /* out of memory: serve without CORS headers */
    bool answered = false;
    if (cr.status) {
        sc_http_header h[OAI_CORS_MAX_HEADERS];
        for (size_t i = 0; i < cr.n; i++) h[i] = (sc_http_header){ cr.h[i].name, cr.h[i].value };
        if (sc_http_respond(req, cr.status, cr.content_type, cr.body, strlen(cr.body), h, cr.n) == SC_EINVAL)
            sc_http_respond(req, 400, "text/plain; charset=utf-8", "Disallowed CORS headers", 23, NULL, 0);
        answered = true;
    } else {
        /* An origin with CR/LF cannot be echoed; the header is just left out. */
        for (size_t i = 0; i < cr.n; i++) sc_http_req_add_header(req, cr.h[i].name, cr.h[i].value);
    }
    oai_cors_result_free(&cr);
    return answered;
}

static void get_stats(plugin_t *p, sc_serve_stats *st) {
    memset(st, 0, sizeof *st);
    st->struct_size = sizeof *st;
    p->api->stats(p->api->ctx, st);
}

/* Slots: the core's max_num_seqs, else the configured one, else 1. */
static int32_t total_slots(plugin_t *p, const sc_serve_stats *st) {
    if (SC_HAS_FIELD(st, sc_serve_stats, max_num_seqs) && st->max_num_seqs > 0) return st->max_num_seqs;
    return p->set.max_num_seqs > 0 ? p->set.max_num_seqs : 1;
}

/* ------------------------------------------------------------ routes */

static json_t *body_json(sc_http_req_t *req, plugin_t *p) {
    size_t len = 0;
    const char *b = sc_http_req_body(req, &len);
    json_error_t je;
    json_t *j = json_loadb(b ? b : "", len, 0, &je);
    if (!j || !json_is_object(j)) {
        oai_err_t e;
        memset(&e, 0, sizeof e);
        if (j) oai_err_set(&e, 400, "", "the body must be a JSON object");
        else oai_err_from_json_load(&e, &je);
        json_decref(j);
        oai_respond_json(req, e.status ? e.status : 400, oai_error_from(p->flavor, &e));
        return NULL;
    }
    return j;
}

static void handle_tokenize(plugin_t *p, sc_http_req_t *req) {
    json_t *b = body_json(req, p);
    if (!b) return;
    const sc_serve_api *api = p->api;
    const char *model = json_string_value(json_object_get(b, "model"));
    int32_t *ids = NULL;
    size_t n = 0;
    int rc;
    char err[512] = "";
    if (model && strcmp(model, p->model) != 0) {
        oai_respond_json(req, 404, oai_error_model_not_found(p->flavor, model));
        goto out;
    }
    json_t *prompt = json_object_get(b, "prompt");
    if (json_is_string(prompt)) {
        json_t *as = json_object_get(b, "add_special_tokens");
        bool special = as ? json_is_true(as) : true;
        rc = api->tokenize(api->ctx, json_string_value(prompt), json_string_length(prompt), special, &ids, &n);
    } else if (json_is_array(json_object_get(b, "messages"))) {
        oai_request_t r;
        memset(&r, 0, sizeof r);
        oai_err_t e;
        memset(&e, 0, sizeof e);
        rc = oai_request_parse(&r, OAI_REQ_CHAT, b, &p->defaults, &e);
        if (rc != SC_OK) {
            oai_respond_json(req, e.status ? e.status : 400, oai_error_from(p->flavor, &e));
            goto out;
        }
        bool in_r = false;
        rc = oai_chat_prompt(p, &r, &ids, &n, &in_r, err, sizeof err);
        oai_request_free(&r);
    } else {
        oai_respond_err(p, req, 400, "either 'prompt' or 'messages' is required", "prompt");
        goto out;
    }
    if (rc != SC_OK) { oai_respond_err(p, req, 400, err[0] ? err : "tokenization failed", NULL); goto out; }
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) json_array_append_new(arr, json_integer(ids[i]));
    oai_respond_json(req, 200, json_pack("{s:I, s:I, s:o, s:n}", "count", (json_int_t)n, "max_model_len",
                                     (json_int_t)api->max_model_len, "tokens", arr, "token_strs"));
    oai_host->free(ids);
out:
    json_decref(b);
}

static void handle_detokenize(plugin_t *p, sc_http_req_t *req) {
    json_t *b = body_json(req, p);
    if (!b) return;
    const sc_serve_api *api = p->api;
    json_t *toks = json_object_get(b, "tokens");
    const char *model = json_string_value(json_object_get(b, "model"));
    if (model && strcmp(model, p->model) != 0) {
        oai_respond_json(req, 404, oai_error_model_not_found(p->flavor, model));
    } else if (!json_is_array(toks)) {
        oai_respond_err(p, req, 400, "'tokens' must be an array of integers", "tokens");
    } else {
        size_t n = json_array_size(toks);
        int32_t *ids = calloc(n ? n : 1, sizeof *ids);
        bool ok = ids != NULL;
        for (size_t i = 0; ok && i < n; i++) {
            json_t *v = json_array_get(toks, i);
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX) ok = false;
            else ids[i] = (int32_t)json_integer_value(v);
        }
        char *text = NULL;
        size_t tl = 0;
        if (!ok) oai_respond_err(p, req, 400, "'tokens' must be an array of token ids", "tokens");
        else if (api->detokenize(api->ctx, ids, n, false, &text, &tl) != SC_OK)
            oai_respond_err(p, req, 400, "detokenization failed", "tokens");
        else {
            oai_respond_json(req, 200, json_pack("{s:s%}", "prompt", text ? text : "", text ? tl : (size_t)0));
            oai_host->free(text);
        }
        free(ids);
    }
    json_decref(b);
}

static void handle_models(plugin_t *p, sc_http_req_t *req) {
    json_t *card = oai_model_card(p->model, p->model, p->created, p->api->max_model_len,
                                  p->flavor == OAI_FLAVOR_LLAMA ? "llamacpp" : "vllm");
    json_t *cards = json_array();
    if (cards && card) json_array_append_new(cards, card);
    else json_decref(card);
    oai_respond_json(req, 200, cards ? oai_model_list(cards) : NULL);
}

static void handle_metrics(plugin_t *p, sc_http_req_t *req) {
    sc_serve_stats st;
    get_stats(p, &st);
    oai_metrics_t m;
    memset(&m, 0, sizeof m);
    m.model_name = p->model;
    m.engine = "0";
    m.num_requests_running = st.running;
    m.num_requests_waiting = st.waiting;
    m.kv_cache_usage_perc = st.kv_blocks_total > 0
        ? 1.0 - (double)st.kv_blocks_free / (double)st.kv_blocks_total : 0.0;
    m.prompt_tokens_total = st.prompt_tokens;
    m.generation_tokens_total = st.generation_tokens;
    if (SC_HAS_FIELD(&st, sc_serve_stats, prefix_cache_hits)) {
        m.num_preemptions_total = st.preemptions;
        m.prefix_cache_queries_total = st.prefix_cache_queries;
        m.prefix_cache_hits_total = st.prefix_cache_hits;
    }
    m.llama = p->flavor == OAI_FLAVOR_LLAMA;
    if (SC_HAS_FIELD(&st, sc_serve_stats, ended_abort)) {
        /* the core's counts agree with the gauges above: a request that has
         * left num_requests_running is already counted */
        m.request_success[OAI_FINISH_STOP] = st.ended_stop;
        m.request_success[OAI_FINISH_LENGTH] = st.ended_length;
        m.request_success[OAI_FINISH_ABORT] = st.ended_abort;
    } else {
        /* an older core: the loop's own counts, a moment behind the gauges */
        memcpy(m.request_success, p->success, sizeof m.request_success);
    }
    m.ttft = (oai_histogram_t){ oai_ttft_buckets, oai_ttft_n_buckets, p->ttft_counts, p->ttft_sum };
    m.e2e = (oai_histogram_t){ oai_e2e_buckets, oai_e2e_n_buckets, p->e2e_counts, p->e2e_sum };
    char *txt = oai_metrics_render(&m);
    if (!txt) { oai_respond_err(p, req, 500, "out of memory", NULL); return; }
    sc_http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", txt, strlen(txt), NULL, 0);
    free(txt);
}

static void llama_info(plugin_t *p, const sc_serve_stats *st, oai_llama_info_t *in, char *build, size_t cap) {
    snprintf(build, cap, "strixcore-%s", oai_host->core_version ? oai_host->core_version : OAI_PLUGIN_VERSION);
    memset(in, 0, sizeof *in);
    in->n_ctx = p->api->max_model_len;
    in->total_slots = total_slots(p, st);
    in->busy_slots = st->running < in->total_slots ? st->running : in->total_slots;
    in->model_path = p->set.model_path ? p->set.model_path : p->model;
    in->model_alias = p->model;
    in->chat_template = ""; /* the serving table does not expose the template source */
    in->build_info = build;
    in->defaults = &p->defaults;
    in->slots_endpoint = p->set.slots_endpoint;
}

static void handle_props(plugin_t *p, sc_http_req_t *req) {
    sc_serve_stats st;
    get_stats(p, &st);
    oai_llama_info_t in;
    char build[96];
    llama_info(p, &st, &in, build, sizeof build);
    oai_respond_json(req, 200, oai_llama_props(&in));
}

/* llama-server treats any non-empty value of a query parameter as set. */
static bool query_flag(const char *q, const char *name) {
    size_t n = strlen(name);
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len > n + 1 && strncmp(q, name, n) == 0 && q[n] == '=') return true;
        q = amp ? amp + 1 : NULL;
    }
    return false;
}

static void handle_slots(plugin_t *p, sc_http_req_t *req) {
    if (!p->set.slots_endpoint) {
        oai_respond_err(p, req, 501, "This server does not support slots endpoint. Start it with `--slots`", NULL);
        return;
    }
    sc_serve_stats st;
    get_stats(p, &st);
    oai_llama_info_t in;
    char build[96];
    llama_info(p, &st, &in, build, sizeof build);
    if (query_flag(sc_http_req_query(req), "fail_on_no_slot") && in.busy_slots >= in.total_slots) {
        oai_respond_json(req, 503, oai_error_unavailable(p->flavor, "no slot available"));
        return;
    }
    oai_respond_json(req, 200, oai_llama_slots(&in));
}

static void handle_health(plugin_t *p, sc_http_req_t *req) {
    if (p->flavor == OAI_FLAVOR_LLAMA) oai_respond_json(req, 200, json_pack("{s:s}", "status", "ok"));
    else sc_http_respond(req, 200, NULL, "", 0, NULL, 0); /* vLLM: 200, empty body */
}

typedef enum { R_GET, R_POST } route_method_t;
typedef struct {
    route_method_t method;
    const char *path;
    bool llama_only;
    void (*fn)(plugin_t *p, sc_http_req_t *req);
} route_t;

static void handle_chat(plugin_t *p, sc_http_req_t *req) { oai_handle_generate(p, req, true); }
static void handle_completions(plugin_t *p, sc_http_req_t *req) { oai_handle_generate(p, req, false); }
static void handle_version(plugin_t *p, sc_http_req_t *req) {
    (void)p;
    oai_respond_json(req, 200, json_pack("{s:s}", "version",
                                         oai_host->core_version ? oai_host->core_version : OAI_PLUGIN_VERSION));
}

static const route_t routes[] = {
    { R_GET, "/health", false, handle_health },
    { R_GET, "/ping", false, handle_health },
    { R_GET, "/v1/health", true, handle_health },
    { R_GET, "/version", false, handle_version },
    { R_GET, "/v1/models", false, handle_models },
    { R_GET, "/models", true, handle_models },
    { R_POST, "/v1/chat/completions", false, handle_chat },
    { R_POST, "/v1/completions", false, handle_completions },
    { R_POST, "/tokenize", false, handle_tokenize },
    { R_POST, "/detokenize", false, handle_detokenize },
    { R_GET, "/metrics", false, handle_metrics },
    { R_GET, "/props", true, handle_props },
    { R_GET, "/slots", true, handle_slots },
};

static void handler(sc_http_req_t *req, void *user) {
    plugin_t *p = user;
    const char *m = sc_http_req_method(req);
    const char *path = sc_http_req_path(req);

    if (apply_cors(p, req, m)) return;
    if (p->stopping) {
        oai_respond_json(req, 503, oai_error_unavailable(p->flavor, "the server is shutting down"));
        return;
    }
    if (needs_key(p, m, path) && !authorized(p, req)) {
        oai_respond_json(req, 401, oai_error_unauthorized(p->flavor));
        return;
    }
    bool get = strcmp(m, "GET") == 0, post = strcmp(m, "POST") == 0, known = false;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const route_t *r = &routes[i];
        if (strcmp(path, r->path) != 0 || (r->llama_only && p->flavor != OAI_FLAVOR_LLAMA)) continue;
        if ((r->method == R_GET && get) || (r->method == R_POST && post)) {
            r->fn(p, req);
            return;
        }
        known = true;
    }
    if (known) oai_respond_err(p, req, 405, "Method Not Allowed", NULL);
    else oai_respond_err(p, req, 404, "Not Found", NULL);
}

/* ---------------------------------------------------------------- stop */

static void on_stopped(sc_http_server_t *srv, void *arg) { (void)srv; (void)arg; }

/* Loop thread: end every open request, cancel its generation, and stop the
 * server; uv_run() returns once every handle has closed. */
static void do_stop(void *arg) {
    plugin_t *p = arg;
    if (p->stopping) return;
    p->stopping = true;
    oai_jobs_stop(p);
    sc_http_server_stop(p->srv, on_stopped, p);
}

static void fe_stop(void *ctx) {
    plugin_t *p = ctx;
    pthread_mutex_lock(&p->mu);
    p->stop_requested = true;
    if (p->srv) sc_http_post(p->srv, do_stop, p);
    pthread_mutex_unlock(&p->mu);
}

/* ----------------------------------------------------------------- run */

static int errf(char *err, size_t n, int code, const char *msg) {
    if (err && n) snprintf(err, n, "%s", msg);
    return code;
}

static void free_settings(plugin_t *p) {
    oai_settings_free(&p->set);
    free(p->model);
    p->model = NULL;
    oai_tokcache_free(p);
    free(p->ttft_counts);
    free(p->e2e_counts);
    p->ttft_counts = p->e2e_counts = NULL;
}

static int setup(plugin_t *p, const sc_serve_api *api, const char *settings, char *err, size_t err_len) {
    int rc = oai_settings_parse(&p->set, settings, err, err_len);
    if (rc != SC_OK) return rc;
    p->flavor = p->set.flavor;
    const char *name = p->set.served_model_name ? p->set.served_model_name : api->model_name;
    p->model = strdup(name ? name : "model");
    p->tokcache = calloc(OAI_TOKCACHE, sizeof *p->tokcache);
    p->ttft_counts = calloc(oai_ttft_n_buckets + 1, sizeof *p->ttft_counts);
    p->e2e_counts = calloc(oai_e2e_n_buckets + 1, sizeof *p->e2e_counts);
    if (!p->model) return errf(err, err_len, SC_ENOMEM, "openai: out of memory");

    /* Server defaults: vLLM's, overridden by generation_config.json. */
    oai_defaults_init(&p->defaults);
    p->defaults.max_n = p->set.max_n;
    json_error_t je;
    json_t *g = api->generation_defaults_json ? json_loads(api->generation_defaults_json, 0, &je) : NULL;
    if (json_is_object(g)) {
        json_t *v;
        if (json_is_number(v = json_object_get(g, "temperature"))) p->defaults.temperature = json_number_value(v);
        if (json_is_number(v = json_object_get(g, "top_p"))) p->defaults.top_p = json_number_value(v);
        if (json_is_integer(v = json_object_get(g, "top_k"))) p->defaults.top_k = (int32_t)json_integer_value(v);
        if (json_is_number(v = json_object_get(g, "min_p"))) p->defaults.min_p = json_number_value(v);
        if (json_is_number(v = json_object_get(g, "repetition_penalty")))
            p->defaults.repetition_penalty = json_number_value(v);
    }
    json_decref(g);
    return SC_OK;
}

static int fe_run(void *ctx, const sc_serve_api *api, const char *settings_json, char *err, size_t err_len) {
    plugin_t *p = ctx;
    if (!api || !api->tokenize || !api->submit || !api->cancel || !api->stats || !api->detokenize ||
        !api->apply_chat_template)
        return errf(err, err_len, SC_EINVAL, "openai: incomplete serve table");
    p->api = api;
    int rc = setup(p, api, settings_json, err, err_len);
    if (rc != SC_OK) { free_settings(p); return rc; }
    p->created = (int64_t)time(NULL);
    uint64_t seed = 0;
    if (uv_random(NULL, NULL, &seed, sizeof seed, 0, NULL) != 0) seed = uv_hrtime() ^ (uint64_t)(uintptr_t)p;
    p->ids.state = seed;

    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) { free_settings(p); return errf(err, err_len, SC_EIO, "openai: uv_loop_init failed"); }
    sc_http_server_t *srv = NULL;
    rc = sc_http_server_create(&loop, NULL, handler, p, &srv);
    if (rc != SC_OK) {
        uv_loop_close(&loop);
        free_settings(p);
        return errf(err, err_len, rc, "openai: cannot create the HTTP server");
    }
    rc = sc_http_server_listen(srv, p->set.host, p->set.port);
    if (rc != SC_OK) {
        snprintf(err, err_len, "openai: cannot listen on %s:%d", p->set.host, p->set.port);
        sc_http_server_stop(srv, NULL, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        sc_http_server_destroy(srv);
        uv_loop_close(&loop);
        free_settings(p);
        return rc;
    }
    OAI_LOG(SC_LOG_INFO, "serving %s on http://%s:%d", p->model, p->set.host, sc_http_server_port(srv));
    pthread_mutex_lock(&p->mu);
    p->srv = srv;
    /* stop() may have come while we were starting up */
    if (p->stop_requested) sc_http_post(srv, do_stop, p);
    pthread_mutex_unlock(&p->mu);

    /* A write to a socket the client already closed raises SIGPIPE, whose
     * default action kills the process. Block it on this (the loop's) thread
     * only, leaving the host's signal handling alone; the write then fails
     * with EPIPE, which the server handles as a disconnect. */
    sigset_t pipe_set, old_mask;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    bool masked = pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask) == 0;

    uv_run(&loop, UV_RUN_DEFAULT);

    if (masked) {
        /* Swallow the SIGPIPEs left pending before unblocking (else the
         * first would kill the process now). */
        struct timespec zero = { 0, 0 };
        while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE) {}
        pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    }

    pthread_mutex_lock(&p->mu);
    p->srv = NULL; /* from here on engine outputs are dropped, not posted */
    pthread_mutex_unlock(&p->mu);
    sc_http_server_destroy(srv);
    uv_loop_close(&loop);
    /* Jobs still waiting for the engine's final outputs are freed by
     * on_output (their HTTP side is finished); those the engine never
     * finishes are left, rather than risk a use-after-free. */
    p->jobs = NULL;
    free_settings(p);
    p->stopping = false;
    p->stop_requested = false;
    return SC_OK;
}

/* ------------------------------------------------------- plugin entry */

static const sc_frontend_iface frontend = {
    .struct_size = sizeof(sc_frontend_iface),
    .run = fe_run,
    .stop = fe_stop,
};

static void plugin_shutdown(void *ctx) {
    plugin_t *p = ctx;
    if (!p) return;
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static sc_plugin_iface iface_storage;

SC_PLUGIN_EXPORT int strixcore_plugin_probe(const sc_host_api *host, sc_plugin_desc *desc) {
    oai_host = host;
    desc->abi_major = SC_ABI_MAJOR;
    desc->kind = SC_PLUGIN_FRONTEND;
    snprintf(desc->name, sizeof desc->name, "openai");
    snprintf(desc->version, sizeof desc->version, OAI_PLUGIN_VERSION);
    snprintf(desc->description, sizeof desc->description, "OpenAI / vLLM-compatible HTTP API (libuv)");
    if (desc->abi_minor < 2) { /* the frontend table needs minor 2 */
        desc->score = 0;
        snprintf(desc->reason, sizeof desc->reason, "the core does not speak ABI minor 2");
    } else {
        desc->abi_minor = 2;
        desc->score = 1;
    }
    return SC_OK;
}

SC_PLUGIN_EXPORT int strixcore_plugin_init(const sc_host_api *host, uint32_t abi_minor,
                                           const sc_plugin_iface **iface, void **ctx) {
    oai_host = host;
    if (abi_minor < 2) return SC_EABI;
    plugin_t *p = calloc(1, sizeof *p);
    if (!p) return SC_ENOMEM;
    if (pthread_mutex_init(&p->mu, NULL) != 0) { free(p); return SC_ENOMEM; }
    memset(&iface_storage, 0, sizeof iface_storage);
    iface_storage.struct_size = sizeof iface_storage;
    iface_storage.kind = SC_PLUGIN_FRONTEND;
    iface_storage.shutdown = plugin_shutdown;
    iface_storage.frontend = &frontend;
    *iface = &iface_storage;
    *ctx = p;
    return SC_OK;
}

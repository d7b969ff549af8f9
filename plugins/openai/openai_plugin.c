/*
 * plugins/openai/openai_plugin.c - the OpenAI-compatible HTTP frontend
 * plugin ("openai", SC_PLUGIN_FRONTEND, ABI minor 2).
 *
 * Threads: run() owns a private libuv loop; every HTTP callback and every
 * piece of per-request state lives on that loop thread. The engine delivers
 * output on its own thread, so on_output copies the piece and hands it to the
 * loop with sc_http_post(). stop() may come from any thread (SIGTERM): it
 * posts the shutdown onto the loop as well.
 *
 * Like every plugin it links nothing from the core: the host table (logging,
 * version) and the sc_serve_api table passed to run() are all it uses.
 */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <uv.h>

#include "strixcore/plugin.h"
#include "http_server.h"
#include "oai_buf.h"
#include "oai_errors.h"
#include "oai_metrics.h"
#include "oai_reasoning.h"
#include "oai_request.h"
#include "oai_response.h"
#include "oai_tools.h"

#define OAI_PLUGIN_VERSION "0.1.0"

static const sc_host_api *g_host;

#define LOG(lvl, ...) do { if (g_host && g_host->log) g_host->log(lvl, "openai", __VA_ARGS__); } while (0)

typedef struct job job_t;

typedef struct {
    /* fixed after run() has parsed the settings */
    const sc_serve_api *api;
    oai_flavor_t flavor;
    char *model;           /* served model name */
    char **keys;
    size_t n_keys;
    oai_defaults_t defaults;
    int64_t created;
    oai_idgen_t ids;

    /* srv is published under mu so engine threads and stop() never touch a
     * server that run() is tearing down. */
    pthread_mutex_t mu;
    sc_http_server_t *srv;
    bool stop_requested;   /* stop() before the server existed */
    bool stopping;         /* loop thread only */

    job_t *jobs;           /* open requests (loop thread only) */

    /* metrics (loop thread only) */
    uint64_t success[OAI_FINISH_COUNT];
    uint64_t *ttft_counts, *e2e_counts;
    double ttft_sum, e2e_sum;
} plugin_t;

/* One in-flight generation request. Freed when the engine's final output has
 * been seen AND the HTTP request has been finished. */
struct job {
    plugin_t *p;
    job_t *next, *prev;
    sc_http_req_t *http;   /* NULL once finished */
    bool chat, stream, include_usage, tools_on, engine_done, submitted;
    uint64_t request_id;
    char id[48];
    oai_resp_ctx_t rc;
    oai_reasoning_t rs;
    oai_buf_t content, reasoning;  /* accumulated (non-stream) or pending (stream) */
    json_t *tools;
    int64_t prompt_tokens, completion_tokens;
    int32_t finish;
    uint64_t t0, t_first;
};

/* A piece copied off the engine thread. */
typedef struct {
    job_t *job;
    int32_t finish;
    int64_t prompt_tokens, completion_tokens;
    size_t len;
    char text[];
} piece_t;

/* ---------------------------------------------------------------- helpers */

static int errf(char *err, size_t n, int code, const char *fmt, const char *a) {
    if (err && n) snprintf(err, n, fmt, a ? a : "");
    return code;
}

static void respond_json(sc_http_req_t *req, int status, json_t *body) {
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

static void respond_err(plugin_t *p, sc_http_req_t *req, int status, const char *msg, const char *param) {
    respond_json(req, status, oai_error_body(p->flavor, status, NULL, msg, param));
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
    if (p->n_keys == 0) return true;
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
    for (size_t i = 0; i < p->n_keys; i++) ok |= ct_equal(tok, lt, p->keys[i], strlen(p->keys[i]));
    return ok;
}

static const char *finish_str(int32_t f) {
    switch (f) {
    case SC_SERVE_LENGTH: return "length";
    case SC_SERVE_ABORT: return "abort";
    default: return "stop";
    }
}

static void job_unlink(job_t *j) {
    if (j->prev) j->prev->next = j->next; else if (j->p->jobs == j) j->p->jobs = j->next;
    if (j->next) j->next->prev = j->prev;
    j->next = j->prev = NULL;
}

static void job_free(job_t *j) {
    oai_buf_free(&j->content);
    oai_buf_free(&j->reasoning);
    json_decref(j->tools);
    free(j);
}

/* Called whenever one side finishes: frees once both have. */
static void job_maybe_free(job_t *j) {
    if (j->http == NULL && (j->engine_done || !j->submitted)) {
        job_unlink(j);
        job_free(j);
    }
}

static int sse_send(job_t *j, json_t *obj) {
    char *f = obj ? oai_sse_frame(obj) : NULL;
    json_decref(obj);
    if (!f) return SC_ENOMEM;
    int rc = sc_http_stream_write(j->http, f, strlen(f));
    free(f);
    return rc;
}

/* Ends an open stream with an error frame and [DONE] (server stopping). */
static void stream_abort(job_t *j, int status, const char *msg) {
    char *f = oai_sse_error_frame(j->p->flavor, status, msg);
    if (f) { sc_http_stream_write(j->http, f, strlen(f)); free(f); }
    sc_http_stream_write(j->http, OAI_SSE_DONE, strlen(OAI_SSE_DONE));
    sc_http_stream_end(j->http);
    j->http = NULL;
}

/* ------------------------------------------------------ engine -> loop */

static void on_disconnect(sc_http_req_t *req, void *arg) {
    job_t *j = arg;
    (void)req;
    /* The client is gone: free its KV cache now rather than generating into
     * the void (vLLM #54947, llama.cpp #24496). */
    if (j->submitted && !j->engine_done) j->p->api->cancel(j->p->api->ctx, j->request_id);
}

/* Tool calls (Qwen3 JSON style) out of the accumulated content. */
static void split_tools(job_t *j, json_t **calls, char **content) {
    *calls = NULL;
    *content = NULL;
    if (!j->tools_on || !j->content.data) return;
    if (oai_tools_parse(OAI_TOOLS_QWEN3_JSON, j->content.data, j->content.len, j->tools, &j->p->ids, calls,
                        content) < 0) {
        *calls = NULL;
        *content = NULL;
    }
}

static void finish_nonstream(job_t *j) {
    oai_usage_t u = { j->prompt_tokens, j->completion_tokens, 0 };
    oai_choice_t ch;
    memset(&ch, 0, sizeof ch);
    json_t *calls = NULL;
    char *rest = NULL;
    json_t *body;
    if (j->chat) {
        split_tools(j, &calls, &rest);
        bool have_calls = calls && json_array_size(calls) > 0;
        ch.content = have_calls ? rest : (j->content.data ? j->content.data : "");
        ch.reasoning = j->reasoning.len ? j->reasoning.data : NULL;
        ch.tool_calls = have_calls ? calls : NULL;
        ch.finish_reason = have_calls && j->finish != SC_SERVE_LENGTH ? "tool_calls" : finish_str(j->finish);
        body = oai_chat_completion(&j->rc, &ch, 1, &u);
    } else {
        ch.content = j->content.data ? j->content.data : "";
        ch.finish_reason = finish_str(j->finish);
        body = oai_text_completion(&j->rc, &ch, 1, &u);
    }
    respond_json(j->http, 200, body);
    j->http = NULL;
    json_decref(calls);
    free(rest);
}

static void finish_stream(job_t *j) {
    const char *fr = finish_str(j->finish);
    if (j->chat && j->tools_on) {
        /* Content was held back so a <tool_call> block never leaks as text. */
        json_t *calls = NULL;
        char *rest = NULL;
        split_tools(j, &calls, &rest);
        if (calls && json_array_size(calls) > 0) {
            if (rest) sse_send(j, oai_chunk_delta(&j->rc, 0, rest, NULL, NULL));
            json_t *d = oai_tool_call_deltas(calls);
            sse_send(j, oai_chunk_delta(&j->rc, 0, NULL, NULL, d));
            json_decref(d);
            if (j->finish != SC_SERVE_LENGTH) fr = "tool_calls";
        } else if (j->content.len) {
            sse_send(j, oai_chunk_delta(&j->rc, 0, j->content.data, NULL, NULL));
        }
        json_decref(calls);
        free(rest);
    }
    sse_send(j, j->chat ? oai_chunk_finish(&j->rc, 0, fr, NULL) : oai_text_chunk(&j->rc, 0, "", fr, NULL));
    if (j->include_usage) {
        oai_usage_t u = { j->prompt_tokens, j->completion_tokens, 0 };
        sse_send(j, oai_chunk_usage(&j->rc, &u));
    }
    sc_http_stream_write(j->http, OAI_SSE_DONE, strlen(OAI_SSE_DONE));
    sc_http_stream_end(j->http);
    j->http = NULL;
}

static void record_metrics(job_t *j) {
    plugin_t *p = j->p;
    uint64_t now = uv_hrtime();
    oai_finish_t f = j->finish == SC_SERVE_LENGTH ? OAI_FINISH_LENGTH
                   : j->finish == SC_SERVE_ABORT ? OAI_FINISH_ABORT : OAI_FINISH_STOP;
    p->success[f]++;
    if (p->e2e_counts) {
        oai_histogram_t h = { oai_e2e_buckets, oai_e2e_n_buckets, p->e2e_counts, p->e2e_sum };
        oai_histogram_observe(&h, (double)(now - j->t0) / 1e9);
        p->e2e_sum = h.sum;
    }
    if (p->ttft_counts && j->t_first) {
        oai_histogram_t h = { oai_ttft_buckets, oai_ttft_n_buckets, p->ttft_counts, p->ttft_sum };
        oai_histogram_observe(&h, (double)(j->t_first - j->t0) / 1e9);
        p->ttft_sum = h.sum;
    }
}

static void deliver(void *arg) {
    piece_t *pc = arg;
    job_t *j = pc->job;
    j->prompt_tokens = pc->prompt_tokens;
    j->completion_tokens = pc->completion_tokens;
    if (!j->t_first && pc->completion_tokens > 0) j->t_first = uv_hrtime();
    bool final = pc->finish != SC_SERVE_RUNNING;
    if (final) {
        j->engine_done = true;
        j->finish = pc->finish;
        record_metrics(j);
    }
    if (j->http && sc_http_req_disconnected(j->http)) {
        /* nobody is listening: only free the request once the engine is done */
        if (final) {
            if (j->stream) sc_http_stream_end(j->http);
            else sc_http_respond(j->http, 500, NULL, "", 0, NULL, 0);
            j->http = NULL;
        }
    } else if (j->http) {
        size_t c0 = j->content.len, r0 = j->reasoning.len;
        if (j->chat) {
            oai_reasoning_feed(&j->rs, pc->text, pc->len, &j->content, &j->reasoning);
            if (final) oai_reasoning_flush(&j->rs, &j->content, &j->reasoning);
        } else {
            oai_buf_append(&j->content, pc->text, pc->len);
        }
        if (j->stream) {
            if (j->chat) {
                const char *dc = j->content.len > c0 && !j->tools_on ? j->content.data + c0 : NULL;
                const char *dr = j->reasoning.len > r0 ? j->reasoning.data + r0 : NULL;
                if (dc || dr) sse_send(j, oai_chunk_delta(&j->rc, 0, dc, dr, NULL));
            } else if (j->content.len > c0) {
                sse_send(j, oai_text_chunk(&j->rc, 0, j->content.data + c0, NULL, NULL));
            }
            /* Streamed text is not needed again (unless tool parsing waits for it). */
            if (!j->tools_on) oai_buf_reset(&j->content);
            oai_buf_reset(&j->reasoning);
            if (final) finish_stream(j);
        } else if (final) {
            finish_nonstream(j);
        }
    }
    free(pc);
    if (final) job_maybe_free(j);
}

/* Engine thread. */
static void on_output(void *user, const sc_serve_output *out) {
    job_t *j = user;
    plugin_t *p = j->p;
    size_t len = out->text ? out->text_len : 0;
    piece_t *pc = malloc(sizeof *pc + len + 1);
    if (!pc) {
        /* Dropping a non-final piece loses text; dropping the final would
         * leak the request forever, so cancel to get another final. */
        if (out->finish == SC_SERVE_RUNNING) p->api->cancel(p->api->ctx, out->request_id);
        return;
    }
    pc->job = j;
    pc->finish = out->finish;
    pc->prompt_tokens = out->prompt_tokens;
    pc->completion_tokens = out->completion_tokens;
    pc->len = len;
    if (len) memcpy(pc->text, out->text, len);
    pc->text[len] = 0;
    pthread_mutex_lock(&p->mu);
    int rc = p->srv ? sc_http_post(p->srv, deliver, pc) : SC_ESTATE;
    pthread_mutex_unlock(&p->mu);
    if (rc != SC_OK) {
        /* The loop is gone (run() returned): the HTTP side was finished
         * during the stop, so the final piece may free the job here. */
        if (pc->finish != SC_SERVE_RUNNING && j->http == NULL) job_free(j);
        free(pc);
    }
}

/* ----------------------------------------------------------- generation */

/* Builds the template variables and renders + tokenizes the chat prompt. */
static int chat_prompt(plugin_t *p, oai_request_t *r, int32_t **ids, size_t *n, bool *in_reasoning,
                       char *err, size_t err_len) {
    const sc_serve_api *api = p->api;
    json_t *vars = json_object();
    if (!vars) return SC_ENOMEM;
    json_object_set(vars, "messages", r->messages);
    if (r->tools) json_object_set(vars, "tools", r->tools);
    json_object_set_new(vars, "add_generation_prompt", json_boolean(r->add_generation_prompt));
    if (r->template_kwargs) json_object_update(vars, r->template_kwargs);
    char *vj = json_dumps(vars, JSON_COMPACT);
    json_decref(vars);
    if (!vj) return SC_ENOMEM;
    char *text = NULL;
    size_t tl = 0;
    int rc = api->apply_chat_template(api->ctx, vj, &text, &tl, err, err_len);
    free(vj);
    if (rc != SC_OK) return rc;
    /* A template that ends inside <think> (Qwen3 thinking on) means the
     * output starts as reasoning. */
    size_t e = tl;
    while (e > 0 && (text[e - 1] == '\n' || text[e - 1] == ' ')) e--;
    *in_reasoning = e >= 7 && memcmp(text + e - 7, "<think>", 7) == 0;
    rc = api->tokenize(api->ctx, text, tl, true, ids, n);
    g_host->free(text);
    if (rc != SC_OK) snprintf(err, err_len, "tokenization failed: %s", g_host->strerror(rc));
    return rc;
}

static void handle_generate(plugin_t *p, sc_http_req_t *req, bool chat) {
    const sc_serve_api *api = p->api;
    size_t blen = 0;
    const char *body = sc_http_req_body(req, &blen);
    oai_request_t r;
    memset(&r, 0, sizeof r);
    oai_err_t e;
    memset(&e, 0, sizeof e);
    int rc = oai_request_parse_bytes(&r, chat ? OAI_REQ_CHAT : OAI_REQ_COMPLETION, body, blen, &p->defaults, &e);
    if (rc != SC_OK) {
        if (rc == SC_ENOMEM) respond_err(p, req, 500, "out of memory", NULL);
        else respond_json(req, e.status ? e.status : 400, oai_error_from(p->flavor, &e));
        return;
    }
    int32_t *ids = NULL;
    size_t n_ids = 0;
    bool ids_host = false, in_reasoning = false;
    char err[512] = "";
    job_t *j = NULL;
    if (r.model && strcmp(r.model, p->model) != 0) {
        respond_json(req, 404, oai_error_model_not_found(p->flavor, r.model));
        goto out;
    }
    if (r.n != 1) { respond_err(p, req, 400, "only n = 1 is supported", "n"); goto out; }
    if (chat) {
        rc = chat_prompt(p, &r, &ids, &n_ids, &in_reasoning, err, sizeof err);
        if (rc != SC_OK) { respond_err(p, req, 400, err[0] ? err : "chat template failed", "messages"); goto out; }
        ids_host = true;
    } else {
        if (r.n_prompts != 1) { respond_err(p, req, 400, "exactly one prompt is supported", "prompt"); goto out; }
        if (r.prompts[0].text) {
            rc = api->tokenize(api->ctx, r.prompts[0].text, strlen(r.prompts[0].text), true, &ids, &n_ids);
            if (rc != SC_OK) { respond_err(p, req, 400, "tokenization failed", "prompt"); goto out; }
            ids_host = true;
        } else {
            ids = r.prompts[0].tokens;
            n_ids = r.prompts[0].n_tokens;
        }
    }
    int64_t ctx_len = api->max_model_len;
    if (ctx_len > 0 && (int64_t)n_ids >= ctx_len) {
        respond_json(req, 400, oai_error_context_prompt(p->flavor, ctx_len, (int64_t)n_ids));
        goto out;
    }
    int64_t max_tokens = r.max_tokens;
    if (ctx_len > 0 && max_tokens > 0 && max_tokens > ctx_len - (int64_t)n_ids) {
        respond_json(req, 400, oai_error_context_max_tokens(p->flavor, max_tokens, ctx_len, (int64_t)n_ids));
        goto out;
    }
    if (max_tokens < 0) max_tokens = ctx_len > 0 ? ctx_len - (int64_t)n_ids : 0;

    j = calloc(1, sizeof *j);
    if (!j) { respond_err(p, req, 500, "out of memory", NULL); goto out; }
    j->p = p;
    j->chat = chat;
    j->stream = r.stream;
    j->include_usage = r.include_usage;
    j->t0 = uv_hrtime();
    oai_buf_init(&j->content);
    oai_buf_init(&j->reasoning);
    oai_reasoning_init(&j->rs, in_reasoning);
    bool choice_none = r.tool_choice && json_is_string(r.tool_choice) &&
                       strcmp(json_string_value(r.tool_choice), "none") == 0;
    if (chat && r.tools && json_array_size(r.tools) > 0 && !choice_none) {
        j->tools_on = true;
        j->tools = json_incref(r.tools);
    }
    oai_id_make(&p->ids, chat ? "chatcmpl-" : "cmpl-", j->id, sizeof j->id);
    j->rc.id = j->id;
    j->rc.model = p->model;
    j->rc.created = (int64_t)time(NULL);
    j->rc.flavor = p->flavor;
    j->rc.reasoning_field = OAI_REASONING_FIELD_AUTO;

    sc_serve_request sr;
    memset(&sr, 0, sizeof sr);
    sr.struct_size = sizeof sr;
    sr.prompt = ids;
    sr.n_prompt = n_ids;
    sr.sampling.struct_size = sizeof sr.sampling;
    sr.sampling.temperature = (float)r.temperature;
    sr.sampling.top_p = (float)r.top_p;
    sr.sampling.top_k = r.top_k;
    sr.sampling.min_p = (float)r.min_p;
    sr.sampling.repetition_penalty = (float)r.repetition_penalty;
    sr.sampling.presence_penalty = (float)r.presence_penalty;
    sr.sampling.frequency_penalty = (float)r.frequency_penalty;
    sr.sampling.seed = (uint64_t)r.seed;
    sr.sampling.has_seed = r.has_seed;
    sr.max_tokens = max_tokens;
    sr.stop = (const char *const *)r.stop;
    sr.n_stop = (int32_t)r.n_stop;
    sr.include_stop_str = r.include_stop_str_in_output;
    sr.stop_token_ids = r.stop_token_ids;
    sr.n_stop_token_ids = (int32_t)r.n_stop_token_ids;
    sr.ignore_eos = r.ignore_eos;
    sr.skip_special = r.skip_special_tokens;
    sr.on_output = on_output;
    sr.user = j;
    err[0] = 0;
    /* Link first: an output posted during submit runs on this thread later. */
    j->http = req;
    j->next = p->jobs;
    if (p->jobs) p->jobs->prev = j;
    p->jobs = j;
    rc = api->submit(api->ctx, &sr, &j->request_id, err, sizeof err);
    if (rc != SC_OK) {
        j->http = NULL;
        job_unlink(j);
        job_free(j);
        j = NULL;
        if (rc == SC_ERANGE)
            respond_err(p, req, 400, err[0] ? err : "the request does not fit the context", NULL);
        else if (rc == SC_ESTATE)
            respond_json(req, 503, oai_error_unavailable(p->flavor, err[0] ? err : "the server is busy"));
        else
            respond_err(p, req, 500, err[0] ? err : "submit failed", NULL);
        goto out;
    }
    j->submitted = true;
    sc_http_req_on_disconnect(req, on_disconnect, j);
    if (j->stream) {
        sc_http_header h[] = { { "Cache-Control", "no-cache" } };
        sc_http_stream_begin(req, 200, "text/event-stream", h, 1);
        if (chat) sse_send(j, oai_chunk_role(&j->rc, 0));
    }
out:
    if (ids_host) g_host->free(ids);
    oai_request_free(&r);
}

/* ------------------------------------------------------- other routes */

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
        respond_json(req, e.status ? e.status : 400, oai_error_from(p->flavor, &e));
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
        respond_json(req, 404, oai_error_model_not_found(p->flavor, model));
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
            respond_json(req, e.status ? e.status : 400, oai_error_from(p->flavor, &e));
            goto out;
        }
        bool in_r = false;
        rc = chat_prompt(p, &r, &ids, &n, &in_r, err, sizeof err);
        oai_request_free(&r);
    } else {
        respond_err(p, req, 400, "either 'prompt' or 'messages' is required", "prompt");
        goto out;
    }
    if (rc != SC_OK) { respond_err(p, req, 400, err[0] ? err : "tokenization failed", NULL); goto out; }
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) json_array_append_new(arr, json_integer(ids[i]));
    respond_json(req, 200, json_pack("{s:I, s:I, s:o, s:n}", "count", (json_int_t)n, "max_model_len",
                                     (json_int_t)api->max_model_len, "tokens", arr, "token_strs"));
    g_host->free(ids);
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
        respond_json(req, 404, oai_error_model_not_found(p->flavor, model));
    } else if (!json_is_array(toks)) {
        respond_err(p, req, 400, "'tokens' must be an array of integers", "tokens");
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
        if (!ok) respond_err(p, req, 400, "'tokens' must be an array of token ids", "tokens");
        else if (api->detokenize(api->ctx, ids, n, false, &text, &tl) != SC_OK)
            respond_err(p, req, 400, "detokenization failed", "tokens");
        else {
            respond_json(req, 200, json_pack("{s:s%}", "prompt", text ? text : "", text ? tl : (size_t)0));
            g_host->free(text);
        }
        free(ids);
    }
    json_decref(b);
}

static void handle_models(plugin_t *p, sc_http_req_t *req) {
    json_t *card = oai_model_card(p->model, p->model, p->created, p->api->max_model_len,
                                  p->flavor == OAI_FLAVOR_LLAMA ? "llamacpp" : "vllm");
    /* OpenRouter's name for the same number; some clients read only this. */
    if (card) json_object_set_new(card, "context_length", json_integer(p->api->max_model_len));
    json_t *cards = json_array();
    if (cards && card) json_array_append_new(cards, card);
    else json_decref(card);
    respond_json(req, 200, cards ? oai_model_list(cards) : NULL);
}

static void handle_metrics(plugin_t *p, sc_http_req_t *req) {
    sc_serve_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    p->api->stats(p->api->ctx, &st);
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
    memcpy(m.request_success, p->success, sizeof m.request_success);
    m.ttft = (oai_histogram_t){ oai_ttft_buckets, oai_ttft_n_buckets, p->ttft_counts, p->ttft_sum };
    m.e2e = (oai_histogram_t){ oai_e2e_buckets, oai_e2e_n_buckets, p->e2e_counts, p->e2e_sum };
    char *txt = oai_metrics_render(&m);
    if (!txt) { respond_err(p, req, 500, "out of memory", NULL); return; }
    sc_http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", txt, strlen(txt), NULL, 0);
    free(txt);
}

static void handler(sc_http_req_t *req, void *user) {
    plugin_t *p = user;
    const char *m = sc_http_req_method(req);
    const char *path = sc_http_req_path(req);
    bool get = strcmp(m, "GET") == 0, post = strcmp(m, "POST") == 0;

    if (p->stopping) {
        respond_json(req, 503, oai_error_unavailable(p->flavor, "the server is shutting down"));
        return;
    }
    /* vLLM guards only /v1 paths and lets CORS preflight through. */
    if (strncmp(path, "/v1", 3) == 0 && strcmp(m, "OPTIONS") != 0 && !authorized(p, req)) {
        respond_json(req, 401, oai_error_unauthorized(p->flavor));
        return;
    }
    if (get && (strcmp(path, "/health") == 0 || strcmp(path, "/ping") == 0)) {
        sc_http_respond(req, 200, NULL, "", 0, NULL, 0);
    } else if (get && strcmp(path, "/version") == 0) {
        respond_json(req, 200, json_pack("{s:s}", "version",
                                         g_host->core_version ? g_host->core_version : OAI_PLUGIN_VERSION));
    } else if (get && strcmp(path, "/v1/models") == 0) {
        handle_models(p, req);
    } else if (post && strcmp(path, "/v1/chat/completions") == 0) {
        handle_generate(p, req, true);
    } else if (post && strcmp(path, "/v1/completions") == 0) {
        handle_generate(p, req, false);
    } else if (post && strcmp(path, "/tokenize") == 0) {
        handle_tokenize(p, req);
    } else if (post && strcmp(path, "/detokenize") == 0) {
        handle_detokenize(p, req);
    } else if (get && strcmp(path, "/metrics") == 0) {
        handle_metrics(p, req);
    } else {
        bool known = !strcmp(path, "/health") || !strcmp(path, "/version") || !strcmp(path, "/v1/models") ||
                     !strcmp(path, "/v1/chat/completions") || !strcmp(path, "/v1/completions") ||
                     !strcmp(path, "/tokenize") || !strcmp(path, "/detokenize") || !strcmp(path, "/metrics");
        if (known) respond_err(p, req, 405, "Method Not Allowed", NULL);
        else respond_err(p, req, 404, "Not Found", NULL);
    }
}

/* ---------------------------------------------------------------- stop */

static void on_stopped(sc_http_server_t *srv, void *arg) { (void)srv; (void)arg; }

/* Loop thread: end every open request, cancel its generation, and stop the
 * server; uv_run() returns once every handle has closed. */
static void do_stop(void *arg) {
    plugin_t *p = arg;
    if (p->stopping) return;
    p->stopping = true;
    for (job_t *j = p->jobs; j; j = j->next) {
        if (j->submitted && !j->engine_done) p->api->cancel(p->api->ctx, j->request_id);
        if (!j->http) continue;
        if (j->stream) stream_abort(j, 503, "the server is shutting down");
        else {
            respond_json(j->http, 503, oai_error_unavailable(p->flavor, "the server is shutting down"));
            j->http = NULL;
        }
    }
    /* Jobs whose engine side already finished can go now; the rest are
     * freed by their final (abort) output. */
    job_t *j = p->jobs;
    while (j) {
        job_t *n = j->next;
        job_maybe_free(j);
        j = n;
    }
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

static void free_settings(plugin_t *p) {
    for (size_t i = 0; i < p->n_keys; i++) free(p->keys[i]);
    free(p->keys);
    p->keys = NULL;
    p->n_keys = 0;
    free(p->model);
    p->model = NULL;
}

static int parse_settings(plugin_t *p, const sc_serve_api *api, const char *settings, char *host, size_t host_cap,
                          int *port, char *err, size_t err_len) {
    json_error_t je;
    json_t *s = settings && *settings ? json_loads(settings, 0, &je) : json_object();
    if (!s || !json_is_object(s)) {
        json_decref(s);
        return errf(err, err_len, SC_EINVAL, "openai: settings are not a JSON object%s", "");
    }
    const char *h = json_string_value(json_object_get(s, "host"));
    snprintf(host, host_cap, "%s", h && *h ? h : "0.0.0.0");
    json_t *pt = json_object_get(s, "port");
    *port = json_is_integer(pt) ? (int)json_integer_value(pt) : 8000;
    if (*port < 0 || *port > 65535) {
        json_decref(s);
        return errf(err, err_len, SC_EINVAL, "openai: port out of range%s", "");
    }
    const char *compat = json_string_value(json_object_get(s, "compat"));
    p->flavor = compat && strcmp(compat, "llama") == 0 ? OAI_FLAVOR_LLAMA : OAI_FLAVOR_VLLM;
    const char *name = json_string_value(json_object_get(s, "served_model_name"));
    p->model = strdup(name && *name ? name : (api->model_name ? api->model_name : "model"));
    json_t *keys = json_object_get(s, "api_keys");
    if (json_is_string(keys)) {
        p->keys = calloc(1, sizeof *p->keys);
        if (p->keys) { p->keys[0] = strdup(json_string_value(keys)); p->n_keys = p->keys[0] ? 1 : 0; }
    } else if (json_is_array(keys) && json_array_size(keys)) {
        p->keys = calloc(json_array_size(keys), sizeof *p->keys);
        for (size_t i = 0; p->keys && i < json_array_size(keys); i++) {
            const char *k = json_string_value(json_array_get(keys, i));
            if (k && *k && (p->keys[p->n_keys] = strdup(k))) p->n_keys++;
        }
    }
    json_decref(s);
    if (!p->model) return errf(err, err_len, SC_ENOMEM, "openai: out of memory%s", "");

    /* Server defaults: vLLM's, overridden by generation_config.json. */
    oai_defaults_init(&p->defaults);
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
        return errf(err, err_len, SC_EINVAL, "openai: incomplete serve table%s", "");
    p->api = api;
    char host[256];
    int port = 0;
    int rc = parse_settings(p, api, settings_json, host, sizeof host, &port, err, err_len);
    if (rc != SC_OK) { free_settings(p); return rc; }
    p->created = (int64_t)time(NULL);
    uint64_t seed = 0;
    if (uv_random(NULL, NULL, &seed, sizeof seed, 0, NULL) != 0) seed = uv_hrtime() ^ (uint64_t)(uintptr_t)p;
    p->ids.state = seed;
    p->ttft_counts = calloc(oai_ttft_n_buckets + 1, sizeof *p->ttft_counts);
    p->e2e_counts = calloc(oai_e2e_n_buckets + 1, sizeof *p->e2e_counts);

    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) { free_settings(p); return errf(err, err_len, SC_EIO, "openai: uv_loop_init failed%s", ""); }
    sc_http_server_t *srv = NULL;
    rc = sc_http_server_create(&loop, NULL, handler, p, &srv);
    if (rc != SC_OK) {
        uv_loop_close(&loop);
        free_settings(p);
        return errf(err, err_len, rc, "openai: cannot create the HTTP server%s", "");
    }
    rc = sc_http_server_listen(srv, host, port);
    if (rc != SC_OK) {
        snprintf(err, err_len, "openai: cannot listen on %s:%d", host, port);
        sc_http_server_stop(srv, NULL, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        sc_http_server_destroy(srv);
        uv_loop_close(&loop);
        free_settings(p);
        return rc;
    }
    LOG(SC_LOG_INFO, "serving %s on http://%s:%d", p->model, host, sc_http_server_port(srv));
    pthread_mutex_lock(&p->mu);
    p->srv = srv;
    /* stop() may have come while we were starting up */
    if (p->stop_requested) sc_http_post(srv, do_stop, p);
    pthread_mutex_unlock(&p->mu);

    uv_run(&loop, UV_RUN_DEFAULT);

    pthread_mutex_lock(&p->mu);
    p->srv = NULL; /* from here on engine outputs are dropped, not posted */
    pthread_mutex_unlock(&p->mu);
    sc_http_server_destroy(srv);
    uv_loop_close(&loop);
    /* Jobs still waiting for the engine's final output are freed by
     * on_output (their HTTP side is finished); those the engine never
     * finishes are left, rather than risk a use-after-free. */
    p->jobs = NULL;
    free(p->ttft_counts);
    free(p->e2e_counts);
    p->ttft_counts = p->e2e_counts = NULL;
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
    g_host = host;
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
    g_host = host;
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

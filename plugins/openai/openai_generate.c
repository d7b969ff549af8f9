/*
 * plugins/openai/openai_generate.c - POST /v1/chat/completions and
 * /v1/completions.
 *
 * One HTTP request is a job with n_prompts x n choices (vLLM: choice index =
 * prompt_idx * n + i). Each choice is its own engine request (submit), so
 * choices run in parallel in the continuous batch; with a seed, choice i
 * samples with seed + i (vLLM's ParentRequest does the same), so n seeded
 * choices differ from each other yet repeat across identical requests.
 *
 * Threads: outputs arrive on the engine thread (on_output), are copied into a
 * piece and posted to the loop (deliver), which owns every other field. A job
 * is freed once its HTTP side is finished and every submitted choice has had
 * its final output (`live` reaches 0).
 *
 * Per choice, generated text flows: reasoning splitter (<think>) -> tool-call
 * stream parser (when tools are on) -> content / reasoning / tool-call
 * deltas. Streaming sends each choice's deltas as they come (interleaved by
 * index), a finish chunk when that choice ends, and the usage chunk and
 * [DONE] once all have ended; non-streaming answers when all have ended.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "openai_internal.h"
#include "oai_logprobs.h"
#include "oai_reasoning.h"
#include "oai_tool_stream.h"
#include "oai_tools.h"

/* n_prompts x n: beyond this a request is refused rather than queued. */
#define OAI_MAX_CHOICES 1024

typedef struct choice {
    job_t *job;
    int index;                  /* in the response */
    int prompt_idx;
    uint64_t request_id;
    bool submitted, engine_done, ended; /* ended: its last chunk / result is in */
    int32_t finish;
    int64_t completion_tokens, cached_tokens;
    uint64_t t_first;
    oai_reasoning_t rs;
    oai_tool_stream_t ts;
    oai_buf_t fresh;            /* scratch: content released by the reasoning splitter */
    oai_buf_t content, reasoning; /* whole text (non-stream) or the unsent delta (stream) */
    json_t *calls;              /* parsed calls: all (non-stream) or unsent (stream) */
    int calls_sent;             /* stream: index of the next tool-call delta */
    oai_lp_step_t *lp;          /* logprob steps: all (non-stream) or unsent (stream) */
    size_t n_lp, cap_lp;
    int64_t text_offset;        /* completions logprobs: code points before the unsent steps */
} choice_t;

struct job {
    plugin_t *p;
    job_t *next, *prev;
    sc_http_req_t *http;        /* NULL once finished */
    bool chat, stream, include_usage, tools_on, logprobs;
    int top_logprobs;
    oai_tool_style_t tool_style;
    size_t n_choices, n_ended;
    size_t n_prompts;
    int64_t *prompt_len;        /* [n_prompts] */
    choice_t *ch;
    atomic_size_t live;         /* submitted choices still waiting for their final output */
    char id[48];
    oai_resp_ctx_t rc;
    json_t *tools;
    uint64_t t0;
};

/* A piece copied off the engine thread. */
typedef struct {
    choice_t *ch;
    int32_t finish;
    int64_t completion_tokens, cached_tokens;
    bool has_lp;
    oai_lp_step_t lp;
    size_t len;
    char text[];
} piece_t;

/* ---------------------------------------------------------------- helpers */

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
    for (size_t i = 0; i < j->n_choices; i++) {
        choice_t *c = &j->ch[i];
        oai_tool_stream_free(&c->ts);
        oai_buf_free(&c->fresh);
        oai_buf_free(&c->content);
        oai_buf_free(&c->reasoning);
        json_decref(c->calls);
        free(c->lp);
    }
    free(j->ch);
    free(j->prompt_len);
    json_decref(j->tools);
    free(j);
}

/* Frees the job once the HTTP side is finished and no output can come. */
static void job_maybe_free(job_t *j) {
    if (j->http == NULL && atomic_load(&j->live) == 0) {
        job_unlink(j);
        job_free(j);
    }
}

static void cancel_all(job_t *j) {
    for (size_t i = 0; i < j->n_choices; i++)
        if (j->ch[i].submitted && !j->ch[i].engine_done) j->p->api->cancel(j->p->api->ctx, j->ch[i].request_id);
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

/* usage: prompts counted once each (not per choice), completions summed. */
static oai_usage_t job_usage(const job_t *j) {
    oai_usage_t u = { 0, 0, 0 };
    size_t n = j->n_choices / (j->n_prompts ? j->n_prompts : 1);
    for (size_t pi = 0; pi < j->n_prompts; pi++) {
        u.prompt_tokens += j->prompt_len[pi];
        u.cached_tokens += j->ch[pi * n].cached_tokens;
    }
    for (size_t i = 0; i < j->n_choices; i++) u.completion_tokens += j->ch[i].completion_tokens;
    return u;
}

/* Logprobs JSON for the choice's held steps (then forgotten: stream), or NULL. */
static json_t *take_logprobs(job_t *j, choice_t *c, bool clear) {
    if (!j->logprobs) return NULL;
    json_t *lp;
    if (j->chat) {
        lp = oai_logprobs_chat(oai_logprobs_chat_content(c->lp, c->n_lp, j->top_logprobs, oai_token_bytes, j->p));
    } else {
        int64_t off = c->text_offset;
        lp = oai_logprobs_completion(c->lp, c->n_lp, j->top_logprobs, &off, oai_token_bytes, j->p);
        if (clear) c->text_offset = off;
    }
    if (clear) c->n_lp = 0;
    return lp;
}

static void push_logprob(choice_t *c, const oai_lp_step_t *st) {
    if (c->n_lp == c->cap_lp) {
        size_t cap = c->cap_lp ? c->cap_lp * 2 : 16;
        oai_lp_step_t *n = realloc(c->lp, cap * sizeof *n);
        if (!n) return; /* a lost logprob entry, not a lost response */
        c->lp = n;
        c->cap_lp = cap;
    }
    c->lp[c->n_lp++] = *st;
}

/* ------------------------------------------------------- text pipeline */

/* New text of one choice through <think> splitting and tool-call parsing
 * into c->content / c->reasoning / c->calls. */
static void choice_feed(job_t *j, choice_t *c, const char *text, size_t len, bool final) {
    if (!j->chat) {
        oai_buf_append(&c->content, text, len);
        return;
    }
    oai_buf_t *dst = j->tools_on ? &c->fresh : &c->content;
    oai_reasoning_feed(&c->rs, text, len, dst, &c->reasoning);
    if (final) oai_reasoning_flush(&c->rs, dst, &c->reasoning);
    if (j->tools_on) {
        if (c->fresh.len) oai_tool_stream_feed(&c->ts, c->fresh.data, c->fresh.len, &c->content, c->calls);
        if (final) oai_tool_stream_flush(&c->ts, &c->content, c->calls);
        oai_buf_reset(&c->fresh);
    }
}

static bool choice_called_tools(const choice_t *c) {
    return c->calls_sent > 0 || json_array_size(c->calls) > 0;
}

/* vLLM: "tool_calls" when calls were made, unless the length cut it short. */
static const char *choice_finish_reason(const choice_t *c) {
    return choice_called_tools(c) && c->finish != SC_SERVE_LENGTH ? "tool_calls" : finish_str(c->finish);
}

/* -------------------------------------------------------------- stream */

/* Sends what the choice has ready: a content/reasoning delta, tool-call
 * deltas, and on the final output its finish chunk. Held logprob steps ride
 * on the first chunk sent (a token whose text is still held back sends
 * nothing, so its logprobs wait for the next chunk rather than get lost). */
static void stream_choice(job_t *j, choice_t *c, bool final) {
    json_t *lp = (c->content.len || c->reasoning.len || json_array_size(c->calls) || final) && c->n_lp
                     ? take_logprobs(j, c, true) : NULL;
    if (j->chat) {
        if (c->content.len || c->reasoning.len) {
            json_t *ch = oai_chunk_delta(&j->rc, c->index, c->content.len ? c->content.data : NULL,
                                         c->reasoning.len ? c->reasoning.data : NULL, NULL);
            sse_send(j, oai_chunk_set_logprobs(ch, lp));
            lp = NULL;
        }
        if (json_array_size(c->calls)) {
            json_t *d = oai_tool_call_deltas_at(c->calls, c->calls_sent);
            c->calls_sent += (int)json_array_size(c->calls);
            json_array_clear(c->calls);
            sse_send(j, oai_chunk_set_logprobs(oai_chunk_delta(&j->rc, c->index, NULL, NULL, d), lp));
            lp = NULL;
            json_decref(d);
        }
        if (final) sse_send(j, oai_chunk_set_logprobs(oai_chunk_finish(&j->rc, c->index, choice_finish_reason(c),
                                                                       NULL), lp));
        else json_decref(lp);
    } else if (c->content.len || final) {
        /* vLLM puts finish_reason on the last text chunk itself. */
        sse_send(j, oai_chunk_set_logprobs(oai_text_chunk(&j->rc, c->index, c->content.data ? c->content.data : "",
                                                          final ? finish_str(c->finish) : NULL, NULL), lp));
    } else {
        json_decref(lp);
    }
    oai_buf_reset(&c->content);
    oai_buf_reset(&c->reasoning);
}

static void stream_end_all(job_t *j) {
    if (j->include_usage) {
        oai_usage_t u = job_usage(j);
        sse_send(j, j->chat ? oai_chunk_usage(&j->rc, &u) : oai_text_chunk_usage(&j->rc, &u));
    }
    sc_http_stream_write(j->http, OAI_SSE_DONE, strlen(OAI_SSE_DONE));
    sc_http_stream_end(j->http);
    j->http = NULL;
}

/* ---------------------------------------------------------- non-stream */

static void respond_all(job_t *j) {
    oai_choice_t *chs = calloc(j->n_choices, sizeof *chs);
    json_t **lps = calloc(j->n_choices, sizeof *lps);
    if (!chs || !lps) {
        free(chs);
        free(lps);
        oai_respond_err(j->p, j->http, 500, "out of memory", NULL);
        j->http = NULL;
        return;
    }
    for (size_t i = 0; i < j->n_choices; i++) {
        choice_t *c = &j->ch[i];
        bool calls = j->chat && json_array_size(c->calls) > 0;
        const char *text = c->content.len ? c->content.data : NULL;
        /* content is null when everything went into tool calls */
        chs[i].content = calls ? text : (text ? text : "");
        chs[i].reasoning = j->chat && c->reasoning.len ? c->reasoning.data : NULL;
        chs[i].tool_calls = calls ? c->calls : NULL;
        chs[i].finish_reason = j->chat ? choice_finish_reason(c) : finish_str(c->finish);
        lps[i] = take_logprobs(j, c, false);
        chs[i].logprobs = lps[i];
    }
    oai_usage_t u = job_usage(j);
    json_t *body = j->chat ? oai_chat_completion(&j->rc, chs, j->n_choices, &u)
                           : oai_text_completion(&j->rc, chs, j->n_choices, &u);
    oai_respond_json(j->http, 200, body);
    j->http = NULL;
    for (size_t i = 0; i < j->n_choices; i++) json_decref(lps[i]);
    free(lps);
    free(chs);
}

/* ------------------------------------------------------ engine -> loop */

static void record_metrics(job_t *j, choice_t *c) {
    plugin_t *p = j->p;
    uint64_t now = uv_hrtime();
    oai_finish_t f = c->finish == SC_SERVE_LENGTH ? OAI_FINISH_LENGTH
                   : c->finish == SC_SERVE_ABORT ? OAI_FINISH_ABORT : OAI_FINISH_STOP;
    p->success[f]++;
    if (p->e2e_counts) {
        oai_histogram_t h = { oai_e2e_buckets, oai_e2e_n_buckets, p->e2e_counts, p->e2e_sum };
        oai_histogram_observe(&h, (double)(now - j->t0) / 1e9);
        p->e2e_sum = h.sum;
    }
    if (p->ttft_counts && c->t_first) {
        oai_histogram_t h = { oai_ttft_buckets, oai_ttft_n_buckets, p->ttft_counts, p->ttft_sum };
        oai_histogram_observe(&h, (double)(c->t_first - j->t0) / 1e9);
        p->ttft_sum = h.sum;
    }
}

static void deliver(void *arg) {
    piece_t *pc = arg;
    choice_t *c = pc->ch;
    job_t *j = c->job;
    c->completion_tokens = pc->completion_tokens;
    if (pc->cached_tokens > c->cached_tokens) c->cached_tokens = pc->cached_tokens;
    if (!c->t_first && pc->completion_tokens > 0) c->t_first = uv_hrtime();
    bool final = pc->finish != SC_SERVE_RUNNING;
    if (final) {
        c->engine_done = true;
        c->finish = pc->finish;
        record_metrics(j, c);
        atomic_fetch_sub(&j->live, 1);
    }
    if (j->http && sc_http_req_disconnected(j->http)) {
        /* nobody is listening: finish the request once no choice runs */
        if (atomic_load(&j->live) == 0) {
            if (j->stream) sc_http_stream_end(j->http);
            else sc_http_respond(j->http, 500, NULL, "", 0, NULL, 0);
            j->http = NULL;
        }
    } else if (j->http && !c->ended) {
        if (pc->has_lp) push_logprob(c, &pc->lp);
        choice_feed(j, c, pc->text, pc->len, final);
        if (j->stream) stream_choice(j, c, final);
        if (final) {
            c->ended = true;
            j->n_ended++;
        }
        if (j->n_ended == j->n_choices) {
            if (j->stream) stream_end_all(j);
            else respond_all(j);
        }
    }
    free(pc);
    if (final) job_maybe_free(j);
}

/* Engine thread. */
static void on_output(void *user, const sc_serve_output *out) {
    choice_t *c = user;
    job_t *j = c->job;
    plugin_t *p = j->p;
    size_t len = out->text ? out->text_len : 0;
    piece_t *pc = malloc(sizeof *pc + len + 1);
    if (!pc) {
        /* Dropping a non-final piece loses text; dropping the final would
         * leak the request forever, so cancel to get another final. */
        if (out->finish == SC_SERVE_RUNNING) p->api->cancel(p->api->ctx, out->request_id);
        return;
    }
    pc->ch = c;
    pc->finish = out->finish;
    pc->completion_tokens = out->completion_tokens;
    pc->cached_tokens = SC_HAS_FIELD(out, sc_serve_output, cached_tokens) ? out->cached_tokens : 0;
    /* top_ids / top_logprobs die with this call: copy them now. */
    pc->has_lp = j->logprobs && out->token >= 0 && SC_HAS_FIELD(out, sc_serve_output, top_logprobs);
    if (pc->has_lp) {
        pc->lp.token = out->token;
        pc->lp.logprob = out->logprob;
        int32_t k = out->n_top < 0 ? 0 : out->n_top > OAI_MAX_LOGPROBS ? OAI_MAX_LOGPROBS : out->n_top;
        if (!out->top_ids || !out->top_logprobs) k = 0;
        pc->lp.n_top = k;
        if (k) {
            memcpy(pc->lp.top_ids, out->top_ids, (size_t)k * sizeof *out->top_ids);
            memcpy(pc->lp.top_logprobs, out->top_logprobs, (size_t)k * sizeof *out->top_logprobs);
        }
    }
    pc->len = len;
    if (len) memcpy(pc->text, out->text, len);
    pc->text[len] = 0;
    pthread_mutex_lock(&p->mu);
    int rc = p->srv ? sc_http_post(p->srv, deliver, pc) : SC_ESTATE;
    pthread_mutex_unlock(&p->mu);
    if (rc != SC_OK) {
        /* The loop is gone (run() returned): the HTTP side was finished
         * during the stop, so the last final of the job frees it here. */
        if (pc->finish != SC_SERVE_RUNNING && j->http == NULL && atomic_fetch_sub(&j->live, 1) == 1)
            job_free(j);
        free(pc);
    }
}

static void on_disconnect(sc_http_req_t *req, void *arg) {
    (void)req;
    /* The client is gone: free the KV cache of every choice now rather than
     * generating into the void (vLLM #54947, llama.cpp #24496). */
    cancel_all(arg);
}

void oai_jobs_stop(plugin_t *p) {
    for (job_t *j = p->jobs; j; j = j->next) {
        cancel_all(j);
        if (!j->http) continue;
        if (j->stream) stream_abort(j, 503, "the server is shutting down");
        else {
            oai_respond_json(j->http, 503, oai_error_unavailable(p->flavor, "the server is shutting down"));
            j->http = NULL;
        }
    }
    /* Jobs with no choice running can go now; the rest are freed by their
     * final (abort) outputs. */
    job_t *j = p->jobs;
    while (j) {
        job_t *n = j->next;
        job_maybe_free(j);
        j = n;
    }
}

/* ----------------------------------------------------------- generation */

int oai_chat_prompt(plugin_t *p, oai_request_t *r, int32_t **ids, size_t *n, bool *in_reasoning,
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
    oai_host->free(text);
    if (rc != SC_OK) snprintf(err, err_len, "tokenization failed: %s", oai_host->strerror(rc));
    return rc;
}

/* One prompt's token ids; `host` says who frees them. */
typedef struct {
    int32_t *ids;
    size_t n;
    bool host;
} prompt_ids_t;

static void free_prompts(prompt_ids_t *v, size_t n) {
    for (size_t i = 0; v && i < n; i++)
        if (v[i].host) oai_host->free(v[i].ids);
    free(v);
}

static bool is_choice(const json_t *tc, const char *s) {
    return json_is_string(tc) && strcmp(json_string_value(tc), s) == 0;
}

/* Tokenizes every prompt and checks each against the context before anything
 * is submitted, so a bad prompt in a list costs no generation. On failure the
 * request has been answered and false returned. */
static bool prepare_prompts(plugin_t *p, sc_http_req_t *req, oai_request_t *r, bool chat, prompt_ids_t *pr,
                            size_t n_prompts, bool *in_reasoning, int64_t *max_tokens) {
    const sc_serve_api *api = p->api;
    char err[512] = "";
    int64_t ctx_len = api->max_model_len;
    for (size_t pi = 0; pi < n_prompts; pi++) {
        int rc;
        if (chat) {
            rc = oai_chat_prompt(p, r, &pr[pi].ids, &pr[pi].n, in_reasoning, err, sizeof err);
            if (rc != SC_OK) {
                oai_respond_err(p, req, 400, err[0] ? err : "chat template failed", "messages");
                return false;
            }
            pr[pi].host = true;
        } else if (r->prompts[pi].text) {
            rc = api->tokenize(api->ctx, r->prompts[pi].text, strlen(r->prompts[pi].text), true, &pr[pi].ids,
                               &pr[pi].n);
            if (rc != SC_OK) { oai_respond_err(p, req, 400, "tokenization failed", "prompt"); return false; }
            pr[pi].host = true;
        } else {
            pr[pi].ids = r->prompts[pi].tokens;
            pr[pi].n = r->prompts[pi].n_tokens;
        }
        int64_t n = (int64_t)pr[pi].n;
        if (ctx_len > 0 && n >= ctx_len) {
            oai_respond_json(req, 400, oai_error_context_prompt(p->flavor, ctx_len, n));
            return false;
        }
        if (ctx_len > 0 && r->max_tokens > 0 && r->max_tokens > ctx_len - n) {
            oai_respond_json(req, 400, oai_error_context_max_tokens(p->flavor, r->max_tokens, ctx_len, n));
            return false;
        }
        max_tokens[pi] = r->max_tokens > 0 ? r->max_tokens : (ctx_len > 0 ? ctx_len - n : 0);
    }
    return true;
}

static void fill_request(sc_serve_request *sr, const oai_request_t *r, const job_t *j) {
    memset(sr, 0, sizeof *sr);
    sr->struct_size = sizeof *sr;
    sr->sampling.struct_size = sizeof sr->sampling;
    sr->sampling.temperature = (float)r->temperature;
    sr->sampling.top_p = (float)r->top_p;
    sr->sampling.top_k = r->top_k;
    sr->sampling.min_p = (float)r->min_p;
    sr->sampling.repetition_penalty = (float)r->repetition_penalty;
    sr->sampling.presence_penalty = (float)r->presence_penalty;
    sr->sampling.frequency_penalty = (float)r->frequency_penalty;
    sr->sampling.has_seed = r->has_seed;
    sr->stop = (const char *const *)r->stop;
    sr->n_stop = (int32_t)r->n_stop;
    sr->include_stop_str = r->include_stop_str_in_output;
    sr->stop_token_ids = r->stop_token_ids;
    sr->n_stop_token_ids = (int32_t)r->n_stop_token_ids;
    sr->ignore_eos = r->ignore_eos;
    sr->skip_special = r->skip_special_tokens;
    sr->on_output = on_output;
    /* -1 spares the engine a pass over the vocabulary per token; 0 is the
     * sampled token's logprob alone, k adds the k most likely. */
    sr->logprobs = j->logprobs ? j->top_logprobs : -1;
}

static job_t *job_new(plugin_t *p, const oai_request_t *r, bool chat, size_t n_prompts, bool in_reasoning) {
    size_t n_choices = n_prompts * (size_t)r->n;
    job_t *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->ch = calloc(n_choices, sizeof *j->ch);
    j->prompt_len = calloc(n_prompts, sizeof *j->prompt_len);
    if (!j->ch || !j->prompt_len) { free(j->ch); free(j->prompt_len); free(j); return NULL; }
    j->p = p;
    j->chat = chat;
    j->stream = r->stream;
    j->include_usage = r->include_usage;
    j->logprobs = r->logprobs;
    j->top_logprobs = r->top_logprobs;
    j->n_prompts = n_prompts;
    j->n_choices = n_choices;
    atomic_init(&j->live, 0);
    j->t0 = uv_hrtime();
    j->tool_style = p->set.tool_parser;
    if (chat && r->tools && json_array_size(r->tools) > 0 && !is_choice(r->tool_choice, "none")) {
        j->tools_on = true;
        j->tools = json_incref(r->tools);
    }
    oai_id_make(&p->ids, chat ? "chatcmpl-" : "cmpl-", j->id, sizeof j->id);
    j->rc.id = j->id;
    j->rc.model = p->model;
    j->rc.created = (int64_t)time(NULL);
    j->rc.flavor = p->flavor;
    j->rc.reasoning_field = OAI_REASONING_FIELD_AUTO;
    j->rc.prompt_tokens_details = p->set.prompt_tokens_details;
    bool ok = true;
    for (size_t i = 0; i < n_choices; i++) {
        choice_t *c = &j->ch[i];
        c->job = j;
        c->index = (int)i;
        c->prompt_idx = (int)(i / (size_t)r->n);
        oai_reasoning_init(&c->rs, in_reasoning);
        oai_tool_stream_init(&c->ts, j->tool_style, j->tools, &p->ids);
        oai_buf_init(&c->fresh);
        oai_buf_init(&c->content);
        oai_buf_init(&c->reasoning);
        if (!(c->calls = json_array())) ok = false;
    }
    if (!ok) { job_free(j); return NULL; }
    return j;
}

/* Answers a request that failed after some choices were submitted: those are
 * cancelled and the job lingers until their final outputs arrive. */
static void fail_submitted(job_t *j, sc_http_req_t *req, int rc, const char *err, int64_t n_prompt) {
    plugin_t *p = j->p;
    j->http = NULL;
    cancel_all(j);
    if (rc == SC_ERANGE && p->flavor == OAI_FLAVOR_LLAMA)
        oai_respond_json(req, 400, oai_error_context_prompt(p->flavor, p->api->max_model_len, n_prompt));
    else if (rc == SC_ERANGE)
        oai_respond_err(p, req, 400, err[0] ? err : "the request does not fit the context", NULL);
    else if (rc == SC_ESTATE)
        oai_respond_json(req, 503, oai_error_unavailable(p->flavor, err[0] ? err : "the server is busy"));
    else if (rc == SC_EINVAL)
        oai_respond_err(p, req, 400, err[0] ? err : "invalid request", NULL);
    else
        oai_respond_err(p, req, 500, err[0] ? err : "submit failed", NULL);
    job_maybe_free(j);
}

void oai_handle_generate(plugin_t *p, sc_http_req_t *req, bool chat) {
    const sc_serve_api *api = p->api;
    size_t blen = 0;
    const char *body = sc_http_req_body(req, &blen);
    oai_request_t r;
    memset(&r, 0, sizeof r);
    oai_err_t e;
    memset(&e, 0, sizeof e);
    int rc = oai_request_parse_bytes(&r, chat ? OAI_REQ_CHAT : OAI_REQ_COMPLETION, body, blen, &p->defaults, &e);
    if (rc != SC_OK) {
        if (rc == SC_ENOMEM) oai_respond_err(p, req, 500, "out of memory", NULL);
        else oai_respond_json(req, e.status ? e.status : 400, oai_error_from(p->flavor, &e));
        return;
    }
    size_t n_prompts = chat ? 1 : r.n_prompts;
    prompt_ids_t *pr = calloc(n_prompts ? n_prompts : 1, sizeof *pr);
    int64_t *max_tokens = calloc(n_prompts ? n_prompts : 1, sizeof *max_tokens);
    bool in_reasoning = false;
    char err[512] = "";
    job_t *j = NULL;
    if (!pr || !max_tokens) { oai_respond_err(p, req, 500, "out of memory", NULL); goto out; }
    if (r.model && strcmp(r.model, p->model) != 0) {
        oai_respond_json(req, 404, oai_error_model_not_found(p->flavor, r.model));
        goto out;
    }
    if (chat && r.tools && is_choice(r.tool_choice, "auto") && !p->set.auto_tool_choice) {
        /* vLLM's exact text (param null, as its create_error_response gives) */
        oai_respond_err(p, req, 400, "\"auto\" tool choice requires --enable-auto-tool-choice and "
                        "--tool-call-parser to be set", NULL);
        goto out;
    }
    if (n_prompts * (size_t)r.n > OAI_MAX_CHOICES) {
        snprintf(err, sizeof err, "%zu prompts x n=%d is more than the %d choices a request may have",
                 n_prompts, (int)r.n, OAI_MAX_CHOICES);
        oai_respond_err(p, req, 400, err, "n");
        goto out;
    }
    if (!prepare_prompts(p, req, &r, chat, pr, n_prompts, &in_reasoning, max_tokens)) goto out;

    j = job_new(p, &r, chat, n_prompts, in_reasoning);
    if (!j) { oai_respond_err(p, req, 500, "out of memory", NULL); goto out; }
    /* Link first: outputs posted during submit run on this thread later. */
    j->http = req;
    j->next = p->jobs;
    if (p->jobs) p->jobs->prev = j;
    p->jobs = j;
    sc_serve_request sr;
    fill_request(&sr, &r, j);
    for (size_t i = 0; i < j->n_choices; i++) {
        choice_t *c = &j->ch[i];
        size_t pi = (size_t)c->prompt_idx;
        j->prompt_len[pi] = (int64_t)pr[pi].n;
        sr.prompt = pr[pi].ids;
        sr.n_prompt = pr[pi].n;
        sr.max_tokens = max_tokens[pi];
        sr.sampling.seed = (uint64_t)r.seed + (uint64_t)(i % (size_t)r.n);
        sr.user = c;
        err[0] = 0;
        atomic_fetch_add(&j->live, 1); /* before submit: its final may be posted at once */
        rc = api->submit(api->ctx, &sr, &c->request_id, err, sizeof err);
        if (rc != SC_OK) {
            atomic_fetch_sub(&j->live, 1);
            fail_submitted(j, req, rc, err, (int64_t)pr[pi].n);
            j = NULL;
            goto out;
        }
        c->submitted = true;
    }
    sc_http_req_on_disconnect(req, on_disconnect, j);
    if (j->stream) {
        sc_http_header h[] = { { "Cache-Control", "no-cache" } };
        sc_http_stream_begin(req, 200, "text/event-stream", h, 1);
        /* vLLM opens every choice with its role chunk before any content. */
        for (size_t i = 0; chat && i < j->n_choices; i++) sse_send(j, oai_chunk_role(&j->rc, (int)i));
    }
out:
    free_prompts(pr, n_prompts);
    free(max_tokens);
    oai_request_free(&r);
}

/* --------------------------------------------------------- token text */

int oai_token_bytes(void *plugin, int32_t id, oai_buf_t *out) {
    plugin_t *p = plugin;
    oai_tokcache_ent_t *e = p->tokcache && id >= 0 ? &p->tokcache[(uint32_t)id % OAI_TOKCACHE] : NULL;
    if (e && e->text && e->id == id) return oai_buf_append(out, e->text, e->len);
    char *text = NULL;
    size_t len = 0;
    int rc = p->api->detokenize(p->api->ctx, &id, 1, false, &text, &len);
    if (rc != SC_OK) return rc;
    rc = oai_buf_append(out, text ? text : "", text ? len : 0);
    if (e && len < UINT32_MAX) {
        char *copy = malloc(len + 1);
        if (copy) {
            memcpy(copy, text ? text : "", len);
            copy[len] = 0;
            free(e->text);
            e->text = copy;
            e->id = id;
            e->len = (uint32_t)len;
        }
    }
    oai_host->free(text);
    return rc;
}

void oai_tokcache_free(plugin_t *p) {
    for (size_t i = 0; p->tokcache && i < OAI_TOKCACHE; i++) free(p->tokcache[i].text);
    free(p->tokcache);
    p->tokcache = NULL;
}

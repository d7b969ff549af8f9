/*
 * core/src/engine.c - continuous batching (see strixcore/engine.h).
 *
 * A request lives in one of three places: the waiting queue (FCFS; preempted
 * requests go back to its head), the running array (it owns a KV sequence;
 * admission order) or the abort list (cancelled, its "abort" callback not yet
 * delivered). The lock guards those three and the counters. A step schedules
 * under the lock, then runs the forward pass, sampling and callbacks without
 * it: while it runs (in_step) only the stepping thread touches the running
 * requests' progress, and cancel merely flags them; the flag is honoured when
 * the step retires requests at its end, since resetting a sequence while the
 * forward pass grows others would race on the KV free list.
 *
 * Every request keeps all its tokens: toks[0, n_toks) = prompt, then each
 * sampled token. n_done of them are in its KV sequence. A step forwards
 * toks[n_done, n_done + k) and, when that reaches n_toks, samples the next
 * token from the last one's logits. Decoding is the case n_toks - n_done == 1;
 * a prompt (or, after preemption, prompt + output) is forwarded in chunks
 * within the token budget. The last sampled token is never forwarded, as in
 * sc_generate, so greedy output is the same token for token.
 *
 * KV blocks: before the forward pass every scheduled request takes the blocks
 * its tokens need (sc_model_seq_reserve). When the pool is dry, the most
 * recently admitted running requests are preempted (vLLM's recompute
 * policy): their blocks go back, they rejoin the queue's head with n_done = 0
 * and everything else (sampler, detokenizer, stop state) kept, and when
 * readmitted they recompute their tokens (mostly from the prefix cache).
 * Admission attaches cached prefix blocks first (sc_model_seq_attach_prefix)
 * and only admits a request whose first chunk's blocks are free.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "text_out.h"
#include "strixcore/engine.h"

typedef struct req {
    struct req *next;           /* waiting queue / abort list link */
    uint64_t id;
    int32_t *toks;              /* prompt, then sampled tokens: [cap] */
    size_t n_toks, cap;
    size_t n_prompt;            /* the request's own prompt */
    size_t n_done;              /* toks in the KV sequence */
    int64_t max_new, n_generated;
    int64_t n_cached;           /* prompt tokens from the prefix cache at first admission, -1 before */
    int seq;                    /* KV sequence while running, else -1 */
    atomic_bool cancelled;      /* set by cancel during a step */
    int32_t *eos;
    int n_eos;
    bool ignore_eos;
    int n_logprobs;             /* alternatives per token; -1: no logprobs at all */
    sc_sampler_t *sampler;
    sc_stop_t *stop;
    sc_detok_t *detok;          /* NULL without a tokenizer */
    char *text;                 /* this token's output text */
    size_t text_len, text_cap;
    sc_engine_fn cb;
    void *user;
    /* this step (stepping thread only) */
    int n_sched;                /* tokens in the batch */
    int row;                    /* logits row, or -1 */
    sc_finish finish;
} req;

struct sc_engine {
    sc_model_t *m;
    const sc_tokenizer_t *tok;
    int max_seqs, budget, max_waiting;
    bool prefix_caching;
    int64_t max_len, vocab;
    int32_t n_text_vocab;

    pthread_mutex_t mu;
    req *wait_head, *wait_tail;
    int n_waiting;
    req **running;              /* [max_seqs], admission order */
    int n_running;
    req *aborts;
    bool *slot_used;            /* [max_seqs] */
    bool in_step;
    uint64_t next_id;
    int kv_free, kv_total;      /* snapshot taken when no step runs */
    uint64_t prompt_tokens, generation_tokens, steps, finished;
    uint64_t preemptions, prefix_queries, prefix_hits;
    /* Requests ended, by vLLM's finished_reason, counted under mu in the same
     * critical section that takes them out of running/waiting: a stats
     * snapshot never shows a request gone but not yet counted. */
    uint64_t ended_stop, ended_length, ended_abort;

    /* batch buffers, stepping thread only */
    int32_t *tokens, *seqs;
    uint8_t *flags;
    float *logits;              /* [max_seqs][vocab]: one row per sequence at most */
    float *scratch;             /* [vocab]: the row being sampled */
    int32_t top_ids[SC_ENGINE_MAX_LOGPROBS];
    float top_lp[SC_ENGINE_MAX_LOGPROBS];
};

/* ---- requests ------------------------------------------------------------ */
static void req_free(req *r) {
    if (!r)
        return;
    free(r->toks);
    free(r->eos);
    sc_sampler_free(r->sampler);
    sc_stop_free(r->stop);
    sc_detok_free(r->detok);
    free(r->text);
    free(r);
}

static int text_put(req *r, const char *s, size_t n) {
    if (r->text_len + n + 1 > r->text_cap) {
        size_t cap = r->text_cap ? r->text_cap : 64;
        char *p;
        while (cap < r->text_len + n + 1)
            cap *= 2;
        if (!(p = realloc(r->text, cap)))
            return SC_ENOMEM;
        r->text = p;
        r->text_cap = cap;
    }
    memcpy(r->text + r->text_len, s, n);
    r->text_len += n;
    r->text[r->text_len] = '\0';
    return SC_OK;
}

static int req_emit(void *user, const char *text, size_t len) { return text_put(user, text, len); }

static bool is_eos(const req *r, int32_t id) {
    for (int i = 0; i < r->n_eos; i++)
        if (r->eos[i] == id)
            return true;
    return false;
}

/* Count a request that leaves the engine (e->mu held). */
static void count_end(sc_engine_t *e, sc_finish f) {
    if (f == SC_FINISH_EOS || f == SC_FINISH_STOP)
        e->ended_stop++;
    else if (f == SC_FINISH_LENGTH)
        e->ended_length++;
    else
        e->ended_abort++;
}

static void fire_abort(req *r) {
    if (r->cb) {
        sc_engine_output o;
        memset(&o, 0, sizeof o);
        o.request_id = r->id;
        o.token = -1;
        o.text = "";
        o.finish = SC_FINISH_ABORT;
        o.n_prompt = (int64_t)r->n_prompt;
        o.n_generated = r->n_generated;
        o.n_cached = r->n_cached > 0 ? r->n_cached : 0;
        r->cb(&o, r->user);
    }
}

/* Deliver and free a list of aborted requests (no lock held). */
static void deliver_aborts(req *list) {
    while (list) {
        req *n = list->next;
        fire_abort(list);
        req_free(list);
        list = n;
    }
}

/* ---- lifecycle ----------------------------------------------------------- */
/* The engine's own arrays and the engine (the mutex is the caller's). */
static void free_engine_memory(sc_engine_t *e) {
    free(e->running);
    free(e->slot_used);
    free(e->tokens);
    free(e->seqs);
    free(e->flags);
    free(e->logits);
    free(e->scratch);
    free(e);
}

void sc_engine_request_default(sc_engine_request *r) {
    memset(r, 0, sizeof(*r));
    sc_sampler_params_default(&r->sampling);
    r->sampling.temperature = 0.0f;
    r->skip_special = true;
    r->logprobs = -1;
}

int sc_engine_create(sc_model_t *m, const sc_tokenizer_t *tok, const sc_engine_opts *opts, sc_engine_t **out,
                     char *err, size_t err_len) {
    const sc_model_config *cfg = m ? sc_model_config_of(m) : NULL;
    sc_engine_opts o = {0};
    sc_engine_t *e;
    int model_seqs = 0;

    if (err && err_len)
        err[0] = '\0';
    if (!out)
        return sc__errf(err, err_len, SC_EINVAL, "sc_engine_create: no output pointer");
    *out = NULL;
    if (!m || !cfg)
        return sc__errf(err, err_len, SC_EINVAL, "sc_engine_create: no model");
    if (opts) {
        /* struct_size 0: the caller's struct is this version's, read whole */
        size_t n = opts->struct_size ? SC_MIN(opts->struct_size, sizeof(o)) : sizeof(o);
        memcpy(&o, opts, n);
    }
    /* the model's sequence count: every sequence has a block-table row */
    while (sc_model_seq_len(m, model_seqs) >= 0)
        model_seqs++;
    if (o.max_num_seqs < 0 || o.max_num_batched_tokens < 0 || o.max_waiting < 0 || o.prefix_caching > 1)
        return sc__errf(err, err_len, SC_EINVAL, "engine options must not be negative");
    if (o.max_num_seqs == 0 || o.max_num_seqs > model_seqs)
        o.max_num_seqs = model_seqs;
    if (o.max_num_batched_tokens == 0)
        o.max_num_batched_tokens = 512;
    if (o.max_waiting == 0)
        o.max_waiting = 1024;
    /* vLLM's rule: a smaller budget could starve requests behind decoders */
    if (o.max_num_batched_tokens < o.max_num_seqs)
        return sc__errf(err, err_len, SC_EINVAL, "max_num_batched_tokens (%d) must be >= max_num_seqs (%d)",
                        o.max_num_batched_tokens, o.max_num_seqs);

    if (!(e = calloc(1, sizeof(*e))))
        return sc__errf(err, err_len, SC_ENOMEM, "out of memory");
    e->m = m;
    e->tok = tok;
    e->max_seqs = o.max_num_seqs;
    e->budget = o.max_num_batched_tokens;
    e->max_waiting = o.max_waiting;
    e->prefix_caching = o.prefix_caching >= 0;
    e->max_len = sc_model_max_len(m);
    e->vocab = cfg->vocab_size;
    e->n_text_vocab = tok ? sc_tokenizer_vocab_size(tok) : (int32_t)e->vocab;
    if (e->n_text_vocab <= 0 || e->n_text_vocab > e->vocab)
        e->n_text_vocab = (int32_t)e->vocab;
    e->next_id = 1;
    e->running = calloc((size_t)e->max_seqs, sizeof(*e->running));
    e->slot_used = calloc((size_t)e->max_seqs, sizeof(*e->slot_used));
    e->tokens = malloc((size_t)e->budget * sizeof(*e->tokens));
    e->seqs = malloc((size_t)e->budget * sizeof(*e->seqs));
    e->flags = malloc((size_t)e->budget);
    e->logits = malloc((size_t)e->max_seqs * (size_t)e->vocab * sizeof(float));
    e->scratch = malloc((size_t)e->vocab * sizeof(float));
    if (!e->running || !e->slot_used || !e->tokens || !e->seqs || !e->flags || !e->logits || !e->scratch ||
        pthread_mutex_init(&e->mu, NULL) != 0) {
        free_engine_memory(e);
        return sc__errf(err, err_len, SC_ENOMEM, "out of memory");
    }
    /* the engine owns its sequences: start them empty */
    for (int s = 0; s < e->max_seqs; s++)
        sc_model_seq_reset(m, s);
    sc_model_kv_blocks(m, &e->kv_free, &e->kv_total);
    *out = e;
    return SC_OK;
}

void sc_engine_destroy(sc_engine_t *e) {
    req *list;
    if (!e)
        return;
    /* everything still owed a final callback gets "abort" */
    list = e->aborts;
    e->aborts = NULL;
    deliver_aborts(list);
    for (req *r = e->wait_head, *n; r; r = n) {
        n = r->next;
        fire_abort(r);
        req_free(r);
    }
    for (int i = 0; i < e->n_running; i++) {
        sc_model_seq_reset(e->m, e->running[i]->seq);
        fire_abort(e->running[i]);
        req_free(e->running[i]);
    }
    pthread_mutex_destroy(&e->mu);
    free_engine_memory(e);
}

/* ---- requests in --------------------------------------------------------- */
int sc_engine_add_request(sc_engine_t *e, const sc_engine_request *q, uint64_t *request_id, char *err,
                          size_t err_len) {
    req *r;
    int64_t max_new;
    char perr[128];
    int rc;

    if (err && err_len)
        err[0] = '\0';
    if (!e || !q || (!q->prompt && q->n_prompt) || (q->n_stop > 0 && !q->stop) || (q->n_eos > 0 && !q->eos_ids))
        return sc__errf(err, err_len, SC_EINVAL, "sc_engine_add_request: missing engine, request or arrays");
    if (q->n_prompt == 0)
        return sc__errf(err, err_len, SC_EINVAL, "the prompt is empty");
    if (q->logprobs < -1 || q->logprobs > SC_ENGINE_MAX_LOGPROBS)
        return sc__errf(err, err_len, SC_EINVAL, "logprobs must be -1 (none) or from 0 to %d, not %d",
                        SC_ENGINE_MAX_LOGPROBS, q->logprobs);
    if ((rc = sc_sampler_params_check(&q->sampling, perr, sizeof(perr))) < 0)
        return sc__errf(err, err_len, rc, "%s", perr);
    for (size_t i = 0; i < q->n_prompt; i++)
        if (q->prompt[i] < 0 || q->prompt[i] >= e->vocab)
            return sc__errf(err, err_len, SC_EINVAL, "prompt token %zu is %d, outside the vocabulary (%lld)", i,
                            (int)q->prompt[i], (long long)e->vocab);
    /* vLLM's wording, so that OpenAI clients see the message they expect */
    if ((int64_t)q->n_prompt >= e->max_len || (q->max_tokens > 0 && (int64_t)q->n_prompt + q->max_tokens > e->max_len))
        return sc__errf(err, err_len, SC_ERANGE,
                        "This model's maximum context length is %lld tokens. However, you requested %lld tokens "
                        "(%zu in the messages, %lld in the completion). Please reduce the length of the messages "
                        "or completion.",
                        (long long)e->max_len, (long long)q->n_prompt + (q->max_tokens > 0 ? q->max_tokens : 0),
                        q->n_prompt, (long long)(q->max_tokens > 0 ? q->max_tokens : 0));
    max_new = q->max_tokens > 0 ? q->max_tokens : e->max_len - (int64_t)q->n_prompt;

    /* build outside the lock: the sampler's vocab-sized buffers take time */
    if (!(r = calloc(1, sizeof(*r))))
        return sc__errf(err, err_len, SC_ENOMEM, "out of memory");
    r->seq = -1;
    r->max_new = max_new;
    r->n_prompt = q->n_prompt;
    r->n_toks = q->n_prompt;
    r->cap = q->n_prompt + (size_t)max_new; /* <= max_len */
    r->n_cached = -1;
    r->n_logprobs = q->logprobs;
    r->ignore_eos = q->ignore_eos;
    r->cb = q->callback;
    r->user = q->user;
    atomic_init(&r->cancelled, false);
    r->toks = malloc(r->cap * sizeof(*r->toks));
    r->n_eos = q->n_eos > 0 ? q->n_eos : 0;
    r->eos = r->n_eos ? malloc((size_t)r->n_eos * sizeof(*r->eos)) : NULL;
    r->sampler = sc_sampler_create(&q->sampling, (int32_t)e->vocab);
    r->stop = sc_stop_create(q->stop, q->n_stop, q->include_stop_str);
    r->detok = e->tok ? sc_detok_create(e->tok, q->skip_special) : NULL;
    if (!r->toks || (r->n_eos && !r->eos) || !r->sampler || !r->stop || (e->tok && !r->detok) ||
        sc_sampler_add_prompt(r->sampler, q->prompt, q->n_prompt) < 0 || text_put(r, "", 0) < 0) {
        req_free(r);
        return sc__errf(err, err_len, SC_ENOMEM, "out of memory");
    }
    memcpy(r->toks, q->prompt, q->n_prompt * sizeof(*r->toks));
    if (r->n_eos)
        memcpy(r->eos, q->eos_ids, (size_t)r->n_eos * sizeof(*r->eos));

    pthread_mutex_lock(&e->mu);
    if (e->n_waiting >= e->max_waiting) {
        pthread_mutex_unlock(&e->mu);
        req_free(r);
        return sc__errf(err, err_len, SC_ESTATE, "the server is busy: %d requests are already waiting",
                        e->max_waiting);
    }
    r->id = e->next_id++;
    if (e->wait_tail)
        e->wait_tail->next = r;
    else
        e->wait_head = r;
    e->wait_tail = r;
    e->n_waiting++;
    if (request_id)
        *request_id = r->id;
    pthread_mutex_unlock(&e->mu);
    return SC_OK;
}

/* Take running[i] out (lock held, no step in flight or the stepping thread
 * itself): its sequence and slot are free again. */
static req *running_remove(sc_engine_t *e, int i) {
    req *r = e->running[i];
    sc_model_seq_reset(e->m, r->seq);
    e->slot_used[r->seq] = false;
    r->seq = -1;
    memmove(e->running + i, e->running + i + 1, (size_t)(e->n_running - i - 1) * sizeof(*e->running));
    e->n_running--;
    return r;
}

int sc_engine_cancel(sc_engine_t *e, uint64_t id) {
    int rc = SC_ENOENT;
    if (!e)
        return SC_EINVAL;
    pthread_mutex_lock(&e->mu);
    for (req *r = e->wait_head, *prev = NULL; r; prev = r, r = r->next) {
        if (r->id != id)
            continue;
        if (prev)
            prev->next = r->next;
        else
            e->wait_head = r->next;
        if (e->wait_tail == r)
            e->wait_tail = prev;
        e->n_waiting--;
        r->next = e->aborts;
        e->aborts = r;
        count_end(e, SC_FINISH_ABORT);
        rc = SC_OK;
        goto out;
    }
    for (int i = 0; i < e->n_running; i++) {
        req *r = e->running[i];
        if (r->id != id)
            continue;
        if (atomic_load(&r->cancelled)) {
            rc = SC_ENOENT; /* already cancelled during this step */
        } else if (e->in_step) {
            atomic_store(&r->cancelled, true); /* retired when the step ends */
            rc = SC_OK;
        } else {
            running_remove(e, i);
            sc_model_kv_blocks(e->m, &e->kv_free, NULL);
            r->next = e->aborts;
            e->aborts = r;
            count_end(e, SC_FINISH_ABORT);
            rc = SC_OK;
        }
        goto out;
    }
out:
    pthread_mutex_unlock(&e->mu);
    return rc;
}

bool sc_engine_has_work(sc_engine_t *e) {
    bool w;
    if (!e)
        return false;
    pthread_mutex_lock(&e->mu);
    w = e->n_waiting > 0 || e->n_running > 0 || e->aborts != NULL;
    pthread_mutex_unlock(&e->mu);
    return w;
}

void sc_engine_stats_get(sc_engine_t *e, sc_engine_stats *s) {
    if (!s)
        return;
    memset(s, 0, sizeof(*s));
    if (!e)
        return;
    pthread_mutex_lock(&e->mu);
    s->running = e->n_running;
    s->waiting = e->n_waiting;
    s->kv_blocks_free = e->kv_free;
    s->kv_blocks_total = e->kv_total;
    s->prompt_tokens = e->prompt_tokens;
    s->generation_tokens = e->generation_tokens;
    s->steps = e->steps;
    s->finished = e->finished;
    s->preemptions = e->preemptions;
    s->prefix_queries = e->prefix_queries;
    s->prefix_hits = e->prefix_hits;
    s->ended_stop = e->ended_stop;
    s->ended_length = e->ended_length;
    s->ended_abort = e->ended_abort;
    s->max_num_seqs = e->max_seqs;
    s->block_size = sc_model_block_size(e->m);
    pthread_mutex_unlock(&e->mu);
}

/* ---- the step ------------------------------------------------------------ */
/* log(sum(exp(x[i] - mx))) without libm calls, so the loop vectorizes: exp
 * by 2^round(t) * p(t - round(t)), t = x*log2(e), p a degree-6 polynomial
 * (relative error ~2e-7; ample for reported logprobs). */
static float log_sum_exp_shifted(const float *x, int64_t n, float mx) {
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        float t = (x[i] - mx) * 1.44269504f;
        t = t < -126.0f ? -126.0f : t; /* exp underflow: contributes ~0 */
        float r = (t + 12582912.0f) - 12582912.0f; /* round to nearest */
        float f = t - r;                           /* [-0.5, 0.5] */
        float p = 1.5403530e-4f;
        p = p * f + 1.3333558e-3f;
        p = p * f + 9.6181291e-3f;
        p = p * f + 5.5504109e-2f;
        p = p * f + 2.4022651e-1f;
        p = p * f + 6.9314718e-1f;
        p = p * f + 1.0f;
        int32_t bits = ((int32_t)r + 127) << 23;
        float scale;
        memcpy(&scale, &bits, sizeof scale);
        sum += p * scale;
    }
    return logf(sum);
}

/* The sampled token's logprob and the k most likely tokens' (raw logits,
 * padding masked), before the sampler overwrites the row. */
static float logprobs_of(sc_engine_t *e, const float *lg, int k, int *n_top) {
    const int64_t V = e->n_text_vocab;
    float mx = -INFINITY;
    for (int64_t i = 0; i < V; i++)
        mx = lg[i] > mx ? lg[i] : mx;
    float lse = mx + log_sum_exp_shifted(lg, V, mx);
    int n = 0;
    /* top k by insertion: k <= 20 */
    for (int64_t i = 0; i < V && k > 0; i++) {
        float v = lg[i];
        if (n == k && !(v > e->top_lp[n - 1]))
            continue;
        int j = n < k ? n++ : n - 1;
        while (j > 0 && e->top_lp[j - 1] < v) {
            e->top_lp[j] = e->top_lp[j - 1];
            e->top_ids[j] = e->top_ids[j - 1];
            j--;
        }
        e->top_lp[j] = v;
        e->top_ids[j] = (int32_t)i;
    }
    for (int j = 0; j < n; j++)
        e->top_lp[j] -= lse;
    *n_top = n;
    return lse;
}

/* Sample r's next token from its logits row, and turn it into the callback's
 * output (sc_generate's order of checks). With logprobs the row is sampled
 * in a copy: the sampler overwrites what it samples, and the sampled
 * token's raw logit is needed for its logprob. */
static int sample_one(sc_engine_t *e, req *r) {
    float *lg = e->logits + (size_t)r->row * (size_t)e->vocab;
    sc_engine_output o;
    int32_t id;
    int st, rc, n_top = 0;
    /* ids past the tokenizer's vocabulary (embedding padding) have no text */
    for (int64_t i = e->n_text_vocab; i < e->vocab; i++)
        lg[i] = -INFINITY;
    float lse = 0.0f, *row = lg;
    if (r->n_logprobs >= 0) {
        lse = logprobs_of(e, lg, r->n_logprobs, &n_top);
        memcpy(e->scratch, lg, (size_t)e->vocab * sizeof(float));
        row = e->scratch;
    }
    if ((rc = sc_sampler_sample(r->sampler, row, &id)) < 0)
        return rc;
    if ((rc = sc_sampler_accept(r->sampler, id)) < 0)
        return rc;
    r->n_generated++;
    r->text_len = 0;
    r->text[0] = '\0';
    if (!r->ignore_eos && is_eos(r, id)) {
        r->finish = SC_FINISH_EOS;
    } else {
        if ((st = sc__text_token(r->detok, r->stop, id, req_emit, r)) < 0)
            return st;
        if (st)
            r->finish = SC_FINISH_STOP;
        else if (r->n_generated >= r->max_new)
            r->finish = SC_FINISH_LENGTH;
    }
    if (r->finish == SC_FINISH_EOS || r->finish == SC_FINISH_LENGTH) {
        if ((st = sc__text_end(r->detok, r->stop, req_emit, r)) < 0)
            return st;
        if (st)
            r->finish = SC_FINISH_STOP;
    }
    if (r->finish == SC_FINISH_NONE)
        r->toks[r->n_toks++] = id; /* forwarded next step; cap = prompt + max_new bounds it */
    if (r->cb) {
        memset(&o, 0, sizeof o);
        o.request_id = r->id;
        o.token = id;
        o.text = r->text;
        o.len = r->text_len;
        o.finish = r->finish;
        o.n_prompt = (int64_t)r->n_prompt;
        o.n_generated = r->n_generated;
        o.n_cached = r->n_cached > 0 ? r->n_cached : 0;
        o.logprob = r->n_logprobs >= 0 ? lg[id] - lse : 0.0f;
        o.n_top = n_top;
        o.top_ids = e->top_ids;
        o.top_logprobs = e->top_lp;
        r->cb(&o, r->user);
    }
    return SC_OK;
}

/* Tokens r would forward this step, within `left` of the budget. */
static int plan_of(const req *r, int left) {
    size_t want = r->n_toks - r->n_done;
    if (left <= 0 || atomic_load(&r->cancelled))
        return 0;
    return want < (size_t)left ? (int)want : left;
}

/* Put r's planned tokens into the batch (its blocks are reserved). */
static void put(sc_engine_t *e, req *r, int k, int *n, int *rows) {
    for (int j = 0; j < k; j++) {
        e->tokens[*n + j] = r->toks[r->n_done + (size_t)j];
        e->seqs[*n + j] = r->seq;
        e->flags[*n + j] = 0;
    }
    r->n_sched = k;
    *n += k;
    if (r->n_done + (size_t)k == r->n_toks) { /* the last known token: sample from it */
        e->flags[*n - 1] = 1;
        r->row = (*rows)++;
    }
}

/* Send the last running request back to the queue's head (lock held, no
 * forward pass in flight). */
static void preempt_last(sc_engine_t *e) {
    req *r = running_remove(e, e->n_running - 1);
    r->n_done = 0;
    r->n_sched = 0;
    r->row = -1;
    r->next = e->wait_head;
    e->wait_head = r;
    if (!e->wait_tail)
        e->wait_tail = r;
    e->n_waiting++;
    e->preemptions++;
}

int sc_engine_step(sc_engine_t *e) {
    req *aborts, *done = NULL;
    int n = 0, rows = 0, rc = SC_OK, n_prompt_toks = 0, n_sampled = 0, left;
    if (!e)
        return SC_EINVAL;

    /* ---- schedule (locked) ---- */
    pthread_mutex_lock(&e->mu);
    if (e->in_step) {
        pthread_mutex_unlock(&e->mu);
        return SC_ESTATE; /* one stepping thread at a time */
    }
    e->in_step = true;
    /* Plan: decode tokens first (latency of running streams; budget >=
     * max_seqs, checked at create, so every one fits), then prompt chunks
     * in admission order. */
    left = e->budget;
    for (int i = 0; i < e->n_running; i++) {
        req *r = e->running[i];
        r->n_sched = 0;
        r->row = -1;
        r->finish = SC_FINISH_NONE;
        if (r->n_toks - r->n_done == 1) {
            r->n_sched = plan_of(r, left);
            left -= r->n_sched;
        }
    }
    for (int i = 0; i < e->n_running; i++) {
        req *r = e->running[i];
        if (r->n_toks - r->n_done > 1) {
            r->n_sched = plan_of(r, left);
            left -= r->n_sched;
        }
    }
    /* Blocks, in admission order; when the pool is dry the latest admitted
     * requests give theirs back. A request alone always fits (the pool
     * holds at least one max_model_len sequence). */
    for (int i = 0; i < e->n_running; i++) {
        req *r = e->running[i];
        int k = r->n_sched;
        if (k == 0)
            continue;
        int64_t new_len = (int64_t)r->n_done + k;
        while (sc_model_seq_reserve(e->m, r->seq, new_len) == SC_ENOMEM) {
            bool self = e->running[e->n_running - 1] == r;
            left += e->running[e->n_running - 1]->n_sched;
            preempt_last(e);
            if (self)
                break;
        }
        if (i >= e->n_running || e->running[i] != r)
            break; /* r itself went back to the queue: everything after it did too */
    }
    /* Admissions (FCFS, no skipping): a free slot, budget, and blocks for
     * the first chunk after the cached prefix. */
    while (e->wait_head && e->n_running < e->max_seqs && left > 0) {
        req *r = e->wait_head;
        int s = 0;
        while (e->slot_used[s])
            s++; /* a free slot exists: n_running < max_seqs */
        int64_t cached = 0;
        if (e->prefix_caching) {
            cached = sc_model_seq_attach_prefix(e->m, s, r->toks, (int64_t)r->n_toks);
            if (cached < 0)
                cached = 0;
        }
        r->n_done = (size_t)cached;
        r->seq = s;
        int k = plan_of(r, left);
        if (k == 0 || sc_model_seq_reserve(e->m, s, (int64_t)r->n_done + k) != SC_OK) {
            sc_model_seq_reset(e->m, s); /* let the cached blocks go again */
            r->seq = -1;
            r->n_done = 0;
            break;
        }
        if (r->n_cached < 0) { /* first admission: prompt and prefix-cache statistics */
            r->n_cached = cached;
            n_prompt_toks += (int)r->n_prompt; /* vLLM counts cached prompt tokens too */
            if (e->prefix_caching) {
                e->prefix_queries += r->n_toks;
                e->prefix_hits += (uint64_t)cached;
            }
        }
        e->wait_head = r->next;
        if (!e->wait_head)
            e->wait_tail = NULL;
        e->n_waiting--;
        r->next = NULL;
        e->slot_used[s] = true;
        e->running[e->n_running++] = r;
        r->n_sched = k;
        r->row = -1;
        r->finish = SC_FINISH_NONE;
        left -= k;
    }
    for (int i = 0; i < e->n_running; i++)
        if (e->running[i]->n_sched > 0)
            put(e, e->running[i], e->running[i]->n_sched, &n, &rows);
    aborts = e->aborts;
    e->aborts = NULL;
    pthread_mutex_unlock(&e->mu);
    deliver_aborts(aborts);

    /* ---- forward and sample (unlocked) ---- */
    if (n > 0) {
        sc_model_batch b = {.n_tokens = n, .tokens = e->tokens, .seq = e->seqs, .logits = e->flags};
        rc = sc_model_forward_batch(e->m, &b, rows > 0 ? e->logits : NULL);
        for (int i = 0; i < e->n_running; i++) {
            req *r = e->running[i];
            if (r->n_sched == 0)
                continue;
            if (rc < 0) {
                r->finish = SC_FINISH_ABORT; /* the cache may hold part of the batch: give up on it */
                fire_abort(r);
                continue;
            }
            r->n_done += (size_t)r->n_sched;
            if (r->row < 0 || atomic_load(&r->cancelled))
                continue;
            n_sampled++;
            int src = sample_one(e, r);
            if (src < 0) {
                r->finish = SC_FINISH_ABORT;
                fire_abort(r);
                rc = src;
            }
        }
    }

    /* ---- retire (locked) ---- */
    pthread_mutex_lock(&e->mu);
    for (int i = 0; i < e->n_running;) {
        req *r = e->running[i];
        bool cancelled = atomic_load(&r->cancelled);
        if (r->finish == SC_FINISH_NONE && !cancelled) {
            i++;
            continue;
        }
        running_remove(e, i);
        if (r->finish == SC_FINISH_NONE) { /* cancelled mid-step: its abort is still owed */
            r->next = e->aborts;
            e->aborts = r;
            count_end(e, SC_FINISH_ABORT);
        } else {
            r->next = done;
            done = r;
            e->finished++;
            count_end(e, r->finish);
        }
    }
    if (n > 0 && rc >= 0)
        e->steps++;
    e->prompt_tokens += (uint64_t)n_prompt_toks;
    e->generation_tokens += (uint64_t)n_sampled;
    sc_model_kv_blocks(e->m, &e->kv_free, NULL);
    e->in_step = false;
    aborts = e->aborts;
    e->aborts = NULL;
    pthread_mutex_unlock(&e->mu);
    deliver_aborts(aborts);
    while (done) {
        req *nx = done->next;
        req_free(done);
        done = nx;
    }
    return rc < 0 ? rc : n;
}

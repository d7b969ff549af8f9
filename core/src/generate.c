/*
 * core/src/generate.c - the generation loop of one sequence.
 *
 *   prompt ids -> prefill (chunks of forward passes) -> logits of the last
 *   token -> sample -> eos? -> detokenize -> stop strings -> text callback
 *   -> forward the token -> logits -> sample -> ...
 *
 * The last sampled token is never forwarded (nothing would read its
 * logits), so after a run the cache holds prompt + generated[0 .. n-2];
 * sc_gen_cache records exactly that, which is what lets the next chat turn
 * skip re-prefilling its history.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "text_out.h"
#include "strixcore/generate.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int errf(char *err, size_t err_len, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int errf(char *err, size_t err_len, int rc, const char *fmt, ...) {
    va_list ap;
    if (err && err_len) {
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return rc;
}

const char *sc_finish_name(sc_finish f) {
    switch (f) {
    case SC_FINISH_EOS: return "eos";
    case SC_FINISH_STOP: return "stop";
    case SC_FINISH_LENGTH: return "length";
    case SC_FINISH_ABORT: return "abort";
    default: return "none";
    }
}

void sc_gen_params_default(sc_gen_params *p) {
    memset(p, 0, sizeof(*p));
    sc_sampler_params_default(&p->sampling);
    p->sampling.temperature = 0.0f;
    p->skip_special = true;
}

void sc_gen_cache_free(sc_gen_cache *c) {
    if (!c)
        return;
    free(c->ids);
    c->ids = NULL;
    c->n = c->cap = 0;
}

static int cache_reserve(sc_gen_cache *c, size_t need) {
    int32_t *p;
    size_t cap;
    if (!c || need <= c->cap)
        return SC_OK;
    cap = c->cap ? c->cap : 256;
    while (cap < need)
        cap *= 2;
    if (!(p = realloc(c->ids, cap * sizeof(*p))))
        return SC_ENOMEM;
    c->ids = p;
    c->cap = cap;
    return SC_OK;
}

static void cache_push(sc_gen_cache *c, const int32_t *ids, size_t n) {
    if (!c)
        return;
    memcpy(c->ids + c->n, ids, n * sizeof(*ids)); /* room reserved up front */
    c->n += n;
}

/* Everything one run needs, freed in one place. */
typedef struct gen_state {
    const sc_gen_params *p;
    sc_sampler_t *sampler;
    sc_stop_t *stop;
    sc_detok_t *detok;
    float *logits;
    bool aborted;
} gen_state;

/* The text callback behind the shared output path; a nonzero answer from
 * the caller's on_text ends the generation (not an error). */
static int gen_emit(void *user, const char *text, size_t len) {
    gen_state *g = user;
    if (g->p->on_text && !g->aborted && g->p->on_text(text, len, g->p->user) != 0)
        g->aborted = true;
    return 0;
}

static bool is_eos(const sc_gen_params *p, int32_t id) {
    for (int i = 0; i < p->n_eos; i++)
        if (p->eos_ids[i] == id)
            return true;
    return false;
}

/* Sample the next token from g->logits; ids past the tokenizer's
 * vocabulary (the padding rows of the embedding) are masked: they have no
 * text, and random or barely trained rows must not be picked. */
static int sample_next(gen_state *g, int64_t vocab, int32_t n_text_vocab, int32_t *id) {
    for (int64_t i = n_text_vocab; i < vocab; i++)
        g->logits[i] = -INFINITY;
    return sc_sampler_sample(g->sampler, g->logits, id);
}

int sc_generate(sc_model_t *m, const sc_tokenizer_t *tok, const int32_t *prompt, size_t n_prompt,
                const sc_gen_params *p, sc_gen_cache *cache, sc_gen_result *res, char *err, size_t err_len) {
    const sc_model_config *cfg = sc_model_config_of(m);
    gen_state g = {.p = p};
    sc_gen_result r = {.stop_index = -1};
    int64_t max_len, max_new, vocab;
    int32_t n_text_vocab, id;
    size_t reuse = 0, chunk;
    double t0, t_first = 0.0, t_last = 0.0;
    int rc = SC_OK;
    char perr[128];

    if (err && err_len)
        err[0] = '\0';
    if (res)
        *res = r;
    /* ---- checks: nothing has happened yet if one fails ---- */
    if (!m || !cfg || !p || (!prompt && n_prompt))
        return errf(err, err_len, SC_EINVAL, "sc_generate: missing model, parameters or prompt");
    if (n_prompt == 0)
        return errf(err, err_len, SC_EINVAL, "the prompt is empty");
    if ((rc = sc_sampler_params_check(&p->sampling, perr, sizeof(perr))) < 0)
        return errf(err, err_len, rc, "%s", perr);
    vocab = cfg->vocab_size;
    max_len = sc_model_max_len(m);
    for (size_t i = 0; i < n_prompt; i++)
        if (prompt[i] < 0 || prompt[i] >= vocab)
            return errf(err, err_len, SC_EINVAL, "prompt token %zu is %d, outside the vocabulary (%lld)", i,
                        (int)prompt[i], (long long)vocab);
    if ((int64_t)n_prompt >= max_len)
        return errf(err, err_len, SC_ERANGE,
                    "the prompt is %zu tokens; the context holds %lld (raise --max-model-len)", n_prompt,
                    (long long)max_len);
    max_new = max_len - (int64_t)n_prompt;
    if (p->max_tokens > 0 && p->max_tokens < max_new)
        max_new = p->max_tokens;
    n_text_vocab = tok ? sc_tokenizer_vocab_size(tok) : (int32_t)vocab;
    if (n_text_vocab <= 0 || n_text_vocab > vocab)
        n_text_vocab = (int32_t)vocab;

    g.sampler = sc_sampler_create(&p->sampling, (int32_t)vocab);
    g.stop = sc_stop_create(p->stop, p->n_stop, p->include_stop_str);
    g.detok = tok ? sc_detok_create(tok, p->skip_special) : NULL;
    g.logits = malloc((size_t)vocab * sizeof(float));
    if (!g.sampler || !g.stop || (tok && !g.detok) || !g.logits ||
        cache_reserve(cache, n_prompt + (size_t)max_new) < 0 ||
        sc_sampler_add_prompt(g.sampler, prompt, n_prompt) < 0) {
        rc = errf(err, err_len, SC_ENOMEM, "out of memory");
        goto done;
    }

    /* ---- the cached prefix ----
     * Usable when the cache holds exactly the recorded tokens and the prompt
     * extends them. A prompt that diverges inside the cached tokens (a chat
     * template that re-renders earlier turns differently) needs a reset: the
     * model API can only forget a whole sequence. */
    if (cache && cache->n > 0 && cache->n < n_prompt && sc_model_seq_len(m, p->seq) == (int64_t)cache->n &&
        memcmp(cache->ids, prompt, cache->n * sizeof(*prompt)) == 0)
        reuse = cache->n;
    if (reuse == 0) {
        if ((rc = sc_model_seq_reset(m, p->seq)) < 0) {
            errf(err, err_len, rc, "cannot reset sequence %d: %s", p->seq, sc_strerror(rc));
            goto done;
        }
        if (cache)
            cache->n = 0;
    }
    r.n_prompt = (int64_t)n_prompt;
    r.n_cached = (int64_t)reuse;

    /* ---- prefill: only the last chunk's logits are wanted ---- */
    chunk = p->prefill_chunk > 0 ? (size_t)p->prefill_chunk : 512;
    t0 = now_s();
    for (size_t pos = reuse; pos < n_prompt; pos += chunk) {
        size_t n = SC_MIN(chunk, n_prompt - pos);
        bool last = pos + n == n_prompt;
        if ((rc = sc_model_forward(m, p->seq, prompt + pos, (int)n, last ? g.logits : NULL, false)) < 0) {
            errf(err, err_len, rc, "prefill failed at token %zu: %s", pos, sc_strerror(rc));
            if (cache)
                cache->n = 0; /* the cache may hold part of this chunk: trust nothing */
            goto done;
        }
        cache_push(cache, prompt + pos, n);
    }
    r.prefill_s = now_s() - t0;
    if (r.prefill_s > 0.0)
        r.prefill_tps = (double)(r.n_prompt - r.n_cached) / r.prefill_s;

    /* ---- decode loop ---- */
    for (;;) {
        int stopped;
        if ((rc = sample_next(&g, vocab, n_text_vocab, &id)) < 0) {
            errf(err, err_len, rc, "sampling failed: every logit is masked or NaN");
            goto done;
        }
        t_last = now_s();
        if (r.n_generated == 0)
            t_first = t_last;
        r.n_generated++;
        if ((rc = sc_sampler_accept(g.sampler, id)) < 0)
            goto done;
        if (p->on_token && p->on_token(id, p->user) != 0) {
            r.finish = SC_FINISH_ABORT;
            break;
        }
        if (!p->ignore_eos && is_eos(p, id)) {
            r.finish = SC_FINISH_EOS;
            break;
        }
        if ((stopped = sc__text_token(g.detok, g.stop, id, gen_emit, &g)) < 0) {
            rc = stopped;
            goto done;
        }
        if (stopped) {
            r.finish = SC_FINISH_STOP;
            break;
        }
        if (g.aborted) {
            r.finish = SC_FINISH_ABORT;
            break;
        }
        if (r.n_generated >= max_new) {
            r.finish = SC_FINISH_LENGTH;
            break;
        }
        /* hot path: one token through the model */
        if ((rc = sc_model_forward(m, p->seq, &id, 1, g.logits, false)) < 0) {
            errf(err, err_len, rc, "decode failed after %lld tokens: %s", (long long)r.n_generated, sc_strerror(rc));
            if (cache)
                cache->n = 0;
            goto done;
        }
        cache_push(cache, &id, 1);
    }
    if (r.finish != SC_FINISH_STOP && r.finish != SC_FINISH_ABORT) {
        int stopped = sc__text_end(g.detok, g.stop, gen_emit, &g);
        if (stopped < 0) {
            rc = stopped;
            goto done;
        }
        if (stopped)
            r.finish = SC_FINISH_STOP;
    }
    if (r.finish == SC_FINISH_STOP)
        r.stop_index = sc_stop_matched(g.stop);
    r.decode_s = t_last - t_first;
    if (r.n_generated > 1 && r.decode_s > 0.0)
        r.decode_tps = (double)(r.n_generated - 1) / r.decode_s;
    rc = SC_OK;

done:
    if (rc < 0 && err && err_len && !err[0])
        errf(err, err_len, rc, "%s", sc_strerror(rc));
    if (res)
        *res = r;
    sc_sampler_free(g.sampler);
    sc_stop_free(g.stop);
    sc_detok_free(g.detok);
    free(g.logits);
    return rc;
}

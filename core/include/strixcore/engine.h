/*
 * strixcore/engine.h - continuous batching over one model: many requests
 * share the model's KV sequences, and every sc_engine_step runs ONE batched
 * forward pass holding a decode token of every decoding request plus prompt
 * chunks of requests still prefilling (chunked prefill). Requests join and
 * leave at every step.
 *
 * Threads: sc_engine_add_request, sc_engine_cancel and sc_engine_stats may be
 * called from any thread (a server's event loop) while another thread runs
 * sc_engine_step; only one thread may step at a time. Callbacks fire on the
 * stepping thread (or in sc_engine_destroy) and never with the engine's lock
 * held, so a callback may add or cancel requests.
 */
#ifndef STRIXCORE_ENGINE_H
#define STRIXCORE_ENGINE_H

#include "strixcore/generate.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sc_engine sc_engine_t;

typedef struct sc_engine_opts {
    size_t struct_size;           /* sizeof(sc_engine_opts); 0 = read whole */
    int max_num_seqs;             /* requests running at once; 0 or more than the model's max_seqs = max_seqs */
    int max_num_batched_tokens;   /* tokens per forward pass (decode + prefill chunks); 0 = 512; must be >= max_num_seqs */
    int max_waiting;              /* queued requests before add fails with SC_ESTATE; 0 = 1024 */
    int prefix_caching;           /* 0 or 1: reuse cached KV blocks of earlier prompts (vLLM's default); -1: off */
} sc_engine_opts;

/*
 * Output of one request, once per sampled token: token is the id, text /
 * len the output text it released (stop strings applied, possibly empty,
 * NUL-terminated) and finish SC_FINISH_NONE until the last call, which
 * carries the reason ("eos", "stop", "length", "abort"). A cancelled request
 * gets exactly one call with token -1, empty text and SC_FINISH_ABORT, and
 * nothing after it. Pointers are valid only during the call.
 */
typedef struct sc_engine_output {
    uint64_t request_id;
    int32_t token;                /* -1 on abort */
    const char *text;
    size_t len;
    sc_finish finish;
    int64_t n_prompt;             /* the request's prompt tokens */
    int64_t n_generated;          /* tokens sampled so far, this one included */
    int64_t n_cached;             /* prompt tokens found in the prefix cache (first admission) */
    float logprob;                /* log-softmax of the raw logits at token */
    int n_top;                    /* request's logprobs alternatives, most likely first */
    const int32_t *top_ids;
    const float *top_logprobs;
} sc_engine_output;

typedef void (*sc_engine_fn)(const sc_engine_output *out, void *user);

typedef struct sc_engine_request {
    const int32_t *prompt;        /* copied */
    size_t n_prompt;
    sc_sampler_params sampling;   /* seed included */
    int64_t max_tokens;           /* <= 0: until the context is full */
    const char *const *stop;      /* copied */
    int n_stop;
    bool include_stop_str;
    const int32_t *eos_ids;       /* copied */
    int n_eos;
    bool ignore_eos;
    bool skip_special;
    sc_engine_fn callback;        /* may be NULL */
    void *user;
    int logprobs;                 /* -1 (the default): none; k in 0..SC_ENGINE_MAX_LOGPROBS: the sampled
                                   * token's logprob and the k most likely tokens' */
} sc_engine_request;

#define SC_ENGINE_MAX_LOGPROBS 20

/* Greedy, skip_special, no logprobs, everything else off. */
SC_API void sc_engine_request_default(sc_engine_request *r);

/* tok may be NULL (token ids only, no text). */
SC_API int sc_engine_create(sc_model_t *m, const sc_tokenizer_t *tok, const sc_engine_opts *opts,
                            sc_engine_t **out, char *err, size_t err_len);
/* Requests still queued or running get their "abort" callback here. Not
 * while another thread steps. */
SC_API void sc_engine_destroy(sc_engine_t *e);

/* Queue a request. SC_ERANGE when prompt + max_tokens exceeds the context
 * (vLLM's message), SC_ESTATE when the waiting queue is full, SC_EINVAL for
 * bad arguments; err gets a message and no callback ever fires then. */
SC_API int sc_engine_add_request(sc_engine_t *e, const sc_engine_request *r, uint64_t *request_id, char *err,
                                 size_t err_len);
/* Preemption: when a step cannot get KV blocks for every running request,
 * the most recently admitted ones give their blocks back and return to the
 * head of the queue with their output so far kept; when readmitted they
 * recompute prompt + output (prefix-cached blocks make that cheap) and go on
 * exactly where they stopped, with no repeated or lost output. */
/* Cancel a request: a waiting one leaves the queue, a running one gives its
 * KV sequence back at once (or at the end of the step in flight, if one is).
 * Its "abort" callback fires from the next sc_engine_step. SC_ENOENT for an
 * unknown or already finished request. */
SC_API int sc_engine_cancel(sc_engine_t *e, uint64_t request_id);

/* One scheduling step: admit waiting requests (FCFS) into free sequences,
 * run one batched forward pass, sample, stream and retire finished requests.
 * Returns the number of tokens forwarded (0 when there was nothing to do) or
 * an error; on a backend error the requests of that batch are finished with
 * "abort". */
SC_API int sc_engine_step(sc_engine_t *e);
/* True while anything is queued, running or has an abort to deliver. */
SC_API bool sc_engine_has_work(sc_engine_t *e);

typedef struct sc_engine_stats {
    int running, waiting;
    int kv_blocks_free, kv_blocks_total;
    uint64_t prompt_tokens;       /* prompt tokens of admitted requests (cached ones included, as vLLM counts) */
    uint64_t generation_tokens;   /* tokens sampled so far */
    uint64_t steps;               /* forward passes run */
    uint64_t finished;            /* requests finished by eos, stop, length or an error (not cancels) */
    uint64_t preemptions;         /* running requests sent back to the queue for want of KV blocks */
    uint64_t prefix_queries;      /* prompt tokens looked up in the prefix cache */
    uint64_t prefix_hits;         /* of which found */
    int max_num_seqs;
    int block_size;
    /* Requests ended, by vLLM's finished_reason: "stop" (eos or a stop
     * sequence), "length", "abort" (cancelled, or a backend error). A request
     * is counted in the same locked step that takes it out of running/waiting
     * and frees its KV blocks, so one snapshot is consistent. */
    uint64_t ended_stop, ended_length, ended_abort;
} sc_engine_stats;
SC_API void sc_engine_stats_get(sc_engine_t *e, sc_engine_stats *s);

#ifdef __cplusplus
}
#endif
#endif

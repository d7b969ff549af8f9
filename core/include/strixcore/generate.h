/*
 * strixcore/generate.h - one sequence's generation loop: prefill the prompt,
 * then sample, detokenize, check stop conditions and decode, one token at a
 * time. `strixcore run` drives it; a server runs one per request.
 */
#ifndef STRIXCORE_GENERATE_H
#define STRIXCORE_GENERATE_H

#include "strixcore/model.h"
#include "strixcore/sampler.h"
#include "strixcore/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sc_finish {
    SC_FINISH_NONE = 0,
    SC_FINISH_EOS,      /* an end-of-sequence token was sampled */
    SC_FINISH_STOP,     /* a stop string completed */
    SC_FINISH_LENGTH,   /* max_tokens reached, or the context is full */
    SC_FINISH_ABORT,    /* a callback asked to stop */
} sc_finish;

SC_API const char *sc_finish_name(sc_finish f); /* "eos", "stop", "length", "abort", "none" */

/* A piece of output text (NUL-terminated, complete UTF-8 characters; the
 * stop string and anything after it never appear). Return nonzero to stop. */
typedef int (*sc_gen_text_fn)(const char *text, size_t len, void *user);
/* Every sampled token, before stop strings are looked at. Nonzero stops. */
typedef int (*sc_gen_token_fn)(int32_t id, void *user);

typedef struct sc_gen_params {
    sc_sampler_params sampling;
    int64_t max_tokens;          /* tokens to generate; <= 0: until the context is full */
    const char *const *stop;     /* stop strings (vLLM semantics, see sc_stop_t) */
    int n_stop;
    bool include_stop_str;       /* output the matched stop string too */
    const int32_t *eos_ids;      /* e.g. sc_generation_config.eos_ids */
    int n_eos;
    bool ignore_eos;             /* keep going past eos (benchmarks) */
    bool skip_special;           /* leave special tokens out of the text (default true) */
    int seq;                     /* the model's KV sequence to use */
    int prefill_chunk;           /* prompt tokens per forward call; 0 = 512 */
    sc_gen_text_fn on_text;      /* may be NULL */
    sc_gen_token_fn on_token;    /* may be NULL */
    void *user;
} sc_gen_params;

/* Greedy, skip_special, everything else off. */
SC_API void sc_gen_params_default(sc_gen_params *p);

/* The tokens the model's cache holds for a sequence, as left by the last
 * sc_generate on it: a later prompt that starts with all of them (the next
 * turn of a chat) is prefilled from where the cache ends. */
typedef struct sc_gen_cache {
    int32_t *ids;
    size_t n, cap;
} sc_gen_cache;
SC_API void sc_gen_cache_free(sc_gen_cache *c); /* frees ids; the struct may be reused */

typedef struct sc_gen_result {
    int64_t n_prompt;            /* prompt tokens */
    int64_t n_cached;            /* of which came from the cache (not prefilled) */
    int64_t n_generated;         /* sampled tokens, eos included */
    double prefill_s;            /* prefill forward passes */
    double decode_s;             /* first sampled token to last */
    double prefill_tps;          /* (n_prompt - n_cached) / prefill_s */
    double decode_tps;           /* (n_generated - 1) / decode_s: the inter-token rate */
    sc_finish finish;
    int stop_index;              /* which stop string (SC_FINISH_STOP), else -1 */
} sc_gen_result;

/*
 * Generate from prompt[n_prompt] on sequence p->seq of m. tok may be NULL
 * (then no text: tokens only). cache may be NULL (the sequence is reset
 * first). Errors in the arguments (empty prompt, prompt longer than the
 * context, bad sampling parameters) are reported before any callback fires;
 * a failure mid-way (a backend error) returns it after the text produced so
 * far. err gets a message on failure.
 */
SC_API int sc_generate(sc_model_t *m, const sc_tokenizer_t *tok, const int32_t *prompt, size_t n_prompt,
                       const sc_gen_params *p, sc_gen_cache *cache, sc_gen_result *res, char *err,
                       size_t err_len);

#ifdef __cplusplus
}
#endif
#endif

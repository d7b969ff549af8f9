/*
 * strixcore/sampler.h - turning one step's logits into a token, and the
 * stop-string matcher that decides where the text ends.
 *
 * The pipeline is the one Hugging Face transformers and vLLM apply, in that
 * order:
 *
 *   penalties -> temperature -> top-k -> top-p -> min-p -> sample
 *
 *   repetition (HF):   for every token in prompt + output,
 *                      logit = logit > 0 ? logit / r : logit * r
 *   frequency/presence (OpenAI, vLLM): over the output tokens only,
 *                      logit -= frequency * count + presence * (count > 0)
 *   temperature:       logit /= T; T == 0 is greedy (argmax after penalties)
 *   top-k (HF):        keep tokens whose logit >= the k-th largest (ties kept)
 *   top-p (HF):        in descending order keep a token while the mass of
 *                      the tokens before it is < p (the first always stays)
 *   min-p (HF):        keep tokens with prob >= min_p * max prob
 *
 * The random stream is the sampler's own (xoshiro256** seeded through
 * splitmix64), so one seed gives the same tokens on every machine and build.
 */
#ifndef STRIXCORE_SAMPLER_H
#define STRIXCORE_SAMPLER_H

#include "strixcore/model_config.h"
#include "strixcore/strixcore.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sc_sampler_params {
    float temperature;         /* 0 = greedy */
    int32_t top_k;             /* <= 0 = off */
    float top_p;               /* >= 1 = off */
    float min_p;               /* <= 0 = off */
    float repetition_penalty;  /* 1 = off; > 0 */
    float presence_penalty;    /* 0 = off */
    float frequency_penalty;   /* 0 = off */
    uint64_t seed;
} sc_sampler_params;

/* Off everywhere, temperature 1, seed 0. */
SC_API void sc_sampler_params_default(sc_sampler_params *p);
/* The defaults a checkpoint's generation_config.json asks for
 * (do_sample == false means greedy, as in HF). */
SC_API void sc_sampler_params_from_gen(sc_sampler_params *p, const sc_generation_config *gen);
/* SC_EINVAL with a message for values outside their ranges. */
SC_API int sc_sampler_params_check(const sc_sampler_params *p, char *err, size_t err_len);

typedef struct sc_sampler sc_sampler_t;

/* A sampler over a vocabulary of n_vocab logits. NULL when out of memory or
 * the parameters are invalid. */
SC_API sc_sampler_t *sc_sampler_create(const sc_sampler_params *p, int32_t n_vocab);
SC_API void sc_sampler_free(sc_sampler_t *s);
/* Forget the token history and restart the random stream from the seed. */
SC_API void sc_sampler_reset(sc_sampler_t *s);
/* Tokens the repetition penalty sees besides the output (the prompt). Ids
 * outside the vocabulary are ignored. */
SC_API int sc_sampler_add_prompt(sc_sampler_t *s, const int32_t *ids, size_t n);
/* Record a generated token (counted by all three penalties). */
SC_API int sc_sampler_accept(sc_sampler_t *s, int32_t id);
/* Apply the penalties to logits[n_vocab] in place (the first pipeline step,
 * exposed so that it can be checked on its own). */
SC_API void sc_sampler_apply_penalties(const sc_sampler_t *s, float *logits);
/* Pick the next token from logits[n_vocab]; the array is used as scratch and
 * holds the penalised logits afterwards. Does not accept the token. A logit
 * of -INFINITY masks a token. SC_EINVAL if every token is masked or NaN. */
SC_API int sc_sampler_sample(sc_sampler_t *s, float *logits, int32_t *out);

/* ------------------------------------------------------------------------ */
/* stop strings (core/src/stop.c)                                            */
/* ------------------------------------------------------------------------ */
/*
 * Feed the detokenized text as it streams; get back the text that may be
 * shown. A tail that could still become a stop string is held back until it
 * either completes one (the output ends just before it: vLLM's semantics,
 * the stop string itself is not output unless include_stop) or stops
 * matching. Output never ends inside a UTF-8 character. The first stop
 * string to complete ends the text; when several complete within the same
 * piece, the one that starts first wins (then the shorter).
 */
typedef struct sc_stop sc_stop_t;

/* Empty strings are ignored. NULL when out of memory. */
SC_API sc_stop_t *sc_stop_create(const char *const *stops, int n_stops, bool include_stop);
SC_API void sc_stop_free(sc_stop_t *s);
/* Forget the text seen so far (a new request with the same stop strings). */
SC_API void sc_stop_reset(sc_stop_t *s);
/* Append text. *out / *out_len: the text now safe to output (valid until the
 * next call). Returns 1 when a stop string has completed (the text after it
 * is dropped, later feeds output nothing), 0 otherwise, or SC_ENOMEM. */
SC_API int sc_stop_feed(sc_stop_t *s, const char *text, size_t len, const char **out, size_t *out_len);
/* The end of the stream: whatever is still held back. */
SC_API int sc_stop_flush(sc_stop_t *s, const char **out, size_t *out_len);
/* Index (into the stops passed to create) of the stop string that matched,
 * or -1. */
SC_API int sc_stop_matched(const sc_stop_t *s);
/* Longest stop string in bytes (how much text may be held back, less 1). */
SC_API size_t sc_stop_max_len(const sc_stop_t *s);

#ifdef __cplusplus
}
#endif
#endif

/* Log-probability bodies: chat's choices[].logprobs ({"content":[{token,
 * logprob, bytes, top_logprobs}]}) and the legacy completions shape
 * ({tokens, token_logprobs, top_logprobs, text_offset}), from per-token
 * records copied off the engine thread. Token text comes from a callback
 * that decodes one id alone (special tokens kept), as vLLM does. */
#ifndef OAI_LOGPROBS_H
#define OAI_LOGPROBS_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <strixcore/plugin.h>

#include "oai_buf.h"

#define OAI_MAX_LOGPROBS SC_SERVE_MAX_LOGPROBS

/* One sampled token with its k most likely alternatives (most likely first). */
typedef struct {
    int32_t token;
    float logprob;
    int32_t n_top;
    int32_t top_ids[OAI_MAX_LOGPROBS];
    float top_logprobs[OAI_MAX_LOGPROBS];
} oai_lp_step_t;

/* Appends the raw bytes of token `id` decoded alone to out (the bytes may be
 * a partial UTF-8 sequence). 0, or a negative code (the token then reads ""). */
typedef int (*oai_token_bytes_fn)(void *user, int32_t id, oai_buf_t *out);

/* JSON has no -Infinity: vLLM clamps at -9999.0 (NaN too). */
double oai_logprob_value(float lp);

/* s[0..n) as valid UTF-8 (each invalid byte becomes U+FFFD), malloc'd and
 * NUL-terminated; *n_chars gets its code-point count (Python's len()). */
char *oai_utf8_lossy(const char *s, size_t n, size_t *n_chars);

/* Chat: the entries of "content" for n steps, each with min(top_k, n_top)
 * alternatives. New array or NULL (allocation failure). */
json_t *oai_logprobs_chat_content(const oai_lp_step_t *steps, size_t n, int top_k,
                                  oai_token_bytes_fn fn, void *user);
/* {"content": entries}; steals entries. */
json_t *oai_logprobs_chat(json_t *entries);

/* Completions: top_logprobs[i] maps the sampled token, then the top_k
 * alternatives, to their logprobs (a dict, so one key per distinct text, as
 * in vLLM; where texts collide the first, the sampled token, wins). text_offset counts code points: *offset is where the first
 * token starts and is advanced past the last. */
json_t *oai_logprobs_completion(const oai_lp_step_t *steps, size_t n, int top_k, int64_t *offset,
                                oai_token_bytes_fn fn, void *user);
#endif

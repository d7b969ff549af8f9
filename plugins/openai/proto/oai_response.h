/* Response bodies: chat.completion / text_completion objects, SSE chunks and
 * framing, and /v1/models cards, in vLLM's shape (llama flavour renames
 * reasoning to reasoning_content). Builders return new references. */
#ifndef OAI_RESPONSE_H
#define OAI_RESPONSE_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oai_errors.h"

/* Deterministic id source (splitmix64): the caller seeds it (e.g. from
 * getrandom at startup) so tests can pin ids. */
typedef struct { uint64_t state; } oai_idgen_t;

/* Writes prefix + 32 lowercase hex digits; cap >= strlen(prefix) + 33. */
void oai_id_make(oai_idgen_t *g, const char *prefix, char *out, size_t cap);

typedef enum {
    OAI_REASONING_FIELD_AUTO = 0,   /* vllm: "reasoning", llama: "reasoning_content" */
    OAI_REASONING_FIELD_REASONING,
    OAI_REASONING_FIELD_CONTENT,
    OAI_REASONING_FIELD_BOTH,       /* both names (the AI SDK tolerates it) */
} oai_reasoning_field_t;

typedef struct {
    const char *id;         /* "chatcmpl-..." / "cmpl-..." */
    const char *model;
    int64_t created;        /* unix seconds */
    oai_flavor_t flavor;
    oai_reasoning_field_t reasoning_field;
    bool prompt_tokens_details; /* --enable-prompt-tokens-details */
} oai_resp_ctx_t;

typedef struct {
    const char *content;    /* NULL -> null (e.g. everything went into tool calls) */
    const char *reasoning;  /* NULL -> omitted */
    json_t *tool_calls;     /* borrowed; NULL or [] -> omitted */
    const char *finish_reason; /* "stop" | "length" | "tool_calls" | "abort"; NULL -> null */
    json_t *stop_reason;    /* borrowed: stop string or token id; NULL -> null */
    json_t *logprobs;       /* borrowed: chat {"content":[...]} or completions' object; NULL -> null */
} oai_choice_t;

typedef struct {
    int64_t prompt_tokens;
    int64_t completion_tokens;
    int64_t cached_tokens;
} oai_usage_t;

json_t *oai_chat_completion(const oai_resp_ctx_t *c, const oai_choice_t *choices, size_t n,
                            const oai_usage_t *usage);
/* choices[i].content is the text; reasoning/tool_calls are ignored. */
json_t *oai_text_completion(const oai_resp_ctx_t *c, const oai_choice_t *choices, size_t n,
                            const oai_usage_t *usage);
json_t *oai_usage_json(const oai_resp_ctx_t *c, const oai_usage_t *u);

/* --- streaming (chat.completion.chunk) --- */
json_t *oai_chunk_role(const oai_resp_ctx_t *c, int index);
/* Any of content / reasoning / tool_call_deltas may be NULL. */
json_t *oai_chunk_delta(const oai_resp_ctx_t *c, int index, const char *content,
                        const char *reasoning, json_t *tool_call_deltas);
json_t *oai_chunk_finish(const oai_resp_ctx_t *c, int index, const char *finish_reason,
                         json_t *stop_reason);
json_t *oai_chunk_usage(const oai_resp_ctx_t *c, const oai_usage_t *u);
/* Streaming /v1/completions chunk (object "text_completion"). */
json_t *oai_text_chunk(const oai_resp_ctx_t *c, int index, const char *text,
                       const char *finish_reason, json_t *stop_reason);
/* Streaming /v1/completions usage chunk: choices [] and usage. */
json_t *oai_text_chunk_usage(const oai_resp_ctx_t *c, const oai_usage_t *u);
/* Sets choices[0].logprobs of a chunk (either kind); steals lp. Returns chunk. */
json_t *oai_chunk_set_logprobs(json_t *chunk, json_t *lp);
/* Non-streaming tool_calls -> streaming deltas (adds "index"). */
json_t *oai_tool_call_deltas(const json_t *tool_calls);
/* Same, numbering from `first` (a choice's earlier calls were already sent). */
json_t *oai_tool_call_deltas_at(const json_t *tool_calls, int first);

/* "data: <compact json>\n\n", malloc'd; NULL on failure. */
char *oai_sse_frame(const json_t *obj);
#define OAI_SSE_DONE "data: [DONE]\n\n"
/* Error after the 200 was sent: data: {"error":{...}}\n\n (then send DONE). */
char *oai_sse_error_frame(oai_flavor_t fl, int status, const char *message);

/* --- GET /v1/models --- */
json_t *oai_model_card(const char *id, const char *root, int64_t created,
                       int64_t max_model_len, const char *owned_by);
/* Steals the cards array. */
json_t *oai_model_list(json_t *cards);
#endif

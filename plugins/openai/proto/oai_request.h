/* Parse and validate POST /v1/chat/completions and /v1/completions bodies
 * into plain C structs, following vLLM's ChatCompletionRequest /
 * CompletionRequest: unknown fields are ignored, type and range errors are
 * 400s naming the field. */
#ifndef OAI_REQUEST_H
#define OAI_REQUEST_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oai_errors.h"

typedef enum { OAI_REQ_CHAT = 0, OAI_REQ_COMPLETION = 1 } oai_req_kind_t;

typedef enum {
    OAI_FORMAT_TEXT = 0,
    OAI_FORMAT_JSON_OBJECT,
    OAI_FORMAT_JSON_SCHEMA,
} oai_format_t;

/* Server defaults (the model's generation_config.json or vLLM's own), and
 * limits the server enforces. */
typedef struct {
    double  temperature;        /* 1.0 */
    double  top_p;              /* 1.0 */
    int32_t top_k;              /* 0 = disabled */
    double  min_p;              /* 0 */
    double  repetition_penalty; /* 1.0 */
    double  presence_penalty;   /* 0 */
    double  frequency_penalty;  /* 0 */
    int32_t max_n;              /* largest accepted n (e.g. 128) */
    int32_t max_top_logprobs;   /* e.g. 20 */
    int64_t completion_max_tokens; /* /v1/completions default; OpenAI and vLLM use 16 */
} oai_defaults_t;

void oai_defaults_init(oai_defaults_t *d); /* vLLM's built-in values */

/* One /v1/completions prompt: text or token ids. */
typedef struct {
    char    *text;     /* NULL when tokens are given */
    int32_t *tokens;
    size_t   n_tokens;
} oai_prompt_t;

typedef struct {
    oai_req_kind_t kind;
    char *model;               /* NULL when absent (newest vLLM: optional) */

    json_t *messages;          /* chat: owned ref; reasoning_content renamed to reasoning */
    oai_prompt_t *prompts;     /* completions */
    size_t n_prompts;

    /* sampling */
    double  temperature, top_p, min_p;
    int32_t top_k;
    double  repetition_penalty, presence_penalty, frequency_penalty;
    bool    has_seed;
    int64_t seed;
    int32_t n;
    char  **stop;              /* owned strings */
    size_t  n_stop;
    int32_t *stop_token_ids;
    size_t  n_stop_token_ids;
    int64_t max_tokens;        /* -1: unset, cap at max_model_len - prompt_len */
    int64_t min_tokens;
    bool ignore_eos, include_stop_str_in_output, skip_special_tokens;
    bool logprobs;
    int32_t top_logprobs;      /* completions: the integer 'logprobs' */

    bool stream, include_usage, continuous_usage_stats;

    json_t *tools;             /* owned ref or NULL */
    json_t *tool_choice;       /* owned: "none" | "auto" | "required" | {"type":"function",...} */
    json_t *template_kwargs;   /* owned object: chat_template_kwargs (+enable_thinking) */
    bool add_generation_prompt, continue_final_message, echo;
    oai_format_t response_format;
    json_t *json_schema;       /* owned ref to response_format.json_schema.schema */
} oai_request_t;

/* Returns 0, SC_EINVAL (err filled, status 400) or SC_ENOMEM. On failure
 * *out is left freed (safe to call oai_request_free on it again). */
int  oai_request_parse(oai_request_t *out, oai_req_kind_t kind, const json_t *body,
                       const oai_defaults_t *d, oai_err_t *err);
/* Same from raw bytes: syntax errors and invalid UTF-8 become 400s. */
int  oai_request_parse_bytes(oai_request_t *out, oai_req_kind_t kind, const char *buf,
                             size_t len, const oai_defaults_t *d, oai_err_t *err);
void oai_request_free(oai_request_t *r);
#endif

/* Error bodies for the OpenAI frontend in two flavours: vLLM (the default,
 * {"error":{"message","type","param","code"}}) and llama-server
 * ({"error":{"code","message","type"}}). All builders return a new reference
 * or NULL on allocation failure. */
#ifndef OAI_ERRORS_H
#define OAI_ERRORS_H
#include <jansson.h>
#include <stdint.h>

typedef enum { OAI_FLAVOR_VLLM = 0, OAI_FLAVOR_LLAMA = 1 } oai_flavor_t;

/* A validation failure as produced by the request parser: HTTP status, a
 * message and the offending field ("" when none). */
typedef struct {
    int  status;
    char message[512];
    char param[96];
} oai_err_t;

const char *oai_http_phrase(int status);

/* Generic body. type NULL picks the flavour's default for the status. */
json_t *oai_error_body(oai_flavor_t fl, int status, const char *type,
                       const char *message, const char *param);
json_t *oai_error_from(oai_flavor_t fl, const oai_err_t *e);

json_t *oai_error_unauthorized(oai_flavor_t fl);                       /* 401 */
json_t *oai_error_model_not_found(oai_flavor_t fl, const char *model); /* 404 */
/* 400: prompt alone does not fit. */
json_t *oai_error_context_prompt(oai_flavor_t fl, int64_t n_ctx, int64_t n_prompt);
/* 400: prompt fits but max_tokens does not. */
json_t *oai_error_context_max_tokens(oai_flavor_t fl, int64_t max_tokens,
                                     int64_t n_ctx, int64_t n_prompt);
json_t *oai_error_too_large(oai_flavor_t fl, size_t limit_bytes);    /* 413 */
json_t *oai_error_unavailable(oai_flavor_t fl, const char *message); /* 503 */

/* Maps a jansson load failure (syntax, invalid UTF-8) to a 400. */
void oai_err_from_json_load(oai_err_t *e, const json_error_t *je);
/* printf-style setter used by the parser. Always returns SC_EINVAL. */
int oai_err_set(oai_err_t *e, int status, const char *param, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
#endif

#include "oai_errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strixcore/plugin.h>

const char *oai_http_phrase(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Request Entity Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default:  return "Error";
    }
}

/* vLLM names its own exceptions (BadRequestError, NotFoundError) and uses the
 * HTTP phrase for everything raised as an HTTPException. */
static const char *vllm_type(int status)
{
    switch (status) {
    case 400: return "BadRequestError";
    case 404: return "NotFoundError";
    case 500: return "InternalServerError";
    default:  return oai_http_phrase(status);
    }
}

/* llama-server's error_type strings (server-common). */
static const char *llama_type(int status)
{
    switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 501: return "not_supported_error";
    case 503: return "unavailable_error";
    default:  return "server_error";
    }
}

json_t *oai_error_body(oai_flavor_t fl, int status, const char *type,
                       const char *message, const char *param)
{
    json_t *inner;
    if (fl == OAI_FLAVOR_LLAMA) {
        inner = json_pack("{s:i, s:s, s:s}", "code", status, "message", message ? message : "",
                          "type", type ? type : llama_type(status));
    } else {
        inner = json_pack("{s:s, s:s, s:o, s:i}", "message", message ? message : "",
                          "type", type ? type : vllm_type(status),
                          "param", (param && *param) ? json_string(param) : json_null(),
                          "code", status);
    }
    if (!inner) return NULL;
    return json_pack("{s:o}", "error", inner);
}

json_t *oai_error_from(oai_flavor_t fl, const oai_err_t *e)
{
    return oai_error_body(fl, e->status, NULL, e->message, e->param);
}

json_t *oai_error_unauthorized(oai_flavor_t fl)
{
    if (fl == OAI_FLAVOR_LLAMA)
        return oai_error_body(fl, 401, "authentication_error", "Invalid API Key", NULL);
    /* vLLM's AuthenticationMiddleware answers with a bare string. */
    return json_pack("{s:s}", "error", "Unauthorized");
}

json_t *oai_error_model_not_found(oai_flavor_t fl, const char *model)
{
    char msg[512];
    snprintf(msg, sizeof msg, "The model `%s` does not exist.", model ? model : "");
    return oai_error_body(fl, 404, NULL, msg, "model");
}

json_t *oai_error_context_prompt(oai_flavor_t fl, int64_t n_ctx, int64_t n_prompt)
{
    char msg[512];
    if (fl == OAI_FLAVOR_LLAMA) {
        snprintf(msg, sizeof msg,
                 "request (%lld tokens) exceeds the available context size (%lld tokens), "
                 "try increasing it", (long long)n_prompt, (long long)n_ctx);
        json_t *b = oai_error_body(fl, 400, "exceed_context_size_error", msg, NULL);
        if (b) {
            json_t *in = json_object_get(b, "error");
            json_object_set_new(in, "n_prompt_tokens", json_integer(n_prompt));
            json_object_set_new(in, "n_ctx", json_integer(n_ctx));
        }
        return b;
    }
    /* Verbatim vLLM text: agents regex-parse it to trim and retry. */
    snprintf(msg, sizeof msg,
             "This model's maximum context length is %lld tokens. However, your request has "
             "%lld input tokens. Please reduce the length of the input messages.",
             (long long)n_ctx, (long long)n_prompt);
    return oai_error_body(fl, 400, NULL, msg, NULL);
}

json_t *oai_error_context_max_tokens(oai_flavor_t fl, int64_t max_tokens,
                                     int64_t n_ctx, int64_t n_prompt)
{
    char msg[512];
    if (fl == OAI_FLAVOR_LLAMA) {
        /* llama-server has no separate max_tokens message; it reports the total. */
        return oai_error_context_prompt(fl, n_ctx, n_prompt + max_tokens);
    }
    snprintf(msg, sizeof msg,
             "'max_tokens' or 'max_completion_tokens' is too large: %lld. This model's maximum "
             "context length is %lld tokens and your request has %lld input tokens "
             "(%lld > %lld - %lld).",
             (long long)max_tokens, (long long)n_ctx, (long long)n_prompt,
             (long long)max_tokens, (long long)n_ctx, (long long)n_prompt);
    return oai_error_body(fl, 400, NULL, msg, "max_tokens");
}

json_t *oai_error_too_large(oai_flavor_t fl, size_t limit_bytes)
{
    char msg[256];
    snprintf(msg, sizeof msg, "Request body exceeds the limit of %zu bytes.", limit_bytes);
    return oai_error_body(fl, 413, NULL, msg, NULL);
}

json_t *oai_error_unavailable(oai_flavor_t fl, const char *message)
{
    return oai_error_body(fl, 503, NULL, message ? message : "Service Unavailable", NULL);
}

void oai_err_from_json_load(oai_err_t *e, const json_error_t *je)
{
    /* jansson reports invalid UTF-8 as a load error too; both are the
     * client's fault, so both are 400 rather than a dropped connection. */
    oai_err_set(e, 400, NULL, "Invalid JSON body: %s (line %d, column %d)",
                je ? je->text : "parse error", je ? je->line : 0, je ? je->column : 0);
}

int oai_err_set(oai_err_t *e, int status, const char *param, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->message, sizeof e->message, fmt, ap);
        va_end(ap);
        e->status = status;
        snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    }
    return SC_EINVAL;
}

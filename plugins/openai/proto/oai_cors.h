/* CORS, two ways.
 *
 * vLLM mode is Starlette's CORSMiddleware as vLLM configures it from
 * --allowed-origins / --allowed-methods / --allowed-headers /
 * --allow-credentials (defaults ["*"], ["*"], ["*"], false):
 *  - A preflight (OPTIONS with Origin and Access-Control-Request-Method) is
 *    answered here and never reaches auth or routing: 200 "OK", or 400
 *    "Disallowed CORS origin[, method][, headers]". Allow-Origin is the
 *    origin echoed when credentials are on or origins are a list, else "*";
 *    Allow-Methods, Max-Age 600, Allow-Headers (the request's own list when
 *    all are allowed), Allow-Credentials when on, Vary: Origin when echoed.
 *  - Any other request with an Origin gets Allow-Origin "*" (all origins),
 *    or the origin echoed (an allowed one from a list, or any origin when a
 *    Cookie is sent under "*"), plus Allow-Credentials when on.
 * llama mode copies llama-server: every response echoes Origin; every
 * OPTIONS is answered 200 with Allow-Credentials true, Allow-Methods
 * "GET, POST" and Allow-Headers "*". */
#ifndef OAI_CORS_H
#define OAI_CORS_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    bool llama;
    bool all_origins, all_headers, credentials;
    char **origins;        /* exact origins (when not all) */
    size_t n_origins;
    char **methods;        /* "*" expands to Starlette's ALL_METHODS */
    size_t n_methods;
    char *methods_joined;  /* "DELETE, GET, ..." */
    char **headers;        /* lowercased, safelisted ones added, sorted */
    size_t n_headers;
    char *headers_joined;  /* Allow-Headers value when not all, in the given case */
    int max_age;
} oai_cors_t;

/* From the frontend settings object: allowed_origins, allowed_methods,
 * allowed_headers (lists of strings; a JSON-encoded list in a string is
 * accepted too, as vLLM's flags take), allow_credentials (bool). 0,
 * SC_EINVAL (err names the key) or SC_ENOMEM. */
int  oai_cors_init(oai_cors_t *c, const json_t *settings, bool llama, char *err, size_t err_len);
void oai_cors_free(oai_cors_t *c);

#define OAI_CORS_MAX_HEADERS 8

typedef struct {
    int status;                 /* 0: not a preflight, go on with `h` added; else answer now */
    const char *body;           /* preflight body */
    const char *content_type;
    size_t n;
    struct { const char *name; char *value; } h[OAI_CORS_MAX_HEADERS];
} oai_cors_result_t;

/* origin, acr_method (Access-Control-Request-Method), acr_headers and cookie
 * are the request's headers, NULL when absent. Fills *r (free with
 * oai_cors_result_free). SC_ENOMEM leaves no headers. */
int  oai_cors_apply(const oai_cors_t *c, const char *method, const char *origin, const char *acr_method,
                    const char *acr_headers, bool has_cookie, oai_cors_result_t *r);
void oai_cors_result_free(oai_cors_result_t *r);
#endif

#define _POSIX_C_SOURCE 200809L
#include "oai_cors.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <strixcore/plugin.h>

/* Starlette's constants. */
static const char *const ALL_METHODS[] = {"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"};
static const char *const SAFELISTED[] = {"Accept", "Accept-Language", "Content-Language", "Content-Type"};

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A list of strings, or a string holding a JSON list (vLLM's flags are
 * json.loads'd). Absent: `def` alone. *out gets n strdup'd strings. */
static int get_list(const json_t *s, const char *key, const char *def, char ***out, size_t *n,
                    char *err, size_t err_len)
{
    json_t *v = json_object_get(s, key), *parsed = NULL;
    *out = NULL;
    *n = 0;
    if (json_is_string(v)) {
        parsed = json_loads(json_string_value(v), JSON_DECODE_ANY, NULL);
        v = parsed ? parsed : v;
    }
    size_t cnt = !v || json_is_null(v) ? 1 : json_is_array(v) ? json_array_size(v) : 0;
    int rc = 0;
    if (v && !json_is_null(v) && !json_is_array(v)) {
        snprintf(err, err_len, "openai: %s must be a list of strings", key);
        rc = SC_EINVAL;
    } else if (cnt) {
        char **l = calloc(cnt, sizeof *l);
        rc = l ? 0 : SC_ENOMEM;
        for (size_t i = 0; rc == 0 && i < cnt; i++) {
            const char *x = !v || json_is_null(v) ? def : json_string_value(json_array_get(v, i));
            if (!x) {
                snprintf(err, err_len, "openai: %s must be a list of strings", key);
                rc = SC_EINVAL;
            } else if (!(l[i] = strdup(x))) {
                rc = SC_ENOMEM;
            }
        }
        if (rc) free_list(l, cnt);
        else { *out = l; *n = cnt; }
    }
    json_decref(parsed);
    return rc;
}

static bool has(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], s)) return true;
    return false;
}

static char *join(char *const *v, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++) len += strlen(v[i]) + 2;
    char *s = malloc(len);
    if (!s) return NULL;
    s[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i) strcat(s, ", ");
        strcat(s, v[i]);
    }
    return s;
}

void oai_cors_free(oai_cors_t *c)
{
    free_list(c->origins, c->n_origins);
    free_list(c->methods, c->n_methods);
    free_list(c->headers, c->n_headers);
    free(c->methods_joined);
    free(c->headers_joined);
    memset(c, 0, sizeof *c);
}

int oai_cors_init(oai_cors_t *c, const json_t *s, bool llama, char *err, size_t err_len)
{
    memset(c, 0, sizeof *c);
    c->llama = llama;
    c->max_age = 600;
    char **hdrs = NULL;
    size_t n_hdrs = 0;
    int rc = get_list(s, "allowed_origins", "*", &c->origins, &c->n_origins, err, err_len);
    if (rc == 0) rc = get_list(s, "allowed_methods", "*", &c->methods, &c->n_methods, err, err_len);
    if (rc == 0) rc = get_list(s, "allowed_headers", "*", &hdrs, &n_hdrs, err, err_len);
    json_t *cred = json_object_get(s, "allow_credentials");
    if (rc == 0 && cred && !json_is_null(cred) && !json_is_boolean(cred)) {
        snprintf(err, err_len, "openai: allow_credentials must be true or false");
        rc = SC_EINVAL;
    }
    if (rc) { free_list(hdrs, n_hdrs); oai_cors_free(c); return rc; }
    c->credentials = json_is_true(cred);
    c->all_origins = has(c->origins, c->n_origins, "*");
    c->all_headers = has(hdrs, n_hdrs, "*");
    if (has(c->methods, c->n_methods, "*")) {
        free_list(c->methods, c->n_methods);
        c->n_methods = sizeof ALL_METHODS / sizeof *ALL_METHODS;
        c->methods = calloc(c->n_methods, sizeof *c->methods);
        for (size_t i = 0; c->methods && i < c->n_methods; i++)
            if (!(c->methods[i] = strdup(ALL_METHODS[i]))) rc = SC_ENOMEM;
        if (!c->methods) { c->n_methods = 0; rc = SC_ENOMEM; }
    }
    /* sorted(SAFELISTED | set(allow_headers)); matching is on lowercase. */
    size_t cap = n_hdrs + sizeof SAFELISTED / sizeof *SAFELISTED;
    char **all = rc == 0 ? calloc(cap, sizeof *all) : NULL;
    size_t n_all = 0;
    if (rc == 0 && !all) rc = SC_ENOMEM;
    for (size_t i = 0; rc == 0 && i < cap; i++) {
        const char *h = i < n_hdrs ? hdrs[i] : SAFELISTED[i - n_hdrs];
        if (has(all, n_all, h)) continue;
        if (!(all[n_all] = strdup(h))) rc = SC_ENOMEM;
        else n_all++;
    }
    if (rc == 0) {
        qsort(all, n_all, sizeof *all, cmp_str);
        c->headers_joined = join(all, n_all);
        c->methods_joined = join(c->methods, c->n_methods);
        if (!c->headers_joined || !c->methods_joined) rc = SC_ENOMEM;
        for (size_t i = 0; i < n_all; i++)
            for (char *p = all[i]; *p; p++) *p = (char)tolower((unsigned char)*p);
        c->headers = all;
        c->n_headers = n_all;
        all = NULL;
        n_all = 0;
    }
    free_list(all, n_all);
    free_list(hdrs, n_hdrs);
    if (rc) { oai_cors_free(c); snprintf(err, err_len, "openai: out of memory"); }
    return rc;
}

static int add(oai_cors_result_t *r, const char *name, const char *value)
{
    if (r->n >= OAI_CORS_MAX_HEADERS) return 0;
    char *v = strdup(value ? value : "");
    if (!v) return SC_ENOMEM;
    r->h[r->n].name = name;
    r->h[r->n].value = v;
    r->n++;
    return 0;
}

void oai_cors_result_free(oai_cors_result_t *r)
{
    for (size_t i = 0; i < r->n; i++) free(r->h[i].value);
    memset(r, 0, sizeof *r);
}

static bool origin_allowed(const oai_cors_t *c, const char *origin)
{
    return c->all_origins || has(c->origins, c->n_origins, origin);
}

/* Does every comma-separated name of `req` appear in the allowed list? */
static bool headers_allowed(const oai_cors_t *c, const char *req)
{
    const char *p = req;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        while (n && isspace((unsigned char)*p)) { p++; n--; }
        while (n && isspace((unsigned char)p[n - 1])) n--;
        bool found = false;
        for (size_t i = 0; !found && i < c->n_headers; i++)
            found = strlen(c->headers[i]) == n && strncasecmp(c->headers[i], p, n) == 0;
        if (!found) return false;
        if (!e) return true;
        p = e + 1;
    }
}

static int apply_llama(const char *method, const char *origin, oai_cors_result_t *r)
{
    int rc = origin ? add(r, "Access-Control-Allow-Origin", origin) : 0;
    if (rc == 0 && strcmp(method, "OPTIONS") == 0) {
        r->status = 200;
        r->body = "";
        r->content_type = "text/html";
        rc = add(r, "Access-Control-Allow-Credentials", "true");
        if (rc == 0) rc = add(r, "Access-Control-Allow-Methods", "GET, POST");
        if (rc == 0) rc = add(r, "Access-Control-Allow-Headers", "*");
    }
    return rc;
}

int oai_cors_apply(const oai_cors_t *c, const char *method, const char *origin, const char *acr_method,
                   const char *acr_headers, bool has_cookie, oai_cors_result_t *r)
{
    memset(r, 0, sizeof *r);
    int rc = 0;
    if (c->llama) {
        rc = apply_llama(method, origin, r);
    } else if (!origin) {
        /* not a cross-origin request: nothing to add */
    } else if (strcmp(method, "OPTIONS") == 0 && acr_method) {
        bool explicit_origin = !c->all_origins || c->credentials;
        bool ok_origin = origin_allowed(c, origin);
        bool ok_method = has(c->methods, c->n_methods, acr_method);
        bool ok_headers = c->all_headers || !acr_headers || headers_allowed(c, acr_headers);
        if (!explicit_origin) rc = add(r, "Access-Control-Allow-Origin", "*");
        else {
            rc = add(r, "Vary", "Origin");
            if (rc == 0 && ok_origin) rc = add(r, "Access-Control-Allow-Origin", origin);
        }
        if (rc == 0) rc = add(r, "Access-Control-Allow-Methods", c->methods_joined);
        char age[16];
        snprintf(age, sizeof age, "%d", c->max_age);
        if (rc == 0) rc = add(r, "Access-Control-Max-Age", age);
        if (rc == 0 && c->all_headers && acr_headers)
            rc = add(r, "Access-Control-Allow-Headers", acr_headers); /* mirrored */
        else if (rc == 0 && !c->all_headers)
            rc = add(r, "Access-Control-Allow-Headers", c->headers_joined);
        if (rc == 0 && c->credentials) rc = add(r, "Access-Control-Allow-Credentials", "true");
        r->content_type = "text/plain; charset=utf-8";
        if (ok_origin && ok_method && ok_headers) {
            r->status = 200;
            r->body = "OK";
        } else {
            r->status = 400;
            r->body = !ok_origin ? (!ok_method ? (!ok_headers ? "Disallowed CORS origin, method, headers"
                                                             : "Disallowed CORS origin, method")
                                               : (!ok_headers ? "Disallowed CORS origin, headers"
                                                              : "Disallowed CORS origin"))
                                 : (!ok_method ? (!ok_headers ? "Disallowed CORS method, headers"
                                                              : "Disallowed CORS method")
                                               : "Disallowed CORS headers");
        }
    } else {
        /* A simple (or actual) request: its response carries these. */
        if (c->all_origins && !(has_cookie)) rc = add(r, "Access-Control-Allow-Origin", "*");
        if (rc == 0 && c->credentials) rc = add(r, "Access-Control-Allow-Credentials", "true");
        if (rc == 0 && ((c->all_origins && has_cookie) || (!c->all_origins && origin_allowed(c, origin)))) {
            rc = add(r, "Access-Control-Allow-Origin", origin);
            if (rc == 0) rc = add(r, "Vary", "Origin");
        }
    }
    if (rc) oai_cors_result_free(r);
    return rc;
}

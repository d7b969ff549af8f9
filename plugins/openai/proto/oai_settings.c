#define _POSIX_C_SOURCE 200809L
#include "oai_settings.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strixcore/plugin.h>

void oai_settings_free(oai_settings_t *s)
{
    for (size_t i = 0; i < s->n_keys; i++) free(s->keys[i]);
    free(s->keys);
    free(s->served_model_name);
    free(s->model_path);
    oai_cors_free(&s->cors);
    memset(s, 0, sizeof *s);
}

static int bad(char *err, size_t n, const char *key, const char *what)
{
    snprintf(err, n, "openai: %s must be %s", key, what);
    return SC_EINVAL;
}

/* 1 set, 0 absent (null counts as absent), SC_EINVAL wrong type. */
static int get_bool(const json_t *o, const char *k, bool *v, char *err, size_t n)
{
    json_t *j = json_object_get(o, k);
    if (!j || json_is_null(j)) return 0;
    if (!json_is_boolean(j)) return bad(err, n, k, "true or false");
    *v = json_is_true(j);
    return 1;
}

static int get_int(const json_t *o, const char *k, int64_t lo, int64_t hi, int64_t *v, char *err, size_t n)
{
    json_t *j = json_object_get(o, k);
    if (!j || json_is_null(j)) return 0;
    char what[64];
    snprintf(what, sizeof what, "an integer in [%lld, %lld]", (long long)lo, (long long)hi);
    if (!json_is_integer(j) || json_integer_value(j) < lo || json_integer_value(j) > hi)
        return bad(err, n, k, what);
    *v = json_integer_value(j);
    return 1;
}

static int get_str(const json_t *o, const char *k, const char **v, char *err, size_t n)
{
    json_t *j = json_object_get(o, k);
    if (!j || json_is_null(j)) return 0;
    if (!json_is_string(j)) return bad(err, n, k, "a string");
    *v = json_string_value(j);
    return 1;
}

static int parse_keys(oai_settings_t *s, const json_t *o, char *err, size_t n)
{
    json_t *keys = json_object_get(o, "api_keys");
    if (!keys || json_is_null(keys)) return 0;
    size_t cnt = json_is_string(keys) ? 1 : json_is_array(keys) ? json_array_size(keys) : 0;
    if (!json_is_string(keys) && !json_is_array(keys)) return bad(err, n, "api_keys", "a string or a list of strings");
    if (cnt == 0) return 0;
    s->keys = calloc(cnt, sizeof *s->keys);
    if (!s->keys) return SC_ENOMEM;
    for (size_t i = 0; i < cnt; i++) {
        const char *k = json_string_value(json_is_string(keys) ? keys : json_array_get(keys, i));
        if (!k) return bad(err, n, "api_keys", "a string or a list of strings");
        if (!*k) continue; /* an empty key would let an empty bearer in */
        if (!(s->keys[s->n_keys] = strdup(k))) return SC_ENOMEM;
        s->n_keys++;
    }
    return 0;
}

#define TRY(x) do { rc = (x); if (rc < 0) goto out; } while (0)

int oai_settings_parse(oai_settings_t *s, const char *json, char *err, size_t err_len)
{
    memset(s, 0, sizeof *s);
    snprintf(s->host, sizeof s->host, "0.0.0.0");
    s->port = 8000;
    s->auto_tool_choice = true;
    s->tool_parser = OAI_TOOLS_AUTO;
    s->slots_endpoint = true;
    s->max_n = 128;
    json_error_t je;
    json_t *o = json && *json ? json_loads(json, 0, &je) : json_object();
    int rc = 0;
    const char *str = NULL;
    int64_t v = 0;
    if (!o || !json_is_object(o)) {
        snprintf(err, err_len, "openai: settings are not a JSON object");
        rc = o ? SC_EINVAL : (json && *json ? SC_EINVAL : SC_ENOMEM);
        goto out;
    }
    if ((rc = get_str(o, "host", &str, err, err_len)) == 1 && *str) snprintf(s->host, sizeof s->host, "%s", str);
    if (rc < 0) goto out;
    if ((rc = get_int(o, "port", 0, 65535, &v, err, err_len)) == 1) s->port = (int)v;
    if (rc < 0) goto out;
    str = NULL;
    TRY(get_str(o, "compat", &str, err, err_len));
    if (str && strcmp(str, "vllm") && strcmp(str, "llama")) { rc = bad(err, err_len, "compat", "\"vllm\" or \"llama\""); goto out; }
    s->flavor = str && !strcmp(str, "llama") ? OAI_FLAVOR_LLAMA : OAI_FLAVOR_VLLM;
    str = NULL;
    TRY(get_str(o, "served_model_name", &str, err, err_len));
    if (str && *str && !(s->served_model_name = strdup(str))) { rc = SC_ENOMEM; goto out; }
    str = NULL;
    TRY(get_str(o, "model", &str, err, err_len));
    if (str && !(s->model_path = strdup(str))) { rc = SC_ENOMEM; goto out; }
    TRY(parse_keys(s, o, err, err_len));
    TRY(get_bool(o, "enable_prompt_tokens_details", &s->prompt_tokens_details, err, err_len));
    TRY(get_bool(o, "enable_auto_tool_choice", &s->auto_tool_choice, err, err_len));
    str = NULL;
    TRY(get_str(o, "tool_call_parser", &str, err, err_len));
    if (str) {
        int st = oai_tool_style_from_name(str);
        if (st < 0) { rc = bad(err, err_len, "tool_call_parser", "\"auto\", \"hermes\" or \"qwen3_coder\""); goto out; }
        s->tool_parser = (oai_tool_style_t)st;
    }
    TRY(get_bool(o, "slots", &s->slots_endpoint, err, err_len));
    if ((rc = get_int(o, "max_n", 1, 4096, &v, err, err_len)) == 1) s->max_n = (int32_t)v;
    if (rc < 0) goto out;
    if ((rc = get_int(o, "max_num_seqs", 0, INT32_MAX, &v, err, err_len)) == 1) s->max_num_seqs = (int32_t)v;
    if (rc < 0) goto out;
    rc = oai_cors_init(&s->cors, o, s->flavor == OAI_FLAVOR_LLAMA, err, err_len);
out:
    json_decref(o);
    if (rc > 0) rc = 0;
    if (rc < 0) {
        if (rc == SC_ENOMEM && err && err_len) snprintf(err, err_len, "openai: out of memory");
        oai_settings_free(s);
    }
    return rc;
}

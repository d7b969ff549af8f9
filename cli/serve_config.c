/*
 * cli/serve_config.c - parsing of `strixcore serve` settings (see
 * serve_config.h). One table lists every setting once: its JSON key, its
 * flag (the key with '_' -> '-') and its type, so the file and the command
 * line can never drift apart.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "serve_config.h"

typedef enum { K_STR, K_INT, K_STRS } kind_t;

typedef struct key_def {
    const char *key;
    kind_t kind;
    size_t off;   /* of the char * / int field; K_STRS: api_keys */
    int lo, hi;
} key_def;

#define KS(name) {#name, K_STR, offsetof(serve_cfg, name), 0, 0}
#define KI(name, lo, hi) {#name, K_INT, offsetof(serve_cfg, name), lo, hi}
static const key_def g_keys[] = {
    KS(model), KS(host), KI(port, 1, 65535), {"api_key", K_STRS, offsetof(serve_cfg, api_keys), 0, 0},
    KS(api_key_file), KS(served_model_name), KI(max_model_len, 1, 1 << 30), KI(max_num_seqs, 1, 1 << 20),
    KI(max_num_batched_tokens, 1, 1 << 30), KS(frontend), KS(compat), KS(tokenizer), KS(chat_template),
};

void serve_cfg_init(serve_cfg *c) {
    memset(c, 0, sizeof(*c));
    c->host = strdup("0.0.0.0");
    c->frontend = strdup("openai");
    c->compat = strdup("vllm");
    c->port = 8000;
}

void serve_cfg_free(serve_cfg *c) {
    for (size_t i = 0; i < sizeof(g_keys) / sizeof(g_keys[0]); i++)
        if (g_keys[i].kind == K_STR)
            free(*(char **)((char *)c + g_keys[i].off));
    for (int i = 0; i < c->n_api_keys; i++)
        free(c->api_keys[i]);
    free(c->api_keys);
    memset(c, 0, sizeof(*c));
}

static int set_str(char **dst, const char *v) {
    char *d = strdup(v);
    if (!d)
        return -1;
    free(*dst);
    *dst = d;
    return 0;
}

static int add_key(serve_cfg *c, const char *v) {
    char **p = realloc(c->api_keys, (size_t)(c->n_api_keys + 1) * sizeof(*p));
    if (!p)
        return -1;
    c->api_keys = p;
    if (!(p[c->n_api_keys] = strdup(v)))
        return -1;
    c->n_api_keys++;
    return 0;
}

static void clear_keys(serve_cfg *c) {
    for (int i = 0; i < c->n_api_keys; i++)
        free(c->api_keys[i]);
    c->n_api_keys = 0;
}

static int check_choice(const key_def *k, const char *v, char *err, size_t err_len) {
    if (strcmp(k->key, "compat") == 0 && strcmp(v, "vllm") != 0 && strcmp(v, "llama") != 0) {
        snprintf(err, err_len, "compat must be vllm or llama, not '%s'", v);
        return -1;
    }
    if (strcmp(k->key, "port") != 0 && k->kind == K_STR && !v[0] && strcmp(k->key, "host") != 0) {
        snprintf(err, err_len, "%s must not be empty", k->key);
        return -1;
    }
    return 0;
}

int serve_cfg_apply_json(serve_cfg *c, const char *json, char *err, size_t err_len) {
    json_error_t jerr;
    json_t *root = json_loads(json, 0, &jerr), *v;
    const char *key;
    int rc = 0;
    if (!root || !json_is_object(root)) {
        if (root)
            snprintf(err, err_len, "the config must be a JSON object");
        else
            snprintf(err, err_len, "line %d: %s", jerr.line, jerr.text);
        json_decref(root);
        return -1;
    }
    json_object_foreach(root, key, v) {
        const key_def *k = NULL;
        for (size_t i = 0; i < sizeof(g_keys) / sizeof(g_keys[0]); i++)
            if (strcmp(g_keys[i].key, key) == 0)
                k = &g_keys[i];
        /* vLLM spells the key list api_key; accept the plural too */
        if (!k && strcmp(key, "api_keys") == 0)
            k = &g_keys[3];
        if (!k) {
            snprintf(err, err_len, "unknown key \"%s\"", key);
            rc = -1;
            break;
        }
        if (k->kind == K_STR) {
            if (!json_is_string(v)) {
                snprintf(err, err_len, "\"%s\" must be a string", key);
                rc = -1;
                break;
            }
            if (check_choice(k, json_string_value(v), err, err_len) < 0 ||
                set_str((char **)((char *)c + k->off), json_string_value(v)) < 0) {
                rc = -1;
                break;
            }
        } else if (k->kind == K_INT) {
            if (!json_is_integer(v) || json_integer_value(v) < k->lo || json_integer_value(v) > k->hi) {
                snprintf(err, err_len, "\"%s\" must be an integer from %d to %d", key, k->lo, k->hi);
                rc = -1;
                break;
            }
            *(int *)((char *)c + k->off) = (int)json_integer_value(v);
        } else {
            /* a string or a list of strings */
            size_t i;
            json_t *e;
            clear_keys(c);
            if (json_is_string(v)) {
                rc = add_key(c, json_string_value(v));
            } else if (json_is_array(v)) {
                json_array_foreach(v, i, e) {
                    if (!json_is_string(e)) {
                        rc = -1;
                        break;
                    }
                    if ((rc = add_key(c, json_string_value(e))) < 0)
                        break;
                }
            } else {
                rc = -1;
            }
            if (rc < 0) {
                snprintf(err, err_len, "\"%s\" must be a string or a list of strings", key);
                break;
            }
        }
    }
    json_decref(root);
    return rc;
}

int serve_cfg_apply_flag(serve_cfg *c, const char *name, const char *v, int *first_key, char *err, size_t err_len) {
    char key[64];
    size_t n = strlen(name);
    const key_def *k = NULL;
    if (n >= sizeof(key))
        return 1;
    for (size_t i = 0; i <= n; i++)
        key[i] = name[i] == '-' ? '_' : name[i];
    for (size_t i = 0; i < sizeof(g_keys) / sizeof(g_keys[0]); i++)
        if (strcmp(g_keys[i].key, key) == 0)
            k = &g_keys[i];
    if (!k)
        return 1;
    if (k->kind == K_STR) {
        if (check_choice(k, v, err, err_len) < 0)
            return -1;
        return set_str((char **)((char *)c + k->off), v) < 0 ? -1 : 0;
    }
    if (k->kind == K_INT) {
        char *end;
        long x;
        errno = 0;
        x = strtol(v, &end, 10);
        if (errno || end == v || *end || x < k->lo || x > k->hi) {
            snprintf(err, err_len, "--%s must be an integer from %d to %d, not '%s'", name, k->lo, k->hi, v);
            return -1;
        }
        *(int *)((char *)c + k->off) = (int)x;
        return 0;
    }
    /* the command line's keys replace the file's, then accumulate */
    if (*first_key) {
        clear_keys(c);
        *first_key = 0;
    }
    return add_key(c, v) < 0 ? -1 : 0;
}

char *serve_cfg_settings_json(const serve_cfg *c) {
    json_t *o = json_object(), *keys = json_array();
    char *txt;
    for (int i = 0; i < c->n_api_keys; i++)
        json_array_append_new(keys, json_string(c->api_keys[i]));
    json_object_set_new(o, "host", json_string(c->host ? c->host : "0.0.0.0"));
    json_object_set_new(o, "port", json_integer(c->port));
    json_object_set_new(o, "api_keys", keys);
    if (c->served_model_name)
        json_object_set_new(o, "served_model_name", json_string(c->served_model_name));
    json_object_set_new(o, "compat", json_string(c->compat ? c->compat : "vllm"));
    if (c->max_model_len)
        json_object_set_new(o, "max_model_len", json_integer(c->max_model_len));
    if (c->max_num_seqs)
        json_object_set_new(o, "max_num_seqs", json_integer(c->max_num_seqs));
    if (c->max_num_batched_tokens)
        json_object_set_new(o, "max_num_batched_tokens", json_integer(c->max_num_batched_tokens));
    if (c->model)
        json_object_set_new(o, "model", json_string(c->model));
    txt = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return txt;
}

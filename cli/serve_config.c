/*
 * cli/serve_config.c - parsing of `strixcore serve` settings (see
 * serve_config.h). One table lists every setting once: its JSON key, its
 * flag (the key with '_' -> '-'), its kind, default and help, so the file,
 * the command line, --help and --print-config can never drift apart.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "serve_config.h"

typedef enum {
    K_STR,      /* free string */
    K_CHOICE,   /* one of `choices` ("a|b|c"); F_PATH: or a path */
    K_INT,      /* integer in lo..hi; F_HR: vLLM's "32k" / "32K" too */
    K_SIZE,     /* bytes: an integer or "4GiB", "512MiB", "8G", ... */
    K_BOOL,     /* --flag / --no-flag; JSON true/false */
    K_LIST,     /* list of strings: JSON list, or a flag '["a","b"]' / "a,b" */
    K_KEYS,     /* api_key: a string or list; --api-key K1 K2 / repeated */
    K_IGNORE,   /* a vLLM option that means nothing here: accepted, warned about */
} kind_t;

enum {
    F_FE = 1,       /* passed to the frontend in its settings object */
    F_HR = 2,       /* K_INT: human-readable suffixes (vLLM's human_readable_int) */
    F_AUTO0 = 4,    /* 0 means auto: printed as null, "auto" accepted */
    F_POW2 = 8,     /* K_INT: a power of two (or 0 with F_AUTO0) */
    F_PATH = 16,    /* K_CHOICE: any other value is a path */
    F_NOVAL = 32,   /* K_IGNORE: a boolean flag, takes no value */
    F_ONE = 64,     /* K_IGNORE: accepted only with the value 1 */
    F_EMPTY = 128,  /* K_STR: may be empty */
};

typedef struct key_def {
    const char *key;
    kind_t kind;
    size_t off, off_n;      /* the field; K_LIST/K_KEYS: char ** and its int count */
    int64_t lo, hi;
    unsigned flags;
    const char *def;        /* default as flag text (NULL: unset / empty) */
    const char *choices;    /* K_CHOICE */
    const char *meta;       /* --help: the value's placeholder */
    const char *help;       /* --help text; K_IGNORE: why it is ignored */
} key_def;

#define OFF(f) offsetof(serve_cfg, f)
#define KSTR(name, fl, def, meta, help) {#name, K_STR, OFF(name), 0, 0, 0, fl, def, NULL, meta, help}
#define KCHO(name, fl, def, ch, help) {#name, K_CHOICE, OFF(name), 0, 0, 0, fl, def, ch, NULL, help}
#define KINT(name, lo, hi, fl, def, help) {#name, K_INT, OFF(name), 0, lo, hi, fl, def, NULL, "N", help}
#define KBOOL(name, fl, def, help) {#name, K_BOOL, OFF(name), 0, 0, 0, fl, def, NULL, NULL, help}
#define KLIST(name, fl, def, help) \
    {#name, K_LIST, OFF(name), OFF(n_##name), 0, 0, fl, def, NULL, "LIST", help}
#define KIGN(name, fl, why) {#name, K_IGNORE, 0, 0, 0, 0, fl, NULL, NULL, NULL, why}

static const key_def g_keys[] = {
    /* the model and the core */
    KSTR(model, F_FE, NULL, "DIR", "Hugging Face checkpoint directory (or the first positional argument)"),
    KSTR(tokenizer, 0, NULL, "PATH", "tokenizer.json to use instead of MODEL_DIR/tokenizer.json"),
    KSTR(chat_template, 0, NULL, "PATH", "Jinja chat template instead of the checkpoint's"),
    KCHO(generation_config, F_PATH, "auto", "auto|vllm",
         "sampling defaults: auto = MODEL_DIR/generation_config.json, vllm = vLLM's own, or a directory"),
    KINT(max_model_len, 0, 1 << 30, F_FE | F_HR | F_AUTO0, NULL,
         "context length per request (32k = 32000, 32K = 32768); auto = the model's, at most 4096"),
    KINT(max_num_seqs, 1, 1 << 20, F_FE, "8", "requests running at once (KV sequences)"),
    KINT(max_num_batched_tokens, 0, 1 << 30, F_FE | F_HR | F_AUTO0, NULL,
         "tokens per forward pass (decode + prefill chunks); auto = 512"),
    KINT(max_waiting_requests, 0, 1 << 24, F_AUTO0, NULL,
         "queued requests before new ones get 503; auto = 1024"),
    {"kv_cache_memory_bytes", K_SIZE, OFF(kv_cache_memory_bytes), 0, 0, INT64_MAX, F_AUTO0, NULL, NULL, "SIZE",
     "KV cache pool, e.g. 16GiB or 17179869184; auto = max_num_seqs x max_model_len"},
    KINT(block_size, 1, 256, F_POW2, "16", "tokens per KV cache block (a power of two, 1..256)"),
    KCHO(kv_cache_dtype, 0, "auto", "auto|float32|float16|bfloat16", "KV cache element type; auto = float32"),
    KBOOL(enable_prefix_caching, 0, "true", "reuse the KV blocks of earlier prompts' common prefixes"),
    KBOOL(tune, 0, "false",
          "tune every kernel shape serving needs before listening (as `strixcore tune`; docs/tuning.md)"),
    KSTR(frontend, 0, "openai", "NAME", "frontend plugin (libstrixcore-NAME.so)"),
    /* the frontend (passed through in its settings object) */
    KSTR(host, F_FE | F_EMPTY, "0.0.0.0", "HOST", "address to listen on"),
    KINT(port, 1, 65535, F_FE, "8000", "TCP port"),
    {"api_key", K_KEYS, OFF(api_keys), OFF(n_api_keys), 0, 0, F_FE, NULL, NULL, "KEY...",
     "API key(s) for /v1 (--api-key K1 K2, or repeated); else STRIXCORE_API_KEY or VLLM_API_KEY"},
    KSTR(api_key_file, 0, NULL, "FILE", "more API keys, one per line ('#' comments)"),
    KSTR(served_model_name, F_FE, NULL, "NAME", "model id in the API; default: the model path"),
    KCHO(compat, F_FE, "vllm", "vllm|llama", "error bodies, metrics and extra routes of vLLM or llama-server"),
    KLIST(allowed_origins, F_FE, "*", "CORS origins, a JSON list ('[\"*\"]') or a comma list"),
    KLIST(allowed_methods, F_FE, "*", "CORS methods"),
    KLIST(allowed_headers, F_FE, "*", "CORS headers"),
    KBOOL(allow_credentials, F_FE, "false", "CORS: allow credentials"),
    KBOOL(enable_prompt_tokens_details, F_FE, "false", "usage.prompt_tokens_details.cached_tokens in responses"),
    KBOOL(enable_auto_tool_choice, F_FE, "true",
          "let the model call tools on its own (tool_choice \"auto\"); vLLM's default is off"),
    KCHO(tool_call_parser, F_FE, "auto", "auto|hermes|qwen3_coder|qwen3_xml",
         "how tool calls are read from the output (auto: JSON or XML, per call)"),
    /* vLLM options that mean nothing here: accepted with a warning so that a
     * vLLM command line or config runs unchanged */
    KIGN(uvicorn_log_level, 0, "the log level is -v / -vv or log_level in the global config"),
    KIGN(disable_log_requests, F_NOVAL, "requests are not logged"),
    KIGN(enable_log_requests, F_NOVAL, "request logging is not implemented"),
    KIGN(disable_log_stats, F_NOVAL, "no periodic stats log; see /metrics"),
    KIGN(disable_uvicorn_access_log, F_NOVAL, "no access log"),
    KIGN(disable_frontend_multiprocessing, F_NOVAL, "the frontend runs in the server process"),
    KIGN(disable_fastapi_docs, F_NOVAL, "there are no /docs"),
    KIGN(max_log_len, 0, "requests are not logged"),
    KIGN(trust_remote_code, F_NOVAL, "no Python code from the checkpoint is run"),
    KIGN(enforce_eager, F_NOVAL, "eager launches are the default (graphs: strixcore --graphs serve ...)"),
    KIGN(enable_chunked_prefill, F_NOVAL, "prefill is always chunked (max_num_batched_tokens)"),
    KIGN(swap_space, 0, "preempted requests recompute instead of swapping"),
    KIGN(gpu_memory_utilization, 0, "size the KV cache with kv_cache_memory_bytes"),
    KIGN(dtype, 0, "weights keep the checkpoint's dtype"),
    KIGN(quantization, 0, "quantization is read from the checkpoint's config.json"),
    KIGN(tensor_parallel_size, F_ONE, "one GPU"),
    KIGN(pipeline_parallel_size, F_ONE, "one GPU"),
};
#define N_KEYS (sizeof(g_keys) / sizeof(g_keys[0]))

/* vLLM's short options */
static const struct { const char *s, *l; } g_short[] = {
    {"-tp", "tensor-parallel-size"}, {"-pp", "pipeline-parallel-size"}, {"-q", "quantization"}};

#define FIELD(c, k, T) ((T *)((char *)(c) + (k)->off))
#define COUNT(c, k) ((int *)((char *)(c) + (k)->off_n))

static const key_def *find_key(const char *key) {
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(g_keys[i].key, key) == 0)
            return &g_keys[i];
    return NULL;
}

/* name with '-' -> '_' into out; 0, or -1 when too long */
static int normalize(const char *name, size_t n, char *out, size_t cap) {
    if (n >= cap)
        return -1;
    for (size_t i = 0; i < n; i++)
        out[i] = name[i] == '-' ? '_' : name[i];
    out[n] = '\0';
    return 0;
}

/* The closest key within edit distance 2, for "did you mean". */
static const char *suggest(const char *key) {
    size_t n = strlen(key);
    const char *best = NULL;
    size_t best_d = 3;
    if (n > 63)
        return NULL;
    for (size_t i = 0; i < N_KEYS; i++) {
        const char *t = g_keys[i].key;
        size_t m = strlen(t), row[64], prev;
        if (m > 63)
            continue;
        for (size_t j = 0; j <= m; j++)
            row[j] = j;
        for (size_t a = 1; a <= n; a++) {
            prev = row[0];
            row[0] = a;
            for (size_t j = 1; j <= m; j++) {
                size_t cur = row[j], best_here = prev + (key[a - 1] != t[j - 1]);
                if (row[j] + 1 < best_here)
                    best_here = row[j] + 1;
                if (row[j - 1] + 1 < best_here)
                    best_here = row[j - 1] + 1;
                row[j] = best_here;
                prev = cur;
            }
        }
        if (row[m] < best_d) {
            best_d = row[m];
            best = t;
        }
    }
    return best;
}

static void warn_ignored(const key_def *k, const char *who) {
    fprintf(stderr, "strixcore serve: warning: ignoring %s (a vLLM option with no effect here: %s)\n", who, k->help);
}

/* ------------------------------------------------------------------------ */
/* values                                                                     */
/* ------------------------------------------------------------------------ */
static int set_str(char **dst, const char *v) {
    char *d = v ? strdup(v) : NULL;
    if (v && !d)
        return -1;
    free(*dst);
    *dst = d;
    return 0;
}

static void list_clear(char ***v, int *n) {
    for (int i = 0; i < *n; i++)
        free((*v)[i]);
    free(*v);
    *v = NULL;
    *n = 0;
}

static int list_add(char ***v, int *n, const char *s, size_t len) {
    char **p = realloc(*v, (size_t)(*n + 1) * sizeof(*p));
    if (!p)
        return -1;
    *v = p;
    if (!(p[*n] = strndup(s, len)))
        return -1;
    (*n)++;
    return 0;
}

/* "a, b,c" -> [a, b, c]; empty items dropped */
static int list_add_commas(char ***v, int *n, const char *s) {
    while (*s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        const char *a = s, *b = s + len;
        while (a < b && isspace((unsigned char)*a)) a++;
        while (b > a && isspace((unsigned char)b[-1])) b--;
        if (b > a && list_add(v, n, a, (size_t)(b - a)) < 0)
            return -1;
        s += len + (e ? 1 : 0);
    }
    return 0;
}

/* A JSON array of strings into a list (replacing it): 0, or -1 when an
 * element is not a string. */
static int list_from_json(char ***v, int *n, json_t *arr) {
    size_t i;
    json_t *e;
    list_clear(v, n);
    json_array_foreach(arr, i, e) {
        if (!json_is_string(e) || list_add(v, n, json_string_value(e), json_string_length(e)) < 0)
            return -1;
    }
    return 0;
}

/* An integer with an optional scale suffix (vLLM's human_readable_int plus
 * IEC/SI units): k m g t = 10^3.., K M G T = 2^10.., KiB MiB GiB TiB = 2^10..,
 * kB KB MB GB TB = 10^3.., B = 1. A fraction (6 digits at most) is allowed
 * when the result is whole bytes/tokens ("1.5GiB"). 0 or -1. */
static int parse_scaled(const char *s, bool suffixes, uint64_t *out) {
    static const struct { const char *suf; uint64_t mul; bool nocase; } units[] = {
        {"", 1, false},          {"B", 1, false},          {"k", 1000ULL, false},
        {"m", 1000000ULL, false}, {"g", 1000000000ULL, false}, {"t", 1000000000000ULL, false},
        {"K", 1ULL << 10, false}, {"M", 1ULL << 20, false},  {"G", 1ULL << 30, false},
        {"T", 1ULL << 40, false}, {"KiB", 1ULL << 10, true}, {"MiB", 1ULL << 20, true},
        {"GiB", 1ULL << 30, true}, {"TiB", 1ULL << 40, true}, {"kB", 1000ULL, true},
        {"MB", 1000000ULL, true}, {"GB", 1000000000ULL, true}, {"TB", 1000000000000ULL, true},
    };
    const char *p = s;
    uint64_t ip = 0, frac = 0, fden = 1, mul = 0;
    bool digits = false;
    while (isspace((unsigned char)*p)) p++;
    for (; isdigit((unsigned char)*p); p++) {
        if (ip > (UINT64_MAX - 9) / 10)
            return -1;
        ip = ip * 10 + (uint64_t)(*p - '0');
        digits = true;
    }
    if (*p == '.') {
        p++;
        for (; isdigit((unsigned char)*p); p++) {
            if (fden >= 1000000) /* 6 digits: frac * mul cannot overflow */
                return -1;
            frac = frac * 10 + (uint64_t)(*p - '0');
            fden *= 10;
            digits = true;
        }
    }
    if (!digits)
        return -1;
    while (*p == ' ') p++;
    size_t n = strlen(p);
    while (n && isspace((unsigned char)p[n - 1])) n--;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strlen(units[i].suf) != n)
            continue;
        if (units[i].nocase ? strncasecmp(units[i].suf, p, n) == 0 : strncmp(units[i].suf, p, n) == 0) {
            mul = units[i].mul;
            break;
        }
    }
    if (!mul || (!suffixes && n))
        return -1;
    if (ip > UINT64_MAX / mul)
        return -1;
    /* the fraction must come out whole */
    if ((frac * mul) % fden != 0)
        return -1;
    uint64_t fpart = frac * mul / fden;
    if (ip * mul > UINT64_MAX - fpart)
        return -1;
    *out = ip * mul + fpart;
    return 0;
}

static bool is_pow2(int64_t x) { return x > 0 && (x & (x - 1)) == 0; }

static void range_msg(const key_def *k, const char *who, char *err, size_t err_len) {
    if (k->flags & F_POW2)
        snprintf(err, err_len, "%s must be a power of two from %" PRId64 " to %" PRId64, who, k->lo > 0 ? k->lo : 1,
                 k->hi);
    else
        snprintf(err, err_len, "%s must be an integer from %" PRId64 " to %" PRId64 "%s", who, k->lo, k->hi,
                 (k->flags & F_AUTO0) ? " (0 or \"auto\": automatic)" : "");
}

static int check_int(const key_def *k, const char *who, int64_t x, char *err, size_t err_len) {
    bool ok = x >= k->lo && x <= k->hi;
    if ((k->flags & F_POW2) && !is_pow2(x) && !(x == 0 && (k->flags & F_AUTO0)))
        ok = false;
    if (ok)
        return 0;
    range_msg(k, who, err, err_len);
    snprintf(err + strlen(err), err_len - strlen(err), ", not %" PRId64, x);
    return -1;
}

static int check_choice(const key_def *k, const char *who, const char *v, char *err, size_t err_len) {
    if (k->kind == K_CHOICE) {
        const char *c = k->choices;
        size_t n = strlen(v);
        while (c && *c) {
            const char *e = strchr(c, '|');
            size_t len = e ? (size_t)(e - c) : strlen(c);
            if (len == n && strncmp(c, v, n) == 0)
                return 0;
            c += len + (e ? 1 : 0);
        }
        if ((k->flags & F_PATH) && v[0])
            return 0;
        snprintf(err, err_len, "%s must be %s%s, not '%s'", who, k->choices, (k->flags & F_PATH) ? " or a directory" : "",
                 v);
        return -1;
    }
    if (!v[0] && !(k->flags & F_EMPTY)) {
        snprintf(err, err_len, "%s must not be empty", who);
        return -1;
    }
    return 0;
}

static int parse_bool_text(const char *v, bool *out) {
    if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"))
        *out = true;
    else if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no") || !strcasecmp(v, "off"))
        *out = false;
    else
        return -1;
    return 0;
}

/* An integer (K_INT, K_SIZE) from text. */
static int int_from_text(const key_def *k, const char *who, const char *v, int64_t *x, char *err, size_t err_len) {
    uint64_t u;
    if ((k->flags & F_AUTO0) && strcmp(v, "auto") == 0) {
        *x = 0;
        return 0;
    }
    if (parse_scaled(v, k->kind == K_SIZE || (k->flags & F_HR), &u) < 0 || u > INT64_MAX) {
        if (k->kind == K_SIZE)
            snprintf(err, err_len, "%s must be a size in bytes like 17179869184, 16GiB or 512MiB, not '%s'", who, v);
        else {
            range_msg(k, who, err, err_len);
            snprintf(err + strlen(err), err_len - strlen(err), "%s, not '%s'", (k->flags & F_HR) ? " (or like 32k, 32K)" : "",
                     v);
        }
        return -1;
    }
    *x = (int64_t)u;
    return 0;
}

static int store_int(serve_cfg *c, const key_def *k, const char *who, int64_t x, char *err, size_t err_len) {
    if (k->kind == K_SIZE) {
        if (x < 0) {
            snprintf(err, err_len, "%s must not be negative", who);
            return -1;
        }
        *FIELD(c, k, int64_t) = x;
        return 0;
    }
    if (check_int(k, who, x, err, err_len) < 0)
        return -1;
    *FIELD(c, k, int) = (int)x;
    return 0;
}

static int oom(char *err, size_t err_len) {
    snprintf(err, err_len, "out of memory");
    return -1;
}

/* Apply a value given as text (a flag, a default). v NULL: a bare boolean
 * flag (true). */
static int set_text(serve_cfg *c, const key_def *k, const char *who, const char *v, int *first_key, char *err,
                    size_t err_len) {
    int64_t x;
    if (!v && k->kind != K_BOOL && !(k->kind == K_IGNORE && (k->flags & F_NOVAL))) {
        snprintf(err, err_len, "%s needs a value", who);
        return -1;
    }
    switch (k->kind) {
    case K_STR:
    case K_CHOICE:
        if (check_choice(k, who, v, err, err_len) < 0)
            return -1;
        return set_str(FIELD(c, k, char *), v) < 0 ? oom(err, err_len) : 0;
    case K_INT:
    case K_SIZE:
        if (int_from_text(k, who, v, &x, err, err_len) < 0)
            return -1;
        return store_int(c, k, who, x, err, err_len);
    case K_BOOL: {
        bool b = true;
        if (v && parse_bool_text(v, &b) < 0) {
            snprintf(err, err_len, "%s must be true or false, not '%s'", who, v);
            return -1;
        }
        *FIELD(c, k, bool) = b;
        return 0;
    }
    case K_LIST: {
        char ***l = FIELD(c, k, char **);
        int *n = COUNT(c, k);
        const char *p = v;
        while (isspace((unsigned char)*p)) p++;
        if (*p == '[') {
            json_error_t je;
            json_t *arr = json_loads(v, JSON_DECODE_ANY, &je);
            int rc = json_is_array(arr) ? list_from_json(l, n, arr) : -1;
            json_decref(arr);
            if (rc < 0) {
                snprintf(err, err_len, "%s must be a JSON list of strings or a comma list, not '%s'", who, v);
                return -1;
            }
            return 0;
        }
        list_clear(l, n);
        return list_add_commas(l, n, v) < 0 ? oom(err, err_len) : 0;
    }
    case K_KEYS: {
        /* the command line's keys replace the file's, then accumulate */
        char ***l = FIELD(c, k, char **);
        int *n = COUNT(c, k);
        if (first_key && *first_key) {
            list_clear(l, n);
            *first_key = 0;
        }
        if (!v[0]) {
            snprintf(err, err_len, "%s must not be empty", who);
            return -1;
        }
        return list_add(l, n, v, strlen(v)) < 0 ? oom(err, err_len) : 0;
    }
    case K_IGNORE:
        if ((k->flags & F_ONE) && strcmp(v, "1") != 0) {
            snprintf(err, err_len, "%s must be 1: strixcore runs on one GPU", who);
            return -1;
        }
        if (!(k->flags & F_ONE)) /* 1 is what happens anyway */
            warn_ignored(k, who);
        return 0;
    }
    return -1;
}

static void set_default(serve_cfg *c, const key_def *k) {
    char err[128];
    switch (k->kind) {
    case K_STR:
    case K_CHOICE:
        set_str(FIELD(c, k, char *), k->def);
        return;
    case K_INT:
        *FIELD(c, k, int) = k->def ? atoi(k->def) : 0;
        return;
    case K_SIZE:
        *FIELD(c, k, int64_t) = 0;
        return;
    case K_BOOL:
        *FIELD(c, k, bool) = k->def && strcmp(k->def, "true") == 0;
        return;
    case K_LIST:
        list_clear(FIELD(c, k, char **), COUNT(c, k));
        if (k->def)
            set_text(c, k, k->key, k->def, NULL, err, sizeof(err));
        return;
    case K_KEYS:
        list_clear(FIELD(c, k, char **), COUNT(c, k));
        return;
    case K_IGNORE:
        return;
    }
}

/* Apply a JSON value to key k (who: how errors name it). */
static int set_json(serve_cfg *c, const key_def *k, const char *who, json_t *v, char *err, size_t err_len) {
    if (json_is_null(v) && k->kind != K_IGNORE) {
        set_default(c, k);
        return 0;
    }
    switch (k->kind) {
    case K_STR:
    case K_CHOICE:
        if (!json_is_string(v)) {
            snprintf(err, err_len, "%s must be a string", who);
            return -1;
        }
        return set_text(c, k, who, json_string_value(v), NULL, err, err_len);
    case K_INT:
    case K_SIZE:
        if (json_is_integer(v))
            return store_int(c, k, who, (int64_t)json_integer_value(v), err, err_len);
        if (json_is_string(v) && (k->kind == K_SIZE || (k->flags & (F_HR | F_AUTO0))))
            return set_text(c, k, who, json_string_value(v), NULL, err, err_len);
        if (k->kind == K_SIZE)
            snprintf(err, err_len, "%s must be an integer (bytes) or a string like \"16GiB\"", who);
        else
            range_msg(k, who, err, err_len);
        return -1;
    case K_BOOL:
        if (!json_is_boolean(v)) {
            snprintf(err, err_len, "%s must be true or false", who);
            return -1;
        }
        *FIELD(c, k, bool) = json_is_true(v);
        return 0;
    case K_LIST:
    case K_KEYS: {
        char ***l = FIELD(c, k, char **);
        int *n = COUNT(c, k);
        int rc;
        if (json_is_string(v)) {
            list_clear(l, n);
            rc = k->kind == K_LIST ? list_add_commas(l, n, json_string_value(v))
                                   : list_add(l, n, json_string_value(v), json_string_length(v));
        } else if (json_is_array(v)) {
            rc = list_from_json(l, n, v);
        } else {
            rc = -1;
        }
        if (rc < 0) {
            snprintf(err, err_len, "%s must be a string or a list of strings", who);
            return -1;
        }
        return 0;
    }
    case K_IGNORE:
        if ((k->flags & F_ONE) && !(json_is_integer(v) && json_integer_value(v) == 1)) {
            snprintf(err, err_len, "%s must be 1: strixcore runs on one GPU", who);
            return -1;
        }
        if (!(k->flags & F_ONE))
            warn_ignored(k, who);
        return 0;
    }
    return -1;
}

/* ------------------------------------------------------------------------ */
/* public                                                                     */
/* ------------------------------------------------------------------------ */
void serve_cfg_init(serve_cfg *c) {
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < N_KEYS; i++)
        set_default(c, &g_keys[i]);
}

void serve_cfg_free(serve_cfg *c) {
    for (size_t i = 0; i < N_KEYS; i++) {
        const key_def *k = &g_keys[i];
        if (k->kind == K_STR || k->kind == K_CHOICE)
            free(*FIELD(c, k, char *));
        else if (k->kind == K_LIST || k->kind == K_KEYS)
            list_clear(FIELD(c, k, char **), COUNT(c, k));
    }
    memset(c, 0, sizeof(*c));
}

int serve_cfg_apply_json(serve_cfg *c, const char *json, char *err, size_t err_len) {
    json_error_t jerr;
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr), *v;
    const char *key;
    bool seen[N_KEYS];
    int rc = 0;
    if (!root || !json_is_object(root)) {
        if (root)
            snprintf(err, err_len, "the config must be a JSON object");
        else
            snprintf(err, err_len, "line %d: %s", jerr.line, jerr.text);
        json_decref(root);
        return -1;
    }
    memset(seen, 0, sizeof(seen));
    json_object_foreach(root, key, v) {
        char norm[64], who[80];
        const key_def *k = NULL;
        if (normalize(key, strlen(key), norm, sizeof(norm)) == 0) {
            k = find_key(norm);
            /* accept the plural too: it is the frontend's name */
            if (!k && strcmp(norm, "api_keys") == 0)
                k = find_key("api_key");
        }
        snprintf(who, sizeof(who), "\"%s\"", key);
        if (!k) {
            const char *s = suggest(norm);
            snprintf(err, err_len, "unknown key \"%s\"%s%s%s", key, s ? " (did you mean \"" : "", s ? s : "",
                     s ? "\"?)" : "");
            rc = -1;
            break;
        }
        if (seen[k - g_keys]) {
            snprintf(err, err_len, "key \"%s\" is given twice", k->key);
            rc = -1;
            break;
        }
        seen[k - g_keys] = true;
        if ((rc = set_json(c, k, who, v, err, err_len)) < 0)
            break;
    }
    json_decref(root);
    return rc;
}

/* The key of flag `name` (without "--"); *neg set for --no-NAME of a boolean. */
static const key_def *flag_key(const char *name, size_t n, bool *neg) {
    char norm[64];
    const key_def *k;
    *neg = false;
    if (normalize(name, n, norm, sizeof(norm)) < 0)
        return NULL;
    if ((k = find_key(norm)) != NULL)
        return k;
    if (strncmp(norm, "no_", 3) == 0 && (k = find_key(norm + 3)) != NULL &&
        (k->kind == K_BOOL || (k->kind == K_IGNORE && (k->flags & F_NOVAL)))) {
        *neg = true;
        return k;
    }
    return NULL;
}

int serve_cfg_apply_flag(serve_cfg *c, const char *name, const char *v, int *first_key, char *err, size_t err_len) {
    bool neg;
    char who[80];
    const key_def *k = flag_key(name, strlen(name), &neg);
    if (!k)
        return 1;
    snprintf(who, sizeof(who), "--%s", name);
    if (neg) {
        if (v) {
            snprintf(err, err_len, "%s takes no value", who);
            return -1;
        }
        if (k->kind == K_IGNORE)
            return set_text(c, k, who, NULL, first_key, err, err_len);
        *FIELD(c, k, bool) = false;
        return 0;
    }
    return set_text(c, k, who, v, first_key, err, err_len) < 0 ? -1 : 0;
}

static void flag_name(char *out, size_t cap, const char *key) {
    size_t i = 0;
    for (; key[i] && i + 1 < cap; i++)
        out[i] = key[i] == '_' ? '-' : key[i];
    out[i] = '\0';
}

static char *read_text_file(const char *path) {
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    if (!f)
        return NULL;
    do {
        if (len + 4096 + 1 > cap) {
            char *p = realloc(buf, cap = (len + 4096 + 1) * 2);
            if (!p) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = p;
        }
        n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
    } while (n > 0);
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/* --api-key-file: one key per line; blank lines and '#' comments skipped. */
static int load_key_file(serve_cfg *c, const char *path) {
    char *txt = read_text_file(path), *save = NULL;
    if (!txt)
        return -1;
    for (char *line = strtok_r(txt, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
        while (*line == ' ' || *line == '\t') line++;
        size_t n = strlen(line);
        while (n && (line[n - 1] == ' ' || line[n - 1] == '\t')) line[--n] = '\0';
        if (n && line[0] != '#' && list_add(&c->api_keys, &c->n_api_keys, line, n) < 0) {
            free(txt);
            return -1;
        }
    }
    free(txt);
    return 0;
}

int serve_cfg_parse_args(serve_cfg *c, int argc, char **argv, unsigned *actions, char *err, size_t err_len) {
    const char *config = NULL;
    int first_key = 1, greedy = 0;
    *actions = 0;
    err[0] = '\0';
    /* help wins over everything else on the line */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            *actions = SERVE_ACT_HELP;
            return SERVE_CFG_OK;
        }
    /* pass 1: the file, so that pass 2's flags override it */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc) {
                snprintf(err, err_len, "--config needs a file");
                return SERVE_CFG_USAGE;
            }
            config = argv[++i];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            config = argv[i] + 9;
        }
    }
    if (config) {
        char *txt = read_text_file(config), e[256] = "";
        if (!txt) {
            snprintf(err, err_len, "cannot read %s: %s", config, strerror(errno));
            return SERVE_CFG_FAIL;
        }
        int rc = serve_cfg_apply_json(c, txt, e, sizeof(e));
        free(txt);
        if (rc < 0) {
            snprintf(err, err_len, "%s: %s", config, e);
            return SERVE_CFG_USAGE;
        }
    }
    /* pass 2 */
    bool have_positional = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        char name[64];
        size_t n;
        bool neg;
        const key_def *k;
        if (a[0] != '-' || !a[1]) {
            if (have_positional) {
                snprintf(err, err_len, "unexpected argument '%s' (the model is '%s')", a, c->model);
                return SERVE_CFG_USAGE;
            }
            have_positional = true;
            if (set_str(&c->model, a) < 0) {
                oom(err, err_len);
                return SERVE_CFG_FAIL;
            }
            continue;
        }
        if (a[1] != '-') {
            const char *l = NULL;
            for (size_t s = 0; s < sizeof(g_short) / sizeof(g_short[0]); s++)
                if (strcmp(a, g_short[s].s) == 0)
                    l = g_short[s].l;
            if (!l) {
                snprintf(err, err_len, "unknown argument %s", a);
                return SERVE_CFG_USAGE;
            }
            snprintf(name, sizeof(name), "%s", l);
            n = strlen(name);
        } else {
            const char *eq = strchr(a + 2, '=');
            n = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
            if (n >= sizeof(name)) {
                snprintf(err, err_len, "unknown argument %.60s...", a);
                return SERVE_CFG_USAGE;
            }
            memcpy(name, a + 2, n);
            name[n] = '\0';
            if (eq)
                v = eq + 1;
        }
        if (strcmp(name, "config") == 0) {
            if (!v)
                i++; /* read in pass 1 */
            continue;
        }
        if (strcmp(name, "print-config") == 0) {
            if (v) {
                snprintf(err, err_len, "--print-config takes no value");
                return SERVE_CFG_USAGE;
            }
            *actions |= SERVE_ACT_PRINT_CONFIG;
            continue;
        }
        if (!(k = flag_key(name, n, &neg))) {
            const char *s;
            char norm[64];
            normalize(name, n, norm, sizeof(norm));
            s = suggest(norm);
            snprintf(err, err_len, "unknown argument --%s", name);
            if (s) {
                char f[64];
                size_t l = strlen(err);
                flag_name(f, sizeof(f), s);
                snprintf(err + l, err_len - l, " (did you mean --%s?)", f);
            }
            return SERVE_CFG_USAGE;
        }
        bool takes_value = !(k->kind == K_BOOL || (k->kind == K_IGNORE && (k->flags & F_NOVAL)));
        if (!v && takes_value && !neg) {
            /* like argparse: an option is not taken as a value ("-1" is) */
            if (i + 1 >= argc || (argv[i + 1][0] == '-' && argv[i + 1][1] && !isdigit((unsigned char)argv[i + 1][1]))) {
                snprintf(err, err_len, "--%s needs a value", name);
                return SERVE_CFG_USAGE;
            }
            v = argv[++i];
        }
        if (serve_cfg_apply_flag(c, name, v, &first_key, err, err_len) < 0)
            return SERVE_CFG_USAGE;
        /* vLLM's --api-key K1 K2: the values up to the next option */
        if (k->kind == K_KEYS && !strchr(a, '='))
            while (i + 1 < argc && argv[i + 1][0] != '-') {
                if (serve_cfg_apply_flag(c, name, argv[++i], &first_key, err, err_len) < 0)
                    return SERVE_CFG_USAGE;
                greedy = 1;
            }
    }
    if (!c->model) {
        snprintf(err, err_len, "give a MODEL_DIR (or \"model\" in --config)%s",
                 greedy ? "; note that --api-key takes every value up to the next option: put MODEL_DIR first" : "");
        return SERVE_CFG_USAGE;
    }
    if (c->max_num_batched_tokens && c->max_num_batched_tokens < c->max_num_seqs) {
        snprintf(err, err_len, "max_num_batched_tokens (%d) must be at least max_num_seqs (%d)",
                 c->max_num_batched_tokens, c->max_num_seqs);
        return SERVE_CFG_USAGE;
    }
    if (c->api_key_file && load_key_file(c, c->api_key_file) < 0) {
        snprintf(err, err_len, "cannot read api_key_file %s: %s", c->api_key_file, strerror(errno));
        return SERVE_CFG_FAIL;
    }
    if (c->n_api_keys == 0) {
        const char *env = getenv("STRIXCORE_API_KEY");
        if (!env || !env[0])
            env = getenv("VLLM_API_KEY");
        if (env && env[0] && list_add(&c->api_keys, &c->n_api_keys, env, strlen(env)) < 0) {
            oom(err, err_len);
            return SERVE_CFG_FAIL;
        }
    }
    return SERVE_CFG_OK;
}

static json_t *value_json(const serve_cfg *c, const key_def *k, bool redact) {
    switch (k->kind) {
    case K_STR:
    case K_CHOICE: {
        const char *s = *FIELD(c, k, char *);
        return s ? json_string(s) : json_null();
    }
    case K_INT: {
        int x = *FIELD(c, k, int);
        return x == 0 && (k->flags & F_AUTO0) ? json_null() : json_integer(x);
    }
    case K_SIZE: {
        int64_t x = *FIELD(c, k, int64_t);
        return x == 0 && (k->flags & F_AUTO0) ? json_null() : json_integer(x);
    }
    case K_BOOL:
        return json_boolean(*FIELD(c, k, bool));
    case K_LIST:
    case K_KEYS: {
        json_t *a = json_array();
        char **l = *FIELD(c, k, char **);
        int n = *COUNT(c, k);
        for (int i = 0; a && i < n; i++)
            json_array_append_new(a, json_string(redact && k->kind == K_KEYS ? "<redacted>" : l[i]));
        return a;
    }
    case K_IGNORE:
        break;
    }
    return json_null();
}

char *serve_cfg_settings_json(const serve_cfg *c) {
    json_t *o = json_object();
    char *txt;
    for (size_t i = 0; o && i < N_KEYS; i++) {
        const key_def *k = &g_keys[i];
        if (!(k->flags & F_FE))
            continue;
        json_t *v = value_json(c, k, false);
        if (json_is_null(v)) { /* unset: the frontend's default */
            json_decref(v);
            continue;
        }
        json_object_set_new(o, k->kind == K_KEYS ? "api_keys" : k->key, v);
    }
    txt = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return txt;
}

char *serve_cfg_resolved_json(const serve_cfg *c) {
    json_t *o = json_object();
    char *txt;
    for (size_t i = 0; o && i < N_KEYS; i++)
        if (g_keys[i].kind != K_IGNORE)
            json_object_set_new(o, g_keys[i].key, value_json(c, &g_keys[i], true));
    txt = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return txt;
}

void serve_cfg_usage(FILE *f) {
    char flag[64], left[128];
    fputs("usage: strixcore serve MODEL_DIR [OPTIONS]\n"
          "       strixcore serve --config deploy.json [OPTIONS]\n"
          "Options (each is also a key of the JSON --config file: the flag without '--', '-' -> '_';\n"
          "flags override the file; --flag=VALUE works too):\n"
          "  --config FILE                     JSON file of settings (keys below)\n"
          "  --print-config                    print the resolved settings as JSON and exit (no model load)\n",
          f);
    for (size_t i = 0; i < N_KEYS; i++) {
        const key_def *k = &g_keys[i];
        if (k->kind == K_IGNORE)
            continue;
        flag_name(flag, sizeof(flag), k->key);
        if (k->kind == K_BOOL)
            snprintf(left, sizeof(left), "--[no-]%s", flag);
        else
            snprintf(left, sizeof(left), "--%s %s", flag, k->kind == K_CHOICE ? k->choices : k->meta);
        fprintf(f, "  %-32s  %s", left, k->help);
        if (k->def)
            fprintf(f, " (default: %s)", k->def);
        fputc('\n', f);
    }
    fputs("Accepted and ignored, with a warning (vLLM options with no effect here):\n ", f);
    size_t col = 1;
    for (size_t i = 0; i < N_KEYS; i++) {
        const key_def *k = &g_keys[i];
        if (k->kind != K_IGNORE)
            continue;
        flag_name(flag, sizeof(flag), k->key);
        snprintf(left, sizeof(left), " --%s%s", flag, (k->flags & F_NOVAL) ? "" : (k->flags & F_ONE) ? " 1" : " X");
        if (col + strlen(left) > 100) {
            fputs("\n ", f);
            col = 1;
        }
        fputs(left, f);
        col += strlen(left);
    }
    fputs("\n  (-tp, -pp, -q are --tensor-parallel-size, --pipeline-parallel-size, --quantization)\n"
          "Sizes: 17179869184, 16GiB, 16G (= GiB), 16GB (= 10^9); counts: 32k = 32000, 32K = 32768.\n"
          "API keys: --api-key, api_key, --api-key-file, else $STRIXCORE_API_KEY, else $VLLM_API_KEY.\n"
          "Under systemd (Type=notify) READY=1 is sent once the model is loaded and the port listens.\n",
          f);
}

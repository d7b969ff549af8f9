/*
 * core/src/config.c - the `key = value` config file.
 *
 * Grammar, one entry per line:
 *   line    := ws* ( comment | entry )? ws*
 *   comment := '#' anything            (only at the start of a line, so
 *                                       values may contain '#')
 *   entry   := key ws* '=' ws* value
 *   key     := [A-Za-z0-9_.-]+
 *   value   := '"' [^"]* '"'  |  anything, trimmed   (may be empty)
 * A key may repeat; sc_config_get returns the last value, sc_config_get_all
 * every value in file order. There are no escapes inside quotes: quotes only
 * exist to keep leading/trailing spaces.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define SC_CONFIG_MAX_SIZE (1u << 20) /* bytes per file */
#define SC_CONFIG_MAX_LINE 4096       /* bytes per line, newline excluded */

typedef struct sc_config_entry {
    char *key;
    char *value;
} sc_config_entry;

struct sc_config {
    sc_config_entry *entries;
    int n, cap;
};

static int config_error(char *err, size_t err_len, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int config_error(char *err, size_t err_len, int code, const char *fmt, ...) {
    if (err && err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return code;
}

static bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_key_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

/* Trim [*s, *e) in place. */
static void trim(const char **s, const char **e) {
    while (*s < *e && is_space(**s))
        (*s)++;
    while (*e > *s && is_space((*e)[-1]))
        (*e)--;
}

static char *dup_range(const char *s, const char *e) {
    char *p = malloc((size_t)(e - s) + 1);
    if (p) {
        memcpy(p, s, (size_t)(e - s));
        p[e - s] = '\0';
    }
    return p;
}

static int config_add(sc_config_t *cfg, const char *ks, const char *ke, const char *vs, const char *ve) {
    if (cfg->n == cfg->cap) {
        int ncap = cfg->cap ? cfg->cap * 2 : 16;
        sc_config_entry *ne = realloc(cfg->entries, (size_t)ncap * sizeof(*ne));
        if (!ne)
            return SC_ENOMEM;
        cfg->entries = ne;
        cfg->cap = ncap;
    }
    sc_config_entry *e = &cfg->entries[cfg->n];
    e->key = dup_range(ks, ke);
    e->value = dup_range(vs, ve);
    if (!e->key || !e->value) {
        free(e->key);
        free(e->value);
        return SC_ENOMEM;
    }
    cfg->n++;
    return SC_OK;
}

/* Parse one line [s, e) (no newline). */
static int parse_line(sc_config_t *cfg, const char *name, int lineno, const char *s, const char *e, char *err,
                      size_t err_len) {
    const char *eq, *ks, *ke, *vs, *ve;

    if (memchr(s, '\0', (size_t)(e - s)))
        return config_error(err, err_len, SC_EFORMAT, "%s:%d: NUL byte in line", name, lineno);
    trim(&s, &e);
    if (s == e || *s == '#')
        return SC_OK;
    eq = memchr(s, '=', (size_t)(e - s));
    if (!eq)
        return config_error(err, err_len, SC_EFORMAT, "%s:%d: expected `key = value`", name, lineno);
    ks = s;
    ke = eq;
    trim(&ks, &ke);
    if (ks == ke)
        return config_error(err, err_len, SC_EFORMAT, "%s:%d: missing key before '='", name, lineno);
    for (const char *p = ks; p < ke; p++)
        if (!is_key_char(*p))
            return config_error(err, err_len, SC_EFORMAT, "%s:%d: invalid character '%c' in key", name, lineno,
                                (*p >= 0x20 && *p < 0x7f) ? *p : '?');
    vs = eq + 1;
    ve = e;
    trim(&vs, &ve);
    if (vs < ve && *vs == '"') {
        const char *close = memchr(vs + 1, '"', (size_t)(ve - vs - 1));
        if (!close)
            return config_error(err, err_len, SC_EFORMAT, "%s:%d: unterminated quoted value", name, lineno);
        if (close + 1 != ve)
            return config_error(err, err_len, SC_EFORMAT, "%s:%d: unexpected text after quoted value", name,
                                lineno);
        vs++;
        ve = close;
    }
    if (config_add(cfg, ks, ke, vs, ve) < 0)
        return config_error(err, err_len, SC_ENOMEM, "%s:%d: out of memory", name, lineno);
    return SC_OK;
}

static int config_parse_named(const char *name, const char *text, size_t len, sc_config_t **out, char *err,
                              size_t err_len) {
    sc_config_t *cfg;
    const char *p, *end;
    int lineno = 0, rc = SC_OK;

    if (err && err_len)
        err[0] = '\0';
    if (!out)
        return config_error(err, err_len, SC_EINVAL, "%s: no output pointer", name);
    *out = NULL;
    if (!text && len)
        return config_error(err, err_len, SC_EINVAL, "%s: no text", name);
    if (len > SC_CONFIG_MAX_SIZE)
        return config_error(err, err_len, SC_ERANGE, "%s: file too large (%zu bytes, max %u)", name, len,
                            SC_CONFIG_MAX_SIZE);
    cfg = calloc(1, sizeof(*cfg));
    if (!cfg)
        return config_error(err, err_len, SC_ENOMEM, "%s: out of memory", name);

    p = text;
    end = text ? text + len : text;
    while (p < end && rc == SC_OK) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        lineno++;
        if (le - p > SC_CONFIG_MAX_LINE)
            rc = config_error(err, err_len, SC_ERANGE, "%s:%d: line too long (max %d bytes)", name, lineno,
                              SC_CONFIG_MAX_LINE);
        else
            rc = parse_line(cfg, name, lineno, p, le, err, err_len);
        p = nl ? nl + 1 : end;
    }
    if (rc < 0) {
        sc_config_destroy(cfg);
        return rc;
    }
    *out = cfg;
    return SC_OK;
}

int sc_config_parse(const char *text, size_t len, sc_config_t **out, char *err, size_t err_len) {
    return config_parse_named("<config>", text, len, out, err, err_len);
}

int sc_config_load(const char *path, sc_config_t **out, char *err, size_t err_len) {
    char *buf;
    size_t n;
    FILE *f;
    int rc;

    if (out)
        *out = NULL;
    if (!path || !out)
        return config_error(err, err_len, SC_EINVAL, "config: no path or output pointer");
    f = fopen(path, "rb");
    if (!f)
        return config_error(err, err_len, errno == ENOENT ? SC_ENOENT : SC_EIO, "%s: %s", path, strerror(errno));
    /* Read one byte past the limit to tell "exactly 1 MiB" from "more". */
    buf = malloc(SC_CONFIG_MAX_SIZE + 1);
    if (!buf) {
        fclose(f);
        return config_error(err, err_len, SC_ENOMEM, "%s: out of memory", path);
    }
    n = fread(buf, 1, SC_CONFIG_MAX_SIZE + 1, f);
    if (ferror(f)) {
        rc = config_error(err, err_len, SC_EIO, "%s: %s", path, strerror(errno));
    } else if (n > SC_CONFIG_MAX_SIZE) {
        rc = config_error(err, err_len, SC_ERANGE, "%s: file too large (max %u bytes)", path, SC_CONFIG_MAX_SIZE);
    } else {
        rc = config_parse_named(path, buf, n, out, err, err_len);
    }
    fclose(f);
    free(buf);
    return rc;
}

void sc_config_destroy(sc_config_t *cfg) {
    if (!cfg)
        return;
    for (int i = 0; i < cfg->n; i++) {
        free(cfg->entries[i].key);
        free(cfg->entries[i].value);
    }
    free(cfg->entries);
    free(cfg);
}

const char *sc_config_get(const sc_config_t *cfg, const char *key) {
    if (!cfg || !key)
        return NULL;
    for (int i = cfg->n - 1; i >= 0; i--)
        if (strcmp(cfg->entries[i].key, key) == 0)
            return cfg->entries[i].value;
    return NULL;
}

/* Fills up to `max` values and returns how many there are in all, so that a
 * caller can tell when its array was too small (like snprintf). */
int sc_config_get_all(const sc_config_t *cfg, const char *key, const char **vals, int max) {
    int n = 0;
    if (!cfg || !key || max < 0 || (!vals && max > 0))
        return SC_EINVAL;
    for (int i = 0; i < cfg->n; i++) {
        if (strcmp(cfg->entries[i].key, key) != 0)
            continue;
        if (n < max)
            vals[n] = cfg->entries[i].value;
        n++;
    }
    return n;
}

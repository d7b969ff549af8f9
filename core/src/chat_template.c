/*
 * core/src/chat_template.c - the public chat-template API
 * (strixcore/chat_template.h) over the Jinja interpreter in jinja_*.c.
 *
 * A parsed template is immutable, so one sc_chat_template_t can be rendered
 * from many threads at once; each render gets its own value arena.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jinja.h"
#include "strixcore/chat_template.h"

struct sc_chat_template {
    jtemplate *t;
};

#define SC_CHAT_MAX_FILE ((size_t)64 << 20)

static void set_err(char *err, size_t err_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t err_len, const char *fmt, ...) {
    if (!err || err_len == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

SC_API int sc_chat_template_parse(const char *src, size_t len, sc_chat_template_t **out, char *err, size_t err_len) {
    char local[512];
    if (!err || err_len == 0) {
        err = local;
        err_len = sizeof local;
    }
    err[0] = 0;
    if (!out || (!src && len)) {
        set_err(err, err_len, "invalid argument");
        return SC_EINVAL;
    }
    *out = NULL;
    sc_chat_template_t *ct = calloc(1, sizeof(*ct));
    if (!ct) {
        set_err(err, err_len, "out of memory");
        return SC_ENOMEM;
    }
    int rc = sc__j_parse(src ? src : "", len, &ct->t, err, err_len);
    if (rc) {
        free(ct);
        return rc;
    }
    *out = ct;
    return SC_OK;
}

SC_API void sc_chat_template_free(sc_chat_template_t *t) {
    if (!t) return;
    sc__j_template_free(t->t);
    free(t);
}

/* JSON -> template values, keeping object key order as Python's json does. */
static bool from_json(jarena *a, const json_t *j, jv *out) {
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        jdict *d = sc__j_dict_new(a, json_object_size(j));
        if (!d) return false;
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)j, key, val) {
            jv k, v;
            if (!sc__j_str(a, key, strlen(key), &k) || !from_json(a, val, &v) || !sc__j_dict_set(a, d, k, v)) return false;
        }
        *out = sc__j_dictv(d);
        return true;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        jlist *l = sc__j_list_new(a, JL_LIST, n);
        if (!l) return false;
        for (size_t i = 0; i < n; i++)
            if (!from_json(a, json_array_get(j, i), &l->v[l->n++])) return false;
        *out = sc__j_listv(l);
        return true;
    }
    case JSON_STRING: return sc__j_str(a, json_string_value(j), json_string_length(j), out);
    case JSON_INTEGER: *out = sc__j_int((int64_t)json_integer_value(j)); return true;
    case JSON_REAL: *out = sc__j_float(json_real_value(j)); return true;
    case JSON_TRUE: *out = sc__j_bool(true); return true;
    case JSON_FALSE: *out = sc__j_bool(false); return true;
    default: *out = sc__j_none(); return true;
    }
}

SC_API int sc_chat_template_render(const sc_chat_template_t *t, const char *vars_json, char **out, size_t *out_len,
                                   char *err, size_t err_len) {
    char local[512];
    if (!err || err_len == 0) {
        err = local;
        err_len = sizeof local;
    }
    err[0] = 0;
    if (out) *out = NULL;
    if (out_len) *out_len = 0;
    if (!t || !out) {
        set_err(err, err_len, "invalid argument");
        return SC_EINVAL;
    }
    json_t *root = NULL;
    if (vars_json && *vars_json) {
        json_error_t jerr;
        root = json_loads(vars_json, JSON_ALLOW_NUL, &jerr);
        if (!root) {
            set_err(err, err_len, "vars_json %d:%d: %s", jerr.line, jerr.column, jerr.text);
            return SC_EINVAL;
        }
        if (!json_is_object(root)) {
            json_decref(root);
            set_err(err, err_len, "vars_json must be a JSON object");
            return SC_EINVAL;
        }
    }
    jarena *ar = sc__j_arena_create(SC_J_MAX_MEMORY);
    if (!ar) {
        json_decref(root);
        set_err(err, err_len, "out of memory");
        return SC_ENOMEM;
    }
    jv vars = {0};
    bool ok = root ? from_json(ar, root, &vars) : true;
    json_decref(root);
    if (!ok) {
        sc__j_arena_destroy(ar);
        set_err(err, err_len, "out of memory converting vars_json");
        return SC_ENOMEM;
    }
    jsb sb;
    sc__j_sb_init(&sb, SC_J_MAX_OUTPUT);
    int rc = sc__j_render(t->t, root ? vars.u.d : NULL, ar, &sb, err, err_len);
    sc__j_arena_destroy(ar);
    if (rc == SC_OK && sb.fail) {
        set_err(err, err_len, "output exceeds %zu MiB", SC_J_MAX_OUTPUT >> 20);
        rc = SC_ERANGE;
    }
    if (rc) {
        sc__j_sb_free(&sb);
        return rc;
    }
    if (!sb.p) { /* empty output */
        sb.p = calloc(1, 1);
        if (!sb.p) {
            set_err(err, err_len, "out of memory");
            return SC_ENOMEM;
        }
    }
    *out = sb.p;
    if (out_len) *out_len = sb.len;
    return SC_OK;
}

/* tokenizer_config.json's chat_template: a string, or a list of
 * {"name", "template"} where "default" is the one transformers uses. */
static int template_from_config(const char *path, const char *text, size_t len, sc_chat_template_t **out, char *err,
                                size_t err_len) {
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_ALLOW_NUL, &jerr);
    if (!root) {
        set_err(err, err_len, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        return SC_EFORMAT;
    }
    json_t *ct = json_object_get(root, "chat_template");
    const json_t *tmpl = NULL;
    if (json_is_string(ct)) {
        tmpl = ct;
    } else if (json_is_array(ct)) {
        size_t i;
        json_t *e;
        json_array_foreach(ct, i, e) {
            const char *name = json_string_value(json_object_get(e, "name"));
            if (name && !strcmp(name, "default")) tmpl = json_object_get(e, "template");
        }
        if (!tmpl && json_array_size(ct) == 1) tmpl = json_object_get(json_array_get(ct, 0), "template");
    }
    int rc;
    if (!json_is_string(tmpl)) {
        set_err(err, err_len, "%s: no usable chat_template (a string or a list with a \"default\" entry)", path);
        rc = ct ? SC_EFORMAT : SC_ENOENT;
    } else {
        rc = sc_chat_template_parse(json_string_value(tmpl), json_string_length(tmpl), out, err, err_len);
    }
    json_decref(root);
    return rc;
}

SC_API int sc_chat_template_load(const char *path, sc_chat_template_t **out, char *err, size_t err_len) {
    char local[512];
    if (!err || err_len == 0) {
        err = local;
        err_len = sizeof local;
    }
    err[0] = 0;
    if (!path || !out) {
        set_err(err, err_len, "invalid argument");
        return SC_EINVAL;
    }
    *out = NULL;
    char *text;
    size_t len;
    int rc = sc__read_file(path, SC_CHAT_MAX_FILE, &text, &len, err, err_len);
    if (rc) return rc;
    size_t pl = strlen(path), i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) i++;
    /* a template starts with text or "{%", "{{", "{#"; a config with "{" + key */
    bool is_json = (pl >= 5 && !strcmp(path + pl - 5, ".json")) ||
                   (i + 1 < len && text[i] == '{' && !strchr("%{#", text[i + 1]) && (pl < 6 || strcmp(path + pl - 6, ".jinja")));
    if (is_json) rc = template_from_config(path, text, len, out, err, err_len);
    else rc = sc_chat_template_parse(text, len, out, err, err_len);
    free(text);
    return rc;
}

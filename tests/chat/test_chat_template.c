/*
 * tests/chat/test_chat_template.c - strixcore's Jinja renderer against
 * Python's Jinja2, byte for byte.
 *
 *   test_chat_template SRC_DIR PYTHON WORK_DIR
 *
 * Runs SRC_DIR/render_jinja2.py (Jinja2 configured as transformers
 * configures it) over SRC_DIR/cases.json into WORK_DIR, then renders every
 * case with sc_chat_template_* and compares. A case Jinja2 fails on must
 * fail here too (and contain "error_contains" when given); a case with
 * "strix_error" documents a deliberate difference (a construct strixcore
 * refuses) and only checks strixcore's error.
 * Prints a diff for every failure and "N passed, M failed"; exit 77 (skip)
 * when Python or Jinja2 is missing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "strixcore/chat_template.h"

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t k;
    while (buf && (k = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (n + 1 == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    if (buf) buf[n] = 0;
    if (len) *len = n;
    return buf;
}

/* Show where two renderings part ways, with escaped context. */
static void show_escaped(const char *label, const char *s, size_t len, size_t from, size_t to) {
    printf("    %s: \"", label);
    for (size_t i = from; i < to && i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') printf("\\n");
        else if (c == '\t') printf("\\t");
        else if (c == '\\') printf("\\\\");
        else if (c == '"') printf("\\\"");
        else if (c < 0x20) printf("\\x%02x", c);
        else putchar(c);
    }
    printf("\"%s\n", to < len ? "..." : "");
}

static void diff(const char *want, size_t wlen, const char *got, size_t glen) {
    size_t i = 0;
    while (i < wlen && i < glen && want[i] == got[i]) i++;
    int line = 1;
    for (size_t k = 0; k < i; k++) line += want[k] == '\n';
    size_t from = i > 60 ? i - 60 : 0;
    printf("    lengths: jinja2 %zu, strixcore %zu; first difference at byte %zu (line %d)\n", wlen, glen, i, line);
    show_escaped("jinja2   ", want, wlen, from, i + 80);
    show_escaped("strixcore", got, glen, from, i + 80);
}

typedef struct tally {
    const char *prefix;
    int pass, fail;
} tally;

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s SRC_DIR PYTHON WORK_DIR\n", argv[0]);
        return 2;
    }
    const char *src = argv[1], *python = argv[2], *work = argv[3];
    char cmd[4096], path[4096];
    snprintf(cmd, sizeof cmd, "'%s' -c 'import jinja2' 2>/dev/null", python);
    if (system(cmd) != 0) {
        printf("SKIP: %s with jinja2 is not available\n", python);
        return 77;
    }
    snprintf(cmd, sizeof cmd, "'%s' '%s/render_jinja2.py' '%s/cases.json' '%s/templates' '%s'", python, src, src, src,
             work);
    if (system(cmd) != 0) {
        printf("FAIL: render_jinja2.py failed: %s\n", cmd);
        return 1;
    }
    snprintf(path, sizeof path, "%s/cases.json", src);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    json_t *cases = json_object_get(root, "cases");
    if (!json_is_array(cases)) {
        printf("FAIL: %s: %s\n", path, root ? "no \"cases\" array" : jerr.text);
        return 1;
    }
    tally t[] = {{"qwen3_", 0, 0}, {"coder_", 0, 0}, {"next_", 0, 0}, {"feat_", 0, 0}};
    json_t *parsed = json_object(); /* template file -> index into tmpl[] */
    sc_chat_template_t *tmpl[16] = {0};
    int ntmpl = 0, passed = 0, failed = 0;
    size_t ci;
    json_t *c;
    json_array_foreach(cases, ci, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *file = json_string_value(json_object_get(c, "template"));
        const char *text = json_string_value(json_object_get(c, "template_text"));
        const char *want_err = json_string_value(json_object_get(c, "error_contains"));
        const char *strix_err = json_string_value(json_object_get(c, "strix_error"));
        char err[1024] = "";
        char *got = NULL;
        size_t glen = 0;
        int rc;
        sc_chat_template_t *own = NULL, *tp = NULL;
        if (file) {
            json_t *idx = json_object_get(parsed, file);
            if (!idx) {
                snprintf(path, sizeof path, "%s/templates/%s", src, file);
                sc_chat_template_t *ct = NULL;
                rc = sc_chat_template_load(path, &ct, err, sizeof err);
                if (rc) {
                    printf("FAIL %s: cannot load %s: %s\n", name, file, err);
                    failed++;
                    continue;
                }
                tmpl[ntmpl] = ct;
                json_object_set_new(parsed, file, json_integer(ntmpl++));
                idx = json_object_get(parsed, file);
            }
            tp = tmpl[json_integer_value(idx)];
            rc = SC_OK;
        } else {
            rc = sc_chat_template_parse(text, strlen(text), &own, err, sizeof err);
            tp = own;
        }
        if (rc == SC_OK) {
            char *vars = json_dumps(json_object_get(c, "vars"), JSON_COMPACT);
            rc = sc_chat_template_render(tp, vars, &got, &glen, err, sizeof err);
            free(vars);
        }
        snprintf(path, sizeof path, "%s/%s.out", work, name);
        size_t wlen = 0;
        char *want = slurp(path, &wlen);
        snprintf(path, sizeof path, "%s/%s.err", work, name);
        char *py_err = want ? NULL : slurp(path, NULL);
        bool ok;
        const char *why = "";
        if (strix_err) {
            ok = rc != SC_OK && strstr(err, strix_err);
            why = "expected a strixcore error";
        } else if (py_err) {
            ok = rc != SC_OK && (!want_err || strstr(err, want_err));
            why = rc == SC_OK ? "Jinja2 raised but strixcore rendered" : "error message lacks the expected text";
        } else if (!want) {
            ok = false;
            why = "no Jinja2 result";
        } else {
            ok = rc == SC_OK && glen == wlen && memcmp(got, want, wlen) == 0;
            why = rc != SC_OK ? "strixcore failed" : "output differs";
        }
        for (size_t k = 0; k < sizeof t / sizeof t[0]; k++)
            if (!strncmp(name, t[k].prefix, strlen(t[k].prefix))) ok ? t[k].pass++ : t[k].fail++;
        if (ok) {
            passed++;
        } else {
            failed++;
            printf("FAIL %s: %s\n", name, why);
            if (py_err) printf("    jinja2 error: %s\n", py_err);
            if (want_err || strix_err) printf("    expected error containing: %s\n", strix_err ? strix_err : want_err);
            if (rc != SC_OK) printf("    strixcore error (%s): %s\n", sc_strerror(rc), err);
            else if (want && got) diff(want, wlen, got, glen);
        }
        free(want);
        free(py_err);
        free(got);
        sc_chat_template_free(own);
    }
    for (int i = 0; i < ntmpl; i++) sc_chat_template_free(tmpl[i]);
    json_decref(parsed);
    json_decref(root);
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++)
        printf("  %-7s %d/%d byte-identical or matching errors\n", t[k].prefix, t[k].pass, t[k].pass + t[k].fail);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

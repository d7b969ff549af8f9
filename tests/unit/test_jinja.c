/*
 * tests/unit/test_jinja.c - the Jinja interpreter behind chat_template.h:
 * expressions, filters, whitespace control, loops, namespaces, macros,
 * number printing, errors with positions, limits and loading.
 * Expected strings were produced by Python's Jinja2 with transformers'
 * settings (tests/chat/render_jinja2.py); tests/chat compares whole
 * templates against Jinja2 at test time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "jinja.h"
#include "strixcore/chat_template.h"

/* Render src with vars; returns the malloc'd output or NULL (err filled). */
static char *render(const char *src, const char *vars, int *rc_out, char *err, size_t err_len) {
    sc_chat_template_t *t = NULL;
    char *out = NULL;
    int rc = sc_chat_template_parse(src, strlen(src), &t, err, err_len);
    if (rc == SC_OK) rc = sc_chat_template_render(t, vars, &out, NULL, err, err_len);
    sc_chat_template_free(t);
    if (rc_out) *rc_out = rc;
    return out;
}

static void expect(const char *src, const char *vars, const char *want) {
    char err[512] = "";
    int rc;
    char *got = render(src, vars, &rc, err, sizeof err);
    if (rc != SC_OK) fail_msg("template %s failed: %s", src, err);
    assert_string_equal(got, want);
    free(got);
}

static void expect_error(const char *src, const char *vars, int code, const char *needle) {
    char err[512] = "";
    int rc;
    char *got = render(src, vars, &rc, err, sizeof err);
    if (rc == SC_OK) fail_msg("template %s rendered %s, expected an error", src, got);
    assert_null(got);
    assert_int_equal(rc, code);
    if (!strstr(err, needle)) fail_msg("error \"%s\" lacks \"%s\"", err, needle);
}

static const struct { const char *src, *vars, *want; } k_cases[] = {
    {"{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 ** 3 ** 2 }} {{ -1|abs }} {{ -2 ** 2 }} {{ 7 // -2 }} {{ 'a' ~ (1 + 2) }}",
     "{}",
     "7 9 64 1 4 -4 a3"},
    {"{{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e100 }} {{ 1/3 }} {{ 3.0 * 2 }} {{ 10 / 4 }}",
     "{}",
     "1.0 0.30000000000000004 1e+100 0.3333333333333333 6.0 2.5"},
    {"{{ x|tojson }} {{ x|tojson(indent=2) }}",
     "{\"x\": {\"a\": [1, \"\\u00e9\", null, true]}}",
     "{\"a\": [1, \"\xc3""\xa9""\", null, true]} {\n  \"a\": [\n    1,\n    \"\xc3""\xa9""\",\n    null,\n    true\n  ]\n}"},
    {"{{ ' a '|trim }}|{{ [1, 2]|join('-') }}|{{ missing|default('d') }}|{{ 'ab'|upper }}|{{ [3, 1]|sort|first }}",
     "{}",
     "a|1-2|d|AB|1"},
    {"a\n  {% if true %}\n  b\n  {% endif %}\nc",
     "{}",
     "a\n  b\nc"},
    {"a {%- if true -%} b {%- endif -%} c",
     "{}",
     "abc"},
    {"{% for x in 'abc' %}{{ loop.index }}{{ x }}{{ '.' if not loop.last }}{% endfor %}",
     "{}",
     "1a.2b.3c"},
    {"{% set ns = namespace(n=0) %}{% for i in range(4) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}",
     "{}",
     "6"},
    {"{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', punct='?') }}",
     "{}",
     "Hi A! Hi B?"},
    {"{% for m in messages %}{% if m.role == 'user' %}U:{{ m.content }}{% elif m.role == 'assistant' %}A:{{ m.content }}{% else %}?{% endif %};{% endfor %}",
     "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}, {\"role\": \"x\", \"content\": \"\"}]}",
     "U:hi;A:yo;?;"},
    {"{{ {'b': 1, 'a': None} }} {{ [1, 'x', 2.5] }} {{ none }} {{ true }}",
     "{}",
     "{'b': 1, 'a': None} [1, 'x', 2.5] None True"},
    {"{{ messages[0].content.split('</think>')[-1].lstrip('\\n') }}",
     "{\"messages\": [{\"content\": \"<think>r</think>\\n\\nanswer\"}]}",
     "answer"},
};

static void test_cases(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++) expect(k_cases[i].src, k_cases[i].vars, k_cases[i].want);
}

static void test_float_repr(void **state) {
    (void)state;
    static const struct { double v; const char *s; } t[] = {
        {1.0, "1.0"}, {0.1, "0.1"}, {-0.0, "-0.0"}, {1e16, "1e+16"}, {1e15, "1000000000000000.0"},
        {1e-5, "1e-05"}, {0.0001, "0.0001"}, {123456789012345678.0, "1.2345678901234568e+17"},
        {2.5e-7, "2.5e-07"}, {1.7976931348623157e308, "1.7976931348623157e+308"}, {5e-324, "5e-324"},
    };
    char buf[32];
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        sc__j_float_repr(buf, t[i].v);
        assert_string_equal(buf, t[i].s);
    }
}

static void test_undefined(void **state) {
    (void)state;
    expect("[{{ missing }}]{{ missing is defined }}{{ missing|length }}{% for x in missing %}x{% endfor %}", "{}", "[]False0");
    expect("{{ none.attr }}|{{ d.nokey }}|{{ d.nokey is defined }}", "{\"d\": {}}", "||False");
    expect_error("{{ missing.attr }}", "{}", SC_EINVAL, "'missing' is undefined");
    expect_error("{{ x.startswith('a') }}", "{\"x\": null}", SC_EINVAL, "'None' has no attribute 'startswith'");
}

static void test_scoping(void **state) {
    (void)state;
    /* a loop body cannot change outer variables; a namespace can */
    expect("{% set x = 0 %}{% for i in [1, 2] %}{% set x = i %}{% endfor %}{{ x }}", "{}", "0");
    /* assigned later at the top level: the loop sees the template's own, unset x */
    expect("{% for i in [1] %}[{{ x }}]{% endfor %}{% set x = 5 %}{{ x }}", "{\"x\": 1}", "[]5");
    expect("{% set a = 1 %}{% macro m() %}{{ a }}{% endmacro %}{% set a = 2 %}{{ m() }}", "{}", "2");
}

static void test_syntax_errors(void **state) {
    (void)state;
    expect_error("line1\n{% if x %}\nno end", "{}", SC_EFORMAT, "Unexpected end of template");
    expect_error("ab\n  {{ 1 + }}", "{}", SC_EFORMAT, "2:10: unexpected 'end of print statement'");
    expect_error("{% frob %}", "{}", SC_EFORMAT, "1:4: Encountered unknown tag 'frob'");
    expect_error("{{ x|nosuchfilter }}", "{}", SC_EFORMAT, "1:6: No filter named 'nosuchfilter'");
    expect_error("{% include 'x' %}", "{}", SC_ENOTSUP, "not supported");
    expect_error("{{ 'a'|wordwrap }}", "{}", SC_ENOTSUP, "filter 'wordwrap' is not supported");
    expect_error("{% break %}", "{}", SC_EFORMAT, "'break' outside loop");
}

static void test_runtime_errors(void **state) {
    (void)state;
    expect_error("ok\n  {{ raise_exception('roles must alternate') }}", "{}", SC_EINVAL, "2:6: roles must alternate");
    expect_error("{{ 'a' + 1 }}", "{}", SC_EINVAL, "can only concatenate str");
    expect_error("{{ [1].append(2) }}", "{}", SC_EINVAL, "unsafe");
    expect_error("{% if true %}{{ x|nosuchfilter }}{% endif %}", "{}", SC_EINVAL, "No filter named 'nosuchfilter' found");
    expect_error("{{ x }}", "[1, 2]", SC_EINVAL, "must be a JSON object");
    expect_error("{{ x }}", "{bad json", SC_EINVAL, "vars_json");
}

static void test_limits(void **state) {
    (void)state;
    expect_error("{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}", "{}", SC_ERANGE, "nested deeper");
    expect_error("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", "{}", SC_ERANGE, "output exceeds");
    expect_error("{{ range(200000)|length }}", "{}", SC_ERANGE, "Range too big");
    expect_error("{% for i in range(100000) %}{% for j in range(100) %}{% endfor %}{% endfor %}", "{}", SC_ERANGE,
                 "loop iterations");
    /* left-deep chains are bounded at parse time, not by the C stack */
    size_t n = 20000, len = 0;
    char *src = malloc(n * 4 + 16);
    len += (size_t)sprintf(src, "{{ 1");
    for (size_t i = 0; i < n; i++) len += (size_t)sprintf(src + len, " + 1"); /* "{{ 1 + 1 + ... }}" */
    strcpy(src + len, " }}");
    expect_error(src, "{}", SC_ERANGE, "nested too deeply");
    free(src);
}

static char *write_tmp(const char *name, const char *text) {
    char *path = malloc(512);
    snprintf(path, 512, "/tmp/sc_test_jinja_%d_%s", (int)getpid(), name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_load(void **state) {
    (void)state;
    const char *vars = "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}";
    char *paths[3];
    paths[0] = write_tmp("a.json", "{\"bos_token\": null, \"chat_template\": \"{{ messages[0].content }}!\"}");
    paths[1] = write_tmp("b.json", "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"},"
                                   " {\"name\": \"default\", \"template\": \"{{ messages|length }}\"}]}");
    paths[2] = write_tmp("c.jinja", "{%- for m in messages %}{{ m.role }}{% endfor %}\n");
    const char *want[3] = {"hi!", "1", "user"};
    for (int i = 0; i < 3; i++) {
        sc_chat_template_t *t = NULL;
        char err[256], *out = NULL;
        size_t len = 0;
        assert_int_equal(sc_chat_template_load(paths[i], &t, err, sizeof err), SC_OK);
        assert_int_equal(sc_chat_template_render(t, vars, &out, &len, err, sizeof err), SC_OK);
        assert_string_equal(out, want[i]);
        assert_int_equal(len, strlen(want[i]));
        free(out);
        sc_chat_template_free(t);
        unlink(paths[i]);
        free(paths[i]);
    }
    sc_chat_template_t *t = NULL;
    char err[256];
    assert_int_equal(sc_chat_template_load("/nonexistent/x.jinja", &t, err, sizeof err), SC_ENOENT);
    assert_null(t);
}

static void test_strftime_now(void **state) {
    (void)state;
    char want[16], err[128], *out = NULL;
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(want, sizeof want, "%Y", &tm);
    sc_chat_template_t *t = NULL;
    const char *src = "{{ strftime_now('%Y') }}";
    assert_int_equal(sc_chat_template_parse(src, strlen(src), &t, err, sizeof err), SC_OK);
    assert_int_equal(sc_chat_template_render(t, NULL, &out, NULL, err, sizeof err), SC_OK);
    assert_string_equal(out, want);
    free(out);
    sc_chat_template_free(t);
}

/* One parsed template rendered from several threads at once. */
typedef struct { const sc_chat_template_t *t; int ok; } thread_arg;

static void *render_thread(void *p) {
    thread_arg *a = p;
    a->ok = 1;
    for (int i = 0; i < 200; i++) {
        char vars[128], want[64], *out = NULL, err[128];
        snprintf(vars, sizeof vars, "{\"n\": %d}", i);
        snprintf(want, sizeof want, "%d:%d", i, i * 2);
        if (sc_chat_template_render(a->t, vars, &out, NULL, err, sizeof err) != SC_OK || strcmp(out, want)) a->ok = 0;
        free(out);
    }
    return NULL;
}

static void test_threads(void **state) {
    (void)state;
    sc_chat_template_t *t = NULL;
    const char *src = "{% set ns = namespace(v=0) %}{% for i in range(2) %}{% set ns.v = ns.v + n %}{% endfor %}{{ n }}:{{ ns.v }}";
    assert_int_equal(sc_chat_template_parse(src, strlen(src), &t, NULL, 0), SC_OK);
    pthread_t th[4];
    thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i].t = t;
        assert_int_equal(pthread_create(&th[i], NULL, render_thread, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_true(args[i].ok);
    }
    sc_chat_template_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),          cmocka_unit_test(test_float_repr),
        cmocka_unit_test(test_undefined),      cmocka_unit_test(test_scoping),
        cmocka_unit_test(test_syntax_errors),  cmocka_unit_test(test_runtime_errors),
        cmocka_unit_test(test_limits),         cmocka_unit_test(test_load),
        cmocka_unit_test(test_strftime_now),   cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

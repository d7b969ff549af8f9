/*
 * tests/unit/test_config.c - the `key = value` config parser: what it
 * accepts, the "file:line: message" it gives for what it refuses, and the
 * size limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "internal.h"

static sc_config_t *parse_ok(const char *text) {
    sc_config_t *cfg = NULL;
    char err[256] = "untouched";
    int rc = sc_config_parse(text, strlen(text), &cfg, err, sizeof(err));
    if (rc != SC_OK)
        fail_msg("parse failed (%s): %s", sc_strerror(rc), err);
    assert_non_null(cfg);
    assert_string_equal(err, "");
    return cfg;
}

/* Parse must fail with `code`, a message containing `msg`, and no config. */
static void parse_bad(const char *text, size_t len, int code, const char *msg) {
    sc_config_t *cfg = (sc_config_t *)(uintptr_t)1;
    char err[256] = "";
    assert_int_equal(sc_config_parse(text, len, &cfg, err, sizeof(err)), code);
    assert_null(cfg);
    if (!strstr(err, msg))
        fail_msg("error \"%s\" does not contain \"%s\"", err, msg);
}

static void test_good_file(void **state) {
    const char *text = "# strixcore config\n"
                       "\n"
                       "backend = hip\n"
                       "   log_level=debug   \n"
                       "\tplugin_path = /opt/a\r\n"
                       "plugin_path = \"/opt/with spaces \"\n"
                       "model.path = /m/x # not a comment\n"
                       "empty =\n"
                       "quoted_empty = \"\"\n"
                       "   # indented comment\n"
                       "plugin_path=rel/dir\n"
                       "backend = vulkan"; /* no final newline */
    sc_config_t *cfg = parse_ok(text);
    const char *vals[4] = {0};

    assert_string_equal(sc_config_get(cfg, "backend"), "vulkan"); /* the last one wins */
    assert_string_equal(sc_config_get(cfg, "log_level"), "debug");
    assert_string_equal(sc_config_get(cfg, "model.path"), "/m/x # not a comment");
    assert_string_equal(sc_config_get(cfg, "empty"), "");
    assert_string_equal(sc_config_get(cfg, "quoted_empty"), "");
    assert_null(sc_config_get(cfg, "missing"));
    assert_null(sc_config_get(cfg, "Backend")); /* keys are case-sensitive */

    assert_int_equal(sc_config_get_all(cfg, "plugin_path", vals, 4), 3);
    assert_string_equal(vals[0], "/opt/a");
    assert_string_equal(vals[1], "/opt/with spaces ");
    assert_string_equal(vals[2], "rel/dir");
    /* a short array still learns the total, like snprintf */
    memset(vals, 0, sizeof(vals));
    assert_int_equal(sc_config_get_all(cfg, "plugin_path", vals, 1), 3);
    assert_string_equal(vals[0], "/opt/a");
    assert_null(vals[1]);
    assert_int_equal(sc_config_get_all(cfg, "plugin_path", NULL, 0), 3);
    assert_int_equal(sc_config_get_all(cfg, "nope", vals, 4), 0);
    sc_config_destroy(cfg);
}

static void test_empty_inputs(void **state) {
    sc_config_t *cfg = parse_ok("");
    assert_null(sc_config_get(cfg, "backend"));
    sc_config_destroy(cfg);
    cfg = parse_ok("\n\n# only comments\n   \n");
    assert_int_equal(sc_config_get_all(cfg, "x", NULL, 0), 0);
    sc_config_destroy(cfg);
    /* len 0 with a NULL text is an empty file */
    assert_int_equal(sc_config_parse(NULL, 0, &cfg, NULL, 0), SC_OK);
    sc_config_destroy(cfg);
}

static void test_bad_lines(void **state) {
    const char *t;
    t = "backend = cpu\njust some words\n";
    parse_bad(t, strlen(t), SC_EFORMAT, "<config>:2: expected `key = value`");
    t = "= value\n";
    parse_bad(t, strlen(t), SC_EFORMAT, "<config>:1: missing key");
    t = "\n\nbad key = 1\n";
    parse_bad(t, strlen(t), SC_EFORMAT, "<config>:3: invalid character ' ' in key");
    t = "a = \"open\n";
    parse_bad(t, strlen(t), SC_EFORMAT, "<config>:1: unterminated quoted value");
    t = "a = \"x\" trailing\n";
    parse_bad(t, strlen(t), SC_EFORMAT, "<config>:1: unexpected text after quoted value");
    static const char nul[] = "a = b\nc = \0d\n";
    parse_bad(nul, sizeof(nul) - 1, SC_EFORMAT, "<config>:2: NUL byte");
}

static void test_limits(void **state) {
    /* a line of exactly 4096 bytes is fine, 4097 is not */
    size_t n = 4096;
    char *line = malloc(n + 3);
    sc_config_t *cfg = NULL;
    assert_non_null(line);
    memset(line, 'v', n);
    memcpy(line, "k=", 2);
    line[n] = '\n';
    assert_int_equal(sc_config_parse(line, n + 1, &cfg, NULL, 0), SC_OK);
    assert_int_equal(strlen(sc_config_get(cfg, "k")), n - 2);
    sc_config_destroy(cfg);
    line[n] = 'v';
    line[n + 1] = '\n';
    parse_bad(line, n + 2, SC_ERANGE, "<config>:1: line too long (max 4096 bytes)");
    free(line);

    /* more than 1 MiB is refused before any parsing */
    size_t big = (1u << 20) + 1;
    char *text = malloc(big);
    assert_non_null(text);
    memset(text, '\n', big);
    parse_bad(text, big, SC_ERANGE, "file too large");
    assert_int_equal(sc_config_parse(text, big - 1, &cfg, NULL, 0), SC_OK);
    sc_config_destroy(cfg);
    free(text);
}

static void test_bad_args(void **state) {
    sc_config_t *cfg = NULL;
    const char *v[1];
    char err[64];
    assert_int_equal(sc_config_parse("a=b", 3, NULL, err, sizeof(err)), SC_EINVAL);
    assert_int_equal(sc_config_parse(NULL, 3, &cfg, err, sizeof(err)), SC_EINVAL);
    assert_int_equal(sc_config_load(NULL, &cfg, err, sizeof(err)), SC_EINVAL);
    assert_null(sc_config_get(NULL, "a"));
    assert_int_equal(sc_config_get_all(NULL, "a", v, 1), SC_EINVAL);
    cfg = parse_ok("a=b");
    assert_int_equal(sc_config_get_all(cfg, "a", NULL, 1), SC_EINVAL);
    assert_int_equal(sc_config_get_all(cfg, "a", v, -1), SC_EINVAL);
    sc_config_destroy(cfg);
    sc_config_destroy(NULL);
    /* a tiny error buffer truncates, never overflows */
    char tiny[8];
    assert_int_equal(sc_config_parse("oops", 4, &cfg, tiny, sizeof(tiny)), SC_EFORMAT);
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
}

static void test_load_file(void **state) {
    char path[] = "/tmp/sc_test_config_XXXXXX";
    char err[512];
    sc_config_t *cfg = NULL;
    int fd = mkstemp(path);
    FILE *f;
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    fputs("backend = cpu\nplugin_path = a\nplugin_path = b\n", f);
    fclose(f);
    assert_int_equal(sc_config_load(path, &cfg, err, sizeof(err)), SC_OK);
    assert_string_equal(sc_config_get(cfg, "backend"), "cpu");
    assert_int_equal(sc_config_get_all(cfg, "plugin_path", NULL, 0), 2);
    sc_config_destroy(cfg);

    /* errors name the file and line */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("backend = cpu\n\n\"quoted\" = key\n", f);
    fclose(f);
    assert_int_equal(sc_config_load(path, &cfg, err, sizeof(err)), SC_EFORMAT);
    assert_null(cfg);
    char expect[600];
    snprintf(expect, sizeof(expect), "%s:3: invalid character '\"' in key", path);
    assert_string_equal(err, expect);

    /* a file over 1 MiB */
    f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < (1 << 20) / 16 + 1; i++)
        fputs("# padding line.\n", f);
    fclose(f);
    assert_int_equal(sc_config_load(path, &cfg, err, sizeof(err)), SC_ERANGE);
    assert_non_null(strstr(err, "file too large"));
    unlink(path);

    /* missing file: SC_ENOENT and the path in the message */
    assert_int_equal(sc_config_load(path, &cfg, err, sizeof(err)), SC_ENOENT);
    assert_null(cfg);
    assert_non_null(strstr(err, path));
    /* a directory is not a config file */
    assert_int_equal(sc_config_load("/tmp", &cfg, err, sizeof(err)), SC_EIO);
    assert_null(cfg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file),  cmocka_unit_test(test_empty_inputs),
        cmocka_unit_test(test_bad_lines),  cmocka_unit_test(test_limits),
        cmocka_unit_test(test_bad_args),   cmocka_unit_test(test_load_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * tests/hf/test_hf_cache.c - repo ids and the Hugging Face cache directory
 * (core/src/hf_cache.c): parsing, the environment's precedence, refs and
 * commits, and the errors for what is missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "strixcore/hf_cache.h"

#define COMMIT "0123456789abcdef0123456789abcdef01234567"

static void clear_env(void) {
    const char *vars[] = {"HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME", "HF_HUB_OFFLINE",
                          "TRANSFORMERS_OFFLINE"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
}

static void test_parse(void **state) {
    char repo[64], rev[64];
    (void)state;
    assert_int_equal(sc_hf_repo_parse("Qwen/Qwen3-0.6B", repo, sizeof(repo), rev, sizeof(rev)), SC_OK);
    assert_string_equal(repo, "Qwen/Qwen3-0.6B");
    assert_string_equal(rev, "main");
    assert_int_equal(sc_hf_repo_parse("org/name@refs/pr/1", repo, sizeof(repo), rev, sizeof(rev)), SC_OK);
    assert_string_equal(repo, "org/name");
    assert_string_equal(rev, "refs/pr/1");
    assert_int_equal(sc_hf_repo_parse("org/name@" COMMIT, repo, sizeof(repo), rev, sizeof(rev)), SC_OK);
    assert_string_equal(rev, COMMIT);
    /* paths and junk are not repo ids */
    const char *bad[] = {"name",     "/abs/path", "./org/name", "org/name/extra", "org/",          "/name",
                         "org/..",   "../x",      "org/na me",  "org/name@",      "org/name@../x", "org/name@/x",
                         "org/.git", "",          "org//name"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(sc_hf_is_repo_id(bad[i]));
    assert_true(sc_hf_is_repo_id("a/b"));
    assert_int_equal(sc_hf_repo_parse("org/name", repo, 4, rev, sizeof(rev)), SC_ERANGE);
    assert_int_equal(sc_hf_repo_parse(NULL, repo, sizeof(repo), rev, sizeof(rev)), SC_EINVAL);
}

static void test_env(void **state) {
    char buf[512];
    (void)state;
    clear_env();
    setenv("HOME", "/home/u", 1);
    assert_int_equal(sc_hf_hub_cache(buf, sizeof(buf)), SC_OK);
    assert_string_equal(buf, "/home/u/.cache/huggingface/hub");
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    assert_int_equal(sc_hf_hub_cache(buf, sizeof(buf)), SC_OK);
    assert_string_equal(buf, "/xdg/huggingface/hub");
    setenv("HF_HOME", "/hf", 1);
    assert_int_equal(sc_hf_home(buf, sizeof(buf)), SC_OK);
    assert_string_equal(buf, "/hf");
    assert_int_equal(sc_hf_hub_cache(buf, sizeof(buf)), SC_OK);
    assert_string_equal(buf, "/hf/hub");
    setenv("HUGGINGFACE_HUB_CACHE", "/legacy", 1);
    assert_int_equal(sc_hf_hub_cache(buf, sizeof(buf)), SC_OK);
    assert_string_equal(buf, "/legacy");
    setenv("HF_HUB_CACHE", "/cache", 1);
    assert_int_equal(sc_hf_hub_cache(buf, sizeof(buf)), SC_OK);
    assert_string_equal(buf, "/cache");
    assert_int_equal(sc_hf_repo_dir("Qwen/Qwen3-0.6B", buf, sizeof(buf)), SC_OK);
    assert_string_equal(buf, "/cache/models--Qwen--Qwen3-0.6B");
    assert_int_equal(sc_hf_repo_dir("Qwen/Qwen3-0.6B", buf, 10), SC_ERANGE);
    assert_int_equal(sc_hf_repo_dir("not-a-repo", buf, sizeof(buf)), SC_EINVAL);

    assert_false(sc_hf_offline());
    setenv("HF_HUB_OFFLINE", "0", 1);
    assert_false(sc_hf_offline());
    setenv("HF_HUB_OFFLINE", "TRUE", 1);
    assert_true(sc_hf_offline());
    unsetenv("HF_HUB_OFFLINE");
    setenv("TRANSFORMERS_OFFLINE", "1", 1);
    assert_true(sc_hf_offline());
    clear_env();
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_snapshot(void **state) {
    char tmpl[] = "/tmp/sc-hf-cache-XXXXXX", p[1024], buf[1024], err[1024];
    char *root = mkdtemp(tmpl);
    (void)state;
    assert_non_null(root);
    clear_env();
    setenv("HF_HUB_CACHE", root, 1);

    /* nothing cached: the error names the ref it looked for */
    assert_int_equal(sc_hf_snapshot_dir("org/m", "main", buf, sizeof(buf), err, sizeof(err)), SC_ENOENT);
    assert_non_null(strstr(err, "models--org--m/refs/main"));

    snprintf(p, sizeof(p), "%s/models--org--m", root);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/models--org--m/refs", root);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/models--org--m/snapshots", root);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/models--org--m/refs/main", root);
    write_file(p, COMMIT "\n");
    /* a ref whose snapshot is missing */
    assert_int_equal(sc_hf_snapshot_dir("org/m", NULL, buf, sizeof(buf), err, sizeof(err)), SC_ENOENT);
    assert_non_null(strstr(err, "snapshots/" COMMIT));

    snprintf(p, sizeof(p), "%s/models--org--m/snapshots/" COMMIT, root);
    assert_int_equal(mkdir(p, 0755), 0);
    assert_int_equal(sc_hf_snapshot_dir("org/m", NULL, buf, sizeof(buf), err, sizeof(err)), SC_OK);
    assert_string_equal(buf, p);
    assert_int_equal(sc_hf_snapshot_dir("org/m", COMMIT, buf, sizeof(buf), err, sizeof(err)), SC_OK);
    assert_string_equal(buf, p);

    /* a ref that does not hold a sha; a revision that could escape refs/ */
    snprintf(p, sizeof(p), "%s/models--org--m/refs/bad", root);
    write_file(p, "not a sha\n");
    assert_int_equal(sc_hf_snapshot_dir("org/m", "bad", buf, sizeof(buf), err, sizeof(err)), SC_EFORMAT);
    unlink(p);
    assert_int_equal(sc_hf_snapshot_dir("org/m", "../../x", buf, sizeof(buf), err, sizeof(err)), SC_EINVAL);

    snprintf(p, sizeof(p), "%s/models--org--m/refs/main", root);
    unlink(p);
    snprintf(p, sizeof(p), "%s/models--org--m/snapshots/" COMMIT, root);
    rmdir(p);
    snprintf(p, sizeof(p), "%s/models--org--m/snapshots", root);
    rmdir(p);
    snprintf(p, sizeof(p), "%s/models--org--m/refs", root);
    rmdir(p);
    snprintf(p, sizeof(p), "%s/models--org--m", root);
    rmdir(p);
    rmdir(root);
    clear_env();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_snapshot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

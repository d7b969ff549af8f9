/*
 * tests/tune/test_tune.c - the kernel tuner (core/src/tune.c, tune_file.c)
 * against the tunetest backend (tune_plugin.c: MUL_MAT with a correct
 * default "rows", a correct slower "twice", and two fast wrong variants,
 * "zeros" and "half").
 *
 *   tune_and_reuse     tuning writes the cache; a new start (and a new
 *                      registry, as a new process would) loads it and runs
 *                      the chosen variant without tuning again; ENABLED=0
 *                      runs the default
 *   wrong_never_chosen the wrong variants, though fastest, are never chosen
 *   bad_files          corrupt, truncated, foreign, stale, odd files are
 *                      ignored with a warning, then replaced by a good one
 *   stale_variant      an entry naming a variant the backend lacks is dropped,
 *                      the others are used
 *   record_default     the in-graph check's API: keys a pass meets go back to
 *                      their defaults, for a trial or for good (saved)
 *   unwritable_dir     tuning still works when the cache cannot be written
 */
#include <dirent.h>
#include <dlfcn.h>
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "strixcore/strixcore.h"
#include "strixcore/tuning.h"

static char dir[256];

static sc_registry_t *open_reg(sc_device_t **dev) {
    const char *paths[] = {TUNE_PLUGIN_DIR, NULL};
    sc_registry_opts o = {.struct_size = sizeof o, .search_paths = paths, .no_env = true, .no_default_paths = true};
    sc_registry_t *reg = NULL;
    assert_int_equal(sc_registry_create(&o, &reg), SC_OK);
    *dev = sc_registry_find_device(reg, "tunetest");
    assert_non_null(*dev);
    return reg;
}

static long runs(const char *variant) {
    void *h = dlopen(TUNE_PLUGIN_DIR "/tunetest.so", RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(h);
    long (*fn)(const char *) = (long (*)(const char *))dlsym(h, "tunetest_runs");
    assert_non_null(fn);
    const long n = fn(variant);
    dlclose(h);
    return n;
}

static int start(sc_device_t *dev, int enabled, int tuning) {
    sc_tuning_opts o = {.struct_size = sizeof o, .enabled = enabled, .tuning = tuning, .dir = dir,
                        .timed_batches = 3, .batch_us = 50};
    char err[256];
    return sc_device_tuning_start(dev, &o, err, sizeof err);
}

static sc_tuning_stats stats(sc_device_t *dev) {
    sc_tuning_stats s = {.struct_size = sizeof s};
    assert_int_equal(sc_device_tuning_stats(dev, &s), SC_OK);
    return s;
}

/* y = w x on dev for w [K, N], x [K, M], checked against a host loop */
static void run_mm(sc_device_t *dev, int K, int N, int M) {
    sc_ctx_t *ctx = sc_ctx_create(16);
    sc_tensor *w = sc_new_tensor_2d(ctx, SC_TYPE_F32, K, N), *x = sc_new_tensor_2d(ctx, SC_TYPE_F32, K, M);
    w->flags |= SC_TENSOR_WEIGHT;
    x->flags |= SC_TENSOR_INPUT;
    sc_tensor *y = sc_mul_mat(ctx, w, x);
    y->flags |= SC_TENSOR_OUTPUT;
    assert_int_equal(sc_ctx_error(ctx), SC_OK);
    sc_tensor *leaves[2] = {w, x};
    sc_buffer_t *buf = NULL;
    assert_int_equal(sc_alloc_tensors(dev, leaves, 2, &buf), SC_OK);
    float *wv = malloc(sizeof(float) * K * N), *xv = malloc(sizeof(float) * K * M), *yv = malloc(sizeof(float) * N * M);
    for (int i = 0; i < K * N; i++) wv[i] = sinf(0.37f * (float)i);
    for (int i = 0; i < K * M; i++) xv[i] = cosf(0.11f * (float)i);
    assert_int_equal(sc_tensor_set(w, wv, 0, sizeof(float) * K * N), SC_OK);
    assert_int_equal(sc_tensor_set(x, xv, 0, sizeof(float) * K * M), SC_OK);
    sc_graph_t *g = sc_graph_create(16);
    assert_int_equal(sc_graph_expand(g, y), SC_OK);
    sc_sched_t *s = NULL;
    assert_int_equal(sc_sched_create(&dev, 1, &s), SC_OK);
    assert_int_equal(sc_sched_compute(s, g), SC_OK);
    assert_int_equal(sc_tensor_get(y, yv, 0, sizeof(float) * N * M), SC_OK);
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            float r = 0;
            for (int k = 0; k < K; k++) r += wv[n * K + k] * xv[m * K + k];
            assert_true(fabsf(yv[m * N + n] - r) <= 1e-4f * (1 + fabsf(r)));
        }
    sc_sched_destroy(s);
    sc_graph_destroy(g);
    sc_buffer_destroy(buf);
    sc_ctx_destroy(ctx);
    free(wv);
    free(xv);
    free(yv);
}

static void cache_path(sc_device_t *dev, char *path, size_t len) {
    char key[256];
    assert_int_equal(sc_device_tuning_path(dev, dir, key, sizeof key, path, len), SC_OK);
}

/* the cache file's choice for key (static buffer), NULL when absent */
static const char *file_choice(sc_device_t *dev, const char *key) {
    static char out[64];
    char path[1024];
    cache_path(dev, path, sizeof path);
    json_t *root = json_load_file(path, 0, NULL);
    assert_non_null(root);
    json_t *v = json_object_get(json_object_get(json_object_get(root, "results"), key), "variant");
    const char *r = NULL;
    if (json_is_string(v)) {
        snprintf(out, sizeof out, "%s", json_string_value(v));
        r = out;
    }
    json_decref(root);
    return r;
}

static void clean_dir(void) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[600];
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (unlink(p) != 0) rmdir(p);
        }
    closedir(d);
}

static int setup(void **state) {
    snprintf(dir, sizeof dir, "/tmp/sc-tune-test-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    unsetenv("TUNETEST_VARIANTS");
    unsetenv("TUNETEST_DRIVER");
    return 0;
}

static int teardown(void **state) {
    clean_dir();
    rmdir(dir);
    return 0;
}

#define KEY "mm.f32:N=64,K=256,M=3"

static void test_tune_and_reuse(void **state) {
    sc_device_t *dev;
    sc_registry_t *reg = open_reg(&dev);
    assert_int_equal(start(dev, 1, 1), SC_OK);
    assert_int_equal(stats(dev).loaded, 0);
    run_mm(dev, 256, 64, 3);
    sc_tuning_stats s = stats(dev);
    assert_int_equal(s.tuned, 1);
    assert_int_equal(s.variants_wrong, 2);  /* zeros and half */
    assert_int_equal(s.variants_timed, 2);  /* rows and twice */
    assert_false(s.file_ignored);
    const char *choice = file_choice(dev, KEY);
    assert_non_null(choice);
    assert_true(!strcmp(choice, "rows") || !strcmp(choice, "twice"));
    char chosen[64];
    snprintf(chosen, sizeof chosen, "%s", choice);

    /* the same shape again in this process: no tuning, the choice runs once */
    long before = runs(chosen);
    run_mm(dev, 256, 64, 3);
    assert_int_equal(stats(dev).tuned, 1);
    assert_int_equal(runs(chosen), before + 1);

    /* a new start reads the file: loaded, nothing tuned, the choice runs */
    assert_int_equal(start(dev, 1, 1), SC_OK);
    assert_int_equal(stats(dev).loaded, 1);
    before = runs(chosen);
    long zeros = runs("zeros"), half = runs("half");
    run_mm(dev, 256, 64, 3);
    assert_int_equal(stats(dev).tuned, 0);
    assert_int_equal(runs(chosen), before + 1);
    assert_int_equal(runs("zeros"), zeros);
    assert_int_equal(runs("half"), half);
    sc_registry_destroy(reg);

    /* a new registry (the plugin loaded afresh, as by a new process), tuning off */
    reg = open_reg(&dev);
    assert_int_equal(start(dev, -1, 0), SC_OK);
    assert_int_equal(stats(dev).loaded, 1);
    run_mm(dev, 256, 64, 3);
    assert_int_equal(runs(chosen), 1);
    assert_int_equal(runs(!strcmp(chosen, "rows") ? "twice" : "rows"), 0);
    /* a shape not in the cache with tuning off: the default, nothing tuned */
    run_mm(dev, 128, 32, 1);
    assert_int_equal(stats(dev).tuned, 0);

    /* STRIXCORE_TUNING_ENABLED=0: the file is not even read; the default runs */
    setenv("STRIXCORE_TUNING_ENABLED", "0", 1);
    assert_int_equal(start(dev, -1, -1), SC_OK);
    unsetenv("STRIXCORE_TUNING_ENABLED");
    s = stats(dev);
    assert_int_equal(s.loaded, 0);
    assert_int_equal(s.enabled, 0);
    const long rows = runs("rows");
    run_mm(dev, 256, 64, 3);
    assert_int_equal(runs("rows"), rows + 1);
    sc_registry_destroy(reg);

    /* no temporary files are left behind */
    DIR *d = opendir(dir);
    struct dirent *e;
    int n_json = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        assert_non_null(strstr(e->d_name, ".json"));
        assert_null(strstr(e->d_name, ".tmp"));
        n_json++;
    }
    closedir(d);
    assert_int_equal(n_json, 1);
    clean_dir();
}

static void test_wrong_never_chosen(void **state) {
    sc_device_t *dev;
    sc_registry_t *reg = open_reg(&dev);
    assert_int_equal(start(dev, 1, 1), SC_OK);
    const int shapes[][3] = {{64, 16, 1}, {512, 8, 1}, {32, 300, 2}, {1024, 4, 40}, {96, 96, 9}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) run_mm(dev, shapes[i][0], shapes[i][1], shapes[i][2]);
    sc_tuning_stats s = stats(dev);
    assert_int_equal(s.tuned, 5);
    assert_int_equal(s.variants_wrong, 10);
    char path[1024];
    cache_path(dev, path, sizeof path);
    json_t *root = json_load_file(path, 0, NULL);
    assert_non_null(root);
    const char *k;
    json_t *e;
    int n = 0;
    json_object_foreach(json_object_get(root, "results"), k, e) {
        const char *v = json_string_value(json_object_get(e, "variant"));
        assert_non_null(v);
        assert_true(!strcmp(v, "rows") || !strcmp(v, "twice"));
        assert_int_equal(json_integer_value(json_object_get(e, "wrong")), 2);
        n++;
    }
    assert_int_equal(n, 5);
    json_decref(root);
    FILE *f = fopen("/dev/null", "w");
    assert_int_equal(sc_device_tuning_print(dev, f), SC_OK);
    fclose(f);

    /* only the wrong ones besides the default: the default is kept */
    setenv("TUNETEST_VARIANTS", "zeros,half", 1);
    assert_int_equal(start(dev, 1, 1), SC_OK);
    run_mm(dev, 64, 24, 1);
    unsetenv("TUNETEST_VARIANTS");
    assert_string_equal(file_choice(dev, "mm.f32:N=24,K=64,M=1"), "rows");
    sc_registry_destroy(reg);
    clean_dir();
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A valid cache file for dev whose "results" object is `results` (JSON). */
static void write_cache(sc_device_t *dev, const char *results) {
    char path[1024], key[256], text[4096];
    assert_int_equal(sc_device_tuning_path(dev, dir, key, sizeof key, path, sizeof path), SC_OK);
    snprintf(text, sizeof text,
             "{\"format\":\"strixcore-tuning\",\"version\":1,\"device_key\":\"%s\",\"strixcore\":\"%s\","
             "\"results\":%s}",
             key, SC_VERSION_STRING, results);
    write_file(path, text);
}

static void test_bad_files(void **state) {
    sc_device_t *dev;
    sc_registry_t *reg = open_reg(&dev);
    char path[1024], key[256], good[2048];
    assert_int_equal(sc_device_tuning_path(dev, dir, key, sizeof key, path, sizeof path), SC_OK);
    snprintf(good, sizeof good,
             "{\"format\":\"strixcore-tuning\",\"version\":1,\"device_key\":\"%s\",\"strixcore\":\"%s\","
             "\"results\":{\"" KEY "\":{\"variant\":\"twice\"}}}",
             key, SC_VERSION_STRING);
    /* the good file loads */
    write_file(path, good);
    assert_int_equal(start(dev, 1, 0), SC_OK);
    assert_int_equal(stats(dev).loaded, 1);
    assert_false(stats(dev).file_ignored);

    char bad[8][2048];
    snprintf(bad[0], sizeof bad[0], "{not json at all");
    snprintf(bad[1], sizeof bad[1], "%.*s", (int)(strlen(good) / 2), good); /* truncated */
    snprintf(bad[2], sizeof bad[2], "[1, 2, 3]");
    snprintf(bad[3], sizeof bad[3], "{\"format\":\"something-else\",\"version\":1}");
    snprintf(bad[4], sizeof bad[4],
             "{\"format\":\"strixcore-tuning\",\"version\":1,\"device_key\":\"vulkan-other-gpu-1.0-%s\","
             "\"strixcore\":\"%s\",\"results\":{\"" KEY "\":{\"variant\":\"twice\"}}}",
             SC_VERSION_STRING, SC_VERSION_STRING); /* foreign */
    snprintf(bad[5], sizeof bad[5],
             "{\"format\":\"strixcore-tuning\",\"version\":1,\"device_key\":\"%s\",\"strixcore\":\"0.0.1\","
             "\"results\":{\"" KEY "\":{\"variant\":\"twice\"}}}",
             key); /* stale: another strixcore version */
    snprintf(bad[6], sizeof bad[6],
             "{\"format\":\"strixcore-tuning\",\"version\":7,\"device_key\":\"%s\",\"strixcore\":\"%s\"}", key,
             SC_VERSION_STRING);
    snprintf(bad[7], sizeof bad[7], "%s", ""); /* empty */
    for (int i = 0; i < 8; i++) {
        write_file(path, bad[i]);
        assert_int_equal(start(dev, 1, 0), SC_OK);
        assert_true(stats(dev).file_ignored);
        assert_int_equal(stats(dev).loaded, 0);
        run_mm(dev, 256, 64, 3); /* runs on the default, correctly */
    }
    /* a binary file */
    FILE *f = fopen(path, "wb");
    for (int i = 0; i < 4096; i++) fputc((i * 131) & 0xFF, f);
    fclose(f);
    assert_int_equal(start(dev, 1, 1), SC_OK);
    assert_true(stats(dev).file_ignored);
    /* tuning replaces the ignored file with a good one */
    run_mm(dev, 256, 64, 3);
    assert_int_equal(stats(dev).tuned, 1);
    assert_int_equal(start(dev, 1, 0), SC_OK);
    assert_false(stats(dev).file_ignored);
    assert_int_equal(stats(dev).loaded, 1);

    /* the path is a directory */
    unlink(path);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(start(dev, 1, 0), SC_OK);
    assert_true(stats(dev).file_ignored);
    rmdir(path);

    /* another driver version is another file: nothing loads */
    write_file(path, good);
    sc_registry_destroy(reg);
    setenv("TUNETEST_DRIVER", "tt 2.0", 1);
    reg = open_reg(&dev);
    unsetenv("TUNETEST_DRIVER");
    char path2[1024];
    cache_path(dev, path2, sizeof path2);
    assert_string_not_equal(path, path2);
    assert_int_equal(start(dev, 1, 0), SC_OK);
    assert_int_equal(stats(dev).loaded, 0);
    sc_registry_destroy(reg);
    clean_dir();
}

static void test_stale_variant(void **state) {
    sc_device_t *dev;
    sc_registry_t *reg = open_reg(&dev);
    write_cache(dev, "{\"" KEY "\":{\"variant\":\"twice\"},\"mm.f32:N=8,K=8,M=1\":{\"variant\":\"gone\"},"
                     "\"other.family:N=1\":{\"variant\":\"rows\"},\"mm.f32:N=9,K=9,M=1\":{\"variant\":7}}");
    assert_int_equal(start(dev, 1, 0), SC_OK);
    sc_tuning_stats s = stats(dev);
    assert_false(s.file_ignored);
    assert_int_equal(s.loaded, 1);
    assert_int_equal(s.dropped, 3);
    const long twice = runs("twice");
    run_mm(dev, 256, 64, 3);
    assert_int_equal(runs("twice"), twice + 1);
    sc_registry_destroy(reg);
    clean_dir();
}

/* the in-graph check's API: record the keys a pass meets, put their
 * defaults in, keep them */
static void test_record_default(void **state) {
    sc_device_t *dev;
    sc_registry_t *reg = open_reg(&dev);
    write_cache(dev, "{\"" KEY "\":{\"variant\":\"twice\",\"default\":\"rows\"},"
                     "\"mm.f32:N=16,K=64,M=1\":{\"variant\":\"twice\",\"default\":\"rows\"}}");
    assert_int_equal(start(dev, 1, 1), SC_OK);
    assert_int_equal(stats(dev).loaded, 2);
    int64_t n = -1;
    assert_int_equal(sc_device_tuning_record(dev, true), SC_OK);
    run_mm(dev, 256, 64, 3); /* meets only the first key */
    assert_int_equal(sc_device_tuning_record(dev, false), SC_OK);
    /* defaults in, not kept: the default runs, the file is unchanged */
    assert_int_equal(sc_device_tuning_recorded_default(dev, true, false, &n), SC_OK);
    assert_int_equal(n, 1);
    long rows = runs("rows");
    sc_device_tuning_set_tuning(dev, false);
    run_mm(dev, 256, 64, 3);
    assert_int_equal(runs("rows"), rows + 1);
    assert_string_equal(file_choice(dev, KEY), "twice");
    /* back to the tuned choice */
    assert_int_equal(sc_device_tuning_recorded_default(dev, false, false, &n), SC_OK);
    long twice = runs("twice");
    run_mm(dev, 256, 64, 3);
    assert_int_equal(runs("twice"), twice + 1);
    /* keep the defaults: saved, counted; the other key keeps its choice */
    assert_int_equal(sc_device_tuning_recorded_default(dev, true, true, &n), SC_OK);
    assert_int_equal(n, 1);
    assert_int_equal(stats(dev).reverted, 1);
    assert_string_equal(file_choice(dev, KEY), "rows");
    assert_string_equal(file_choice(dev, "mm.f32:N=16,K=64,M=1"), "twice");
    sc_registry_destroy(reg);
    clean_dir();
}

static void test_unwritable_dir(void **state) {
    sc_device_t *dev;
    sc_registry_t *reg = open_reg(&dev);
    char file[600];
    snprintf(file, sizeof file, "%s/plain-file", dir);
    write_file(file, "x");
    char sub[700];
    snprintf(sub, sizeof sub, "%s/cache", file); /* under a regular file: cannot be created */
    sc_tuning_opts o = {.struct_size = sizeof o, .enabled = 1, .tuning = 1, .dir = sub, .timed_batches = 3};
    char err[256];
    assert_int_equal(sc_device_tuning_start(dev, &o, err, sizeof err), SC_OK);
    run_mm(dev, 256, 64, 3);
    assert_int_equal(stats(dev).tuned, 1);
    run_mm(dev, 256, 64, 3);
    assert_int_equal(stats(dev).tuned, 1); /* kept in memory */
    sc_registry_destroy(reg);
    clean_dir();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tune_and_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_never_chosen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_variant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwritable_dir, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

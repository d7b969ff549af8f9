/*
 * tests/unit/test_serve_config.c - `strixcore serve`'s settings table
 * (cli/serve_config.c, compiled in here): defaults, every kind (string,
 * choice, int with vLLM's "32k", size with "16GiB", boolean --x/--no-x,
 * string lists, API keys), the JSON file, the command line over the file,
 * the environment, errors naming the key, and the JSON handed to the
 * frontend. No model is loaded.
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

#include "../../cli/serve_config.c"

static int parse(serve_cfg *c, char *err, size_t n, unsigned *act, ...) {
    char *argv[64];
    int argc = 0;
    va_list ap;
    argv[argc++] = "serve";
    va_start(ap, act);
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 63;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    return serve_cfg_parse_args(c, argc, argv, act, err, n);
}

static void test_scaled(void **state) {
    (void)state;
    uint64_t v;
    assert_int_equal(parse_scaled("4294967296", true, &v), 0);
    assert_true(v == 4294967296ULL);
    assert_int_equal(parse_scaled("4GiB", true, &v), 0);
    assert_true(v == 4ULL << 30);
    assert_int_equal(parse_scaled("4 gib", true, &v), 0);
    assert_true(v == 4ULL << 30);
    assert_int_equal(parse_scaled("4G", true, &v), 0);
    assert_true(v == 4ULL << 30);
    assert_int_equal(parse_scaled("4g", true, &v), 0); /* vLLM: lower case is decimal */
    assert_true(v == 4000000000ULL);
    assert_int_equal(parse_scaled("4GB", true, &v), 0);
    assert_true(v == 4000000000ULL);
    assert_int_equal(parse_scaled("512MiB", true, &v), 0);
    assert_true(v == 512ULL << 20);
    assert_int_equal(parse_scaled("1.5GiB", true, &v), 0);
    assert_true(v == 3ULL << 29);
    assert_int_equal(parse_scaled("25.6k", true, &v), 0);
    assert_true(v == 25600);
    assert_int_equal(parse_scaled("32K", true, &v), 0);
    assert_true(v == 32768);
    assert_int_equal(parse_scaled("1TiB", true, &v), 0);
    assert_true(v == 1ULL << 40);
    assert_int_equal(parse_scaled("0.3", true, &v), -1);   /* not whole */
    assert_int_equal(parse_scaled("4XB", true, &v), -1);
    assert_int_equal(parse_scaled("GiB", true, &v), -1);
    assert_int_equal(parse_scaled("-1", true, &v), -1);
    assert_int_equal(parse_scaled("4GiB", false, &v), -1); /* plain ints take no suffix */
    assert_int_equal(parse_scaled("99999999999999999999", true, &v), -1);
    assert_int_equal(parse_scaled("20000000TiB", true, &v), -1);
}

static void test_defaults(void **state) {
    (void)state;
    serve_cfg c;
    serve_cfg_init(&c);
    assert_string_equal(c.host, "0.0.0.0");
    assert_int_equal(c.port, 8000);
    assert_string_equal(c.frontend, "openai");
    assert_string_equal(c.compat, "vllm");
    assert_string_equal(c.kv_cache_dtype, "auto");
    assert_string_equal(c.generation_config, "auto");
    assert_string_equal(c.tool_call_parser, "auto");
    assert_int_equal(c.max_num_seqs, 8);
    assert_int_equal(c.block_size, 16);
    assert_int_equal(c.max_model_len, 0);
    assert_true(c.kv_cache_memory_bytes == 0);
    assert_true(c.enable_prefix_caching);
    assert_false(c.allow_credentials);
    assert_int_equal(c.n_allowed_origins, 1);
    assert_string_equal(c.allowed_origins[0], "*");
    assert_null(c.model);
    assert_int_equal(c.n_api_keys, 0);
    serve_cfg_free(&c);
}

static void test_json_kinds(void **state) {
    (void)state;
    serve_cfg c;
    char err[256] = "";
    serve_cfg_init(&c);
    assert_int_equal(serve_cfg_apply_json(&c,
                                          "{\"model\": \"/m\", \"kv_cache_memory_bytes\": \"16GiB\", \"block_size\": 32,"
                                          " \"kv_cache_dtype\": \"bfloat16\", \"enable_prefix_caching\": false,"
                                          " \"max-model-len\": \"32k\", \"allowed_origins\": [\"http://a\", \"http://b\"],"
                                          " \"allowed_methods\": \"GET, POST\", \"allow_credentials\": true,"
                                          " \"max_waiting_requests\": 64, \"generation_config\": \"vllm\","
                                          " \"tool_call_parser\": \"qwen3_coder\", \"api_keys\": \"k\"}",
                                          err, sizeof err),
                     0);
    assert_true(c.kv_cache_memory_bytes == 16LL << 30);
    assert_int_equal(c.block_size, 32);
    assert_string_equal(c.kv_cache_dtype, "bfloat16");
    assert_false(c.enable_prefix_caching);
    assert_int_equal(c.max_model_len, 32000);
    assert_int_equal(c.n_allowed_origins, 2);
    assert_string_equal(c.allowed_origins[1], "http://b");
    assert_int_equal(c.n_allowed_methods, 2);
    assert_string_equal(c.allowed_methods[1], "POST");
    assert_true(c.allow_credentials);
    assert_int_equal(c.max_waiting_requests, 64);
    assert_string_equal(c.generation_config, "vllm");
    assert_int_equal(c.n_api_keys, 1);
    /* null: back to the default */
    assert_int_equal(serve_cfg_apply_json(&c, "{\"block_size\": null, \"allowed_origins\": null}", err, sizeof err), 0);
    assert_int_equal(c.block_size, 16);
    assert_int_equal(c.n_allowed_origins, 1);
    /* a directory for generation_config; "auto" for an automatic int */
    assert_int_equal(serve_cfg_apply_json(&c, "{\"generation_config\": \"/g\", \"max_model_len\": \"auto\"}", err,
                                          sizeof err),
                     0);
    assert_string_equal(c.generation_config, "/g");
    assert_int_equal(c.max_model_len, 0);
    serve_cfg_free(&c);
}

static void expect_json_error(const char *json, const char *needle) {
    serve_cfg c;
    char err[256] = "";
    serve_cfg_init(&c);
    assert_int_equal(serve_cfg_apply_json(&c, json, err, sizeof err), -1);
    if (!strstr(err, needle))
        fail_msg("%s: '%s' not in '%s'", json, needle, err);
    serve_cfg_free(&c);
}

static void test_json_errors(void **state) {
    (void)state;
    expect_json_error("{\"prot\": 1}", "unknown key \"prot\" (did you mean \"port\"?)");
    expect_json_error("{\"port\": \"8000\"}", "\"port\"");
    expect_json_error("{\"port\": 0}", "\"port\" must be an integer from 1 to 65535");
    expect_json_error("{\"kv_cache_memory_bytes\": \"4XiB\"}", "\"kv_cache_memory_bytes\"");
    expect_json_error("{\"kv_cache_memory_bytes\": -1}", "\"kv_cache_memory_bytes\"");
    expect_json_error("{\"kv_cache_memory_bytes\": true}", "\"kv_cache_memory_bytes\"");
    expect_json_error("{\"block_size\": 24}", "\"block_size\" must be a power of two");
    expect_json_error("{\"block_size\": 512}", "\"block_size\"");
    expect_json_error("{\"kv_cache_dtype\": \"fp8\"}", "\"kv_cache_dtype\" must be auto|float32|float16|bfloat16");
    expect_json_error("{\"compat\": \"tgi\"}", "\"compat\"");
    expect_json_error("{\"enable_prefix_caching\": 1}", "\"enable_prefix_caching\" must be true or false");
    expect_json_error("{\"allowed_headers\": [\"a\", 2]}", "\"allowed_headers\"");
    expect_json_error("{\"api_key\": [1]}", "\"api_key\"");
    expect_json_error("{\"tool_call_parser\": \"x\"}", "\"tool_call_parser\"");
    expect_json_error("{\"frontend\": \"\"}", "\"frontend\" must not be empty");
    expect_json_error("{\"pipeline_parallel_size\": 2}", "\"pipeline_parallel_size\" must be 1");
    expect_json_error("{\"port\": 1, \"port\": 2}", "port");
    expect_json_error("{\"block_size\": 16, \"block-size\": 16}", "\"block_size\" is given twice");
    expect_json_error("[1]", "JSON object");
    expect_json_error("{", "line 1");
}

static void test_flags(void **state) {
    (void)state;
    serve_cfg c;
    char err[256] = "";
    int first = 1;
    serve_cfg_init(&c);
    assert_int_equal(serve_cfg_apply_flag(&c, "kv-cache-memory-bytes", "8GiB", &first, err, sizeof err), 0);
    assert_true(c.kv_cache_memory_bytes == 8LL << 30);
    assert_int_equal(serve_cfg_apply_flag(&c, "no-enable-prefix-caching", NULL, &first, err, sizeof err), 0);
    assert_false(c.enable_prefix_caching);
    assert_int_equal(serve_cfg_apply_flag(&c, "enable-prefix-caching", NULL, &first, err, sizeof err), 0);
    assert_true(c.enable_prefix_caching);
    assert_int_equal(serve_cfg_apply_flag(&c, "enable-prefix-caching", "false", &first, err, sizeof err), 0);
    assert_false(c.enable_prefix_caching);
    assert_int_equal(serve_cfg_apply_flag(&c, "allowed-origins", "[\"*\", \"http://x\"]", &first, err, sizeof err), 0);
    assert_int_equal(c.n_allowed_origins, 2);
    assert_int_equal(serve_cfg_apply_flag(&c, "allowed-headers", "a,b , c", &first, err, sizeof err), 0);
    assert_int_equal(c.n_allowed_headers, 3);
    assert_string_equal(c.allowed_headers[1], "b");
    assert_int_equal(serve_cfg_apply_flag(&c, "max-num-batched-tokens", "8K", &first, err, sizeof err), 0);
    assert_int_equal(c.max_num_batched_tokens, 8192);
    /* errors name the flag */
    assert_int_equal(serve_cfg_apply_flag(&c, "max-num-seqs", "8K", &first, err, sizeof err), -1);
    assert_non_null(strstr(err, "--max-num-seqs"));
    assert_int_equal(serve_cfg_apply_flag(&c, "kv-cache-memory-bytes", "lots", &first, err, sizeof err), -1);
    assert_non_null(strstr(err, "--kv-cache-memory-bytes"));
    assert_int_equal(serve_cfg_apply_flag(&c, "allowed-origins", "[1]", &first, err, sizeof err), -1);
    assert_non_null(strstr(err, "--allowed-origins"));
    assert_int_equal(serve_cfg_apply_flag(&c, "no-port", NULL, &first, err, sizeof err), 1);
    assert_int_equal(serve_cfg_apply_flag(&c, "no-enable-prefix-caching", "1", &first, err, sizeof err), -1);
    assert_int_equal(serve_cfg_apply_flag(&c, "port", NULL, &first, err, sizeof err), -1);
    assert_non_null(strstr(err, "needs a value"));
    /* ignored vLLM flags are accepted */
    assert_int_equal(serve_cfg_apply_flag(&c, "disable-log-requests", NULL, &first, err, sizeof err), 0);
    assert_int_equal(serve_cfg_apply_flag(&c, "gpu-memory-utilization", "0.9", &first, err, sizeof err), 0);
    assert_int_equal(serve_cfg_apply_flag(&c, "tensor-parallel-size", "1", &first, err, sizeof err), 0);
    assert_int_equal(serve_cfg_apply_flag(&c, "tensor-parallel-size", "2", &first, err, sizeof err), -1);
    serve_cfg_free(&c);
}

static void test_args(void **state) {
    (void)state;
    serve_cfg c;
    char err[256] = "", path[] = "/tmp/sc_serve_cfg_XXXXXX";
    unsigned act;
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *file = "{\"model\": \"/from-file\", \"port\": 9000, \"api_key\": [\"f1\", \"f2\"], \"max_num_seqs\": 4}";
    assert_int_equal(write(fd, file, strlen(file)), (ssize_t)strlen(file));
    close(fd);
    unsetenv("STRIXCORE_API_KEY");
    unsetenv("VLLM_API_KEY");

    /* flags override the file wherever they stand; --api-key K1 K2 replaces the file's keys */
    serve_cfg_init(&c);
    assert_int_equal(parse(&c, err, sizeof err, &act, "--port=9100", "--config", path, "--api-key", "k1", "k2",
                           "--block-size", "64", "--print-config", NULL),
                     SERVE_CFG_OK);
    assert_int_equal(act, SERVE_ACT_PRINT_CONFIG);
    assert_string_equal(c.model, "/from-file");
    assert_int_equal(c.port, 9100);
    assert_int_equal(c.max_num_seqs, 4);
    assert_int_equal(c.block_size, 64);
    assert_int_equal(c.n_api_keys, 2);
    assert_string_equal(c.api_keys[0], "k1");
    assert_string_equal(c.api_keys[1], "k2");
    serve_cfg_free(&c);

    /* a positional model overrides the file's; repeated --api-key accumulates */
    serve_cfg_init(&c);
    assert_int_equal(parse(&c, err, sizeof err, &act, "/m", "--config", path, "--api-key", "a", "--api-key", "b", NULL),
                     SERVE_CFG_OK);
    assert_string_equal(c.model, "/m");
    assert_int_equal(c.n_api_keys, 2);
    assert_int_equal(act, 0);
    serve_cfg_free(&c);

    /* the environment only when no key was given */
    setenv("STRIXCORE_API_KEY", "envkey", 1);
    serve_cfg_init(&c);
    assert_int_equal(parse(&c, err, sizeof err, &act, "/m", NULL), SERVE_CFG_OK);
    assert_int_equal(c.n_api_keys, 1);
    assert_string_equal(c.api_keys[0], "envkey");
    serve_cfg_free(&c);
    serve_cfg_init(&c);
    assert_int_equal(parse(&c, err, sizeof err, &act, "--config", path, NULL), SERVE_CFG_OK);
    assert_int_equal(c.n_api_keys, 2);
    serve_cfg_free(&c);
    unsetenv("STRIXCORE_API_KEY");
    setenv("VLLM_API_KEY", "vkey", 1);
    serve_cfg_init(&c);
    assert_int_equal(parse(&c, err, sizeof err, &act, "/m", NULL), SERVE_CFG_OK);
    assert_int_equal(c.n_api_keys, 1);
    assert_string_equal(c.api_keys[0], "vkey");
    serve_cfg_free(&c);
    unsetenv("VLLM_API_KEY");

    /* help wins; errors */
    serve_cfg_init(&c);
    assert_int_equal(parse(&c, err, sizeof err, &act, "--bogus", "--help", NULL), SERVE_CFG_OK);
    assert_int_equal(act, SERVE_ACT_HELP);
    serve_cfg_free(&c);
    serve_cfg_init(&c);
    assert_int_equal(parse(&c, err, sizeof err, &act, "--port", "1", NULL), SERVE_CFG_USAGE);
    assert_non_null(strstr(err, "MODEL_DIR"));
    serve_cfg_free(&c);
    serve_cfg_init(&c);
    assert_int_equal(parse(&c, err, sizeof err, &act, "/m", "--port", "--block-size", "16", NULL), SERVE_CFG_USAGE);
    assert_non_null(strstr(err, "--port needs a value"));
    serve_cfg_free(&c);
    serve_cfg_init(&c);
    assert_int_equal(parse(&c, err, sizeof err, &act, "/m", "--max-modle-len", "5", NULL), SERVE_CFG_USAGE);
    assert_non_null(strstr(err, "did you mean --max-model-len"));
    serve_cfg_free(&c);
    serve_cfg_init(&c);
    assert_int_equal(parse(&c, err, sizeof err, &act, "/m", "-x", NULL), SERVE_CFG_USAGE);
    serve_cfg_free(&c);
    serve_cfg_init(&c);
    assert_int_equal(parse(&c, err, sizeof err, &act, "/m", "-tp", "1", "-q", "awq", "--trust-remote-code",
                           "--no-enable-chunked-prefill", NULL),
                     SERVE_CFG_OK);
    serve_cfg_free(&c);
    serve_cfg_init(&c);
    assert_int_equal(parse(&c, err, sizeof err, &act, "/m", "--config", "/nonexistent/deploy.json", NULL),
                     SERVE_CFG_FAIL);
    assert_non_null(strstr(err, "/nonexistent/deploy.json"));
    serve_cfg_free(&c);
    serve_cfg_init(&c);
    assert_int_equal(parse(&c, err, sizeof err, &act, "/m", "--max-num-seqs", "16", "--max-num-batched-tokens", "8",
                           NULL),
                     SERVE_CFG_USAGE);
    serve_cfg_free(&c);
    unlink(path);
}

static void test_output(void **state) {
    (void)state;
    serve_cfg c;
    char err[256] = "";
    int first = 1;
    serve_cfg_init(&c);
    assert_int_equal(serve_cfg_apply_json(&c,
                                          "{\"model\": \"/m\", \"api_key\": [\"secret1\"], \"allowed_origins\": [\"http://a\"],"
                                          " \"allow_credentials\": true, \"kv_cache_memory_bytes\": \"1GiB\"}",
                                          err, sizeof err),
                     0);
    assert_int_equal(serve_cfg_apply_flag(&c, "tool-call-parser", "hermes", &first, err, sizeof err), 0);
    /* the frontend's object: its keys, real API keys, unset values left out */
    char *js = serve_cfg_settings_json(&c);
    assert_non_null(strstr(js, "\"api_keys\":[\"secret1\"]"));
    assert_non_null(strstr(js, "\"allowed_origins\":[\"http://a\"]"));
    assert_non_null(strstr(js, "\"allow_credentials\":true"));
    assert_non_null(strstr(js, "\"tool_call_parser\":\"hermes\""));
    assert_non_null(strstr(js, "\"enable_auto_tool_choice\":true"));
    assert_non_null(strstr(js, "\"enable_prompt_tokens_details\":false"));
    assert_non_null(strstr(js, "\"port\":8000"));
    assert_null(strstr(js, "served_model_name"));
    assert_null(strstr(js, "max_model_len"));
    assert_null(strstr(js, "kv_cache")); /* core-side keys stay in the core */
    free(js);
    /* --print-config: every key, keys redacted, sizes in bytes */
    js = serve_cfg_resolved_json(&c);
    assert_non_null(strstr(js, "\"kv_cache_memory_bytes\": 1073741824"));
    assert_non_null(strstr(js, "\"<redacted>\""));
    assert_null(strstr(js, "secret1"));
    assert_non_null(strstr(js, "\"max_model_len\": null"));
    assert_null(strstr(js, "uvicorn"));
    free(js);
    serve_cfg_free(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scaled),    cmocka_unit_test(test_defaults), cmocka_unit_test(test_json_kinds),
        cmocka_unit_test(test_json_errors), cmocka_unit_test(test_flags),  cmocka_unit_test(test_args),
        cmocka_unit_test(test_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

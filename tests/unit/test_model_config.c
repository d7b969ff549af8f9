/*
 * tests/unit/test_model_config.c - config.json / generation_config.json:
 * real Qwen3 dense and MoE configs (as released, transformers 4.5x dialect),
 * the transformers 5.x dialect, and every refusal with its code and message.
 *
 * Variants are made by patching a base config with jansson: a patch object's
 * keys replace the base's, and the string "DEL" removes a key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "internal.h"
#include "strixcore/model_config.h"

/* Qwen/Qwen3-0.6B config.json as released. */
static const char *QWEN3_0_6B =
    "{\n"
    "  \"architectures\": [\"Qwen3ForCausalLM\"],\n"
    "  \"attention_bias\": false,\n"
    "  \"attention_dropout\": 0.0,\n"
    "  \"bos_token_id\": 151643,\n"
    "  \"eos_token_id\": 151645,\n"
    "  \"head_dim\": 128,\n"
    "  \"hidden_act\": \"silu\",\n"
    "  \"hidden_size\": 1024,\n"
    "  \"initializer_range\": 0.02,\n"
    "  \"intermediate_size\": 3072,\n"
    "  \"max_position_embeddings\": 40960,\n"
    "  \"max_window_layers\": 28,\n"
    "  \"model_type\": \"qwen3\",\n"
    "  \"num_attention_heads\": 16,\n"
    "  \"num_hidden_layers\": 28,\n"
    "  \"num_key_value_heads\": 8,\n"
    "  \"rms_norm_eps\": 1e-06,\n"
    "  \"rope_scaling\": null,\n"
    "  \"rope_theta\": 1000000,\n"
    "  \"sliding_window\": null,\n"
    "  \"tie_word_embeddings\": true,\n"
    "  \"torch_dtype\": \"bfloat16\",\n"
    "  \"transformers_version\": \"4.51.0\",\n"
    "  \"use_cache\": true,\n"
    "  \"use_sliding_window\": false,\n"
    "  \"vocab_size\": 151936\n"
    "}\n";

/* Qwen/Qwen3-30B-A3B as published. */
static const char *QWEN3_30B_A3B =
    "{\"architectures\": [\"Qwen3MoeForCausalLM\"], \"attention_bias\": false, \"attention_dropout\": 0.0,"
    " \"bos_token_id\": 151643, \"decoder_sparse_step\": 1, \"eos_token_id\": 151645, \"head_dim\": 128,"
    " \"hidden_act\": \"silu\", \"hidden_size\": 2048, \"initializer_range\": 0.02, \"intermediate_size\": 6144,"
    " \"max_position_embeddings\": 40960, \"max_window_layers\": 48, \"mlp_only_layers\": [],"
    " \"model_type\": \"qwen3_moe\", \"moe_intermediate_size\": 768, \"norm_topk_prob\": true,"
    " \"num_attention_heads\": 32, \"num_experts\": 128, \"num_experts_per_tok\": 8, \"num_hidden_layers\": 48,"
    " \"num_key_value_heads\": 4, \"output_router_logits\": false, \"rms_norm_eps\": 1e-06, \"rope_scaling\": null,"
    " \"rope_theta\": 1000000.0, \"router_aux_loss_coef\": 0.001, \"shared_expert_intermediate_size\": 0,"
    " \"sliding_window\": null, \"tie_word_embeddings\": false, \"torch_dtype\": \"bfloat16\","
    " \"transformers_version\": \"4.51.0\", \"use_cache\": true, \"use_sliding_window\": false,"
    " \"vocab_size\": 151936}";

/* Qwen/Qwen3-0.6B generation_config.json as released. */
static const char *QWEN3_GEN = "{\n  \"bos_token_id\": 151643,\n  \"do_sample\": true,\n"
                               "  \"eos_token_id\": [151645, 151643],\n  \"pad_token_id\": 151643,\n"
                               "  \"temperature\": 0.6,\n  \"top_k\": 20,\n  \"top_p\": 0.95,\n"
                               "  \"transformers_version\": \"4.51.0\"\n}\n";

static char g_dir[256];

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static int setup(void **state) {
    snprintf(g_dir, sizeof(g_dir), "%s/sc_mc_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state) { return nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static void write_file(const char *name, const char *text) {
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", g_dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void remove_file(const char *name) {
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", g_dir, name);
    unlink(p);
}

/* base with patch applied, as a malloc'd JSON string. */
static char *patched(const char *base, const char *patch) {
    json_error_t je;
    json_t *b = json_loads(base, 0, &je), *p = json_loads(patch, 0, &je);
    if (!b || !p) fail_msg("bad test JSON: %s", je.text);
    const char *k;
    json_t *v;
    json_object_foreach(p, k, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), "DEL") == 0)
            json_object_del(b, k);
        else
            json_object_set(b, k, v);
    }
    char *s = json_dumps(b, 0);
    json_decref(b), json_decref(p);
    return s;
}

static void parse_ok(const char *base, const char *patch, sc_model_config *cfg) {
    char *s = patched(base, patch);
    char err[512] = "untouched";
    int rc = sc_model_config_parse(s, strlen(s), cfg, err, sizeof(err));
    if (rc != SC_OK) fail_msg("parse failed (%s): %s\n%s", sc_strerror(rc), err, patch);
    assert_string_equal(err, "");
    free(s);
}

static void check_err(int rc, const char *err, int code, const char *msg, const char *what) {
    if (getenv("SC_TEST_VERBOSE")) printf("  %s: %s\n", sc_strerror(rc), err);
    if (rc != code) fail_msg("%s: expected %s, got %s: %s", what, sc_strerror(code), sc_strerror(rc), err);
    if (!strstr(err, msg)) fail_msg("%s: error \"%s\" does not contain \"%s\"", what, err, msg);
}

static void parse_bad(const char *base, const char *patch, int code, const char *msg) {
    sc_model_config cfg;
    char *s = patched(base, patch);
    char err[512] = "";
    int rc = sc_model_config_parse(s, strlen(s), &cfg, err, sizeof(err));
    check_err(rc, err, code, msg, patch);
    free(s);
}

/* ------------------------------------------------------------------------ */

static void test_qwen3_dense(void **state) {
    sc_model_config c;
    parse_ok(QWEN3_0_6B, "{}", &c);
    assert_int_equal(c.arch, SC_ARCH_QWEN3);
    assert_string_equal(c.arch_name, "Qwen3ForCausalLM");
    assert_int_equal(c.vocab_size, 151936);
    assert_int_equal(c.hidden_size, 1024);
    assert_int_equal(c.intermediate_size, 3072);
    assert_int_equal(c.n_layers, 28);
    assert_int_equal(c.n_heads, 16);
    assert_int_equal(c.n_kv_heads, 8);
    assert_int_equal(c.head_dim, 128); /* != hidden / heads = 64 */
    assert_true(c.rms_norm_eps == 1e-6);
    assert_true(c.rope_theta == 1e6);
    assert_true(c.partial_rotary_factor == 1.0);
    assert_int_equal(c.max_position_embeddings, 40960);
    assert_true(c.tie_word_embeddings);
    assert_false(c.attention_bias);
    assert_string_equal(c.torch_dtype, "bfloat16");
    assert_int_equal(c.n_experts, 0);
    assert_int_equal(c.bos_token_id, 151643);
    assert_int_equal(c.eos_token_id, 151645);
    for (int L = 0; L < 28; L++) assert_false(sc_model_config_layer_is_moe(&c, L));

    /* defaults for optional keys */
    parse_ok(QWEN3_0_6B,
             "{\"head_dim\": \"DEL\", \"num_key_value_heads\": \"DEL\", \"rope_theta\": \"DEL\","
             " \"tie_word_embeddings\": \"DEL\", \"torch_dtype\": \"DEL\", \"bos_token_id\": null,"
             " \"eos_token_id\": \"DEL\", \"attention_bias\": \"DEL\", \"rope_scaling\": \"DEL\"}",
             &c);
    assert_int_equal(c.head_dim, 64);
    assert_int_equal(c.n_kv_heads, 16);
    assert_true(c.rope_theta == 10000.0);
    assert_false(c.tie_word_embeddings);
    assert_string_equal(c.torch_dtype, "");
    assert_int_equal(c.bos_token_id, -1);
    assert_int_equal(c.eos_token_id, -1);

    /* eos as a list: the first one; rope_scaling of type default; partial rotary */
    parse_ok(QWEN3_0_6B,
             "{\"eos_token_id\": [151645, 151643], \"rope_scaling\": {\"rope_type\": \"default\"},"
             " \"partial_rotary_factor\": 0.5, \"torch_dtype\": \"float16\"}",
             &c);
    assert_int_equal(c.eos_token_id, 151645);
    assert_true(c.partial_rotary_factor == 0.5);
    assert_string_equal(c.torch_dtype, "float16");
    parse_ok(QWEN3_0_6B, "{\"eos_token_id\": []}", &c);
    assert_int_equal(c.eos_token_id, -1);
}

static void test_qwen3_moe(void **state) {
    sc_model_config c;
    parse_ok(QWEN3_30B_A3B, "{}", &c);
    assert_int_equal(c.arch, SC_ARCH_QWEN3_MOE);
    assert_string_equal(c.arch_name, "Qwen3MoeForCausalLM");
    assert_int_equal(c.hidden_size, 2048);
    assert_int_equal(c.n_layers, 48);
    assert_int_equal(c.n_heads, 32);
    assert_int_equal(c.n_kv_heads, 4);
    assert_int_equal(c.head_dim, 128);
    assert_int_equal(c.n_experts, 128);
    assert_int_equal(c.n_experts_used, 8);
    assert_int_equal(c.moe_intermediate_size, 768);
    assert_true(c.norm_topk_prob);
    assert_int_equal(c.decoder_sparse_step, 1);
    assert_false(c.tie_word_embeddings);
    assert_true(c.rope_theta == 1e6);
    for (int L = 0; L < 48; L++) assert_true(sc_model_config_layer_is_moe(&c, L));
    assert_false(sc_model_config_layer_is_moe(&c, 48));
    assert_false(sc_model_config_layer_is_moe(&c, -1));
    assert_false(sc_model_config_layer_is_moe(NULL, 0));

    /* mlp_only_layers and decoder_sparse_step */
    parse_ok(QWEN3_30B_A3B, "{\"mlp_only_layers\": [0, 47, 0], \"decoder_sparse_step\": 2}", &c);
    assert_true(c.mlp_only[0] && c.mlp_only[47] && !c.mlp_only[1]);
    assert_false(sc_model_config_layer_is_moe(&c, 0));
    assert_true(sc_model_config_layer_is_moe(&c, 1));
    assert_false(sc_model_config_layer_is_moe(&c, 2));
    assert_true(sc_model_config_layer_is_moe(&c, 45));
    assert_false(sc_model_config_layer_is_moe(&c, 47)); /* (47+1) % 2 == 0 but mlp-only */

    /* transformers' default norm_topk_prob is false */
    parse_ok(QWEN3_30B_A3B, "{\"norm_topk_prob\": \"DEL\"}", &c);
    assert_false(c.norm_topk_prob);
    /* every layer MoE: intermediate_size is not needed */
    parse_ok(QWEN3_30B_A3B, "{\"intermediate_size\": \"DEL\"}", &c);
    assert_int_equal(c.intermediate_size, 0);
}

/* transformers 5.x writes another dialect (num_local_experts, rope_parameters, dtype). */
static void test_v5_dialect(void **state) {
    sc_model_config c;
    parse_ok(QWEN3_30B_A3B,
             "{\"num_experts\": \"DEL\", \"num_local_experts\": 64, \"rope_theta\": \"DEL\", \"rope_scaling\": \"DEL\","
             " \"rope_parameters\": {\"rope_theta\": 10000000.0, \"rope_type\": \"default\"},"
             " \"torch_dtype\": \"DEL\", \"dtype\": \"float32\", \"architectures\": \"DEL\","
             " \"layer_types\": [\"full_attention\", \"full_attention\"]}",
             &c);
    assert_int_equal(c.arch, SC_ARCH_QWEN3_MOE);
    assert_string_equal(c.arch_name, "qwen3_moe");
    assert_int_equal(c.n_experts, 64);
    assert_true(c.rope_theta == 1e7);
    assert_string_equal(c.torch_dtype, "float32");
    parse_ok(QWEN3_0_6B, "{\"architectures\": null, \"rope_parameters\": {\"rope_theta\": 5e5, \"partial_rotary_factor\": 0.25}}",
             &c);
    assert_int_equal(c.arch, SC_ARCH_QWEN3);
    assert_true(c.rope_theta == 5e5);
    assert_true(c.partial_rotary_factor == 0.25);
}

static void test_unsupported(void **state) {
    parse_bad(QWEN3_0_6B, "{\"architectures\": [\"LlamaForCausalLM\"]}", SC_ENOTSUP,
              "unsupported architecture \"LlamaForCausalLM\"; supported: Qwen3ForCausalLM, Qwen3MoeForCausalLM");
    parse_bad(QWEN3_0_6B, "{\"architectures\": \"DEL\", \"model_type\": \"llama\"}", SC_ENOTSUP,
              "unsupported model_type \"llama\"; supported: Qwen3ForCausalLM");
    parse_bad(QWEN3_0_6B, "{\"architectures\": \"DEL\", \"model_type\": \"DEL\"}", SC_EFORMAT, "architectures");
    parse_bad(QWEN3_0_6B, "{\"architectures\": []}", SC_EFORMAT, "architectures");
    parse_bad(QWEN3_0_6B, "{\"architectures\": \"Qwen3ForCausalLM\"}", SC_EFORMAT, "architectures");
    parse_bad(QWEN3_0_6B, "{\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4.0}}", SC_ENOTSUP, "\"yarn\"");
    parse_bad(QWEN3_0_6B, "{\"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}}", SC_ENOTSUP, "\"linear\"");
    parse_bad(QWEN3_0_6B, "{\"rope_parameters\": {\"rope_type\": \"dynamic\"}}", SC_ENOTSUP, "\"dynamic\"");
    parse_bad(QWEN3_0_6B, "{\"rope_scaling\": 2}", SC_EFORMAT, "rope_scaling");
    parse_bad(QWEN3_0_6B, "{\"hidden_act\": \"gelu\"}", SC_ENOTSUP, "gelu");
    parse_bad(QWEN3_0_6B, "{\"use_sliding_window\": true}", SC_ENOTSUP, "use_sliding_window");
    parse_bad(QWEN3_0_6B, "{\"layer_types\": [\"sliding_attention\"]}", SC_ENOTSUP, "layer_types[0]");
}

static void test_bad_values(void **state) {
    /* floats where integers are expected, and other wrong types */
    parse_bad(QWEN3_0_6B, "{\"hidden_size\": 1024.0}", SC_EFORMAT, "\"hidden_size\" must be an integer, not a float");
    parse_bad(QWEN3_0_6B, "{\"num_hidden_layers\": \"28\"}", SC_EFORMAT, "num_hidden_layers");
    parse_bad(QWEN3_0_6B, "{\"head_dim\": 128.5}", SC_EFORMAT, "head_dim");
    parse_bad(QWEN3_0_6B, "{\"tie_word_embeddings\": 1}", SC_EFORMAT, "tie_word_embeddings");
    parse_bad(QWEN3_0_6B, "{\"rms_norm_eps\": \"1e-6\"}", SC_EFORMAT, "rms_norm_eps");
    parse_bad(QWEN3_0_6B, "{\"rope_theta\": [1]}", SC_EFORMAT, "rope_theta");
    parse_bad(QWEN3_0_6B, "{\"torch_dtype\": 16}", SC_EFORMAT, "torch_dtype");
    parse_bad(QWEN3_0_6B, "{\"bos_token_id\": 1.0}", SC_EFORMAT, "bos_token_id");
    parse_bad(QWEN3_0_6B, "{\"eos_token_id\": [151645, \"x\"]}", SC_EFORMAT, "eos_token_id");
    parse_bad(QWEN3_0_6B, "{\"eos_token_id\": -5}", SC_ERANGE, "eos_token_id");
    parse_bad(QWEN3_0_6B, "{\"eos_token_id\": 4294967296}", SC_ERANGE, "eos_token_id");
    /* missing required keys */
    parse_bad(QWEN3_0_6B, "{\"vocab_size\": \"DEL\"}", SC_EFORMAT, "missing \"vocab_size\"");
    parse_bad(QWEN3_0_6B, "{\"hidden_size\": null}", SC_EFORMAT, "missing \"hidden_size\"");
    parse_bad(QWEN3_0_6B, "{\"intermediate_size\": \"DEL\"}", SC_EFORMAT, "intermediate_size");
    parse_bad(QWEN3_0_6B, "{\"rms_norm_eps\": \"DEL\"}", SC_EFORMAT, "missing \"rms_norm_eps\"");
    parse_bad(QWEN3_0_6B, "{\"max_position_embeddings\": \"DEL\"}", SC_EFORMAT, "max_position_embeddings");
    /* sizes */
    parse_bad(QWEN3_0_6B, "{\"hidden_size\": 0}", SC_ERANGE, "hidden_size");
    parse_bad(QWEN3_0_6B, "{\"vocab_size\": -1}", SC_ERANGE, "vocab_size");
    parse_bad(QWEN3_0_6B, "{\"vocab_size\": 9999999999}", SC_ERANGE, "vocab_size");
    parse_bad(QWEN3_0_6B, "{\"num_hidden_layers\": 513}", SC_ERANGE, "num_hidden_layers");
    parse_bad(QWEN3_0_6B, "{\"num_key_value_heads\": 3}", SC_EFORMAT, "not a multiple of num_key_value_heads");
    parse_bad(QWEN3_0_6B, "{\"num_key_value_heads\": 32}", SC_ERANGE, "num_key_value_heads");
    parse_bad(QWEN3_0_6B, "{\"num_attention_heads\": 0}", SC_ERANGE, "num_attention_heads");
    parse_bad(QWEN3_0_6B, "{\"head_dim\": \"DEL\", \"num_attention_heads\": 24, \"num_key_value_heads\": 8}", SC_EFORMAT,
              "head_dim");
    parse_bad(QWEN3_0_6B, "{\"head_dim\": 127}", SC_EFORMAT, "rotary");
    parse_bad(QWEN3_0_6B, "{\"rms_norm_eps\": 0}", SC_ERANGE, "rms_norm_eps");
    parse_bad(QWEN3_0_6B, "{\"rope_theta\": -1}", SC_ERANGE, "rope_theta");
    parse_bad(QWEN3_0_6B, "{\"partial_rotary_factor\": 1.5}", SC_ERANGE, "partial_rotary_factor");
    parse_bad(QWEN3_0_6B, "{\"partial_rotary_factor\": 0.001}", SC_EFORMAT, "rotary");
    /* MoE */
    parse_bad(QWEN3_30B_A3B, "{\"num_experts_per_tok\": 129}", SC_ERANGE, "num_experts_per_tok");
    parse_bad(QWEN3_30B_A3B, "{\"num_experts_per_tok\": 0}", SC_ERANGE, "num_experts_per_tok");
    parse_bad(QWEN3_30B_A3B, "{\"num_experts\": 0}", SC_ERANGE, "num_experts");
    parse_bad(QWEN3_30B_A3B, "{\"num_experts\": \"DEL\"}", SC_EFORMAT, "missing \"num_local_experts\"");
    parse_bad(QWEN3_30B_A3B, "{\"num_experts\": 128.0}", SC_EFORMAT, "num_experts");
    parse_bad(QWEN3_30B_A3B, "{\"moe_intermediate_size\": \"DEL\"}", SC_EFORMAT, "moe_intermediate_size");
    parse_bad(QWEN3_30B_A3B, "{\"norm_topk_prob\": \"yes\"}", SC_EFORMAT, "norm_topk_prob");
    parse_bad(QWEN3_30B_A3B, "{\"decoder_sparse_step\": 0}", SC_ERANGE, "decoder_sparse_step");
    parse_bad(QWEN3_30B_A3B, "{\"mlp_only_layers\": [48]}", SC_ERANGE, "mlp_only_layers[0] = 48");
    parse_bad(QWEN3_30B_A3B, "{\"mlp_only_layers\": [1, -1]}", SC_ERANGE, "mlp_only_layers[1]");
    parse_bad(QWEN3_30B_A3B, "{\"mlp_only_layers\": [1.0]}", SC_EFORMAT, "mlp_only_layers[0]");
    parse_bad(QWEN3_30B_A3B, "{\"mlp_only_layers\": 3}", SC_EFORMAT, "mlp_only_layers");
    /* a dense layer needs intermediate_size */
    parse_bad(QWEN3_30B_A3B, "{\"intermediate_size\": \"DEL\", \"mlp_only_layers\": [3]}", SC_EFORMAT,
              "intermediate_size");
}

static void test_bad_json(void **state) {
    sc_model_config c;
    char err[512];
    const char *bad = "{\n  \"vocab_size\": 1,\n  \"hidden_size\": ,\n}";
    check_err(sc_model_config_parse(bad, strlen(bad), &c, err, sizeof(err)), err, SC_EFORMAT, "config.json: invalid JSON at line 3",
              "bad json");
    check_err(sc_model_config_parse("[1]", 3, &c, err, sizeof(err)), err, SC_EFORMAT, "not an object", "array");
    check_err(sc_model_config_parse("", 0, &c, err, sizeof(err)), err, SC_EFORMAT, "invalid JSON", "empty");
    /* length is honoured: the text after len is not read */
    check_err(sc_model_config_parse(QWEN3_0_6B, 10, &c, err, sizeof(err)), err, SC_EFORMAT, "invalid JSON", "short");
    assert_int_equal(sc_model_config_parse(NULL, 0, &c, err, sizeof(err)), SC_EINVAL);
    assert_int_equal(sc_model_config_parse("{}", 2, NULL, err, sizeof(err)), SC_EINVAL);
    assert_int_equal(sc_model_config_parse("{}", 2, &c, NULL, 0), SC_EFORMAT); /* no err buffer is fine */
}

static void test_load_files(void **state) {
    sc_model_config c;
    sc_generation_config g;
    char err[512];

    check_err(sc_model_config_load(g_dir, &c, err, sizeof(err)), err, SC_ENOENT, "config.json", "absent");
    write_file("config.json", "{\n  \"architectures\": [\"Qwen3ForCausalLM\"]\n  \"x\": 1}");
    check_err(sc_model_config_load(g_dir, &c, err, sizeof(err)), err, SC_EFORMAT, "/config.json: invalid JSON at line 3 column",
              "bad file");
    assert_non_null(strstr(err, g_dir));
    write_file("config.json", QWEN3_0_6B);
    assert_int_equal(sc_model_config_load(g_dir, &c, err, sizeof(err)), SC_OK);
    assert_string_equal(err, "");
    assert_int_equal(c.n_layers, 28);

    /* generation_config.json absent: defaults, eos from config.json */
    remove_file("generation_config.json");
    assert_int_equal(sc_generation_config_load(g_dir, &c, &g, err, sizeof(err)), SC_OK);
    assert_int_equal(g.n_eos, 1);
    assert_int_equal(g.eos_ids[0], 151645);
    assert_int_equal(g.bos_token_id, 151643);
    assert_false(g.do_sample);
    assert_true(g.temperature == 1.0f && g.top_k == 0 && g.top_p == 1.0f && g.min_p == 0.0f &&
                g.repetition_penalty == 1.0f);
    assert_int_equal(sc_generation_config_load(g_dir, NULL, &g, err, sizeof(err)), SC_OK);
    assert_int_equal(g.n_eos, 0);
    assert_int_equal(g.bos_token_id, -1);

    /* the released Qwen3 one: eos merged and deduplicated */
    write_file("generation_config.json", QWEN3_GEN);
    assert_int_equal(sc_generation_config_load(g_dir, &c, &g, err, sizeof(err)), SC_OK);
    assert_int_equal(g.n_eos, 2);
    assert_int_equal(g.eos_ids[0], 151645);
    assert_int_equal(g.eos_ids[1], 151643);
    assert_true(g.do_sample);
    assert_true(g.temperature == 0.6f && g.top_k == 20 && g.top_p == 0.95f);
    assert_true(g.min_p == 0.0f && g.repetition_penalty == 1.0f);

    write_file("generation_config.json",
               "{\"eos_token_id\": 7, \"bos_token_id\": 3, \"min_p\": 0.05, \"repetition_penalty\": 1.1,"
               " \"temperature\": 0, \"top_p\": null}");
    assert_int_equal(sc_generation_config_load(g_dir, &c, &g, err, sizeof(err)), SC_OK);
    assert_int_equal(g.n_eos, 2);
    assert_int_equal(g.eos_ids[0], 7);
    assert_int_equal(g.eos_ids[1], 151645);
    assert_int_equal(g.bos_token_id, 3);
    assert_true(g.min_p == 0.05f && g.repetition_penalty == 1.1f && g.temperature == 0.0f && g.top_p == 1.0f);

    static const struct {
        const char *text;
        int code;
        const char *msg;
    } bad[] = {
        {"{\"temperature\": 0.6,\n \"top_k\": 20,,}", SC_EFORMAT, "generation_config.json: invalid JSON at line 2 column"},
        {"[]", SC_EFORMAT, "not an object"},
        {"{\"temperature\": \"hot\"}", SC_EFORMAT, "temperature"},
        {"{\"temperature\": -1}", SC_ERANGE, "temperature"},
        {"{\"top_k\": 2.5}", SC_EFORMAT, "top_k"},
        {"{\"top_k\": -1}", SC_ERANGE, "top_k"},
        {"{\"top_p\": 1.5}", SC_ERANGE, "top_p"},
        {"{\"min_p\": -0.1}", SC_ERANGE, "min_p"},
        {"{\"repetition_penalty\": 0}", SC_ERANGE, "repetition_penalty"},
        {"{\"do_sample\": \"true\"}", SC_EFORMAT, "do_sample"},
        {"{\"eos_token_id\": {\"a\": 1}}", SC_EFORMAT, "eos_token_id"},
        {"{\"eos_token_id\": [1,2,3,4,5,6,7,8]}", SC_ERANGE, "eos_token_id"}, /* 9 with config's */
        {"{\"bos_token_id\": \"<s>\"}", SC_EFORMAT, "bos_token_id"},
    };
    for (size_t i = 0; i < SC_ARRAY_LEN(bad); i++) {
        write_file("generation_config.json", bad[i].text);
        check_err(sc_generation_config_load(g_dir, &c, &g, err, sizeof(err)), err, bad[i].code, bad[i].msg, bad[i].text);
        assert_non_null(strstr(err, "generation_config.json"));
    }
    /* eight distinct ids fit */
    write_file("generation_config.json", "{\"eos_token_id\": [1,2,3,4,5,6,7,151645]}");
    assert_int_equal(sc_generation_config_load(g_dir, &c, &g, err, sizeof(err)), SC_OK);
    assert_int_equal(g.n_eos, 8);
    assert_int_equal(sc_generation_config_load(NULL, &c, &g, err, sizeof(err)), SC_EINVAL);
    assert_int_equal(sc_model_config_load(NULL, &c, err, sizeof(err)), SC_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qwen3_dense), cmocka_unit_test(test_qwen3_moe),  cmocka_unit_test(test_v5_dialect),
        cmocka_unit_test(test_unsupported), cmocka_unit_test(test_bad_values), cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_load_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

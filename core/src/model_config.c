/*
 * core/src/model_config.c - config.json and generation_config.json of a
 * Hugging Face checkpoint (Qwen3 / Qwen3-MoE), parsed and validated.
 *
 * Both transformers dialects are accepted: 4.5x
 * writes num_experts, top-level rope_theta / rope_scaling and torch_dtype;
 * 5.x writes num_local_experts, rope_parameters {rope_theta, rope_type} and
 * dtype. Numbers must have the JSON type the model code needs: an integer
 * size written as 2048.0 is refused rather than truncated, because a config
 * that says that was not written by transformers and may mean anything.
 *
 * Duplicate keys are allowed and the last one wins, which is what Python's
 * json.load (and so transformers) does with the same file.
 *
 * Everything the graph builders would otherwise trip over is checked here
 * (head counts, layer counts, expert counts), so model code can trust cfg.
 * Features the graphs do not implement (RoPE scaling, sliding windows,
 * activations other than SiLU) are SC_ENOTSUP, never silently ignored.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "internal.h"
#include "strixcore/model_config.h"

#define MC_MAX_FILE ((size_t)16 << 20) /* real config.json files are ~1-2 KB */
#define MC_MAX_SIZE ((int64_t)INT32_MAX) /* keeps every size product in int64 */

static const struct {
    const char *arch_name, *model_type;
    sc_arch arch;
} g_archs[] = {
    {"Qwen3ForCausalLM", "qwen3", SC_ARCH_QWEN3},
    {"Qwen3MoeForCausalLM", "qwen3_moe", SC_ARCH_QWEN3_MOE},
    {"Qwen3NextForCausalLM", "qwen3_next", SC_ARCH_QWEN3_NEXT},
};

static const char *type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a float";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* What a parser of one file needs to report errors: "file: message". */
typedef struct mc_ctx {
    const char *file;
    char *err;
    size_t err_len;
} mc_ctx;

#define MC_FAIL(c, code, fmt, ...) sc__errf((c)->err, (c)->err_len, code, "%s: " fmt, (c)->file, __VA_ARGS__)

/* Absent and null both mean "not given" (transformers writes null for
 * unset optional ids). */
static json_t *get(json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

static int get_int(const mc_ctx *c, json_t *obj, const char *key, bool required, int64_t def, int64_t lo, int64_t hi,
                   int64_t *out) {
    json_t *v = get(obj, key);
    if (!v) {
        if (required) return MC_FAIL(c, SC_EFORMAT, "missing \"%s\"", key);
        *out = def;
        return SC_OK;
    }
    if (!json_is_integer(v)) return MC_FAIL(c, SC_EFORMAT, "\"%s\" must be an integer, not %s", key, type_name(v));
    int64_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return MC_FAIL(c, SC_ERANGE, "\"%s\" = %lld is out of range [%lld, %lld]", key, (long long)x, (long long)lo,
                       (long long)hi);
    *out = x;
    return SC_OK;
}

/* A real given as a JSON number (an integer such as `"rope_theta": 1000000`
 * is fine). lo_open: lo itself is excluded. */
static int get_num(const mc_ctx *c, json_t *obj, const char *key, bool required, double def, double lo, bool lo_open,
                   double hi, double *out) {
    json_t *v = get(obj, key);
    if (!v) {
        if (required) return MC_FAIL(c, SC_EFORMAT, "missing \"%s\"", key);
        *out = def;
        return SC_OK;
    }
    if (!json_is_number(v)) return MC_FAIL(c, SC_EFORMAT, "\"%s\" must be a number, not %s", key, type_name(v));
    double x = json_number_value(v);
    if (!isfinite(x) || x < lo || (lo_open && x == lo) || x > hi)
        return MC_FAIL(c, SC_ERANGE, "\"%s\" = %g is out of range %s%g, %g]", key, x, lo_open ? "(" : "[", lo, hi);
    *out = x;
    return SC_OK;
}

static int get_bool(const mc_ctx *c, json_t *obj, const char *key, bool def, bool *out) {
    json_t *v = get(obj, key);
    if (!v) {
        *out = def;
        return SC_OK;
    }
    if (!json_is_boolean(v)) return MC_FAIL(c, SC_EFORMAT, "\"%s\" must be true or false, not %s", key, type_name(v));
    *out = json_is_true(v);
    return SC_OK;
}

/* A token id: an integer or null. */
static int token_id(const mc_ctx *c, const char *key, json_t *v, int32_t *out) {
    if (!json_is_integer(v)) return MC_FAIL(c, SC_EFORMAT, "\"%s\" must be an integer token id, not %s", key, type_name(v));
    json_int_t x = json_integer_value(v);
    if (x < 0 || x > INT32_MAX) return MC_FAIL(c, SC_ERANGE, "\"%s\" = %lld is not a token id", key, (long long)x);
    *out = (int32_t)x;
    return SC_OK;
}

/* eos_token_id: an int, a list of ints, or null. Calls add() for each. */
typedef int (*id_sink)(const mc_ctx *c, int32_t id, void *user);

static int each_eos(const mc_ctx *c, json_t *obj, id_sink add, void *user) {
    json_t *v = get(obj, "eos_token_id");
    int32_t id;
    int rc;
    if (!v) return SC_OK;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            if ((rc = token_id(c, "eos_token_id", json_array_get(v, i), &id)) != SC_OK) return rc;
            if ((rc = add(c, id, user)) != SC_OK) return rc;
        }
        return SC_OK;
    }
    if ((rc = token_id(c, "eos_token_id", v, &id)) != SC_OK) return rc;
    return add(c, id, user);
}

static int first_eos(const mc_ctx *c, int32_t id, void *user) {
    int32_t *out = user;
    if (*out < 0) *out = id;
    return SC_OK;
}

static json_t *parse_json(const mc_ctx *c, const char *text, size_t len, int *rc) {
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    if (!root) {
        *rc = MC_FAIL(c, SC_EFORMAT, "invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        *rc = MC_FAIL(c, SC_EFORMAT, "top level is %s, not an object", type_name(root));
        json_decref(root);
        return NULL;
    }
    *rc = SC_OK;
    return root;
}

/* ------------------------------------------------------------------------ */
/* config.json                                                               */
/* ------------------------------------------------------------------------ */
static int parse_arch(const mc_ctx *c, json_t *root, sc_model_config *cfg) {
    json_t *archs = get(root, "architectures");
    const char *name = NULL;
    bool by_type = false;

    if (archs) {
        if (!json_is_array(archs) || json_array_size(archs) == 0 || !json_is_string(json_array_get(archs, 0)))
            return MC_FAIL(c, SC_EFORMAT, "%s", "\"architectures\" must be a non-empty list of strings");
        name = json_string_value(json_array_get(archs, 0));
    } else {
        /* A bare config object saved without a model (no architectures list). */
        json_t *mt = get(root, "model_type");
        if (!json_is_string(mt))
            return MC_FAIL(c, SC_EFORMAT, "%s", "neither \"architectures\" nor \"model_type\" is given");
        name = json_string_value(mt);
        by_type = true;
    }
    snprintf(cfg->arch_name, sizeof(cfg->arch_name), "%s", name);
    for (size_t i = 0; i < SC_ARRAY_LEN(g_archs); i++) {
        if (strcmp(name, by_type ? g_archs[i].model_type : g_archs[i].arch_name) == 0) {
            cfg->arch = g_archs[i].arch;
            return SC_OK;
        }
    }
    return MC_FAIL(c, SC_ENOTSUP, "unsupported %s \"%s\"; supported: Qwen3ForCausalLM, Qwen3MoeForCausalLM, "
                   "Qwen3NextForCausalLM",
                   by_type ? "model_type" : "architecture", name);
}

/* A rope_scaling / rope_parameters object: only plain RoPE is implemented. */
static int rope_object(const mc_ctx *c, json_t *root, const char *key, json_t **out) {
    json_t *v = get(root, key);
    *out = NULL;
    if (!v) return SC_OK;
    if (!json_is_object(v)) return MC_FAIL(c, SC_EFORMAT, "\"%s\" must be an object or null, not %s", key, type_name(v));
    json_t *type = get(v, "rope_type");
    if (!type) type = get(v, "type");
    if (type && !json_is_string(type)) return MC_FAIL(c, SC_EFORMAT, "\"%s\" type must be a string", key);
    if (type && strcmp(json_string_value(type), "default") != 0)
        return MC_FAIL(c, SC_ENOTSUP, "%s type \"%s\" is not supported (only \"default\")", key,
                       json_string_value(type));
    *out = v;
    return SC_OK;
}

static int parse_rope(const mc_ctx *c, json_t *root, sc_model_config *cfg) {
    json_t *params, *scaling;
    int rc;
    if ((rc = rope_object(c, root, "rope_parameters", &params)) != SC_OK) return rc;
    if ((rc = rope_object(c, root, "rope_scaling", &scaling)) != SC_OK) return rc;
    /* 5.x's rope_parameters is authoritative when it has the key (its
     * standardisation reads it first); else the 4.5x top level. */
    json_t *src = params && get(params, "rope_theta") ? params
                  : get(root, "rope_theta") || !scaling || !get(scaling, "rope_theta") ? root : scaling;
    if ((rc = get_num(c, src, "rope_theta", false, 10000.0, 0, true, 1e300, &cfg->rope_theta)) != SC_OK) return rc;
    src = params && get(params, "partial_rotary_factor") ? params : root;
    return get_num(c, src, "partial_rotary_factor", false, 1.0, 0, true, 1.0, &cfg->partial_rotary_factor);
}

static int parse_dtype(const mc_ctx *c, json_t *root, sc_model_config *cfg) {
    json_t *v = get(root, "torch_dtype");
    if (!v) v = get(root, "dtype");
    cfg->torch_dtype[0] = '\0';
    if (!v) return SC_OK;
    if (!json_is_string(v)) return MC_FAIL(c, SC_EFORMAT, "\"torch_dtype\" must be a string, not %s", type_name(v));
    const char *s = json_string_value(v);
    if (strncmp(s, "torch.", 6) == 0) s += 6; /* str(torch.bfloat16) in hand-made configs */
    if (strcmp(s, "bfloat16") == 0 || strcmp(s, "float16") == 0 || strcmp(s, "float32") == 0)
        snprintf(cfg->torch_dtype, sizeof(cfg->torch_dtype), "%s", s);
    else /* only a hint: every tensor carries its own dtype */
        sc_log(SC_LOG_WARN, "config", "%s: ignoring unknown torch_dtype \"%s\"", c->file, s);
    return SC_OK;
}

/* Keys whose other values would change the maths of the forward pass.
 * layer_types is checked here for the architectures without linear layers
 * (Qwen3-Next reads it in parse_next). */
static int check_unsupported(const mc_ctx *c, json_t *root, sc_arch arch) {
    json_t *act = get(root, "hidden_act");
    if (act && (!json_is_string(act) || strcmp(json_string_value(act), "silu") != 0))
        return MC_FAIL(c, SC_ENOTSUP, "hidden_act %s%s%s is not supported (only \"silu\")", json_is_string(act) ? "\"" : "",
                       json_is_string(act) ? json_string_value(act) : type_name(act), json_is_string(act) ? "\"" : "");
    json_t *sw = get(root, "use_sliding_window");
    if (sw && !json_is_boolean(sw))
        return MC_FAIL(c, SC_EFORMAT, "\"use_sliding_window\" must be true or false, not %s", type_name(sw));
    if (json_is_true(sw)) return MC_FAIL(c, SC_ENOTSUP, "%s", "use_sliding_window = true is not supported");
    json_t *lt = get(root, "layer_types");
    if (lt && arch != SC_ARCH_QWEN3_NEXT) {
        if (!json_is_array(lt)) return MC_FAIL(c, SC_EFORMAT, "\"layer_types\" must be a list, not %s", type_name(lt));
        for (size_t i = 0; i < json_array_size(lt); i++) {
            json_t *e = json_array_get(lt, i);
            if (!json_is_string(e) || strcmp(json_string_value(e), "full_attention") != 0)
                return MC_FAIL(c, SC_ENOTSUP, "layer_types[%zu] is not \"full_attention\"", i);
        }
    }
    return SC_OK;
}

static int parse_moe(const mc_ctx *c, json_t *root, sc_model_config *cfg) {
    int rc;
    const char *ne_key = get(root, "num_experts") ? "num_experts" : "num_local_experts";
    if ((rc = get_int(c, root, ne_key, true, 0, 1, MC_MAX_SIZE, &cfg->n_experts)) != SC_OK) return rc;
    if ((rc = get_int(c, root, "num_experts_per_tok", true, 0, 1, cfg->n_experts, &cfg->n_experts_used)) != SC_OK)
        return rc;
    if ((rc = get_int(c, root, "moe_intermediate_size", true, 0, 1, MC_MAX_SIZE, &cfg->moe_intermediate_size)) != SC_OK)
        return rc;
    if ((rc = get_bool(c, root, "norm_topk_prob", false, &cfg->norm_topk_prob)) != SC_OK) return rc;
    if ((rc = get_int(c, root, "decoder_sparse_step", false, 1, 1, SC_MAX_LAYERS, &cfg->decoder_sparse_step)) != SC_OK)
        return rc;
    json_t *mo = get(root, "mlp_only_layers");
    if (mo && !json_is_array(mo))
        return MC_FAIL(c, SC_EFORMAT, "\"mlp_only_layers\" must be a list, not %s", type_name(mo));
    for (size_t i = 0; i < json_array_size(mo); i++) {
        json_t *e = json_array_get(mo, i);
        if (!json_is_integer(e))
            return MC_FAIL(c, SC_EFORMAT, "mlp_only_layers[%zu] must be an integer, not %s", i, type_name(e));
        json_int_t L = json_integer_value(e);
        if (L < 0 || L >= cfg->n_layers)
            return MC_FAIL(c, SC_ERANGE, "mlp_only_layers[%zu] = %lld is not a layer index (num_hidden_layers = %lld)", i,
                           (long long)L, (long long)cfg->n_layers);
        cfg->mlp_only[L] = true;
    }
    return SC_OK;
}

/* Qwen3-Next: the layer schedule (layer_types, else every
 * full_attention_interval-th layer is full attention), the Gated DeltaNet
 * sizes and the shared expert. */
static int parse_next(const mc_ctx *c, json_t *root, sc_model_config *cfg) {
    int rc;
    json_t *lt = get(root, "layer_types");
    if (lt) {
        if (!json_is_array(lt)) return MC_FAIL(c, SC_EFORMAT, "\"layer_types\" must be a list, not %s", type_name(lt));
        if ((int64_t)json_array_size(lt) != cfg->n_layers)
            return MC_FAIL(c, SC_EFORMAT, "\"layer_types\" has %zu entries for %lld layers", json_array_size(lt),
                           (long long)cfg->n_layers);
        for (size_t i = 0; i < json_array_size(lt); i++) {
            json_t *e = json_array_get(lt, i);
            const char *s = json_is_string(e) ? json_string_value(e) : "";
            if (strcmp(s, "linear_attention") == 0) cfg->linear_layer[i] = true;
            else if (strcmp(s, "full_attention") != 0)
                return MC_FAIL(c, SC_ENOTSUP, "layer_types[%zu] is not \"linear_attention\" or \"full_attention\"", i);
        }
    } else {
        int64_t every;
        if ((rc = get_int(c, root, "full_attention_interval", false, 4, 1, SC_MAX_LAYERS, &every)) != SC_OK) return rc;
        for (int64_t L = 0; L < cfg->n_layers; L++) cfg->linear_layer[L] = (L + 1) % every != 0;
    }
    cfg->n_linear_layers = 0;
    for (int64_t L = 0; L < cfg->n_layers; L++) cfg->n_linear_layers += cfg->linear_layer[L];
    if ((rc = get_int(c, root, "linear_num_key_heads", true, 0, 1, 4096, &cfg->linear_n_key_heads)) != SC_OK) return rc;
    if ((rc = get_int(c, root, "linear_num_value_heads", true, 0, 1, 4096, &cfg->linear_n_value_heads)) != SC_OK)
        return rc;
    if (cfg->linear_n_value_heads % cfg->linear_n_key_heads != 0)
        return MC_FAIL(c, SC_EFORMAT, "linear_num_value_heads %lld is not a multiple of linear_num_key_heads %lld",
                       (long long)cfg->linear_n_value_heads, (long long)cfg->linear_n_key_heads);
    /* the recurrent kernels hold a head's dk x dv state in one workgroup */
    if ((rc = get_int(c, root, "linear_key_head_dim", true, 0, 1, 256, &cfg->linear_key_head_dim)) != SC_OK) return rc;
    if ((rc = get_int(c, root, "linear_value_head_dim", true, 0, 1, 256, &cfg->linear_value_head_dim)) != SC_OK)
        return rc;
    if ((rc = get_int(c, root, "linear_conv_kernel_dim", false, 4, 2, 16, &cfg->linear_conv_kernel)) != SC_OK) return rc;
    if ((rc = get_int(c, root, "shared_expert_intermediate_size", false, 0, 0, MC_MAX_SIZE,
                      &cfg->shared_expert_intermediate_size)) != SC_OK)
        return rc;
    return SC_OK;
}

static int parse_config(const mc_ctx *c, json_t *root, sc_model_config *cfg) {
    int rc;
    memset(cfg, 0, sizeof(*cfg));
    cfg->bos_token_id = cfg->eos_token_id = -1;
    cfg->decoder_sparse_step = 1;

    if ((rc = parse_arch(c, root, cfg)) != SC_OK) return rc;
    if ((rc = check_unsupported(c, root, cfg->arch)) != SC_OK) return rc;
    if ((rc = get_int(c, root, "vocab_size", true, 0, 1, MC_MAX_SIZE, &cfg->vocab_size)) != SC_OK) return rc;
    if ((rc = get_int(c, root, "hidden_size", true, 0, 1, MC_MAX_SIZE, &cfg->hidden_size)) != SC_OK) return rc;
    /* Required only where some layer has a dense MLP; checked below. */
    if ((rc = get_int(c, root, "intermediate_size", false, 0, 1, MC_MAX_SIZE, &cfg->intermediate_size)) != SC_OK)
        return rc;
    if ((rc = get_int(c, root, "num_hidden_layers", true, 0, 1, SC_MAX_LAYERS, &cfg->n_layers)) != SC_OK) return rc;
    if ((rc = get_int(c, root, "num_attention_heads", true, 0, 1, MC_MAX_SIZE, &cfg->n_heads)) != SC_OK) return rc;
    if ((rc = get_int(c, root, "num_key_value_heads", false, cfg->n_heads, 1, cfg->n_heads, &cfg->n_kv_heads)) != SC_OK)
        return rc;
    if (cfg->n_heads % cfg->n_kv_heads != 0)
        return MC_FAIL(c, SC_EFORMAT, "num_attention_heads %lld is not a multiple of num_key_value_heads %lld",
                       (long long)cfg->n_heads, (long long)cfg->n_kv_heads);
    if (!get(root, "head_dim") && cfg->hidden_size % cfg->n_heads != 0)
        return MC_FAIL(c, SC_EFORMAT, "no \"head_dim\" and hidden_size %lld is not a multiple of num_attention_heads %lld",
                       (long long)cfg->hidden_size, (long long)cfg->n_heads);
    if ((rc = get_int(c, root, "head_dim", false, cfg->hidden_size / cfg->n_heads, 1, MC_MAX_SIZE, &cfg->head_dim)) !=
        SC_OK)
        return rc;
    if ((rc = get_num(c, root, "rms_norm_eps", true, 0, 0, true, 1.0, &cfg->rms_norm_eps)) != SC_OK) return rc;
    if ((rc = parse_rope(c, root, cfg)) != SC_OK) return rc;
    /* transformers: dim = int(head_dim * partial_rotary_factor); RoPE
     * rotates pairs (i, i + dim/2), so dim must be even and non-zero. */
    int64_t n_rot = (int64_t)((double)cfg->head_dim * cfg->partial_rotary_factor);
    if (n_rot < 2 || n_rot % 2 != 0)
        return MC_FAIL(c, SC_EFORMAT, "head_dim %lld x partial_rotary_factor %g = %lld rotary dims (must be even, >= 2)",
                       (long long)cfg->head_dim, cfg->partial_rotary_factor, (long long)n_rot);
    if ((rc = get_int(c, root, "max_position_embeddings", true, 0, 1, MC_MAX_SIZE, &cfg->max_position_embeddings)) !=
        SC_OK)
        return rc;
    if ((rc = get_bool(c, root, "tie_word_embeddings", false, &cfg->tie_word_embeddings)) != SC_OK) return rc;
    if ((rc = get_bool(c, root, "attention_bias", false, &cfg->attention_bias)) != SC_OK) return rc;
    if ((rc = parse_dtype(c, root, cfg)) != SC_OK) return rc;

    if (cfg->arch != SC_ARCH_QWEN3 && (rc = parse_moe(c, root, cfg)) != SC_OK) return rc;
    if (cfg->arch == SC_ARCH_QWEN3_NEXT && (rc = parse_next(c, root, cfg)) != SC_OK) return rc;
    for (int64_t L = 0; L < cfg->n_layers; L++) {
        if (!sc_model_config_layer_is_moe(cfg, L) && cfg->intermediate_size <= 0)
            return MC_FAIL(c, SC_EFORMAT, "missing \"intermediate_size\" (layer %lld has a dense MLP)", (long long)L);
    }

    json_t *bos = get(root, "bos_token_id");
    if (bos && (rc = token_id(c, "bos_token_id", bos, &cfg->bos_token_id)) != SC_OK) return rc;
    return each_eos(c, root, first_eos, &cfg->eos_token_id);
}

bool sc_model_config_layer_is_moe(const sc_model_config *cfg, int64_t layer) {
    if (!cfg || layer < 0 || layer >= cfg->n_layers || layer >= SC_MAX_LAYERS || cfg->n_experts <= 0 ||
        cfg->decoder_sparse_step <= 0)
        return false;
    return !cfg->mlp_only[layer] && (layer + 1) % cfg->decoder_sparse_step == 0;
}

bool sc_model_config_layer_is_linear(const sc_model_config *cfg, int64_t layer) {
    if (!cfg || cfg->arch != SC_ARCH_QWEN3_NEXT || layer < 0 || layer >= cfg->n_layers || layer >= SC_MAX_LAYERS)
        return false;
    return cfg->linear_layer[layer];
}

static int parse_named(const char *file, const char *json, size_t len, sc_model_config *cfg, char *err,
                       size_t err_len) {
    mc_ctx c = {file, err, err_len};
    int rc;
    json_t *root = parse_json(&c, json, len, &rc);
    if (!root) return rc;
    rc = parse_config(&c, root, cfg);
    json_decref(root);
    if (rc == SC_OK && err && err_len) err[0] = '\0';
    return rc;
}

int sc_model_config_parse(const char *json, size_t len, sc_model_config *cfg, char *err, size_t err_len) {
    if (err && err_len) err[0] = '\0';
    if (!json || !cfg) return sc__errf(err, err_len, SC_EINVAL, "config.json: NULL argument");
    return parse_named("config.json", json, len, cfg, err, err_len);
}

static char *join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (p) snprintf(p, a + b + 2, "%s/%s", dir, name);
    return p;
}

int sc_model_config_load(const char *dir, sc_model_config *cfg, char *err, size_t err_len) {
    char *path, *text = NULL;
    size_t len = 0;
    int rc;

    if (err && err_len) err[0] = '\0';
    if (!dir || !cfg) return sc__errf(err, err_len, SC_EINVAL, "config.json: NULL argument");
    if (!(path = join(dir, "config.json"))) return sc__errf(err, err_len, SC_ENOMEM, "%s: out of memory", dir);
    rc = sc__read_file(path, MC_MAX_FILE, &text, &len, err, err_len);
    if (rc == SC_OK) rc = parse_named(path, text, len, cfg, err, err_len);
    free(text);
    free(path);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* generation_config.json                                                    */
/* ------------------------------------------------------------------------ */
static int add_eos(const mc_ctx *c, int32_t id, void *user) {
    sc_generation_config *gen = user;
    for (int i = 0; i < gen->n_eos; i++)
        if (gen->eos_ids[i] == id) return SC_OK;
    if (gen->n_eos == SC_MAX_EOS)
        return MC_FAIL(c, SC_ERANGE, "more than %d distinct eos_token_id values", SC_MAX_EOS);
    gen->eos_ids[gen->n_eos++] = id;
    return SC_OK;
}

static int parse_generation(const mc_ctx *c, json_t *root, sc_generation_config *gen) {
    double x;
    int64_t k;
    int rc;
    json_t *bos = get(root, "bos_token_id");
    if (bos && (rc = token_id(c, "bos_token_id", bos, &gen->bos_token_id)) != SC_OK) return rc;
    if ((rc = each_eos(c, root, add_eos, gen)) != SC_OK) return rc;
    if ((rc = get_bool(c, root, "do_sample", gen->do_sample, &gen->do_sample)) != SC_OK) return rc;
    if ((rc = get_num(c, root, "temperature", false, gen->temperature, 0, false, 1e6, &x)) != SC_OK) return rc;
    gen->temperature = (float)x;
    if ((rc = get_int(c, root, "top_k", false, gen->top_k, 0, INT32_MAX, &k)) != SC_OK) return rc;
    gen->top_k = (int32_t)k;
    if ((rc = get_num(c, root, "top_p", false, gen->top_p, 0, false, 1.0, &x)) != SC_OK) return rc;
    gen->top_p = (float)x;
    if ((rc = get_num(c, root, "min_p", false, gen->min_p, 0, false, 1.0, &x)) != SC_OK) return rc;
    gen->min_p = (float)x;
    if ((rc = get_num(c, root, "repetition_penalty", false, gen->repetition_penalty, 0, true, 1e6, &x)) != SC_OK)
        return rc;
    gen->repetition_penalty = (float)x;
    return SC_OK;
}

int sc_generation_config_load(const char *dir, const sc_model_config *cfg, sc_generation_config *gen, char *err,
                              size_t err_len) {
    char *path, *text = NULL;
    size_t len = 0;
    int rc;

    if (err && err_len) err[0] = '\0';
    if (!dir || !gen) return sc__errf(err, err_len, SC_EINVAL, "generation_config.json: NULL argument");
    memset(gen, 0, sizeof(*gen));
    gen->bos_token_id = cfg ? cfg->bos_token_id : -1;
    gen->temperature = 1.0f;
    gen->top_p = 1.0f;
    gen->repetition_penalty = 1.0f;

    if (!(path = join(dir, "generation_config.json"))) return sc__errf(err, err_len, SC_ENOMEM, "%s: out of memory", dir);
    mc_ctx c = {path, err, err_len};
    rc = sc__read_file(path, MC_MAX_FILE, &text, &len, err, err_len);
    if (rc == SC_ENOENT) { /* optional file: defaults */
        rc = SC_OK;
    } else if (rc == SC_OK) {
        json_t *root = parse_json(&c, text, len, &rc);
        if (root) rc = parse_generation(&c, root, gen);
        json_decref(root);
    }
    /* The generation config's ids come first; config.json's eos joins them
     * (transformers stops on either). */
    if (rc == SC_OK && cfg && cfg->eos_token_id >= 0) rc = add_eos(&c, cfg->eos_token_id, gen);
    free(text);
    free(path);
    if (rc == SC_OK && err && err_len) err[0] = '\0';
    return rc;
}

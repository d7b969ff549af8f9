/*
 * strixcore/model_config.h - a Hugging Face checkpoint directory's
 * config.json and generation_config.json, parsed and validated.
 */
#ifndef STRIXCORE_MODEL_CONFIG_H
#define STRIXCORE_MODEL_CONFIG_H

#include "strixcore/strixcore.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SC_MAX_EOS 8
#define SC_MAX_LAYERS 512

typedef enum sc_arch {
    SC_ARCH_UNKNOWN = 0,
    SC_ARCH_QWEN3,        /* Qwen3ForCausalLM */
    SC_ARCH_QWEN3_MOE,    /* Qwen3MoeForCausalLM */
    SC_ARCH_QWEN3_NEXT,   /* Qwen3NextForCausalLM: Gated DeltaNet + gated attention + MoE */
} sc_arch;

typedef struct sc_model_config {
    sc_arch arch;
    char arch_name[64];          /* architectures[0] as written */
    int64_t vocab_size;
    int64_t hidden_size;         /* D */
    int64_t intermediate_size;   /* dense MLP I */
    int64_t n_layers;
    int64_t n_heads;             /* H */
    int64_t n_kv_heads;          /* Hkv */
    int64_t head_dim;            /* hd (config head_dim, else D / H) */
    double rms_norm_eps;
    double rope_theta;
    double partial_rotary_factor; /* 1.0 unless set */
    int64_t max_position_embeddings;
    bool tie_word_embeddings;
    bool attention_bias;
    char torch_dtype[16];        /* "bfloat16", "float16", "float32" or "" */
    /* MoE (arch == SC_ARCH_QWEN3_MOE) */
    int64_t n_experts;           /* num_experts */
    int64_t n_experts_used;      /* num_experts_per_tok */
    int64_t moe_intermediate_size;
    bool norm_topk_prob;
    int64_t decoder_sparse_step;
    bool mlp_only[SC_MAX_LAYERS]; /* from mlp_only_layers */
    /* token ids from config.json (-1 when absent) */
    int32_t bos_token_id;
    int32_t eos_token_id;
    /* Qwen3-Next (arch == SC_ARCH_QWEN3_NEXT); appended */
    bool linear_layer[SC_MAX_LAYERS];   /* Gated DeltaNet layer (layer_types "linear_attention") */
    int64_t n_linear_layers;
    int64_t linear_n_key_heads;         /* nk */
    int64_t linear_n_value_heads;       /* nv, a multiple of nk */
    int64_t linear_key_head_dim;        /* dk */
    int64_t linear_value_head_dim;      /* dv */
    int64_t linear_conv_kernel;         /* Kc */
    int64_t shared_expert_intermediate_size; /* 0: no shared expert */
} sc_model_config;

typedef struct sc_generation_config {
    int32_t eos_ids[SC_MAX_EOS];
    int n_eos;
    int32_t bos_token_id;        /* -1 when absent */
    bool do_sample;
    float temperature;           /* defaults: 1.0 */
    int32_t top_k;               /* 0 = off */
    float top_p;                 /* 1.0 = off */
    float min_p;                 /* 0 = off */
    float repetition_penalty;    /* 1.0 = off */
} sc_generation_config;

/* Reads DIR/config.json. An unknown architecture is SC_ENOTSUP with a message
 * that lists the supported ones. */
SC_API int sc_model_config_load(const char *dir, sc_model_config *cfg, char *err, size_t err_len);
SC_API int sc_model_config_parse(const char *json, size_t len, sc_model_config *cfg, char *err, size_t err_len);
/* Reads DIR/generation_config.json if present (else defaults, with eos from cfg). */
SC_API int sc_generation_config_load(const char *dir, const sc_model_config *cfg, sc_generation_config *gen,
                                     char *err, size_t err_len);
SC_API bool sc_model_config_layer_is_moe(const sc_model_config *cfg, int64_t layer);
/* A Gated DeltaNet (linear attention) layer rather than full attention? */
SC_API bool sc_model_config_layer_is_linear(const sc_model_config *cfg, int64_t layer);

#ifdef __cplusplus
}
#endif
#endif

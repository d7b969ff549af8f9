/*
 * core/src/model_internal.h - the model object shared by model.c (load,
 * sequences, forward), model_weights.c (weights from a checkpoint),
 * model_synth.c (random weights) and model_qwen3.c (the graph).
 */
#ifndef STRIXCORE_MODEL_INTERNAL_H
#define STRIXCORE_MODEL_INTERNAL_H

#include "kv_cache.h"
#include "strixcore/model.h"
#include "strixcore/safetensors.h"

/* Weights of one decoder layer. Shapes in ggml order {ne0, ne1, ne2}; HF's
 * [out, in] Linear weight is {in, out} here, with the same bytes. */
typedef struct sc_layer_weights {
    sc_tensor *attn_norm;                /* f32 {D} */
    sc_tensor *wq, *wk, *wv, *wo;        /* {D, H*hd}, {D, Hkv*hd} x2, {H*hd, D} */
    sc_tensor *bq, *bk, *bv, *bo;        /* f32 biases (attention_bias only) */
    sc_tensor *q_norm, *k_norm;          /* f32 {hd} */
    sc_tensor *ffn_norm;                 /* f32 {D} */
    bool moe;
    sc_tensor *gate, *up, *down;         /* dense: {D, I}, {D, I}, {I, D} */
    sc_tensor *router;                   /* MoE: {D, E} */
    sc_tensor *exp_gate, *exp_up;        /* MoE: {D, Imoe, E} */
    sc_tensor *exp_down;                 /* MoE: {Imoe, D, E} */
    /* Qwen3-Next */
    bool linear;                         /* Gated DeltaNet layer (else full attention, wq {D, 2*H*hd}:
                                            per head hd query rows then hd gate rows) */
    sc_tensor *ssm_in;                   /* in_proj_qkvz {D, nk*(2*dk + 2*r*dv)} */
    sc_tensor *ssm_ba;                   /* in_proj_ba {D, 2*nv} */
    sc_tensor *ssm_conv;                 /* f32 {Kc, nk*(2*dk + r*dv)}, channels in key-group order */
    sc_tensor *ssm_ad;                   /* f32 {nv, 2}: A_log, dt_bias */
    sc_tensor *ssm_norm;                 /* f32 {dv} */
    sc_tensor *ssm_out;                  /* out_proj {nv*dv, D} */
    sc_tensor *sh_gate, *sh_up, *sh_down; /* shared expert: {D, Is}, {D, Is}, {Is, D} */
    sc_tensor *sh_gate_w;                /* shared_expert_gate {D, 1} */
} sc_layer_weights;

/* What a weight is, for loading and for counting bytes. */
typedef enum sc_wkind {
    SC_W_NORM,      /* 1-D, always stored f32 */
    SC_W_MAT,       /* one HF tensor, kept in its stored dtype */
    SC_W_EXPERTS,   /* E per-expert HF tensors (or a fused 3-D one) stacked */
} sc_wkind;

typedef enum sc_wpart {
    SC_WP_WHOLE = 0,
    SC_WP_GATE,     /* experts' gate_proj (fused: first half of gate_up_proj) */
    SC_WP_UP,       /* experts' up_proj (fused: second half) */
    SC_WP_DOWN,     /* experts' down_proj */
    SC_WP_CONV,     /* Gated DeltaNet conv1d.weight [C, 1, Kc], channels regrouped by key head */
    SC_WP_AD,       /* Gated DeltaNet A_log and dt_bias ([nv] each) stacked into {nv, 2} */
} sc_wpart;

/* A transform applied to a 1-D (f32) weight as it is loaded. */
typedef enum sc_wxform {
    SC_WX_NONE = 0,
    SC_WX_PLUS_ONE, /* zero-centred RMSNorm weight: the graph multiplies by 1 + w */
} sc_wxform;

/* One weight to create: where its descriptor goes and where it comes from. */
typedef struct sc_wspec {
    sc_tensor **slot;
    char name[128];         /* HF name; for experts the layer prefix "model.layers.L.mlp.experts" */
    sc_wkind kind;
    sc_wpart part;
    int ndims;
    int64_t ne[3];          /* ggml order */
    int group;              /* buffer: 0 = globals, 1 + L = layer L */
    sc_wxform xform;
} sc_wspec;

struct sc_model {
    sc_model_config cfg;
    sc_registry_t *own_reg;      /* CPU registry when the caller passed no device */
    sc_device_t *dev, *fallback;

    /* weights */
    sc_ctx_t *wctx;
    sc_buffer_t **wbufs;         /* one per group */
    int n_wbufs;
    sc_tensor *tok_embd;         /* {D, V} */
    sc_tensor *out_norm;         /* f32 {D} */
    sc_tensor *lm_head;          /* {D, V}; == tok_embd when tied */
    sc_tensor *moe_eye;          /* f32 {E, 1, E}: one-hot rows, gathers router values (model_qwen3.c) */
    sc_layer_weights *layers;
    uint64_t weight_bytes;

    /* state */
    sc_kv_cache kv;              /* full-attention layers only: layer L uses kv.k[kv_layer[L]] */
    int *kv_layer;               /* [n_layers], -1 for a Gated DeltaNet layer */
    int64_t max_len;
    /* Gated DeltaNet layers: fixed-size state per sequence slot (kv.n_seqs of them) */
    sc_ctx_t *sctx;
    sc_buffer_t **sbufs;         /* one per Gated DeltaNet layer */
    int n_sbufs;
    sc_tensor **conv_state;      /* [n_layers] f32 {C, Kc-1, n_seqs} or NULL */
    sc_tensor **ssm_state;       /* [n_layers] f32 {dv, dk, nv, n_seqs} or NULL */
    uint64_t state_bytes;

    /* per step */
    sc_sched_t *sched;
    sc_ctx_t *ctx;
    sc_graph_t *graph;
    sc_buffer_t *inbuf;          /* per-step i32 inputs on dev */
    size_t inbuf_size;
    int32_t *stage;              /* host staging for the inputs */
    size_t stage_cap;            /* int32 elements */
    /* the last step's graph, kept for the next step of the same shape (a
     * decode step after a decode step): run_chunk then only uploads inputs */
    bool step_valid;
    int step_T, step_n_out;
    const sc_buffer_t *step_inbuf;
    sc_tensor *step_all, *step_out;
    int64_t graph_cap;
};

/* The per-step inputs of a graph: T tokens of (possibly several) sequences,
 * and which of them produce logits. */
typedef struct sc_step_inputs {
    int n_tokens;
    int n_out;                   /* rows of logits wanted (0 = none) */
    bool out_all;                /* n_out == n_tokens and rows are all tokens in order */
    sc_tensor *tokens, *pos, *seq;       /* i32 [T] */
    sc_tensor *out_ids, *pos_out, *seq_out; /* i32 [n_out] (NULL when out_all or n_out == 0) */
} sc_step_inputs;

/* model_weights.c */
int sc__model_weight_specs(sc_model_t *m, sc_wspec **out, int *n_out);

/* ---- quantized weights (model_quant.c) ---- */
struct sc_qformat;
#define SC_WQ_NAME 192
typedef struct sc_wquant {
    sc_linear_desc d;            /* quantized == 0: dense */
    char (*module)[SC_WQ_NAME];  /* [n] Linear module of each matrix (experts: one each) */
    int n;
} sc_wquant;
int sc__wquant_resolve(struct sc_qformat *f, const sc_wspec *s, sc_wquant *q, char *err, size_t err_len);
sc_tensor *sc__wquant_tensor(sc_ctx_t *ctx, const sc_wspec *s, const sc_wquant *q);
int sc__wquant_upload(struct sc_qformat *f, sc_tensor *t, const sc_wquant *q, char *err, size_t err_len);
void sc__wquant_free(sc_wquant *q);
/* Create descriptors with the given per-spec dtypes and place them in buffers
 * on m->dev, one buffer per group. */
/* quant: NULL, or [n] with quant[i].d.quantized making spec i a QG tensor. */
int sc__model_alloc_weights(sc_model_t *m, const sc_wspec *specs, int n, const sc_type *types,
                            const sc_wquant *quant);
/* fmt: the checkpoint's format plugin, NULL when it is not quantized. */
int sc__model_load_weights(sc_model_t *m, sc_safetensors_t *st, struct sc_qformat *fmt, const char *where,
                           const sc_model_opts *opts,
                           char *err, size_t err_len);
/* Build the constant tensors the graph needs (moe_eye). Called after alloc. */
int sc__model_init_constants(sc_model_t *m);

/* model.c */
int sc__model_create(const sc_model_config *cfg, const sc_model_opts *opts, sc_model_t **out, char *err,
                     size_t err_len);
/* Everything after weights: KV cache, scheduler, step context. */
int sc__model_finish(sc_model_t *m, const sc_model_opts *opts, char *err, size_t err_len);
int sc__model_check_config(const sc_model_config *cfg, char *err, size_t err_len);

/* model_qwen3.c: build the graph of one step in ctx and expand it into g.
 * *logits is the output [n_out, V] (NULL when n_out == 0: then the last
 * layer's cache writes are the outputs). Returns the ctx error, if any. */
int sc__qwen3_build(sc_model_t *m, sc_ctx_t *ctx, sc_graph_t *g, const sc_step_inputs *in, sc_tensor **logits);
/* Upper bound on the descriptors one step of this model needs. */
int64_t sc__qwen3_graph_size(const sc_model_config *cfg);
/* model_qwen3_next.c: the same for Qwen3NextForCausalLM. */
int sc__qwen3_next_build(sc_model_t *m, sc_ctx_t *ctx, sc_graph_t *g, const sc_step_inputs *in, sc_tensor **logits);
/* Shared by both builders (model_qwen3.c). */
sc_tensor *sc__qwen3_moe(sc_model_t *m, sc_ctx_t *ctx, sc_graph_t *gr, const sc_layer_weights *lw, sc_tensor *x,
                         int64_t T);
/* Recurrent state of the Gated DeltaNet layers (model.c). */
int sc__model_state_init(sc_model_t *m);
/* Bytes of recurrent state one sequence holds. */
uint64_t sc__model_state_bytes_per_seq(const sc_model_config *c);

/* Formatting helper shared by the loaders. */
void sc__model_errf(char *err, size_t err_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif

/*
 * core/src/model_weights.c - the model's weights: which tensors a Qwen3 /
 * Qwen3-MoE model has (by Hugging Face name), finding and checking them in a
 * safetensors checkpoint, and uploading them to device buffers.
 *
 * Matrices keep their stored dtype (f32, f16 or bf16; f64 is narrowed to
 * f32); 1-D tensors (norms, biases) are converted to f32, which rms_norm and
 * add need. Per-expert MoE tensors model.layers.L.mlp.experts.E.{gate,up,down}_proj.weight
 * are stacked at load into one {K, N, E} tensor each; the fused
 * transformers-v5 form experts.gate_up_proj [E, 2*Imoe, D] (gate rows first)
 * and experts.down_proj [E, D, Imoe] is accepted too.
 *
 * Loading checks everything (presence, shape, dtype) before allocating or
 * uploading anything, so a bad checkpoint fails fast, the progress callback
 * never fires for it, and nothing is left allocated.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "model_internal.h"
#include "qformat.h"

#define UPLOAD_CHUNK ((size_t)64 << 20) /* bytes per sc_tensor_set: progress granularity */
#define CONVERT_CHUNK 65536             /* elements per conversion pass */

void sc__model_errf(char *err, size_t err_len, const char *fmt, ...) {
    if (!err || !err_len) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

/* ---- the list of weights ----------------------------------------------- */
typedef struct spec_list {
    sc_wspec *v;
    int n, cap;
    int err;
} spec_list;

static void add_spec(spec_list *l, sc_tensor **slot, sc_wkind kind, sc_wpart part, int group, int ndims, int64_t ne0,
                     int64_t ne1, int64_t ne2, const char *fmt, ...) __attribute__((format(printf, 10, 11)));
static void add_spec(spec_list *l, sc_tensor **slot, sc_wkind kind, sc_wpart part, int group, int ndims, int64_t ne0,
                     int64_t ne1, int64_t ne2, const char *fmt, ...) {
    if (l->err) return;
    if (l->n == l->cap) {
        int nc = l->cap ? l->cap * 2 : 64;
        sc_wspec *nv = realloc(l->v, (size_t)nc * sizeof *nv);
        if (!nv) {
            l->err = SC_ENOMEM;
            return;
        }
        l->v = nv;
        l->cap = nc;
    }
    sc_wspec *s = &l->v[l->n++];
    memset(s, 0, sizeof *s);
    s->slot = slot;
    s->kind = kind;
    s->part = part;
    s->group = group;
    s->ndims = ndims;
    s->ne[0] = ne0;
    s->ne[1] = ne1;
    s->ne[2] = ne2;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->name, sizeof s->name, fmt, ap);
    va_end(ap);
}

/* The spec added last is a zero-centred RMSNorm weight (Qwen3-Next). */
static void zero_centred(spec_list *l) {
    if (!l->err && l->n > 0) l->v[l->n - 1].xform = SC_WX_PLUS_ONE;
}

/* Qwen3-Next's layer L after input_layernorm: the token mixer (Gated
 * DeltaNet or gated full attention), post_attention_layernorm and the MLP
 * (MoE with a shared expert, or dense for mlp_only layers). */
static void next_layer_specs(spec_list *l, const sc_model_config *c, sc_layer_weights *w, int64_t L) {
    const int64_t D = c->hidden_size, hd = c->head_dim, Hq = c->n_heads * hd, Hk = c->n_kv_heads * hd;
    const int g = (int)L + 1;
    const long long li = (long long)L;
    w->linear = sc_model_config_layer_is_linear(c, L);
    if (w->linear) {
        const int64_t nk = c->linear_n_key_heads, nv = c->linear_n_value_heads, dk = c->linear_key_head_dim;
        const int64_t dv = c->linear_value_head_dim, Kc = c->linear_conv_kernel;
        const int64_t conv_c = 2 * nk * dk + nv * dv;
        add_spec(l, &w->ssm_in, SC_W_MAT, 0, g, 2, D, conv_c + nv * dv, 1,
                 "model.layers.%lld.linear_attn.in_proj_qkvz.weight", li);
        add_spec(l, &w->ssm_ba, SC_W_MAT, 0, g, 2, D, 2 * nv, 1, "model.layers.%lld.linear_attn.in_proj_ba.weight", li);
        add_spec(l, &w->ssm_conv, SC_W_NORM, SC_WP_CONV, g, 2, Kc, conv_c, 1, "model.layers.%lld.linear_attn.conv1d.weight",
                 li);
        add_spec(l, &w->ssm_ad, SC_W_NORM, SC_WP_AD, g, 2, nv, 2, 1, "model.layers.%lld.linear_attn", li);
        add_spec(l, &w->ssm_norm, SC_W_NORM, 0, g, 1, dv, 1, 1, "model.layers.%lld.linear_attn.norm.weight", li);
        add_spec(l, &w->ssm_out, SC_W_MAT, 0, g, 2, nv * dv, D, 1, "model.layers.%lld.linear_attn.out_proj.weight", li);
    } else {
        add_spec(l, &w->wq, SC_W_MAT, 0, g, 2, D, 2 * Hq, 1, "model.layers.%lld.self_attn.q_proj.weight", li);
        add_spec(l, &w->wk, SC_W_MAT, 0, g, 2, D, Hk, 1, "model.layers.%lld.self_attn.k_proj.weight", li);
        add_spec(l, &w->wv, SC_W_MAT, 0, g, 2, D, Hk, 1, "model.layers.%lld.self_attn.v_proj.weight", li);
        add_spec(l, &w->wo, SC_W_MAT, 0, g, 2, Hq, D, 1, "model.layers.%lld.self_attn.o_proj.weight", li);
        add_spec(l, &w->q_norm, SC_W_NORM, 0, g, 1, hd, 1, 1, "model.layers.%lld.self_attn.q_norm.weight", li);
        zero_centred(l);
        add_spec(l, &w->k_norm, SC_W_NORM, 0, g, 1, hd, 1, 1, "model.layers.%lld.self_attn.k_norm.weight", li);
        zero_centred(l);
    }
    add_spec(l, &w->ffn_norm, SC_W_NORM, 0, g, 1, D, 1, 1, "model.layers.%lld.post_attention_layernorm.weight", li);
    zero_centred(l);
    w->moe = sc_model_config_layer_is_moe(c, L);
    if (!w->moe) {
        const int64_t I = c->intermediate_size;
        add_spec(l, &w->gate, SC_W_MAT, 0, g, 2, D, I, 1, "model.layers.%lld.mlp.gate_proj.weight", li);
        add_spec(l, &w->up, SC_W_MAT, 0, g, 2, D, I, 1, "model.layers.%lld.mlp.up_proj.weight", li);
        add_spec(l, &w->down, SC_W_MAT, 0, g, 2, I, D, 1, "model.layers.%lld.mlp.down_proj.weight", li);
        return;
    }
    const int64_t E = c->n_experts, Im = c->moe_intermediate_size, Is = c->shared_expert_intermediate_size;
    add_spec(l, &w->router, SC_W_MAT, 0, g, 2, D, E, 1, "model.layers.%lld.mlp.gate.weight", li);
    add_spec(l, &w->exp_gate, SC_W_EXPERTS, SC_WP_GATE, g, 3, D, Im, E, "model.layers.%lld.mlp.experts", li);
    add_spec(l, &w->exp_up, SC_W_EXPERTS, SC_WP_UP, g, 3, D, Im, E, "model.layers.%lld.mlp.experts", li);
    add_spec(l, &w->exp_down, SC_W_EXPERTS, SC_WP_DOWN, g, 3, Im, D, E, "model.layers.%lld.mlp.experts", li);
    if (Is > 0) {
        add_spec(l, &w->sh_gate, SC_W_MAT, 0, g, 2, D, Is, 1, "model.layers.%lld.mlp.shared_expert.gate_proj.weight", li);
        add_spec(l, &w->sh_up, SC_W_MAT, 0, g, 2, D, Is, 1, "model.layers.%lld.mlp.shared_expert.up_proj.weight", li);
        add_spec(l, &w->sh_down, SC_W_MAT, 0, g, 2, Is, D, 1, "model.layers.%lld.mlp.shared_expert.down_proj.weight", li);
        add_spec(l, &w->sh_gate_w, SC_W_MAT, 0, g, 2, D, 1, 1, "model.layers.%lld.mlp.shared_expert_gate.weight", li);
    }
}

int sc__model_weight_specs(sc_model_t *m, sc_wspec **out, int *n_out) {
    const sc_model_config *c = &m->cfg;
    const int64_t D = c->hidden_size, V = c->vocab_size, hd = c->head_dim;
    const int64_t Hq = c->n_heads * hd, Hk = c->n_kv_heads * hd;
    const bool next = c->arch == SC_ARCH_QWEN3_NEXT;
    spec_list l = {0};
    add_spec(&l, &m->tok_embd, SC_W_MAT, SC_WP_WHOLE, 0, 2, D, V, 1, "model.embed_tokens.weight");
    add_spec(&l, &m->out_norm, SC_W_NORM, SC_WP_WHOLE, 0, 1, D, 1, 1, "model.norm.weight");
    if (next) zero_centred(&l);
    if (!c->tie_word_embeddings) add_spec(&l, &m->lm_head, SC_W_MAT, SC_WP_WHOLE, 0, 2, D, V, 1, "lm_head.weight");
    for (int64_t L = 0; L < c->n_layers; L++) {
        sc_layer_weights *w = &m->layers[L];
        const int g = (int)L + 1;
        const long long li = (long long)L;
        add_spec(&l, &w->attn_norm, SC_W_NORM, 0, g, 1, D, 1, 1, "model.layers.%lld.input_layernorm.weight", li);
        if (next) {
            zero_centred(&l);
            next_layer_specs(&l, c, w, L);
            continue;
        }
        add_spec(&l, &w->wq, SC_W_MAT, 0, g, 2, D, Hq, 1, "model.layers.%lld.self_attn.q_proj.weight", li);
        add_spec(&l, &w->wk, SC_W_MAT, 0, g, 2, D, Hk, 1, "model.layers.%lld.self_attn.k_proj.weight", li);
        add_spec(&l, &w->wv, SC_W_MAT, 0, g, 2, D, Hk, 1, "model.layers.%lld.self_attn.v_proj.weight", li);
        add_spec(&l, &w->wo, SC_W_MAT, 0, g, 2, Hq, D, 1, "model.layers.%lld.self_attn.o_proj.weight", li);
        if (c->attention_bias) {
            add_spec(&l, &w->bq, SC_W_NORM, 0, g, 1, Hq, 1, 1, "model.layers.%lld.self_attn.q_proj.bias", li);
            add_spec(&l, &w->bk, SC_W_NORM, 0, g, 1, Hk, 1, 1, "model.layers.%lld.self_attn.k_proj.bias", li);
            add_spec(&l, &w->bv, SC_W_NORM, 0, g, 1, Hk, 1, 1, "model.layers.%lld.self_attn.v_proj.bias", li);
            add_spec(&l, &w->bo, SC_W_NORM, 0, g, 1, D, 1, 1, "model.layers.%lld.self_attn.o_proj.bias", li);
        }
        add_spec(&l, &w->q_norm, SC_W_NORM, 0, g, 1, hd, 1, 1, "model.layers.%lld.self_attn.q_norm.weight", li);
        add_spec(&l, &w->k_norm, SC_W_NORM, 0, g, 1, hd, 1, 1, "model.layers.%lld.self_attn.k_norm.weight", li);
        add_spec(&l, &w->ffn_norm, SC_W_NORM, 0, g, 1, D, 1, 1, "model.layers.%lld.post_attention_layernorm.weight",
                 li);
        w->moe = sc_model_config_layer_is_moe(c, L);
        if (w->moe) {
            const int64_t E = c->n_experts, Im = c->moe_intermediate_size;
            add_spec(&l, &w->router, SC_W_MAT, 0, g, 2, D, E, 1, "model.layers.%lld.mlp.gate.weight", li);
            add_spec(&l, &w->exp_gate, SC_W_EXPERTS, SC_WP_GATE, g, 3, D, Im, E, "model.layers.%lld.mlp.experts", li);
            add_spec(&l, &w->exp_up, SC_W_EXPERTS, SC_WP_UP, g, 3, D, Im, E, "model.layers.%lld.mlp.experts", li);
            add_spec(&l, &w->exp_down, SC_W_EXPERTS, SC_WP_DOWN, g, 3, Im, D, E, "model.layers.%lld.mlp.experts", li);
        } else {
            const int64_t I = c->intermediate_size;
            add_spec(&l, &w->gate, SC_W_MAT, 0, g, 2, D, I, 1, "model.layers.%lld.mlp.gate_proj.weight", li);
            add_spec(&l, &w->up, SC_W_MAT, 0, g, 2, D, I, 1, "model.layers.%lld.mlp.up_proj.weight", li);
            add_spec(&l, &w->down, SC_W_MAT, 0, g, 2, I, D, 1, "model.layers.%lld.mlp.down_proj.weight", li);
        }
    }
    if (l.err) {
        free(l.v);
        return l.err;
    }
    *out = l.v;
    *n_out = l.n;
    return SC_OK;
}

/* ---- descriptors and buffers ------------------------------------------- */
int sc__model_alloc_weights(sc_model_t *m, const sc_wspec *specs, int n, const sc_type *types,
                            const sc_wquant *quant) {
    const int n_groups = (int)m->cfg.n_layers + 1;
    const bool has_moe = m->cfg.arch != SC_ARCH_QWEN3 && m->cfg.n_experts > 0;
    m->wctx = sc_ctx_create((size_t)n + 4);
    m->wbufs = calloc((size_t)n_groups, sizeof *m->wbufs);
    sc_tensor **grp = calloc((size_t)n + 2, sizeof *grp);
    if (!m->wctx || !m->wbufs || !grp) {
        free(grp);
        return SC_ENOMEM;
    }
    m->n_wbufs = n_groups;
    for (int i = 0; i < n; i++) {
        const sc_wspec *s = &specs[i];
        sc_tensor *t = quant && quant[i].d.quantized ? sc__wquant_tensor(m->wctx, s, &quant[i])
                                                     : sc_new_tensor(m->wctx, types[i], s->ndims, s->ne);
        if (!t) break;
        t->flags |= SC_TENSOR_WEIGHT;
        if (s->kind == SC_W_EXPERTS)
            sc_tensor_set_name(t, "%.48s.%s", s->name, s->part == SC_WP_GATE ? "gate" : s->part == SC_WP_UP ? "up" : "down");
        else
            sc_tensor_set_name(t, "%s", s->name);
        *s->slot = t;
    }
    if (has_moe && sc_ctx_error(m->wctx) == SC_OK) {
        /* {E, 1, E}: expert e's one-row matrix is row e of the identity */
        m->moe_eye = sc_new_tensor_3d(m->wctx, SC_TYPE_F32, m->cfg.n_experts, 1, m->cfg.n_experts);
        if (m->moe_eye) {
            m->moe_eye->flags |= SC_TENSOR_WEIGHT | SC_TENSOR_ONE_HOT;
            sc_tensor_set_name(m->moe_eye, "moe_eye");
        }
    }
    int rc = sc_ctx_error(m->wctx);
    if (m->cfg.tie_word_embeddings) m->lm_head = m->tok_embd;
    /* one buffer per group: the globals, then each layer (keeps single
     * allocations a layer's size, which matters for large models on GPUs) */
    for (int g = 0; g < n_groups && rc == SC_OK; g++) {
        int k = 0;
        for (int i = 0; i < n; i++)
            if (specs[i].group == g) grp[k++] = *specs[i].slot;
        if (g == 0 && m->moe_eye) grp[k++] = m->moe_eye;
        if (k == 0) continue;
        rc = sc_alloc_tensors(m->dev, grp, k, &m->wbufs[g]);
        if (rc != SC_OK)
            sc_log(SC_LOG_ERROR, "model", "cannot allocate weights of %s %d on %s: %s", g ? "layer" : "group",
                   g ? g - 1 : 0, sc_device_name(m->dev), sc_strerror(rc));
    }
    for (int i = 0; i < n && rc == SC_OK; i++) m->weight_bytes += sc_tensor_nbytes(*specs[i].slot);
    if (rc == SC_OK && m->moe_eye) m->weight_bytes += sc_tensor_nbytes(m->moe_eye);
    free(grp);
    return rc;
}

int sc__model_init_constants(sc_model_t *m) {
    if (!m->moe_eye) return SC_OK;
    const int64_t E = m->cfg.n_experts;
    float *eye = calloc((size_t)(E * E), sizeof *eye);
    if (!eye) return SC_ENOMEM;
    for (int64_t e = 0; e < E; e++) eye[e * E + e] = 1.0f;
    int rc = sc_tensor_set(m->moe_eye, eye, 0, (size_t)(E * E) * sizeof *eye);
    free(eye);
    return rc;
}

/* ---- finding and checking tensors -------------------------------------- */
/* Where the bytes of one weight come from: up to E pieces laid end to end. */
typedef struct wsource {
    const sc_st_tensor **piece; /* [n_pieces] */
    size_t *piece_off;          /* byte offset inside each piece's data */
    size_t piece_bytes;         /* bytes taken from each piece */
    int n_pieces;
    sc_st_dtype dtype;          /* of every piece (checked; SC_WP_AD's two may differ) */
} wsource;


static bool float_dtype(sc_st_dtype dt) {
    return dt == SC_ST_F32 || dt == SC_ST_F16 || dt == SC_ST_BF16 || dt == SC_ST_F64;
}

static sc_type device_type(sc_wkind kind, sc_st_dtype dt) {
    if (kind == SC_W_NORM) return SC_TYPE_F32;
    return dt == SC_ST_F16 ? SC_TYPE_F16 : dt == SC_ST_BF16 ? SC_TYPE_BF16 : SC_TYPE_F32;
}

static void shape_str(char *buf, size_t len, int ndims, const int64_t *shape) {
    size_t o = 0;
    buf[0] = '\0';
    o += (size_t)snprintf(buf + o, len - o, "[");
    for (int d = 0; d < ndims && o < len; d++)
        o += (size_t)snprintf(buf + o, len - o, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (o < len) snprintf(buf + o, len - o, "]");
}

/* t must have HF shape `want` (outermost first) and a float dtype. */
static int check_tensor(const sc_st_tensor *t, int ndims, const int64_t *want, char *err, size_t err_len) {
    bool ok = t->ndims == ndims;
    for (int d = 0; ok && d < ndims; d++) ok = t->shape[d] == want[d];
    if (!ok) {
        char got[96], exp[96];
        shape_str(got, sizeof got, t->ndims, t->shape);
        shape_str(exp, sizeof exp, ndims, want);
        sc__model_errf(err, err_len, "%s: %s: shape %s, expected %s", t->file, t->name, got, exp);
        return SC_EFORMAT;
    }
    if (!float_dtype(t->dtype)) {
        sc__model_errf(err, err_len, "%s: %s: unsupported dtype %s (supported: F32, F16, BF16, F64)", t->file,
                       t->name, sc_st_dtype_name(t->dtype));
        return SC_ENOTSUP;
    }
    uint64_t n = sc_st_dtype_size(t->dtype);
    for (int d = 0; d < ndims; d++) n *= (uint64_t)want[d];
    if (!t->data || t->nbytes != n) {
        sc__model_errf(err, err_len, "%s: %s: %zu bytes of data, expected %llu (truncated?)", t->file, t->name,
                       t->nbytes, (unsigned long long)n);
        return SC_ETRUNC;
    }
    return SC_OK;
}

static const sc_st_tensor *find2(const sc_safetensors_t *st, const char *a, const char *b) {
    const sc_st_tensor *t = sc_safetensors_find(st, a);
    return t ? t : sc_safetensors_find(st, b);
}

static int64_t gcd64(int64_t a, int64_t b) {
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Gated DeltaNet conv1d.weight [C, 1, Kc]: Hugging Face orders the channels
 * [q of every key head | k of every key head | v of every value head]; the
 * graph convolves in_proj_qkvz's output in place, grouped by key head g as
 * [q_g | k_g | v of g's r value heads], so the rows are regrouped here in
 * blocks of gcd(dk, r*dv) channels. */
static int resolve_conv(const sc_model_config *c, const sc_safetensors_t *st, const char *where, const sc_wspec *s,
                        wsource *src, char *err, size_t err_len) {
    const int64_t nk = c->linear_n_key_heads, nv = c->linear_n_value_heads, dk = c->linear_key_head_dim;
    const int64_t dv = c->linear_value_head_dim, r = nv / nk, Kc = s->ne[0], C = s->ne[1];
    const sc_st_tensor *t = sc_safetensors_find(st, s->name);
    if (!t) {
        sc__model_errf(err, err_len, "%s: tensor %s is missing", where, s->name);
        return SC_ENOENT;
    }
    const int64_t want[3] = {C, 1, Kc};
    int rc = check_tensor(t, 3, want, err, err_len);
    if (rc != SC_OK) return rc;
    const int64_t blk = gcd64(dk, r * dv), per_group = (2 * dk + r * dv) / blk;
    const size_t row = (size_t)Kc * sc_st_dtype_size(t->dtype);
    src->n_pieces = (int)(C / blk);
    src->piece = calloc((size_t)src->n_pieces, sizeof *src->piece);
    src->piece_off = calloc((size_t)src->n_pieces, sizeof *src->piece_off);
    if (!src->piece || !src->piece_off) return SC_ENOMEM;
    for (int64_t g = 0; g < nk; g++)
        for (int64_t b = 0; b < per_group; b++) {
            const int64_t i = b * blk; /* channel inside the group */
            const int64_t hf = i < dk ? g * dk + i : i < 2 * dk ? nk * dk + g * dk + (i - dk)
                                                                : 2 * nk * dk + g * r * dv + (i - 2 * dk);
            src->piece[g * per_group + b] = t;
            src->piece_off[g * per_group + b] = (size_t)hf * row;
        }
    src->piece_bytes = (size_t)blk * row;
    src->dtype = t->dtype;
    return SC_OK;
}

/* Gated DeltaNet A_log and dt_bias, [nv] each, as the rows of one {nv, 2}. */
static int resolve_ad(const sc_safetensors_t *st, const char *where, const sc_wspec *s, wsource *src, char *err,
                      size_t err_len) {
    static const char *const names[2] = {"A_log", "dt_bias"};
    src->n_pieces = 2;
    src->piece = calloc(2, sizeof *src->piece);
    src->piece_off = calloc(2, sizeof *src->piece_off);
    if (!src->piece || !src->piece_off) return SC_ENOMEM;
    for (int p = 0; p < 2; p++) {
        char name[192];
        snprintf(name, sizeof name, "%s.%s", s->name, names[p]);
        const sc_st_tensor *t = sc_safetensors_find(st, name);
        if (!t) {
            sc__model_errf(err, err_len, "%s: tensor %s is missing", where, name);
            return SC_ENOENT;
        }
        int rc = check_tensor(t, 1, s->ne, err, err_len);
        if (rc != SC_OK) return rc;
        src->piece[p] = t;
    }
    src->dtype = src->piece[0]->dtype;
    return SC_OK;
}

/* Resolve one spec to its source pieces (allocated in src). */
static int resolve(const sc_model_config *c, const sc_safetensors_t *st, const char *where, const sc_wspec *s,
                   wsource *src, char *err, size_t err_len) {
    if (s->part == SC_WP_CONV) return resolve_conv(c, st, where, s, src, err, err_len);
    if (s->part == SC_WP_AD) return resolve_ad(st, where, s, src, err, err_len);
    const int n_pieces = s->kind == SC_W_EXPERTS ? (int)s->ne[2] : 1;
    src->piece = calloc((size_t)n_pieces, sizeof *src->piece);
    src->piece_off = calloc((size_t)n_pieces, sizeof *src->piece_off);
    if (!src->piece || !src->piece_off) return SC_ENOMEM;
    src->n_pieces = n_pieces;

    if (s->kind != SC_W_EXPERTS) {
        const sc_st_tensor *t = sc_safetensors_find(st, s->name);
        if (!t) {
            sc__model_errf(err, err_len, "%s: tensor %s is missing", where, s->name);
            return SC_ENOENT;
        }
        int64_t want[2] = {s->ndims == 2 ? s->ne[1] : s->ne[0], s->ne[0]};
        int rc = check_tensor(t, s->ndims, s->ndims == 2 ? want : s->ne, err, err_len);
        if (rc != SC_OK) return rc;
        src->piece[0] = t;
        src->piece_bytes = t->nbytes;
        src->dtype = t->dtype;
        return SC_OK;
    }

    /* experts: K = ne[0], N = ne[1], E = ne[2] */
    const int64_t K = s->ne[0], N = s->ne[1], E = s->ne[2];
    const char *proj = s->part == SC_WP_GATE ? "gate_proj" : s->part == SC_WP_UP ? "up_proj" : "down_proj";
    char name[192], alt[sizeof name + 8];
    snprintf(name, sizeof name, "%s.0.%s.weight", s->name, proj);
    if (sc_safetensors_find(st, name)) {
        for (int64_t e = 0; e < E; e++) {
            snprintf(name, sizeof name, "%s.%lld.%s.weight", s->name, (long long)e, proj);
            const sc_st_tensor *t = sc_safetensors_find(st, name);
            if (!t) {
                sc__model_errf(err, err_len, "%s: tensor %s is missing", where, name);
                return SC_ENOENT;
            }
            const int64_t want[2] = {N, K};
            int rc = check_tensor(t, 2, want, err, err_len);
            if (rc != SC_OK) return rc;
            if (e > 0 && t->dtype != src->dtype) {
                sc__model_errf(err, err_len, "%s: %s: dtype %s differs from expert 0's %s", t->file, t->name,
                               sc_st_dtype_name(t->dtype), sc_st_dtype_name(src->dtype));
                return SC_EFORMAT;
            }
            src->piece[e] = t;
            src->dtype = t->dtype;
        }
        src->piece_bytes = src->piece[0]->nbytes;
        return SC_OK;
    }

    /* transformers v5 fused: gate_up_proj [E, 2*Imoe, D], down_proj [E, D, Imoe] */
    const bool down = s->part == SC_WP_DOWN;
    snprintf(name, sizeof name, "%s.%s", s->name, down ? "down_proj" : "gate_up_proj");
    snprintf(alt, sizeof alt, "%s.weight", name);
    const sc_st_tensor *t = find2(st, name, alt);
    if (!t) {
        sc__model_errf(err, err_len, "%s: tensor %s.0.%s.weight is missing (nor is the fused %s there)", where,
                       s->name, proj, name);
        return SC_ENOENT;
    }
    const int64_t want[3] = {E, down ? N : 2 * N, K};
    int rc = check_tensor(t, 3, want, err, err_len);
    if (rc != SC_OK) return rc;
    const size_t es = sc_st_dtype_size(t->dtype);
    const size_t mat = (size_t)(N * K) * es; /* one expert's [N, K] */
    for (int64_t e = 0; e < E; e++) {
        src->piece[e] = t;
        src->piece_off[e] = (size_t)e * (down ? mat : 2 * mat) + (s->part == SC_WP_UP ? mat : 0);
    }
    src->piece_bytes = mat;
    src->dtype = t->dtype;
    return SC_OK;
}

/* ---- upload ------------------------------------------------------------ */
static float load_f(const void *p, sc_st_dtype dt, size_t i) {
    switch (dt) {
    case SC_ST_F32: { float f; memcpy(&f, (const char *)p + 4 * i, 4); return f; }
    case SC_ST_F64: { double d; memcpy(&d, (const char *)p + 8 * i, 8); return (float)d; }
    case SC_ST_F16: { uint16_t h; memcpy(&h, (const char *)p + 2 * i, 2); return sc_f16_to_f32(h); }
    case SC_ST_BF16: { uint16_t h; memcpy(&h, (const char *)p + 2 * i, 2); return sc_bf16_to_f32(h); }
    default: return 0.0f;
    }
}

static void store_f(void *p, sc_type t, size_t i, float f) {
    if (t == SC_TYPE_F32) {
        memcpy((char *)p + 4 * i, &f, 4);
    } else {
        uint16_t h = t == SC_TYPE_F16 ? sc_f32_to_f16(f) : sc_f32_to_bf16(f);
        memcpy((char *)p + 2 * i, &h, 2);
    }
}

typedef struct upload_state {
    uint64_t done, total;
    sc_progress_fn progress;
    void *user;
    void *tmp; /* CONVERT_CHUNK f32 */
    const sc_safetensors_t *st; /* whose pages are dropped once uploaded */
} upload_state;

/* Drop the checkpoint's pages of [*from, upto) (a piece being uploaded in
 * chunks), then move *from to upto's page so the page straddling two chunks
 * goes with the next one. Keeps the mapped source from piling up in RSS next
 * to the device copy of a big tensor (a 1.5 GB embedding). */
static void release_upto(upload_state *u, const char *base, const char **from, const char *upto) {
    if (upto <= *from) return;
    sc__safetensors_release(u->st, *from, (size_t)(upto - *from));
    const long ps = sysconf(_SC_PAGESIZE);
    const uintptr_t page = ps > 0 ? (uintptr_t)ps : 4096u;
    const char *next = (const char *)((uintptr_t)upto & ~(page - 1));
    *from = next > base ? next : base;
}

static void report(upload_state *u, size_t bytes) {
    u->done += bytes;
    if (u->progress && u->total) u->progress((double)u->done / (double)u->total, u->user);
}

/* Copy `bytes` of stored data (dtype dt) to t at dst_off, converting when
 * the device dtype differs. */
static int upload_piece(upload_state *u, sc_tensor *t, size_t dst_off, const void *data, size_t bytes,
                        sc_st_dtype dt, sc_wxform xf) {
    const size_t des = sc_type_size(t->type), ses = sc_st_dtype_size(dt);
    const float add = xf == SC_WX_PLUS_ONE ? 1.0f : 0.0f;
    const bool same = xf == SC_WX_NONE &&
                      ((dt == SC_ST_F32 && t->type == SC_TYPE_F32) || (dt == SC_ST_F16 && t->type == SC_TYPE_F16) ||
                       (dt == SC_ST_BF16 && t->type == SC_TYPE_BF16));
    const char *base = data, *from = base;
    if (same) {
        for (size_t o = 0; o < bytes; o += UPLOAD_CHUNK) {
            size_t n = SC_MIN(UPLOAD_CHUNK, bytes - o);
            int rc = sc_tensor_set(t, (const char *)data + o, dst_off + o, n);
            if (rc != SC_OK) return rc;
            release_upto(u, base, &from, base + o + n);
            report(u, n);
        }
        return SC_OK;
    }
    const size_t n_el = bytes / ses;
    for (size_t i = 0; i < n_el; i += CONVERT_CHUNK) {
        size_t n = SC_MIN((size_t)CONVERT_CHUNK, n_el - i);
        for (size_t j = 0; j < n; j++) store_f(u->tmp, (sc_type)t->type, j, load_f(data, dt, i + j) + add);
        int rc = sc_tensor_set(t, u->tmp, dst_off + i * des, n * des);
        if (rc != SC_OK) return rc;
        if ((i / CONVERT_CHUNK) % 256 == 255 || i + n == n_el) release_upto(u, base, &from, base + (i + n) * ses);
        report(u, n * des);
    }
    return SC_OK;
}

int sc__model_load_weights(sc_model_t *m, sc_safetensors_t *st, struct sc_qformat *fmt, const char *where,
                           const sc_model_opts *opts, char *err, size_t err_len) {
    sc_wspec *specs = NULL;
    int n = 0;
    int rc = sc__model_weight_specs(m, &specs, &n);
    if (rc != SC_OK) return rc;
    wsource *src = calloc((size_t)n, sizeof *src);
    sc_type *types = calloc((size_t)n, sizeof *types);
    sc_wquant *quant = fmt ? calloc((size_t)n, sizeof *quant) : NULL;
    upload_state u = {0};
    u.st = st; /* the checkpoint's pages of each piece are dropped once uploaded */
    u.tmp = malloc((size_t)CONVERT_CHUNK * sizeof(float));
    if (!src || !types || !u.tmp || (fmt && !quant)) rc = SC_ENOMEM;

    /* 1. find and check every tensor before touching any device memory */
    for (int i = 0; i < n && rc == SC_OK; i++) {
        /* a quantized Linear (the format plugin says so) replaces <module>.weight */
        if (fmt) rc = sc__wquant_resolve(fmt, &specs[i], &quant[i], err, err_len);
        if (rc != SC_OK || (quant && quant[i].d.quantized)) {
            types[i] = SC_TYPE_QG;
            continue;
        }
        rc = resolve(&m->cfg, st, where, &specs[i], &src[i], err, err_len);
        types[i] = device_type(specs[i].kind, src[i].dtype);
    }
    /* 2. descriptors and buffers */
    if (rc == SC_OK) {
        rc = sc__model_alloc_weights(m, specs, n, types, quant);
        if (rc != SC_OK) sc__model_errf(err, err_len, "cannot allocate %s weights: %s", where, sc_strerror(rc));
    }
    if (rc == SC_OK) rc = sc__model_init_constants(m);
    /* 3. upload, reporting progress by bytes written */
    for (int i = 0; i < n && rc == SC_OK; i++) u.total += sc_tensor_nbytes(*specs[i].slot);
    if (opts && SC_HAS_FIELD(opts, sc_model_opts, progress_user)) {
        u.progress = opts->progress;
        u.user = opts->progress_user;
    }
    for (int i = 0; i < n && rc == SC_OK; i++) {
        sc_tensor *t = *specs[i].slot;
        if (quant && quant[i].d.quantized) {
            rc = sc__wquant_upload(fmt, t, &quant[i], err, err_len);
            if (rc == SC_OK) report(&u, sc_tensor_nbytes(t));
            continue;
        }
        const size_t dst_piece = sc_tensor_nbytes(t) / (size_t)src[i].n_pieces;
        for (int p = 0; p < src[i].n_pieces && rc == SC_OK; p++) {
            const sc_st_tensor *pt = src[i].piece[p];
            /* SC_WP_AD's pieces are whole 1-D tensors, each in its own dtype */
            const bool whole = specs[i].part == SC_WP_AD;
            rc = upload_piece(&u, t, (size_t)p * dst_piece, (const char *)pt->data + src[i].piece_off[p],
                              whole ? pt->nbytes : src[i].piece_bytes, whole ? pt->dtype : src[i].dtype,
                              specs[i].xform);
        }
        if (rc != SC_OK) sc__model_errf(err, err_len, "uploading %s to %s: %s", specs[i].name, sc_device_name(m->dev),
                                        sc_strerror(rc));
    }
    for (int i = 0; src && i < n; i++) {
        free(src[i].piece);
        free(src[i].piece_off);
    }
    for (int i = 0; quant && i < n; i++) sc__wquant_free(&quant[i]);
    free(quant);
    free(src);
    free(types);
    free(u.tmp);
    free(specs);
    return rc;
}

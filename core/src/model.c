/*
 * core/src/model.c - loading a model, its sequences, and the forward step.
 *
 * One step: validate the whole batch (token ids, sequences, lengths) before
 * anything is written; give each sequence the KV blocks it will reach; then,
 * in chunks of at most UBATCH tokens, reset the step context, stage the i32
 * inputs (tokens, positions, sequences, rows that want logits) in one upload,
 * build the graph (model_qwen3.c) and run it with the model's scheduler,
 * whose arenas are reused from step to step. Sequence lengths advance only
 * when every chunk succeeded.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "model_internal.h"
#include "qformat.h"

#define UBATCH 512 /* tokens per graph: bounds activation memory in long prefills */

/* ---- options ------------------------------------------------------------ */
/* Options with struct_size 0 are read whole (a zero-initialised struct works). */
static sc_model_opts read_opts(const sc_model_opts *o) {
    sc_model_opts r;
    memset(&r, 0, sizeof r);
    if (!o) return r;
    size_t n = o->struct_size == 0 || o->struct_size > sizeof r ? sizeof r : o->struct_size;
    memcpy(&r, o, n);
    r.struct_size = sizeof r;
    return r;
}

int sc__model_check_config(const sc_model_config *c, char *err, size_t err_len) {
    if (c->arch != SC_ARCH_QWEN3 && c->arch != SC_ARCH_QWEN3_MOE && c->arch != SC_ARCH_QWEN3_NEXT) {
        sc__model_errf(err, err_len, "architecture '%s' is not supported (supported: Qwen3ForCausalLM, "
                       "Qwen3MoeForCausalLM, Qwen3NextForCausalLM)", c->arch_name);
        return SC_ENOTSUP;
    }
    const int64_t lim = (int64_t)1 << 30;
    const char *bad = NULL;
    if (c->vocab_size <= 0 || c->vocab_size > lim) bad = "vocab_size";
    else if (c->hidden_size <= 0 || c->hidden_size > lim) bad = "hidden_size";
    else if (c->n_layers <= 0 || c->n_layers > SC_MAX_LAYERS) bad = "num_hidden_layers";
    else if (c->n_heads <= 0 || c->n_heads > 65536) bad = "num_attention_heads";
    else if (c->n_kv_heads <= 0 || c->n_heads % c->n_kv_heads != 0) bad = "num_key_value_heads";
    else if (c->head_dim <= 0 || c->head_dim > 65536) bad = "head_dim";
    else if (!(c->rms_norm_eps >= 0.0)) bad = "rms_norm_eps";
    else if (!(c->rope_theta > 0.0)) bad = "rope_theta";
    if (!bad) {
        double r = (double)c->head_dim * c->partial_rotary_factor;
        int n_rot = (int)r;
        if (!(c->partial_rotary_factor > 0.0 && c->partial_rotary_factor <= 1.0) || n_rot <= 0 || n_rot % 2 != 0 ||
            (double)n_rot != r)
            bad = "partial_rotary_factor (head_dim * factor must be a positive even integer)";
    }
    bool any_dense = false, any_moe = false;
    for (int64_t L = 0; !bad && L < c->n_layers; L++) {
        if (sc_model_config_layer_is_moe(c, L)) any_moe = true;
        else any_dense = true;
    }
    if (!bad && any_dense && (c->intermediate_size <= 0 || c->intermediate_size > lim)) bad = "intermediate_size";
    if (!bad && any_moe) {
        if (c->n_experts <= 0 || c->n_experts > 65536) bad = "num_experts";
        else if (c->n_experts_used <= 0 || c->n_experts_used > c->n_experts) bad = "num_experts_per_tok";
        else if (c->moe_intermediate_size <= 0 || c->moe_intermediate_size > lim) bad = "moe_intermediate_size";
    }
    if (!bad && c->arch == SC_ARCH_QWEN3_NEXT && c->n_linear_layers > 0) {
        if (c->linear_n_key_heads <= 0 || c->linear_n_key_heads > 4096) bad = "linear_num_key_heads";
        else if (c->linear_n_value_heads <= 0 || c->linear_n_value_heads % c->linear_n_key_heads != 0)
            bad = "linear_num_value_heads";
        else if (c->linear_key_head_dim <= 0 || c->linear_key_head_dim > 256) bad = "linear_key_head_dim";
        else if (c->linear_value_head_dim <= 0 || c->linear_value_head_dim > 256) bad = "linear_value_head_dim";
        else if (c->linear_conv_kernel < 2 || c->linear_conv_kernel > 16) bad = "linear_conv_kernel_dim";
    }
    if (!bad && c->shared_expert_intermediate_size > lim) bad = "shared_expert_intermediate_size";
    if (bad) {
        sc__model_errf(err, err_len, "config of %s: bad %s", c->arch_name, bad);
        return SC_EFORMAT;
    }
    return SC_OK;
}

static int ensure_inputs(sc_model_t *m, size_t bytes, size_t elems);

/* ---- create / free ------------------------------------------------------ */
void sc_model_free(sc_model_t *m) {
    if (!m) return;
    sc_sched_destroy(m->sched);
    sc_graph_destroy(m->graph);
    sc_ctx_destroy(m->ctx);
    sc_buffer_destroy(m->inbuf);
    sc__kv_free(&m->kv);
    free(m->kv_layer);
    for (int i = 0; i < m->n_sbufs; i++) sc_buffer_destroy(m->sbufs[i]);
    free(m->sbufs);
    sc_ctx_destroy(m->sctx);
    free(m->conv_state);
    free(m->ssm_state);
    for (int i = 0; i < m->n_wbufs; i++) sc_buffer_destroy(m->wbufs[i]);
    free(m->wbufs);
    sc_ctx_destroy(m->wctx);
    free(m->layers);
    free(m->stage);
    sc_registry_destroy(m->own_reg); /* last: the devices may be its */
    free(m);
}

static sc_device_t *own_cpu(sc_model_t *m) {
    if (!m->own_reg) {
        sc_registry_opts ro;
        memset(&ro, 0, sizeof ro);
        ro.struct_size = sizeof ro;
        ro.no_env = true;
        ro.no_default_paths = true;
        if (sc_registry_create(&ro, &m->own_reg) != SC_OK) return NULL;
    }
    return sc_registry_find_device(m->own_reg, "cpu");
}

int sc__model_create(const sc_model_config *cfg, const sc_model_opts *opts_in, sc_model_t **out, char *err,
                     size_t err_len) {
    sc_model_opts o = read_opts(opts_in);
    int rc = sc__model_check_config(cfg, err, err_len);
    if (rc != SC_OK) return rc;
    sc_model_t *m = calloc(1, sizeof *m);
    if (!m) return SC_ENOMEM;
    m->cfg = *cfg;
    m->layers = calloc((size_t)cfg->n_layers, sizeof *m->layers);
    if (!m->layers) {
        sc_model_free(m);
        return SC_ENOMEM;
    }
    m->dev = o.device ? o.device : own_cpu(m);
    m->fallback = o.fallback;
    if (!m->fallback && m->dev) {
        sc_device_props p;
        memset(&p, 0, sizeof p);
        p.struct_size = sizeof p;
        bool is_cpu = sc_device_get_props(m->dev, &p) == SC_OK && p.type == SC_DEVICE_CPU;
        m->fallback = is_cpu ? m->dev : own_cpu(m);
    }
    if (!m->dev || !m->fallback) {
        sc__model_errf(err, err_len, "no CPU device available");
        sc_model_free(m);
        return SC_EBACKEND;
    }
    *out = m;
    return SC_OK;
}

int sc__model_finish(sc_model_t *m, const sc_model_opts *opts_in, char *err, size_t err_len) {
    sc_model_opts o = read_opts(opts_in);
    const sc_model_config *c = &m->cfg;
    int64_t max_len = o.max_model_len;
    if (max_len == 0) max_len = c->max_position_embeddings > 0 ? SC_MIN(c->max_position_embeddings, 4096) : 4096;
    int n_seqs = o.max_seqs ? o.max_seqs : 1;
    int bs = o.block_size ? o.block_size : 16;
    sc_type kvt = o.kv_type;
    if (max_len < 0 || max_len > INT32_MAX || n_seqs < 0 || bs < 0 ||
        (kvt != SC_TYPE_F32 && kvt != SC_TYPE_F16 && kvt != SC_TYPE_BF16)) {
        sc__model_errf(err, err_len, "bad model options (max_model_len %lld, max_seqs %d, block_size %d, kv_type %d)",
                       (long long)max_len, n_seqs, bs, (int)kvt);
        return SC_EINVAL;
    }
    if (c->max_position_embeddings > 0 && max_len > c->max_position_embeddings)
        sc_log(SC_LOG_WARN, "model", "max_model_len %lld exceeds max_position_embeddings %lld", (long long)max_len,
               (long long)c->max_position_embeddings);
    m->max_len = max_len;
    /* a memory budget: as many whole blocks as fit, and at least one
     * full-length sequence's worth */
    int64_t n_blocks = 0;
    /* the paged KV cache serves the full-attention layers only (at least one
     * layer's worth is kept: the block tables track every sequence) */
    m->kv_layer = malloc((size_t)c->n_layers * sizeof *m->kv_layer);
    if (!m->kv_layer) return SC_ENOMEM;
    int64_t n_attn = 0;
    for (int64_t L = 0; L < c->n_layers; L++)
        m->kv_layer[L] = sc_model_config_layer_is_linear(c, L) ? -1 : (int)n_attn++;
    const int64_t kv_layers = n_attn > 0 ? n_attn : 1;
    if (o.kv_cache_bytes) {
        uint64_t per_block = 2ull * (uint64_t)kv_layers * (uint64_t)c->n_kv_heads * (uint64_t)c->head_dim *
                             sc_type_size(kvt) * (uint64_t)bs;
        int64_t need = (max_len + bs - 1) / bs;
        uint64_t fit = per_block ? o.kv_cache_bytes / per_block : 0;
        if (fit < (uint64_t)need) {
            sc__model_errf(err, err_len,
                           "a KV cache of %llu bytes holds %llu tokens, fewer than max_model_len (%lld): raise the "
                           "KV cache memory to at least %llu bytes or lower max_model_len",
                           (unsigned long long)o.kv_cache_bytes, (unsigned long long)(fit * (uint64_t)bs),
                           (long long)max_len, (unsigned long long)((uint64_t)need * per_block));
            return SC_EINVAL;
        }
        n_blocks = fit > (uint64_t)(INT32_MAX / bs) ? INT32_MAX / bs : (int64_t)fit;
    }
    int rc = sc__kv_init(&m->kv, m->dev, kvt, kv_layers, c->head_dim, c->n_kv_heads, max_len, n_seqs, bs,
                         n_blocks);
    if (rc != SC_OK) {
        sc__model_errf(err, err_len, "cannot allocate the KV cache (%lld tokens x %d sequences, %s) on %s: %s",
                       (long long)max_len, n_seqs, sc_type_name(kvt), sc_device_name(m->dev), sc_strerror(rc));
        return rc;
    }
    rc = sc__model_state_init(m);
    if (rc != SC_OK) {
        sc__model_errf(err, err_len, "cannot allocate the recurrent state (%d sequences, %.1f MiB each) on %s: %s",
                       n_seqs, (double)sc__model_state_bytes_per_seq(c) / (1024.0 * 1024.0), sc_device_name(m->dev),
                       sc_strerror(rc));
        return rc;
    }
    sc_device_t *devs[2] = {m->dev, m->fallback};
    rc = sc_sched_create(devs, m->fallback == m->dev ? 1 : 2, &m->sched);
    m->graph_cap = sc__qwen3_graph_size(c);
    m->ctx = sc_ctx_create((size_t)m->graph_cap);
    m->graph = sc_graph_create((int)m->graph_cap);
    if (rc == SC_OK && (!m->ctx || !m->graph)) rc = SC_ENOMEM;
    if (rc == SC_OK) rc = ensure_inputs(m, 4096, 1024);
    if (rc != SC_OK) sc__model_errf(err, err_len, "cannot create the scheduler: %s", sc_strerror(rc));
    return rc;
}

int sc_model_load(const char *dir, const sc_model_opts *opts, sc_model_t **out, char *err, size_t err_len) {
    if (err && err_len) err[0] = '\0';
    if (!out) return SC_EINVAL;
    *out = NULL;
    if (!dir) return SC_EINVAL;
    sc_model_config cfg;
    int rc = sc_model_config_load(dir, &cfg, err, err_len);
    if (rc != SC_OK) return rc;
    sc_model_t *m = NULL;
    rc = sc__model_create(&cfg, opts, &m, err, err_len);
    if (rc != SC_OK) return rc;
    sc_safetensors_t *st = NULL;
    rc = sc_safetensors_open(dir, &st, err, err_len);
    /* A quantized checkpoint goes through the format plugin that claims its
     * quantization config; the plugin is only needed while loading. */
    char *qjson = NULL;
    sc_registry_t *freg = NULL;
    sc_qformat *fmt = NULL;
    if (rc == SC_OK) rc = sc__quant_config_json(dir, &qjson, err, err_len);
    if (rc == SC_OK && qjson) {
        sc_model_opts o = read_opts(opts);
        sc_registry_t *reg = o.registry;
        if (!reg && (rc = sc_registry_create(NULL, &freg)) != SC_OK)
            sc__model_errf(err, err_len, "cannot create a plugin registry for the format plugins: %s", sc_strerror(rc));
        if (rc == SC_OK) rc = sc__qformat_open(reg ? reg : freg, qjson, st, &fmt, err, err_len);
    }
    if (rc == SC_OK) rc = sc__model_load_weights(m, st, fmt, dir, opts, err, err_len);
    sc__qformat_close(fmt);
    sc_registry_destroy(freg);
    free(qjson);
    sc_safetensors_close(st);
    if (rc == SC_OK) rc = sc__model_finish(m, opts, err, err_len);
    if (rc != SC_OK) {
        sc_model_free(m);
        return rc;
    }
    sc_log(SC_LOG_INFO, "model", "%s: %s, %lld layers, %.2f GiB of weights on %s", dir, cfg.arch_name,
           (long long)cfg.n_layers, (double)m->weight_bytes / (1024.0 * 1024.0 * 1024.0), sc_device_name(m->dev));
    *out = m;
    return SC_OK;
}

/* ---- queries ------------------------------------------------------------ */
const sc_model_config *sc_model_config_of(const sc_model_t *m) { return m ? &m->cfg : NULL; }
uint64_t sc_model_weight_bytes(const sc_model_t *m) { return m ? m->weight_bytes : 0; }
int64_t sc_model_max_len(const sc_model_t *m) { return m ? m->max_len : 0; }

static uint64_t nbytes(const sc_tensor *t) { return t ? sc_tensor_nbytes(t) : 0; }

uint64_t sc_model_decode_bytes(const sc_model_t *m, int64_t n_ctx) {
    if (!m) return 0;
    const sc_model_config *c = &m->cfg;
    /* one embedding row, the final norm, the whole lm_head */
    uint64_t b = nbytes(m->tok_embd) / (uint64_t)c->vocab_size + nbytes(m->out_norm) + nbytes(m->lm_head);
    for (int64_t L = 0; L < c->n_layers; L++) {
        const sc_layer_weights *w = &m->layers[L];
        b += nbytes(w->attn_norm) + nbytes(w->ffn_norm) + nbytes(w->q_norm) + nbytes(w->k_norm);
        b += nbytes(w->wq) + nbytes(w->wk) + nbytes(w->wv) + nbytes(w->wo);
        b += nbytes(w->bq) + nbytes(w->bk) + nbytes(w->bv) + nbytes(w->bo);
        b += nbytes(w->ssm_in) + nbytes(w->ssm_ba) + nbytes(w->ssm_conv) + nbytes(w->ssm_ad) + nbytes(w->ssm_norm);
        b += nbytes(w->ssm_out) + nbytes(w->sh_gate) + nbytes(w->sh_up) + nbytes(w->sh_down) + nbytes(w->sh_gate_w);
        if (w->moe) {
            /* router, the k experts used, and the k one-hot rows of the gather */
            const uint64_t E = (uint64_t)c->n_experts, k = (uint64_t)c->n_experts_used;
            b += nbytes(w->router) + k * (nbytes(w->exp_gate) + nbytes(w->exp_up) + nbytes(w->exp_down)) / E;
            b += k * E * sizeof(float);
        } else {
            b += nbytes(w->gate) + nbytes(w->up) + nbytes(w->down);
        }
    }
    /* one sequence's recurrent state, read and written back */
    b += 2 * sc__model_state_bytes_per_seq(c);
    return b + (uint64_t)(n_ctx > 0 ? n_ctx : 0) * sc__kv_bytes_per_token(&m->kv);
}

/* ---- recurrent state ------------------------------------------------------ */
uint64_t sc__model_state_bytes_per_seq(const sc_model_config *c) {
    if (c->arch != SC_ARCH_QWEN3_NEXT) return 0;
    const uint64_t nk = (uint64_t)c->linear_n_key_heads, nv = (uint64_t)c->linear_n_value_heads;
    const uint64_t dk = (uint64_t)c->linear_key_head_dim, dv = (uint64_t)c->linear_value_head_dim;
    const uint64_t conv = (2 * nk * dk + nv * dv) * (uint64_t)(c->linear_conv_kernel - 1);
    return (uint64_t)c->n_linear_layers * (conv + nv * dk * dv) * sizeof(float);
}

/* Per Gated DeltaNet layer: conv state f32 {C, Kc-1, n_seqs} (the last Kc-1
 * inputs of each channel) and the delta-rule state f32 {dv, dk, nv, n_seqs}
 * (S[s][h][i][j]), on the model's device. No clearing: a
 * sequence's first step (position 0) starts from zero inside the ops. */
int sc__model_state_init(sc_model_t *m) {
    const sc_model_config *c = &m->cfg;
    if (c->arch != SC_ARCH_QWEN3_NEXT || c->n_linear_layers == 0) return SC_OK;
    const int64_t nk = c->linear_n_key_heads, nv = c->linear_n_value_heads, dk = c->linear_key_head_dim;
    const int64_t dv = c->linear_value_head_dim, C = nk * (2 * dk) + nv * dv, S = m->kv.n_seqs;
    m->conv_state = calloc((size_t)c->n_layers, sizeof *m->conv_state);
    m->ssm_state = calloc((size_t)c->n_layers, sizeof *m->ssm_state);
    sc_tensor **all = calloc((size_t)(2 * c->n_linear_layers), sizeof *all);
    m->sctx = sc_ctx_create((size_t)(2 * c->n_linear_layers + 4));
    int rc = m->conv_state && m->ssm_state && all && m->sctx ? SC_OK : SC_ENOMEM;
    int n = 0;
    for (int64_t L = 0; L < c->n_layers && rc == SC_OK; L++) {
        if (!sc_model_config_layer_is_linear(c, L)) continue;
        const int64_t ne_conv[3] = {C, c->linear_conv_kernel - 1, S}, ne_ssm[4] = {dv, dk, nv, S};
        sc_tensor *cs = sc_new_tensor(m->sctx, SC_TYPE_F32, 3, ne_conv);
        sc_tensor *ss = sc_new_tensor(m->sctx, SC_TYPE_F32, 4, ne_ssm);
        if (!cs || !ss) {
            rc = sc_ctx_error(m->sctx) != SC_OK ? sc_ctx_error(m->sctx) : SC_ENOMEM;
            break;
        }
        sc_tensor_set_name(cs, "conv_state.%lld", (long long)L);
        sc_tensor_set_name(ss, "ssm_state.%lld", (long long)L);
        m->conv_state[L] = all[n++] = cs;
        m->ssm_state[L] = all[n++] = ss;
    }
    /* one buffer per layer: a layer's state for many sequences is already
     * large (2 MiB x max_num_seqs at the 80B's sizes), and devices cap single
     * allocations (Vulkan on NVIDIA: 4 GiB) */
    m->sbufs = calloc((size_t)(n / 2 + 1), sizeof *m->sbufs);
    if (rc == SC_OK && !m->sbufs) rc = SC_ENOMEM;
    for (int i = 0; i + 1 < n && rc == SC_OK; i += 2)
        rc = sc_alloc_tensors(m->dev, all + i, 2, &m->sbufs[m->n_sbufs++]);
    if (rc == SC_OK) m->state_bytes = sc__model_state_bytes_per_seq(c) * (uint64_t)S;
    free(all);
    return rc;
}

/* ---- sequences ---------------------------------------------------------- */
int sc_model_seq_reset(sc_model_t *m, int seq) {
    if (!m || seq < 0 || seq >= m->kv.n_seqs) return SC_EINVAL;
    sc__kv_seq_reset(&m->kv, seq);
    return SC_OK;
}

int64_t sc_model_seq_len(const sc_model_t *m, int seq) {
    if (!m || seq < 0 || seq >= m->kv.n_seqs) return SC_EINVAL;
    return m->kv.seq_len[seq];
}

/* ---- one graph ---------------------------------------------------------- */
/* Make room for `bytes` of inputs on the device. */
static int ensure_inputs(sc_model_t *m, size_t bytes, size_t elems) {
    if (elems > m->stage_cap) {
        int32_t *s = realloc(m->stage, elems * sizeof *s);
        if (!s) return SC_ENOMEM;
        m->stage = s;
        m->stage_cap = elems;
    }
    if (m->inbuf && m->inbuf_size >= bytes) return SC_OK;
    m->step_valid = false; /* the kept graph's inputs live in the old buffer */
    sc_buffer_destroy(m->inbuf);
    m->inbuf = NULL;
    m->inbuf_size = 0;
    size_t want = SC_MAX(bytes, (size_t)4096);
    int rc = sc_buffer_create(m->dev, want, &m->inbuf);
    if (rc == SC_OK) m->inbuf_size = want;
    return rc;
}

/* Run tokens [0, T) of a chunk. out_rows: indices (in the chunk) of the n_out
 * rows that want logits, ascending; logits gets n_out rows of V floats. */
static int run_chunk(sc_model_t *m, int T, const int32_t *tokens, const int32_t *pos, const int32_t *seq, int n_out,
                     const int32_t *out_rows, float *logits) {
    const bool out_all = n_out == T;
    const int n_sel = out_all ? 0 : n_out;
    /* staging layout: six i32 arrays, each at an aligned offset (the input
     * buffer exists from load on, so the device's alignment is known) */
    const size_t align_el = SC_MAX((size_t)64, sc_buffer_alignment(m->inbuf) / sizeof(int32_t));
    const size_t seg_t = SC_ALIGN_UP((size_t)T, align_el), seg_o = SC_ALIGN_UP((size_t)(n_sel ? n_sel : 1), align_el);
    const size_t elems = 3 * seg_t + 3 * seg_o;
    int rc = ensure_inputs(m, elems * sizeof(int32_t), elems);
    if (rc != SC_OK) return rc;

    int32_t *st = m->stage;
    memcpy(st, tokens, (size_t)T * sizeof *st);
    memcpy(st + seg_t, pos, (size_t)T * sizeof *st);
    memcpy(st + 2 * seg_t, seq, (size_t)T * sizeof *st);
    for (int i = 0; i < n_sel; i++) {
        st[3 * seg_t + (size_t)i] = out_rows[i];
        st[3 * seg_t + seg_o + (size_t)i] = pos[out_rows[i]];
        st[3 * seg_t + 2 * seg_o + (size_t)i] = seq[out_rows[i]];
    }

    const double t0 = sc__now_us();
    /* The graph depends on T and n_out only (every other input is memory
     * contents: tokens, positions, block tables): the same shape as the last
     * step reuses its graph, and the scheduler its plan. */
    const bool reuse = m->step_valid && m->step_T == T && m->step_n_out == n_out && m->step_inbuf == m->inbuf;
    sc_tensor *all = reuse ? m->step_all : NULL, *out = reuse ? m->step_out : NULL;
    m->step_valid = false;
    if (!reuse) {
        sc_ctx_reset(m->ctx);
        sc_graph_reset(m->graph);
        sc_ctx_t *ctx = m->ctx;
        all = sc_new_tensor_1d(ctx, SC_TYPE_I32, (int64_t)elems);
        sc_step_inputs in = {.n_tokens = T, .n_out = n_out, .out_all = out_all};
        in.tokens = sc_new_tensor_1d(ctx, SC_TYPE_I32, T);
        in.pos = sc_new_tensor_1d(ctx, SC_TYPE_I32, T);
        in.seq = sc_new_tensor_1d(ctx, SC_TYPE_I32, T);
        if (n_sel) {
            in.out_ids = sc_new_tensor_1d(ctx, SC_TYPE_I32, n_sel);
            in.pos_out = sc_new_tensor_1d(ctx, SC_TYPE_I32, n_sel);
            in.seq_out = sc_new_tensor_1d(ctx, SC_TYPE_I32, n_sel);
        }
        rc = sc_ctx_error(ctx);
        if (rc != SC_OK) return rc;
        sc_tensor *const ins[6] = {in.tokens, in.pos, in.seq, in.out_ids, in.pos_out, in.seq_out};
        const size_t offs[6] = {0, seg_t, 2 * seg_t, 3 * seg_t, 3 * seg_t + seg_o, 3 * seg_t + 2 * seg_o};
        rc = sc_tensor_alloc(m->inbuf, all, 0);
        for (int i = 0; i < 6 && rc == SC_OK; i++) {
            if (!ins[i]) continue;
            ins[i]->flags |= SC_TENSOR_INPUT;
            rc = sc_tensor_alloc(m->inbuf, ins[i], offs[i] * sizeof(int32_t));
        }
        if (rc != SC_OK) return rc;
        rc = m->cfg.arch == SC_ARCH_QWEN3_NEXT ? sc__qwen3_next_build(m, ctx, m->graph, &in, &out)
                                               : sc__qwen3_build(m, ctx, m->graph, &in, &out);
        if (rc != SC_OK) {
            sc_log(SC_LOG_ERROR, "model", "building the graph failed: %s (%s)", sc_ctx_error_msg(ctx),
                   sc_strerror(rc));
            return rc;
        }
    }
    const double t1 = sc__now_us();
    rc = sc_tensor_set(all, st, 0, elems * sizeof(int32_t));
    if (rc == SC_OK) rc = sc__kv_sync(&m->kv);
    if (rc != SC_OK) return rc;
    const double t2 = sc__now_us();
    rc = sc_sched_compute(m->sched, m->graph);
    const double t3 = sc__now_us();
    if (rc == SC_OK) {
        m->step_valid = true;
        m->step_T = T;
        m->step_n_out = n_out;
        m->step_inbuf = m->inbuf;
        m->step_all = all;
        m->step_out = out;
    }
    if (rc == SC_OK && out && logits)
        rc = sc_tensor_get(out, logits, 0, (size_t)n_out * (size_t)m->cfg.vocab_size * sizeof(float));
    /* where a step's host time goes (a GPU idles through all but compute) */
    if (sc_log_get_level() >= SC_LOG_DEBUG)
        sc_log(SC_LOG_DEBUG, "model", "chunk of %d tokens: build %.0f us (%d nodes%s), inputs %.0f us, plan+compute %.0f us, "
               "logits %.0f us", T, t1 - t0, m->graph->n_nodes, reuse ? ", reused" : "", t2 - t1, t3 - t2,
               sc__now_us() - t3);
    return rc;
}

/* ---- forward ------------------------------------------------------------ */
/* The batch: token i of sequence seq[i] at position pos[i]; want[i] != 0:
 * its logits row is returned (rows in token order). */
static int forward(sc_model_t *m, int n, const int32_t *tokens, const int32_t *seq, const uint8_t *want,
                   float *logits) {
    const sc_model_config *c = &m->cfg;
    int32_t *pos = malloc((size_t)n * sizeof *pos);
    int32_t *rows = malloc((size_t)n * sizeof *rows);
    int64_t *add = calloc((size_t)m->kv.n_seqs, sizeof *add);
    int rc = pos && rows && add ? SC_OK : SC_ENOMEM;
    /* check everything before any state changes */
    for (int i = 0; i < n && rc == SC_OK; i++) {
        if (tokens[i] < 0 || tokens[i] >= c->vocab_size || seq[i] < 0 || seq[i] >= m->kv.n_seqs) {
            rc = SC_ERANGE;
            break;
        }
        int64_t p = m->kv.seq_len[seq[i]] + add[seq[i]]++;
        if (p >= m->max_len) rc = SC_ERANGE;
        pos[i] = (int32_t)p;
    }
    /* Gated DeltaNet layers read a sequence's tokens as one run per step:
     * its tokens must be adjacent in the batch (interleaving would split the
     * recurrence). A batch chunked below is checked per chunk by the ops'
     * contract; adjacency in the whole batch implies it in every chunk. */
    if (rc == SC_OK && m->conv_state) {
        memset(add, 0, (size_t)m->kv.n_seqs * sizeof *add);
        for (int i = 0; i < n && rc == SC_OK; i++) {
            if (i > 0 && seq[i] == seq[i - 1]) continue;
            if (add[seq[i]]++) {
                sc_log(SC_LOG_ERROR, "model", "batch: the tokens of sequence %d are not adjacent (models with "
                       "linear-attention layers need each sequence's tokens together)", seq[i]);
                rc = SC_EINVAL;
            }
        }
        memset(add, 0, (size_t)m->kv.n_seqs * sizeof *add);
        for (int i = 0; i < n && rc == SC_OK; i++) add[seq[i]]++;
    }
    for (int s = 0; s < m->kv.n_seqs && rc == SC_OK; s++)
        if (add[s]) rc = sc__kv_reserve(&m->kv, s, m->kv.seq_len[s] + add[s]);

    const size_t V = (size_t)c->vocab_size;
    size_t row_out = 0;
    for (int start = 0; start < n && rc == SC_OK; start += UBATCH) {
        const int T = SC_MIN(UBATCH, n - start);
        int n_out = 0;
        for (int i = 0; i < T; i++)
            if (want && want[start + i]) rows[n_out++] = i;
        rc = run_chunk(m, T, tokens + start, pos + start, seq + start, logits ? n_out : 0, rows,
                       logits ? logits + row_out * V : NULL);
        row_out += (size_t)n_out;
    }
    if (rc == SC_OK) {
        /* the cache holds these tokens now: record their ids (prefix
         * caching hashes full blocks by content) and advance */
        for (int i = 0; i < n; i++)
            m->kv.seq_tokens[(size_t)seq[i] * (size_t)m->kv.max_len + (size_t)pos[i]] = tokens[i];
        for (int s = 0; s < m->kv.n_seqs; s++)
            if (add[s]) sc__kv_commit(&m->kv, s, add[s]);
    }
    free(pos);
    free(rows);
    free(add);
    return rc;
}

int sc_model_forward(sc_model_t *m, int seq, const int32_t *tokens, int n, float *logits, bool all_logits) {
    if (!m || !tokens || n <= 0) return SC_EINVAL;
    if (seq < 0 || seq >= m->kv.n_seqs) return SC_EINVAL;
    if (m->kv.seq_len[seq] + n > m->max_len) return SC_ERANGE;
    int32_t *seqs = malloc((size_t)n * sizeof *seqs);
    uint8_t *want = calloc((size_t)n, 1);
    if (!seqs || !want) {
        free(seqs);
        free(want);
        return SC_ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        seqs[i] = seq;
        want[i] = all_logits;
    }
    want[n - 1] = 1;
    int rc = forward(m, n, tokens, seqs, want, logits);
    free(seqs);
    free(want);
    return rc;
}

int sc_model_forward_batch(sc_model_t *m, const sc_model_batch *b, float *logits) {
    if (!m || !b || b->n_tokens <= 0 || !b->tokens || !b->seq) return SC_EINVAL;
    const int n = b->n_tokens;
    uint8_t *want = calloc((size_t)n, 1);
    if (!want) return SC_ENOMEM;
    for (int i = 0; i < n; i++) {
        if (b->seq[i] < 0 || b->seq[i] >= m->kv.n_seqs) {
            free(want);
            return SC_EINVAL;
        }
        if (b->logits) want[i] = b->logits[i] != 0;
    }
    if (!b->logits) {
        /* the last token of each sequence in the batch */
        uint8_t *seen = calloc((size_t)m->kv.n_seqs, 1);
        if (!seen) {
            free(want);
            return SC_ENOMEM;
        }
        for (int i = n - 1; i >= 0; i--) {
            want[i] = !seen[b->seq[i]];
            seen[b->seq[i]] = 1;
        }
        free(seen);
    }
    int rc = forward(m, n, b->tokens, b->seq, want, logits);
    free(want);
    return rc;
}

/* ---- appended: KV pool occupancy ----------------------------------------- */
int sc_model_kv_blocks(const sc_model_t *m, int *n_free, int *n_total) {
    if (!m) return SC_EINVAL;
    if (n_free) *n_free = m->kv.n_free;
    if (n_total) *n_total = m->kv.n_blocks;
    return SC_OK;
}

/* ---- appended: block-level control ---------------------------------------- */
int sc_model_block_size(const sc_model_t *m) { return m ? m->kv.block_size : SC_EINVAL; }

int sc_model_seq_blocks_needed(const sc_model_t *m, int seq, int64_t new_len) {
    if (!m) return SC_EINVAL;
    return sc__kv_blocks_needed(&m->kv, seq, new_len);
}

int sc_model_seq_reserve(sc_model_t *m, int seq, int64_t new_len) {
    if (!m) return SC_EINVAL;
    return sc__kv_reserve(&m->kv, seq, new_len);
}

int64_t sc_model_seq_attach_prefix(sc_model_t *m, int seq, const int32_t *tokens, int64_t n) {
    if (!m) return SC_EINVAL;
    /* A Gated DeltaNet layer's state after a prefix is one fixed-size
     * snapshot, not per-token blocks: cached KV blocks alone cannot restore
     * it, so models with such layers recompute every prompt. */
    if (m->conv_state) return 0;
    return sc__kv_attach_prefix(&m->kv, seq, tokens, n);
}

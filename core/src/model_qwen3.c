/*
 * core/src/model_qwen3.c - the forward graph of Qwen3ForCausalLM and
 * Qwen3MoeForCausalLM (transformers modeling_qwen3*.py semantics), built once per step.
 *
 * Shapes are written outermost first: [T, D] is ne = {D, T}.
 * T = tokens in the step, D = hidden, H / Hkv = query / kv heads, hd = head_dim,
 * E = experts, k = experts per token.
 *
 * MoE routing uses only existing ops:
 *   logits = router(x) [T, E];  p = softmax(logits);  ids = top_k(p, k) [T, k]
 *   the values at ids are gathered with mul_mat_id over a constant stack of
 *   one-hot rows (moe_eye {E, 1, E}: expert e's 1 x E "matrix" is row e of
 *   the identity), so  gather(v)[t, i] = v[t, ids[t, i]]  exactly;
 *   norm_topk_prob:  w = softmax over the k gathered *logits*, which equals
 *                    p[ids] / sum p[ids] (the common exp(-max) cancels);
 *   otherwise        w = gather(p).
 *   out[t] = sum_i w[t, i] * down_e(silu(gate_e(x)) * up_e(x)),  e = ids[t, i]:
 *   mul_mat_id for the experts, one mul broadcasting w over D, then the k
 *   slots are summed with k - 1 adds of strided views, in top-k rank order.
 */
#include <math.h>

#include "internal.h"
#include "model_internal.h"

int64_t sc__qwen3_graph_size(const sc_model_config *cfg) {
    int64_t per_layer = 64; /* dense layer: ~30 nodes + ~16 weight leaves */
    if (cfg->arch != SC_ARCH_QWEN3) per_layer += 24 + 3 * cfg->n_experts_used;
    if (cfg->arch == SC_ARCH_QWEN3_NEXT) per_layer += 32; /* gates, shared expert, recurrent ops */
    return 128 + cfg->n_layers * per_layer;
}

static sc_tensor *reshape2(sc_ctx_t *ctx, sc_tensor *a, int64_t ne0, int64_t ne1) {
    const int64_t ne[2] = {ne0, ne1};
    return a ? sc_reshape(ctx, a, 2, ne) : NULL;
}

static sc_tensor *reshape3(sc_ctx_t *ctx, sc_tensor *a, int64_t ne0, int64_t ne1, int64_t ne2) {
    const int64_t ne[3] = {ne0, ne1, ne2};
    return a ? sc_reshape(ctx, a, 3, ne) : NULL;
}

/* The error of a failed build step: the context's, or SC_ENOMEM when only the
 * graph's expansion failed (it has no error of its own to keep). */
static int graph_error(sc_ctx_t *ctx) {
    return sc_ctx_error(ctx) != SC_OK ? sc_ctx_error(ctx) : SC_ENOMEM;
}

/* y = x @ W^T (+ b): W {K, N}, x [T, K] -> [T, N] */
static sc_tensor *linear(sc_ctx_t *ctx, sc_tensor *w, sc_tensor *b, sc_tensor *x) {
    sc_tensor *y = sc_mul_mat(ctx, w, x);
    return b ? sc_add(ctx, y, b) : y;
}

/* q or k: [T, n_heads*hd] -> per-head RMSNorm over hd -> RoPE -> [T, n_heads, hd] */
static sc_tensor *qk_heads(sc_model_t *m, sc_ctx_t *ctx, sc_tensor *proj, sc_tensor *norm_w, int64_t n_heads,
                           int64_t T, sc_tensor *pos) {
    const sc_model_config *c = &m->cfg;
    int n_rot = (int)((double)c->head_dim * c->partial_rotary_factor);
    sc_tensor *t = reshape3(ctx, proj, c->head_dim, n_heads, T); /* [T, n_heads, hd] */
    t = sc_rms_norm(ctx, t, norm_w, (float)c->rms_norm_eps);
    return sc_rope(ctx, t, pos, n_rot, (float)c->rope_theta);
}

/* Dense MLP: down(silu(gate(x)) * up(x)), x [T, D] -> [T, D] */
static sc_tensor *mlp(sc_ctx_t *ctx, const sc_layer_weights *lw, sc_tensor *x) {
    sc_tensor *g = sc_mul_mat(ctx, lw->gate, x); /* [T, I] */
    sc_tensor *u = sc_mul_mat(ctx, lw->up, x);   /* [T, I] */
    return sc_mul_mat(ctx, lw->down, sc_swiglu(ctx, g, u));
}

/* Sparse MoE block, x [T, D] -> [T, D] (see the top of the file). */
sc_tensor *sc__qwen3_moe(sc_model_t *m, sc_ctx_t *ctx, sc_graph_t *gr, const sc_layer_weights *lw, sc_tensor *x,
                         int64_t T) {
    const sc_model_config *c = &m->cfg;
    const int64_t D = c->hidden_size, E = c->n_experts, k = c->n_experts_used;

    sc_tensor *logits = sc_mul_mat(ctx, lw->router, x); /* [T, E] */
    sc_tensor *p = sc_softmax(ctx, logits, 1.0f);        /* [T, E] */
    sc_tensor *ids = sc_top_k(ctx, p, (int)k);           /* i32 [T, k], largest first */

    /* routing weights [T, k, 1] */
    sc_tensor *src = c->norm_topk_prob ? logits : p;
    sc_tensor *w = sc_mul_mat_id(ctx, m->moe_eye, reshape3(ctx, src, E, 1, T), ids); /* [T, k, 1] */
    if (c->norm_topk_prob) w = reshape3(ctx, sc_softmax(ctx, reshape2(ctx, w, k, T), 1.0f), 1, k, T);
    /* The routing chain goes into the graph now, before the experts: router,
     * softmax, top-k, gather, renormalise run as one run of nodes (a backend
     * may compute such a run as one kernel), then gate/up/down and the sum. */
    if (!w || sc__graph_expand_node(gr, w) != SC_OK) return NULL;

    sc_tensor *x3 = reshape3(ctx, x, D, 1, T);                  /* [T, 1, D]: every slot reads x */
    sc_tensor *g = sc_mul_mat_id(ctx, lw->exp_gate, x3, ids);   /* [T, k, Imoe] */
    sc_tensor *u = sc_mul_mat_id(ctx, lw->exp_up, x3, ids);     /* [T, k, Imoe] */
    sc_tensor *y = sc_mul_mat_id(ctx, lw->exp_down, sc_swiglu(ctx, g, u), ids); /* [T, k, D] */
    y = sc_mul(ctx, y, w);                                      /* slot i scaled by w[t, i] */
    if (!y) return NULL;

    sc_tensor *out = NULL;
    for (int64_t i = 0; i < k; i++) {
        const int64_t ne[2] = {D, T};
        const size_t nb[2] = {sizeof(float), y->nb[2]};
        sc_tensor *slot = sc_view(ctx, y, 2, ne, nb, (size_t)i * y->nb[1]); /* [T, D] */
        out = out ? sc_add(ctx, out, slot) : slot;
    }
    return out;
}

int sc__qwen3_build(sc_model_t *m, sc_ctx_t *ctx, sc_graph_t *g, const sc_step_inputs *in, sc_tensor **out) {
    const sc_model_config *c = &m->cfg;
    const int64_t H = c->n_heads, Hkv = c->n_kv_heads, hd = c->head_dim, T = in->n_tokens;
    const float eps = (float)c->rms_norm_eps;
    const float scale = (float)(1.0 / sqrt((double)hd));
    sc_tensor *bt = m->kv.block_table;
    *out = NULL;

    sc_tensor *x = sc_get_rows(ctx, m->tok_embd, in->tokens); /* [T, D] */
    for (int64_t L = 0; L < c->n_layers; L++) {
        const sc_layer_weights *lw = &m->layers[L];
        const bool last = L == c->n_layers - 1;

        /* attention: keys and values of every token go to the cache. The
         * projections enter the graph before the head norms, rotations and
         * cache writes that follow them: k, v (and q below) are independent,
         * so a backend may run them at once, and then the three tails at once,
         * rather than alternating one projection and one tail. */
        sc_tensor *h = sc_rms_norm(ctx, x, lw->attn_norm, eps);                            /* [T, D] */
        sc_tensor *kp = linear(ctx, lw->wk, lw->bk, h);                                   /* [T, Hkv*hd] */
        sc_tensor *vp = linear(ctx, lw->wv, lw->bv, h);                                   /* [T, Hkv*hd] */
        if (!kp || !vp || sc__graph_expand_node(g, kp) != SC_OK || sc__graph_expand_node(g, vp) != SC_OK)
            return graph_error(ctx);
        sc_tensor *k = qk_heads(m, ctx, kp, lw->k_norm, Hkv, T, in->pos);                 /* [T, Hkv, hd] */
        sc_tensor *v = reshape3(ctx, vp, hd, Hkv, T);                                     /* [T, Hkv, hd] */
        sc_tensor *kc = sc_kv_write(ctx, m->kv.k[L], k, bt, in->pos, in->seq);
        sc_tensor *vc = sc_kv_write(ctx, m->kv.v[L], v, bt, in->pos, in->seq);
        if (last && in->n_out == 0) {
            /* no logits wanted (prefill chunk): the cache writes are the outputs */
            if (sc_ctx_error(ctx) != SC_OK) return sc_ctx_error(ctx);
            int rc = sc_graph_expand(g, kc);
            return rc == SC_OK ? sc_graph_expand(g, vc) : rc;
        }

        /* In the last layer only the rows that give logits go on (Tq of them). */
        sc_tensor *pos_q = in->pos, *seq_q = in->seq;
        int64_t Tq = T;
        if (last && !in->out_all) {
            h = sc_get_rows(ctx, h, in->out_ids); /* [n_out, D] */
            x = sc_get_rows(ctx, x, in->out_ids); /* [n_out, D] */
            pos_q = in->pos_out;
            seq_q = in->seq_out;
            Tq = in->n_out;
        }
        sc_tensor *qp = linear(ctx, lw->wq, lw->bq, h); /* [Tq, H*hd] */
        if (!qp || sc__graph_expand_node(g, qp) != SC_OK) return graph_error(ctx);
        sc_tensor *q = qk_heads(m, ctx, qp, lw->q_norm, H, Tq, pos_q); /* [Tq, H, hd] */
        sc_tensor *a = sc_attention(ctx, q, kc, vc, bt, pos_q, seq_q, scale);             /* [Tq, H, hd] */
        x = sc_add(ctx, x, linear(ctx, lw->wo, lw->bo, reshape2(ctx, a, H * hd, Tq)));    /* [Tq, D] */

        /* feed-forward */
        h = sc_rms_norm(ctx, x, lw->ffn_norm, eps);
        x = sc_add(ctx, x, lw->moe ? sc__qwen3_moe(m, ctx, g, lw, h, Tq) : mlp(ctx, lw, h));
    }
    x = sc_rms_norm(ctx, x, m->out_norm, eps);
    sc_tensor *logits = sc_mul_mat(ctx, m->lm_head, x); /* [n_out, V] */
    if (sc_ctx_error(ctx) != SC_OK) return sc_ctx_error(ctx);
    sc_tensor_set_name(logits, "logits");
    *out = logits;
    return sc_graph_expand(g, logits);
}

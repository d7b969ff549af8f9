/*
 * core/src/model_qwen3_next.c - the forward graph of Qwen3NextForCausalLM
 * (transformers modeling_qwen3_next.py semantics), built once per step.
 *
 * Shapes are written outermost first: [T, D] is ne = {D, T}.
 * T = tokens in the step, D = hidden, H / Hkv = query / kv heads, hd =
 * head_dim; Gated DeltaNet: nk key heads of dk, nv value heads of dv,
 * r = nv / nk, conv channels C = nk*(2*dk + r*dv), kernel Kc.
 *
 * Every RMSNorm but the gated one is zero-centred, (1 + w): the loader adds
 * the 1 to the stored weights, so the graph uses plain rms_norm.
 *
 * Gated DeltaNet layer (linear_attn), x [T, D]:
 *   qkvz = in_proj_qkvz(h) [T, nk, 2*dk + 2*r*dv]   per key group g:
 *                                                  [q_g | k_g | v (r heads) | z (r heads)]
 *   ba   = in_proj_ba(h)   [T, nk, 2*r]            per key group g: [b (r) | a (r)]
 *   conv = ssm_conv(view qkvz[..., :2*dk + r*dv])  [T, C]  (silu, conv state per sequence)
 *   o    = gated_delta_net(conv, ba, A_log/dt_bias) [T, nv, dv] (delta-rule state per sequence)
 *   y    = rms_norm(o) * w * silu(z)               [T, nv, dv]  (the gated norm; z read in place)
 *   x   += out_proj(y)
 * The conv weights were regrouped by key head at load time (model_weights.c)
 * so the projection is convolved where it lies, with no gather.
 *
 * Gated full attention layer (self_attn):
 *   qg = q_proj(h) [T, H, 2*hd]: per head hd query rows then hd gate rows
 *   q = rope(norm(qg[..., :hd])), k = rope(norm(k_proj(h))), v = v_proj(h)
 *   partial RoPE over the first hd * partial_rotary_factor dims
 *   a = attention(q, k, v) [T, H, hd];  x += o_proj(a * sigmoid(qg[..., hd:]))
 *
 * MLP: the Qwen3-MoE block (model_qwen3.c) plus a shared expert behind a
 * sigmoid gate: out = routed + sigmoid(shared_expert_gate(h)) * shared(h).
 */
#include <math.h>

#include "internal.h"
#include "model_internal.h"

static sc_tensor *reshape2(sc_ctx_t *ctx, sc_tensor *a, int64_t ne0, int64_t ne1) {
    const int64_t ne[2] = {ne0, ne1};
    return a ? sc_reshape(ctx, a, 2, ne) : NULL;
}

static sc_tensor *reshape3(sc_ctx_t *ctx, sc_tensor *a, int64_t ne0, int64_t ne1, int64_t ne2) {
    const int64_t ne[3] = {ne0, ne1, ne2};
    return a ? sc_reshape(ctx, a, 3, ne) : NULL;
}

/* a [.., n1, n2] (contiguous, ne0 = row) -> the [n0, n1, n2] block of
 * columns starting at col of every row: a strided view. */
static sc_tensor *cols3(sc_ctx_t *ctx, sc_tensor *a, int64_t row, int64_t col, int64_t n0, int64_t n1, int64_t n2) {
    if (!a) return NULL;
    const int64_t ne[3] = {n0, n1, n2};
    const size_t nb[3] = {sizeof(float), (size_t)row * sizeof(float), (size_t)(row * n1) * sizeof(float)};
    return sc_view(ctx, a, 3, ne, nb, (size_t)col * sizeof(float));
}

static int graph_error(sc_ctx_t *ctx) {
    return sc_ctx_error(ctx) != SC_OK ? sc_ctx_error(ctx) : SC_ENOMEM;
}

/* Gated DeltaNet token mixer: h [T, D] (normed) -> [T, D] */
static sc_tensor *linear_attn(sc_model_t *m, sc_ctx_t *ctx, sc_graph_t *gr, int64_t L, const sc_step_inputs *in,
                              sc_tensor *h) {
    const sc_model_config *c = &m->cfg;
    const sc_layer_weights *lw = &m->layers[L];
    const int64_t T = in->n_tokens, nk = c->linear_n_key_heads, nv = c->linear_n_value_heads;
    const int64_t dk = c->linear_key_head_dim, dv = c->linear_value_head_dim, r = nv / nk;
    const int64_t grp = 2 * dk + 2 * r * dv; /* in_proj_qkvz rows per key group */

    sc_tensor *qkvz = sc_mul_mat(ctx, lw->ssm_in, h); /* [T, nk * grp] */
    sc_tensor *ba = sc_mul_mat(ctx, lw->ssm_ba, h);   /* [T, 2*nv] */
    if (!qkvz || !ba || sc__graph_expand_node(gr, qkvz) != SC_OK || sc__graph_expand_node(gr, ba) != SC_OK)
        return NULL;
    sc_tensor *x = cols3(ctx, qkvz, grp, 0, 2 * dk + r * dv, nk, T); /* [T, nk, 2*dk + r*dv] */
    sc_tensor *conv = sc_ssm_conv(ctx, x, lw->ssm_conv, m->conv_state[L], in->seq, in->pos); /* [T, C] */
    sc_tensor *o = sc_gated_delta_net(ctx, conv, ba, lw->ssm_ad, m->ssm_state[L], in->seq, in->pos, (int)nk, 1e-6f);
    /* z stays where the projection put it: [T, nk, r*dv] with rows strided,
     * value head g*r + j at columns j*dv of group g, which is the order of
     * o's heads viewed as [T, nk, r*dv] */
    sc_tensor *z = cols3(ctx, qkvz, grp, 2 * dk + r * dv, r * dv, nk, T);
    sc_tensor *on = sc_rms_norm(ctx, o, lw->ssm_norm, (float)c->rms_norm_eps); /* [T, nv, dv] */
    sc_tensor *y = sc_swiglu(ctx, z, reshape3(ctx, on, r * dv, nk, T));        /* silu(z) * norm(o), contiguous */
    return sc_mul_mat(ctx, lw->ssm_out, reshape2(ctx, y, nv * dv, T));         /* [T, D] */
}

/* q or k heads: [T, n, hd] (contiguous) -> norm -> partial RoPE */
static sc_tensor *qk_heads(sc_model_t *m, sc_ctx_t *ctx, sc_tensor *t, sc_tensor *norm_w, sc_tensor *pos) {
    const sc_model_config *c = &m->cfg;
    const int n_rot = (int)((double)c->head_dim * c->partial_rotary_factor);
    t = sc_rms_norm(ctx, t, norm_w, (float)c->rms_norm_eps);
    return sc_rope(ctx, t, pos, n_rot, (float)c->rope_theta);
}

/* The MLP of a layer: MoE (+ shared expert) or dense, h [T, D] -> [T, D] */
static sc_tensor *mlp(sc_model_t *m, sc_ctx_t *ctx, sc_graph_t *gr, const sc_layer_weights *lw, sc_tensor *h,
                      int64_t T) {
    if (!lw->moe) {
        sc_tensor *g = sc_mul_mat(ctx, lw->gate, h);
        sc_tensor *u = sc_mul_mat(ctx, lw->up, h);
        return sc_mul_mat(ctx, lw->down, sc_swiglu(ctx, g, u));
    }
    sc_tensor *out = sc__qwen3_moe(m, ctx, gr, lw, h, T); /* [T, D] */
    if (!lw->sh_gate || !out) return out;
    sc_tensor *g = sc_mul_mat(ctx, lw->sh_gate, h);                               /* [T, Is] */
    sc_tensor *u = sc_mul_mat(ctx, lw->sh_up, h);                                 /* [T, Is] */
    sc_tensor *sh = sc_mul_mat(ctx, lw->sh_down, sc_swiglu(ctx, g, u));           /* [T, D] */
    sc_tensor *gate = sc_sigmoid(ctx, sc_mul_mat(ctx, lw->sh_gate_w, h));         /* [T, 1] */
    return sc_add(ctx, out, sc_mul(ctx, sh, gate));
}

int sc__qwen3_next_build(sc_model_t *m, sc_ctx_t *ctx, sc_graph_t *g, const sc_step_inputs *in, sc_tensor **out) {
    const sc_model_config *c = &m->cfg;
    const int64_t H = c->n_heads, Hkv = c->n_kv_heads, hd = c->head_dim, T = in->n_tokens;
    const float eps = (float)c->rms_norm_eps;
    const float scale = (float)(1.0 / sqrt((double)hd));
    sc_tensor *bt = m->kv.block_table;
    *out = NULL;

    sc_tensor *x = sc_get_rows(ctx, m->tok_embd, in->tokens); /* [T, D] */
    sc_tensor *pos_q = in->pos, *seq_q = in->seq;
    int64_t Tq = T; /* rows still carried: T, or n_out once the last layer's mixer is done */
    for (int64_t L = 0; L < c->n_layers; L++) {
        const sc_layer_weights *lw = &m->layers[L];
        const bool last = L == c->n_layers - 1;
        sc_tensor *h = sc_rms_norm(ctx, x, lw->attn_norm, eps); /* [T, D] */

        if (lw->linear) {
            sc_tensor *mix = linear_attn(m, ctx, g, L, in, h);
            if (!mix) return graph_error(ctx);
            if (last && in->n_out == 0) return sc_graph_expand(g, mix); /* the state updates are the outputs */
            x = sc_add(ctx, x, mix);
            if (last && !in->out_all) {
                x = sc_get_rows(ctx, x, in->out_ids); /* [n_out, D] */
                Tq = in->n_out;
            }
        } else {
            const int kvl = m->kv_layer[L];
            sc_tensor *kp = sc_mul_mat(ctx, lw->wk, h); /* [T, Hkv*hd] */
            sc_tensor *vp = sc_mul_mat(ctx, lw->wv, h); /* [T, Hkv*hd] */
            if (!kp || !vp || sc__graph_expand_node(g, kp) != SC_OK || sc__graph_expand_node(g, vp) != SC_OK)
                return graph_error(ctx);
            sc_tensor *k = qk_heads(m, ctx, reshape3(ctx, kp, hd, Hkv, T), lw->k_norm, in->pos); /* [T, Hkv, hd] */
            sc_tensor *kc = sc_kv_write(ctx, m->kv.k[kvl], k, bt, in->pos, in->seq);
            sc_tensor *vc = sc_kv_write(ctx, m->kv.v[kvl], reshape3(ctx, vp, hd, Hkv, T), bt, in->pos, in->seq);
            if (last && in->n_out == 0) {
                if (sc_ctx_error(ctx) != SC_OK) return sc_ctx_error(ctx);
                int rc = sc_graph_expand(g, kc);
                return rc == SC_OK ? sc_graph_expand(g, vc) : rc;
            }
            if (last && !in->out_all) {
                h = sc_get_rows(ctx, h, in->out_ids); /* [n_out, D] */
                x = sc_get_rows(ctx, x, in->out_ids);
                pos_q = in->pos_out;
                seq_q = in->seq_out;
                Tq = in->n_out;
            }
            sc_tensor *qg = sc_mul_mat(ctx, lw->wq, h); /* [Tq, H, 2*hd] */
            if (!qg || sc__graph_expand_node(g, qg) != SC_OK) return graph_error(ctx);
            sc_tensor *q = sc_cpy(ctx, cols3(ctx, qg, 2 * hd, 0, hd, H, Tq), SC_TYPE_F32);     /* [Tq, H, hd] */
            sc_tensor *gate = sc_sigmoid(ctx, cols3(ctx, qg, 2 * hd, hd, hd, H, Tq));          /* [Tq, H, hd] */
            q = qk_heads(m, ctx, q, lw->q_norm, pos_q);
            sc_tensor *a = sc_attention(ctx, q, kc, vc, bt, pos_q, seq_q, scale); /* [Tq, H, hd] */
            a = sc_mul(ctx, a, gate);
            x = sc_add(ctx, x, sc_mul_mat(ctx, lw->wo, reshape2(ctx, a, H * hd, Tq))); /* [Tq, D] */
        }
        h = sc_rms_norm(ctx, x, lw->ffn_norm, eps);
        x = sc_add(ctx, x, mlp(m, ctx, g, lw, h, Tq));
    }
    x = sc_rms_norm(ctx, x, m->out_norm, eps);
    sc_tensor *logits = sc_mul_mat(ctx, m->lm_head, x); /* [n_out, V] */
    if (sc_ctx_error(ctx) != SC_OK) return sc_ctx_error(ctx);
    sc_tensor_set_name(logits, "logits");
    *out = logits;
    return sc_graph_expand(g, logits);
}

/*
 * backends/cpu/ref_recurrent.c - reference ssm_conv and gated_delta_net, the
 * two recurrent ops of Gated DeltaNet (Qwen3-Next linear attention) layers.
 *
 * Both walk the tokens in order and update the per-slot state in place, one
 * token at a time (the recurrent form). A token that starts a run (the first
 * token, or seq differs from the previous token's) at position 0 starts from
 * a zero state. Shapes and maths: strixcore.h.
 */
#include <math.h>
#include <string.h>

#include "cpu_impl.h"

/* seq and pos of every token valid for n_slots slots? */
static int check_tokens(const sc_tensor *seq, const sc_tensor *pos, int64_t n_slots) {
    const int32_t *s = seq->data, *p = pos->data;
    for (int64_t t = 0; t < seq->ne[0]; t++)
        if (s[t] < 0 || s[t] >= n_slots || p[t] < 0) return SC_ERANGE;
    return SC_OK;
}

static bool run_starts_fresh(const sc_tensor *seq, const sc_tensor *pos, int64_t t) {
    const int32_t *s = seq->data, *p = pos->data;
    return p[t] == 0 && (t == 0 || s[t - 1] != s[t]);
}

static bool i32_vec(const sc_tensor *t, int64_t n) {
    return sc__cpu_rows_ok(t, SC_TYPE_I32) && t->ne[0] == n && t->ne[1] == 1 && t->ne[2] == 1 && t->ne[3] == 1;
}

static bool contiguous_f32(const sc_tensor *t) {
    if (!sc__cpu_rows_ok(t, SC_TYPE_F32)) return false;
    return t->nb[1] == t->nb[0] * (size_t)t->ne[0] && t->nb[2] == t->nb[1] * (size_t)t->ne[1] &&
           t->nb[3] == t->nb[2] * (size_t)t->ne[2];
}

/* ---- ssm_conv ----------------------------------------------------------- */
int sc__cpu_check_ssm_conv(const sc_tensor *node) {
    const sc_tensor *x = node->src[0], *w = node->src[1], *st = node->src[2];
    if (!sc__cpu_rows_ok(x, SC_TYPE_F32) || !contiguous_f32(w) || !contiguous_f32(st) || !contiguous_f32(node))
        return SC_EINVAL;
    const int64_t C = x->ne[0] * x->ne[1], T = x->ne[2], Kc = w->ne[0];
    if (x->ne[3] != 1 || w->ne[1] != C || Kc < 2 || st->ne[0] != C || st->ne[1] != Kc - 1) return SC_EINVAL;
    if (node->ne[0] != C || node->ne[1] != T || !i32_vec(node->src[3], T) || !i32_vec(node->src[4], T))
        return SC_EINVAL;
    return SC_OK;
}

static float silu(float v) { return v / (1.0f + expf(-v)); }

int sc__cpu_ref_ssm_conv(sc_tensor *node) {
    const sc_tensor *x = node->src[0], *w = node->src[1], *st = node->src[2];
    const sc_tensor *seq = node->src[3], *pos = node->src[4];
    const int64_t Cg = x->ne[0], G = x->ne[1], C = Cg * G, T = x->ne[2], Kc = w->ne[0];
    const int64_t n_slots = st->ne[2] * st->ne[3];
    int rc = check_tokens(seq, pos, n_slots);
    if (rc != SC_OK) return rc;
    const float *wd = w->data;            /* [C][Kc] */
    float *state = st->data;              /* [n_slots][Kc-1][C] */
    const int32_t *sq = seq->data;
    for (int64_t t = 0; t < T; t++) {
        float *s = state + (size_t)sq[t] * (size_t)((Kc - 1) * C);
        if (run_starts_fresh(seq, pos, t)) memset(s, 0, (size_t)((Kc - 1) * C) * sizeof *s);
        float *y = sc__cpu_row(node, t, 0, 0); /* [C] */
        for (int64_t g = 0; g < G; g++) {
            const float *xr = sc__cpu_row(x, g, t, 0); /* [Cg] */
            for (int64_t i = 0; i < Cg; i++) {
                const int64_t c = g * Cg + i;
                const float *wc = wd + c * Kc;
                float acc = 0.0f;
                for (int64_t j = 0; j < Kc - 1; j++) acc += wc[j] * s[j * C + c];
                acc += wc[Kc - 1] * xr[i];
                for (int64_t j = 0; j + 1 < Kc - 1; j++) s[j * C + c] = s[(j + 1) * C + c];
                s[(Kc - 2) * C + c] = xr[i];
                y[c] = silu(acc);
            }
        }
    }
    return SC_OK;
}

/* ---- gated_delta_net ---------------------------------------------------- */
int sc__cpu_check_gated_delta_net(const sc_tensor *node) {
    const sc_tensor *qkv = node->src[0], *ba = node->src[1], *ad = node->src[2], *st = node->src[3];
    if (!sc__cpu_rows_ok(qkv, SC_TYPE_F32) || !sc__cpu_rows_ok(ba, SC_TYPE_F32) || !contiguous_f32(ad) ||
        !contiguous_f32(st) || !contiguous_f32(node))
        return SC_EINVAL;
    const int64_t dv = st->ne[0], dk = st->ne[1], nv = st->ne[2], T = qkv->ne[1];
    const int64_t nk = sc_op_param_i32(node, 0);
    if (nk < 1 || nv % nk != 0) return SC_EINVAL;
    const int64_t r = nv / nk;
    if (qkv->ne[0] != nk * (2 * dk + r * dv) || qkv->ne[2] != 1 || qkv->ne[3] != 1) return SC_EINVAL;
    if (ba->ne[0] != 2 * nv || ba->ne[1] != T || ad->ne[0] != nv || ad->ne[1] != 2) return SC_EINVAL;
    if (node->ne[0] != dv || node->ne[1] != nv || node->ne[2] != T) return SC_EINVAL;
    if (!i32_vec(node->src[4], T) || !i32_vec(node->src[5], T)) return SC_EINVAL;
    if (!(sc_op_param_f32(node, 1) >= 0.0f)) return SC_EINVAL;
    return SC_OK;
}

/* torch.nn.functional.softplus with its default threshold of 20 */
static float softplus(float v) { return v > 20.0f ? v : log1pf(expf(v)); }

int sc__cpu_ref_gated_delta_net(sc_tensor *node) {
    const sc_tensor *qkv = node->src[0], *ba = node->src[1], *ad = node->src[2], *st = node->src[3];
    const sc_tensor *seq = node->src[4], *pos = node->src[5];
    const int64_t dv = st->ne[0], dk = st->ne[1], nv = st->ne[2], T = qkv->ne[1];
    const int64_t nk = sc_op_param_i32(node, 0), r = nv / nk, grp = 2 * dk + r * dv;
    const float eps = sc_op_param_f32(node, 1);
    const int64_t n_slots = st->ne[3];
    int rc = check_tokens(seq, pos, n_slots);
    if (rc != SC_OK) return rc;
    const float *a_log = ad->data, *dt_bias = (const float *)ad->data + nv;
    float *state = st->data; /* [n_slots][nv][dk][dv] */
    const int32_t *sq = seq->data;
    const size_t per_head = (size_t)(dk * dv);
    float q[256], k[256];
    for (int64_t t = 0; t < T; t++) {
        float *s_seq = state + (size_t)sq[t] * (size_t)nv * per_head;
        if (run_starts_fresh(seq, pos, t)) memset(s_seq, 0, (size_t)nv * per_head * sizeof *s_seq);
        const float *row = sc__cpu_row(qkv, t, 0, 0);  /* [nk * grp] */
        const float *bar = sc__cpu_row(ba, t, 0, 0);   /* [2 * nv] */
        float *o = sc__cpu_row(node, 0, t, 0);         /* [nv][dv] */
        for (int64_t h = 0; h < nv; h++) {
            const int64_t g = h / r, hr = h % r;
            const float *qg = row + g * grp, *kg = qg + dk, *v = kg + dk + hr * dv;
            float qq = 0.0f, kk = 0.0f;
            for (int64_t i = 0; i < dk; i++) {
                qq += qg[i] * qg[i];
                kk += kg[i] * kg[i];
            }
            const float qs = 1.0f / sqrtf(qq + eps) / sqrtf((float)dk), ks = 1.0f / sqrtf(kk + eps);
            for (int64_t i = 0; i < dk; i++) {
                q[i] = qg[i] * qs;
                k[i] = kg[i] * ks;
            }
            const float b = bar[g * 2 * r + hr], a = bar[g * 2 * r + r + hr];
            const float beta = 1.0f / (1.0f + expf(-b));
            const float decay = expf(-expf(a_log[h]) * softplus(a + dt_bias[h]));
            float *S = s_seq + (size_t)h * per_head; /* [dk][dv] */
            for (int64_t j = 0; j < dv; j++) {
                float kv = 0.0f;
                for (int64_t i = 0; i < dk; i++) {
                    S[i * dv + j] *= decay;
                    kv += S[i * dv + j] * k[i];
                }
                const float delta = (v[j] - kv) * beta;
                float acc = 0.0f;
                for (int64_t i = 0; i < dk; i++) {
                    S[i * dv + j] += k[i] * delta;
                    acc += S[i * dv + j] * q[i];
                }
                o[h * dv + j] = acc;
            }
        }
    }
    return SC_OK;
}

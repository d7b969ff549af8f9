/*
 * tests/unit/test_model.c - the Qwen3 / Qwen3-MoE forward pass against a
 * naive double-precision implementation of the transformers Qwen3 maths written
 * here with plain loops, on tiny checkpoints written at test time with
 * sc_safetensors_write (HF names and shapes, config.json in the v4 or v5
 * dialect, per-expert or fused experts). Also: incremental decode, chunked
 * prefill, interleaved sequences, batches, seq_reset, load errors, and the
 * synthetic models.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "strixcore/model.h"
#include "strixcore/safetensors.h"

#define TOL 2e-4 /* abs, on logits of magnitude ~1 */
static double g_max_err;

/* ---- a tiny model held on the host ---- */
typedef struct tcfg {
    const char *arch;
    int V, D, L, H, Hkv, hd, I;
    int E, k, Im, sparse_step;
    unsigned mlp_only;       /* bit L: layer L in mlp_only_layers */
    bool norm_topk, tied, bias, fused, v5;
    double theta;
    sc_st_dtype dt;          /* stored dtype of every tensor */
} tcfg;

typedef struct tlayer {
    float *attn_norm, *wq, *wk, *wv, *wo, *bq, *bk, *bv, *bo, *q_norm, *k_norm, *ffn_norm;
    float *gate, *up, *down;   /* dense: [I][D], [I][D], [D][I] */
    float *router, *eg, *eu, *ed; /* MoE: [E][D], [E][Im][D] x2, [E][D][Im] */
    bool moe;
} tlayer;

typedef struct tmodel {
    tcfg c;
    float *embed, *lm_head, *norm;
    tlayer *layers;
    void *allocs[512];
    int n_allocs;
    uint64_t rng;
} tmodel;

static void *talloc(tmodel *m, size_t bytes) {
    void *p = calloc(1, bytes ? bytes : 1);
    assert_non_null(p);
    assert_true(m->n_allocs < 512);
    m->allocs[m->n_allocs++] = p;
    return p;
}

static void tmodel_free(tmodel *m) {
    for (int i = 0; i < m->n_allocs; i++) free(m->allocs[i]);
    free(m->layers);
}

static float round_dt(float v, sc_st_dtype dt) {
    if (dt == SC_ST_BF16) return sc_bf16_to_f32(sc_f32_to_bf16(v));
    if (dt == SC_ST_F16) return sc_f16_to_f32(sc_f32_to_f16(v));
    return v;
}

static float urand(tmodel *m) { /* uniform [-1, 1) */
    m->rng = m->rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(m->rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* n values: base + scale * U(-1, 1), rounded to the stored dtype */
static float *rnd(tmodel *m, size_t n, float base, float scale) {
    float *p = talloc(m, n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = round_dt(base + scale * urand(m), m->c.dt);
    return p;
}

static bool layer_moe(const tcfg *c, int L) {
    return c->E > 0 && !(c->mlp_only >> L & 1) && (L + 1) % c->sparse_step == 0;
}

static void tmodel_init(tmodel *m, const tcfg *c, uint64_t seed) {
    memset(m, 0, sizeof *m);
    m->c = *c;
    m->rng = seed;
    const int D = c->D, Q = c->H * c->hd, KV = c->Hkv * c->hd;
    const float sD = 1.7f / sqrtf((float)D);
    m->embed = rnd(m, (size_t)c->V * D, 0, 1.0f);
    m->lm_head = c->tied ? m->embed : rnd(m, (size_t)c->V * D, 0, sD);
    m->norm = rnd(m, D, 1.0f, 0.1f);
    m->layers = calloc((size_t)c->L, sizeof *m->layers);
    for (int L = 0; L < c->L; L++) {
        tlayer *l = &m->layers[L];
        l->attn_norm = rnd(m, D, 1.0f, 0.1f);
        l->ffn_norm = rnd(m, D, 1.0f, 0.1f);
        l->q_norm = rnd(m, c->hd, 1.0f, 0.1f);
        l->k_norm = rnd(m, c->hd, 1.0f, 0.1f);
        l->wq = rnd(m, (size_t)Q * D, 0, sD);
        l->wk = rnd(m, (size_t)KV * D, 0, sD);
        l->wv = rnd(m, (size_t)KV * D, 0, sD);
        l->wo = rnd(m, (size_t)D * Q, 0, 1.7f / sqrtf((float)Q));
        if (c->bias) {
            l->bq = rnd(m, Q, 0, 0.1f);
            l->bk = rnd(m, KV, 0, 0.1f);
            l->bv = rnd(m, KV, 0, 0.1f);
            l->bo = rnd(m, D, 0, 0.1f);
        }
        l->moe = layer_moe(c, L);
        if (l->moe) {
            l->router = rnd(m, (size_t)c->E * D, 0, 2.0f * sD);
            l->eg = rnd(m, (size_t)c->E * c->Im * D, 0, sD);
            l->eu = rnd(m, (size_t)c->E * c->Im * D, 0, sD);
            l->ed = rnd(m, (size_t)c->E * D * c->Im, 0, 1.7f / sqrtf((float)c->Im));
        } else {
            l->gate = rnd(m, (size_t)c->I * D, 0, sD);
            l->up = rnd(m, (size_t)c->I * D, 0, sD);
            l->down = rnd(m, (size_t)D * c->I, 0, 1.7f / sqrtf((float)c->I));
        }
    }
}

/* ---- the naive reference, in double ---- */
static void rmsnorm(const double *x, int n, const float *w, double eps, double *y) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    double inv = 1.0 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++) y[i] = w[i] * (x[i] * inv);
}

/* y[N] = W[N][K] x[K] (+ b) */
static void matvec(const float *W, const float *b, const double *x, int N, int K, double *y) {
    for (int n = 0; n < N; n++) {
        double s = b ? b[n] : 0.0;
        for (int k = 0; k < K; k++) s += (double)W[(size_t)n * K + k] * x[k];
        y[n] = s;
    }
}

static double silu(double v) { return v / (1.0 + exp(-v)); }

static void rope(double *x, int hd, int pos, double theta) {
    const int half = hd / 2;
    for (int i = 0; i < half; i++) {
        double a = pos * pow(theta, -2.0 * i / hd), c = cos(a), s = sin(a);
        double x0 = x[i], x1 = x[i + half];
        x[i] = x0 * c - x1 * s;
        x[i + half] = x1 * c + x0 * s;
    }
}

/* y[D] = down(silu(gate x) * up x) for one [N][D] gate/up and [D][N] down */
static void ffn(const float *g, const float *u, const float *d, const double *x, int D, int N, double *y) {
    double *a = calloc((size_t)N, sizeof *a), *b = calloc((size_t)N, sizeof *b);
    matvec(g, NULL, x, N, D, a);
    matvec(u, NULL, x, N, D, b);
    for (int i = 0; i < N; i++) a[i] = silu(a[i]) * b[i];
    matvec(d, NULL, a, D, N, y);
    free(a);
    free(b);
}

/* logits [n][V] of a sequence of n tokens at positions 0..n-1 */
static void naive_forward(const tmodel *m, const int32_t *tok, int n, double *logits) {
    const tcfg *c = &m->c;
    const int D = c->D, hd = c->hd, Q = c->H * hd, KV = c->Hkv * hd, grp = c->H / c->Hkv;
    const double eps = 1e-6;
    double *x = calloc((size_t)n * D, sizeof *x), *h = calloc((size_t)D, sizeof *h);
    double *q = calloc((size_t)Q, sizeof *q), *att = calloc((size_t)Q, sizeof *att);
    double *K = calloc((size_t)n * KV, sizeof *K), *Vv = calloc((size_t)n * KV, sizeof *Vv);
    double *o = calloc((size_t)D, sizeof *o), *y = calloc((size_t)D, sizeof *y), *sc = calloc((size_t)n, sizeof *sc);
    double *p = calloc((size_t)(c->E + 1), sizeof *p), *tmp = calloc((size_t)hd, sizeof *tmp);
    for (int t = 0; t < n; t++)
        for (int i = 0; i < D; i++) x[(size_t)t * D + i] = m->embed[(size_t)tok[t] * D + i];
    for (int L = 0; L < c->L; L++) {
        const tlayer *l = &m->layers[L];
        for (int t = 0; t < n; t++) { /* keys and values of every position first */
            rmsnorm(&x[(size_t)t * D], D, l->attn_norm, eps, h);
            matvec(l->wk, l->bk, h, KV, D, &K[(size_t)t * KV]);
            matvec(l->wv, l->bv, h, KV, D, &Vv[(size_t)t * KV]);
            for (int j = 0; j < c->Hkv; j++) {
                double *kh = &K[(size_t)t * KV + j * hd];
                rmsnorm(kh, hd, l->k_norm, eps, tmp);
                memcpy(kh, tmp, (size_t)hd * sizeof *kh);
                rope(kh, hd, t, c->theta);
            }
        }
        for (int t = 0; t < n; t++) {
            double *xt = &x[(size_t)t * D];
            rmsnorm(xt, D, l->attn_norm, eps, h);
            matvec(l->wq, l->bq, h, Q, D, q);
            for (int hh = 0; hh < c->H; hh++) {
                double *qh = &q[hh * hd];
                rmsnorm(qh, hd, l->q_norm, eps, tmp);
                memcpy(qh, tmp, (size_t)hd * sizeof *qh);
                rope(qh, hd, t, c->theta);
                const int kh = hh / grp;
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j <= t; j++) {
                    double d = 0;
                    for (int i = 0; i < hd; i++) d += qh[i] * K[(size_t)j * KV + kh * hd + i];
                    sc[j] = d / sqrt((double)hd);
                    if (sc[j] > mx) mx = sc[j];
                }
                for (int j = 0; j <= t; j++) sum += (sc[j] = exp(sc[j] - mx));
                for (int i = 0; i < hd; i++) {
                    double a = 0;
                    for (int j = 0; j <= t; j++) a += sc[j] * Vv[(size_t)j * KV + kh * hd + i];
                    att[hh * hd + i] = a / sum;
                }
            }
            matvec(l->wo, l->bo, att, D, Q, o);
            for (int i = 0; i < D; i++) xt[i] += o[i];
            rmsnorm(xt, D, l->ffn_norm, eps, h);
            if (!l->moe) {
                ffn(l->gate, l->up, l->down, h, D, c->I, y);
                for (int i = 0; i < D; i++) xt[i] += y[i];
                continue;
            }
            /* router softmax, top-k (largest first, ties to the lower id), optional renormalisation */
            matvec(l->router, NULL, h, c->E, D, p);
            double mx = -INFINITY, sum = 0, wsum = 0;
            for (int e = 0; e < c->E; e++) mx = p[e] > mx ? p[e] : mx;
            for (int e = 0; e < c->E; e++) sum += (p[e] = exp(p[e] - mx));
            for (int e = 0; e < c->E; e++) p[e] /= sum;
            int ids[16];
            bool used[64] = {false};
            for (int i = 0; i < c->k; i++) {
                int best = -1;
                for (int e = 0; e < c->E; e++)
                    if (!used[e] && (best < 0 || p[e] > p[best])) best = e;
                used[best] = true;
                ids[i] = best;
                wsum += p[best];
            }
            for (int i = 0; i < c->k; i++) {
                const int e = ids[i];
                const size_t em = (size_t)c->Im * D;
                ffn(l->eg + e * em, l->eu + e * em, l->ed + e * em, h, D, c->Im, y);
                const double w = c->norm_topk ? p[e] / wsum : p[e];
                for (int j = 0; j < D; j++) xt[j] += w * y[j];
            }
        }
    }
    for (int t = 0; t < n; t++) {
        rmsnorm(&x[(size_t)t * D], D, m->norm, eps, h);
        matvec(m->lm_head, NULL, h, c->V, D, &logits[(size_t)t * c->V]);
    }
    free(x); free(h); free(q); free(att); free(K); free(Vv); free(o); free(y); free(sc); free(p); free(tmp);
}

/* ---- writing the checkpoint ---- */
typedef struct twriter {
    sc_st_write_tensor t[512];
    int64_t shapes[512][3];
    char names[512][96];
    void *bufs[512];
    int n;
    const char *skip;        /* leave this tensor out */
    const char *bad_shape;   /* write this one with its dims swapped */
    const char *bad_dtype;   /* write this one as I32 */
} twriter;

static void put(twriter *w, sc_st_dtype dt, const float *v, int ndims, int64_t d0, int64_t d1, int64_t d2,
                const char *fmt, ...) __attribute__((format(printf, 8, 9)));
static void put(twriter *w, sc_st_dtype dt, const float *v, int ndims, int64_t d0, int64_t d1, int64_t d2,
                const char *fmt, ...) {
    assert_true(w->n < 512);
    int i = w->n;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->names[i], sizeof w->names[i], fmt, ap);
    va_end(ap);
    if (w->skip && strcmp(w->skip, w->names[i]) == 0) return;
    int64_t *s = w->shapes[i];
    s[0] = d0; s[1] = d1; s[2] = d2;
    if (w->bad_shape && strcmp(w->bad_shape, w->names[i]) == 0) { int64_t a = s[0]; s[0] = s[1]; s[1] = a; }
    size_t n = (size_t)(d0 * (ndims > 1 ? d1 : 1) * (ndims > 2 ? d2 : 1));
    if (w->bad_dtype && strcmp(w->bad_dtype, w->names[i]) == 0) dt = SC_ST_I32;
    size_t es = sc_st_dtype_size(dt);
    uint8_t *b = malloc(n * es);
    for (size_t j = 0; j < n; j++) {
        if (dt == SC_ST_F32 || dt == SC_ST_I32) memcpy(b + 4 * j, &v[j], 4);
        else {
            uint16_t h = dt == SC_ST_BF16 ? sc_f32_to_bf16(v[j]) : sc_f32_to_f16(v[j]);
            memcpy(b + 2 * j, &h, 2);
        }
    }
    w->bufs[i] = b;
    w->t[i] = (sc_st_write_tensor){w->names[i], dt, ndims, s, b, n * es};
    w->n++;
}

static void write_config(const char *dir, const tcfg *c) {
    char path[512], only[128] = "";
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int L = 0, o = 0; L < c->L; L++)
        if (c->mlp_only >> L & 1) o += snprintf(only + o, sizeof only - (size_t)o, "%s%d", o ? ", " : "", L);
    const bool moe = strstr(c->arch, "Moe") != NULL;
    const char *dtn = c->dt == SC_ST_BF16 ? "bfloat16" : c->dt == SC_ST_F16 ? "float16" : "float32";
    fprintf(f, "{\n \"architectures\": [\"%s\"],\n \"model_type\": \"%s\",\n", c->arch, moe ? "qwen3_moe" : "qwen3");
    fprintf(f, " \"vocab_size\": %d, \"hidden_size\": %d, \"intermediate_size\": %d, \"num_hidden_layers\": %d,\n",
            c->V, c->D, c->I, c->L);
    fprintf(f, " \"num_attention_heads\": %d, \"num_key_value_heads\": %d, \"head_dim\": %d, \"hidden_act\": \"silu\",\n",
            c->H, c->Hkv, c->hd);
    fprintf(f, " \"rms_norm_eps\": 1e-06, \"max_position_embeddings\": 64, \"tie_word_embeddings\": %s,\n",
            c->tied ? "true" : "false");
    fprintf(f, " \"attention_bias\": %s, \"bos_token_id\": 1, \"eos_token_id\": 2, \"use_cache\": true,\n",
            c->bias ? "true" : "false");
    if (moe)
        fprintf(f, " \"%s\": %d, \"num_experts_per_tok\": %d, \"moe_intermediate_size\": %d,\n \"norm_topk_prob\": %s, "
                "\"decoder_sparse_step\": %d, \"mlp_only_layers\": [%s], \"router_aux_loss_coef\": 0.0,\n",
                c->v5 ? "num_local_experts" : "num_experts", c->E, c->k, c->Im, c->norm_topk ? "true" : "false",
                c->sparse_step, only);
    if (c->v5)
        fprintf(f, " \"rope_parameters\": {\"rope_theta\": %.1f, \"rope_type\": \"default\"},\n \"dtype\": \"%s\",\n"
                " \"transformers_version\": \"5.0.0\"\n}\n", c->theta, dtn);
    else
        fprintf(f, " \"rope_theta\": %.1f, \"rope_scaling\": null, \"torch_dtype\": \"%s\",\n"
                " \"transformers_version\": \"4.57.1\"\n}\n", c->theta, dtn);
    fclose(f);
    snprintf(path, sizeof path, "%s/generation_config.json", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{\"bos_token_id\": 1, \"eos_token_id\": [2], \"do_sample\": true, \"temperature\": 0.6}\n");
    fclose(f);
}

/* dir gets config.json, generation_config.json and model.safetensors */
static void write_checkpoint(const char *dir, const tmodel *m, twriter *w) {
    const tcfg *c = &m->c;
    const sc_st_dtype dt = c->dt;
    const int D = c->D, Q = c->H * c->hd, KV = c->Hkv * c->hd;
    put(w, dt, m->embed, 2, c->V, D, 0, "model.embed_tokens.weight");
    put(w, dt, m->norm, 1, D, 0, 0, "model.norm.weight");
    if (!c->tied) put(w, dt, m->lm_head, 2, c->V, D, 0, "lm_head.weight");
    for (int L = 0; L < c->L; L++) {
        const tlayer *l = &m->layers[L];
        put(w, dt, l->attn_norm, 1, D, 0, 0, "model.layers.%d.input_layernorm.weight", L);
        put(w, dt, l->ffn_norm, 1, D, 0, 0, "model.layers.%d.post_attention_layernorm.weight", L);
        put(w, dt, l->q_norm, 1, c->hd, 0, 0, "model.layers.%d.self_attn.q_norm.weight", L);
        put(w, dt, l->k_norm, 1, c->hd, 0, 0, "model.layers.%d.self_attn.k_norm.weight", L);
        put(w, dt, l->wq, 2, Q, D, 0, "model.layers.%d.self_attn.q_proj.weight", L);
        put(w, dt, l->wk, 2, KV, D, 0, "model.layers.%d.self_attn.k_proj.weight", L);
        put(w, dt, l->wv, 2, KV, D, 0, "model.layers.%d.self_attn.v_proj.weight", L);
        put(w, dt, l->wo, 2, D, Q, 0, "model.layers.%d.self_attn.o_proj.weight", L);
        if (c->bias) {
            put(w, dt, l->bq, 1, Q, 0, 0, "model.layers.%d.self_attn.q_proj.bias", L);
            put(w, dt, l->bk, 1, KV, 0, 0, "model.layers.%d.self_attn.k_proj.bias", L);
            put(w, dt, l->bv, 1, KV, 0, 0, "model.layers.%d.self_attn.v_proj.bias", L);
            put(w, dt, l->bo, 1, D, 0, 0, "model.layers.%d.self_attn.o_proj.bias", L);
        }
        if (!l->moe) {
            put(w, dt, l->gate, 2, c->I, D, 0, "model.layers.%d.mlp.gate_proj.weight", L);
            put(w, dt, l->up, 2, c->I, D, 0, "model.layers.%d.mlp.up_proj.weight", L);
            put(w, dt, l->down, 2, D, c->I, 0, "model.layers.%d.mlp.down_proj.weight", L);
            continue;
        }
        const size_t em = (size_t)c->Im * D;
        put(w, dt, l->router, 2, c->E, D, 0, "model.layers.%d.mlp.gate.weight", L);
        if (c->fused) { /* transformers v5: gate_up_proj [E, 2*Im, D] (gate rows first), down_proj [E, D, Im] */
            float *gu = malloc(2 * em * (size_t)c->E * sizeof *gu);
            for (int e = 0; e < c->E; e++) {
                memcpy(gu + 2 * em * e, l->eg + em * e, em * sizeof *gu);
                memcpy(gu + 2 * em * e + em, l->eu + em * e, em * sizeof *gu);
            }
            put(w, dt, gu, 3, c->E, 2 * c->Im, D, "model.layers.%d.mlp.experts.gate_up_proj", L);
            put(w, dt, l->ed, 3, c->E, D, c->Im, "model.layers.%d.mlp.experts.down_proj", L);
            free(gu);
            continue;
        }
        for (int e = 0; e < c->E; e++) {
            put(w, dt, l->eg + em * e, 2, c->Im, D, 0, "model.layers.%d.mlp.experts.%d.gate_proj.weight", L, e);
            put(w, dt, l->eu + em * e, 2, c->Im, D, 0, "model.layers.%d.mlp.experts.%d.up_proj.weight", L, e);
            put(w, dt, l->ed + em * e, 2, D, c->Im, 0, "model.layers.%d.mlp.experts.%d.down_proj.weight", L, e);
        }
    }
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    assert_int_equal(sc_safetensors_write(path, w->t, w->n, "{\"format\": \"pt\"}"), SC_OK);
    for (int i = 0; i < w->n; i++) free(w->bufs[i]);
    write_config(dir, c);
}

static char *make_dir(char *buf, size_t len) {
    snprintf(buf, len, "/tmp/sc_model_test_XXXXXX");
    assert_non_null(mkdtemp(buf));
    return buf;
}

static void remove_dir(const char *dir) {
    const char *files[] = {"config.json", "generation_config.json", "model.safetensors"};
    char path[512];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* ---- comparisons ---- */
static double max_err(const float *got, const double *want, size_t n) {
    double e = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= e)) e = d; /* NaN sticks */
    }
    if (e > g_max_err || e != e) g_max_err = e;
    return e;
}

static sc_model_t *load(const char *dir, int max_seqs, int block_size, int64_t max_len) {
    sc_model_opts o = {.struct_size = sizeof o, .max_seqs = max_seqs, .block_size = block_size,
                       .max_model_len = max_len};
    sc_model_t *m = NULL;
    char err[512];
    int rc = sc_model_load(dir, &o, &m, err, sizeof err);
    if (rc != SC_OK) print_message("load failed: %s (%s)\n", err, sc_strerror(rc));
    assert_int_equal(rc, SC_OK);
    return m;
}

#define NTOK 13
static const int32_t toks_a[NTOK] = {5, 17, 3, 44, 9, 61, 23, 2, 71, 30, 30, 8, 50};
static const int32_t toks_b[NTOK] = {11, 4, 66, 12, 7, 39, 52, 1, 19, 28, 75, 6, 33};

/* Prefill with all_logits, token-by-token decode and a chunked prefill all
 * match the naive logits at every position. */
static void check_model(const tcfg *c, uint64_t seed, int block_size) {
    tmodel tm;
    tmodel_init(&tm, c, seed);
    char dir[64];
    twriter *w = calloc(1, sizeof *w);
    write_checkpoint(make_dir(dir, sizeof dir), &tm, w);
    free(w);
    const int V = c->V;
    double *want = malloc((size_t)NTOK * V * sizeof *want);
    float *got = malloc((size_t)NTOK * V * sizeof *got);
    naive_forward(&tm, toks_a, NTOK, want);

    sc_model_t *m = load(dir, 1, block_size, 0);
    assert_int_equal(sc_model_config_of(m)->vocab_size, V);
    /* one prefill, every position */
    assert_int_equal(sc_model_forward(m, 0, toks_a, NTOK, got, true), SC_OK);
    assert_true(max_err(got, want, (size_t)NTOK * V) < TOL);
    assert_int_equal(sc_model_seq_len(m, 0), NTOK);
    /* incremental decode after a reset */
    assert_int_equal(sc_model_seq_reset(m, 0), SC_OK);
    assert_int_equal(sc_model_seq_len(m, 0), 0);
    for (int t = 0; t < NTOK; t++) {
        assert_int_equal(sc_model_forward(m, 0, &toks_a[t], 1, got, false), SC_OK);
        assert_true(max_err(got, want + (size_t)t * V, (size_t)V) < TOL);
    }
    /* chunked: 5 tokens (last logits only), then 8 with every position */
    assert_int_equal(sc_model_seq_reset(m, 0), SC_OK);
    assert_int_equal(sc_model_forward(m, 0, toks_a, 5, got, false), SC_OK);
    assert_true(max_err(got, want + (size_t)4 * V, (size_t)V) < TOL);
    assert_int_equal(sc_model_forward(m, 0, toks_a + 5, NTOK - 5, got, true), SC_OK);
    assert_true(max_err(got, want + (size_t)5 * V, (size_t)(NTOK - 5) * V) < TOL);
    /* cache-only prefill (no logits), then the last token */
    assert_int_equal(sc_model_seq_reset(m, 0), SC_OK);
    assert_int_equal(sc_model_forward(m, 0, toks_a, NTOK - 1, NULL, false), SC_OK);
    assert_int_equal(sc_model_forward(m, 0, toks_a + NTOK - 1, 1, got, false), SC_OK);
    assert_true(max_err(got, want + (size_t)(NTOK - 1) * V, (size_t)V) < TOL);

    sc_model_free(m);
    remove_dir(dir);
    free(want);
    free(got);
    tmodel_free(&tm);
}

/* tied, GQA 2:1, head_dim 24 != hidden/heads = 16, f32 */
static const tcfg cfg_dense = {.arch = "Qwen3ForCausalLM", .V = 97, .D = 64, .L = 2, .H = 4, .Hkv = 2, .hd = 24,
                               .I = 80, .tied = true, .theta = 1e6, .dt = SC_ST_F32};

static void test_dense_tied_gqa(void **state) {
    (void)state;
    check_model(&cfg_dense, 1, 4);
}

static void test_dense_untied_mha_bf16_bias(void **state) {
    (void)state;
    tcfg c = {.arch = "Qwen3ForCausalLM", .V = 80, .D = 48, .L = 3, .H = 6, .Hkv = 6, .hd = 8, .I = 64,
              .tied = false, .bias = true, .theta = 1e4, .dt = SC_ST_BF16};
    check_model(&c, 2, 16);
}

static void test_dense_gqa4_f16_v5(void **state) {
    (void)state;
    tcfg c = {.arch = "Qwen3ForCausalLM", .V = 96, .D = 32, .L = 2, .H = 8, .Hkv = 2, .hd = 12, .I = 48,
              .theta = 1e6, .dt = SC_ST_F16, .v5 = true};
    check_model(&c, 3, 8);
}

/* every layer sparse, top-3 of 8, renormalised, per-expert tensors, MQA */
static void test_moe_norm(void **state) {
    (void)state;
    tcfg c = {.arch = "Qwen3MoeForCausalLM", .V = 90, .D = 64, .L = 2, .H = 4, .Hkv = 1, .hd = 32, .I = 128,
              .E = 8, .k = 3, .Im = 24, .sparse_step = 1, .norm_topk = true, .theta = 1e6, .dt = SC_ST_F32};
    check_model(&c, 4, 4);
}

/* not renormalised, decoder_sparse_step 2 + mlp_only_layers [0] (layers 1, 3
 * sparse), tied, v5 dialect with fused experts, bf16 */
static void test_moe_sparse_fused_v5(void **state) {
    (void)state;
    tcfg c = {.arch = "Qwen3MoeForCausalLM", .V = 84, .D = 48, .L = 4, .H = 4, .Hkv = 2, .hd = 16, .I = 40,
              .E = 6, .k = 2, .Im = 16, .sparse_step = 2, .mlp_only = 1u, .norm_topk = false, .tied = true,
              .fused = true, .v5 = true, .theta = 1e6, .dt = SC_ST_BF16};
    check_model(&c, 5, 4);
    c.mlp_only = 0;
    c.sparse_step = 1;
    c.k = 1; /* a single expert per token: no sum over slots */
    c.fused = false;
    check_model(&c, 6, 16);
}

/* Two sequences fed alternately, and as one batch, match their own naive runs. */
static void test_two_sequences(void **state) {
    (void)state;
    tmodel tm;
    tcfg c = cfg_dense;
    c.arch = "Qwen3MoeForCausalLM";
    c.E = 4, c.k = 2, c.Im = 16, c.sparse_step = 2, c.norm_topk = true;
    tmodel_init(&tm, &c, 7);
    char dir[64];
    twriter *w = calloc(1, sizeof *w);
    write_checkpoint(make_dir(dir, sizeof dir), &tm, w);
    free(w);
    const int V = c.V;
    double *wa = malloc((size_t)NTOK * V * sizeof *wa), *wb = malloc((size_t)NTOK * V * sizeof *wb);
    float *got = malloc((size_t)2 * NTOK * V * sizeof *got);
    naive_forward(&tm, toks_a, NTOK, wa);
    naive_forward(&tm, toks_b, NTOK, wb);

    sc_model_t *m = load(dir, 3, 4, 32);
    for (int t = 0; t < NTOK; t++) {
        assert_int_equal(sc_model_forward(m, 2, &toks_b[t], 1, got, false), SC_OK);
        assert_true(max_err(got, wb + (size_t)t * V, (size_t)V) < TOL);
        assert_int_equal(sc_model_forward(m, 0, &toks_a[t], 1, got, false), SC_OK);
        assert_true(max_err(got, wa + (size_t)t * V, (size_t)V) < TOL);
    }
    assert_int_equal(sc_model_seq_len(m, 1), 0);
    /* reset one: the other is unaffected */
    assert_int_equal(sc_model_seq_reset(m, 0), SC_OK);
    assert_int_equal(sc_model_seq_len(m, 2), NTOK);
    /* seq 0 again from scratch, and seq 1 fresh, in one interleaved batch */
    int32_t bt[2 * NTOK], bs[2 * NTOK];
    for (int t = 0; t < NTOK; t++) {
        bt[2 * t] = toks_a[t], bs[2 * t] = 0;
        bt[2 * t + 1] = toks_b[t], bs[2 * t + 1] = 1;
    }
    sc_model_batch b = {.n_tokens = 2 * NTOK, .tokens = bt, .seq = bs, .logits = NULL};
    assert_int_equal(sc_model_forward_batch(m, &b, got), SC_OK); /* last of each: a then b */
    assert_true(max_err(got, wa + (size_t)(NTOK - 1) * V, (size_t)V) < TOL);
    assert_true(max_err(got + V, wb + (size_t)(NTOK - 1) * V, (size_t)V) < TOL);
    uint8_t all[2 * NTOK];
    memset(all, 1, sizeof all);
    assert_int_equal(sc_model_seq_reset(m, 0), SC_OK);
    assert_int_equal(sc_model_seq_reset(m, 1), SC_OK);
    b.logits = all;
    assert_int_equal(sc_model_forward_batch(m, &b, got), SC_OK);
    for (int t = 0; t < NTOK; t++) {
        assert_true(max_err(got + (size_t)(2 * t) * V, wa + (size_t)t * V, (size_t)V) < TOL);
        assert_true(max_err(got + (size_t)(2 * t + 1) * V, wb + (size_t)t * V, (size_t)V) < TOL);
    }
    /* seq 2 continued past the others: still its own */
    assert_int_equal(sc_model_seq_len(m, 2), NTOK);
    sc_model_free(m);
    remove_dir(dir);
    free(wa);
    free(wb);
    free(got);
    tmodel_free(&tm);
}

/* ---- errors ---- */
static double last_progress;
static int n_progress;
static void on_progress(double f, void *user) {
    (void)user;
    assert_true(f >= last_progress && f <= 1.0 + 1e-12);
    last_progress = f;
    n_progress++;
}

/* a failed load leaves *out NULL and never reports progress */
static int load_err(const char *dir, char *err, size_t len) {
    sc_model_t *m = (sc_model_t *)(uintptr_t)1;
    sc_model_opts o = {.struct_size = sizeof o, .progress = on_progress};
    n_progress = 0;
    last_progress = 0;
    int rc = sc_model_load(dir, &o, &m, err, len);
    assert_null(m);
    assert_int_equal(n_progress, 0);
    return rc;
}

static void write_with(const char *dir, const tcfg *c, const char *skip, const char *bad_shape, const char *bad_dtype) {
    tmodel tm;
    tmodel_init(&tm, c, 9);
    twriter *w = calloc(1, sizeof *w);
    w->skip = skip;
    w->bad_shape = bad_shape;
    w->bad_dtype = bad_dtype;
    write_checkpoint(dir, &tm, w);
    free(w);
    tmodel_free(&tm);
}

static void test_load_errors(void **state) {
    (void)state;
    char dir[64], err[512];
    tcfg moe = {.arch = "Qwen3MoeForCausalLM", .V = 40, .D = 32, .L = 2, .H = 2, .Hkv = 1, .hd = 16, .I = 32,
                .E = 4, .k = 2, .Im = 8, .sparse_step = 1, .theta = 1e6, .dt = SC_ST_BF16};
    make_dir(dir, sizeof dir);

    write_with(dir, &cfg_dense, "model.layers.1.self_attn.k_norm.weight", NULL, NULL);
    assert_int_equal(load_err(dir, err, sizeof err), SC_ENOENT);
    assert_non_null(strstr(err, "model.layers.1.self_attn.k_norm.weight"));
    assert_non_null(strstr(err, dir));

    write_with(dir, &moe, "model.layers.1.mlp.experts.3.up_proj.weight", NULL, NULL);
    assert_int_equal(load_err(dir, err, sizeof err), SC_ENOENT);
    assert_non_null(strstr(err, "model.layers.1.mlp.experts.3.up_proj.weight"));

    write_with(dir, &cfg_dense, NULL, "model.layers.0.mlp.down_proj.weight", NULL);
    assert_int_equal(load_err(dir, err, sizeof err), SC_EFORMAT);
    assert_non_null(strstr(err, "model.layers.0.mlp.down_proj.weight"));
    assert_non_null(strstr(err, "model.safetensors"));
    assert_non_null(strstr(err, "shape"));

    write_with(dir, &cfg_dense, NULL, NULL, "model.layers.1.self_attn.o_proj.weight");
    assert_int_equal(load_err(dir, err, sizeof err), SC_ENOTSUP);
    assert_non_null(strstr(err, "model.layers.1.self_attn.o_proj.weight"));
    assert_non_null(strstr(err, "I32"));

    /* truncated file: the reader refuses it and names the file */
    write_with(dir, &cfg_dense, NULL, NULL, NULL);
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    assert_int_equal(truncate(path, size - 100), 0);
    assert_true(load_err(dir, err, sizeof err) < 0);
    assert_non_null(strstr(err, "model.safetensors"));

    /* unknown architecture: the message lists the supported ones */
    tcfg bad = cfg_dense;
    bad.arch = "LlamaForCausalLM";
    write_with(dir, &bad, NULL, NULL, NULL);
    assert_int_equal(load_err(dir, err, sizeof err), SC_ENOTSUP);
    assert_non_null(strstr(err, "Qwen3ForCausalLM"));

    /* no checkpoint at all */
    remove_dir(dir);
    assert_true(load_err(dir, err, sizeof err) < 0);
}

static void test_forward_errors(void **state) {
    (void)state;
    char dir[64];
    write_with(make_dir(dir, sizeof dir), &cfg_dense, NULL, NULL, NULL);
    sc_model_t *m = load(dir, 2, 4, 10);
    assert_int_equal(sc_model_max_len(m), 10);
    float *lg = malloc((size_t)cfg_dense.V * 10 * sizeof *lg), *ref = malloc((size_t)cfg_dense.V * sizeof *ref);
    assert_int_equal(sc_model_forward(m, 0, toks_a, 11, lg, false), SC_ERANGE); /* past max_model_len */
    assert_int_equal(sc_model_seq_len(m, 0), 0);
    assert_int_equal(sc_model_forward(m, 0, toks_a, 8, lg, false), SC_OK);
    assert_int_equal(sc_model_forward(m, 0, toks_a + 8, 3, lg, false), SC_ERANGE);
    assert_int_equal(sc_model_seq_len(m, 0), 8);
    int32_t bad_tok = cfg_dense.V;
    assert_int_equal(sc_model_forward(m, 0, &bad_tok, 1, lg, false), SC_ERANGE);
    assert_int_equal(sc_model_forward(m, 2, toks_a, 1, lg, false), SC_EINVAL);  /* no sequence 2 */
    assert_int_equal(sc_model_forward(m, -1, toks_a, 1, lg, false), SC_EINVAL);
    assert_int_equal(sc_model_forward(m, 0, toks_a, 0, lg, false), SC_EINVAL);
    assert_int_equal(sc_model_seq_reset(m, 5), SC_EINVAL);
    /* nothing was written by the failures: continuing matches a clean run */
    assert_int_equal(sc_model_forward(m, 0, toks_a + 8, 2, lg, false), SC_OK);
    assert_int_equal(sc_model_forward(m, 1, toks_a, 10, ref, false), SC_OK);
    for (int i = 0; i < cfg_dense.V; i++) assert_float_equal(lg[i], ref[i], 1e-4);
    assert_int_equal(sc_model_forward(m, 1, toks_a, 1, ref, false), SC_ERANGE); /* full */
    sc_model_free(m);
    free(lg);
    free(ref);
    remove_dir(dir);
}

/* ---- synthetic models ---- */

static void test_synthetic(void **state) {
    (void)state;
    const char *names[] = {"tiny", "tiny-moe"};
    const sc_type types[] = {SC_TYPE_BF16, SC_TYPE_F16, SC_TYPE_F32};
    for (size_t i = 0; i < 2; i++)
        for (size_t j = 0; j < 3; j++) {
            sc_model_opts o = {.struct_size = sizeof o, .weight_type = types[j], .seed = 42, .kv_type = types[j],
                               .progress = on_progress};
            sc_model_t *m = NULL;
            char err[256];
            last_progress = 0;
            n_progress = 0;
            assert_int_equal(sc_model_synthetic(names[i], &o, &m, err, sizeof err), SC_OK);
            assert_true(n_progress > 0);
            assert_true(fabs(last_progress - 1.0) < 1e-9);
            const sc_model_config *c = sc_model_config_of(m);
            float *lg = malloc((size_t)c->vocab_size * 2 * sizeof *lg);
            assert_int_equal(sc_model_forward(m, 0, toks_a, NTOK, lg, false), SC_OK);
            double mx = 0;
            for (int64_t v = 0; v < c->vocab_size; v++) {
                assert_true(isfinite(lg[v]));
                mx = fmax(mx, fabs(lg[v]));
            }
            assert_true(mx > 0.01 && mx < 100);
            uint64_t d0 = sc_model_decode_bytes(m, 0), d1 = sc_model_decode_bytes(m, 100);
            assert_true(d0 > 0 && d0 <= sc_model_weight_bytes(m) + c->vocab_size * c->hidden_size * 4);
            assert_int_equal(d1 - d0, 100ull * 2 * c->n_layers * c->n_kv_heads * c->head_dim * sc_type_size(types[j]));
            free(lg);
            sc_model_free(m);
        }
    /* same seed, same model */
    sc_model_opts o = {.struct_size = sizeof o, .seed = 3};
    sc_model_t *a = NULL, *b = NULL;
    float la[512], lb[512];
    assert_int_equal(sc_model_synthetic("tiny-moe", &o, &a, NULL, 0), SC_OK);
    assert_int_equal(sc_model_synthetic("tiny-moe", &o, &b, NULL, 0), SC_OK);
    assert_int_equal(sc_model_forward(a, 0, toks_b, 4, la, false), SC_OK);
    assert_int_equal(sc_model_forward(b, 0, toks_b, 4, lb, false), SC_OK);
    assert_memory_equal(la, lb, sizeof la);
    sc_model_free(a);
    sc_model_free(b);
    char err[256];
    sc_model_t *m = NULL;
    assert_int_equal(sc_model_synthetic("qwen9-1t", NULL, &m, err, sizeof err), SC_ENOENT);
    assert_non_null(strstr(err, "qwen3-30b-a3b"));
    assert_null(m);
}

/* The big shapes are only checked for their configs (allocating them is for bench). */
static void test_decode_bytes_moe(void **state) {
    (void)state;
    sc_model_opts o = {.struct_size = sizeof o, .weight_type = SC_TYPE_BF16};
    sc_model_t *m = NULL;
    assert_int_equal(sc_model_synthetic("tiny-moe", &o, &m, NULL, 0), SC_OK);
    const sc_model_config *c = sc_model_config_of(m);
    /* layer 0 dense, layers 1-2: 2 of 8 experts; bf16 matrices, f32 norms */
    const uint64_t D = (uint64_t)c->hidden_size, hd = (uint64_t)c->head_dim, V = (uint64_t)c->vocab_size;
    const uint64_t attn = 2 * 2 * D * (uint64_t)(c->n_heads + c->n_kv_heads) * hd + 4 * (2 * D + 2 * hd);
    const uint64_t dense = 2 * 3 * D * (uint64_t)c->intermediate_size;
    const uint64_t moe = 2 * D * 8 + 2 * 2 * 3 * D * (uint64_t)c->moe_intermediate_size + 2 * 8 * 4;
    const uint64_t want = 2 * D + 4 * D + 2 * V * D + 3 * attn + dense + 2 * moe;
    assert_int_equal(sc_model_decode_bytes(m, 0), want);
    sc_model_free(m);
}

/* A prefill longer than one graph (512 tokens) is split; the result is the
 * same as two shorter calls, and the cache-only path agrees too. */
static void test_long_prefill(void **state) {
    (void)state;
    enum { N = 700 };
    sc_model_opts o = {.struct_size = sizeof o, .max_seqs = 3, .seed = 5};
    sc_model_t *m = NULL;
    assert_int_equal(sc_model_synthetic("tiny-moe", &o, &m, NULL, 0), SC_OK);
    const int64_t V = sc_model_config_of(m)->vocab_size;
    int32_t *tok = malloc(N * sizeof *tok);
    float *a = malloc((size_t)N * V * sizeof *a), *b = malloc((size_t)N * V * sizeof *b), *c = malloc(V * sizeof *c);
    for (int i = 0; i < N; i++) tok[i] = (i * 37 + 11) % (int)V;
    assert_int_equal(sc_model_forward(m, 0, tok, N, a, true), SC_OK);
    assert_int_equal(sc_model_forward(m, 1, tok, 300, b, true), SC_OK);
    assert_int_equal(sc_model_forward(m, 1, tok + 300, N - 300, b + (size_t)300 * V, true), SC_OK);
    assert_int_equal(sc_model_forward(m, 2, tok, N - 1, NULL, false), SC_OK);
    assert_int_equal(sc_model_forward(m, 2, tok + N - 1, 1, c, false), SC_OK);
    double e = 0;
    for (size_t i = 0; i < (size_t)N * V; i++) e = fmax(e, fabs(a[i] - b[i]));
    for (int64_t i = 0; i < V; i++) e = fmax(e, fabs(a[(size_t)(N - 1) * V + i] - c[i]));
    assert_true(e < 1e-4);
    assert_int_equal(sc_model_seq_len(m, 0), N);
    sc_model_free(m);
    free(tok);
    free(a);
    free(b);
    free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense_tied_gqa),
        cmocka_unit_test(test_dense_untied_mha_bf16_bias),
        cmocka_unit_test(test_dense_gqa4_f16_v5),
        cmocka_unit_test(test_moe_norm),
        cmocka_unit_test(test_moe_sparse_fused_v5),
        cmocka_unit_test(test_two_sequences),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_forward_errors),
        cmocka_unit_test(test_synthetic),
        cmocka_unit_test(test_decode_bytes_moe),
        cmocka_unit_test(test_long_prefill),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    printf("max abs logit error vs the naive double implementation: %.3g\n", g_max_err);
    return rc;
}

/*
 * tests/backend-ops/cases_recurrent.c - ssm_conv and gated_delta_net, the
 * recurrent ops of Qwen3-Next's Gated DeltaNet layers.
 *
 * Both update a per-slot state IN PLACE (strixcore.h). The state is a leaf
 * with random initial contents, marked written (bo_mark_written), so the
 * runner compares it after compute as well as the output; a case passes
 * only when both are within their bounds. Every case is a batch of runs
 * (bo_p_recur): run i is len[i] tokens of slot slot[i] at positions pos[i]
 * .. pos[i] + len[i] - 1, the runs one after another in the batch, slots in
 * no particular order, some slots left out (their state must not change).
 * A run at position 0 starts from a zero state whatever the slot holds;
 * the others continue from it. The shapes: decode (runs of one token, some
 * at 0), prefill (one long run at 0, or continuing), mixed batches, runs
 * shorter than the convolution's history, runs over several 64-token chunks
 * (where a chunked kernel splits them), the 80B model's sizes, and the
 * largest head dims the op allows.
 *
 * SSM_CONV reads x as a view [Cg, G, T] of the wider [G * (Cg + Cz), T]
 * projection it comes from in the model (the q/k/v channels of each group,
 * not its z), or the last Cg of each group (x_tail: an offset view), or a
 * contiguous x (Cz = 0). A continuing run at pos p0 < Kc - 1 has zeros in
 * the state entries for positions before 0 (what the state holds after the
 * run that wrote it, and what "0 for p < 0" in strixcore.h reads as).
 * GATED_DELTA_NET: qkv contiguous, or the output of an SSM_CONV of such a
 * projection (conv_in: the layer as the model builds it, both states
 * written); ba contiguous or a view with padded rows at an odd offset.
 * Values: x, q, k, v in [-1, 1]; b, a in [-3, 3]; A_log in [-1, 1],
 * dt_bias in [-3, 1], so the per-token decay exp(-exp(A_log) softplus(a +
 * dt_bias)) spans 1 - 1e-3 .. 2e-5 and the summed log decay of a 64-token
 * chunk can pass f32's exp range (a chunked kernel must take exp of
 * differences); the state in [-0.1, 0.1] (conv: [-1, 1]).
 *
 * Error bounds:
 *  - SSM_CONV output: 1e-7 (NMSE_F32 of cases_basic.c): a Kc-term dot
 *    product and a silu per element; reassociation and a vectorised expf
 *    differ by ~1e-7 relative (nmse ~1e-14). Its state: exact. It only
 *    holds copies of inputs (x or the old state), nothing is computed.
 *  - GATED_DELTA_NET output: 1e-7. Per token and head, dot products of
 *    dk <= 256 terms and a rank-1 update of the state; the recurrence
 *    contracts (|k| = 1, beta < 1, decay <= 1), so rounding does not grow
 *    along the run: the f32 reference is within nmse ~1e-12 of the exact
 *    result. A chunked kernel (WY form, triangular solve per 64-token
 *    chunk) reassociates much more; 1e-7 leaves it five orders. A wrong
 *    head, token, gate or slot costs > 1e-5 in every shape here.
 *  - GATED_DELTA_NET state: 1e-6. The state sums every token's update of a
 *    run and is carried to the next call, so it collects the whole run's
 *    rounding (chunked kernels write it once per chunk, from a different
 *    association than the per-token outputs). The conv_in cases hold both
 *    states to this bound (the conv state stays exact in practice).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bo.h"

#define NMSE_CONV 1e-7
#define NMSE_GDN 1e-7
#define NMSE_GDN_STATE 1e-6

/* ---- seq and pos of a batch of runs ------------------------------------ */
static int64_t n_tokens(const bo_p_recur *p) {
    int64_t T = 0;
    for (int i = 0; i < p->n_runs; i++) T += p->len[i];
    return T;
}

/* seq, pos i32 [T] leaves of the runs; false (e->err set) when out of memory */
static bool make_tokens(bo_env *e, const bo_p_recur *p, sc_tensor **seq, sc_tensor **pos) {
    int64_t T = n_tokens(p);
    int32_t *s = malloc((size_t)T * sizeof *s), *q = malloc((size_t)T * sizeof *q);
    if (!s || !q) {
        free(s);
        free(q);
        e->err = SC_ENOMEM;
        return false;
    }
    int64_t t = 0;
    for (int i = 0; i < p->n_runs; i++) {
        for (int64_t j = 0; j < p->len[i]; j++, t++) {
            s[t] = p->slot[i];
            q[t] = p->pos[i] + (int32_t)j;
        }
    }
    *seq = bo_leaf_i32(e, 1, &T, s);
    *pos = bo_leaf_i32(e, 1, &T, q);
    free(s);
    free(q);
    return true;
}

/* ---- SSM_CONV ----------------------------------------------------------- */

/* The convolution of one group layout: x [Cg, G, T] viewed from a leaf [G *
 * (Cg + Cz), T] at column `off` of each group (or a contiguous leaf when Cz
 * is 0); w [Kc, C]; its state leaf (written) in *state. */
static sc_tensor *conv(bo_env *e, const bo_p_recur *p, int64_t off, sc_tensor *seq, sc_tensor *pos,
                       sc_tensor **state) {
    const int64_t Cg = p->Cg, G = p->G, C = Cg * G, Kc = p->Kc, T = n_tokens(p);
    sc_tensor *x;
    if (p->Cz > 0) {
        int64_t lne[2] = {G * (Cg + p->Cz), T};
        sc_tensor *proj = bo_leaf_uniform(e, SC_TYPE_F32, 2, lne, -1.0f, 1.0f);
        if (!proj) return NULL;
        const int64_t ne[4] = {Cg, G, T, 1};
        const size_t es = sizeof(float);
        const size_t nb[4] = {es, (size_t)(Cg + p->Cz) * es, proj->nb[1], proj->nb[1] * (size_t)T};
        x = sc_view(e->ctx, proj, 3, ne, nb, (size_t)off * es);
    } else {
        int64_t ne[3] = {Cg, G, T};
        x = bo_leaf_uniform(e, SC_TYPE_F32, 3, ne, -1.0f, 1.0f);
    }
    int64_t wne[2] = {Kc, C};
    sc_tensor *w = bo_leaf_uniform(e, SC_TYPE_F32, 2, wne, -0.5f, 0.5f);
    int64_t sne[3] = {C, Kc - 1, p->n_slots};
    sc_tensor *st = bo_leaf_uniform(e, SC_TYPE_F32, 3, sne, -1.0f, 1.0f);
    if (st) sc_tensor_set_name(st, "conv_state");
    const bo_leaf *leaf = bo_env_leaf(e, st);
    if (leaf) {
        /* a continuing run at p0 < Kc - 1: no inputs before position 0 */
        float *sd = leaf->data;
        for (int i = 0; i < p->n_runs; i++)
            for (int64_t j = 0; p->pos[i] > 0 && j < Kc - 1; j++)
                if (p->pos[i] - (Kc - 1) + j < 0)
                    memset(sd + ((size_t)p->slot[i] * (size_t)(Kc - 1) + (size_t)j) * (size_t)C, 0,
                           (size_t)C * sizeof *sd);
    }
    bo_mark_written(e, st);
    *state = st;
    return sc_ssm_conv(e->ctx, x, w, st, seq, pos);
}

sc_tensor *bo_build_ssm_conv(bo_env *e, const bo_case *c) {
    const bo_p_recur *p = &c->p.rec;
    sc_tensor *seq = NULL, *pos = NULL, *state = NULL;
    if (!make_tokens(e, p, &seq, &pos)) return NULL;
    return conv(e, p, p->x_tail ? p->Cz : 0, seq, pos, &state);
}

/* ---- GATED_DELTA_NET ---------------------------------------------------- */
sc_tensor *bo_build_gated_delta_net(bo_env *e, const bo_case *c) {
    const bo_p_recur *p = &c->p.rec;
    const int64_t dk = p->dk, dv = p->dv, nk = p->nk, nv = p->nv, r = nv / nk, T = n_tokens(p);
    sc_tensor *seq = NULL, *pos = NULL, *cst = NULL;
    if (!make_tokens(e, p, &seq, &pos)) return NULL;
    sc_tensor *qkv;
    if (p->conv_in) {
        /* the layer: conv over [q | k | v] of each key-head group of the
         * projection [nk * (2dk + 2 r dv), T], whose z (r dv) it skips */
        bo_p_recur cp = *p;
        cp.Cg = 2 * dk + r * dv;
        cp.G = nk;
        cp.Cz = r * dv;
        qkv = conv(e, &cp, 0, seq, pos, &cst);
    } else {
        int64_t ne[2] = {nk * (2 * dk + r * dv), T};
        qkv = bo_leaf_uniform(e, SC_TYPE_F32, 2, ne, -1.0f, 1.0f);
    }
    sc_tensor *ba;
    if (p->ba_pad > 0) {
        /* columns ba_pad .. of [2nv + ba_pad, T]: padded rows, an odd start */
        int64_t lne[2] = {2 * nv + p->ba_pad, T};
        sc_tensor *leaf = bo_leaf_uniform(e, SC_TYPE_F32, 2, lne, -3.0f, 3.0f);
        if (!leaf) return NULL;
        const int64_t ne[2] = {2 * nv, T};
        const size_t nb[2] = {sizeof(float), leaf->nb[1]};
        ba = sc_view(e->ctx, leaf, 2, ne, nb, (size_t)p->ba_pad * sizeof(float));
    } else {
        int64_t ne[2] = {2 * nv, T};
        ba = bo_leaf_uniform(e, SC_TYPE_F32, 2, ne, -3.0f, 3.0f);
    }
    float adv[2 * 256];
    if (nv > 256) {
        e->err = SC_EINVAL; /* a case-table bug */
        return NULL;
    }
    for (int64_t h = 0; h < nv; h++) adv[h] = bo_uniform(e, -1.0f, 1.0f);       /* A_log */
    for (int64_t h = 0; h < nv; h++) adv[nv + h] = bo_uniform(e, -3.0f, 1.0f);  /* dt_bias */
    int64_t adne[2] = {nv, 2};
    sc_tensor *ad = bo_leaf_f32(e, 2, adne, adv);
    int64_t sne[4] = {dv, dk, nv, p->n_slots};
    sc_tensor *st = bo_leaf_uniform(e, SC_TYPE_F32, 4, sne, -0.1f, 0.1f);
    if (st) sc_tensor_set_name(st, "state");
    bo_mark_written(e, st);
    return sc_gated_delta_net(e->ctx, qkv, ba, ad, st, seq, pos, (int)nk, p->eps);
}

/* ---- the tables --------------------------------------------------------- */

/* A batch: n_slots slots, runs {slot, pos, len}. */
typedef struct runs {
    int n_slots, n;
    struct { int32_t slot, pos; int64_t len; } r[BO_MAX_RUNS];
} runs;

static const runs DECODE = {4, 4, {{2, 7, 1}, {0, 0, 1}, {3, 12, 1}, {1, 1, 1}}};
static const runs DECODE2 = {2, 2, {{1, 2, 1}, {0, 0, 1}}};
static const runs PREFILL = {2, 1, {{1, 0, 37}}};
static const runs CONTINUE = {2, 1, {{0, 5, 37}}};
/* runs of different lengths, one shorter than the conv history (2 at 6),
 * one fresh single token, slot 4 left out */
static const runs MIXED = {6, 5, {{3, 0, 9}, {1, 20, 1}, {0, 4, 16}, {5, 6, 2}, {2, 0, 1}}};
/* several 64-token chunks, not aligned to 64 in the second run */
static const runs LONG = {3, 2, {{2, 0, 150}, {0, 150, 70}}};

static void set_runs(bo_p_recur *p, const runs *b) {
    p->n_slots = b->n_slots;
    p->n_runs = b->n;
    for (int i = 0; i < b->n; i++) {
        p->slot[i] = b->r[i].slot;
        p->pos[i] = b->r[i].pos;
        p->len[i] = b->r[i].len;
    }
}

/* ",runs=slot:pos+len,..." */
static void runs_name(const bo_p_recur *p, char *buf, size_t len) {
    size_t n = (size_t)snprintf(buf, len, "slots=%d,runs=", p->n_slots);
    for (int i = 0; i < p->n_runs && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s%d:%d+%lld", i ? "/" : "", p->slot[i], p->pos[i],
                              (long long)p->len[i]);
}

static bo_case *add_conv(bo_list *l, int64_t Cg, int64_t G, int64_t Cz, int64_t Kc, bool tail, const runs *b) {
    bo_case *c = bo_list_add(l, SC_OP_SSM_CONV, bo_build_ssm_conv, NMSE_CONV);
    if (!c) return NULL;
    c->written_err = BO_EXACT;
    c->p.rec = (bo_p_recur){.Cg = Cg, .G = G, .Cz = Cz, .Kc = Kc, .x_tail = tail};
    set_runs(&c->p.rec, b);
    char rn[120];
    runs_name(&c->p.rec, rn, sizeof rn);
    bo_case_name(c, "Cg=%lld,G=%lld,Kc=%lld,x=%s,%s", (long long)Cg, (long long)G, (long long)Kc,
                 Cz == 0 ? "contiguous" : tail ? "proj_tail" : "proj", rn);
    return c;
}

static bo_case *add_gdn(bo_list *l, int64_t dk, int64_t dv, int64_t nk, int64_t nv, int64_t ba_pad, bool conv_in,
                        const runs *b) {
    bo_case *c = bo_list_add(l, SC_OP_GATED_DELTA_NET, bo_build_gated_delta_net, NMSE_GDN);
    if (!c) return NULL;
    c->written_err = NMSE_GDN_STATE;
    c->p.rec = (bo_p_recur){.dk = dk, .dv = dv, .nk = nk, .nv = nv, .ba_pad = ba_pad, .eps = 1e-6f,
                            .conv_in = conv_in, .Kc = 4};
    set_runs(&c->p.rec, b);
    char rn[120];
    runs_name(&c->p.rec, rn, sizeof rn);
    bo_case_name(c, "dk=%lld,dv=%lld,nk=%lld,nv=%lld,%s%s%s", (long long)dk, (long long)dv, (long long)nk,
                 (long long)nv, rn, ba_pad ? ",ba=slice" : "", conv_in ? ",qkv=ssm_conv" : "");
    return c;
}

void bo_cases_recurrent(bo_list *l) {
    /* SSM_CONV: small channels, kernels 4 and 2, every batch shape */
    const runs *const all[] = {&DECODE, &PREFILL, &CONTINUE, &MIXED, &LONG};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        add_conv(l, 24, 3, 8, 4, false, all[i]);
        add_conv(l, 24, 3, 8, 2, false, all[i]);
    }
    add_conv(l, 24, 3, 8, 4, true, &MIXED);     /* x at an offset in its group */
    add_conv(l, 40, 1, 0, 4, false, &MIXED);    /* contiguous x */
    add_conv(l, 24, 3, 0, 3, false, &DECODE);
    /* Qwen3-Next-80B: 16 key-head groups of q, k (128) and v (2 x 128) = 512
     * channels, z (256) skipped; decode over 2 slots, a 64-token chunk */
    static const runs D80 = {2, 1, {{1, 9, 1}}}, P80 = {2, 1, {{0, 17, 64}}};
    add_conv(l, 512, 16, 256, 4, false, &D80);
    add_conv(l, 512, 16, 256, 4, false, &DECODE2);
    add_conv(l, 512, 16, 256, 4, false, &P80);

    /* GATED_DELTA_NET: r = 2 and r = 3 (dk != dv), every batch shape */
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        add_gdn(l, 16, 16, 2, 4, 0, false, all[i]);
        add_gdn(l, 32, 16, 1, 3, 0, false, all[i]);
    }
    add_gdn(l, 16, 16, 2, 4, 3, false, &MIXED);  /* ba a strided view */
    add_gdn(l, 32, 16, 1, 3, 3, false, &DECODE);
    add_gdn(l, 16, 16, 2, 4, 0, true, &MIXED);   /* the layer: ssm_conv -> gated_delta_net */
    /* Qwen3-Next-80B: 16 key heads, 32 value heads, 128 x 128 */
    add_gdn(l, 128, 128, 16, 32, 0, false, &D80);
    add_gdn(l, 128, 128, 16, 32, 0, false, &DECODE2);
    add_gdn(l, 128, 128, 16, 32, 0, false, &P80);
    /* the largest head dims the op takes */
    static const runs S256 = {2, 2, {{1, 3, 5}, {0, 0, 3}}};
    add_gdn(l, 256, 256, 1, 2, 0, false, &S256);
    add_gdn(l, 256, 256, 1, 2, 0, false, &DECODE2);
}

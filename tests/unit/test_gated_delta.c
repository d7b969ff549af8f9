/*
 * tests/unit/test_gated_delta.c - the CPU reference of the Gated DeltaNet ops
 * (backends/cpu/ref_recurrent.c) against the maths of the spec, computed
 * independently here in double precision.
 *
 * gated_delta_net: the reference walks the tokens one by one (the recurrent
 * form). The test computes the same layer with the CHUNKED form of the
 * gated delta rule (specs/formats.md 5.4, the chunked prefill form with
 * chunks of C = 64 tokens: T padded to a multiple of 64, a
 * WY-style triangular system per chunk, the state carried chunk to chunk),
 * which shares no code and no order of operations with the reference, so
 * agreement shows the op computes the rule and not just itself:
 *   - 150 tokens (3 chunks, the last padded) from position 0, on a slot
 *     holding garbage (a run at 0 must ignore it), another slot untouched;
 *   - 70 more tokens from position 150, continuing the state, against the
 *     chunked form started from the first call's final state; ba read
 *     through padded rows;
 *   - both calls against one call of 220 tokens (the recurrence is per
 *     token, so the split must not change a bit).
 * Bound: relative L2 error <= 1e-4 for outputs and states (f32 against
 * double; the measured error is printed, ~1e-7).
 *
 * ssm_conv: against a direct causal convolution in double over each run's
 * history (stored state, then the new inputs), with x a strided view of a
 * wider projection, runs of several slots, fresh and continuing; the state
 * afterwards must hold exactly the last Kc - 1 inputs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "cpu_test_util.h"

/* ---- sizes of the gated_delta_net tests --------------------------------- */
#define NK 2
#define NV 4
#define DK 16
#define DV 16
#define R (NV / NK)
#define GRP (2 * DK + R * DV)    /* qkv channels per key-head group */
#define D (NK * GRP)             /* qkv channels */
#define CH 64                    /* the chunk length of the chunked form */
#define EPS 1e-6f
#define T1 150
#define T2 70
#define REL_BOUND 1e-4

static double softplus_d(double v) { return v > 20.0 ? v : log1p(exp(v)); }

/* relative L2 error of n floats against n doubles */
static double rel_err(const float *a, const double *b, size_t n) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += b[i] * b[i];
    }
    return den > 0.0 ? sqrt(num / den) : sqrt(num);
}

/*
 * The chunked gated delta rule in double, per value head, for one run of T
 * tokens: qkv [T][D], ba [T][2 NV] (row stride ba_stride floats), ad [2][NV]
 * (A_log, dt_bias); S [NV][DK][DV] in/out (the state the run starts from,
 * then its final state); O [T][NV][DV].
 */
static void chunked_gdn(const float *qkv, const float *ba, size_t ba_stride, const float *ad, int T, double *S,
                        double *O) {
    const int Tp = (T + CH - 1) / CH * CH;
    double *q = calloc((size_t)Tp * DK, sizeof *q), *k = calloc((size_t)Tp * DK, sizeof *k);
    double *v = calloc((size_t)Tp * DV, sizeof *v), *beta = calloc((size_t)Tp, sizeof *beta);
    double *g = calloc((size_t)Tp, sizeof *g);
    static double A[CH][CH], U[CH][DV], W[CH][DK], Vn[CH][DV];
    double G[CH];
    assert_non_null(q);
    assert_non_null(k);
    assert_non_null(v);
    assert_non_null(beta);
    assert_non_null(g);
    for (int h = 0; h < NV; h++) {
        const int grp = h / R, hr = h % R;
        /* the per-token inputs of head h; the padding stays zero (k = 0,
         * g = 0: padded tokens change nothing) */
        for (int t = 0; t < T; t++) {
            const float *row = qkv + (size_t)t * D + (size_t)grp * GRP;
            double qq = 0.0, kk = 0.0;
            for (int i = 0; i < DK; i++) {
                qq += (double)row[i] * row[i];
                kk += (double)row[DK + i] * row[DK + i];
            }
            const double qs = 1.0 / sqrt(qq + EPS) / sqrt((double)DK), ks = 1.0 / sqrt(kk + EPS);
            for (int i = 0; i < DK; i++) {
                q[t * DK + i] = row[i] * qs;
                k[t * DK + i] = row[DK + i] * ks;
            }
            for (int j = 0; j < DV; j++) v[t * DV + j] = row[2 * DK + hr * DV + j];
            const float *bar = ba + (size_t)t * ba_stride + (size_t)grp * 2 * R;
            beta[t] = 1.0 / (1.0 + exp(-(double)bar[hr]));
            g[t] = -exp((double)ad[h]) * softplus_d((double)bar[R + hr] + ad[NV + h]);
        }
        double *Sh = S + (size_t)h * DK * DV; /* [DK][DV] */
        for (int c0 = 0; c0 < Tp; c0 += CH) {
            const double *qc = q + c0 * DK, *kc = k + c0 * DK, *vc = v + c0 * DV, *bc = beta + c0;
            for (int i = 0; i < CH; i++) G[i] = (i ? G[i - 1] : 0.0) + g[c0 + i];
            /* A[i][j] = -(kb_i . k_j) Dm[i][j] below the diagonal */
            memset(A, 0, sizeof A);
            for (int i = 0; i < CH; i++) {
                for (int j = 0; j < i; j++) {
                    double d = 0.0;
                    for (int e = 0; e < DK; e++) d += kc[i * DK + e] * kc[j * DK + e];
                    A[i][j] = -bc[i] * d * exp(G[i] - G[j]);
                }
            }
            /* row i += row i @ rows < i (already updated), then + I */
            for (int i = 1; i < CH; i++) {
                double row[CH];
                memcpy(row, A[i], sizeof row);
                for (int j = 0; j < i; j++) {
                    double s = row[j];
                    for (int m = j + 1; m < i; m++) s += row[m] * A[m][j];
                    A[i][j] = s;
                }
            }
            for (int i = 0; i < CH; i++) A[i][i] = 1.0;
            /* U = A @ vb, W = A @ (kb * exp(G)) */
            for (int i = 0; i < CH; i++) {
                for (int j = 0; j < DV; j++) {
                    double s = 0.0;
                    for (int m = 0; m <= i; m++) s += A[i][m] * bc[m] * vc[m * DV + j];
                    U[i][j] = s;
                }
                for (int e = 0; e < DK; e++) {
                    double s = 0.0;
                    for (int m = 0; m <= i; m++) s += A[i][m] * bc[m] * exp(G[m]) * kc[m * DK + e];
                    W[i][e] = s;
                }
            }
            /* Vn = U - W @ S */
            for (int i = 0; i < CH; i++) {
                for (int j = 0; j < DV; j++) {
                    double s = U[i][j];
                    for (int e = 0; e < DK; e++) s -= W[i][e] * Sh[e * DV + j];
                    Vn[i][j] = s;
                }
            }
            /* O = (q * exp(G)) @ S + P @ Vn, P[i][j] = (q_i . k_j) Dm[i][j] */
            for (int i = 0; i < CH && c0 + i < T; i++) {
                double *o = O + ((size_t)(c0 + i) * NV + (size_t)h) * DV;
                for (int j = 0; j < DV; j++) {
                    double s = 0.0;
                    for (int e = 0; e < DK; e++) s += qc[i * DK + e] * Sh[e * DV + j];
                    o[j] = s * exp(G[i]);
                }
                for (int m = 0; m <= i; m++) {
                    double d = 0.0;
                    for (int e = 0; e < DK; e++) d += qc[i * DK + e] * kc[m * DK + e];
                    const double p = d * exp(G[i] - G[m]);
                    for (int j = 0; j < DV; j++) o[j] += p * Vn[m][j];
                }
            }
            /* S = S * exp(G_last) + (k * exp(G_last - G))^T @ Vn */
            const double gl = G[CH - 1];
            for (int e = 0; e < DK; e++) {
                for (int j = 0; j < DV; j++) {
                    double s = Sh[e * DV + j] * exp(gl);
                    for (int m = 0; m < CH; m++) s += kc[m * DK + e] * exp(gl - G[m]) * Vn[m][j];
                    Sh[e * DV + j] = s;
                }
            }
        }
    }
    free(q);
    free(k);
    free(v);
    free(beta);
    free(g);
}

/* A gated_delta_net node over `state` [DV, DK, NV, n_slots] for T tokens of
 * one slot from position p0; ba has rows ba_pad floats longer than 2 NV. */
typedef struct gdn_call {
    sc_tensor *node, *qkv, *ba, *ad, *state, *seq, *pos;
} gdn_call;

static gdn_call gdn_node(tt_arena *a, sc_tensor *state, sc_tensor *ad, int T, int slot, int p0, int64_t ba_pad) {
    gdn_call c = {0};
    c.qkv = tt_new(a, SC_TYPE_F32, D, T, 1, 1);
    c.ba = ba_pad ? tt_new_padded(a, SC_TYPE_F32, 2 * NV, T, 1, ba_pad) : tt_new(a, SC_TYPE_F32, 2 * NV, T, 1, 1);
    c.seq = tt_new(a, SC_TYPE_I32, T, 1, 1, 1);
    c.pos = tt_new(a, SC_TYPE_I32, T, 1, 1, 1);
    for (int t = 0; t < T; t++) {
        tt_seti(c.seq, t, 0, 0, 0, slot);
        tt_seti(c.pos, t, 0, 0, 0, p0 + t);
    }
    c.ad = ad;
    c.state = state;
    c.node = tt_op(a, SC_OP_GATED_DELTA_NET, SC_TYPE_F32, DV, NV, T, 1, c.qkv, c.ba, ad);
    c.node->src[3] = state;
    c.node->src[4] = c.seq;
    c.node->src[5] = c.pos;
    c.node->op_params[0] = NK;
    tt_set_f32_param(c.node, 1, EPS);
    return c;
}

/* q, k, v in [-1, 1); b, a in [-3, 3) */
static void fill_inputs(gdn_call *c) {
    tt_fill(c->qkv);
    for (int64_t t = 0; t < c->ba->ne[1]; t++)
        for (int64_t i = 0; i < c->ba->ne[0]; i++) tt_setf(c->ba, i, t, 0, 0, 3.0f * tt_rand());
}

static void check_close(const char *what, const float *got, const double *want, size_t n) {
    const double e = rel_err(got, want, n);
    print_message("  %s: relative L2 error %.2e (bound %.0e)\n", what, e, REL_BOUND);
    if (!(e <= REL_BOUND)) fail_msg("%s: relative L2 error %.3e > %.0e", what, e, REL_BOUND);
}

static void test_gdn_vs_chunked(void **state) {
    (void)state;
    tt_arena a = {0};
    tt_seed(4242);
    const size_t per_slot = (size_t)NV * DK * DV;
    sc_tensor *ad = tt_new(&a, SC_TYPE_F32, NV, 2, 1, 1);
    for (int h = 0; h < NV; h++) {
        tt_setf(ad, h, 0, 0, 0, tt_rand());                /* A_log in [-1, 1) */
        tt_setf(ad, h, 1, 0, 0, -1.0f + 2.0f * tt_rand()); /* dt_bias in [-3, 1) */
    }
    /* two slots of garbage: the run on slot 1 starts at 0 and must ignore
     * it; slot 0 must not change */
    sc_tensor *st = tt_new(&a, SC_TYPE_F32, DV, DK, NV, 2);
    tt_fill(st);
    float *slot0 = malloc(per_slot * sizeof *slot0);
    assert_non_null(slot0);
    memcpy(slot0, st->data, per_slot * sizeof *slot0);

    /* call 1: 150 tokens from position 0 */
    gdn_call c1 = gdn_node(&a, st, ad, T1, 1, 0, 0);
    fill_inputs(&c1);
    assert_int_equal(sc__cpu_ref_compute(c1.node), SC_OK);
    double *S = calloc(per_slot, sizeof *S), *O1 = calloc((size_t)T1 * NV * DV, sizeof *O1);
    assert_non_null(S);
    assert_non_null(O1);
    chunked_gdn(c1.qkv->data, c1.ba->data, 2 * NV, ad->data, T1, S, O1);
    check_close("output, 150 tokens from 0", c1.node->data, O1, (size_t)T1 * NV * DV);
    check_close("state after 150 tokens", (const float *)st->data + per_slot, S, per_slot);
    assert_memory_equal(st->data, slot0, per_slot * sizeof *slot0);
    /* per token too: no token may hide behind the average */
    for (int t = 0; t < T1; t++) {
        const double e = rel_err((const float *)c1.node->data + (size_t)t * NV * DV, O1 + (size_t)t * NV * DV,
                                 (size_t)NV * DV);
        if (!(e <= 10 * REL_BOUND)) fail_msg("token %d: relative error %.3e", t, e);
    }

    /* call 2: 70 more from position 150 (ba through padded rows), against
     * the chunked form from call 1's chunked final state */
    gdn_call c2 = gdn_node(&a, st, ad, T2, 1, T1, 3);
    fill_inputs(&c2);
    assert_int_equal(sc__cpu_ref_compute(c2.node), SC_OK);
    double *O2 = calloc((size_t)T2 * NV * DV, sizeof *O2);
    assert_non_null(O2);
    chunked_gdn(c2.qkv->data, c2.ba->data, (size_t)(c2.ba->nb[1] / sizeof(float)), ad->data, T2, S, O2);
    check_close("output, 70 tokens from 150", c2.node->data, O2, (size_t)T2 * NV * DV);
    check_close("state after 220 tokens", (const float *)st->data + per_slot, S, per_slot);
    assert_memory_equal(st->data, slot0, per_slot * sizeof *slot0);

    /* one call of 220 tokens on slot 0 (from garbage again): bit-identical
     * outputs and state to the two calls */
    gdn_call c3 = gdn_node(&a, st, ad, T1 + T2, 0, 0, 0);
    for (int t = 0; t < T1 + T2; t++) {
        const gdn_call *from = t < T1 ? &c1 : &c2;
        const int64_t tt = t < T1 ? t : t - T1;
        memcpy(tt_ptr(c3.qkv, 0, t, 0, 0), tt_ptr(from->qkv, 0, tt, 0, 0), D * sizeof(float));
        memcpy(tt_ptr(c3.ba, 0, t, 0, 0), tt_ptr(from->ba, 0, tt, 0, 0), 2 * NV * sizeof(float));
    }
    assert_int_equal(sc__cpu_ref_compute(c3.node), SC_OK);
    assert_memory_equal(c3.node->data, c1.node->data, (size_t)T1 * NV * DV * sizeof(float));
    assert_memory_equal(tt_ptr(c3.node, 0, 0, T1, 0), c2.node->data, (size_t)T2 * NV * DV * sizeof(float));
    assert_memory_equal(st->data, (const float *)st->data + per_slot, per_slot * sizeof(float));

    free(slot0);
    free(S);
    free(O1);
    free(O2);
    tt_free(&a);
}

/* ---- ssm_conv against a direct convolution ------------------------------ */
#define CG 24
#define NG 3
#define CZ 8
#define CC (CG * NG)
#define KC 4

static double silu_d(double v) { return v / (1.0 + exp(-v)); }

static void test_ssm_conv_direct(void **state) {
    (void)state;
    tt_arena a = {0};
    tt_seed(77);
    /* runs: slot 2 fresh (12 tokens at 0), slot 0 continuing at 9 (7
     * tokens), slot 3 continuing at 40 (2 tokens: fewer than Kc - 1),
     * slot 1 fresh with 1 token; slot 4 untouched */
    static const struct { int slot, pos, len; } runs[] = {{2, 0, 12}, {0, 9, 7}, {3, 40, 2}, {1, 0, 1}};
    const int n_runs = 4, n_slots = 5;
    int T = 0;
    for (int i = 0; i < n_runs; i++) T += runs[i].len;
    /* x [CG, NG, T]: the first CG channels of each group of a [NG * (CG + CZ), T] projection */
    sc_tensor *x = tt_new_padded(&a, SC_TYPE_F32, CG, NG, T, CZ);
    tt_fill(x);
    sc_tensor *w = tt_new(&a, SC_TYPE_F32, KC, CC, 1, 1);
    tt_fill(w);
    sc_tensor *st = tt_new(&a, SC_TYPE_F32, CC, KC - 1, n_slots, 1);
    tt_fill(st);
    const size_t slot_floats = (size_t)CC * (KC - 1);
    float *st0 = malloc((size_t)n_slots * slot_floats * sizeof *st0);
    assert_non_null(st0);
    memcpy(st0, st->data, (size_t)n_slots * slot_floats * sizeof *st0);
    sc_tensor *seq = tt_new(&a, SC_TYPE_I32, T, 1, 1, 1), *pos = tt_new(&a, SC_TYPE_I32, T, 1, 1, 1);
    for (int i = 0, t = 0; i < n_runs; i++)
        for (int j = 0; j < runs[i].len; j++, t++) {
            tt_seti(seq, t, 0, 0, 0, runs[i].slot);
            tt_seti(pos, t, 0, 0, 0, runs[i].pos + j);
        }
    sc_tensor *y = tt_op(&a, SC_OP_SSM_CONV, SC_TYPE_F32, CC, T, 1, 1, x, w, st);
    y->src[3] = seq;
    y->src[4] = pos;
    assert_int_equal(sc__cpu_ref_compute(y), SC_OK);

    double num = 0.0, den = 0.0;
    for (int i = 0, t0 = 0; i < n_runs; t0 += runs[i].len, i++) {
        const int L = runs[i].len, s = runs[i].slot;
        const bool fresh = runs[i].pos == 0;
        for (int c = 0; c < CC; c++) {
            /* the channel's history: Kc - 1 stored inputs (zeros for a fresh run), then the run's */
            float hist[KC - 1 + 16];
            for (int j = 0; j < KC - 1; j++) hist[j] = fresh ? 0.0f : st0[(size_t)s * slot_floats + (size_t)j * CC + c];
            for (int t = 0; t < L; t++) hist[KC - 1 + t] = tt_getf(x, c % CG, c / CG, t0 + t, 0);
            for (int t = 0; t < L; t++) {
                double acc = 0.0;
                for (int j = 0; j < KC; j++) acc += (double)tt_getf(w, j, c, 0, 0) * hist[t + j];
                const double want = silu_d(acc), got = tt_getf(y, c, t0 + t, 0, 0);
                num += (got - want) * (got - want);
                den += want * want;
                if (!(fabs(got - want) <= 1e-5 * (1.0 + fabs(want))))
                    fail_msg("run %d channel %d token %d: %.9g, expected %.9g", i, c, t, got, want);
            }
            /* the state: exactly the last Kc - 1 inputs of the history */
            for (int j = 0; j < KC - 1; j++)
                if (tt_getf(st, c, j, s, 0) != hist[L + j])
                    fail_msg("run %d channel %d: state[%d] = %.9g, expected %.9g", i, c, j, tt_getf(st, c, j, s, 0),
                             (double)hist[L + j]);
        }
    }
    print_message("  ssm_conv output: relative L2 error %.2e\n", sqrt(num / den));
    /* slot 4 was in no run */
    assert_memory_equal(tt_ptr(st, 0, 0, 4, 0), st0 + 4 * slot_floats, slot_floats * sizeof(float));
    free(st0);
    tt_free(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gdn_vs_chunked),
        cmocka_unit_test(test_ssm_conv_direct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

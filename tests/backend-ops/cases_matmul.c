/*
 * tests/backend-ops/cases_matmul.c - mul_mat and mul_mat_id.
 *
 * Error bounds (nmse against the scalar reference), by weight dtype:
 *  - f32: 1e-7. Only the order of the K-sum may differ (nmse ~K * 2^-48).
 *  - f16, bf16: 1e-5. A backend may round the activations to the weight's
 *    16-bit type to use hardware dot products (ggml's vec_dot_type). bf16
 *    rounding errs by up to 2^-9 relative per term, nmse ~ 2^-18 / 3 = 1.3e-6.
 *  - QG: 5e-5. A backend may quantize activations to int8 per block (ggml's
 *    q8 path): on this data (uniform in [-1, 1]) that is nmse ~1.5e-5.
 *    (ggml allows 5e-4, which would let a dropped K-term pass at K >= 2000.)
 * One dropped term of the K-sum costs nmse ~1/K (9e-5 at K = 11008), above
 * every bound, so the odd K below (1, 7, 31, 33, 257, 4097, 11008) make tails
 * of every SIMD width and blocking show.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bo.h"

static double mm_bound(const bo_wtype *w) {
    switch (w->type) {
    case SC_TYPE_F32: return 1e-7;
    case SC_TYPE_F16:
    case SC_TYPE_BF16: return 1e-5;
    default: return 5e-5;
    }
}

/* ---- MUL_MAT: w [K, N, B2, B3], x f32 [K, M, b2, b3] -> f32 [N, M, b2, b3]
 * view[0]: layout of x, view[1]: layout of w (dense only) */
static sc_tensor *build_mul_mat(bo_env *e, const bo_case *c) {
    const bo_p_mm *p = &c->p.mm;
    sc_tensor *w = bo_leaf_weight(e, &p->w, p->K, p->N, p->B2, p->B3, c->view[1]);
    int64_t ne[4] = {p->K, p->M, p->b2, p->b3};
    sc_tensor *x = bo_leaf_view(e, SC_TYPE_F32, ne, c->view[0], -1.0f, 1.0f);
    return sc_mul_mat(e->ctx, w, x);
}

static bo_case *add_mm(bo_list *l, bo_wtype w, int64_t K, int64_t N, int64_t M, int64_t B2, int64_t B3, int64_t b2,
                   int64_t b3) {
    bo_case *c = bo_list_add(l, SC_OP_MUL_MAT, build_mul_mat, mm_bound(&w));
    if (!c) return NULL;
    c->p.mm = (bo_p_mm){w, K, N, M, B2, B3, b2, b3};
    char wn[32], batch[64] = "";
    if (B2 * B3 * b2 * b3 > 1)
        snprintf(batch, sizeof batch, ",w_batch=[%lld,%lld],x_batch=[%lld,%lld]", (long long)B2, (long long)B3,
                 (long long)b2, (long long)b3);
    bo_case_name(c, "type_w=%s,type_x=f32,K=%lld,N=%lld,M=%lld%s", bo_wtype_name(&w, wn, sizeof wn), (long long)K,
                 (long long)N, (long long)M, batch);
    return c;
}

static void cases_mul_mat(bo_list *l) {
    static const int32_t dense[] = {SC_TYPE_F32, SC_TYPE_F16, SC_TYPE_BF16};
    static const int64_t Ks[] = {1, 7, 31, 33, 64, 257, 4097};
    /* N, M: one dot, a few rows, N and M tails of 4-row blocks, M at the
     * switch from per-row dots (M < 4) to dequantise-once blocks */
    static const int64_t NM[][2] = {{1, 1}, {3, 1}, {5, 2}, {16, 5}, {17, 4}};
    for (size_t t = 0; t < 3; t++) {
        bo_wtype w = bo_dense(dense[t]);
        for (size_t k = 0; k < sizeof Ks / sizeof Ks[0]; k++)
            for (size_t i = 0; i < sizeof NM / sizeof NM[0]; i++) add_mm(l, w, Ks[k], NM[i][0], NM[i][1], 1, 1, 1, 1);
        add_mm(l, w, 4096, 64, 1, 1, 1, 1, 1);     /* a decode step */
        add_mm(l, w, 11008, 16, 3, 1, 1, 1, 1);    /* an FFN down projection */
        add_mm(l, w, 128, 129, 2, 1, 1, 1, 1);     /* N tail of a row-tiled kernel */
        add_mm(l, w, 64, 8, 3, 2, 1, 4, 3);        /* w broadcast over both batch dims */
        add_mm(l, w, 33, 5, 2, 1, 1, 2, 1);
    }

    /* QG: every bits x group size x g_idx, at a power-of-two K and at a K
     * whose last group is partial; M = 1 and 3 (one x column or a few per
     * weight row) and M = 6 (weights dequantised once per block of rows) */
    static const uint32_t bits[] = {2, 3, 4, 8};
    static const uint32_t groups[] = {32, 64, 128, 0};
    for (size_t b = 0; b < 4; b++) {
        for (size_t g = 0; g < 4; g++) {
            for (int gidx = 0; gidx < 2; gidx++) {
                bo_wtype w = bo_qg(bits[b], groups[g], gidx, false);
                add_mm(l, w, 256, 7, 1, 1, 1, 1, 1);
                add_mm(l, w, 333, 5, 3, 1, 1, 1, 1);
                add_mm(l, w, 160, 9, 6, 1, 1, 1, 1);
            }
        }
        add_mm(l, bo_qg(bits[b], 32, false, false), 33, 3, 2, 1, 1, 1, 1);
    }
    add_mm(l, bo_qg(4, 0, false, false), 1, 3, 2, 1, 1, 1, 1);
    add_mm(l, bo_qg(4, 0, false, false), 7, 2, 1, 1, 1, 1, 1);
    add_mm(l, bo_qg(4, 128, false, false), 4096, 64, 1, 1, 1, 1, 1);
    add_mm(l, bo_qg(4, 128, true, false), 11008, 16, 1, 1, 1, 1, 1);
    add_mm(l, bo_qg(8, 128, false, false), 4097, 8, 4, 1, 1, 1, 1);
    add_mm(l, bo_qg(4, 32, false, false), 4096, 32, 7, 1, 1, 1, 1);
    add_mm(l, bo_qg(2, 64, false, false), 4097, 3, 1, 1, 1, 1, 1);
    add_mm(l, bo_qg(3, 128, true, false), 11008, 8, 2, 1, 1, 1, 1);
    add_mm(l, bo_qg(4, 0, false, false), 4097, 3, 1, 1, 1, 1, 1);
    add_mm(l, bo_qg(4, 32, false, false), 64, 8, 1, 2, 1, 4, 1); /* a stack of 2 broadcast to 4 */
    add_mm(l, bo_qg(8, 64, true, false), 96, 5, 2, 3, 1, 3, 1);
    /* compressed-tensors rounds dequantised weights to bf16 */
    add_mm(l, bo_qg(4, 128, false, true), 333, 5, 3, 1, 1, 1, 1);
    add_mm(l, bo_qg(8, 32, true, true), 256, 7, 1, 1, 1, 1, 1);
    add_mm(l, bo_qg(4, 128, true, true), 4096, 16, 2, 1, 1, 1, 1);

    /* prompt-sized batches: M past the register tiles of a GEMM kernel */
    add_mm(l, bo_dense(SC_TYPE_F16), 256, 64, 17, 1, 1, 1, 1);
    add_mm(l, bo_dense(SC_TYPE_F32), 512, 33, 33, 1, 1, 1, 1);
    add_mm(l, bo_dense(SC_TYPE_BF16), 4096, 96, 32, 1, 1, 1, 1);
    add_mm(l, bo_qg(4, 128, false, false), 2048, 64, 16, 1, 1, 1, 1);
    add_mm(l, bo_qg(8, 32, true, false), 512, 40, 33, 1, 1, 1, 1);

    /* the int8-activation QG path (4/8 bits, groups of 32k, K % 32 == 0):
     * decode rows, every tail of its 4-column passes (M = 5, 6, 7), 4-bit
     * blocks paired per 64 columns (K % 64 == 0) and not (K = 96, 160),
     * a partial last group, asymmetric zeros, bf16 rounding; and K that
     * are not multiples of 32, which take the dequantising path */
    add_mm(l, bo_qg(4, 128, false, false), 1024, 256, 1, 1, 1, 1, 1);
    add_mm(l, bo_qg(4, 128, false, false), 1024, 128, 5, 1, 1, 1, 1);
    add_mm(l, bo_qg(4, 128, false, false), 3072, 64, 16, 1, 1, 1, 1);
    add_mm(l, bo_qg(8, 128, false, false), 1024, 128, 1, 1, 1, 1, 1);
    add_mm(l, bo_qg(8, 128, false, false), 2048, 64, 7, 1, 1, 1, 1);
    add_mm(l, bo_qg(8, 32, false, false), 96, 64, 6, 1, 1, 1, 1);
    add_mm(l, bo_qg(4, 32, false, false), 96, 64, 6, 1, 1, 1, 1);
    add_mm(l, bo_qg(4, 32, false, false), 160, 64, 3, 1, 1, 1, 1);
    add_mm(l, bo_qg(4, 64, false, false), 192, 64, 2, 1, 1, 1, 1);
    add_mm(l, bo_qg(4, 128, false, false), 320, 64, 6, 1, 1, 1, 1);
    add_mm(l, bo_qg(8, 128, false, false), 352, 64, 3, 1, 1, 1, 1);
    add_mm(l, bo_qg(4, 128, false, true), 512, 64, 4, 1, 1, 1, 1);
    add_mm(l, bo_qg(4, 96, false, false), 480, 64, 5, 1, 1, 1, 1);
    add_mm(l, bo_qg(4, 32, false, false), 100, 64, 1, 1, 1, 1, 1);
    add_mm(l, bo_qg(4, 32, false, false), 100, 64, 5, 1, 1, 1, 1);
    add_mm(l, bo_qg(8, 128, false, false), 1000, 32, 6, 1, 1, 1, 1);
    add_mm(l, bo_qg(4, 128, true, false), 1024, 64, 5, 1, 1, 1, 1); /* g_idx: dequantising path */
    /* tiled batches (AVX-512: 4-bit rows in steps of 128 columns, 4 x 4
     * tiles): groups of 256 (two steps per group), a partial last group,
     * row and column tails of the tiles */
    add_mm(l, bo_qg(4, 256, false, false), 512, 66, 5, 1, 1, 1, 1);
    add_mm(l, bo_qg(4, 256, false, false), 640, 37, 6, 1, 1, 1, 1);
    add_mm(l, bo_qg(4, 128, false, true), 2304, 21, 9, 1, 1, 1, 1);
    /* dense batches: a K past one 1024-column pass of a GEMM's blocking */
    add_mm(l, bo_dense(SC_TYPE_BF16), 2085, 23, 6, 1, 1, 1, 1);
    add_mm(l, bo_dense(SC_TYPE_F16), 1100, 9, 3, 1, 1, 1, 1);

    /* strided operands: x through a permute, x and w sliced out of wider rows */
    bo_case_views(add_mm(l, bo_dense(SC_TYPE_F32), 64, 8, 3, 1, 1, 2, 1), BO_PERM, "x", BO_CONTIG, "");
    bo_case_views(add_mm(l, bo_dense(SC_TYPE_F16), 257, 5, 4, 1, 1, 3, 1), BO_PERM, "x", BO_CONTIG, "");
    bo_case_views(add_mm(l, bo_qg(4, 32, false, false), 128, 6, 2, 1, 1, 2, 1), BO_PERM, "x", BO_CONTIG, "");
    bo_case_views(add_mm(l, bo_dense(SC_TYPE_F32), 33, 4, 3, 1, 1, 1, 1), BO_SLICE, "x", BO_CONTIG, "");
    bo_case_views(add_mm(l, bo_dense(SC_TYPE_BF16), 4097, 3, 2, 1, 1, 1, 1), BO_SLICE, "x", BO_CONTIG, "");
    bo_case_views(add_mm(l, bo_qg(8, 64, false, false), 256, 5, 3, 1, 1, 1, 1), BO_SLICE, "x", BO_CONTIG, "");
    bo_case_views(add_mm(l, bo_qg(4, 128, true, false), 333, 7, 1, 1, 1, 1, 1), BO_SLICE, "x", BO_CONTIG, "");
    bo_case_views(add_mm(l, bo_dense(SC_TYPE_F32), 64, 7, 2, 1, 1, 1, 1), BO_CONTIG, "x", BO_SLICE, "w");
    bo_case_views(add_mm(l, bo_dense(SC_TYPE_F16), 4097, 5, 1, 1, 1, 1, 1), BO_CONTIG, "x", BO_SLICE, "w");
    bo_case_views(add_mm(l, bo_dense(SC_TYPE_BF16), 33, 3, 3, 1, 1, 1, 1), BO_SLICE, "x", BO_SLICE, "w");
    bo_case_views(add_mm(l, bo_dense(SC_TYPE_F16), 64, 6, 2, 2, 1, 2, 1), BO_PERM, "x", BO_PERM, "w");
}

/* ---- MUL_MAT_ID: w [K, N, E], x f32 [K, X, T], ids i32 [n_used, T] -> f32 [N, n_used, T]
 * view[0]: layout of x */
sc_tensor *bo_build_mul_mat_id(bo_env *e, const bo_case *c) {
    const bo_p_mmid *p = &c->p.mmid;
    sc_tensor *w = bo_leaf_weight(e, &p->w, p->K, p->N, p->E, 1, BO_CONTIG);
    int64_t xne[4] = {p->K, p->X, p->T, 1};
    sc_tensor *x = bo_leaf_view(e, SC_TYPE_F32, xne, c->view[0], -1.0f, 1.0f);
    /* each token picks n_used distinct experts, as a router's top-k does */
    int32_t *ids = malloc((size_t)(p->n_used * p->T) * sizeof *ids);
    int32_t *experts = malloc((size_t)p->E * sizeof *experts);
    if (!ids || !experts) {
        free(ids);
        free(experts);
        e->err = SC_ENOMEM;
        return NULL;
    }
    for (int64_t t = 0; t < p->T; t++) {
        for (int64_t i = 0; i < p->E; i++) experts[i] = (int32_t)i;
        bo_shuffle_i32(e, experts, p->E);
        for (int64_t i = 0; i < p->n_used; i++) ids[t * p->n_used + i] = experts[i];
    }
    int64_t ine[2] = {p->n_used, p->T};
    sc_tensor *tids = bo_leaf_i32(e, 2, ine, ids);
    free(ids);
    free(experts);
    return sc_mul_mat_id(e->ctx, w, x, tids);
}

static bo_case *add_mmid(bo_list *l, bo_wtype w, int64_t K, int64_t N, int64_t E, int64_t n_used, int64_t X,
                         int64_t T) {
    bo_case *c = bo_list_add(l, SC_OP_MUL_MAT_ID, bo_build_mul_mat_id, mm_bound(&w));
    if (!c) return NULL;
    c->p.mmid = (bo_p_mmid){w, K, N, E, n_used, X, T};
    char wn[32];
    bo_case_name(c, "type_w=%s,K=%lld,N=%lld,E=%lld,n_used=%lld,X=%lld,T=%lld", bo_wtype_name(&w, wn, sizeof wn),
                 (long long)K, (long long)N, (long long)E, (long long)n_used, (long long)X, (long long)T);
    return c;
}

static void cases_mul_mat_id(bo_list *l) {
    static const bo_wtype types[] = {
        {.type = SC_TYPE_F32},
        {.type = SC_TYPE_F16},
        {.type = SC_TYPE_BF16},
        {.type = SC_TYPE_QG, .bits = 4, .group = 32},
        {.type = SC_TYPE_QG, .bits = 4, .group = 32, .gidx = true},
        {.type = SC_TYPE_QG, .bits = 8, .group = 0},
        {.type = SC_TYPE_QG, .bits = 2, .group = 64},
        {.type = SC_TYPE_QG, .bits = 3, .group = 32, .gidx = true},
    };
    /* K, N, E, n_used, X, T: X == n_used (down projection: one input per
     * expert) and X == 1 (gate/up: the token's input broadcast) */
    static const int64_t cfg[][6] = {
        {64, 16, 4, 2, 2, 3}, {64, 16, 4, 2, 1, 3}, {96, 7, 8, 4, 4, 5}, {96, 7, 8, 4, 1, 1},
    };
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
        for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++)
            add_mmid(l, types[t], cfg[i][0], cfg[i][1], cfg[i][2], cfg[i][3], cfg[i][4], cfg[i][5]);
    add_mmid(l, bo_dense(SC_TYPE_F32), 33, 9, 6, 6, 6, 2);     /* every expert used */
    add_mmid(l, bo_dense(SC_TYPE_F16), 257, 5, 3, 1, 1, 4);    /* n_used 1 */
    add_mmid(l, bo_dense(SC_TYPE_BF16), 31, 3, 16, 8, 1, 7);
    add_mmid(l, bo_qg(4, 128, false, false), 2048, 64, 8, 2, 1, 1); /* an MoE decode step */
    add_mmid(l, bo_qg(4, 128, true, false), 1024, 32, 8, 2, 2, 4);
    add_mmid(l, bo_dense(SC_TYPE_F16), 2048, 32, 4, 2, 2, 4);
    add_mmid(l, bo_qg(4, 32, false, true), 96, 7, 8, 4, 1, 3);
    /* QG experts on the int8-activation path: decode, and prefill batches
     * whose experts get 1..T tokens (column tails of the 4-column passes) */
    add_mmid(l, bo_qg(4, 128, false, false), 1024, 64, 16, 4, 1, 1);
    add_mmid(l, bo_qg(4, 128, false, false), 1024, 64, 16, 4, 1, 9);
    add_mmid(l, bo_qg(8, 128, false, false), 256, 32, 8, 2, 1, 5);
    add_mmid(l, bo_qg(4, 64, false, false), 128, 32, 4, 2, 2, 9);
    add_mmid(l, bo_qg(4, 32, false, false), 96, 32, 4, 2, 2, 6);
    add_mmid(l, bo_qg(4, 32, false, false), 100, 32, 4, 2, 1, 6); /* K % 32 != 0: dequantising path */
    bo_case_views(add_mmid(l, bo_dense(SC_TYPE_F32), 64, 16, 4, 2, 2, 3), BO_PERM, "x", BO_CONTIG, "");
    bo_case_views(add_mmid(l, bo_dense(SC_TYPE_F16), 64, 16, 4, 2, 2, 3), BO_SLICE, "x", BO_CONTIG, "");
    bo_case_views(add_mmid(l, bo_qg(4, 32, false, false), 96, 7, 8, 4, 1, 2), BO_SLICE, "x", BO_CONTIG, "");
}

void bo_cases_matmul(bo_list *l) {
    cases_mul_mat(l);
    cases_mul_mat_id(l);
}

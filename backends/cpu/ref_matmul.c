/*
 * backends/cpu/ref_matmul.c - reference mul_mat and mul_mat_id.
 *
 * mul_mat:    w [K, N, B2, B3] (f32/f16/bf16/QG), x f32 [K, M, b2, b3]
 *             -> y f32 [N, M, b2, b3], y[n, m] = sum_k w[k, n] * x[k, m].
 *             Batch (i2, i3) uses weight matrix (i2 / (b2/B2), i3 / (b3/B3)).
 * mul_mat_id: w [K, N, E], x f32 [K, X, T] (X == n_used or 1),
 *             ids i32 [n_used, T] -> y f32 [N, n_used, T],
 *             y[:, i, t] = w[:, :, ids[i, t]] @ x[:, X == 1 ? 0 : i, t].
 *
 * Each weight row is first converted to f32 exactly as the dtype defines it
 * (QG: fp16-rounded dequantisation), then dotted with x in f32, k ascending.
 * The output must not alias an input.
 */
#include <stdlib.h>

#include "cpu_impl.h"

int sc__cpu_check_mul_mat(const sc_tensor *node) {
    const sc_tensor *w = node->src[0], *x = node->src[1];
    if (!sc__cpu_weight_ok(w) || !sc__cpu_rows_ok(x, SC_TYPE_F32) || !sc__cpu_rows_ok(node, SC_TYPE_F32))
        return SC_EINVAL;
    if (w->ne[0] != x->ne[0]) return SC_EINVAL;
    if (x->ne[2] % w->ne[2] != 0 || x->ne[3] % w->ne[3] != 0) return SC_EINVAL;
    if (node->ne[0] != w->ne[1] || node->ne[1] != x->ne[1] || node->ne[2] != x->ne[2] || node->ne[3] != x->ne[3])
        return SC_EINVAL;
    return SC_OK;
}

int sc__cpu_check_mul_mat_id(const sc_tensor *node) {
    const sc_tensor *w = node->src[0], *x = node->src[1], *ids = node->src[2];
    if (!sc__cpu_weight_ok(w) || !sc__cpu_rows_ok(x, SC_TYPE_F32) || !sc__cpu_rows_ok(ids, SC_TYPE_I32) ||
        !sc__cpu_rows_ok(node, SC_TYPE_F32))
        return SC_EINVAL;
    if (w->ne[3] != 1 || x->ne[3] != 1 || ids->ne[2] != 1 || ids->ne[3] != 1) return SC_EINVAL;
    if (w->ne[0] != x->ne[0]) return SC_EINVAL;
    const int64_t n_used = ids->ne[0], T = ids->ne[1];
    if (x->ne[1] != 1 && x->ne[1] != n_used) return SC_EINVAL;
    if (x->ne[2] != T) return SC_EINVAL;
    if (node->ne[0] != w->ne[1] || node->ne[1] != n_used || node->ne[2] != T || node->ne[3] != 1) return SC_EINVAL;
    return SC_OK;
}

static float dot(const float *w, const float *x, int64_t K) {
    float acc = 0.0f;
    for (int64_t k = 0; k < K; k++) acc += w[k] * x[k];
    return acc;
}

int sc__cpu_ref_mul_mat(sc_tensor *node) {
    const sc_tensor *w = node->src[0], *x = node->src[1];
    const int64_t K = w->ne[0], N = w->ne[1], M = x->ne[1];
    const int64_t r2 = x->ne[2] / w->ne[2], r3 = x->ne[3] / w->ne[3]; /* broadcast factors */
    float *wrow = malloc((size_t)K * sizeof(float));                  /* [K] */
    if (!wrow) return SC_ENOMEM;
    int rc = SC_OK;
    for (int64_t i3 = 0; i3 < x->ne[3] && rc == SC_OK; i3++)
        for (int64_t i2 = 0; i2 < x->ne[2] && rc == SC_OK; i2++)
            for (int64_t n = 0; n < N; n++) {
                rc = sc__cpu_weight_row(w, n, i2 / r2, i3 / r3, wrow);
                if (rc != SC_OK) break;
                for (int64_t m = 0; m < M; m++) {
                    const float *xc = sc__cpu_row(x, m, i2, i3); /* [K] */
                    float *y = sc__cpu_row(node, m, i2, i3);     /* [N] */
                    y[n] = dot(wrow, xc, K);
                }
            }
    free(wrow);
    return rc;
}

int sc__cpu_ref_mul_mat_id(sc_tensor *node) {
    const sc_tensor *w = node->src[0], *x = node->src[1], *ids = node->src[2];
    const int64_t K = w->ne[0], N = w->ne[1], E = w->ne[2];
    const int64_t n_used = ids->ne[0], T = ids->ne[1];
    /* validate every expert id before writing anything */
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < n_used; i++) {
            int32_t e = sc__cpu_load_i32(ids, i, t);
            if (e < 0 || e >= E) return SC_ERANGE;
        }
    float *wrow = malloc((size_t)K * sizeof(float)); /* [K] */
    if (!wrow) return SC_ENOMEM;
    int rc = SC_OK;
    for (int64_t t = 0; t < T && rc == SC_OK; t++)
        for (int64_t i = 0; i < n_used && rc == SC_OK; i++) {
            const int32_t e = sc__cpu_load_i32(ids, i, t);
            const float *xc = sc__cpu_row(x, x->ne[1] == 1 ? 0 : i, t, 0); /* [K] */
            float *y = sc__cpu_row(node, i, t, 0);                          /* [N] */
            for (int64_t n = 0; n < N; n++) {
                rc = sc__cpu_weight_row(w, n, e, 0, wrow);
                if (rc != SC_OK) break;
                y[n] = dot(wrow, xc, K);
            }
        }
    free(wrow);
    return rc;
}

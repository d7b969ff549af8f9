/*
 * backends/cpu/ref_softmax.c - reference softmax, top_k and argmax: the ops
 * that reduce or rank along ne0.
 *
 * softmax: x f32 [n, ...], scale = op_params[0] -> y f32 [n, ...],
 *          y = exp(v - max(v)) / sum(exp(v - max(v))), v = x * scale.
 *          A row whose every v is -inf gives all zeros (nothing to attend to).
 * top_k:   x f32 [n, r1, r2, r3], k = op_params[0] -> i32 [k, r1, r2, r3],
 *          indices of the k largest, descending; ties to the lower index.
 * argmax:  x f32 [n, r1, r2, r3] -> i32 [r1, r2, r3]; ties to the lower index.
 * Ranking order: larger value first; NaN ranks below every number (even
 * -inf); among equals (NaNs included) the lower index comes first.
 */
#include <stdlib.h>

#include "cpu_impl.h"

int sc__cpu_check_softmax(const sc_tensor *node) {
    const sc_tensor *x = node->src[0];
    if (!sc__cpu_rows_ok(x, SC_TYPE_F32) || !sc__cpu_rows_ok(node, SC_TYPE_F32)) return SC_EINVAL;
    if (!sc__cpu_same_shape(node, x)) return SC_EINVAL;
    return SC_OK;
}

int sc__cpu_check_top_k(const sc_tensor *node) {
    const sc_tensor *x = node->src[0];
    if (!sc__cpu_rows_ok(x, SC_TYPE_F32) || !sc__cpu_rows_ok(node, SC_TYPE_I32)) return SC_EINVAL;
    const int32_t k = sc_op_param_i32(node, 0);
    if (k < 1 || k > x->ne[0] || x->ne[0] > INT32_MAX) return SC_EINVAL;
    if (node->ne[0] != k || node->ne[1] != x->ne[1] || node->ne[2] != x->ne[2] || node->ne[3] != x->ne[3])
        return SC_EINVAL;
    return SC_OK;
}

int sc__cpu_check_argmax(const sc_tensor *node) {
    const sc_tensor *x = node->src[0];
    if (!sc__cpu_rows_ok(x, SC_TYPE_F32) || !sc__cpu_rows_ok(node, SC_TYPE_I32)) return SC_EINVAL;
    if (node->ne[0] != x->ne[1] || node->ne[1] != x->ne[2] || node->ne[2] != x->ne[3] || node->ne[3] != 1)
        return SC_EINVAL;
    if (x->ne[0] > INT32_MAX) return SC_EINVAL; /* indices are i32 */
    return SC_OK;
}

int sc__cpu_ref_softmax(sc_tensor *node) {
    const sc_tensor *x = node->src[0];
    const int64_t n = x->ne[0];
    const float s = sc_op_param_f32(node, 0);
    for (int64_t i3 = 0; i3 < x->ne[3]; i3++)
        for (int64_t i2 = 0; i2 < x->ne[2]; i2++)
            for (int64_t i1 = 0; i1 < x->ne[1]; i1++) {
                const float *xr = sc__cpu_row(x, i1, i2, i3); /* [n] */
                float *y = sc__cpu_row(node, i1, i2, i3);
                float m = -INFINITY;
                for (int64_t i = 0; i < n; i++) m = fmaxf(m, xr[i] * s);
                if (m == -INFINITY) { /* empty row: no mass anywhere */
                    for (int64_t i = 0; i < n; i++) y[i] = 0.0f;
                    continue;
                }
                float sum = 0.0f;
                for (int64_t i = 0; i < n; i++) {
                    y[i] = expf(xr[i] * s - m);
                    sum += y[i];
                }
                for (int64_t i = 0; i < n; i++) y[i] /= sum;
            }
    return SC_OK;
}

/* True when a ranks strictly before b (a at a higher index than b never ties
 * past it: callers scan indices in ascending order). */
static bool ranks_before(float a, float b) { return a > b || (isnan(b) && !isnan(a)); }

int sc__cpu_ref_argmax(sc_tensor *node) {
    const sc_tensor *x = node->src[0];
    for (int64_t i3 = 0; i3 < x->ne[3]; i3++)
        for (int64_t i2 = 0; i2 < x->ne[2]; i2++)
            for (int64_t i1 = 0; i1 < x->ne[1]; i1++) {
                const float *xr = sc__cpu_row(x, i1, i2, i3);
                int64_t best = 0;
                for (int64_t i = 1; i < x->ne[0]; i++)
                    if (ranks_before(xr[i], xr[best])) best = i;
                int32_t *dst = (int32_t *)((uint8_t *)node->data + (size_t)i1 * node->nb[0] +
                                           (size_t)i2 * node->nb[1] + (size_t)i3 * node->nb[2]);
                *dst = (int32_t)best;
            }
    return SC_OK;
}

int sc__cpu_ref_top_k(sc_tensor *node) {
    const sc_tensor *x = node->src[0];
    const int64_t n = x->ne[0];
    const int32_t k = sc_op_param_i32(node, 0);
    int32_t *idx = malloc((size_t)k * sizeof *idx); /* [k] current best, ranked */
    if (!idx) return SC_ENOMEM;
    for (int64_t i3 = 0; i3 < x->ne[3]; i3++)
        for (int64_t i2 = 0; i2 < x->ne[2]; i2++)
            for (int64_t i1 = 0; i1 < x->ne[1]; i1++) {
                const float *xr = sc__cpu_row(x, i1, i2, i3);
                int32_t have = 0;
                /* insertion into a ranked list of at most k: O(n k) worst case,
                 * O(n) when few candidates beat the k-th (the usual case) */
                for (int64_t i = 0; i < n; i++) {
                    const float v = xr[i];
                    if (have == k && !ranks_before(v, xr[idx[k - 1]])) continue;
                    int32_t j = have < k ? have++ : k - 1;
                    while (j > 0 && ranks_before(v, xr[idx[j - 1]])) {
                        idx[j] = idx[j - 1];
                        j--;
                    }
                    idx[j] = (int32_t)i;
                }
                int32_t *y = sc__cpu_row(node, i1, i2, i3);
                memcpy(y, idx, (size_t)k * sizeof *idx);
            }
    free(idx);
    return SC_OK;
}

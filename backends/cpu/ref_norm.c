/*
 * backends/cpu/ref_norm.c - reference RMS norm.
 *
 * x f32 [D, ...] (contiguous rows), w f32 [D] or NULL, eps = op_params[0]:
 *   y = w * (x * 1/sqrt(mean(x^2) + eps))
 * in that order of operations, as Hugging Face's LlamaRMSNorm does in f32.
 */
#include "cpu_impl.h"

int sc__cpu_check_rms_norm(const sc_tensor *node) {
    const sc_tensor *x = node->src[0], *w = node->src[1];
    if (!sc__cpu_rows_ok(x, SC_TYPE_F32) || !sc__cpu_rows_ok(node, SC_TYPE_F32)) return SC_EINVAL;
    if (!sc__cpu_same_shape(node, x)) return SC_EINVAL;
    if (w) {
        if (!sc__cpu_rows_ok(w, SC_TYPE_F32) || w->ne[0] != x->ne[0]) return SC_EINVAL;
        if (w->ne[1] != 1 || w->ne[2] != 1 || w->ne[3] != 1) return SC_EINVAL;
    }
    float eps = sc_op_param_f32(node, 0);
    if (!(eps >= 0.0f)) return SC_EINVAL; /* also rejects NaN */
    return SC_OK;
}

int sc__cpu_ref_rms_norm(sc_tensor *node) {
    const sc_tensor *x = node->src[0], *w = node->src[1];
    const int64_t D = x->ne[0];
    const float eps = sc_op_param_f32(node, 0);
    const float *wd = w ? (const float *)w->data : NULL; /* [D] */
    for (int64_t i3 = 0; i3 < x->ne[3]; i3++)
        for (int64_t i2 = 0; i2 < x->ne[2]; i2++)
            for (int64_t i1 = 0; i1 < x->ne[1]; i1++) {
                const float *xr = sc__cpu_row(x, i1, i2, i3); /* [D] */
                float *y = sc__cpu_row(node, i1, i2, i3);
                float ss = 0.0f;
                for (int64_t i = 0; i < D; i++) ss += xr[i] * xr[i];
                const float inv = 1.0f / sqrtf(ss / (float)D + eps);
                for (int64_t i = 0; i < D; i++) {
                    float v = xr[i] * inv;
                    y[i] = wd ? wd[i] * v : v;
                }
            }
    return SC_OK;
}

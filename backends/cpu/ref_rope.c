/*
 * backends/cpu/ref_rope.c - reference rotary position embedding (neox style).
 *
 * x f32 [head_dim, n_heads, n_tokens], pos i32 [n_tokens],
 * n_rot = op_params[0] (even, 0 < n_rot <= head_dim), base = op_params[1].
 * With half = n_rot/2, for i < half:
 *   theta = pos * inv_freq(i),  inv_freq(i) = 1 / base^(2i / n_rot)   (f32)
 *   y[i]        = x[i] * cos(theta) - x[i + half] * sin(theta)
 *   y[i + half] = x[i + half] * cos(theta) + x[i] * sin(theta)
 * and y[i] = x[i] for n_rot <= i < head_dim (partial rotary). This is Hugging
 * Face's rotate_half formulation, with the angle computed the same way.
 */
#include "cpu_impl.h"

int sc__cpu_check_rope(const sc_tensor *node) {
    const sc_tensor *x = node->src[0], *pos = node->src[1];
    if (!sc__cpu_rows_ok(x, SC_TYPE_F32) || !sc__cpu_rows_ok(node, SC_TYPE_F32)) return SC_EINVAL;
    if (!sc__cpu_same_shape(node, x) || x->ne[3] != 1) return SC_EINVAL;
    if (!sc__cpu_rows_ok(pos, SC_TYPE_I32) || pos->ne[0] != x->ne[2]) return SC_EINVAL;
    if (pos->ne[1] != 1 || pos->ne[2] != 1 || pos->ne[3] != 1) return SC_EINVAL;
    const int32_t n_rot = sc_op_param_i32(node, 0);
    const float base = sc_op_param_f32(node, 1);
    if (n_rot <= 0 || n_rot % 2 != 0 || n_rot > x->ne[0]) return SC_EINVAL;
    if (!(base > 0.0f) || !isfinite(base)) return SC_EINVAL;
    return SC_OK;
}

int sc__cpu_ref_rope(sc_tensor *node) {
    const sc_tensor *x = node->src[0], *pos = node->src[1];
    const int64_t D = x->ne[0], H = x->ne[1], T = x->ne[2];
    const int32_t n_rot = sc_op_param_i32(node, 0);
    const float base = sc_op_param_f32(node, 1);
    const int64_t half = n_rot / 2;
    for (int64_t t = 0; t < T; t++) {
        const float p = (float)sc__cpu_load_i32(pos, t, 0);
        for (int64_t h = 0; h < H; h++) {
            const float *xr = sc__cpu_row(x, h, t, 0); /* [D] */
            float *y = sc__cpu_row(node, h, t, 0);
            for (int64_t i = 0; i < half; i++) {
                const float theta = p * sc__cpu_rope_inv_freq(i, n_rot, base);
                const float c = cosf(theta), s = sinf(theta);
                const float x0 = xr[i], x1 = xr[i + half];
                y[i] = x0 * c - x1 * s;
                y[i + half] = x1 * c + x0 * s;
            }
            for (int64_t i = n_rot; i < D; i++) y[i] = xr[i];
        }
    }
    return SC_OK;
}

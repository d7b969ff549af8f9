/*
 * backends/cpu/fast_rope.c - threaded RoPE (semantics: ref_rope.c).
 *
 * The angles depend only on (token, pair), so each task takes whole tokens:
 * it computes cos/sin for the token once into scratch [2, n_rot/2] and
 * applies them to every head. The angle formula is the reference's
 * (sc__cpu_rope_inv_freq), so both paths rotate by bit-identical angles.
 */
#include <stdatomic.h>

#include "cpu_impl.h"

typedef struct rope_ctx {
    sc_tensor *node;
    atomic_int err;
} rope_ctx;

static void rope_token(void *vctx, int64_t i1, int64_t i2, int64_t i3) {
    rope_ctx *c = vctx;
    sc_tensor *node = c->node;
    const sc_tensor *x = node->src[0], *pos = node->src[1];
    const int64_t D = x->ne[0], H = x->ne[1], t = i1; /* rows of the [T] shape below */
    const int32_t n_rot = sc_op_param_i32(node, 0);
    const float base = sc_op_param_f32(node, 1);
    const int64_t half = n_rot / 2;
    float *cs = sc__cpu_scratch(0, (size_t)n_rot * sizeof(float)); /* cos [half], sin [half] */
    if (!cs) {
        atomic_store(&c->err, SC_ENOMEM);
        return;
    }
    (void)i2;
    (void)i3;
    const float p = (float)sc__cpu_load_i32(pos, t, 0);
    for (int64_t i = 0; i < half; i++) {
        const float theta = p * sc__cpu_rope_inv_freq(i, n_rot, base);
        cs[i] = cosf(theta);
        cs[half + i] = sinf(theta);
    }
    for (int64_t h = 0; h < H; h++) {
        const float *xr = sc__cpu_row(x, h, t, 0); /* [D] */
        float *y = sc__cpu_row(node, h, t, 0);
        for (int64_t i = 0; i < half; i++) { /* hot loop: pairs (i, i + half) */
            const float x0 = xr[i], x1 = xr[i + half];
            y[i] = x0 * cs[i] - x1 * cs[half + i];
            y[i + half] = x1 * cs[i] + x0 * cs[half + i];
        }
        if (y != xr)
            for (int64_t i = n_rot; i < D; i++) y[i] = xr[i];
    }
}

int sc__cpu_fast_rope(sc_tensor *node) {
    rope_ctx c = {.node = node};
    atomic_init(&c.err, SC_OK);
    /* iterate tokens: a shape whose rows are the n_tokens tokens */
    sc_tensor tokens = {.ne = {1, node->ne[2], 1, 1}};
    sc__cpu_parallel_rows(&tokens, 6.0 * (double)(node->ne[0] * node->ne[1]), rope_token, &c);
    return atomic_load(&c.err);
}

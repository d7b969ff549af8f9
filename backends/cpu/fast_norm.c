/*
 * backends/cpu/fast_norm.c - threaded SIMD RMS norm (semantics: ref_norm.c).
 * Per row: one SIMD sum of squares, then y = w * (x * inv) in one pass.
 */
#include "cpu_impl.h"

typedef struct norm_ctx {
    const sc_cpu_kernels *kr;
    sc_tensor *node;
} norm_ctx;

static void norm_row(void *vctx, int64_t i1, int64_t i2, int64_t i3) {
    const norm_ctx *c = vctx;
    const sc_tensor *node = c->node, *x = node->src[0], *w = node->src[1];
    const int64_t D = x->ne[0];
    const float *xr = sc__cpu_row(x, i1, i2, i3); /* [D] */
    const float ss = c->kr->sum_sq(xr, D);
    const float inv = 1.0f / sqrtf(ss / (float)D + sc_op_param_f32(node, 0));
    c->kr->scale_mul(xr, inv, w ? (const float *)w->data : NULL, sc__cpu_row(node, i1, i2, i3), D);
}

int sc__cpu_fast_rms_norm(sc_tensor *node) {
    norm_ctx c = {.kr = sc__cpu_kernels(), .node = node};
    sc__cpu_parallel_rows(node, 3.0 * (double)node->ne[0], norm_row, &c);
    return SC_OK;
}

/*
 * backends/cpu/fast_softmax.c - threaded SIMD softmax (semantics: ref_softmax.c).
 * Per row: SIMD max of x*scale, vectorised exp and sum, one multiply by 1/sum.
 * top_k and argmax use the reference (one pass over memory already).
 */
#include "cpu_impl.h"

typedef struct sm_ctx {
    const sc_cpu_kernels *kr;
    sc_tensor *node;
} sm_ctx;

static void sm_row(void *vctx, int64_t i1, int64_t i2, int64_t i3) {
    const sm_ctx *c = vctx;
    const sc_tensor *node = c->node, *x = node->src[0];
    const int64_t n = x->ne[0];
    const float s = sc_op_param_f32(node, 0);
    const float *xr = sc__cpu_row(x, i1, i2, i3); /* [n] */
    float *y = sc__cpu_row(node, i1, i2, i3);
    const float m = c->kr->max_scaled(xr, s, n);
    if (m == -INFINITY) { /* every entry -inf: all zeros, as the reference */
        memset(y, 0, (size_t)n * sizeof(float));
        return;
    }
    const float sum = c->kr->exp_sum(xr, s, m, y, n);
    c->kr->scale(y, 1.0f / sum, y, n);
}

int sc__cpu_fast_softmax(sc_tensor *node) {
    sm_ctx c = {.kr = sc__cpu_kernels(), .node = node};
    sc__cpu_parallel_rows(node, 12.0 * (double)node->ne[0], sm_row, &c);
    return SC_OK;
}

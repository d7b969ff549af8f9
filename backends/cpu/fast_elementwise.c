/*
 * backends/cpu/fast_elementwise.c - threaded SIMD add, mul, scale, silu, swiglu.
 *
 * Same semantics as ref_elementwise.c: f32 rows, b broadcast by modulo in
 * every dim. Rows are split over the pool; within a row the SIMD kernels run
 * over the whole row, or over b-sized segments when b repeats along ne0.
 */
#include "cpu_impl.h"

typedef struct ew_ctx {
    const sc_cpu_kernels *kr;
    sc_tensor *node;
} ew_ctx;

static void ew_row(void *vctx, int64_t i1, int64_t i2, int64_t i3) {
    const ew_ctx *c = vctx;
    const sc_tensor *node = c->node, *a = node->src[0], *b = node->src[1];
    const sc_cpu_kernels *kr = c->kr;
    const int64_t n = a->ne[0];
    const float *x = sc__cpu_row(a, i1, i2, i3); /* [n] */
    float *y = sc__cpu_row(node, i1, i2, i3);
    switch (node->op) {
    case SC_OP_ADD:
    case SC_OP_MUL: {
        const float *rb = sc__cpu_row(b, i1 % b->ne[1], i2 % b->ne[2], i3 % b->ne[3]); /* [b->ne0] */
        const int64_t nb0 = b->ne[0];
        if (nb0 == 1) { /* one value for the whole row */
            if (node->op == SC_OP_MUL) kr->scale(x, rb[0], y, n);
            else for (int64_t i = 0; i < n; i++) y[i] = x[i] + rb[0];
            break;
        }
        for (int64_t j = 0; j < n; j += nb0) { /* b repeats every nb0 elements */
            if (node->op == SC_OP_ADD) kr->add(x + j, rb, y + j, nb0);
            else kr->mul(x + j, rb, y + j, nb0);
        }
        break;
    }
    case SC_OP_SCALE: kr->scale(x, sc_op_param_f32(node, 0), y, n); break;
    case SC_OP_SILU: kr->silu(x, y, n); break;
    case SC_OP_SWIGLU: kr->swiglu(x, sc__cpu_row(b, i1, i2, i3), y, n); break;
    default: break;
    }
}

int sc__cpu_fast_elementwise(sc_tensor *node) {
    ew_ctx c = {.kr = sc__cpu_kernels(), .node = node};
    const double cost = (node->op == SC_OP_SILU || node->op == SC_OP_SWIGLU) ? 8.0 : 1.0;
    sc__cpu_parallel_rows(node, cost * (double)node->ne[0], ew_row, &c);
    return SC_OK;
}

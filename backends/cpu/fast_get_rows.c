/*
 * backends/cpu/fast_get_rows.c - threaded embedding lookup (semantics:
 * ref_get_rows.c). Each output row is a SIMD conversion of one table row;
 * QG tables use the fused dequantiser (or sc_quant_dequant_row with g_idx).
 */
#include <stdatomic.h>

#include "cpu_impl.h"

typedef struct gr_ctx {
    const sc_cpu_kernels *kr;
    sc_tensor *node;
    atomic_int err;
} gr_ctx;

static void gr_row(void *vctx, int64_t i1, int64_t i2, int64_t i3) {
    gr_ctx *c = vctx;
    const sc_tensor *table = c->node->src[0], *ids = c->node->src[1];
    const int64_t D = table->ne[0];
    const int64_t id = sc__cpu_load_i32(ids, i1, 0); /* validated by the caller */
    const uint8_t *src = (const uint8_t *)table->data + (size_t)id * table->nb[1];
    float *y = sc__cpu_row(c->node, i1, 0, 0); /* [D] */
    (void)i2;
    (void)i3;
    switch (table->type) {
    case SC_TYPE_F32: memcpy(y, src, (size_t)D * sizeof(float)); break;
    case SC_TYPE_F16: c->kr->cvt_f16((const uint16_t *)(const void *)src, y, D); break;
    case SC_TYPE_BF16: c->kr->cvt_bf16((const uint16_t *)(const void *)src, y, D); break;
    default:
        if (!(table->quant.flags & SC_QUANT_HAS_GIDX)) {
            const sc_quant_info *q = &table->quant;
            const uint8_t *slab = table->data;
            sc_cpu_qrow qr = {
                .codes = slab + (uint64_t)id * q->row_bytes,
                .scales = slab + q->scales_offset + (uint64_t)id * q->n_groups * 2u,
                .zeros = slab + q->zeros_offset + (uint64_t)id * q->n_groups,
                .bits = q->bits,
                .group_size = q->group_size,
                .flags = q->flags,
            };
            c->kr->dequant_qg(&qr, y, D);
        } else {
            int rc = sc_quant_dequant_row(table, table->data, id, y);
            if (rc != SC_OK) atomic_store(&c->err, rc);
        }
        break;
    }
}

int sc__cpu_fast_get_rows(sc_tensor *node) {
    int rc = sc__cpu_get_rows_validate(node);
    if (rc != SC_OK) return rc;
    gr_ctx c = {.kr = sc__cpu_kernels(), .node = node};
    atomic_init(&c.err, SC_OK);
    sc__cpu_parallel_rows(node, 2.0 * (double)node->ne[0], gr_row, &c);
    return atomic_load(&c.err);
}

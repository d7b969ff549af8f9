/*
 * backends/cpu/ref_get_rows.c - reference embedding lookup.
 *
 * table [D, V] (f32/f16/bf16/QG), ids i32 [n] -> f32 [D, n]:
 *   y[:, i] = table[:, ids[i]]   (QG rows dequantised exactly as mul_mat sees them)
 * An id outside 0..V-1 -> SC_ERANGE, found before anything is written.
 */
#include "cpu_impl.h"

int sc__cpu_check_get_rows(const sc_tensor *node) {
    const sc_tensor *table = node->src[0], *ids = node->src[1];
    if (!sc__cpu_weight_ok(table) || table->ne[2] != 1 || table->ne[3] != 1) return SC_EINVAL;
    if (!sc__cpu_rows_ok(ids, SC_TYPE_I32) || ids->ne[1] != 1 || ids->ne[2] != 1 || ids->ne[3] != 1)
        return SC_EINVAL;
    if (!sc__cpu_rows_ok(node, SC_TYPE_F32)) return SC_EINVAL;
    if (node->ne[0] != table->ne[0] || node->ne[1] != ids->ne[0] || node->ne[2] != 1 || node->ne[3] != 1)
        return SC_EINVAL;
    return SC_OK;
}

/* Shared with the fast path: every id in range? */
int sc__cpu_get_rows_validate(const sc_tensor *node) {
    const sc_tensor *table = node->src[0], *ids = node->src[1];
    for (int64_t i = 0; i < ids->ne[0]; i++) {
        int32_t id = sc__cpu_load_i32(ids, i, 0);
        if (id < 0 || id >= table->ne[1]) return SC_ERANGE;
    }
    return SC_OK;
}

int sc__cpu_ref_get_rows(sc_tensor *node) {
    const sc_tensor *table = node->src[0], *ids = node->src[1];
    int rc = sc__cpu_get_rows_validate(node);
    if (rc != SC_OK) return rc;
    for (int64_t i = 0; i < ids->ne[0]; i++) {
        float *y = sc__cpu_row(node, i, 0, 0); /* [D] */
        rc = sc__cpu_weight_row(table, sc__cpu_load_i32(ids, i, 0), 0, 0, y);
        if (rc != SC_OK) return rc;
    }
    return SC_OK;
}

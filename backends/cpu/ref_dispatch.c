/*
 * backends/cpu/ref_dispatch.c - the scalar reference's entry points: one
 * table from op to (check, compute), sc__cpu_supports, and the operand checks
 * every op file shares.
 */
#include "cpu_impl.h"

typedef struct ref_entry {
    int (*check)(const sc_tensor *node);
    int (*compute)(sc_tensor *node);
} ref_entry;

static const ref_entry ref_table[SC_OP_COUNT] = {
    [SC_OP_GET_ROWS] = {sc__cpu_check_get_rows, sc__cpu_ref_get_rows},
    [SC_OP_RMS_NORM] = {sc__cpu_check_rms_norm, sc__cpu_ref_rms_norm},
    [SC_OP_MUL_MAT] = {sc__cpu_check_mul_mat, sc__cpu_ref_mul_mat},
    [SC_OP_MUL_MAT_ID] = {sc__cpu_check_mul_mat_id, sc__cpu_ref_mul_mat_id},
    [SC_OP_ADD] = {sc__cpu_check_add, sc__cpu_ref_add},
    [SC_OP_MUL] = {sc__cpu_check_mul, sc__cpu_ref_mul},
    [SC_OP_SCALE] = {sc__cpu_check_scale, sc__cpu_ref_scale},
    [SC_OP_SILU] = {sc__cpu_check_silu, sc__cpu_ref_silu},
    [SC_OP_SWIGLU] = {sc__cpu_check_swiglu, sc__cpu_ref_swiglu},
    [SC_OP_ROPE] = {sc__cpu_check_rope, sc__cpu_ref_rope},
    [SC_OP_SOFTMAX] = {sc__cpu_check_softmax, sc__cpu_ref_softmax},
    [SC_OP_TOP_K] = {sc__cpu_check_top_k, sc__cpu_ref_top_k},
    [SC_OP_ATTENTION] = {sc__cpu_check_attention, sc__cpu_ref_attention},
    [SC_OP_KV_WRITE] = {sc__cpu_check_kv_write, sc__cpu_ref_kv_write},
    [SC_OP_ARGMAX] = {sc__cpu_check_argmax, sc__cpu_ref_argmax},
    [SC_OP_CPY] = {sc__cpu_check_cpy, sc__cpu_ref_cpy},
    [SC_OP_SIGMOID] = {sc__cpu_check_sigmoid, sc__cpu_ref_sigmoid},
    [SC_OP_SSM_CONV] = {sc__cpu_check_ssm_conv, sc__cpu_ref_ssm_conv},
    [SC_OP_GATED_DELTA_NET] = {sc__cpu_check_gated_delta_net, sc__cpu_ref_gated_delta_net},
};

bool sc__cpu_shape_ok(const sc_tensor *t) {
    if (!t) return false;
    for (int d = 0; d < SC_MAX_DIMS; d++)
        if (t->ne[d] < 1) return false;
    return true;
}

bool sc__cpu_rows_ok(const sc_tensor *t, int32_t type) {
    return t && t->type == type && sc__cpu_shape_ok(t) && t->nb[0] == sc__cpu_type_size(type);
}

bool sc__cpu_same_shape(const sc_tensor *a, const sc_tensor *b) {
    for (int d = 0; d < SC_MAX_DIMS; d++)
        if (a->ne[d] != b->ne[d]) return false;
    return true;
}

bool sc__cpu_weight_ok(const sc_tensor *w) {
    if (!w || !sc__cpu_shape_ok(w)) return false;
    if (w->type == SC_TYPE_QG) return sc__quant_check(w) == SC_OK;
    return sc__cpu_is_float(w->type) && w->nb[0] == sc__cpu_type_size(w->type);
}

int sc__cpu_weight_row(const sc_tensor *w, int64_t row, int64_t i2, int64_t i3, float *out) {
    const int64_t K = w->ne[0];
    if (row < 0 || row >= w->ne[1] || i2 < 0 || i2 >= w->ne[2] || i3 < 0 || i3 >= w->ne[3]) return SC_ERANGE;
    if (w->type == SC_TYPE_QG) {
        const uint8_t *slab = (const uint8_t *)w->data + (size_t)i2 * w->nb[2] + (size_t)i3 * w->nb[3];
        return sc_quant_dequant_row(w, slab, row, out);
    }
    const void *src = sc__cpu_row(w, row, i2, i3);
    for (int64_t k = 0; k < K; k++) out[k] = sc__cpu_load_f(src, w->type, k);
    return SC_OK;
}

int sc__cpu_check(const sc_tensor *node) {
    if (!node) return SC_EINVAL;
    if (node->op < 0 || node->op >= SC_OP_COUNT) return SC_ENOTSUP;
    if (node->op == SC_OP_NONE || node->op == SC_OP_VIEW) return SC_OK;
    const ref_entry *e = &ref_table[node->op];
    if (!e->check) return SC_ENOTSUP;
    return e->check(node);
}

int sc__cpu_check_ready(const sc_tensor *node) {
    int rc = sc__cpu_check(node);
    if (rc != SC_OK) return rc;
    if (node->op == SC_OP_NONE || node->op == SC_OP_VIEW) return SC_OK;
    if (!node->data) return SC_EINVAL;
    for (int i = 0; i < SC_MAX_SRC; i++)
        if (node->src[i] && !node->src[i]->data) return SC_EINVAL;
    return SC_OK;
}

int sc__cpu_ref_compute(sc_tensor *node) {
    int rc = sc__cpu_check_ready(node);
    if (rc != SC_OK) return rc;
    if (node->op == SC_OP_NONE || node->op == SC_OP_VIEW) return SC_OK;
    return ref_table[node->op].compute(node);
}

bool sc__cpu_supports(const sc_tensor *node) { return sc__cpu_check(node) == SC_OK; }

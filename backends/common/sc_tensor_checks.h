/*
 * backends/common/sc_tensor_checks.h - the checks every GPU backend plugin
 * makes before it accepts a node (supports_op), in one place.
 *
 * Header-only: plugins link nothing from the core, so these are static
 * inline functions over the plugin ABI's sc_tensor. They say whether a
 * tensor is well formed; what a backend's kernels need on top (32-bit
 * indices, alignment of device addresses) each backend adds itself.
 */
#ifndef SC_TENSOR_CHECKS_H
#define SC_TENSOR_CHECKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strixcore/plugin.h>

/* Bytes per element of the dense types; 0 for QG and unknown types. */
static inline size_t sc_chk_elem_size(int32_t type) {
    switch (type) {
    case SC_TYPE_F32: case SC_TYPE_I32: return 4;
    case SC_TYPE_F16: case SC_TYPE_BF16: return 2;
    case SC_TYPE_I8: return 1;
    default: return 0;
    }
}

/* Present, and every dimension at least 1. */
static inline bool sc_chk_shape_ok(const sc_tensor *t) {
    if (!t) return false;
    for (int d = 0; d < SC_MAX_DIMS; d++)
        if (t->ne[d] < 1) return false;
    return true;
}

/* As sc_chk_shape_ok, and every dimension below 2^31 (kernels index with int32). */
static inline bool sc_chk_shape_ok32(const sc_tensor *t) {
    if (!sc_chk_shape_ok(t)) return false;
    for (int d = 0; d < SC_MAX_DIMS; d++)
        if (t->ne[d] > INT32_MAX) return false;
    return true;
}

static inline bool sc_chk_same_shape(const sc_tensor *a, const sc_tensor *b) {
    for (int d = 0; d < SC_MAX_DIMS; d++)
        if (a->ne[d] != b->ne[d]) return false;
    return true;
}

/* b broadcasts over a (ADD, MUL): every dimension of a a multiple of b's. */
static inline bool sc_chk_broadcasts(const sc_tensor *a, const sc_tensor *b) {
    for (int d = 0; d < SC_MAX_DIMS; d++)
        if (b->ne[d] < 1 || a->ne[d] % b->ne[d] != 0) return false;
    return true;
}

/* `type` with contiguous rows (nb[0] is the element size) and every other
 * stride a multiple of the element size. */
static inline bool sc_chk_rows_of(const sc_tensor *t, int32_t type) {
    const size_t es = sc_chk_elem_size(type);
    if (!sc_chk_shape_ok(t) || t->type != type || es == 0 || t->nb[0] != es) return false;
    for (int d = 1; d < SC_MAX_DIMS; d++)
        if (t->nb[d] % es != 0) return false;
    return true;
}

/* The SC_TYPE_QG slab layout (plugin.h; core/src/quant.c checks the same when
 * it builds one): bits, groups, row bytes, scales / zeros / g_idx placed in
 * order after the codes, all inside nb[2]. *slab_end (when not NULL) gets the
 * end of the last section. */
static inline bool sc_chk_qg_layout(const sc_tensor *w, uint64_t *slab_end) {
    const sc_quant_info *q = &w->quant;
    const uint64_t K = (uint64_t)w->ne[0], N = (uint64_t)w->ne[1];
    if (w->ne[0] < 1 || w->ne[1] < 1) return false;
    if (q->bits != 2 && q->bits != 3 && q->bits != 4 && q->bits != 8) return false;
    if (q->group_size == 0 || q->n_groups != (K + q->group_size - 1) / q->group_size) return false;
    if (q->row_bytes != (K * q->bits + 31) / 32 * 4 || w->nb[1] != q->row_bytes) return false;
    if ((q->flags & ~(uint32_t)(SC_QUANT_HAS_GIDX | SC_QUANT_BF16_ROUND)) != 0) return false;
    uint64_t end = N * q->row_bytes;
    if (q->scales_offset < end || (q->scales_offset & 1u)) return false;
    end = q->scales_offset + N * q->n_groups * 2u;
    if (q->zeros_offset < end) return false;
    end = q->zeros_offset + N * q->n_groups;
    if (q->flags & SC_QUANT_HAS_GIDX) {
        if (q->gidx_offset < end || (q->gidx_offset & 3u)) return false;
        end = q->gidx_offset + K * 4u;
    }
    if ((uint64_t)w->nb[2] < end) return false;
    if (slab_end) *slab_end = end;
    return true;
}

/* ---- the shapes of an op's operands (docs/ops.md), the types checked by
 * the caller ---------------------------------------------------------------- */

/* MUL_MAT: w [K, N, B2, B3], x [K, M, b2, b3] -> [N, M, b2, b3], b2 % B2 == b3 % B3 == 0 */
static inline bool sc_chk_mul_mat_shape(const sc_tensor *node) {
    const sc_tensor *w = node->src[0], *x = node->src[1];
    if (w->ne[0] != x->ne[0]) return false;
    if (x->ne[2] % w->ne[2] != 0 || x->ne[3] % w->ne[3] != 0) return false;
    return node->ne[0] == w->ne[1] && node->ne[1] == x->ne[1] && node->ne[2] == x->ne[2] && node->ne[3] == x->ne[3];
}

/* MUL_MAT_ID: w [K, N, E], x [K, X, T] with X == n_used or 1, ids [n_used, T] -> [N, n_used, T] */
static inline bool sc_chk_mul_mat_id_shape(const sc_tensor *node) {
    const sc_tensor *w = node->src[0], *x = node->src[1], *ids = node->src[2];
    if (w->ne[3] != 1 || x->ne[3] != 1 || ids->ne[2] != 1 || ids->ne[3] != 1) return false;
    if (w->ne[0] != x->ne[0]) return false;
    const int64_t n_used = ids->ne[0], T = ids->ne[1];
    if ((x->ne[1] != 1 && x->ne[1] != n_used) || x->ne[2] != T) return false;
    return node->ne[0] == w->ne[1] && node->ne[1] == n_used && node->ne[2] == T && node->ne[3] == 1;
}

/* GET_ROWS: table [D, V] of f32 / f16 / bf16 (contiguous rows) or a QG
 * matrix (the layout checked), ids i32 [n] -> f32 [D, n] */
static inline bool sc_chk_get_rows(const sc_tensor *node) {
    const sc_tensor *table = node->src[0], *ids = node->src[1];
    if (!sc_chk_shape_ok(table) || table->ne[2] != 1 || table->ne[3] != 1) return false;
    if (table->type == SC_TYPE_QG) {
        if (!sc_chk_qg_layout(table, NULL)) return false;
    } else if (table->type == SC_TYPE_F32 || table->type == SC_TYPE_F16 || table->type == SC_TYPE_BF16) {
        if (!sc_chk_rows_of(table, table->type)) return false;
    } else {
        return false;
    }
    if (!sc_chk_rows_of(ids, SC_TYPE_I32) || ids->ne[1] != 1 || ids->ne[2] != 1 || ids->ne[3] != 1) return false;
    if (!sc_chk_rows_of(node, SC_TYPE_F32)) return false;
    return node->ne[0] == table->ne[0] && node->ne[1] == ids->ne[0] && node->ne[2] == 1 && node->ne[3] == 1;
}

/* f32 with every stride the dense one (no gaps anywhere). */
static inline bool sc_chk_contiguous_f32(const sc_tensor *t) {
    if (!sc_chk_rows_of(t, SC_TYPE_F32)) return false;
    for (int d = 1; d < SC_MAX_DIMS; d++)
        if (t->nb[d] != t->nb[d - 1] * (size_t)t->ne[d - 1]) return false;
    return true;
}

/* seq / pos operands: i32 [n], contiguous. */
static inline bool sc_chk_i32_vec(const sc_tensor *t, int64_t n) {
    return sc_chk_rows_of(t, SC_TYPE_I32) && t->ne[0] == n && t->ne[1] == 1 && t->ne[2] == 1 && t->ne[3] == 1;
}

/* SSM_CONV: x f32 [Cg, G, T] (rows contiguous), w f32 [Kc, C] (2 <= Kc <= 16),
 * state f32 [C, Kc-1, n_slots], seq / pos i32 [T] -> f32 [C, T]; C = Cg*G. */
static inline bool sc_chk_ssm_conv_shape(const sc_tensor *node) {
    const sc_tensor *x = node->src[0], *w = node->src[1], *st = node->src[2];
    if (!sc_chk_rows_of(x, SC_TYPE_F32) || !sc_chk_contiguous_f32(w) || !sc_chk_contiguous_f32(st) ||
        !sc_chk_contiguous_f32(node))
        return false;
    const int64_t C = x->ne[0] * x->ne[1], T = x->ne[2], Kc = w->ne[0];
    if (x->ne[3] != 1 || Kc < 2 || Kc > 16 || w->ne[1] != C || w->ne[2] != 1 || w->ne[3] != 1) return false;
    if (st->ne[0] != C || st->ne[1] != Kc - 1 || st->ne[3] != 1) return false;
    if (node->ne[0] != C || node->ne[1] != T || node->ne[2] != 1 || node->ne[3] != 1) return false;
    return sc_chk_i32_vec(node->src[3], T) && sc_chk_i32_vec(node->src[4], T);
}

/* GATED_DELTA_NET: qkv f32 [nk*(2dk + r*dv), T], ba f32 [2nv, T] (rows
 * contiguous), ad f32 [nv, 2], state f32 [dv, dk, nv, n_slots], seq / pos
 * i32 [T], op_params nk and eps >= 0 -> f32 [dv, nv, T]; r = nv / nk,
 * 1 <= dk, dv <= max_d (what the backend's kernel holds). */
static inline bool sc_chk_gated_delta_net_shape(const sc_tensor *node, int64_t max_d) {
    const sc_tensor *qkv = node->src[0], *ba = node->src[1], *ad = node->src[2], *st = node->src[3];
    if (!sc_chk_rows_of(qkv, SC_TYPE_F32) || !sc_chk_rows_of(ba, SC_TYPE_F32) || !sc_chk_contiguous_f32(ad) ||
        !sc_chk_contiguous_f32(st) || !sc_chk_contiguous_f32(node))
        return false;
    const int64_t dv = st->ne[0], dk = st->ne[1], nv = st->ne[2], T = qkv->ne[1];
    const int64_t nk = sc_op_param_i32(node, 0);
    if (dk < 1 || dk > max_d || dv < 1 || dv > max_d || nk < 1 || nv % nk != 0) return false;
    const int64_t r = nv / nk;
    if (qkv->ne[0] != nk * (2 * dk + r * dv) || qkv->ne[2] != 1 || qkv->ne[3] != 1) return false;
    if (ba->ne[0] != 2 * nv || ba->ne[1] != T || ba->ne[2] != 1 || ba->ne[3] != 1) return false;
    if (ad->ne[0] != nv || ad->ne[1] != 2 || ad->ne[2] != 1 || ad->ne[3] != 1) return false;
    if (node->ne[0] != dv || node->ne[1] != nv || node->ne[2] != T || node->ne[3] != 1) return false;
    if (!sc_chk_i32_vec(node->src[4], T) || !sc_chk_i32_vec(node->src[5], T)) return false;
    return sc_op_param_f32(node, 1) >= 0.0f; /* also rejects NaN */
}

/* Which op family a GPU backend routes an op to (backends/<name>/<name>_ops.c):
 * one kernel / shader source family each. -1: no work (NONE, VIEW) or an op
 * added to the ABI after this was written. */
enum { SC_FAM_ELTWISE, SC_FAM_NORM, SC_FAM_SELECT, SC_FAM_MATMUL, SC_FAM_ATTN, SC_FAM_RECURRENT, SC_FAM_COUNT };

static inline int sc_chk_op_family(int32_t op) {
    switch (op) {
    case SC_OP_ADD:
    case SC_OP_MUL:
    case SC_OP_SCALE:
    case SC_OP_SILU:
    case SC_OP_SWIGLU:
    case SC_OP_SIGMOID: return SC_FAM_ELTWISE;
    case SC_OP_RMS_NORM:
    case SC_OP_SOFTMAX:
    case SC_OP_ROPE: return SC_FAM_NORM;
    case SC_OP_GET_ROWS:
    case SC_OP_CPY:
    case SC_OP_TOP_K:
    case SC_OP_ARGMAX: return SC_FAM_SELECT;
    case SC_OP_MUL_MAT:
    case SC_OP_MUL_MAT_ID: return SC_FAM_MATMUL;
    case SC_OP_KV_WRITE:
    case SC_OP_ATTENTION: return SC_FAM_ATTN;
    case SC_OP_SSM_CONV:
    case SC_OP_GATED_DELTA_NET: return SC_FAM_RECURRENT;
    default: return -1;
    }
}

#endif /* SC_TENSOR_CHECKS_H */

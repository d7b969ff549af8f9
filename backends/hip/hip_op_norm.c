/*
 * backends/hip/hip_op_norm.c - the norm family: RMS_NORM, SOFTMAX, ROPE
 * (kernels/norm.hip, arguments kernels/norm.h; the CPU reference is
 * backends/cpu/ref_norm.c, ref_softmax.c, ref_rope.c).
 *
 *   RMS_NORM, SOFTMAX  one launch: a warp per row for short rows (8 rows a
 *                      block), else a block of 64..1024 threads per row
 *   ROPE               one launch per 128 rotated pairs (one for head_dim
 *                      <= 256), a thread per (pair, head, token); the angles'
 *                      inverse frequencies come from here, computed with the
 *                      reference's expression, so theta matches it bit for bit
 *
 * Supported: exactly what the reference accepts, except strides that are
 * not a multiple of 4 bytes and shapes whose row length, row count or item
 * count do not fit the kernels' 32-bit fields. The scheduler runs those on
 * the CPU.
 */
#include <math.h>

#include "hip_internal.h"

#include "norm.h"

#define HIP_WARP 32 /* the kernels' warp (SC_WARP of kernels/sc_hip.h) */

/* ---- shared checks ----------------------------------------------------------------- */

/* f32 with contiguous rows and f32-aligned strides (the reference's rows_ok) */
static bool f32_rows(const sc_tensor *t) {
    if (!t || t->type != SC_TYPE_F32 || t->nb[0] != sizeof(float)) return false;
    for (int d = 0; d < SC_MAX_DIMS; d++) {
        if (t->ne[d] <= 0) return false;
        if (d > 0 && t->nb[d] % sizeof(float) != 0) return false;
    }
    return true;
}

static bool same_shape(const sc_tensor *a, const sc_tensor *b) {
    for (int d = 0; d < SC_MAX_DIMS; d++)
        if (a->ne[d] != b->ne[d]) return false;
    return true;
}

/* row length and row count fit the 32-bit fields, the grid fits too */
static bool rows_fit(const sc_tensor *x) { return x->ne[0] <= INT32_MAX && hip_nrows(x) <= INT32_MAX; }

/* ---- RMS_NORM and SOFTMAX ---------------------------------------------------------- */

static bool supports_rms_norm(const sc_tensor *node) {
    const sc_tensor *x = node->src[0], *w = node->src[1];
    if (!f32_rows(x) || !f32_rows(node) || !same_shape(node, x) || !rows_fit(x)) return false;
    if (w && (!f32_rows(w) || w->ne[0] != x->ne[0] || w->ne[1] != 1 || w->ne[2] != 1 || w->ne[3] != 1))
        return false;
    return sc_op_param_f32(node, 0) >= 0.0f; /* also rejects NaN */
}

static bool supports_softmax(const sc_tensor *node) {
    const sc_tensor *x = node->src[0];
    return f32_rows(x) && f32_rows(node) && same_shape(node, x) && rows_fit(x);
}

/* Every row start of t (and t itself) 16-byte aligned? */
static bool rows_aligned16(const sc_tensor *t) {
    if ((uintptr_t)t->data % 16 != 0) return false;
    for (int d = 1; d < SC_MAX_DIMS; d++)
        if (t->ne[d] > 1 && t->nb[d] % 16 != 0) return false;
    return true;
}

/* One launch of k_rms_norm_f32 / k_softmax_f32 over every row of node. */
static int run_rows(hip_stream *s, const sc_tensor *node, const char *kernel, const float *w, float param) {
    const sc_tensor *x = node->src[0];
    const int64_t n = x->ne[0], rows = hip_nrows(x);
    const bool vec4 = n % 4 == 0 && rows_aligned16(x) && rows_aligned16(node) && (!w || (uintptr_t)w % 16 == 0);
    const int64_t items = vec4 ? n / 4 : n;

    /* threads per row: a power of two with ~4 items each, 32..1024; a row of
     * a warp shares its block with 7 others */
    int64_t tpr = HIP_WARP;
    while (tpr < SC_ROWS_THREADS && tpr * 4 < items) tpr *= 2;
    const int64_t block = tpr == HIP_WARP ? 8 * HIP_WARP : tpr;
    const int64_t rows_per_block = block / tpr;

    sc_rows_args p = {
        .x = x->data, .w = w, .y = node->data,
        .n = (uint32_t)n, .r1 = (uint32_t)x->ne[1], .r2 = (uint32_t)x->ne[2], .rows = (uint32_t)rows,
        .tpr = (uint32_t)tpr, .vec = vec4 ? 4u : 1u, .s = param,
    };
    for (int d = 0; d < SC_MAX_DIMS; d++) {
        p.x_nb[d] = (int64_t)x->nb[d];
        p.y_nb[d] = (int64_t)node->nb[d];
    }
    return HIP_LAUNCH(s, kernel, hip_div_up(rows, rows_per_block), 1, 1, block, p);
}

/* ---- ROPE --------------------------------------------------------------------------- */

/* The reference's inverse frequency, bit for bit: the expression of
 * sc__cpu_rope_inv_freq (backends/cpu/cpu_impl.h), f32 arithmetic and powf. */
static float rope_inv_freq(int64_t i, int32_t n_rot, float base) {
    return 1.0f / powf(base, (float)(2 * i) / (float)n_rot);
}

static bool supports_rope(const sc_tensor *node) {
    const sc_tensor *x = node->src[0], *pos = node->src[1];
    if (!f32_rows(x) || !f32_rows(node) || !same_shape(node, x) || x->ne[3] != 1) return false;
    if (!pos || pos->type != SC_TYPE_I32 || pos->nb[0] != sizeof(int32_t) || pos->ne[0] != x->ne[2]) return false;
    if (pos->ne[1] != 1 || pos->ne[2] != 1 || pos->ne[3] != 1) return false;
    const int32_t n_rot = sc_op_param_i32(node, 0);
    const float base = sc_op_param_f32(node, 1);
    if (n_rot <= 0 || n_rot % 2 != 0 || n_rot > x->ne[0]) return false;
    if (!(base > 0.0f) || !isfinite(base)) return false;
    /* the kernel's 32-bit item index: the first launch has the most items */
    const int64_t half = n_rot / 2, first = (half < SC_ROPE_MAX_PAIRS ? half : SC_ROPE_MAX_PAIRS) + x->ne[0] - n_rot;
    return x->ne[0] <= INT32_MAX && x->ne[1] <= INT32_MAX && x->ne[2] <= INT32_MAX &&
           first * x->ne[1] * x->ne[2] <= INT32_MAX;
}

static int run_rope(hip_stream *s, const sc_tensor *node) {
    const sc_tensor *x = node->src[0], *pos = node->src[1];
    const int64_t D = x->ne[0], H = x->ne[1], T = x->ne[2];
    const int32_t n_rot = sc_op_param_i32(node, 0);
    const float base = sc_op_param_f32(node, 1);
    const int64_t half = n_rot / 2;
    sc_rope_args p = {
        .x = x->data, .pos = pos->data, .y = node->data,
        .x_nb1 = (int64_t)x->nb[1], .x_nb2 = (int64_t)x->nb[2],
        .y_nb1 = (int64_t)node->nb[1], .y_nb2 = (int64_t)node->nb[2],
        .H = (uint32_t)H, .T = (uint32_t)T, .half = (uint32_t)half, .n_rot = (uint32_t)n_rot,
    };
    /* chunks of pairs touch disjoint elements; the first also copies columns n_rot..D-1 */
    for (int64_t i0 = 0; i0 < half; i0 += SC_ROPE_MAX_PAIRS) {
        const int64_t ni = half - i0 < SC_ROPE_MAX_PAIRS ? half - i0 : SC_ROPE_MAX_PAIRS;
        const int64_t n_pass = i0 == 0 ? D - n_rot : 0;
        for (int64_t j = 0; j < ni; j++) p.inv_freq[j] = rope_inv_freq(i0 + j, n_rot, base);
        p.i0 = (uint32_t)i0;
        p.ni = (uint32_t)ni;
        p.n_pass = (uint32_t)n_pass;
        const int64_t items = (ni + n_pass) * H * T;
        p.items = (uint32_t)items;
        int rc = HIP_LAUNCH(s, SC_NORM_KERNEL_ROPE, hip_div_up(items, SC_ROPE_THREADS), 1, 1, SC_ROPE_THREADS, p);
        if (rc != SC_OK) return rc;
    }
    return SC_OK;
}

/* ---- the family's entry points ------------------------------------------------------ */

bool hip_supports_norm(hip_dev *d, const sc_tensor *node) {
    (void)d;
    if (!node) return false;
    switch (node->op) {
    case SC_OP_RMS_NORM: return supports_rms_norm(node);
    case SC_OP_SOFTMAX: return supports_softmax(node);
    case SC_OP_ROPE: return supports_rope(node);
    default: return false;
    }
}

int hip_run_norm(hip_stream *s, const sc_tensor *node) {
    switch (node->op) {
    case SC_OP_RMS_NORM: {
        const sc_tensor *w = node->src[1];
        return run_rows(s, node, SC_NORM_KERNEL_RMS, w ? (const float *)w->data : NULL, sc_op_param_f32(node, 0));
    }
    case SC_OP_SOFTMAX: return run_rows(s, node, SC_NORM_KERNEL_SOFTMAX, NULL, sc_op_param_f32(node, 0));
    case SC_OP_ROPE: return run_rope(s, node);
    default: return SC_ENOTSUP;
    }
}

/*
 * backends/vulkan/vk_op_norm.c - the norm family: RMS_NORM, SOFTMAX, ROPE
 * (docs/ops.md; the CPU reference is backends/cpu/ref_norm.c, ref_softmax.c,
 * ref_rope.c).
 *
 * Shaders (shaders/norm.cmake):
 *   norm_rms[_nosg]      one workgroup per row: sum of squares, then scale
 *   norm_softmax[_nosg]  one workgroup per row: max, sum of exp, write
 *   norm_rope16 / 48     one invocation per rotated pair (or pass-through
 *                        column); inv_freq in push constants, 16 or 48 per
 *                        dispatch depending on the push-constant space
 * The _nosg modules reduce through shared memory only: they are the ones used
 * when the device lacks subgroup arithmetic (STRIXCORE_VK_DISABLE=subgroup_arith
 * tests that path). The subgroup size goes in as spec constant 3.
 *
 * Supported: exactly what the reference accepts, except shapes whose row
 * count, row length or element count does not fit 32 bits, strides that are
 * not multiples of 4 bytes, and (ROPE) head_dim >= 65536 or head/token
 * strides >= 4 GiB. The scheduler runs those on the CPU.
 *
 * Tuning (vk_tune.c): RMS_NORM's workgroup size, key rms:n=<row length>,rows=<bucket>,
 * variants "wg64" .. "wg1024" (within the device's limit; the default is
 * row_wg's). Not tunable while STRIXCORE_VK_NORM_WG is set. The fused
 * norm + rope (vk_fuse_rows.c) keeps its own launch shape.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "vk_op_matmul_dp4.h"
#include "vk_tune.h"
#include "vk_util.h"

/* ---- shared helpers ------------------------------------------------------- */

/* f32 with contiguous rows (the rows_ok of the reference), and every other
 * stride a multiple of 4 so that rows are f32-aligned. */
static bool f32_rows(const sc_tensor *t) {
    if (!vk_shape_ok(t) || t->type != SC_TYPE_F32 || t->nb[0] != sizeof(float)) return false;
    for (int d = 1; d < SC_MAX_DIMS; d++)
        if (t->nb[d] % sizeof(float) != 0) return false;
    return true;
}

static bool same_shape(const sc_tensor *a, const sc_tensor *b) {
    for (int d = 0; d < SC_MAX_DIMS; d++)
        if (a->ne[d] != b->ne[d]) return false;
    return true;
}



/* Workgroup size for a row reduction over rows of n elements: a power of
 * two within the device's limit (use_subgroup() checks it against the
 * subgroup size). */
static uint32_t row_wg(const vk_caps *c, int64_t n) {
    const char *env = getenv("STRIXCORE_VK_NORM_WG"); /* measuring: a fixed size (64..1024, power of two) */
    if (env && *env) {
        unsigned long v = strtoul(env, NULL, 10);
        if (v >= 64 && v <= 1024 && !(v & (v - 1))) return vk_clamp_wg(c, (uint32_t)v);
    }
    return vk_clamp_wg(c, n >= 4096 ? 512u : n >= 1024 ? 256u : 128u);
}

/* Does the subgroup path of norm_reduce.glsl apply with this workgroup size? */
static bool use_subgroup(const vk_caps *c, uint32_t wg) {
    uint32_t sg = c->subgroup_size;
    return c->subgroup_arithmetic && sg >= 1 && (sg & (sg - 1)) == 0 && sg <= wg;
}

/* ---- RMS_NORM and SOFTMAX: one workgroup per row ----------------------------------- */

typedef struct rms_push { /* norm_rms.comp */
    uint64_t x, w, y;
    uint64_t xnb1, xnb2, xnb3;
    uint64_t ynb1, ynb2, ynb3;
    uint32_t D, r1, r2, r3;
    float eps;
    uint32_t wg_base, wg_count;
} rms_push;

typedef struct softmax_push { /* norm_softmax.comp */
    uint64_t x, y;
    uint64_t xnb1, xnb2, xnb3;
    uint64_t ynb1, ynb2, ynb3;
    uint32_t n, r1, r2, r3;
    float scale;
    uint32_t wg_base, wg_count;
} softmax_push;

static bool rows_fit(const sc_tensor *x) { return vk_fits_u32(x->ne[0]) && vk_fits_u32(vk_n_rows(x)); }

static bool supports_rms_norm(const sc_tensor *node) {
    const sc_tensor *x = node->src[0], *w = node->src[1];
    if (!f32_rows(x) || !f32_rows(node) || !same_shape(node, x) || !rows_fit(x)) return false;
    if (w && (!f32_rows(w) || w->ne[0] != x->ne[0] || w->ne[1] != 1 || w->ne[2] != 1 || w->ne[3] != 1))
        return false;
    const float eps = sc_op_param_f32(node, 0);
    return eps >= 0.0f; /* also rejects NaN */
}

static bool supports_softmax(const sc_tensor *node) {
    const sc_tensor *x = node->src[0];
    return f32_rows(x) && f32_rows(node) && same_shape(node, x) && rows_fit(x);
}

/* The pipeline of a row reduction (module `base` or `base`_nosg) for rows of n. */
static vk_pipeline *row_pipeline(vk_dev *d, const char *base, uint32_t push_size, int64_t n, uint32_t wg) {
    const vk_caps *c = vk_dev_caps(d);
    if (!wg) wg = row_wg(c, n);
    const bool sg = use_subgroup(c, wg);
    char name[64];
    snprintf(name, sizeof name, "%s%s", base, sg ? "" : "_nosg");
    const uint32_t spec[4] = {wg, 1, 1, sg ? c->subgroup_size : 1u};
    return vk_pipeline_get(d, name, push_size, spec, 4, 0);
}

/* norm_rms_q8: rms_push, then the int8 copy of y (vk_mm_dp4_q8_target) */
typedef struct rms_q8_push {
    rms_push base; /* 100 bytes and 4 of padding */
    uint64_t qs, ds;
    uint32_t q8_perm, pad1_;
} rms_q8_push;

_Static_assert(sizeof(rms_push) == 104, "rms_push layout");
_Static_assert(offsetof(rms_q8_push, qs) == 104 && sizeof(rms_q8_push) == 128, "rms_q8_push layout");

static int record_rms_norm(vk_rec *r, const sc_tensor *node) {
    const sc_tensor *x = node->src[0], *w = node->src[1];
    vk_dev *d = vk_rec_dev(r);
    /* decode: one row per GEMV column, written with its int8 copy when the
     * int8-activation GEMV will read it (saves the GEMVs' quantize dispatch) */
    rms_q8_push q8 = {0};
    vk_tune_sel sel; /* a tuned workgroup size (vk_tune.c; 0: row_wg's) */
    vk_tune_pick(d, node, &sel);
    const uint32_t wg = sel.wg ? sel.wg : row_wg(vk_dev_caps(d), x->ne[0]);
    const bool with_q8 = vk_n_rows(x) <= 4 && x->ne[0] <= 16 * (int64_t)wg &&
                         vk_spirv_find("norm_rms_q8") &&
                         vk_dev_caps(d)->max_push_constants >= sizeof q8 &&
                         vk_mm_dp4_q8_target(r, node, &q8.qs, &q8.ds, &q8.q8_perm) == SC_OK;
    vk_pipeline *p = row_pipeline(d, with_q8 ? "norm_rms_q8" : "norm_rms", with_q8 ? sizeof q8 : sizeof(rms_push),
                                  x->ne[0], wg);
    if (!p) return SC_ENOTSUP;
    rms_push pc = {
        .x = vk_addr(x), .w = w ? vk_addr(w) : 0, .y = vk_addr(node),
        .xnb1 = x->nb[1], .xnb2 = x->nb[2], .xnb3 = x->nb[3],
        .ynb1 = node->nb[1], .ynb2 = node->nb[2], .ynb3 = node->nb[3],
        .D = (uint32_t)x->ne[0], .r1 = (uint32_t)x->ne[1], .r2 = (uint32_t)x->ne[2], .r3 = (uint32_t)x->ne[3],
        .eps = sc_op_param_f32(node, 0),
    };
    if (with_q8) { /* at most 4 rows: one dispatch */
        VK_LOG(SC_LOG_DEBUG, "dp4: norm_rms_q8 %s: int8 copy of [%lld, %lld]", node->name, (long long)x->ne[0],
               (long long)x->ne[1]);
        q8.base = pc;
        q8.base.wg_base = 0;
        q8.base.wg_count = (uint32_t)vk_n_rows(x);
        return vk_dispatch(r, p, &q8, sizeof q8, q8.base.wg_count, 1, 1);
    }
    return vk_dispatch_groups(r, p, &pc, sizeof pc, &pc.wg_base, &pc.wg_count, (uint64_t)vk_n_rows(x), false);
}

static int record_softmax(vk_rec *r, const sc_tensor *node) {
    const sc_tensor *x = node->src[0];
    vk_pipeline *p = row_pipeline(vk_rec_dev(r), "norm_softmax", sizeof(softmax_push), x->ne[0], 0);
    if (!p) return SC_ENOTSUP;
    softmax_push pc = {
        .x = vk_addr(x), .y = vk_addr(node),
        .xnb1 = x->nb[1], .xnb2 = x->nb[2], .xnb3 = x->nb[3],
        .ynb1 = node->nb[1], .ynb2 = node->nb[2], .ynb3 = node->nb[3],
        .n = (uint32_t)x->ne[0], .r1 = (uint32_t)x->ne[1], .r2 = (uint32_t)x->ne[2], .r3 = (uint32_t)x->ne[3],
        .scale = sc_op_param_f32(node, 0),
    };
    return vk_dispatch_groups(r, p, &pc, sizeof pc, &pc.wg_base, &pc.wg_count, (uint64_t)vk_n_rows(x), false);
}

/* ---- ROPE: one invocation per rotated pair ------------------------------------------- */

#define ROPE_WG 256u /* at most; less where the device's limit is lower */
#define ROPE_HDR 64u /* push bytes before inv_freq[] */

typedef struct rope_push { /* norm_rope.comp; inv_freq holds NFREQ (16 or 48) floats */
    uint64_t x, y, pos;
    uint32_t xnb1, xnb2, ynb1, ynb2;
    uint32_t H, T;
    uint32_t d_nrot, i0_ni;
    uint32_t wg_base, wg_count;
    float inv_freq[48];
} rope_push;

_Static_assert(offsetof(rope_push, inv_freq) == ROPE_HDR, "rope_push layout");
_Static_assert(offsetof(rms_push, D) == 72 && offsetof(softmax_push, n) == 64, "push layouts");

/* The reference's angle, bit for bit: the expression of
 * sc__cpu_rope_inv_freq (backends/cpu/cpu_impl.h), f32 arithmetic and powf. */
static float rope_inv_freq(int64_t i, int32_t n_rot, float base) {
    return 1.0f / powf(base, (float)(2 * i) / (float)n_rot);
}

static bool supports_rope(const sc_tensor *node) {
    const sc_tensor *x = node->src[0], *pos = node->src[1];
    if (!f32_rows(x) || !f32_rows(node) || !same_shape(node, x) || x->ne[3] != 1) return false;
    if (!vk_shape_ok(pos) || pos->type != SC_TYPE_I32 || pos->nb[0] != sizeof(int32_t) || pos->ne[0] != x->ne[2])
        return false;
    if (pos->ne[1] != 1 || pos->ne[2] != 1 || pos->ne[3] != 1) return false;
    const int32_t n_rot = sc_op_param_i32(node, 0);
    const float base = sc_op_param_f32(node, 1);
    if (n_rot <= 0 || n_rot % 2 != 0 || n_rot > x->ne[0]) return false;
    if (!(base > 0.0f) || !isfinite(base)) return false;
    /* device limits: packed 16-bit fields, 32-bit strides and item counts */
    if (x->ne[0] > 0xffff) return false;
    if (!vk_fits_u32((int64_t)x->nb[1]) || !vk_fits_u32((int64_t)x->nb[2]) || !vk_fits_u32((int64_t)node->nb[1]) ||
        !vk_fits_u32((int64_t)node->nb[2]))
        return false;
    const int64_t items = x->ne[0] * x->ne[1] * x->ne[2]; /* >= the largest dispatch's items */
    return items <= (int64_t)UINT32_MAX - ROPE_WG;
}

static int record_rope(vk_rec *r, const sc_tensor *node) {
    const sc_tensor *x = node->src[0], *pos = node->src[1];
    vk_dev *d = vk_rec_dev(r);
    const uint32_t nfreq = vk_dev_caps(d)->max_push_constants >= ROPE_HDR + 48 * 4 ? 48u : 16u;
    const uint32_t push_size = ROPE_HDR + nfreq * 4;
    const uint32_t wg = vk_clamp_wg(vk_dev_caps(d), ROPE_WG);
    const uint32_t spec[1] = {wg};
    vk_pipeline *p = vk_pipeline_get(d, nfreq == 48 ? "norm_rope48" : "norm_rope16", push_size, spec, 1, 0);
    if (!p) return SC_ENOTSUP;

    const int64_t D = x->ne[0], H = x->ne[1], T = x->ne[2];
    const int32_t n_rot = sc_op_param_i32(node, 0);
    const float base = sc_op_param_f32(node, 1);
    const int64_t half = n_rot / 2;
    rope_push pc = {
        .x = vk_addr(x), .y = vk_addr(node), .pos = vk_addr(pos),
        .xnb1 = (uint32_t)x->nb[1], .xnb2 = (uint32_t)x->nb[2],
        .ynb1 = (uint32_t)node->nb[1], .ynb2 = (uint32_t)node->nb[2],
        .H = (uint32_t)H, .T = (uint32_t)T,
        .d_nrot = (uint32_t)D | (uint32_t)n_rot << 16,
    };
    /* one dispatch per chunk of nfreq pairs; the first also copies columns n_rot..D-1 */
    for (int64_t i0 = 0; i0 < half; i0 += nfreq) {
        const int64_t ni = half - i0 < nfreq ? half - i0 : nfreq;
        for (int64_t j = 0; j < ni; j++) pc.inv_freq[j] = rope_inv_freq(i0 + j, n_rot, base);
        pc.i0_ni = (uint32_t)i0 | (uint32_t)ni << 16;
        const uint64_t items = (uint64_t)(ni * H * T) + (i0 == 0 ? (uint64_t)((D - n_rot) * H * T) : 0);
        /* chunks touch disjoint elements (pairs i0.., and columns n_rot.. in the first) */
        int rc = vk_dispatch_groups(r, p, &pc, push_size, &pc.wg_base, &pc.wg_count, (items + wg - 1) / wg,
                                 i0 > 0);
        if (rc != SC_OK) return rc;
    }
    return SC_OK;
}

/* ---- the family's entry points --------------------------------------------------------- */

bool vk_supports_norm(vk_dev *d, const sc_tensor *node) {
    (void)d;
    if (!node) return false;
    switch (node->op) {
    case SC_OP_RMS_NORM: return supports_rms_norm(node);
    case SC_OP_SOFTMAX: return supports_softmax(node);
    case SC_OP_ROPE: return supports_rope(node);
    default: return false;
    }
}

int vk_norm_tune_variants(vk_dev *d, const sc_tensor *node, sc_tune_info *info) {
    if (node->op != SC_OP_RMS_NORM || !supports_rms_norm(node)) return SC_ENOTSUP;
    const char *env = getenv("STRIXCORE_VK_NORM_WG");
    if (env && *env) return SC_ENOTSUP; /* the knob wins */
    const vk_caps *c = vk_dev_caps(d);
    const sc_tensor *x = node->src[0];
    char key[SC_TUNE_KEY_LEN], name[SC_TUNE_NAME_LEN];
    if (!sc_tune_key(key, "rms:n=%lld,rows=%lld", (long long)x->ne[0], (long long)sc_tune_bucket(vk_n_rows(x))))
        return SC_ENOTSUP;
    sc_tune_info_begin(info, key);
    const uint32_t def = row_wg(c, x->ne[0]);
    int di = 0;
    /* the decode rows' int8 copy for the GEMVs (record_rms_norm's with_q8) must not depend on the
     * choice: the tuner times the norm alone and would not see the GEMVs quantize for themselves */
    const bool q8_rows = vk_n_rows(x) <= 4 && x->ne[0] <= 16 * (int64_t)def;
    for (uint32_t wg = 64; wg <= 1024; wg *= 2) {
        if (vk_clamp_wg(c, wg) != wg) break;
        if (q8_rows && x->ne[0] > 16 * (int64_t)wg) continue;
        snprintf(name, sizeof name, "wg%u", wg);
        const int i = sc_tune_info_add(info, name);
        if (wg == def) di = i;
    }
    if (info->n_variants == 0) {
        snprintf(name, sizeof name, "wg%u", def);
        sc_tune_info_add(info, name);
    }
    return di;
}

int vk_record_norm(vk_rec *r, const sc_tensor *node) {
    switch (node->op) {
    case SC_OP_RMS_NORM: return record_rms_norm(r, node);
    case SC_OP_SOFTMAX: return record_softmax(r, node);
    case SC_OP_ROPE: return record_rope(r, node);
    default: return SC_ENOTSUP;
    }
}

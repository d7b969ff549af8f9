/*
 * backends/vulkan/vk_op_select.c - the select family: GET_ROWS, CPY, TOP_K,
 * ARGMAX (docs/ops.md; the CPU reference is backends/cpu/ref_get_rows.c,
 * ref_cpy.c, ref_softmax.c).
 *
 * Shaders (shaders/select.cmake):
 *   select_get_rows_{f32,f16,bf16,qg}  one invocation per output element
 *   select_cpy                         one invocation per element, any strides
 *   select_topk                        one workgroup per row: radix select +
 *                                      shared-memory bitonic sort, in rounds
 *                                      of 1024 keys (any k <= n)
 *   select_argmax[_nosg]               one workgroup per row: (key, ~index)
 *                                      maximum; _nosg without subgroup ops
 * All four are exact: backend-ops compares them bit for bit. Half-precision
 * conversions are integer code (shaders/select_fp.glsl), never
 * packHalf2x16, whose rounding is implementation-defined.
 *
 * Range errors (GET_ROWS ids and g_idx, CPY i32 -> i8 overflow) set
 * VK_ERR_RANGE in vk_rec_error_addr(); the offending writes are skipped, the
 * others happen (the contract of vk_internal.h; the reference writes nothing
 * when an id is out of range, which a single pass cannot promise).
 *
 * Supported: exactly what the reference accepts, except counts (elements,
 * rows, row lengths) that do not fit 32 bits, strides that are not multiples
 * of the element size, and CPY strides >= 4 GiB (after merging contiguous
 * dims). The scheduler runs those on the CPU.
 */

#include "sc_tensor_checks.h"
#include "vk_util.h"

#define SEL_WG 256u     /* get_rows, cpy, top_k */
#define TOPK_CAP 1024u  /* keys per top_k round (shared memory: 8 KiB) */

/* ---- shared helpers ------------------------------------------------------- */

static bool is_int(int32_t type) { return type == SC_TYPE_I32 || type == SC_TYPE_I8; }

static int64_t n_elems(const sc_tensor *t) { return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]; }

/* ---- GET_ROWS ------------------------------------------------------------------------ */

typedef struct get_rows_push { /* select_get_rows.comp */
    uint64_t table, ids, y, err;
    uint64_t tnb1, ynb1;
    uint64_t scales_off, zeros_off, gidx_off;
    uint32_t D, V, n, cpr;
    uint32_t bits, group_size, G, bf16_round;
    uint32_t wg_base, wg_count;
} get_rows_push;

_Static_assert(offsetof(get_rows_push, D) == 72 && sizeof(get_rows_push) <= 128, "get_rows_push layout");


static bool supports_get_rows(const sc_tensor *node) {
    const sc_tensor *table = node->src[0], *ids = node->src[1];
    if (!sc_chk_get_rows(node)) return false;
    /* 32-bit counts: columns, rows, and the workgroups of the grid */
    const int64_t D = table->ne[0], n = ids->ne[0];
    return vk_fits_u32(D) && vk_fits_u32(table->ne[1]) && vk_fits_u32(n * ((D + 127) / 128)); /* wg >= 128 */
}

static int record_get_rows(vk_rec *r, const sc_tensor *node) {
    const sc_tensor *table = node->src[0], *ids = node->src[1];
    vk_dev *d = vk_rec_dev(r);
    const char *name = table->type == SC_TYPE_F32   ? "select_get_rows_f32"
                       : table->type == SC_TYPE_F16 ? "select_get_rows_f16"
                       : table->type == SC_TYPE_BF16 ? "select_get_rows_bf16"
                                                     : "select_get_rows_qg";
    const uint32_t wg = vk_clamp_wg(vk_dev_caps(d), SEL_WG);
    const uint32_t spec[1] = {wg};
    vk_pipeline *p = vk_pipeline_get(d, name, sizeof(get_rows_push), spec, 1, 0);
    if (!p) return SC_ENOTSUP;

    const int64_t D = table->ne[0], n = ids->ne[0];
    const uint32_t cpr = (uint32_t)((D + wg - 1) / wg);
    get_rows_push pc = {
        .table = vk_addr(table), .ids = vk_addr(ids), .y = vk_addr(node), .err = vk_rec_error_addr(r),
        .tnb1 = table->nb[1], .ynb1 = node->nb[1],
        .D = (uint32_t)D, .V = (uint32_t)table->ne[1], .n = (uint32_t)n, .cpr = cpr,
    };
    if (table->type == SC_TYPE_QG) {
        const sc_quant_info *q = &table->quant;
        pc.scales_off = q->scales_offset;
        pc.zeros_off = q->zeros_offset;
        pc.gidx_off = (q->flags & SC_QUANT_HAS_GIDX) ? q->gidx_offset : 0; /* after the codes: != 0 when present */
        pc.bits = q->bits;
        pc.group_size = q->group_size;
        pc.G = q->n_groups;
        pc.bf16_round = (q->flags & SC_QUANT_BF16_ROUND) ? 1u : 0u;
    }
    return vk_dispatch_groups(r, p, &pc, sizeof pc, &pc.wg_base, &pc.wg_count, (uint64_t)n * cpr, false);
}

/* ---- CPY ------------------------------------------------------------------------------- */

typedef struct cpy_push { /* select_cpy.comp */
    uint64_t src, dst, err;
    uint32_t sne[4], snb[4];
    uint32_t dne[4], dnb[4];
    uint32_t types;
    uint32_t wg_base, wg_count;
} cpy_push;

_Static_assert(offsetof(cpy_push, types) == 88 && sizeof(cpy_push) <= 128, "cpy_push layout");

/* A tensor's shape with the dims of one element dropped and the dims that
 * are contiguous in memory merged: the logical order of the elements and
 * their addresses stay the same, and a dense tensor becomes one dim. */
typedef struct flat {
    int64_t ne[4];
    uint64_t nb[4];
} flat;

static flat flatten(const sc_tensor *t) {
    flat f = {{1, 1, 1, 1}, {0, 0, 0, 0}};
    int nd = 0;
    for (int d = 0; d < SC_MAX_DIMS; d++) {
        if (t->ne[d] == 1) continue;
        if (nd > 0 && f.nb[nd - 1] * (uint64_t)f.ne[nd - 1] == (uint64_t)t->nb[d]) {
            f.ne[nd - 1] *= t->ne[d];
        } else {
            f.ne[nd] = t->ne[d];
            f.nb[nd] = t->nb[d];
            nd++;
        }
    }
    if (nd == 0) f.nb[0] = sc_chk_elem_size(t->type);
    return f;
}

static bool flat_fits(const flat *f) {
    for (int d = 0; d < 4; d++)
        if (!vk_fits_u32(f->ne[d]) || f->nb[d] > UINT32_MAX) return false;
    return true;
}

static bool supports_cpy(const sc_tensor *node) {
    const sc_tensor *a = node->src[0];
    if (!vk_shape_ok(a) || !vk_shape_ok(node)) return false;
    const size_t sa = sc_chk_elem_size(a->type), sd = sc_chk_elem_size(node->type);
    if (sa == 0 || sd == 0 || is_int(a->type) != is_int(node->type)) return false;
    const int64_t n = n_elems(a);
    if (n != n_elems(node) || n > (int64_t)UINT32_MAX - SEL_WG) return false;
    for (int d = 0; d < SC_MAX_DIMS; d++) /* element-aligned addresses */
        if ((a->ne[d] > 1 && a->nb[d] % sa != 0) || (node->ne[d] > 1 && node->nb[d] % sd != 0)) return false;
    const flat fa = flatten(a), fd = flatten(node);
    return flat_fits(&fa) && flat_fits(&fd);
}

static int record_cpy(vk_rec *r, const sc_tensor *node) {
    const sc_tensor *a = node->src[0];
    vk_dev *d = vk_rec_dev(r);
    const uint32_t wg = vk_clamp_wg(vk_dev_caps(d), SEL_WG);
    const uint32_t spec[1] = {wg};
    vk_pipeline *p = vk_pipeline_get(d, "select_cpy", sizeof(cpy_push), spec, 1, 0);
    if (!p) return SC_ENOTSUP;

    flat fa = flatten(a), fd = flatten(node);
    int32_t ta = a->type, td = node->type;
    int64_t n = n_elems(a);
    /* A dense copy between equal types moves bytes: as 32-bit words when the
     * sizes and addresses allow (one invocation per word, not per half). */
    const size_t es = sc_chk_elem_size(ta);
    if (ta == td && es < 4 && fa.ne[0] == n && fd.ne[0] == n && fa.nb[0] == es && fd.nb[0] == es &&
        ((uint64_t)n * es) % 4 == 0 && vk_addr(a) % 4 == 0 && vk_addr(node) % 4 == 0) {
        n = n * (int64_t)es / 4;
        fa.ne[0] = fd.ne[0] = n;
        fa.nb[0] = fd.nb[0] = 4;
        ta = td = SC_TYPE_I32;
    }
    cpy_push pc = {.src = vk_addr(a), .dst = vk_addr(node), .err = vk_rec_error_addr(r)};
    for (int i = 0; i < 4; i++) {
        pc.sne[i] = (uint32_t)fa.ne[i];
        pc.snb[i] = (uint32_t)fa.nb[i];
        pc.dne[i] = (uint32_t)fd.ne[i];
        pc.dnb[i] = (uint32_t)fd.nb[i];
    }
    pc.types = (uint32_t)ta | (uint32_t)td << 8;
    return vk_dispatch_groups(r, p, &pc, sizeof pc, &pc.wg_base, &pc.wg_count, ((uint64_t)n + wg - 1) / wg, false);
}

/* ---- TOP_K and ARGMAX: one workgroup per row ------------------------------------------------ */

typedef struct topk_push { /* select_topk.comp */
    uint64_t x, y;
    uint64_t xnb1, xnb2, xnb3;
    uint64_t ynb1, ynb2, ynb3;
    uint32_t n, k, r1, r2, r3;
    uint32_t wg_base, wg_count;
} topk_push;

typedef struct argmax_push { /* select_argmax.comp */
    uint64_t x, y;
    uint64_t xnb1, xnb2, xnb3;
    uint64_t ynb0, ynb1, ynb2;
    uint32_t n, r1, r2, r3;
    uint32_t wg_base, wg_count;
} argmax_push;

_Static_assert(offsetof(topk_push, n) == 64 && offsetof(argmax_push, n) == 64, "push layouts");

static bool supports_top_k(const sc_tensor *node) {
    const sc_tensor *x = node->src[0];
    if (!sc_chk_rows_of(x, SC_TYPE_F32) || !sc_chk_rows_of(node, SC_TYPE_I32)) return false;
    const int32_t k = sc_op_param_i32(node, 0);
    if (k < 1 || k > x->ne[0] || x->ne[0] > INT32_MAX) return false;
    if (node->ne[0] != k || node->ne[1] != x->ne[1] || node->ne[2] != x->ne[2] || node->ne[3] != x->ne[3])
        return false;
    return vk_fits_u32(vk_n_rows(x));
}

static bool supports_argmax(const sc_tensor *node) {
    const sc_tensor *x = node->src[0];
    if (!sc_chk_rows_of(x, SC_TYPE_F32) || !sc_chk_rows_of(node, SC_TYPE_I32)) return false;
    if (node->ne[0] != x->ne[1] || node->ne[1] != x->ne[2] || node->ne[2] != x->ne[3] || node->ne[3] != 1)
        return false;
    return x->ne[0] <= INT32_MAX && vk_fits_u32(vk_n_rows(x));
}

static int record_top_k(vk_rec *r, const sc_tensor *node) {
    const sc_tensor *x = node->src[0];
    vk_dev *d = vk_rec_dev(r);
    const uint32_t spec[5] = {vk_clamp_wg(vk_dev_caps(d), SEL_WG), 1, 1, 1, TOPK_CAP};
    vk_pipeline *p = vk_pipeline_get(d, "select_topk", sizeof(topk_push), spec, 5, 0);
    if (!p) return SC_ENOTSUP;
    topk_push pc = {
        .x = vk_addr(x), .y = vk_addr(node),
        .xnb1 = x->nb[1], .xnb2 = x->nb[2], .xnb3 = x->nb[3],
        .ynb1 = node->nb[1], .ynb2 = node->nb[2], .ynb3 = node->nb[3],
        .n = (uint32_t)x->ne[0], .k = (uint32_t)sc_op_param_i32(node, 0),
        .r1 = (uint32_t)x->ne[1], .r2 = (uint32_t)x->ne[2], .r3 = (uint32_t)x->ne[3],
    };
    return vk_dispatch_groups(r, p, &pc, sizeof pc, &pc.wg_base, &pc.wg_count, (uint64_t)vk_n_rows(x), false);
}

static int record_argmax(vk_rec *r, const sc_tensor *node) {
    const sc_tensor *x = node->src[0];
    vk_dev *d = vk_rec_dev(r);
    const vk_caps *c = vk_dev_caps(d);
    const int64_t n = x->ne[0];
    const uint32_t wg = vk_clamp_wg(c, n >= 4096 ? 512u : n >= 1024 ? 256u : 128u);
    const uint32_t sg = c->subgroup_size;
    const bool use_sg = c->subgroup_arithmetic && sg >= 1 && (sg & (sg - 1)) == 0 && sg <= wg;
    const uint32_t spec[4] = {wg, 1, 1, use_sg ? sg : 1u};
    vk_pipeline *p = vk_pipeline_get(d, use_sg ? "select_argmax" : "select_argmax_nosg", sizeof(argmax_push), spec,
                                     4, 0);
    if (!p) return SC_ENOTSUP;
    argmax_push pc = {
        .x = vk_addr(x), .y = vk_addr(node),
        .xnb1 = x->nb[1], .xnb2 = x->nb[2], .xnb3 = x->nb[3],
        .ynb0 = node->nb[0], .ynb1 = node->nb[1], .ynb2 = node->nb[2],
        .n = (uint32_t)n, .r1 = (uint32_t)x->ne[1], .r2 = (uint32_t)x->ne[2], .r3 = (uint32_t)x->ne[3],
    };
    return vk_dispatch_groups(r, p, &pc, sizeof pc, &pc.wg_base, &pc.wg_count, (uint64_t)vk_n_rows(x), false);
}

/* ---- the family's entry points --------------------------------------------------------- */

bool vk_supports_select(vk_dev *d, const sc_tensor *node) {
    (void)d;
    if (!node) return false;
    switch (node->op) {
    case SC_OP_GET_ROWS: return supports_get_rows(node);
    case SC_OP_CPY: return supports_cpy(node);
    case SC_OP_TOP_K: return supports_top_k(node);
    case SC_OP_ARGMAX: return supports_argmax(node);
    default: return false;
    }
}

int vk_record_select(vk_rec *r, const sc_tensor *node) {
    switch (node->op) {
    case SC_OP_GET_ROWS: return record_get_rows(r, node);
    case SC_OP_CPY: return record_cpy(r, node);
    case SC_OP_TOP_K: return record_top_k(r, node);
    case SC_OP_ARGMAX: return record_argmax(r, node);
    default: return SC_ENOTSUP;
    }
}

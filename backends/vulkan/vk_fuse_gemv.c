/*
 * backends/vulkan/vk_fuse_gemv.c - fusers on the GEMV path (vk_internal.h
 * "fusion"): a decode step's projections with what follows them, as one
 * dispatch of shaders/mul_mat_vec.comp with an epilogue.
 *
 *   mm_swiglu    MUL_MAT(gate, h), MUL_MAT(up, h), SWIGLU(g, u)          -> silu(g) * u
 *   mm_add       MUL_MAT(w, a), ADD(r, mm) (either order)                -> r + W a
 *   moe_gate_up  MUL_MAT_ID(gate, x, ids), MUL_MAT_ID(up, x, ids), SWIGLU -> silu(g) * u per pair
 *   moe_down     MUL_MAT_ID(down, a, ids) [D, k, T], MUL(y, rw [1, k, T]),
 *                ADD(slot 0, slot 1), ADD(., slot 2), ... (slot i: the view
 *                [D, T] of the MUL at i * nb1), (+ ADD(x, sum))
 *                -> x + ((s0 + s1) + s2) + ...,  s_i = rw[i] * (W_{ids[i]} a_i)
 *
 * Shapes follow core/src/model_qwen3.c (mlp, moe, the residual adds). Every
 * group writes only its last node; each intermediate must be read exactly
 * once, by the next member (vk_fg_uses), so nothing outside needs it. A
 * group is only formed where the unfused node would take the GEMV (decode
 * and small batches: vk_mm_gemv_mul_mat / _id); prefill shapes keep the
 * tiled GEMM and run unfused. MUL_MAT groups are 2-D (no batch dims).
 * Every QG width and layout, and f32/f16/bf16, fuse as the plain GEMV takes
 * them; the two matrices of a swiglu pair must share type, shape, strides
 * and QG layout (gate and up of one layer do).
 *
 * On QG 4/8-bit weights at decode all four take the int8-activation GEMV
 * (vk_op_matmul_dp4.c: mm_swiglu and mm_add where the plain MUL_MAT would,
 * moe_gate_up and moe_down where vk_mm_dp4_takes_id says yes), with the same
 * epilogues; the rest below is about the f32 GEMV.
 *
 * The results match the unfused nodes closely: the same dot products, then
 * the epilogue in the graph's f32 operations and order (the MoE slot sum in
 * rank order), with the activation silu(x) = x / (1 + exp(-x)) of the
 * eltwise shader.
 *
 * Tuning (vk_tune.c): a group follows the tuned variant of its first
 * MUL_MAT / MUL_MAT_ID member (vk_tune_pick): a GEMM / grouped / coop choice
 * leaves the nodes unfused (match says no), a GEMV choice's launch shape (rows,
 * lanes, words per step, WGX) and its f32-vs-dp4 path are honoured by the
 * fused kernel, as measured on the plain node.
 */
#include <stdio.h>
#include <string.h>

#include "vk_op_matmul.h"
#include "vk_op_matmul_dp4.h"

/* ---- push constants: mirror mul_mat_common.glsl (EPI_*) ----------------------------- */
typedef struct fmm_push {   /* MUL_MAT + EPI_SWIGLU / EPI_ADD */
    uint64_t w, x, y, err;
    uint64_t aux;            /* EPI_SWIGLU: w2; EPI_ADD: the residual */
    uint32_t w_nb1, K, N, M;
    uint32_t x_nb1, y_nb1, r_nb1, q_scales;
    uint32_t q_zeros, q_gidx, group_size, G;
    uint32_t base_x, base_z;
} fmm_push;

typedef struct fmmid_push { /* MUL_MAT_ID + EPI_SWIGLU */
    uint64_t w, x, y, err;
    uint64_t ids, w2;
    uint32_t w_nb2, w_nb1, K, N;
    uint32_t E, x_nb1, x_nb2, y_nb1;
    uint32_t y_nb2, n_used, x_bcast, ids_nb1;
    uint32_t q_scales, q_zeros, q_gidx, group_size;
    uint32_t G, base_x, base_z, pad_;
} fmmid_push;

typedef struct fmoe_push {  /* MUL_MAT_ID + EPI_MOE */
    uint64_t w, x, y, err;
    uint64_t ids, rw, r;
    uint32_t w_nb2, w_nb1, K, N;
    uint32_t E, x_nb1, x_nb2, n_used;
    uint32_t ids_nb1, rw_nb2, y_nb1, r_nb1;
    uint32_t q_scales, q_zeros, q_gidx, group_size;
    uint32_t G, base_x;
} fmoe_push;

_Static_assert(sizeof(fmm_push) == 96, "fmm_push layout");
_Static_assert(sizeof(fmmid_push) == 128, "fmmid_push layout");
_Static_assert(sizeof(fmoe_push) == 128, "fmoe_push layout");

/* ---- checks ------------------------------------------------------------------------------ */
static bool is_op(const sc_tensor *t, int32_t op) { return t && t->op == op; }

static bool same_shape(const sc_tensor *a, const sc_tensor *b) {
    for (int d = 0; d < SC_MAX_DIMS; d++)
        if (a->ne[d] != b->ne[d]) return false;
    return true;
}

/* f32 rows [ne0, ne1] (no batch dims) the shaders index. */
static bool f32_2d(const sc_tensor *t) {
    return vk_mm_rows_ok(t, SC_TYPE_F32) && t->ne[2] == 1 && t->ne[3] == 1;
}

/* Two weights the same dispatch reads with one set of strides and offsets. */
static bool same_layout(const sc_tensor *a, const sc_tensor *b) {
    if (a->type != b->type || !same_shape(a, b)) return false;
    for (int d = 0; d < SC_MAX_DIMS; d++)
        if (a->nb[d] != b->nb[d]) return false;
    if (vk_addr(a) % 16 != vk_addr(b) % 16) return false; /* the same vector-load choice */
    if (a->type != SC_TYPE_QG) return true;
    const sc_quant_info *p = &a->quant, *q = &b->quant;
    return p->bits == q->bits && p->group_size == q->group_size && p->n_groups == q->n_groups &&
           p->flags == q->flags && p->row_bytes == q->row_bytes && p->scales_offset == q->scales_offset &&
           p->zeros_offset == q->zeros_offset && p->gidx_offset == q->gidx_offset;
}

static bool pipeline_fits(vk_dev *d, uint32_t push_size) { return vk_dev_caps(d)->max_push_constants >= push_size; }

static uint32_t u32_of(uint64_t v) { return (uint32_t)v; }
static uint32_t div_up(uint64_t a, uint64_t b) { return (uint32_t)((a + b - 1) / b); }

/* ---- MUL_MAT x 2 + SWIGLU, and MUL_MAT_ID x 2 + SWIGLU ------------------------------------ */
/* Members i (MUL_MAT[_ID] a), next (b), next (SWIGLU of a and b in either
 * role): *gate, *up as SWIGLU reads them. */
static int match_pair_swiglu(vk_dev *d, const vk_fuse_graph *g, int i, int32_t op, int *members,
                             const sc_tensor **gate, const sc_tensor **up, const sc_tensor **out) {
    const sc_tensor *a = vk_fg_node(g, i);
    if (!is_op(a, op)) return 0;
    const int j = vk_fg_next(g, i);
    const sc_tensor *b = vk_fg_node(g, j);
    if (j < 0 || !is_op(b, op)) return 0;
    const int k = vk_fg_next(g, j);
    const sc_tensor *s = vk_fg_node(g, k);
    if (k < 0 || !is_op(s, SC_OP_SWIGLU)) return 0;
    if (!((s->src[0] == a && s->src[1] == b) || (s->src[0] == b && s->src[1] == a))) return 0;
    if (vk_fg_uses(g, a) != 1 || vk_fg_uses(g, b) != 1) return 0;
    /* the same activations (and ids), weights of one layout */
    if (a->src[1] != b->src[1] || a->src[2] != b->src[2]) return 0;
    if (!vk_supports_matmul(d, a) || !vk_supports_matmul(d, b)) return 0;
    if (!same_layout(a->src[0], b->src[0]) || !same_shape(a, b) || !same_shape(a, s)) return 0;
    if (!vk_mm_rows_ok(s, SC_TYPE_F32)) return 0;
    if (!vk_fg_disjoint(s, a->src[1]) || (a->src[2] && !vk_fg_disjoint(s, a->src[2]))) return 0;
    members[0] = i;
    members[1] = j;
    members[2] = k;
    *gate = s->src[0];
    *up = s->src[1];
    *out = s;
    return 3;
}

static int mm_swiglu_match(vk_dev *d, const vk_fuse_graph *g, int i, int *members, int max) {
    const sc_tensor *gate, *up, *s;
    if (max < 3 || !pipeline_fits(d, sizeof(fmm_push))) return 0;
    if (match_pair_swiglu(d, g, i, SC_OP_MUL_MAT, members, &gate, &up, &s) != 3) return 0;
    const sc_tensor *w = gate->src[0], *x = gate->src[1];
    uint32_t nc;
    vk_tune_sel sel;
    vk_tune_pick(d, gate, &sel);
    if (w->ne[2] != 1 || w->ne[3] != 1 || !f32_2d(x) || !f32_2d(s)) return 0;
    if (!vk_mm_gemv_mul_mat(d, w, x->ne[1], &nc, &sel) || !vk_mm_gemv_modules("mul_mat_vec_swiglu")) return 0;
    return 3;
}

/* The push block of a fused MUL_MAT GEMV: w [K, N] times x [K, M] into y, aux
 * the second weight (swiglu) or the residual (add). */
static void fmm_fill(fmm_push *pc, vk_rec *r, const sc_tensor *w, const sc_tensor *x, const sc_tensor *y, uint64_t aux) {
    memset(pc, 0, sizeof *pc);
    pc->w = vk_addr(w);
    pc->aux = aux;
    pc->x = vk_addr(x);
    pc->y = vk_addr(y);
    pc->err = vk_rec_error_addr(r);
    pc->w_nb1 = u32_of(w->nb[1]);
    pc->K = (uint32_t)w->ne[0];
    pc->N = (uint32_t)w->ne[1];
    pc->M = (uint32_t)x->ne[1];
    pc->x_nb1 = u32_of(x->nb[1] / 4);
    pc->y_nb1 = u32_of(y->nb[1] / 4);
    vk_mm_push_quant(w, &pc->q_scales, &pc->q_zeros, &pc->q_gidx, &pc->group_size, &pc->G);
}

/* The GEMV of module `base` over pc: the plain GEMV's set-up, with half its
 * rows per workgroup for each of two matrices (swiglu: the same registers). */
static int fmm_dispatch(vk_rec *r, fmm_push *pc, const sc_tensor *w, const sc_tensor *x, const char *base, bool two,
                        const vk_tune_sel *sel) {
    vk_dev *d = vk_rec_dev(r);
    const int64_t N = w->ne[1], M = x->ne[1];
    uint32_t nc = 1, spec[VK_MM_SPEC_COUNT];
    char module[64];
    vk_mm_gemv_mul_mat(d, w, M, &nc, sel);
    vk_mm_gemv_setup(d, w, x, N, nc, base, sel, spec, module, sizeof module);
    if (two) vk_mm_gemv_half_rows(spec);
    vk_pipeline *p = vk_pipeline_get(d, module, sizeof *pc, spec, VK_MM_SPEC_COUNT, 0);
    if (!p) return SC_EBACKEND;
    return vk_mm_dispatch_split(r, p, pc, sizeof *pc, &pc->base_x, &pc->base_z,
                                div_up((uint64_t)N, spec[VK_MM_SPEC_NR]), div_up((uint64_t)M, nc), 1);
}

static int mm_swiglu_record(vk_rec *r, const vk_fuse_graph *g, const int *members, int n) {
    (void)n;
    const sc_tensor *s = vk_fg_node(g, members[2]);
    const sc_tensor *gate = s->src[0], *up = s->src[1];
    const sc_tensor *w = gate->src[0], *w2 = up->src[0], *x = gate->src[1];

    vk_tune_sel sel;
    vk_tune_pick(vk_rec_dev(r), gate, &sel);
    if (vk_tune_dp4_ok(&sel) && vk_mm_dp4_takes(vk_rec_dev(r), w, x, s))
        return vk_mm_dp4_gemv(r, w, w2, x, s, NULL, &sel);
    fmm_push pc;
    fmm_fill(&pc, r, w, x, s, vk_addr(w2));
    return fmm_dispatch(r, &pc, w, x, "mul_mat_vec_swiglu", true, &sel);
}

const vk_fuser vk_fuser_mm_swiglu = {"mm_swiglu", mm_swiglu_match, mm_swiglu_record};

/* ---- MUL_MAT + ADD (residual) ------------------------------------------------------------- */
static int mm_add_match(vk_dev *d, const vk_fuse_graph *g, int i, int *members, int max) {
    const sc_tensor *mm = vk_fg_node(g, i);
    if (max < 2 || !is_op(mm, SC_OP_MUL_MAT) || !pipeline_fits(d, sizeof(fmm_push))) return 0;
    const int j = vk_fg_next(g, i);
    const sc_tensor *add = vk_fg_node(g, j);
    if (j < 0 || !is_op(add, SC_OP_ADD) || vk_fg_uses(g, mm) != 1) return 0;
    const sc_tensor *res = vk_fg_other_src(add, mm);
    if (!res || !vk_supports_matmul(d, mm)) return 0;
    const sc_tensor *w = mm->src[0], *x = mm->src[1];
    uint32_t nc;
    if (w->ne[2] != 1 || w->ne[3] != 1 || !f32_2d(x)) return 0;
    /* no broadcast: r, the product and the sum of one shape */
    if (!f32_2d(add) || !f32_2d(res) || !same_shape(add, mm) || !same_shape(res, mm)) return 0;
    vk_tune_sel sel;
    vk_tune_pick(d, mm, &sel);
    if (!vk_mm_gemv_mul_mat(d, w, x->ne[1], &nc, &sel) || !vk_mm_gemv_modules("mul_mat_vec_add")) return 0;
    if (!vk_fg_disjoint(add, x) || !vk_fg_in_place_or_disjoint(add, res)) return 0;
    members[0] = i;
    members[1] = j;
    return 2;
}

static int mm_add_record(vk_rec *r, const vk_fuse_graph *g, const int *members, int n) {
    (void)n;
    const sc_tensor *mm = vk_fg_node(g, members[0]), *add = vk_fg_node(g, members[1]);
    const sc_tensor *res = vk_fg_other_src(add, mm);
    const sc_tensor *w = mm->src[0], *x = mm->src[1];

    vk_tune_sel sel;
    vk_tune_pick(vk_rec_dev(r), mm, &sel);
    if (vk_tune_dp4_ok(&sel) && vk_mm_dp4_takes(vk_rec_dev(r), w, x, add))
        return vk_mm_dp4_gemv(r, w, NULL, x, add, res, &sel);
    fmm_push pc;
    fmm_fill(&pc, r, w, x, add, vk_addr(res));
    pc.r_nb1 = u32_of(res->nb[1] / 4);
    return fmm_dispatch(r, &pc, w, x, "mul_mat_vec_add", false, &sel);
}

const vk_fuser vk_fuser_mm_add = {"mm_add", mm_add_match, mm_add_record};

/* ---- MUL_MAT_ID x 2 + SWIGLU (MoE gate and up) -------------------------------------------- */
static int moe_gate_up_match(vk_dev *d, const vk_fuse_graph *g, int i, int *members, int max) {
    const sc_tensor *gate, *up, *s;
    if (max < 3 || !pipeline_fits(d, sizeof(fmmid_push))) return 0;
    if (match_pair_swiglu(d, g, i, SC_OP_MUL_MAT_ID, members, &gate, &up, &s) != 3) return 0;
    const sc_tensor *w = gate->src[0], *ids = gate->src[2];
    const uint64_t npairs = (uint64_t)ids->ne[0] * (uint64_t)ids->ne[1];
    if (w->nb[2] > UINT32_MAX) return 0; /* w_nb2 is 32-bit in this push block */
    vk_tune_sel sel;
    vk_tune_pick(d, gate, &sel);
    if (!vk_mm_gemv_mul_mat_id(d, w, npairs, &sel) || !vk_mm_gemv_modules("mul_mat_vec_id_swiglu")) return 0;
    return 3;
}

static int moe_gate_up_record(vk_rec *r, const vk_fuse_graph *g, const int *members, int n) {
    (void)n;
    vk_dev *d = vk_rec_dev(r);
    const sc_tensor *s = vk_fg_node(g, members[2]);
    const sc_tensor *gate = s->src[0], *up = s->src[1];
    const sc_tensor *w = gate->src[0], *w2 = up->src[0], *x = gate->src[1], *ids = gate->src[2];
    const int64_t N = w->ne[1], n_used = ids->ne[0], T = ids->ne[1];
    vk_tune_sel sel; /* a tuned per-pair GEMV: the f32 kernel of that shape, as measured */
    vk_tune_pick(d, gate, &sel);
    if (sel.path == VK_TP_AUTO && vk_mm_dp4_takes_id(d, w, x, ids)) {
        int rc = vk_mm_dp4_moe_gate_up(r, w, w2, x, ids, s);
        if (rc != SC_ENOTSUP) return rc;
    }

    fmmid_push pc;
    memset(&pc, 0, sizeof pc);
    pc.w = vk_addr(w);
    pc.w2 = vk_addr(w2);
    pc.x = vk_addr(x);
    pc.y = vk_addr(s);
    pc.err = vk_rec_error_addr(r);
    pc.ids = vk_addr(ids);
    pc.w_nb2 = u32_of(w->nb[2]);
    pc.w_nb1 = u32_of(w->nb[1]);
    pc.K = (uint32_t)w->ne[0];
    pc.N = (uint32_t)N;
    pc.E = (uint32_t)w->ne[2];
    pc.x_nb1 = u32_of(x->nb[1] / 4);
    pc.x_nb2 = u32_of(x->nb[2] / 4);
    pc.y_nb1 = u32_of(s->nb[1] / 4);
    pc.y_nb2 = u32_of(s->nb[2] / 4);
    pc.n_used = (uint32_t)n_used;
    pc.x_bcast = x->ne[1] == 1 ? 1u : 0u;
    pc.ids_nb1 = u32_of(ids->nb[1] / 4);
    vk_mm_push_quant(w, &pc.q_scales, &pc.q_zeros, &pc.q_gidx, &pc.group_size, &pc.G);

    uint32_t spec[VK_MM_SPEC_COUNT];
    char module[64];
    vk_mm_gemv_setup(d, w, x, N, 1, "mul_mat_vec_id_swiglu", &sel, spec, module, sizeof module);
    vk_mm_gemv_half_rows(spec);
    vk_pipeline *p = vk_pipeline_get(d, module, sizeof pc, spec, VK_MM_SPEC_COUNT, 0);
    if (!p) return SC_EBACKEND;
    return vk_mm_dispatch_split(r, p, &pc, sizeof pc, &pc.base_x, &pc.base_z, div_up((uint64_t)N, spec[VK_MM_SPEC_NR]),
                                1, (uint64_t)n_used * (uint64_t)T);
}

const vk_fuser vk_fuser_moe_gate_up = {"moe_gate_up", moe_gate_up_match, moe_gate_up_record};

/* ---- MUL_MAT_ID + MUL + slot sum (+ residual ADD): MoE down and combine -------------------- */
static int moe_down_match(vk_dev *d, const vk_fuse_graph *g, int i, int *members, int max) {
    const sc_tensor *mm = vk_fg_node(g, i);
    if (!is_op(mm, SC_OP_MUL_MAT_ID) || !pipeline_fits(d, sizeof(fmoe_push))) return 0;
    if (!vk_supports_matmul(d, mm) || !vk_mm_gemv_modules("mul_mat_vec_id_moe")) return 0;
    const sc_tensor *w = mm->src[0], *a = mm->src[1], *ids = mm->src[2];
    const int64_t k = ids->ne[0], T = ids->ne[1];
    if (k < 2 || k + 1 > max || T > VK_MM_MAX_GRID || w->nb[2] > UINT32_MAX) return 0;
    vk_tune_sel sel;
    vk_tune_pick(d, mm, &sel);
    if (!vk_mm_gemv_mul_mat_id(d, w, (uint64_t)k * (uint64_t)T, &sel)) return 0;
    /* mm [D, k, T] read once, by MUL with the routing weights, the slot sum (+ residual) */
    const sc_tensor *rw = NULL, *out = NULL;
    members[0] = i;
    const int m = 1 + vk_fg_moe_sum(g, mm, vk_fg_next(g, i), members + 1, max - 1, &rw, &out);
    if (m == 1 || !vk_mm_rows_ok(rw, SC_TYPE_F32) || !vk_mm_rows_ok(vk_fg_node(g, members[1]), SC_TYPE_F32))
        return 0;
    /* what is written must not overlap what is read */
    if (!vk_fg_disjoint(out, a) || !vk_fg_disjoint(out, ids)) return 0;
    return m;
}

static int moe_down_record(vk_rec *r, const vk_fuse_graph *g, const int *members, int n) {
    vk_dev *d = vk_rec_dev(r);
    /* members: mm, mul, k - 1 slot adds, (the residual add) */
    const sc_tensor *mm = vk_fg_node(g, members[0]), *w = mm->src[0], *a = mm->src[1], *ids = mm->src[2];
    const int64_t N = w->ne[1], k = ids->ne[0], T = ids->ne[1];
    const sc_tensor *rw = vk_fg_other_src(vk_fg_node(g, members[1]), mm);
    const sc_tensor *out = vk_fg_node(g, members[n - 1]);
    const sc_tensor *res = n == k + 2 ? vk_fg_other_src(out, vk_fg_node(g, members[n - 2])) : NULL; /* x of ADD(x, sum) */
    if (!rw || (n == k + 2 && !res)) return SC_ESTATE;
    vk_tune_sel sel; /* a tuned per-pair GEMV: the f32 kernel of that shape, as measured */
    vk_tune_pick(d, mm, &sel);
    if (sel.path == VK_TP_AUTO && vk_mm_dp4_takes_id(d, w, a, ids)) {
        int rc = vk_mm_dp4_moe_down(r, w, a, ids, rw, res, out);
        if (rc != SC_ENOTSUP) return rc;
    }

    fmoe_push pc;
    memset(&pc, 0, sizeof pc);
    pc.w = vk_addr(w);
    pc.x = vk_addr(a);
    pc.y = vk_addr(out);
    pc.err = vk_rec_error_addr(r);
    pc.ids = vk_addr(ids);
    pc.rw = vk_addr(rw);
    pc.r = res ? vk_addr(res) : 0;
    pc.w_nb2 = u32_of(w->nb[2]);
    pc.w_nb1 = u32_of(w->nb[1]);
    pc.K = (uint32_t)w->ne[0];
    pc.N = (uint32_t)N;
    pc.E = (uint32_t)w->ne[2];
    pc.x_nb1 = a->ne[1] == 1 ? 0u : u32_of(a->nb[1] / 4); /* X == 1: every slot reads column 0 */
    pc.x_nb2 = u32_of(a->nb[2] / 4);
    pc.n_used = (uint32_t)ids->ne[0];
    pc.ids_nb1 = u32_of(ids->nb[1] / 4);
    pc.rw_nb2 = u32_of(rw->nb[2] / 4);
    pc.y_nb1 = u32_of(out->nb[1] / 4);
    pc.r_nb1 = res ? u32_of(res->nb[1] / 4) : 0u;
    vk_mm_push_quant(w, &pc.q_scales, &pc.q_zeros, &pc.q_gidx, &pc.group_size, &pc.G);

    uint32_t spec[VK_MM_SPEC_COUNT], base_z = 0;
    char module[64];
    vk_mm_gemv_setup(d, w, a, N, 1, "mul_mat_vec_id_moe", &sel, spec, module, sizeof module);
    vk_pipeline *p = vk_pipeline_get(d, module, sizeof pc, spec, VK_MM_SPEC_COUNT, 0);
    if (!p) return SC_EBACKEND;
    /* grid z = tokens (T <= 65535: match checked), never split */
    return vk_mm_dispatch_split(r, p, &pc, sizeof pc, &pc.base_x, &base_z, div_up((uint64_t)N, spec[VK_MM_SPEC_NR]),
                                1, (uint64_t)T);
}

const vk_fuser vk_fuser_moe_down = {"moe_down", moe_down_match, moe_down_record};

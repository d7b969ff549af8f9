/*
 * backends/vulkan/vk_fuse_rows.c - row-wise chains recorded as one dispatch
 * (vk_internal.h "fusion"): the fusers norm_rope, moe_route and moe_sum.
 *
 * norm_rope (shaders/fuse_norm_rope.comp), the q/k heads of
 * core/src/model_qwen3.c qk_heads():
 *
 *   RMS_NORM(x [hd, H, T], w [hd]) -> ROPE(., pos) [-> KV_WRITE(cache, ., bt, pos, seq)]
 *
 *   Q path: two members; the ROPE result is written (ATTENTION reads it).
 *   K path: three members, when the KV_WRITE is the ROPE result's only
 *   reader: the rotated rows go straight into the paged cache in its dtype,
 *   rounded as kv_write.comp rounds, and the ROPE result is not written.
 *   One workgroup per (head, token). Unfused the chain is 3 or 4 dispatches
 *   behind 1 or 2 barriers (ROPE takes two dispatches at head_dim 128: its
 *   64 inv_freq values ride in push constants, 48 at most per dispatch); fused
 *   it is one. The fused shader reads inv_freq from a table the recording
 *   carries (vk_rec_const: stored once per graph, computed on the host
 *   exactly as ROPE's push constants are).
 *
 * moe_route (shaders/fuse_moe_route.comp), model_qwen3.c moe()'s routing:
 *
 *   p = SOFTMAX(logits [E, T]);  ids = TOP_K(p, k) [k, T];
 *   g = MUL_MAT_ID(moe_eye [E, 1, E], reshape(src, [E, 1, T]), ids) [1, k, T]
 *       with src = logits (norm_topk_prob) or p;
 *   [w = SOFTMAX(reshape(g, [k, T]))]            (norm_topk_prob)
 *
 *   One workgroup per token: softmax, the exact TOP_K order, the gather
 *   (g[i, t] = src[ids[i, t], t]: what the one-hot product computes) and the
 *   renormalisation. ids and the last member's result are written, p and g
 *   only when read outside the group. The gather is recognised as one by
 *   its weight: a leaf flagged SC_TENSOR_ONE_HOT (model_weights.c sets it) of
 *   shape [E, 1, E]; nothing on the device can check its contents at
 *   match time.
 *
 * moe_sum (shaders/fuse_moe_sum.comp): the MoE combine (vk_fg_moe_sum) where
 * moe_down did not take it with the experts (prefill): MUL by the routing
 * weights, the slot sum and the residual as one elementwise dispatch.
 *
 * norm_rope and moe_route take any T (decode and prefill); match declines (the nodes run
 * unfused) outside the shaders' limits: moe_route takes E <= 512 and
 * k <= 16. Every push block fits the guaranteed 128 bytes.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "vk_util.h"

/* ---- shared helpers ----------------------------------------------------------- */

/* f32, contiguous rows, strides that are f32 multiples and fit u32 */
static bool f32_rows_u32(const sc_tensor *t) {
    if (!vk_shape_ok(t) || t->type != SC_TYPE_F32 || t->nb[0] != sizeof(float)) return false;
    for (int d = 1; d < SC_MAX_DIMS; d++)
        if (t->nb[d] % sizeof(float) != 0 || !vk_fits_u32((int64_t)t->nb[d])) return false;
    return true;
}

static bool shape_is(const sc_tensor *t, int64_t n0, int64_t n1, int64_t n2, int64_t n3) {
    return t->ne[0] == n0 && t->ne[1] == n1 && t->ne[2] == n2 && t->ne[3] == n3;
}

/* The reduction modules' choice (vk_op_norm.c row_pipeline): the subgroup
 * variant when the device's subgroup arithmetic covers a workgroup of wg. */
static vk_pipeline *row_pipeline(vk_dev *d, const char *base, uint32_t push_size, uint32_t wg, uint32_t spec4,
                                 uint32_t spec5) {
    const vk_caps *c = vk_dev_caps(d);
    const uint32_t sg = c->subgroup_size;
    const bool use_sg = c->subgroup_arithmetic && sg >= 1 && (sg & (sg - 1)) == 0 && sg <= wg;
    char name[64];
    snprintf(name, sizeof name, "%s%s", base, use_sg ? "" : "_nosg");
    const uint32_t spec[6] = {wg, 1, 1, use_sg ? sg : 1u, spec4, spec5};
    return vk_pipeline_get(d, name, push_size, spec, 6, 0);
}

/* ---- norm_rope ------------------------------------------------------------------ */

#define ROPE_MAX_HALF 2048 /* pairs: the inv_freq table (vk_rec_const, <= 64 KiB) */

typedef struct norm_rope_push { /* fuse_norm_rope.comp, scalar layout */
    uint64_t x, w, pos, freq, dst, bt, seq, err;
    uint32_t xnb1, xnb2;
    uint32_t onb1, onb2, onb3;
    uint32_t bt_nb1;
    uint32_t H, d_nrot;
    uint32_t BS, NB, MB, NSEQ;
    float eps;
    uint32_t wg_base, wg_count;
} norm_rope_push;

_Static_assert(offsetof(norm_rope_push, wg_count) == 120 && sizeof(norm_rope_push) <= 128,
               "push layout: the shader's block, within the guaranteed 128 bytes");

/* inv_freq[i] of ROPE, bit for bit: the expression of vk_op_norm.c and of
 * the reference (sc__cpu_rope_inv_freq), f32 arithmetic and powf. */
static float rope_inv_freq(int64_t i, int32_t n_rot, float base) {
    return 1.0f / powf(base, (float)(2 * i) / (float)n_rot);
}

/* The KV_WRITE that may end the group: the ROPE result's only reader, it
 * writes into its cache in place, at the ROPE's positions, and the device's
 * KV_WRITE takes it. */
static bool kv_write_takes(vk_dev *d, const vk_fuse_graph *g, const sc_tensor *kv, const sc_tensor *rope) {
    if (!kv || kv->op != SC_OP_KV_WRITE || kv->src[1] != rope || vk_fg_uses(g, rope) != 1) return false;
    if (!vk_supports_attn(d, kv)) return false;
    const sc_tensor *cache = kv->src[0], *pos = kv->src[3], *rpos = rope->src[1];
    if (vk_addr(kv) != vk_addr(cache) || memcmp(kv->nb, cache->nb, sizeof kv->nb) != 0) return false;
    if (pos != rpos && (vk_addr(pos) != vk_addr(rpos) || pos->ne[0] != rpos->ne[0])) return false;
    return cache->type == SC_TYPE_F32 || cache->type == SC_TYPE_F16 || cache->type == SC_TYPE_BF16;
}

static int match_norm_rope(vk_dev *d, const vk_fuse_graph *g, int i, int *members, int max) {
    const sc_tensor *nrm = vk_fg_node(g, i);
    if (max < 2 || !nrm || nrm->op != SC_OP_RMS_NORM) return 0;
    const int j = vk_fg_next(g, i);
    const sc_tensor *rope = vk_fg_node(g, j);
    if (!rope || rope->op != SC_OP_ROPE || rope->src[0] != nrm) return 0;
    if (vk_fg_uses(g, nrm) != 1) return 0; /* the normed heads are not written */
    if (!vk_supports_norm(d, nrm) || !vk_supports_norm(d, rope)) return 0;

    const sc_tensor *x = nrm->src[0];
    if (!f32_rows_u32(x) || !f32_rows_u32(rope) || x->ne[3] != 1) return 0;
    if (!vk_fits_u32(x->ne[1] * x->ne[2]) || sc_op_param_i32(rope, 0) / 2 > ROPE_MAX_HALF) return 0;

    members[0] = i;
    members[1] = j;
    const int k = vk_fg_next(g, j);
    if (max >= 3 && kv_write_takes(d, g, vk_fg_node(g, k), rope)) {
        members[2] = k;
        return 3;
    }
    return 2;
}

/* The device address of inv_freq[0 .. n_rot / 2) for this graph: a table
 * in the recording (vk_rec_const stores one per graph and parameters). */
static int rope_table_get(vk_rec *r, int32_t n_rot, float base, uint64_t *addr) {
    float f[ROPE_MAX_HALF];
    const int32_t half = n_rot / 2 > 0 ? n_rot / 2 : 1; /* n_rot < 2: no pair is read */
    for (int32_t i = 0; i < half; i++) f[i] = rope_inv_freq(i, n_rot, base);
    return vk_rec_const(r, f, (size_t)half * sizeof(float), addr);
}

/* One workgroup per (head, token) of about one invocation per pair, and at
 * least a subgroup (so that the reduction can take the subgroup path). */
static uint32_t norm_rope_wg(const vk_caps *c, int64_t half) {
    uint32_t wg = 32;
    while ((wg < half || wg < c->subgroup_size) && wg < 256) wg *= 2;
    return vk_clamp_wg(c, wg);
}

static int record_norm_rope(vk_rec *r, const vk_fuse_graph *g, const int *members, int n) {
    const sc_tensor *nrm = vk_fg_node(g, members[0]), *rope = vk_fg_node(g, members[1]);
    const sc_tensor *kv = n == 3 ? vk_fg_node(g, members[2]) : NULL;
    const sc_tensor *x = nrm->src[0], *w = nrm->src[1], *pos = rope->src[1];
    vk_dev *d = vk_rec_dev(r);
    const int32_t n_rot = sc_op_param_i32(rope, 0);
    vk_pipeline *p = row_pipeline(d, "fuse_norm_rope", sizeof(norm_rope_push), norm_rope_wg(vk_dev_caps(d), n_rot / 2),
                                  kv ? 1u : 0u, kv ? (uint32_t)kv->src[0]->type : 0u);
    if (!p) return SC_ENOTSUP;
    uint64_t freq = 0;
    int rc = rope_table_get(r, n_rot, sc_op_param_f32(rope, 1), &freq);
    if (rc != SC_OK) return rc;

    const sc_tensor *out = kv ? kv : rope;
    norm_rope_push pc = {
        .x = vk_addr(x), .w = w ? vk_addr(w) : 0, .pos = vk_addr(pos), .freq = freq, .dst = vk_addr(out),
        .xnb1 = (uint32_t)x->nb[1], .xnb2 = (uint32_t)x->nb[2],
        .onb1 = (uint32_t)out->nb[1], .onb2 = (uint32_t)out->nb[2], .onb3 = (uint32_t)out->nb[3],
        .H = (uint32_t)x->ne[1],
        .d_nrot = (uint32_t)x->ne[0] | (uint32_t)n_rot << 16,
        .eps = sc_op_param_f32(nrm, 0),
    };
    if (kv) {
        const sc_tensor *cache = kv->src[0], *bt = kv->src[2], *seq = kv->src[4];
        pc.bt = vk_addr(bt);
        pc.seq = seq ? vk_addr(seq) : 0;
        pc.err = vk_rec_error_addr(r);
        pc.bt_nb1 = (uint32_t)bt->nb[1];
        pc.BS = (uint32_t)cache->ne[2];
        pc.NB = (uint32_t)cache->ne[3];
        pc.MB = (uint32_t)bt->ne[0];
        pc.NSEQ = (uint32_t)bt->ne[1];
    }
    return vk_dispatch_groups(r, p, &pc, sizeof pc, &pc.wg_base, &pc.wg_count,
                              (uint64_t)x->ne[1] * (uint64_t)x->ne[2], false);
}

const vk_fuser vk_fuser_norm_rope = {"norm_rope", match_norm_rope, record_norm_rope};

/* ---- moe_route ------------------------------------------------------------------ */

#define MOE_MAX_E 512 /* = MAX_E of fuse_moe_route.comp */
#define MOE_MAX_K 16  /* = MAX_K */

typedef struct moe_route_push { /* fuse_moe_route.comp, scalar layout */
    uint64_t x, p, ids, g, y;
    uint32_t xnb1, pnb1, idsnb1;
    uint32_t gnb1, gnb2;
    uint32_t ynb1;
    uint32_t E, K;
    float s0, s1;
    uint32_t wg_base, wg_count;
} moe_route_push;

_Static_assert(sizeof(moe_route_push) == 88, "moe_route_push layout");

/* The model's one-hot stack (core/src/model_weights.c): a leaf flagged
 * SC_TENSOR_ONE_HOT (plugin.h: matrix e is row e of the identity), [E, 1, E]. */
static bool is_moe_eye(const sc_tensor *t, int64_t E) {
    if (!t || t->op != SC_OP_NONE || !(t->flags & SC_TENSOR_ONE_HOT)) return false;
    const size_t es = t->type == SC_TYPE_F32 ? 4 : t->type == SC_TYPE_F16 || t->type == SC_TYPE_BF16 ? 2 : 0;
    return es && t->nb[0] == es && shape_is(t, E, 1, E, 1);
}

/* v (the gather's operand, [E, 1, T]) reads exactly the rows of s ([E, T]). */
static bool reshaped_rows(const sc_tensor *v, const sc_tensor *s) {
    return vk_fg_root(v) == vk_fg_root(s) && vk_addr(v) == vk_addr(s) && v->type == SC_TYPE_F32 &&
           v->nb[0] == sizeof(float) && shape_is(v, s->ne[0], 1, s->ne[1], 1) && v->nb[2] == s->nb[1];
}

/* The group's nodes. */
typedef struct moe_chain {
    const sc_tensor *x, *p, *ids, *g, *y; /* y: the renormalising SOFTMAX, or NULL */
    bool from_p;                           /* the gather reads p (else the logits x) */
} moe_chain;

static int moe_find(const vk_fuse_graph *g, int i, int *members, moe_chain *c) {
    memset(c, 0, sizeof *c);
    const sc_tensor *p = vk_fg_node(g, i);
    if (!p || p->op != SC_OP_SOFTMAX) return 0;
    const sc_tensor *x = p->src[0];
    if (!f32_rows_u32(x) || !f32_rows_u32(p) || x->ne[2] != 1 || x->ne[3] != 1) return 0;
    const int64_t E = x->ne[0], T = x->ne[1];
    if (E > MOE_MAX_E || !vk_fits_u32(T)) return 0;

    const int i1 = vk_fg_next(g, i);
    const sc_tensor *ids = vk_fg_node(g, i1);
    if (!ids || ids->op != SC_OP_TOP_K || ids->src[0] != p) return 0;
    const int32_t K = sc_op_param_i32(ids, 0);
    if (K < 1 || K > MOE_MAX_K || K > E || ids->type != SC_TYPE_I32 || ids->nb[0] != 4 || !shape_is(ids, K, T, 1, 1) ||
        !vk_fits_u32((int64_t)ids->nb[1]))
        return 0;

    const int i2 = vk_fg_next(g, i1);
    const sc_tensor *gat = vk_fg_node(g, i2);
    if (!gat || gat->op != SC_OP_MUL_MAT_ID || gat->src[2] != ids || !is_moe_eye(gat->src[0], E)) return 0;
    if (!f32_rows_u32(gat) || !shape_is(gat, 1, K, T, 1)) return 0;
    if (reshaped_rows(gat->src[1], p))
        c->from_p = true;
    else if (!reshaped_rows(gat->src[1], x))
        return 0;

    members[0] = i;
    members[1] = i1;
    members[2] = i2;
    c->x = x;
    c->p = p;
    c->ids = ids;
    c->g = gat;

    /* the renormalisation: SOFTMAX over reshape(g, [k, T]) */
    const int i3 = vk_fg_next(g, i2);
    const sc_tensor *y = vk_fg_node(g, i3), *v = y ? y->src[0] : NULL;
    if (y && y->op == SC_OP_SOFTMAX && v && vk_fg_root(v) == vk_fg_root(gat) && vk_addr(v) == vk_addr(gat) &&
        v->type == SC_TYPE_F32 && v->nb[0] == 4 && shape_is(v, K, T, 1, 1) && gat->nb[1] == 4 &&
        v->nb[1] == gat->nb[2] && f32_rows_u32(y) && shape_is(y, K, T, 1, 1)) {
        members[3] = i3;
        c->y = y;
        return 4;
    }
    return 3;
}

static int match_moe_route(vk_dev *d, const vk_fuse_graph *g, int i, int *members, int max) {
    (void)d;
    moe_chain c;
    int tmp[4];
    const int n = moe_find(g, i, tmp, &c);
    if (n < 3 || n > max) return 0;
    memcpy(members, tmp, (size_t)n * sizeof *members);
    return n;
}

static int record_moe_route(vk_rec *r, const vk_fuse_graph *g, const int *members, int n) {
    moe_chain c = {
        .p = vk_fg_node(g, members[0]), .ids = vk_fg_node(g, members[1]), .g = vk_fg_node(g, members[2]),
        .y = n == 4 ? vk_fg_node(g, members[3]) : NULL,
    };
    c.x = c.p->src[0];
    c.from_p = reshaped_rows(c.g->src[1], c.p);
    vk_dev *d = vk_rec_dev(r);
    /* results read outside the group (the members' own reads are 1 for p,
     * plus the gather's when it reads p; 1 for g when the SOFTMAX follows) */
    const bool write_p = vk_fg_uses(g, c.p) > 1 + (c.from_p ? 1 : 0);
    const bool write_ids = vk_fg_uses(g, c.ids) > 1;
    const bool write_g = !c.y || vk_fg_uses(g, c.g) > 1;
    /* the workgroup size SOFTMAX uses for rows of E (vk_op_norm.c row_wg), so that p is the same */
    const uint32_t wg = vk_clamp_wg(vk_dev_caps(d), c.x->ne[0] >= 4096 ? 512u : c.x->ne[0] >= 1024 ? 256u : 128u);
    vk_pipeline *p = row_pipeline(d, "fuse_moe_route", sizeof(moe_route_push), wg, c.from_p ? 1u : 0u, c.y ? 1u : 0u);
    if (!p) return SC_ENOTSUP;
    moe_route_push pc = {
        .x = vk_addr(c.x), .p = write_p ? vk_addr(c.p) : 0, .ids = write_ids ? vk_addr(c.ids) : 0,
        .g = write_g ? vk_addr(c.g) : 0, .y = c.y ? vk_addr(c.y) : 0,
        .xnb1 = (uint32_t)c.x->nb[1], .pnb1 = (uint32_t)c.p->nb[1], .idsnb1 = (uint32_t)c.ids->nb[1],
        .gnb1 = (uint32_t)c.g->nb[1], .gnb2 = (uint32_t)c.g->nb[2], .ynb1 = c.y ? (uint32_t)c.y->nb[1] : 0,
        .E = (uint32_t)c.x->ne[0], .K = (uint32_t)c.ids->ne[0],
        .s0 = sc_op_param_f32(c.p, 0), .s1 = c.y ? sc_op_param_f32(c.y, 0) : 1.0f,
    };
    return vk_dispatch_groups(r, p, &pc, sizeof pc, &pc.wg_base, &pc.wg_count, (uint64_t)c.x->ne[1], false);
}

const vk_fuser vk_fuser_moe_route = {"moe_route", match_moe_route, record_moe_route};

/* ---- moe_sum --------------------------------------------------------------------- */
/* The MoE combine (vk_fg_moe_sum) after experts computed by a GEMM: at decode
 * moe_down takes the chain with the experts' GEMV; at prefill the MUL_MAT_ID
 * runs alone and this records the k + 1 (or k + 2) elementwise nodes as one
 * dispatch (fuse_moe_sum.comp), the same arithmetic in the same order. */
typedef struct moe_sum_push { /* fuse_moe_sum.comp */
    uint64_t mm, rw, r, y;
    uint32_t D, k, T, total;
    uint32_t mm_nb1, mm_nb2;
    uint32_t y_nb1, r_nb1, rw_nb2;
    uint32_t pad_;
} moe_sum_push;
_Static_assert(sizeof(moe_sum_push) == 72, "moe_sum_push layout");

#define MOE_SUM_WG 256u

/* The experts' products of a MUL node: its [D, k, T] source (the other is rw [1, k, T]). */
static const sc_tensor *moe_sum_mm(const sc_tensor *mul) {
    if (!mul || mul->op != SC_OP_MUL || !mul->src[0] || !mul->src[1]) return NULL;
    return mul->src[0]->ne[0] != 1 ? mul->src[0] : mul->src[1];
}

/* The residual x of a chain's last member ADD(x, sum), or NULL without one
 * (n members: the MUL and k - 1 ADDs, then maybe the residual ADD). */
static const sc_tensor *moe_sum_res(const vk_fuse_graph *g, const int *members, int n, int64_t k) {
    if (n != k + 1) return NULL;
    return vk_fg_other_src(vk_fg_node(g, members[n - 1]), vk_fg_node(g, members[n - 2]));
}

static int match_moe_sum(vk_dev *d, const vk_fuse_graph *g, int i, int *members, int max) {
    const sc_tensor *mm = moe_sum_mm(vk_fg_node(g, i));
    if (!mm || !vk_spirv_find("fuse_moe_sum") || vk_dev_caps(d)->max_workgroup_size < MOE_SUM_WG) return 0;
    const sc_tensor *rw = NULL, *out = NULL;
    const int m = vk_fg_moe_sum(g, mm, i, members, max, &rw, &out);
    if (m == 0 || !f32_rows_u32(mm) || !f32_rows_u32(rw) || !f32_rows_u32(out)) return 0;
    const sc_tensor *res = moe_sum_res(g, members, m, mm->ne[1]);
    if (res && !f32_rows_u32(res)) return 0;
    if ((uint64_t)mm->ne[0] * (uint64_t)mm->ne[2] > UINT32_MAX - MOE_SUM_WG) return 0;
    return m;
}

static int record_moe_sum(vk_rec *r, const vk_fuse_graph *g, const int *members, int n) {
    const sc_tensor *mul = vk_fg_node(g, members[0]), *mm = moe_sum_mm(mul);
    const sc_tensor *rw = vk_fg_other_src(mul, mm);
    const sc_tensor *out = vk_fg_node(g, members[n - 1]);
    const int64_t k = mm->ne[1];
    const sc_tensor *res = moe_sum_res(g, members, n, k);
    moe_sum_push pc = {
        .mm = vk_addr(mm), .rw = vk_addr(rw), .r = res ? vk_addr(res) : 0, .y = vk_addr(out),
        .D = (uint32_t)mm->ne[0], .k = (uint32_t)k, .T = (uint32_t)mm->ne[2],
        .total = (uint32_t)(mm->ne[0] * mm->ne[2]),
        .mm_nb1 = (uint32_t)(mm->nb[1] / 4), .mm_nb2 = (uint32_t)(mm->nb[2] / 4),
        .y_nb1 = (uint32_t)(out->nb[1] / 4), .r_nb1 = res ? (uint32_t)(res->nb[1] / 4) : 0,
        .rw_nb2 = (uint32_t)(rw->nb[2] / 4),
    };
    const uint32_t spec[3] = {MOE_SUM_WG, 1, 1};
    vk_pipeline *p = vk_pipeline_get(vk_rec_dev(r), "fuse_moe_sum", sizeof pc, spec, 3, 0);
    if (!p) return SC_EBACKEND;
    uint64_t groups = ((uint64_t)pc.total + MOE_SUM_WG - 1) / MOE_SUM_WG;
    if (groups > 65535) groups = 65535; /* grid-stride beyond */
    return vk_dispatch(r, p, &pc, sizeof pc, (uint32_t)(groups ? groups : 1), 1, 1);
}

const vk_fuser vk_fuser_moe_sum = {"moe_sum", match_moe_sum, record_moe_sum};

/*
 * tests/backend-ops/cases_fuse_gemv.c - the node chains the Vulkan GEMV
 * fusers take (backends/vulkan/vk_fuse_gemv.c), built as
 * core/src/model_qwen3.c builds them, each chain one case compared at its
 * last node. On any backend they are ordinary graphs; on Vulkan each should
 * run as one fused dispatch, which the ctests in CMakeLists.txt check by the
 * "fused NAME:" line STRIXCORE_VK_FUSE_LOG=1 logs (info level: raised below
 * when that variable is set, backend-ops otherwise logs warnings only).
 *
 * Names start with "fuse_<fuser>" (backend-ops -p fuse_mm_add); the op is the
 * chain's first node's. Shapes: decode (M or T = 1) and small batches the
 * GEMV takes, with K tails of every lane step (K = 33, 257, 4097, 333) and
 * odd N (row blocks with rows past N); weights f32, f16, bf16 and QG of
 * every width, with and without g_idx, bf16 rounding.
 *
 * Bounds: cases_matmul.c's per projection (a backend may quantize the
 * activations, nmse ~1.5e-5 for QG), four times that for swiglu (the
 * product of two projections, few outputs: the CPU's int8 path reaches
 * 7e-5 on some of this data), ten times for the whole MLP / expert block (the second
 * projection reads the first's errors). The Vulkan fused kernels match the
 * reference to ~1e-12; a wrong epilogue costs nmse > 1e-2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bo.h"

static double bound(const bo_wtype *w) {
    switch (w->type) {
    case SC_TYPE_F32: return 1e-7;
    case SC_TYPE_F16:
    case SC_TYPE_BF16: return 1e-5;
    default: return 5e-5;
    }
}

/* ids [n_used, T]: n_used distinct experts per token, as top-k picks them */
static sc_tensor *leaf_ids(bo_env *e, int64_t E, int64_t n_used, int64_t T) {
    int32_t *ids = malloc((size_t)(n_used * T) * sizeof *ids);
    int32_t *experts = malloc((size_t)E * sizeof *experts);
    sc_tensor *t = NULL;
    if (ids && experts) {
        for (int64_t j = 0; j < T; j++) {
            for (int64_t i = 0; i < E; i++) experts[i] = (int32_t)i;
            bo_shuffle_i32(e, experts, E);
            for (int64_t i = 0; i < n_used; i++) ids[j * n_used + i] = experts[i];
        }
        const int64_t ne[2] = {n_used, T};
        t = bo_leaf_i32(e, 2, ne, ids);
    } else {
        e->err = SC_ENOMEM;
    }
    free(ids);
    free(experts);
    return t;
}

/* ---- mm_add: x = sc_add(ctx, x, W a), the attention output and dense down
 * projections. p.mm: w [K, N], a [K, M], residual [N, M]; view[0]: a's layout. */
static sc_tensor *mm_add_chain(bo_env *e, const bo_case *c, bool residual_first) {
    const bo_p_mm *p = &c->p.mm;
    sc_tensor *w = bo_leaf_weight(e, &p->w, p->K, p->N, 1, 1, BO_CONTIG);
    const int64_t ane[4] = {p->K, p->M, 1, 1}, rne[2] = {p->N, p->M};
    sc_tensor *a = bo_leaf_view(e, SC_TYPE_F32, ane, c->view[0], -1.0f, 1.0f);
    sc_tensor *x = bo_leaf_uniform(e, SC_TYPE_F32, 2, rne, -2.0f, 2.0f);
    sc_tensor *mm = sc_mul_mat(e->ctx, w, a);
    return residual_first ? sc_add(e->ctx, x, mm) : sc_add(e->ctx, mm, x);
}
static sc_tensor *build_mm_add(bo_env *e, const bo_case *c) { return mm_add_chain(e, c, true); }
static sc_tensor *build_mm_add_swapped(bo_env *e, const bo_case *c) { return mm_add_chain(e, c, false); }

/* The attention output: a [hd, H, M] reshaped to [hd*H, M] (K = hd*H, hd = 16). */
static sc_tensor *build_mm_add_attn(bo_env *e, const bo_case *c) {
    const bo_p_mm *p = &c->p.mm;
    sc_tensor *w = bo_leaf_weight(e, &p->w, p->K, p->N, 1, 1, BO_CONTIG);
    const int64_t ane[3] = {16, p->K / 16, p->M}, a2[2] = {p->K, p->M}, rne[2] = {p->N, p->M};
    sc_tensor *a = bo_leaf_uniform(e, SC_TYPE_F32, 3, ane, -1.0f, 1.0f);
    sc_tensor *x = bo_leaf_uniform(e, SC_TYPE_F32, 2, rne, -2.0f, 2.0f);
    return sc_add(e->ctx, x, sc_mul_mat(e->ctx, w, sc_reshape(e->ctx, a, 2, a2)));
}

/* ---- mm_swiglu: silu(gate h) * (up h). p.mm: gate, up [K, N], h [K, M]. */
static sc_tensor *build_mm_swiglu(bo_env *e, const bo_case *c) {
    const bo_p_mm *p = &c->p.mm;
    sc_tensor *gate = bo_leaf_weight(e, &p->w, p->K, p->N, 1, 1, BO_CONTIG);
    sc_tensor *up = bo_leaf_weight(e, &p->w, p->K, p->N, 1, 1, BO_CONTIG);
    const int64_t hne[4] = {p->K, p->M, 1, 1};
    sc_tensor *h = bo_leaf_view(e, SC_TYPE_F32, hne, c->view[0], -1.0f, 1.0f);
    sc_tensor *g = sc_mul_mat(e->ctx, gate, h);
    sc_tensor *u = sc_mul_mat(e->ctx, up, h);
    return sc_swiglu(e->ctx, g, u);
}

/* The dense MLP of a layer with its residual: x + down(silu(gate h) * up h);
 * mm_swiglu takes the first three nodes, mm_add the last two. p.mm: K = D, N = I. */
static sc_tensor *build_mm_swiglu_mlp(bo_env *e, const bo_case *c) {
    const bo_p_mm *p = &c->p.mm;
    sc_tensor *gate = bo_leaf_weight(e, &p->w, p->K, p->N, 1, 1, BO_CONTIG);
    sc_tensor *up = bo_leaf_weight(e, &p->w, p->K, p->N, 1, 1, BO_CONTIG);
    sc_tensor *down = bo_leaf_weight(e, &p->w, p->N, p->K, 1, 1, BO_CONTIG);
    const int64_t hne[2] = {p->K, p->M};
    sc_tensor *h = bo_leaf_uniform(e, SC_TYPE_F32, 2, hne, -1.0f, 1.0f);
    sc_tensor *x = bo_leaf_uniform(e, SC_TYPE_F32, 2, hne, -2.0f, 2.0f);
    sc_tensor *g = sc_mul_mat(e->ctx, gate, h);
    sc_tensor *u = sc_mul_mat(e->ctx, up, h);
    return sc_add(e->ctx, x, sc_mul_mat(e->ctx, down, sc_swiglu(e->ctx, g, u)));
}

/* A layer's Q, K and V projections of one activation h, summed so that one
 * node compares them all: (Wq h + Wk h) + Wv h. On Vulkan's int8-activation
 * GEMV (vk_op_matmul_dp4.c) the three share one quantized copy of h ("shared
 * x" in its debug lines). p.mm: the three [K, N], h [K, M]. */
static sc_tensor *qkv_sum(bo_env *e, const bo_case *c, sc_tensor *h) {
    const bo_p_mm *p = &c->p.mm;
    sc_tensor *wq = bo_leaf_weight(e, &p->w, p->K, p->N, 1, 1, BO_CONTIG);
    sc_tensor *wk = bo_leaf_weight(e, &p->w, p->K, p->N, 1, 1, BO_CONTIG);
    sc_tensor *wv = bo_leaf_weight(e, &p->w, p->K, p->N, 1, 1, BO_CONTIG);
    sc_tensor *qk = sc_add(e->ctx, sc_mul_mat(e->ctx, wq, h), sc_mul_mat(e->ctx, wk, h));
    return sc_add(e->ctx, qk, sc_mul_mat(e->ctx, wv, h));
}

static sc_tensor *build_dp4_shared_x(bo_env *e, const bo_case *c) {
    const int64_t hne[2] = {c->p.mm.K, c->p.mm.M};
    return qkv_sum(e, c, bo_leaf_uniform(e, SC_TYPE_F32, 2, hne, -1.0f, 1.0f));
}

/* The same after the layer's RMS_NORM, as the model has it: on Vulkan the
 * norm also writes the int8 copy (norm_rms_q8) and all three GEMVs share it. */
static sc_tensor *build_dp4_norm_qkv(bo_env *e, const bo_case *c) {
    const int64_t hne[2] = {c->p.mm.K, c->p.mm.M}, gne[1] = {c->p.mm.K};
    sc_tensor *x = bo_leaf_uniform(e, SC_TYPE_F32, 2, hne, -2.0f, 2.0f);
    sc_tensor *g = bo_leaf_uniform(e, SC_TYPE_F32, 1, gne, 0.5f, 1.5f);
    return qkv_sum(e, c, sc_rms_norm(e->ctx, x, g, 1e-6f));
}

static sc_tensor *build_moe_gate_up(bo_env *e, const bo_case *c);
static sc_tensor *build_moe_ffn(bo_env *e, const bo_case *c);

/* error bound factor by chain: two projections multiplied (swiglu) or in series */
static double chain_factor(bo_build_fn build) {
    if (build == build_mm_swiglu || build == build_moe_gate_up) return 4.0;
    if (build == build_mm_swiglu_mlp || build == build_moe_ffn) return 10.0;
    if (build == build_dp4_shared_x || build == build_dp4_norm_qkv) return 3.0;
    return 1.0;
}

static bo_case *add_mm_case(bo_list *l, const char *fuser, const char *variant, bo_build_fn build, bo_wtype w,
                            int64_t K, int64_t N, int64_t M, bo_view view) {
    bo_case *c = bo_list_add(l, SC_OP_MUL_MAT, build, bound(&w) * chain_factor(build));
    if (!c) return NULL;
    c->p.mm = (bo_p_mm){w, K, N, M, 1, 1, 1, 1};
    c->view[0] = view;
    char wn[32];
    snprintf(c->name, sizeof c->name, "%s%s%s(type_w=%s,K=%lld,N=%lld,M=%lld%s)", fuser ? "fuse_" : "",
             fuser ? fuser : "", variant,
             bo_wtype_name(&w, wn, sizeof wn), (long long)K, (long long)N, (long long)M,
             view == BO_SLICE ? ",a=slice" : "");
    return c;
}

/* ---- moe_gate_up: silu(gate_e x) * (up_e x) per (slot, token). p.mmid:
 * gate, up [K, N, E], x [K, X, T] (X == 1: the model's reshape of h [K, T]). */
static sc_tensor *build_moe_gate_up(bo_env *e, const bo_case *c) {
    const bo_p_mmid *p = &c->p.mmid;
    sc_tensor *gate = bo_leaf_weight(e, &p->w, p->K, p->N, p->E, 1, BO_CONTIG);
    sc_tensor *up = bo_leaf_weight(e, &p->w, p->K, p->N, p->E, 1, BO_CONTIG);
    sc_tensor *x;
    if (p->X == 1) {
        const int64_t hne[2] = {p->K, p->T}, x3[3] = {p->K, 1, p->T};
        x = sc_reshape(e->ctx, bo_leaf_uniform(e, SC_TYPE_F32, 2, hne, -1.0f, 1.0f), 3, x3);
    } else {
        const int64_t xne[3] = {p->K, p->X, p->T};
        x = bo_leaf_uniform(e, SC_TYPE_F32, 3, xne, -1.0f, 1.0f);
    }
    sc_tensor *ids = leaf_ids(e, p->E, p->n_used, p->T);
    sc_tensor *g = sc_mul_mat_id(e->ctx, gate, x, ids);
    sc_tensor *u = sc_mul_mat_id(e->ctx, up, x, ids);
    return sc_swiglu(e->ctx, g, u);
}

/* ---- moe_down: the experts' down projection, weighted and summed over the
 * slots in rank order (model_qwen3.c moe()), then the layer's residual.
 * p.mmid: down [K = I, N = D, E], a [I, n_used, T], rw [1, n_used, T], x [D, T]. */
static sc_tensor *moe_sum(bo_env *e, sc_tensor *y, sc_tensor *rw, int64_t D, int64_t k, int64_t T) {
    y = sc_mul(e->ctx, y, rw); /* slot i scaled by rw[t, i] */
    if (!y) return NULL;
    sc_tensor *out = NULL;
    for (int64_t i = 0; i < k; i++) {
        const int64_t ne[2] = {D, T};
        const size_t nb[2] = {sizeof(float), y->nb[2]};
        sc_tensor *slot = sc_view(e->ctx, y, 2, ne, nb, (size_t)i * y->nb[1]);
        out = out ? sc_add(e->ctx, out, slot) : slot;
    }
    return out;
}

static sc_tensor *moe_down_chain(bo_env *e, const bo_case *c, bool residual) {
    const bo_p_mmid *p = &c->p.mmid;
    sc_tensor *down = bo_leaf_weight(e, &p->w, p->K, p->N, p->E, 1, BO_CONTIG);
    const int64_t ane[3] = {p->K, p->n_used, p->T}, wne[3] = {1, p->n_used, p->T}, xne[2] = {p->N, p->T};
    sc_tensor *a = bo_leaf_uniform(e, SC_TYPE_F32, 3, ane, -1.0f, 1.0f);
    sc_tensor *ids = leaf_ids(e, p->E, p->n_used, p->T);
    sc_tensor *rw = bo_leaf_uniform(e, SC_TYPE_F32, 3, wne, 0.0f, 1.0f);
    sc_tensor *out = moe_sum(e, sc_mul_mat_id(e->ctx, down, a, ids), rw, p->N, p->n_used, p->T);
    if (!residual) return out;
    sc_tensor *x = bo_leaf_uniform(e, SC_TYPE_F32, 2, xne, -2.0f, 2.0f);
    return sc_add(e->ctx, x, out);
}
static sc_tensor *build_moe_down(bo_env *e, const bo_case *c) { return moe_down_chain(e, c, true); }
static sc_tensor *build_moe_down_nores(bo_env *e, const bo_case *c) { return moe_down_chain(e, c, false); }

/* The whole expert block of a layer: h [D, T] -> gate/up (moe_gate_up) ->
 * down, weights, slot sum, residual (moe_down). p.mmid: K = D, N = I. */
static sc_tensor *build_moe_ffn(bo_env *e, const bo_case *c) {
    const bo_p_mmid *p = &c->p.mmid;
    const int64_t D = p->K, I = p->N, k = p->n_used, T = p->T;
    sc_tensor *gate = bo_leaf_weight(e, &p->w, D, I, p->E, 1, BO_CONTIG);
    sc_tensor *up = bo_leaf_weight(e, &p->w, D, I, p->E, 1, BO_CONTIG);
    sc_tensor *down = bo_leaf_weight(e, &p->w, I, D, p->E, 1, BO_CONTIG);
    const int64_t hne[2] = {D, T}, x3[3] = {D, 1, T}, wne[3] = {1, k, T};
    sc_tensor *h = bo_leaf_uniform(e, SC_TYPE_F32, 2, hne, -1.0f, 1.0f);
    sc_tensor *x = bo_leaf_uniform(e, SC_TYPE_F32, 2, hne, -2.0f, 2.0f);
    sc_tensor *ids = leaf_ids(e, p->E, k, T);
    sc_tensor *rw = bo_leaf_uniform(e, SC_TYPE_F32, 3, wne, 0.0f, 1.0f);
    sc_tensor *h3 = sc_reshape(e->ctx, h, 3, x3);
    sc_tensor *g = sc_mul_mat_id(e->ctx, gate, h3, ids);
    sc_tensor *u = sc_mul_mat_id(e->ctx, up, h3, ids);
    sc_tensor *y = sc_mul_mat_id(e->ctx, down, sc_swiglu(e->ctx, g, u), ids);
    return sc_add(e->ctx, x, moe_sum(e, y, rw, D, k, T));
}

static bo_case *add_moe_case(bo_list *l, const char *fuser, const char *variant, bo_build_fn build, bo_wtype w,
                             int64_t K, int64_t N, int64_t E, int64_t n_used, int64_t X, int64_t T) {
    bo_case *c = bo_list_add(l, SC_OP_MUL_MAT_ID, build, bound(&w) * chain_factor(build));
    if (!c) return NULL;
    c->p.mmid = (bo_p_mmid){w, K, N, E, n_used, X, T};
    char wn[32];
    snprintf(c->name, sizeof c->name, "fuse_%s%s(type_w=%s,K=%lld,N=%lld,E=%lld,n_used=%lld,X=%lld,T=%lld)", fuser,
             variant, bo_wtype_name(&w, wn, sizeof wn), (long long)K, (long long)N, (long long)E, (long long)n_used,
             (long long)X, (long long)T);
    return c;
}

void bo_cases_fuse_gemv(bo_list *l) {
    const bo_wtype types[] = {
        bo_dense(SC_TYPE_F32), bo_dense(SC_TYPE_F16), bo_dense(SC_TYPE_BF16),
        bo_qg(4, 128, false, false), bo_qg(4, 32, true, false), bo_qg(8, 64, false, false),
        bo_qg(3, 128, false, false), bo_qg(2, 32, false, false), bo_qg(4, 128, false, true),
    };
    const int n_types = (int)(sizeof types / sizeof types[0]);

    /* mm_add, mm_swiglu: every weight type at a decode shape with a K tail
     * and odd N; then lane-step tails, columns M = 2..4 and a strided a */
    for (int i = 0; i < n_types; i++) {
        add_mm_case(l, "mm_add", "", build_mm_add, types[i], 257, 37, 1, BO_CONTIG);
        add_mm_case(l, "mm_swiglu", "", build_mm_swiglu, types[i], 257, 37, 1, BO_CONTIG);
    }
    add_mm_case(l, "mm_add", "", build_mm_add, bo_qg(4, 128, false, false), 2048, 300, 1, BO_CONTIG);
    add_mm_case(l, "mm_add", "", build_mm_add, bo_qg(4, 128, true, false), 4097, 9, 3, BO_CONTIG);
    add_mm_case(l, "mm_add", "", build_mm_add, bo_dense(SC_TYPE_F16), 33, 5, 4, BO_CONTIG);
    add_mm_case(l, "mm_add", "", build_mm_add, bo_dense(SC_TYPE_BF16), 4097, 3, 2, BO_SLICE);
    add_mm_case(l, "mm_add", "", build_mm_add, bo_qg(8, 128, false, false), 333, 17, 1, BO_SLICE);
    add_mm_case(l, "mm_add", "_swapped", build_mm_add_swapped, bo_qg(4, 32, false, false), 512, 33, 1, BO_CONTIG);
    add_mm_case(l, "mm_add", "_swapped", build_mm_add_swapped, bo_dense(SC_TYPE_F32), 31, 7, 2, BO_CONTIG);
    add_mm_case(l, "mm_add", "_attn", build_mm_add_attn, bo_qg(4, 128, false, false), 512, 64, 1, BO_CONTIG);
    add_mm_case(l, "mm_add", "_attn", build_mm_add_attn, bo_dense(SC_TYPE_BF16), 128, 19, 3, BO_CONTIG);

    add_mm_case(l, "mm_swiglu", "", build_mm_swiglu, bo_qg(4, 128, false, false), 2048, 301, 1, BO_CONTIG);
    add_mm_case(l, "mm_swiglu", "", build_mm_swiglu, bo_qg(4, 128, true, false), 333, 65, 2, BO_CONTIG);
    add_mm_case(l, "mm_swiglu", "", build_mm_swiglu, bo_qg(3, 32, true, false), 4097, 9, 1, BO_CONTIG);
    add_mm_case(l, "mm_swiglu", "", build_mm_swiglu, bo_dense(SC_TYPE_F16), 33, 5, 4, BO_CONTIG);
    add_mm_case(l, "mm_swiglu", "", build_mm_swiglu, bo_dense(SC_TYPE_F32), 64, 3, 3, BO_SLICE);
    add_mm_case(l, "mm_swiglu", "", build_mm_swiglu, bo_qg(8, 32, false, true), 160, 67, 1, BO_SLICE);
    /* the dense MLP: K = D, N = I */
    add_mm_case(l, "mm_add", "_mlp", build_mm_swiglu_mlp, bo_qg(4, 128, false, false), 256, 768, 1, BO_CONTIG);
    add_mm_case(l, "mm_add", "_mlp", build_mm_swiglu_mlp, bo_dense(SC_TYPE_BF16), 96, 257, 2, BO_CONTIG);

    /* shapes the int8-activation GEMV takes (K % 32 == 0, 4/8-bit, M <= 4; on
     * Vulkan with integer dot products): 1 and 2 rows per team, rows past N,
     * bf16 rounding, every column count */
    add_mm_case(l, "mm_swiglu", "", build_mm_swiglu, bo_qg(4, 128, false, false), 512, 300, 1, BO_CONTIG);
    add_mm_case(l, "mm_swiglu", "", build_mm_swiglu, bo_qg(8, 64, false, false), 256, 37, 3, BO_CONTIG);
    add_mm_case(l, "mm_swiglu", "", build_mm_swiglu, bo_qg(4, 32, false, false), 1024, 4100, 2, BO_CONTIG);
    add_mm_case(l, "mm_add", "", build_mm_add, bo_qg(8, 128, false, false), 512, 65, 4, BO_CONTIG);
    add_mm_case(l, "mm_add", "", build_mm_add, bo_qg(4, 128, false, true), 512, 33, 1, BO_CONTIG);
    add_mm_case(l, "mm_add", "", build_mm_add, bo_qg(4, 64, false, false), 256, 4099, 1, BO_SLICE);
    add_mm_case(l, NULL, "dp4_shared_x", build_dp4_shared_x, bo_qg(4, 128, false, false), 512, 96, 1, BO_CONTIG);
    add_mm_case(l, NULL, "dp4_shared_x", build_dp4_shared_x, bo_qg(8, 32, false, false), 256, 33, 2, BO_CONTIG);
    add_mm_case(l, NULL, "dp4_norm_qkv", build_dp4_norm_qkv, bo_qg(4, 128, false, false), 1024, 80, 1, BO_CONTIG);
    add_mm_case(l, NULL, "dp4_norm_qkv", build_dp4_norm_qkv, bo_qg(4, 32, false, false), 256, 40, 3, BO_CONTIG);

    /* moe_gate_up, moe_down: every weight type with Qwen3-MoE's k = 8 of 16
     * experts, one token; then tokens, slots, x per slot */
    for (int i = 0; i < n_types; i++) {
        add_moe_case(l, "moe_gate_up", "", build_moe_gate_up, types[i], 257, 37, 16, 8, 1, 1);
        add_moe_case(l, "moe_down", "", build_moe_down, types[i], 257, 37, 16, 8, 8, 1);
    }
    add_moe_case(l, "moe_gate_up", "", build_moe_gate_up, bo_qg(4, 128, false, false), 2048, 96, 32, 8, 1, 3);
    add_moe_case(l, "moe_gate_up", "", build_moe_gate_up, bo_qg(4, 128, true, false), 512, 33, 8, 2, 2, 2);
    add_moe_case(l, "moe_gate_up", "", build_moe_gate_up, bo_dense(SC_TYPE_F16), 33, 5, 4, 4, 4, 2);
    add_moe_case(l, "moe_down", "", build_moe_down, bo_qg(4, 128, false, false), 768, 2048, 16, 8, 8, 1);
    add_moe_case(l, "moe_down", "", build_moe_down, bo_qg(4, 32, true, false), 4097, 9, 8, 2, 2, 3);
    add_moe_case(l, "moe_down", "", build_moe_down, bo_dense(SC_TYPE_BF16), 96, 65, 6, 3, 3, 2);
    add_moe_case(l, "moe_down", "_nores", build_moe_down_nores, bo_qg(4, 128, false, false), 256, 33, 16, 8, 8, 1);
    add_moe_case(l, "moe_down", "_nores", build_moe_down_nores, bo_dense(SC_TYPE_F32), 33, 7, 4, 2, 2, 2);
    /* shapes the int8-activation GEMV takes (Vulkan with integer dot products) */
    add_moe_case(l, "moe_gate_up", "", build_moe_gate_up, bo_qg(4, 128, false, false), 512, 64, 16, 8, 1, 2);
    add_moe_case(l, "moe_gate_up", "", build_moe_gate_up, bo_qg(8, 32, false, false), 256, 40, 8, 4, 1, 3);
    add_moe_case(l, "moe_gate_up", "", build_moe_gate_up, bo_qg(4, 32, false, true), 256, 33, 8, 2, 2, 2);
    add_moe_case(l, "moe_down", "", build_moe_down, bo_qg(8, 64, false, false), 256, 48, 8, 4, 4, 2);
    add_moe_case(l, "moe_down", "", build_moe_down, bo_qg(4, 32, false, true), 512, 65, 16, 8, 8, 3);
    /* moe_sum: the combine alone, after experts run as a GEMM (prefill sizes) */
    add_moe_case(l, "moe_sum", "", build_moe_down, bo_qg(4, 128, false, false), 256, 96, 16, 8, 8, 64);
    add_moe_case(l, "moe_sum", "_nores", build_moe_down_nores, bo_dense(SC_TYPE_F16), 64, 33, 8, 4, 4, 80);
    add_moe_case(l, "moe_sum", "", build_moe_down, bo_dense(SC_TYPE_F32), 33, 7, 4, 2, 2, 100);
    /* a whole expert block at a prefill size: gate, up and down as GEMMs over
     * the pairs sorted once (Vulkan: vk_mm_id_lists), then the combine */
    add_moe_case(l, "moe_sum", "_ffn", build_moe_ffn, bo_qg(4, 128, false, false), 256, 64, 16, 8, 1, 64);
    /* the whole expert block (moe_gate_up + moe_down): K = D, N = I */
    add_moe_case(l, "moe_down", "_ffn", build_moe_ffn, bo_qg(4, 128, false, false), 256, 128, 16, 8, 1, 1);
    add_moe_case(l, "moe_down", "_ffn", build_moe_ffn, bo_dense(SC_TYPE_BF16), 64, 33, 8, 4, 1, 2);
}

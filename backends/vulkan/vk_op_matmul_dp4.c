/*
 * backends/vulkan/vk_op_matmul_dp4.c - decode GEMV for QG weights on int8
 * activations and packed 4x8-bit integer dot products
 * (VK_KHR_shader_integer_dot_product):
 *
 *   w QG [K, N] (4 or 8 bits, no g_idx, f16 or bf16 rounding, group_size % 32 == 0),
 *   x f32 [K, M] (M <= 4) -> y f32 [N, M]
 *
 * The f32 GEMV (mul_mat_vec.comp) dequantises every weight and does one FMA
 * per weight: about 4.5 instructions per 4-bit weight, which on a GPU with
 * fast memory makes a decode GEMV ALU-bound (an H200 moves 8 G 4-bit weights
 * per microsecond from memory but issues ~33 G f32 instructions). Here:
 *  1. shaders/quantize_q8.comp turns x into int8 blocks of 32 with one f32
 *     scale d = max|x|/127 and the int8 sum per block, in scratch memory:
 *       qs int8 [M, K/32, 32] | ds vec2 [M, K/32] (d, sum)
 *     (for 4-bit weights the bytes are nibble-interleaved to match the codes,
 *     see the shader). Several GEMVs of one activation (a layer's Q, K and V
 *     projections) share one quantized copy (vk_rec_memo_*).
 *  2. shaders/mul_mat_vec_dp4.comp multiplies the codes (0..15, or 0..255 as
 *     code - 128) by xq 4 pairs per OpSDot and applies scale, zero and d once
 *     per 32-weight block:
 *       sum_k W[k] x[k] ~= scale_g * d_b * (sum_k code_k xq_k - zero_g sum_k xq_k)
 *     about 0.8 instructions per 4-bit weight.
 *
 * Numerics: x is rounded to 8 bits per block (|error| <= d/2, a relative
 * variance of about 1.5e-5 for uniform data, 3e-5 for Gaussian), W is
 * scale*(code - zero) before the reference's f16 rounding (relative 2^-12;
 * bf16 rounding: 2^-9).
 * Measured nmse against a double-precision reference (tests/vulkan/test_dp4.c,
 * lavapipe): 5e-6 to 4e-5 for uniform and Gaussian x, 1.5e-4 to 2.6e-4 with
 * outlier channels (every 64th 30x larger), where the f32 paths give ~1e-14.
 * This is what the CPU backend's default QG path does too (int8 blocks of 32,
 * as llama.cpp's q8 activations); backend-ops' QG bound (5e-5) allows it.
 *
 * The default for decode (M <= 4) on devices with integer dot products;
 * STRIXCORE_VK_MATMUL=exact (or "nodp4") keeps every GEMV on the f32 path,
 * which matches the reference up to summation order (the end-to-end tests
 * against transformers use it; see tests/fixtures/CMakeLists.txt). Besides
 * plain MUL_MAT nodes (record_mul_mat, vk_op_matmul.c) the fusers mm_swiglu
 * and mm_add (vk_fuse_gemv.c) take it through vk_mm_dp4_gemv.
 *
 * STRIXCORE_VK_MATMUL (comma-separated; shared with vk_op_matmul.c):
 *   "exact", "nodp4"  the f32 GEMV everywhere;
 *   "noswq8"          the gate/up GEMV writes no int8 copy of its output (A/B);
 *   "dp4rows=N"       rows per team (1..8; default 1);
 *   "dp4lanes=N"      lanes per workgroup (a power of two, a multiple of the
 *                     team of 32; default 128: 4 teams).
 * (Names chosen so that vk_op_matmul.c's "nr=", "bs=" do not match them.)
 * Tuning (vk_tune.c): the MUL_MAT variants "dp4.r<N>" / "dp4.l<N>" set the
 * same two through vk_mm_dp4_gemv's selection; the MoE variants keep the
 * defaults.
 * Each recorded GEMV logs one debug line "dp4: mul_mat_vec_dp4... " (tests
 * count them), with "shared x" where it reused an earlier node's int8 copy.
 */
#include "vk_op_matmul_dp4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_op_matmul.h"

/* ---- push constants: mirror quantize_q8.comp / mul_mat_vec_dp4.comp ------------ */
typedef struct q8_push {
    uint64_t x, qs, ds;
    uint32_t x_nb1, nblk, M, pad_;
} q8_push;

typedef struct dp4_push {
    uint64_t w, qs, ds, y;
    uint64_t aux;
    uint32_t w_nb1, N, M, nblk;
    uint32_t y_nb1, r_nb1, q_scales, q_zeros;
    uint32_t G, gblk, base_x, pad_;
} dp4_push;

typedef struct dp4id_push { /* MUL_MAT_ID variants */
    uint64_t w, qs, ds, y;
    uint64_t aux, ids, rw, err;
    uint32_t w_nb1, w_nb2, N, nblk;
    uint32_t q_scales, q_zeros, G, gblk;
    uint32_t E, n_used, ids_nb1, ci;
    uint32_t ct, y_nb1, y_nb2, base_x;
} dp4id_push;

_Static_assert(sizeof(q8_push) == 40, "q8_push layout");
_Static_assert(sizeof(dp4_push) == 88, "dp4_push layout");

typedef struct dp4q_push { /* mul_mat_vec_dp4_swiglu_q8: dp4_push, then y's int8 copy */
    dp4_push base;
    uint64_t yq;
} dp4q_push;
_Static_assert(sizeof(dp4q_push) == 96, "dp4q_push layout");
_Static_assert(sizeof(dp4id_push) == 128, "dp4id_push layout");

/* specialization constants */
enum { Q8_SPEC_LX, Q8_SPEC_LY, Q8_SPEC_LZ, Q8_SPEC_PERM, Q8_SPEC_COUNT };
enum { DP4_SPEC_LX, DP4_SPEC_LY, DP4_SPEC_LZ, DP4_SPEC_QBITS, DP4_SPEC_NR, DP4_SPEC_NC, DP4_SPEC_TL, DP4_SPEC_COUNT };

#define DP4_BLOCK   32u  /* activations per int8 block */
#define DP4_MAX_M   4    /* columns: all of them in one workgroup */
#define DP4_TEAM    32u  /* lanes per team (at least the subgroup size) */
#define DP4_LANES   128u /* lanes per workgroup: 4 teams */
#define Q8_THREADS  64u  /* quantize: one block per lane */
#define MAX_GRID    VK_MM_MAX_GRID

/* ---- STRIXCORE_VK_MATMUL ------------------------------------------------------------ */
typedef struct dp4_env {
    bool off, no_swiglu_q8;
    uint32_t rows, lanes; /* 0: default */
} dp4_env;

static const dp4_env *env(void) {
    static dp4_env cached;
    static int done; /* a benign race: every thread computes the same values */
    if (!done) {
        dp4_env e = {0};
        const char *s = getenv("STRIXCORE_VK_MATMUL"), *v;
        if (s) {
            e.off = strstr(s, "exact") || strstr(s, "nodp4");
            e.no_swiglu_q8 = strstr(s, "noswq8") != NULL;
            if ((v = strstr(s, "dp4rows="))) e.rows = (uint32_t)strtoul(v + 8, NULL, 10);
            if ((v = strstr(s, "dp4lanes="))) e.lanes = (uint32_t)strtoul(v + 9, NULL, 10);
        }
        cached = e;
        done = 1;
    }
    return &cached;
}

/* ---- checks --------------------------------------------------------------------------- */
static bool aligned(uint64_t v, uint64_t a) { return v % a == 0; }

static bool weight_ok(const sc_tensor *w) {
    if (!vk_mm_weight_ok(w) || w->type != SC_TYPE_QG) return false;
    const sc_quant_info *q = &w->quant;
    if (q->bits != 4 && q->bits != 8) return false;
    /* g_idx: the f32 GEMV. bf16 rounding (compressed-tensors) is left out as
     * f16 rounding is: W = scale*(code - zero) unrounded errs by 2^-9
     * relative at most, far under the int8 activations' error. */
    if (q->flags & ~(uint32_t)SC_QUANT_BF16_ROUND) return false;
    if (q->group_size % DP4_BLOCK != 0 || w->ne[0] % DP4_BLOCK != 0) return false;
    if (w->ne[2] != 1 || w->ne[3] != 1) return false;
    /* codes read as uvec4: 16-byte rows (K % 32 == 0 gives it) and base */
    return aligned(q->row_bytes, 16) && aligned(vk_addr(w), 16);
}

/* A stack of E such matrices [K, N, E] (MUL_MAT_ID), slabs 16-byte aligned. */
static bool stack_ok(const sc_tensor *w) {
    if (w->ne[3] != 1 || w->ne[2] < 1 || w->nb[2] > UINT32_MAX || w->nb[2] % 16 != 0) return false;
    sc_tensor one = *w;
    one.ne[2] = 1;
    return weight_ok(&one);
}

/* Columns of x [K, X, T] (X == 1: one per token, else one per slot and token,
 * stored contiguously) as the GEMV reads them: count, stride in floats, and
 * the column of pair (i, t) as i * ci + t * ct. */
static bool id_columns(const sc_tensor *x, int64_t n_used, uint32_t *M, uint32_t *x_nb1, uint32_t *ci, uint32_t *ct) {
    const int64_t K = x->ne[0], X = x->ne[1], T = x->ne[2];
    if (x->type != SC_TYPE_F32 || x->nb[0] != 4 || x->ne[3] != 1 || (X != 1 && X != n_used)) return false;
    if (X == 1) {
        if (x->nb[2] % 4 != 0 || (uint64_t)x->nb[2] / 4 < (uint64_t)K || x->nb[2] / 4 > UINT32_MAX) return false;
        *x_nb1 = (uint32_t)(x->nb[2] / 4), *ci = 0, *ct = 1;
    } else {
        if (x->nb[1] != (size_t)K * 4 || x->nb[2] != (size_t)(X * K * 4)) return false;
        *x_nb1 = (uint32_t)K, *ci = 1, *ct = (uint32_t)X;
    }
    if ((uint64_t)X * (uint64_t)T > UINT32_MAX) return false;
    *M = (uint32_t)(X * T);
    return true;
}

bool vk_mm_dp4_takes_id(vk_dev *d, const sc_tensor *w, const sc_tensor *x, const sc_tensor *ids) {
    if (env()->off) return false;
    const vk_caps *c = vk_dev_caps(d);
    if (!c->int_dot || !c->subgroup_arithmetic || !stack_ok(w)) return false;
    if (!ids || ids->type != SC_TYPE_I32 || ids->nb[0] != 4 || ids->ne[2] != 1 || ids->ne[3] != 1) return false;
    const int64_t n_used = ids->ne[0], T = ids->ne[1];
    uint32_t M, x_nb1, ci, ct;
    if (x->ne[0] != w->ne[0] || x->ne[2] != T || !id_columns(x, n_used, &M, &x_nb1, &ci, &ct)) return false;
    if ((uint64_t)n_used * (uint64_t)T > MAX_GRID || ids->nb[1] % 4 != 0) return false;
    if ((uint64_t)M * (uint64_t)(w->ne[0] / DP4_BLOCK) > (uint64_t)MAX_GRID * Q8_THREADS) return false;
    return vk_spirv_find("quantize_q8") && vk_spirv_find("mul_mat_vec_dp4_id_swiglu") &&
           vk_spirv_find("mul_mat_vec_dp4_id_moe");
}

bool vk_mm_dp4_takes(vk_dev *d, const sc_tensor *w, const sc_tensor *x, const sc_tensor *y) {
    if (env()->off) return false;
    const vk_caps *c = vk_dev_caps(d);
    if (!c->int_dot || !c->subgroup_arithmetic) return false;
    if (!weight_ok(w) || !vk_mm_rows_ok(x, SC_TYPE_F32) || !vk_mm_rows_ok(y, SC_TYPE_F32)) return false;
    const int64_t K = w->ne[0], N = w->ne[1], M = x->ne[1];
    if (x->ne[0] != K || M < 1 || M > DP4_MAX_M || x->ne[2] != 1 || x->ne[3] != 1) return false;
    if (y->ne[0] != N || y->ne[1] != M || y->ne[2] != 1 || y->ne[3] != 1) return false;
    /* the quantize grid, one lane per block */
    if ((uint64_t)M * (uint64_t)(K / DP4_BLOCK) > (uint64_t)MAX_GRID * Q8_THREADS) return false;
    return vk_spirv_find("quantize_q8") && vk_spirv_find("mul_mat_vec_dp4");
}

bool vk_mm_dp4_supports(vk_dev *d, const sc_tensor *node) {
    return node && node->op == SC_OP_MUL_MAT && vk_mm_dp4_takes(d, node->src[0], node->src[1], node);
}

/* ---- recording ------------------------------------------------------------------------ */
static uint32_t pow2_floor(uint32_t v) {
    uint32_t p = 1;
    while (p * 2 <= v && p < (1u << 30)) p *= 2;
    return p;
}

/* vk_rec_memo keys of an int8 copy: what was computed (K, M, the column
 * stride in floats, the byte order) and the bytes of x it was computed from. */
static uint64_t q8_tag(uint32_t K, uint32_t x_nb1, uint32_t M, uint32_t perm) {
    return ((uint64_t)K << 32) ^ ((uint64_t)x_nb1 << 8) ^ ((uint64_t)M << 1) ^ perm ^ (0xd94ull << 52);
}
static uint64_t q8_bytes(uint32_t K, uint32_t x_nb1, uint32_t M) { return ((uint64_t)(M - 1) * x_nb1 + K) * 4u; }

/* The int8 copy of the M columns of K floats at xaddr, x_nb1 floats apart
 * (qs, then ds) for `bits`-bit codes: an earlier node's when it quantized the
 * same bytes the same way, else quantize_q8 now. */
static int quantize_x(vk_rec *r, uint64_t xaddr, uint32_t K, uint32_t M, uint32_t x_nb1, uint32_t bits, uint64_t *qs,
                      bool *shared) {
    vk_dev *d = vk_rec_dev(r);
    const vk_caps *caps = vk_dev_caps(d);
    const uint32_t nblk = K / DP4_BLOCK, perm = bits == 4 ? 1u : 0u;
    const uint64_t tag = q8_tag(K, x_nb1, M, perm), xbytes = q8_bytes(K, x_nb1, M);
    *shared = vk_rec_memo_get(r, tag, xaddr, xbytes, qs);
    if (*shared) return SC_OK;

    /* scratch: qs int8 [M, nblk, 32], then ds vec2 [M, nblk] */
    const uint64_t qs_bytes = (uint64_t)M * nblk * DP4_BLOCK;
    int rc = vk_rec_scratch(r, (size_t)(qs_bytes + (uint64_t)M * nblk * 8u), qs);
    if (rc != SC_OK) return rc;
    q8_push qp = {.x = xaddr, .qs = *qs, .ds = *qs + qs_bytes, .x_nb1 = x_nb1, .nblk = nblk, .M = M};
    uint32_t qspec[Q8_SPEC_COUNT] = {Q8_THREADS, 1, 1, perm};
    if (caps->max_workgroup_size < Q8_THREADS) qspec[Q8_SPEC_LX] = pow2_floor(caps->max_workgroup_size);
    vk_pipeline *qpipe = vk_pipeline_get(d, "quantize_q8", sizeof qp, qspec, Q8_SPEC_COUNT, 0);
    if (!qpipe) return SC_EBACKEND;
    const uint64_t nq = (uint64_t)M * nblk;
    const uint64_t qgroups = (nq + qspec[Q8_SPEC_LX] - 1) / qspec[Q8_SPEC_LX];
    if (qgroups > MAX_GRID) return SC_ENOTSUP; /* the takes checks made it fit for 64 lanes */
    rc = vk_dispatch(r, qpipe, &qp, sizeof qp, (uint32_t)qgroups, 1, 1);
    if (rc != SC_OK) return rc;
    /* the GEMV that follows in this node gets the barrier later nodes rely on */
    vk_rec_memo_put(r, tag, xaddr, xbytes, *qs);
    return SC_OK;
}

/* The GEMV pipeline's lanes, team size and the subgroup size it must run
 * with (0: any) for `bits`-bit codes, NR rows per team, nc columns. Teams of
 * TL lanes, each one subgroup where the device lets us ask for subgroups of
 * 32 (else TL = 32 split into smaller subgroups, or the subgroup size when
 * that is larger); DP4_LANES lanes per workgroup. */
static void gemv_spec(const vk_caps *caps, uint32_t bits, uint32_t nc, const vk_tune_sel *sel, uint32_t *spec,
                      uint32_t *req) {
    const dp4_env *e = env();
    /* a tuned selection (vk_tune.c) in place of "dp4rows=" / "dp4lanes=" */
    const uint32_t o_lanes = sel && sel->dp4lanes ? sel->dp4lanes : e->lanes;
    const uint32_t o_rows = sel && sel->dp4rows ? sel->dp4rows : e->rows;
    uint32_t sg = caps->subgroup_size;
    if (sg < 1 || sg > 128 || (sg & (sg - 1))) sg = 32;
    uint32_t tl = DP4_TEAM;
    *req = 0;
    if (caps->subgroup_size_control && caps->min_subgroup_size <= DP4_TEAM && caps->max_subgroup_size >= DP4_TEAM)
        *req = DP4_TEAM;
    else if (sg > DP4_TEAM)
        tl = sg;
    uint32_t bs = DP4_LANES > tl ? DP4_LANES : tl;
    if (o_lanes >= tl && o_lanes <= 1024 && !(o_lanes & (o_lanes - 1))) bs = o_lanes;
    while (bs > tl && bs > caps->max_workgroup_size) bs /= 2;
    /* one row per team: whole Qwen3-14B decodes on an H200 ran 178.6 tok/s
     * against 164-166 with 2 rows (and 158 with 8 teams of 2) */
    uint32_t nr = 1;
    if (o_rows >= 1 && o_rows <= 8) nr = o_rows;
    spec[DP4_SPEC_LX] = bs;
    spec[DP4_SPEC_LY] = 1;
    spec[DP4_SPEC_LZ] = 1;
    spec[DP4_SPEC_QBITS] = bits;
    spec[DP4_SPEC_NR] = nr;
    spec[DP4_SPEC_NC] = nc;
    spec[DP4_SPEC_TL] = tl;
}

/* Workgroups along x for N rows. */
static uint64_t row_groups(const uint32_t *spec, uint32_t N) {
    const uint64_t rows_wg = (uint64_t)(spec[DP4_SPEC_LX] / spec[DP4_SPEC_TL]) * spec[DP4_SPEC_NR];
    return ((uint64_t)N + rows_wg - 1) / rows_wg;
}

int vk_mm_dp4_q8_target_at(vk_rec *r, uint64_t addr, uint64_t K, uint64_t M, uint64_t x_nb1, uint64_t *qs, uint64_t *ds,
                            uint32_t *perm) {
    vk_dev *d = vk_rec_dev(r);
    const vk_caps *c = vk_dev_caps(d);
    if (env()->off || !c->int_dot || !c->subgroup_arithmetic || !vk_spirv_find("mul_mat_vec_dp4")) return SC_ENOTSUP;
    if (K % DP4_BLOCK != 0 || K > UINT32_MAX || M < 1 || M > DP4_MAX_M || x_nb1 < K || x_nb1 > UINT32_MAX)
        return SC_ENOTSUP;
    const uint32_t nblk = (uint32_t)(K / DP4_BLOCK);
    const uint64_t qs_bytes = M * nblk * DP4_BLOCK;
    int rc = vk_rec_scratch(r, (size_t)(qs_bytes + M * nblk * 8u), qs);
    if (rc != SC_OK) return rc;
    *ds = *qs + qs_bytes;
    *perm = 1; /* 4-bit codes' byte order: the common case; 8-bit GEMVs quantize for themselves */
    vk_rec_memo_put(r, q8_tag((uint32_t)K, (uint32_t)x_nb1, (uint32_t)M, *perm), addr,
                    q8_bytes((uint32_t)K, (uint32_t)x_nb1, (uint32_t)M), *qs);
    return SC_OK;
}

int vk_mm_dp4_q8_target(vk_rec *r, const sc_tensor *y, uint64_t *qs, uint64_t *ds, uint32_t *perm) {
    if (!vk_mm_rows_ok(y, SC_TYPE_F32) || y->ne[2] != 1 || y->ne[3] != 1 || y->nb[1] % 4 != 0) return SC_ENOTSUP;
    return vk_mm_dp4_q8_target_at(r, vk_addr(y), (uint64_t)y->ne[0], (uint64_t)y->ne[1], y->nb[1] / 4, qs, ds, perm);
}

int vk_mm_dp4_gemv(vk_rec *r, const sc_tensor *w, const sc_tensor *w2, const sc_tensor *x, const sc_tensor *y,
                   const sc_tensor *res, const vk_tune_sel *sel) {
    vk_dev *d = vk_rec_dev(r);
    const vk_caps *caps = vk_dev_caps(d);
    const uint32_t K = (uint32_t)w->ne[0], N = (uint32_t)w->ne[1], M = (uint32_t)x->ne[1];
    const uint32_t nblk = K / DP4_BLOCK, bits = w->quant.bits;

    uint64_t qs = 0;
    bool shared = false;
    int rc = quantize_x(r, vk_addr(x), K, M, (uint32_t)(x->nb[1] / 4), bits, &qs, &shared);
    if (rc != SC_OK) return rc;
    uint32_t spec[DP4_SPEC_COUNT], req;
    gemv_spec(caps, bits, M, sel, spec, &req);

    /* gate/up at one token: 32 teams of one row, so a workgroup's 32 outputs
     * are one int8 block of y, which it writes for the down projection too
     * (mul_mat_vec_dp4_swiglu_q8; "noswq8" in STRIXCORE_VK_MATMUL: A/B). H200
     * Qwen3-14B tg128, alternated: 188.5 / 191.0 -> 195.9 / 198.1 tok/s. */
    dp4q_push qp;
    memset(&qp, 0, sizeof qp);
    uint64_t yds = 0;
    uint32_t yperm = 0;
    const bool q8out = w2 && M == 1 && N % DP4_BLOCK == 0 && spec[DP4_SPEC_TL] == DP4_TEAM && !env()->lanes &&
                       !env()->rows && !vk_tune_dp4_custom(sel) && 32u * DP4_TEAM <= caps->max_workgroup_size &&
                       vk_spirv_find("mul_mat_vec_dp4_swiglu_q8") && !env()->no_swiglu_q8 &&
                       vk_mm_dp4_q8_target(r, y, &qp.yq, &yds, &yperm) == SC_OK;
    if (q8out) {
        spec[DP4_SPEC_LX] = 32u * DP4_TEAM;
        spec[DP4_SPEC_NR] = 1;
    }
    const char *module = q8out ? "mul_mat_vec_dp4_swiglu_q8"
                         : w2  ? "mul_mat_vec_dp4_swiglu"
                         : res ? "mul_mat_vec_dp4_add"
                               : "mul_mat_vec_dp4";
    dp4_push *const pc = &qp.base;
    pc->w = vk_addr(w);
    pc->qs = qs;
    pc->ds = qs + (uint64_t)M * nblk * DP4_BLOCK;
    pc->y = vk_addr(y);
    pc->aux = w2 ? vk_addr(w2) : res ? vk_addr(res) : 0;
    pc->w_nb1 = (uint32_t)w->nb[1];
    pc->N = N;
    pc->M = M;
    pc->nblk = nblk;
    pc->y_nb1 = (uint32_t)(y->nb[1] / 4);
    pc->r_nb1 = res ? (uint32_t)(res->nb[1] / 4) : 0;
    pc->q_scales = (uint32_t)w->quant.scales_offset;
    pc->q_zeros = (uint32_t)w->quant.zeros_offset;
    pc->G = w->quant.n_groups;
    pc->gblk = w->quant.group_size / DP4_BLOCK;
    const uint32_t push_size = q8out ? (uint32_t)sizeof qp : (uint32_t)sizeof qp.base;
    vk_pipeline *p = vk_pipeline_get(d, module, push_size, spec, DP4_SPEC_COUNT, req);
    if (!p) return SC_EBACKEND;
    VK_LOG(SC_LOG_DEBUG, "dp4: %s %s: K %u N %u M %u, %u-bit, group %u, %u lanes, teams of %u x %u rows%s", module,
           y->name, K, N, M, bits, w->quant.group_size, spec[DP4_SPEC_LX], spec[DP4_SPEC_TL], spec[DP4_SPEC_NR],
           shared ? ", shared x" : "");
    const uint64_t gx = row_groups(spec, N);
    for (uint64_t x0 = 0; x0 < gx; x0 += MAX_GRID) { /* pieces write disjoint rows */
        pc->base_x = (uint32_t)x0;
        if (x0 > 0) vk_rec_independent(r);
        rc = vk_dispatch(r, p, &qp, push_size, (uint32_t)(gx - x0 < MAX_GRID ? gx - x0 : MAX_GRID), 1, 1);
        if (rc != SC_OK) return rc;
    }
    return SC_OK;
}

/* The push block (output y, aux) and pipeline of a MUL_MAT_ID variant;
 * quantizes x. */
static int id_setup(vk_rec *r, const char *module, const sc_tensor *w, const sc_tensor *x, const sc_tensor *ids,
                    const sc_tensor *y, uint64_t aux, bool q8out, dp4id_push *pc, vk_pipeline **p, uint64_t *gx) {
    vk_dev *d = vk_rec_dev(r);
    const uint32_t K = (uint32_t)w->ne[0], N = (uint32_t)w->ne[1], bits = w->quant.bits, nblk = K / DP4_BLOCK;
    uint32_t M, x_nb1, ci, ct;
    if (!id_columns(x, ids->ne[0], &M, &x_nb1, &ci, &ct)) return SC_ENOTSUP;
    uint64_t qs = 0;
    bool shared = false;
    int rc = quantize_x(r, vk_addr(x), K, M, x_nb1, bits, &qs, &shared);
    if (rc != SC_OK) return rc;
    uint32_t spec[DP4_SPEC_COUNT], req;
    gemv_spec(vk_dev_caps(d), bits, 1, NULL, spec, &req);
    if (q8out) { /* 32 one-row teams: a workgroup's outputs are one int8 block */
        spec[DP4_SPEC_LX] = 32u * DP4_TEAM;
        spec[DP4_SPEC_NR] = 1;
    }
    memset(pc, 0, sizeof *pc);
    pc->w = vk_addr(w);
    pc->qs = qs;
    pc->ds = qs + (uint64_t)M * nblk * DP4_BLOCK;
    pc->ids = vk_addr(ids);
    pc->err = vk_rec_error_addr(r);
    pc->w_nb1 = (uint32_t)w->nb[1];
    pc->w_nb2 = (uint32_t)w->nb[2];
    pc->N = N;
    pc->nblk = nblk;
    pc->q_scales = (uint32_t)w->quant.scales_offset;
    pc->q_zeros = (uint32_t)w->quant.zeros_offset;
    pc->G = w->quant.n_groups;
    pc->gblk = w->quant.group_size / DP4_BLOCK;
    pc->E = (uint32_t)w->ne[2];
    pc->n_used = (uint32_t)ids->ne[0];
    pc->ids_nb1 = (uint32_t)(ids->nb[1] / 4);
    pc->ci = ci;
    pc->ct = ct;
    pc->y = vk_addr(y);
    pc->aux = aux;
    *p = vk_pipeline_get(d, module, sizeof *pc, spec, DP4_SPEC_COUNT, req);
    if (!*p) return SC_EBACKEND;
    VK_LOG(SC_LOG_DEBUG, "dp4: %s: K %u N %u, %u experts of %u x %lld tokens, %u-bit, group %u%s", module, K, N,
           (unsigned)ids->ne[0], (unsigned)w->ne[2], (long long)ids->ne[1], bits, w->quant.group_size,
           shared ? ", shared x" : "");
    *gx = row_groups(spec, N);
    return SC_OK;
}

/* Dispatch gx row groups (split at MAX_GRID) by gz. */
static int id_dispatch(vk_rec *r, vk_pipeline *p, dp4id_push *pc, uint64_t gx, uint32_t gz) {
    for (uint64_t x0 = 0; x0 < gx; x0 += MAX_GRID) { /* pieces write disjoint rows */
        pc->base_x = (uint32_t)x0;
        if (x0 > 0) vk_rec_independent(r);
        int rc = vk_dispatch(r, p, pc, sizeof *pc, (uint32_t)(gx - x0 < MAX_GRID ? gx - x0 : MAX_GRID), 1, gz);
        if (rc != SC_OK) return rc;
    }
    return SC_OK;
}

int vk_mm_dp4_moe_gate_up(vk_rec *r, const sc_tensor *w, const sc_tensor *w2, const sc_tensor *x, const sc_tensor *ids,
                          const sc_tensor *y) {
    if (y->nb[0] != 4 || y->ne[0] != w->ne[1] || y->ne[1] != ids->ne[0] || y->ne[2] != ids->ne[1] ||
        y->nb[1] % 4 || y->nb[2] % 4 || y->nb[2] / 4 > UINT32_MAX)
        return SC_ENOTSUP;
    dp4id_push pc;
    vk_pipeline *p = NULL;
    uint64_t gx = 0;
    /* With y contiguous and whole int8 blocks per 32 rows, the GEMV also
     * writes y's int8 copy as the experts' down projection reads it (its x
     * columns are the pairs i + n_used * t: id_columns), so that GEMV
     * quantizes nothing (as mul_mat_vec_dp4_swiglu_q8 does for the dense
     * MLP; "noswq8" turns both off). */
    const vk_caps *caps = vk_dev_caps(vk_rec_dev(r));
    const uint32_t N = (uint32_t)w->ne[1], npairs = (uint32_t)(ids->ne[0] * ids->ne[1]);
    uint32_t gspec[DP4_SPEC_COUNT], greq;
    gemv_spec(caps, w->quant.bits, 1, NULL, gspec, &greq);
    const bool q8out = N % DP4_BLOCK == 0 && y->nb[1] == (size_t)N * 4 && y->nb[2] == (size_t)ids->ne[0] * N * 4 &&
                       gspec[DP4_SPEC_TL] == DP4_TEAM && !env()->lanes && !env()->rows && !env()->no_swiglu_q8 &&
                       32u * DP4_TEAM <= caps->max_workgroup_size && vk_spirv_find("mul_mat_vec_dp4_id_swiglu_q8");
    uint64_t yq = 0;
    if (q8out) {
        const uint64_t nq = (uint64_t)npairs * (N / DP4_BLOCK);
        int rc = vk_rec_scratch(r, (size_t)(nq * (DP4_BLOCK + 8u)), &yq);
        if (rc != SC_OK) return rc;
    }
    int rc = id_setup(r, q8out ? "mul_mat_vec_dp4_id_swiglu_q8" : "mul_mat_vec_dp4_id_swiglu", w, x, ids, y,
                      vk_addr(w2), q8out, &pc, &p, &gx);
    if (rc != SC_OK) return rc;
    pc.y_nb1 = (uint32_t)(y->nb[1] / 4);
    pc.y_nb2 = (uint32_t)(y->nb[2] / 4);
    pc.rw = yq; /* the epilogue's unused routing-weight slot carries the copy */
    rc = id_dispatch(r, p, &pc, gx, npairs);
    /* the copy of y's npairs columns of N floats (4-bit order: 4-bit down projections find it) */
    if (rc == SC_OK && q8out)
        vk_rec_memo_put(r, q8_tag(N, N, npairs, 1), vk_addr(y), q8_bytes(N, N, npairs), yq);
    return rc;
}

int vk_mm_dp4_moe_down(vk_rec *r, const sc_tensor *w, const sc_tensor *a, const sc_tensor *ids, const sc_tensor *rw,
                       const sc_tensor *res, const sc_tensor *y) {
    const int64_t k = ids->ne[0], T = ids->ne[1];
    /* rw [1, k, T] and y [N, T] (the residual of y's layout) as the shader indexes them */
    if (rw->nb[1] != 4 || rw->nb[2] != (size_t)k * 4 || y->nb[0] != 4 || y->ne[0] != w->ne[1] || y->ne[1] != T ||
        y->nb[1] % 4 || y->nb[1] / 4 > UINT32_MAX || (res && (res->nb[0] != 4 || res->nb[1] != y->nb[1])))
        return SC_ENOTSUP;
    dp4id_push pc;
    vk_pipeline *p = NULL;
    uint64_t gx = 0;
    int rc = id_setup(r, "mul_mat_vec_dp4_id_moe", w, a, ids, y, res ? vk_addr(res) : 0, false, &pc, &p, &gx);
    if (rc != SC_OK) return rc;
    pc.rw = vk_addr(rw);
    pc.y_nb2 = (uint32_t)(y->nb[1] / 4);
    return id_dispatch(r, p, &pc, gx, (uint32_t)T);
}

int vk_mm_dp4_record(vk_rec *r, const sc_tensor *node) {
    return vk_mm_dp4_gemv(r, node->src[0], NULL, node->src[1], node, NULL, NULL);
}

bool vk_mm_dp4_lanes_ok(vk_dev *d, uint32_t lanes) {
    uint32_t spec[DP4_SPEC_COUNT], req;
    const vk_tune_sel sel = {.dp4lanes = (uint16_t)lanes};
    gemv_spec(vk_dev_caps(d), 4, 1, &sel, spec, &req);
    return spec[DP4_SPEC_LX] == lanes;
}

/*
 * backends/vulkan/vk_op_matmul_coop.c - MUL_MAT on the matrix units
 * (VK_KHR_cooperative_matrix), for prefill:
 *
 *   w [K, N, B2, B3] (f16, bf16, QG), x f32 [K, M, b2, b3] -> y f32 [N, M, b2, b3]
 *
 * shaders/mul_mat_coop.comp: 128 x 64 output tiles (m64; 128 x 128 with
 * STRIXCORE_VK_MATMUL=coopm128), 8 subgroups, BK = 64 steps through f16
 * shared memory (QG dequantised there, x rounded to f16 there), f32
 * accumulators. Numerics: x rounded to nearest-even f16
 * (|relative error| <= 2^-11), weights exact in f16 (f16; QG values, which
 * are f16- or bf16-rounded; bf16 within f16's range), f32 sums: nmse about
 * 1e-7 against the f32 reference, inside backend-ops' f16/bf16/QG bounds
 * (1e-5, 5e-5). f32 weights are not taken (their bound is 1e-7).
 *
 * The shader's subgroup grid assumes exactly 8 subgroups: the pipeline asks for
 * a 32-lane subgroup where the device can (subgroup size control), else runs
 * with the device's fixed size; the shader raises the error flag and writes
 * nothing if the count is not 8.
 *
 * MUL_MAT_ID (vk_mm_coop_id_*), prefill of MoE experts:
 *
 *   w [K, N, E], x f32 [K, X, T] (X == n_used or 1), ids i32 [n_used, T]
 *   -> y f32 [N, n_used, T]
 *
 * mul_mat_id_group.comp sorts the (i, t) pairs by expert into scratch
 * (vk_mm_id_lists, shared with vk_op_matmul.c's grouped GEMM and with the
 * layer's other expert GEMMs), then
 * module mul_mat_coop_id (mul_mat_coop.comp -DMUL_MAT_ID) runs one workgroup
 * per (128 weight rows, expert, zsplit-th of the expert's 64-column tiles),
 * gathering the pairs' x columns and scattering y. Same numerics as above.
 */
#include "vk_op_matmul_coop.h"

#include "vk_op_matmul.h"

#include <stdlib.h>
#include <string.h>

/* ---- push constants: mirror mul_mat_coop.comp ----------------------------------- */
typedef vk_mm_push coop_push; /* mul_mat_coop.comp takes MUL_MAT's push block (vk_op_matmul.h) */
_Static_assert(sizeof(coop_push) == 128, "coop_push layout");

/* mul_mat_coop.comp -DMUL_MAT_ID */
typedef struct coop_id_push {
    uint64_t w, x, y, err;
    uint64_t lists;                          /* the sort pass's off[E + 1], list[npairs] */
    uint64_t w_nb2;                          /* bytes */
    uint32_t w_nb1, K, N, E;                 /* w_nb1: bytes */
    uint32_t x_nb1, x_nb2, y_nb1, y_nb2;     /* floats */
    uint32_t n_used, x_bcast, zsplit, base_x;
    uint32_t q_scales, q_zeros, q_gidx, group_size, G;
    uint32_t pad_;
} coop_id_push;
_Static_assert(sizeof(coop_id_push) == 120, "coop_id_push layout");


enum {
    SPEC_LX, SPEC_LY, SPEC_LZ, SPEC_WTYPE, SPEC_QBITS, SPEC_QFLAGS, SPEC_GMODE, SPEC_CM_M, SPEC_CM_N, SPEC_CM_K,
    SPEC_SGS, SPEC_OPTS, SPEC_SPLITK, SPEC_COUNT
};
#define OPT_WVEC 1u
#define OPT_XVEC 2u
#define OPT_QVEC 4u /* 4-bit codes fetched 32 at a time (mul_mat_coop.comp) */
#define OPT_XF16 8u /* x read as x_to_f16.comp's f16 rows */

typedef struct splitk_push { /* mul_mat_splitk.comp */
    uint64_t part, y;
    uint32_t N, M, S, y_nb1;
    uint32_t gx, pad_;
} splitk_push;
_Static_assert(sizeof(splitk_push) == 40, "splitk_push layout");

typedef struct xh_push { /* x_to_f16.comp */
    uint64_t x, xh;
    uint32_t K, Kp8, M, x_nb1;
} xh_push;
_Static_assert(sizeof(xh_push) == 32, "xh_push layout");

#define COOP_MIN_M  64   /* below this the 128-column tiles are mostly padding */
#define MAX_GRID    65535u
#define COOP_ID_MAX_E  4096u /* mul_mat_id_group.comp's shared counters */

/* The tiles of mul_mat_coop.comp (its "Tiles" comment): one module each. A
 * workgroup of nsg subgroups computes bn weight rows x bm columns, a subgroup
 * tn x tm of it, in bk steps through shared memory. */
typedef struct coop_tile {
    const char *name;
    const char *module;    /* MUL_MAT */
    const char *id_module; /* MUL_MAT_ID, or NULL */
    uint32_t bn, bm, nsg, tn, tm, bk;
} coop_tile;

static const coop_tile TILE_M128 = {"m128", "mul_mat_coop", NULL, 128, 128, 8, 64, 32, 64};
/* the default: 110 registers a lane on an H200 against m128's 166 (two workgroups an SM) */
static const coop_tile TILE_M64 = {"m64", "mul_mat_coop_m64", "mul_mat_coop_id", 128, 64, 8, 32, 32, 64};

/* ---- STRIXCORE_VK_MATMUL: "nocoop", "coopmin=N", "coopidmin=N" ------------------- */
static int env_min_m(void) {
    static int cached = -2; /* -1: off; a benign race, every thread computes the same */
    if (cached == -2) {
        const char *s = getenv("STRIXCORE_VK_MATMUL");
        int v = COOP_MIN_M;
        if (s && strstr(s, "nocoop")) {
            v = -1;
        } else if (s && (s = strstr(s, "coopmin="))) {
            long n = strtol(s + 8, NULL, 10);
            v = n < 1 ? 1 : n > (1L << 30) ? (1 << 30) : (int)n;
        }
        cached = v;
    }
    return cached;
}

/* The lanes per subgroup the pipeline runs with: 32 where the size can be
 * required (RDNA: wave32, where its WMMA runs; NVIDIA: always 32), else the
 * device's fixed size. required: whether to ask for it. */
static uint32_t coop_sgs(const vk_caps *c, bool *required) {
    *required = false;
    if (c->subgroup_size_control && c->min_subgroup_size <= 32 && c->max_subgroup_size >= 32 && c->full_subgroups) {
        *required = true;
        return 32;
    }
    return c->subgroup_size;
}

/* "coopidz=N" (testing): N workgroups per (row tile, expert) along the
 * columns instead of the expert's average tile count (1: each loops over all
 * of its expert's tiles). 0: not set. */
static uint32_t env_id_z;

/* MUL_MAT_ID: -1 off ("nocoop"), 0 where the grouped GEMM would run (the
 * default), N >= 1 from N pairs per expert on average ("coopidmin=N"; 1
 * for tests: every grouped-able node). */
static int env_id_min(void) {
    static int cached = -2; /* a benign race, as above */
    if (cached == -2) {
        const char *s = getenv("STRIXCORE_VK_MATMUL");
        int v = 0;
        const char *z = s ? strstr(s, "coopidz=") : NULL;
        if (z) {
            long n = strtol(z + 8, NULL, 10);
            env_id_z = n < 1 ? 1u : n > 64 ? 64u : (uint32_t)n;
        }
        if (s && strstr(s, "nocoop")) {
            v = -1;
        } else if (s && (s = strstr(s, "coopidmin="))) {
            long n = strtol(s + 10, NULL, 10);
            v = n < 1 ? 1 : n > (1L << 30) ? (1 << 30) : (int)n;
        }
        cached = v;
    }
    return cached;
}

/* Tile t runs on this device with sgs-lane subgroups: the matrix shape tiles
 * a subgroup's tn x tm block and a bk step, every lane fetches whole 8-element
 * chunks of both tiles, and the shared tiles (plus the edge staging, plus the
 * expert tile's column list) fit the device's shared memory. */
static bool tile_ok(const vk_caps *c, const coop_tile *t, uint32_t sgs) {
    const uint32_t m = c->coopmat_m, n = c->coopmat_n, k = c->coopmat_k;
    if (!m || !n || !k || t->tn % m || t->tm % n || k % 8 || t->bk % k) return false;
    if (m * n > 256) return false; /* the edge staging: nsg x m x n floats in shared memory */
    if (sgs < 8 || sgs > 128 || t->nsg * sgs > c->max_workgroup_size) return false;
    const uint32_t nt = t->nsg * sgs;
    if ((t->bn * (t->bk / 8u)) % nt || (t->bm * (t->bk / 8u)) % nt) return false;
    const uint64_t shared = (uint64_t)(t->bn + t->bm) * (t->bk / 8u + 1u) * 16u + (uint64_t)t->nsg * m * n * 4u +
                            t->bm * 4u;
    return !c->max_shared_bytes || shared <= c->max_shared_bytes;
}

/* The tile MUL_MAT (id: MUL_MAT_ID) takes on this device: m64, or m128 where
 * STRIXCORE_VK_MATMUL says "coopm128" (MUL_MAT) or m64 does not run; NULL
 * when none runs. */
static const coop_tile *pick_tile(const vk_caps *c, bool id) {
    const char *s = getenv("STRIXCORE_VK_MATMUL");
    const coop_tile *order[2] = {&TILE_M64, &TILE_M128};
    if (!id && s && strstr(s, "coopm128")) order[0] = &TILE_M128, order[1] = &TILE_M64;
    bool req;
    const uint32_t sgs = coop_sgs(c, &req);
    for (int j = 0; j < 2; j++) {
        const coop_tile *t = order[j];
        const char *mod = id ? t->id_module : t->module;
        if (mod && tile_ok(c, t, sgs) && vk_spirv_find(mod)) return t;
    }
    return NULL;
}

static bool f32_rows(const sc_tensor *t) {
    if (!t || t->type != SC_TYPE_F32 || t->nb[0] != 4 || (uintptr_t)t->data % 4) return false;
    for (int d = 0; d < SC_MAX_DIMS; d++)
        if (t->ne[d] < 1 || t->ne[d] > INT32_MAX) return false;
    for (int d = 1; d < SC_MAX_DIMS; d++)
        if (t->nb[d] % 4 || t->nb[d] / 4 > UINT32_MAX) return false;
    return true;
}

static bool weight_ok(const sc_tensor *w) {
    for (int d = 0; d < SC_MAX_DIMS; d++)
        if (w->ne[d] < 1 || w->ne[d] > INT32_MAX) return false;
    if (w->type == SC_TYPE_F16 || w->type == SC_TYPE_BF16)
        return w->nb[0] == 2 && (uintptr_t)w->data % 2 == 0 && w->nb[1] % 2 == 0 && w->nb[1] <= UINT32_MAX;
    if (w->type != SC_TYPE_QG) return false;
    /* the layout itself was checked by vk_op_matmul.c (qg_ok) before record_mul_mat runs */
    const sc_quant_info *q = &w->quant;
    if (q->bits != 2 && q->bits != 3 && q->bits != 4 && q->bits != 8) return false;
    if ((q->flags & ~(uint32_t)(SC_QUANT_HAS_GIDX | SC_QUANT_BF16_ROUND)) != 0) return false;
    return q->group_size > 0 && w->nb[1] == q->row_bytes && w->nb[1] % 4 == 0 && w->nb[1] <= UINT32_MAX;
}

/* The shape checks of vk_mm_coop_supports with a least column count of min_m. */
static bool coop_takes(vk_dev *d, const sc_tensor *node, int min_m) {
    if (!node || node->op != SC_OP_MUL_MAT) return false;
    if (min_m < 0) return false;
    const vk_caps *c = vk_dev_caps(d);
    if (!c->coop_matrix || !c->fp16_arith) return false;
    const coop_tile *t = pick_tile(c, false);
    if (!t) return false;
    const sc_tensor *w = node->src[0], *x = node->src[1];
    if (!w || !weight_ok(w) || !f32_rows(x) || !f32_rows(node)) return false;
    if (x->ne[1] < min_m || w->ne[0] != x->ne[0] || node->ne[0] != w->ne[1] || node->ne[1] != x->ne[1]) return false;
    if (x->ne[2] % w->ne[2] || x->ne[3] % w->ne[3]) return false;
    if ((uint64_t)x->ne[2] * (uint64_t)x->ne[3] > UINT32_MAX) return false;
    return (uint64_t)x->ne[1] <= (uint64_t)MAX_GRID * t->bm; /* grid y */
}

bool vk_mm_coop_supports(vk_dev *d, const sc_tensor *node) { return coop_takes(d, node, env_min_m()); }

bool vk_mm_coop_can(vk_dev *d, const sc_tensor *node) { return coop_takes(d, node, 1); }

static bool aligned(uint64_t v, uint64_t a) { return v % a == 0; }

static uint32_t div_up(uint64_t a, uint64_t b) { return (uint32_t)((a + b - 1) / b); }

/* Splits along K for a GEMM of `tiles` workgroups over K: 1 unless the device
 * tells its compute units (vk_caps.compute_units) and the grid fills it in
 * fewer than 4 waves of 2 workgroups a unit (m64 runs two an SM on an H200).
 * S in 1..4 minimizes the waves' time, ceil(tiles * S / slots) / S, plus 5%
 * per extra split (the partials' traffic and the summing pass), keeping at
 * least 4 K steps a split. A tuned "coop.sk<N>" (vk_tune.c) or
 * STRIXCORE_VK_MATMUL "splitk=N" (1..8) forces N
 * (tests; an M x N partial must fit 32 bits of elements). */
static uint32_t pick_splitk(const vk_caps *c, uint64_t tiles, uint64_t K, uint32_t bk, uint64_t elems,
                            const vk_tune_sel *sel) {
    if (!vk_spirv_find("mul_mat_splitk") || elems * 8u > UINT32_MAX) return 1;
    if (sel && sel->splitk) return sel->splitk <= 8 ? sel->splitk : 8u; /* tuned (vk_mm_coop_splitk_ok) */
    const char *s = getenv("STRIXCORE_VK_MATMUL");
    const char *e = s ? strstr(s, "splitk=") : NULL;
    if (e) {
        long n = strtol(e + 7, NULL, 10);
        return n < 1 ? 1u : n > 8 ? 8u : (uint32_t)n;
    }
    if (!c->compute_units) return 1;
    const uint64_t slots = 2ull * c->compute_units;
    if (tiles >= 4 * slots) return 1;
    uint32_t best = 1;
    double best_cost = (double)div_up(tiles, slots);
    for (uint32_t S = 2; S <= 4 && K / S >= 4u * bk; S++) {
        const double cost = (double)div_up(tiles * S, slots) / S * (1.0 + 0.05 * (S - 1));
        if (cost < best_cost) best = S, best_cost = cost;
    }
    return best;
}

/* Specialization constants of mul_mat_coop.comp for weight w and activations
 * x (both paths); returns the subgroup size, *req whether it must be required. */
/* STRIXCORE_VK_MATMUL containing "noqvec" / "noxf16": the per-chunk weight
 * fetch / the in-kernel f32 activations (A/B runs) */
static bool env_dbg_noqvec(void) {
    const char *s = getenv("STRIXCORE_VK_MATMUL");
    return s && strstr(s, "noqvec");
}
static bool env_dbg_noxf16(void) {
    const char *s = getenv("STRIXCORE_VK_MATMUL");
    return s && strstr(s, "noxf16");
}

/* M columns of K floats at xaddr, x_nb1 floats apart, as f16 rows of Kp8
 * 16-byte chunks in scratch: an earlier node's copy of the same bytes
 * (vk_rec_memo) or x_to_f16 now. On SC_OK the GEMM's push fields and options
 * are pointed at the copy (*px, *px_nb1 = Kp8 * 8 halves, OPT_XF16 in *opts);
 * SC_ENOTSUP (nothing recorded, nothing changed) where it does not apply. */
static int x_as_f16(vk_rec *r, uint64_t xaddr, uint64_t K, uint64_t M, uint64_t x_nb1, uint64_t *px,
                    uint32_t *px_nb1, uint32_t *opts) {
    vk_dev *d = vk_rec_dev(r);
    const vk_caps *c = vk_dev_caps(d);
    const uint64_t Kp8 = (K + 7) / 8;
    if (env_dbg_noxf16() || !vk_spirv_find("x_to_f16") || c->max_workgroup_size < 64 || M < 1 ||
        K > UINT32_MAX / 2 || M > UINT32_MAX || x_nb1 > UINT32_MAX || (Kp8 * M + 63) / 64 > MAX_GRID)
        return SC_ENOTSUP;
    const uint64_t tag = (K << 32) ^ (x_nb1 << 8) ^ (M << 1) ^ (0xf16ull << 52); /* what: K, M, stride, f16 */
    const uint64_t bytes = ((M - 1) * x_nb1 + K) * 4u;
    uint64_t xh = 0;
    if (!vk_rec_memo_get(r, tag, xaddr, bytes, &xh)) {
        int rc = vk_rec_scratch(r, (size_t)(Kp8 * M * 16u), &xh);
        if (rc != SC_OK) return rc;
        xh_push pc = {.x = xaddr, .xh = xh, .K = (uint32_t)K, .Kp8 = (uint32_t)Kp8, .M = (uint32_t)M,
                      .x_nb1 = (uint32_t)x_nb1};
        const uint32_t spec[3] = {64, 1, 1};
        vk_pipeline *p = vk_pipeline_get(d, "x_to_f16", sizeof pc, spec, 3, 0);
        if (!p) return SC_EBACKEND;
        rc = vk_dispatch(r, p, &pc, sizeof pc, (uint32_t)((Kp8 * M + 63) / 64), 1, 1);
        if (rc != SC_OK) return rc;
        vk_rec_memo_put(r, tag, xaddr, bytes, xh); /* the GEMM that follows gets the barrier */
    }
    *px = xh;
    *px_nb1 = (uint32_t)(Kp8 * 8);
    *opts = (*opts & ~OPT_XVEC) | OPT_XF16;
    return SC_OK;
}

static bool vec16(const sc_tensor *t) {
    return aligned(vk_addr(t), 16) && aligned(t->nb[1], 16) && aligned(t->nb[2], 16) && aligned(t->nb[3], 16);
}

static uint32_t coop_spec(const vk_caps *c, const coop_tile *t, const sc_tensor *w, const sc_tensor *x,
                          uint32_t *spec, bool *req) {
    memset(spec, 0, SPEC_COUNT * sizeof *spec);
    const uint32_t sgs = coop_sgs(c, req), nt = t->nsg * sgs;
    spec[SPEC_LX] = nt;
    spec[SPEC_LY] = spec[SPEC_LZ] = 1;
    spec[SPEC_WTYPE] = (uint32_t)w->type;
    spec[SPEC_QBITS] = 4;
    spec[SPEC_CM_M] = c->coopmat_m;
    spec[SPEC_CM_N] = c->coopmat_n;
    spec[SPEC_CM_K] = c->coopmat_k;
    spec[SPEC_SGS] = sgs;
    spec[SPEC_SPLITK] = 1;
    if (w->type == SC_TYPE_QG) {
        const sc_quant_info *q = &w->quant;
        spec[SPEC_QBITS] = q->bits;
        spec[SPEC_QFLAGS] = q->flags;
        /* GMODE 0: each 8-code chunk lies in one group (one scale/zero per chunk) */
        spec[SPEC_GMODE] =
            (!(q->flags & SC_QUANT_HAS_GIDX) && (q->n_groups == 1 || q->group_size % 8 == 0)) ? 0u : 2u;
        /* 32 codes per lane and step (bn * bk == 32 x lanes: 256 lanes, 2
         * per row of the weight tile), whole 16-byte pieces of rows, one group
         * per piece. H200, m64 tiles, q4g128 at M = 512, with OPT_XF16:
         * K=5120 N=5120 532 -> 345 us, N=17408 1464 -> 905 us (each alone:
         * 383 / 465 us at N=5120) */
        if (q->bits == 4 && spec[SPEC_GMODE] == 0 && t->bn * t->bk == 32u * nt && w->ne[0] % 32 == 0 &&
            (q->n_groups == 1 || q->group_size % 32 == 0) && aligned(q->row_bytes, 16) && aligned(vk_addr(w), 16) &&
            aligned(w->nb[2], 16) && aligned(w->nb[3], 16) && !(env_dbg_noqvec()))
            spec[SPEC_OPTS] |= OPT_QVEC;
    } else if (vec16(w)) {
        spec[SPEC_OPTS] |= OPT_WVEC;
    }
    if (vec16(x)) spec[SPEC_OPTS] |= OPT_XVEC;
    return sgs;
}

bool vk_mm_coop_splitk_ok(vk_dev *d, const sc_tensor *node, uint32_t S) {
    const coop_tile *t = pick_tile(vk_dev_caps(d), false);
    const sc_tensor *w = node->src[0], *x = node->src[1];
    if (!t || x->ne[2] * x->ne[3] != 1 || S < 1 || S > 8) return false;
    if (S == 1) return true;
    const uint64_t elems = (uint64_t)w->ne[1] * (uint64_t)x->ne[1];
    return vk_spirv_find("mul_mat_splitk") && elems * 8u <= UINT32_MAX && (uint64_t)w->ne[0] / S >= 4u * t->bk;
}

int vk_mm_coop_record(vk_rec *r, const sc_tensor *node, const vk_tune_sel *sel) {
    vk_dev *d = vk_rec_dev(r);
    const vk_caps *c = vk_dev_caps(d);
    const sc_tensor *w = node->src[0], *x = node->src[1];
    const uint64_t N = (uint64_t)w->ne[1], M = (uint64_t)x->ne[1];
    const uint64_t nbatch = (uint64_t)x->ne[2] * (uint64_t)x->ne[3];

    coop_push pc;
    vk_mm_push_fill(&pc, r, node);

    const coop_tile *t = pick_tile(c, false);
    if (!t) return SC_EBACKEND; /* vk_mm_coop_supports said yes */
    uint32_t spec[SPEC_COUNT];
    bool req;
    const uint32_t sgs = coop_spec(c, t, w, x, spec, &req);
    const int xrc = x->ne[2] == 1 && x->ne[3] == 1 && x->nb[1] % 4 == 0
                        ? x_as_f16(r, vk_addr(x), (uint64_t)x->ne[0], (uint64_t)x->ne[1], x->nb[1] / 4, &pc.x,
                                   &pc.x_nb1, &spec[SPEC_OPTS])
                        : SC_ENOTSUP;
    if (xrc != SC_OK && xrc != SC_ENOTSUP) return xrc;

    /* A grid too small to fill the device in whole waves is split along K
     * (partials into scratch, then mul_mat_splitk.comp sums them). */
    const uint64_t gx = div_up(N, t->bn), gz = nbatch;
    const uint32_t gy = div_up(M, t->bm);
    const uint32_t S = nbatch == 1 ? pick_splitk(c, gx * gy, (uint64_t)w->ne[0], t->bk, N * M, sel) : 1;
    uint64_t part = 0, y = pc.y;
    const uint32_t y_nb1 = pc.y_nb1;
    if (S > 1) {
        int rc = vk_rec_scratch_node(r, (size_t)(S * N * M * 4u), &part);
        if (rc != SC_OK) return rc;
        pc.y = part;
        pc.y_nb1 = (uint32_t)N;
        spec[SPEC_SPLITK] = S;
    }

    /* m64 (128 x 64 tiles, 8 subgroups of 32 x 32) by default: 110 registers
     * a lane against 166 for m128, so two workgroups share an SM. H200, q4g128
     * at M = 512: K=5120 N=5120 347 -> 320 us, N=17408 894 -> 804 us;
     * Qwen3-14B pp512 3217 -> 3492 tok/s. */
    vk_pipeline *p = vk_pipeline_get(d, t->module, sizeof pc, spec, SPEC_COUNT, req ? sgs : 0);
    if (!p) return SC_EBACKEND;
    static int logged; /* once per process: which path prefill takes (a benign race) */
    if (!logged) {
        logged = 1;
        VK_LOG(SC_LOG_INFO, "mul_mat_coop: %s tiles (%ux%u, %u subgroups of %ux%u), %ux%ux%u f16 matrices, "
               "%u-lane subgroups%s", t->name, t->bn, t->bm, t->nsg, t->tn, t->tm, c->coopmat_m, c->coopmat_n,
               c->coopmat_k, sgs, req ? " (required)" : "");
    }

    if (S > 1) { /* grid z = the splits */
        for (uint64_t x0 = 0; x0 < gx; x0 += MAX_GRID) {
            pc.base_x = (uint32_t)x0;
            pc.base_z = 0;
            const uint64_t nx = gx - x0 < MAX_GRID ? gx - x0 : MAX_GRID;
            if (x0 > 0) vk_rec_independent(r);
            int rc = vk_dispatch(r, p, &pc, sizeof pc, (uint32_t)nx, gy, S);
            if (rc != SC_OK) return rc;
        }
        const uint32_t sspec[3] = {256, 1, 1};
        vk_pipeline *ps = vk_pipeline_get(d, "mul_mat_splitk", sizeof(splitk_push), sspec, 3, 0);
        if (!ps) return SC_EBACKEND;
        const uint64_t groups = div_up(N * M, 256);
        const uint32_t sgx = groups < MAX_GRID ? (uint32_t)groups : MAX_GRID;
        splitk_push sp = {.part = part, .y = y, .N = (uint32_t)N, .M = (uint32_t)M, .S = S, .y_nb1 = y_nb1,
                          .gx = sgx};
        return vk_dispatch(r, ps, &sp, sizeof sp, sgx, (uint32_t)div_up(groups, sgx), 1);
    }

    /* grid x = row tiles, y = column tiles, z = batch; x and z split past 65535
     * (the pieces write disjoint outputs: no barrier between them) */
    for (uint64_t z0 = 0; z0 < gz; z0 += MAX_GRID)
        for (uint64_t x0 = 0; x0 < gx; x0 += MAX_GRID) {
            pc.base_x = (uint32_t)x0;
            pc.base_z = (uint32_t)z0;
            const uint64_t nx = gx - x0 < MAX_GRID ? gx - x0 : MAX_GRID;
            const uint64_t nz = gz - z0 < MAX_GRID ? gz - z0 : MAX_GRID;
            if (x0 > 0 || z0 > 0) vk_rec_independent(r);
            int rc = vk_dispatch(r, p, &pc, sizeof pc, (uint32_t)nx, gy, (uint32_t)nz);
            if (rc != SC_OK) return rc;
        }
    return SC_OK;
}

/* ---- MUL_MAT_ID ---------------------------------------------------------------------- */
/* vk_mm_coop_id_supports with min_pairs per expert (0: where the grouped GEMM would run) */
static bool coop_id_takes(vk_dev *d, const sc_tensor *node, int min_pairs) {
    if (!node || node->op != SC_OP_MUL_MAT_ID) return false;
    if (min_pairs < 0) return false;
    const vk_caps *c = vk_dev_caps(d);
    if (!c->coop_matrix || !c->fp16_arith || !pick_tile(c, true)) return false;
    const sc_tensor *w = node->src[0], *x = node->src[1], *ids = node->src[2];
    if (!w || !ids || !vk_mm_weight_ok(w) || !weight_ok(w) || w->ne[3] != 1) return false;
    if (!f32_rows(x) || !f32_rows(node) || !vk_mm_rows_ok(ids, SC_TYPE_I32)) return false;
    if (x->ne[3] != 1 || ids->ne[2] != 1 || ids->ne[3] != 1 || w->ne[0] != x->ne[0]) return false;
    const int64_t n_used = ids->ne[0], T = ids->ne[1], E = w->ne[2];
    if ((x->ne[1] != 1 && x->ne[1] != n_used) || x->ne[2] != T) return false;
    if (node->ne[0] != w->ne[1] || node->ne[1] != n_used || node->ne[2] != T || node->ne[3] != 1) return false;
    if (E > (int64_t)COOP_ID_MAX_E) return false;
    const uint64_t npairs = (uint64_t)n_used * (uint64_t)T;
    if (npairs > UINT32_MAX / 2) return false;
    /* many pairs per expert: where the grouped GEMM would run, or past coopidmin */
    if (min_pairs == 0 ? vk_mm_gemv_mul_mat_id(d, w, npairs, NULL) : npairs < (uint64_t)min_pairs * (uint64_t)E)
        return false;
    return vk_spirv_find("mul_mat_id_group") != NULL;
}

bool vk_mm_coop_id_supports(vk_dev *d, const sc_tensor *node) { return coop_id_takes(d, node, env_id_min()); }

bool vk_mm_coop_id_can(vk_dev *d, const sc_tensor *node) { return coop_id_takes(d, node, 1); }

int vk_mm_coop_id_record(vk_rec *r, const sc_tensor *node) {
    vk_dev *d = vk_rec_dev(r);
    const vk_caps *c = vk_dev_caps(d);
    const sc_tensor *w = node->src[0], *x = node->src[1], *ids = node->src[2];
    const uint64_t N = (uint64_t)w->ne[1], E = (uint64_t)w->ne[2];
    const uint64_t n_used = (uint64_t)ids->ne[0], T = (uint64_t)ids->ne[1], npairs = n_used * T;

    /* 1. the pairs sorted by expert: u32 off[E + 1], list[npairs] (shared with
     *    the layer's other expert GEMMs: vk_mm_id_lists) */
    uint64_t lists = 0;
    int rc = vk_mm_id_lists(r, ids, (uint32_t)E, &lists);
    if (rc != SC_OK) return rc;

    /* 2. the GEMM over each expert's pairs (after a barrier: it reads the lists) */
    coop_id_push pc;
    memset(&pc, 0, sizeof pc);
    pc.w = vk_addr(w);
    pc.x = vk_addr(x);
    pc.y = vk_addr(node);
    pc.err = vk_rec_error_addr(r);
    pc.lists = lists;
    pc.w_nb2 = w->nb[2];
    pc.w_nb1 = (uint32_t)w->nb[1];
    pc.K = (uint32_t)w->ne[0];
    pc.N = (uint32_t)N;
    pc.E = (uint32_t)E;
    pc.x_nb1 = (uint32_t)(x->nb[1] / 4);
    pc.x_nb2 = (uint32_t)(x->nb[2] / 4);
    pc.y_nb1 = (uint32_t)(node->nb[1] / 4);
    pc.y_nb2 = (uint32_t)(node->nb[2] / 4);
    pc.n_used = (uint32_t)n_used;
    pc.x_bcast = x->ne[1] == 1 ? 1u : 0u;
    /* workgroups per expert along the columns: its 64-column tiles on average
     * (a busier expert's workgroups loop over the rest) */
    const uint64_t per_e = (npairs + E - 1) / E;
    const coop_tile *t = pick_tile(c, true);
    if (!t) return SC_EBACKEND; /* vk_mm_coop_id_supports said yes */
    pc.zsplit = div_up(per_e, t->bm);
    if (pc.zsplit < 1) pc.zsplit = 1;
    if (pc.zsplit > 64) pc.zsplit = 64;
    if (env_id_z) pc.zsplit = env_id_z;

    uint32_t spec[SPEC_COUNT];
    bool req;
    const uint32_t sgs = coop_spec(c, t, w, x, spec, &req);
    vk_mm_push_quant(w, &pc.q_scales, &pc.q_zeros, &pc.q_gidx, &pc.group_size, &pc.G);
    /* x [K, X, T] as f16 rows: one per token (X == 1) or per (slot, token),
     * the latter stored contiguously */
    {
        const uint64_t K = (uint64_t)x->ne[0], X = (uint64_t)x->ne[1];
        int xrc = SC_ENOTSUP;
        if (X == 1 && x->nb[2] % 4 == 0)
            xrc = x_as_f16(r, vk_addr(x), K, T, x->nb[2] / 4, &pc.x, &pc.x_nb1, &spec[SPEC_OPTS]);
        else if (x->nb[1] % 4 == 0 && x->nb[2] == X * x->nb[1])
            xrc = x_as_f16(r, vk_addr(x), K, X * T, x->nb[1] / 4, &pc.x, &pc.x_nb1, &spec[SPEC_OPTS]);
        if (xrc != SC_OK && xrc != SC_ENOTSUP) return xrc;
    }

    vk_pipeline *p = vk_pipeline_get(d, t->id_module, sizeof pc, spec, SPEC_COUNT, req ? sgs : 0);
    if (!p) return SC_EBACKEND;
    static int logged; /* once per process (a benign race) */
    if (!logged) {
        logged = 1;
        VK_LOG(SC_LOG_INFO, "mul_mat_coop_id: %s tiles, %ux%ux%u f16 matrices, %u-lane subgroups%s", t->name,
               c->coopmat_m, c->coopmat_n, c->coopmat_k, sgs, req ? " (required)" : "");
    }

    /* grid x = row tiles (split past 65535), y = expert, z = column tiles */
    const uint64_t gx = div_up(N, t->bn);
    for (uint64_t x0 = 0; x0 < gx; x0 += MAX_GRID) {
        pc.base_x = (uint32_t)x0;
        const uint64_t nx = gx - x0 < MAX_GRID ? gx - x0 : MAX_GRID;
        if (x0 > 0) vk_rec_independent(r);
        rc = vk_dispatch(r, p, &pc, sizeof pc, (uint32_t)nx, (uint32_t)E, pc.zsplit);
        if (rc != SC_OK) return rc;
    }
    return SC_OK;
}

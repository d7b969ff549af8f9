/*
 * backends/vulkan/vk_op_matmul.c - MUL_MAT and MUL_MAT_ID (docs/ops.md).
 *
 *   mul_mat    : w [K, N, B2, B3] (f32/f16/bf16/QG), x f32 [K, M, b2, b3]
 *                -> y f32 [N, M, b2, b3]; batch (i2, i3) uses weight matrix
 *                (i2 / (b2/B2), i3 / (b3/B3)).
 *   mul_mat_id : w [K, N, E], x f32 [K, X, T] (X == n_used or 1),
 *                ids i32 [n_used, T] -> y f32 [N, n_used, T].
 *
 * Paths (shaders/matmul.cmake):
 *  - GEMV, mul_mat_vec.comp: M <= 32 (QG) or 16 (dense): decode and small
 *    batches. A workgroup of BS lanes owns NR weight rows and NC (1-4)
 *    columns; lanes split K, read the rows' packed words
 *    (or elements) coalesced, once, dequantising QG in registers (f16x2
 *    multiplies where the device has shaderFloat16, integer rounding
 *    otherwise); subgroupAdd (+ shared memory across subgroups) reduces.
 *    MUL_MAT_ID with fewer than 32 pairs per expert on average runs it once
 *    per (i, t) pair, reading only the selected experts.
 *  - GEMM, mul_mat.comp: larger M. 64 x BM output tiles (BM = 16, 32 or 64 by
 *    M), 256 lanes, 4 x BM/16 per lane, BK = 32; weight tiles converted (QG:
 *    dequantised) to f32 in shared memory.
 *  - MUL_MAT_ID with more pairs: mul_mat_id_group.comp sorts the pairs by expert
 *    into scratch memory (one workgroup), then mul_mat.comp -DMUL_MAT_ID runs
 *    one workgroup per (64 rows, expert) over that expert's pairs, BM at a
 *    time.
 *
 * STRIXCORE_VK_MATMUL (testing): comma-separated "gemv" (GEMV for every M,
 * and per pair for MUL_MAT_ID), "gemm" (tiled/grouped for every M), "nosg"
 * (shared-memory reductions), "novec" (no vector loads),
 * "nof16" (integer rounding of QG weights instead of f16 multiplies), "nr=N",
 * "bs=N" (GEMV rows and lanes per workgroup), "uw=1|2|4" (QG words per GEMV lane step),
 * "mv=N" (the GEMV for M up to N), "wgx" (the multi-warp GEMV below for every
 * QG GEMV it can run), "nowgx" (never), "wgw=N" / "wgr=N" (its warps per
 * workgroup and rows per warp; default 4 and 2).
 *
 * WGX GEMV (mul_mat_vec.comp -DWGX; QG 4/8-bit with f16 dequantisation, one
 * column per workgroup; the default for single-token 4-bit MUL_MAT with
 * K >= 4096 and N <= 32768, see vk_mm_gemv_setup): a workgroup of W
 * warps, each
 * owning R rows; the workgroup stages each K chunk of x (32 lane steps) once
 * in shared memory, double-buffered, and every warp reads it from there, so
 * the grid has W*R rows per workgroup but x is read from memory once per W*R
 * rows rather than once per warp.
 *
 * Tuning (vk_tune.c, docs/vulkan.md "Tuning"): mm_variants / mmid_variants
 * at the end list a node's key and variants (paths coop / gemm / dp4 / gemv,
 * grouped vs per pair, and the GEMV shapes the knobs above set); the record
 * functions take vk_tune_pick's selection, whose non-zero fields replace the
 * heuristics and the knobs (the table is ignored while STRIXCORE_VK_MATMUL
 * is set, so the two never mix).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc_tensor_checks.h"
#include "vk_op_matmul.h"
#include "vk_op_matmul_coop.h"
#include "vk_op_matmul_dp4.h"

/* ---- push constants: mirror mul_mat_common.glsl / mul_mat_id_group.comp ---------- */
typedef vk_mm_push mm_push; /* vk_op_matmul.h */

typedef struct mmid_push {
    uint64_t w, x, y, err;
    uint64_t ids;                            /* ids (GEMV) or the expert lists (grouped GEMM) */
    uint64_t w_nb2;
    uint32_t w_nb1, K, N, E;
    uint32_t x_nb1, x_nb2, y_nb1, y_nb2;     /* floats */
    uint32_t n_used, T, x_bcast, ids_nb1;    /* ids_nb1: i32 elements */
    uint32_t q_scales, q_zeros, q_gidx, group_size, G;
    uint32_t base_x, base_z, pad_;
} mmid_push;

typedef struct mmg_push {
    uint64_t ids, out, err;
    uint32_t n_used, T, ids_nb1, E;
} mmg_push;

_Static_assert(sizeof(mm_push) == 128, "mm_push layout");
_Static_assert(sizeof(mmid_push) == 128, "mmid_push layout");
_Static_assert(sizeof(mmg_push) == 40, "mmg_push layout");

/* ---- specialization constants (mul_mat_common.glsl) ------------------------------- */
enum {
    SPEC_LX = VK_MM_SPEC_LX, SPEC_LY = VK_MM_SPEC_LY, SPEC_LZ = VK_MM_SPEC_LZ, SPEC_WTYPE = VK_MM_SPEC_WTYPE,
    SPEC_QBITS = VK_MM_SPEC_QBITS, SPEC_QFLAGS = VK_MM_SPEC_QFLAGS, SPEC_GMODE = VK_MM_SPEC_GMODE,
    SPEC_UW = VK_MM_SPEC_UW, SPEC_NR = VK_MM_SPEC_NR, SPEC_NC = VK_MM_SPEC_NC, SPEC_OPTS = VK_MM_SPEC_OPTS,
    SPEC_SGX = VK_MM_SPEC_SGX, SPEC_COUNT = VK_MM_SPEC_COUNT
};
#define OPT_SUBGROUP 1u
#define OPT_XVEC4    2u
#define OPT_WGX      4u /* host bookkeeping: the WGX module (NR = warps * rows per warp) */

#define GEMM_BN      64u   /* mul_mat.comp tile: weight rows */
#define GEMM_BM_MAX  64u   /* activation columns: 16, 32 or 64 */
#define GEMM_THREADS 256u
#define GROUP_MAX_E  4096u /* mul_mat_id_group.comp shared counters */
/* Where the GEMV beats the tiled GEMM (measured on an H200, K = 4096,
 * N = 57344, 4-bit: one column 0.055 ms, so 16 one-column passes 0.9 ms and
 * 32 about 1.8 ms, against 3.8 ms for the GEMM at M = 16; f16: 4-column blocks
 * 1.6 ms at M = 16 against 3.3 ms). The GEMM only pays off for batches large
 * enough to fill the device with 64 x 64 tiles. */
#define GEMV_MAX_M_QG    32 /* M up to which a QG MUL_MAT takes the GEMV */
#define GEMV_MAX_M_DENSE 16 /* the same for f32/f16/bf16 */
#define GEMV_MAX_NC      4  /* columns per GEMV workgroup at most */
#define GROUP_MIN_PAIRS  32 /* MUL_MAT_ID sorts by expert from this many pairs per expert on average */
#define MAX_GRID     VK_MM_MAX_GRID

/* ---- debug switches ------------------------------------------------------------------ */
enum { DBG_GEMV = 1, DBG_GEMM = 2, DBG_NOSG = 4, DBG_NOVEC = 8, DBG_NOF16 = 16, DBG_WGX = 32, DBG_NOWGX = 64 };

static uint32_t dbg_nr, dbg_bs, dbg_uw, dbg_mv, dbg_wgw, dbg_wgr; /* "nr=", "bs=", "uw=", "mv=", "wgw=", "wgr=" */

static unsigned dbg_flags(void) {
    static int cached = -1; /* a benign race: every thread computes the same value */
    if (cached < 0) {
        const char *s = getenv("STRIXCORE_VK_MATMUL");
        unsigned f = 0;
        if (s) {
            const char *v;
            if ((v = strstr(s, "nr="))) dbg_nr = (uint32_t)strtoul(v + 3, NULL, 10);
            if ((v = strstr(s, "bs="))) dbg_bs = (uint32_t)strtoul(v + 3, NULL, 10);
            if ((v = strstr(s, "uw="))) dbg_uw = (uint32_t)strtoul(v + 3, NULL, 10);
            if ((v = strstr(s, "mv="))) dbg_mv = (uint32_t)strtoul(v + 3, NULL, 10);
            if ((v = strstr(s, "wgw="))) dbg_wgw = (uint32_t)strtoul(v + 4, NULL, 10);
            if ((v = strstr(s, "wgr="))) dbg_wgr = (uint32_t)strtoul(v + 4, NULL, 10);
            if (strstr(s, "wgx") && !strstr(s, "nowgx")) f |= DBG_WGX;
            if (strstr(s, "nowgx")) f |= DBG_NOWGX;
            if (strstr(s, "gemv")) f |= DBG_GEMV;
            if (strstr(s, "gemm")) f |= DBG_GEMM;
            if (strstr(s, "nosg")) f |= DBG_NOSG;
            if (strstr(s, "novec")) f |= DBG_NOVEC;
            if (strstr(s, "nof16")) f |= DBG_NOF16;
        }
        cached = (int)f;
    }
    return (unsigned)cached;
}

/* ---- checks ------------------------------------------------------------------------------ */

/* Contiguous rows of `type`, every stride a multiple of the element size and
 * (in elements) below 2^32, as the shaders index. */
bool vk_mm_rows_ok(const sc_tensor *t, int32_t type) {
    const size_t es = sc_chk_elem_size(type);
    if (!t || t->type != type || !sc_chk_shape_ok32(t) || t->nb[0] != es) return false;
    for (int d = 1; d < SC_MAX_DIMS; d++)
        if (t->nb[d] % es != 0 || t->nb[d] / es > UINT32_MAX) return false;
    return ((uintptr_t)t->data % es) == 0; /* data: NULL before allocation */
}

/* The QG layout, plus what the shaders need: u32-aligned slabs (codes are
 * read as words), offsets below 2^32, K * bits below 2^32. */
static bool qg_ok(const sc_tensor *w) {
    uint64_t end = 0;
    if (!sc_chk_qg_layout(w, &end) || end > UINT32_MAX || (uint64_t)w->ne[0] * w->quant.bits > UINT32_MAX) return false;
    return w->nb[2] % 4 == 0 && w->nb[3] % 4 == 0 && (uintptr_t)w->data % 4 == 0;
}

bool vk_mm_weight_ok(const sc_tensor *w) {
    if (!w || !sc_chk_shape_ok32(w)) return false;
    if (w->type == SC_TYPE_QG) return qg_ok(w);
    if (w->type != SC_TYPE_F32 && w->type != SC_TYPE_F16 && w->type != SC_TYPE_BF16) return false;
    const size_t es = sc_chk_elem_size(w->type);
    if (w->nb[0] != es || (uintptr_t)w->data % es) return false;
    for (int d = 1; d < SC_MAX_DIMS; d++)
        if (w->nb[d] % es) return false;
    return w->nb[1] <= UINT32_MAX;
}

static bool has_module(const char *name) { return vk_spirv_find(name) != NULL; }

static bool supports_mul_mat(vk_dev *d, const sc_tensor *node) {
    const sc_tensor *w = node->src[0], *x = node->src[1];
    if (!vk_mm_weight_ok(w) || !vk_mm_rows_ok(x, SC_TYPE_F32) || !vk_mm_rows_ok(node, SC_TYPE_F32)) return false;
    if (!sc_chk_mul_mat_shape(node)) return false;
    if ((uint64_t)x->ne[2] * (uint64_t)x->ne[3] > UINT32_MAX) return false;
    /* grid y: GEMM column tiles, or GEMV column blocks on a device too small for the GEMM */
    if ((uint64_t)x->ne[1] > (uint64_t)MAX_GRID * GEMM_BM_MAX) return false;
    if (vk_dev_caps(d)->max_workgroup_size < GEMM_THREADS && (uint64_t)x->ne[1] > (uint64_t)MAX_GRID * GEMV_MAX_NC)
        return false;
    return has_module("mul_mat_vec") && has_module("mul_mat_vec_nosg") && has_module("mul_mat_vec_f16") &&
           has_module("mul_mat");
}

static bool supports_mul_mat_id(vk_dev *d, const sc_tensor *node) {
    const sc_tensor *w = node->src[0], *x = node->src[1], *ids = node->src[2];
    if (!vk_mm_weight_ok(w) || !vk_mm_rows_ok(x, SC_TYPE_F32) || !vk_mm_rows_ok(ids, SC_TYPE_I32) ||
        !vk_mm_rows_ok(node, SC_TYPE_F32))
        return false;
    if (!sc_chk_mul_mat_id_shape(node)) return false;
    const int64_t n_used = ids->ne[0], T = ids->ne[1];
    if ((uint64_t)n_used * (uint64_t)T > UINT32_MAX / 2) return false;
    (void)d;
    return has_module("mul_mat_vec_id") && has_module("mul_mat_vec_id_nosg") && has_module("mul_mat_vec_id_f16") &&
           has_module("mul_mat_id") &&
           has_module("mul_mat_id_group");
}

bool vk_supports_matmul(vk_dev *d, const sc_tensor *node) {
    if (!node) return false;
    if (node->op == SC_OP_MUL_MAT) return supports_mul_mat(d, node);
    if (node->op == SC_OP_MUL_MAT_ID) return supports_mul_mat_id(d, node);
    return false;
}

/* ---- recording helpers ------------------------------------------------------------------ */
static uint32_t u32_of(uint64_t v) { return (uint32_t)v; }
static uint32_t div_up(uint64_t a, uint64_t b) { return (uint32_t)((a + b - 1) / b); }

static bool aligned(uint64_t v, uint64_t a) { return v % a == 0; }

/* Weight-side specialization shared by the GEMV and the GEMM. */
static void spec_weight(uint32_t *spec, const sc_tensor *w) {
    spec[SPEC_WTYPE] = (uint32_t)w->type;
    spec[SPEC_QBITS] = w->type == SC_TYPE_QG ? w->quant.bits : 4u; /* 4: a harmless value for dense */
    spec[SPEC_QFLAGS] = w->type == SC_TYPE_QG ? w->quant.flags : 0u;
}

/* May the shaders read weight rows 4 elements (dense) / 4 words (QG) at a time?
 * The row, matrix strides and base must be 16-byte (f32, QG) or 8-byte (f16,
 * bf16) aligned. */
static bool weight_vec_ok(const sc_tensor *w) {
    if (dbg_flags() & DBG_NOVEC) return false;
    const uint64_t a = (w->type == SC_TYPE_F16 || w->type == SC_TYPE_BF16) ? 8 : 16;
    if (!aligned(vk_addr(w), a) || !aligned(w->nb[1], a) || !aligned(w->nb[2], a) || !aligned(w->nb[3], a))
        return false;
    return w->type != SC_TYPE_QG || w->quant.bits != 3;
}

static bool x_vec_ok(const sc_tensor *x) {
    if (dbg_flags() & DBG_NOVEC) return false;
    return aligned(vk_addr(x), 16) && aligned(x->nb[1], 16) && aligned(x->nb[2], 16) && aligned(x->nb[3], 16);
}

/* The GEMV's group mode (mul_mat_common.glsl GMODE) for its step size. */
static uint32_t gemv_gmode(const sc_tensor *w, uint32_t uw) {
    const sc_quant_info *q = &w->quant;
    if (w->type != SC_TYPE_QG) return 0;
    if (q->flags & SC_QUANT_HAS_GIDX) return 2;
    if (q->n_groups == 1) return 0;
    const uint32_t step = q->bits == 3 ? 32u : uw * (32u / q->bits); /* codes per lane step */
    const uint32_t chunk = q->bits == 8 ? 4u : 8u;                  /* codes per decoded chunk */
    if (q->group_size % step == 0) return 0;
    if (q->group_size % chunk == 0) return 1;
    return 2;
}

/* The GEMM's group mode: 0 when each 8-code chunk (4 for 8-bit) of a tile
 * load lies in one group, else 2 (looked up per code). */
static uint32_t gemm_gmode(const sc_tensor *w) {
    const sc_quant_info *q = &w->quant;
    if (w->type != SC_TYPE_QG) return 0;
    if (q->flags & SC_QUANT_HAS_GIDX) return 2;
    return (q->n_groups == 1 || q->group_size % (q->bits == 8 ? 4u : 8u) == 0) ? 0 : 2;
}

/* GEMM tile width for about `cols` columns per weight matrix (per expert). */
static uint32_t gemm_bm(uint64_t cols) { return cols <= 16 ? 16u : cols <= 32 ? 32u : GEMM_BM_MAX; }

static void spec_init(uint32_t *spec) {
    for (int i = 0; i < SPEC_COUNT; i++) spec[i] = 0;
    spec[SPEC_LX] = spec[SPEC_LY] = spec[SPEC_LZ] = 1;
    spec[SPEC_QBITS] = 4;
    spec[SPEC_UW] = spec[SPEC_NR] = spec[SPEC_NC] = 1;
    spec[SPEC_SGX] = 32;
}

/* The GEMV's specialization and module for weight w, x, N rows, nc columns:
 * BS lanes (a power of two, a multiple of the subgroup), NR rows per
 * workgroup, the lane step (UW), the group mode; the module: base with
 * subgroup arithmetic or not ("_nosg"), with f16 dequantisation or not ("_f16"). */
void vk_mm_gemv_setup(vk_dev *d, const sc_tensor *w, const sc_tensor *x, int64_t N, uint32_t nc, const char *base,
                      const vk_tune_sel *sel, uint32_t *spec, char *name, size_t name_len) {
    const vk_caps *caps = vk_dev_caps(d);
    const unsigned dbg = dbg_flags();
    /* a tuned selection (vk_tune.c) in place of the STRIXCORE_VK_MATMUL knobs (the table is
     * ignored while that variable is set, so the two never mix) */
    const uint32_t o_nr = sel && sel->nr ? sel->nr : dbg_nr, o_bs = sel && sel->bs ? sel->bs : dbg_bs;
    const uint32_t o_uw = sel && sel->uw ? sel->uw : dbg_uw;
    const uint32_t o_wgw = sel && sel->wgw ? sel->wgw : dbg_wgw, o_wgr = sel && sel->wgr ? sel->wgr : dbg_wgr;
    const bool o_wgx = (dbg & DBG_WGX) || (sel && sel->wgx == 2), o_nowgx = (dbg & DBG_NOWGX) || (sel && sel->wgx == 1);
    spec_init(spec);
    spec_weight(spec, w);
    uint32_t sg = caps->subgroup_size;
    if (sg < 4 || sg > 128 || (sg & (sg - 1))) sg = 32;
    uint32_t bs = sg < 32 ? 32 : sg;
    while (bs > 32 && bs > caps->max_workgroup_size) bs /= 2;
    spec[SPEC_LX] = bs;
    spec[SPEC_SGX] = sg < bs ? sg : bs;
    /* Rows per workgroup: every row's words in flight at once, and the x
     * values of a step (from L1/L2) reused for NR rows. Fewer when N is small
     * so that the grid still fills the device; 8 only for one column (more
     * would cost registers: NR * NC accumulators). */
    spec[SPEC_NR] = (nc == 1 && N >= 8192) ? 8u : N >= 256 ? 4u : N >= 2 ? 2u : 1u;
    if (o_nr >= 1 && o_nr <= 16) spec[SPEC_NR] = o_nr;
    if (o_bs >= spec[SPEC_SGX] && o_bs <= caps->max_workgroup_size && !(o_bs & (o_bs - 1))) spec[SPEC_LX] = o_bs;
    spec[SPEC_NC] = nc;
    const bool wvec = weight_vec_ok(w);
    /* QG lane step: 4 words (16-byte loads) for one column. With more
     * columns, or g_idx, 1 word: a lane's x values then lie 32 bytes (4-bit)
     * rather than 128 bytes from its neighbour's, so each x load of the warp
     * touches a quarter of the cache lines (measured on an H200: M = 2 and 4
     * ran 1.7-2.5x faster with 1 word, M = 1 about the same). */
    if (w->type == SC_TYPE_QG) {
        const bool gidx = (w->quant.flags & SC_QUANT_HAS_GIDX) != 0;
        spec[SPEC_UW] = w->quant.bits == 3 ? 3u : (wvec && nc == 1 && !gidx) ? 4u : 1u;
        if (w->quant.bits != 3 && (o_uw == 1 || o_uw == 2 || (o_uw == 4 && wvec))) spec[SPEC_UW] = o_uw;
    } else {
        spec[SPEC_UW] = wvec ? 4u : 1u;
    }
    spec[SPEC_GMODE] = gemv_gmode(w, spec[SPEC_UW]);
    const bool use_sg = caps->subgroup_arithmetic && !(dbg & DBG_NOSG);
    spec[SPEC_OPTS] = (use_sg ? OPT_SUBGROUP : 0u) | (x_vec_ok(x) ? OPT_XVEC4 : 0u);
    const bool f16mul = use_sg && caps->fp16_arith && w->type == SC_TYPE_QG && spec[SPEC_GMODE] != 2 &&
                        !(w->quant.flags & SC_QUANT_BF16_ROUND) && !(dbg & DBG_NOF16);
    snprintf(name, name_len, "%s%s", base, f16mul ? "_f16" : use_sg ? "" : "_nosg");
    /* WGX: W warps of 32 lanes, R rows each, x staged in shared memory per K
     * chunk (one column, 16-byte steps, 4/8-bit; subgroups no wider than a
     * warp, so that subgroupAdd stays inside one warp's rows). */
    char wname[64];
    snprintf(wname, sizeof wname, "%s_wgx_f16", base);
    /* Opt-in ("wgx"). Measured on an H200 (q4g128, M = 1, two runs, old ->
     * WGX 4x2): K=5120 N=5120 19.6 -> 16.0 and 17.8 -> 16.4 us; K=5120
     * N=17408 51.5 -> 45.4 but 46.1 -> 49.9 us; K=17408 N=5120 57.6 -> 46.7
     * us (second run too noisy to tell); 14B tg64 +4-8% (within run noise).
     * Slower: short K (MUL_MAT_ID experts K=768 9.1 -> 11.5 us, K=2048 8.6 ->
     * 9.3 us: one or two chunks, lanes idle in a partial one) and huge grids
     * (K=2048 N=151936 356 -> 398 us: one-warp workgroups already fill the
     * device). On the whole Qwen3-14B gptq-int4 decode (tg128, default and WGX
     * alternated three times on one H200) it is ahead every time: 131.9 /
     * 128.5 / 132.5 -> 138.9 / 136.6 / 140.6 tok/s. So it is the default where
     * it measured ahead: MUL_MAT (not the experts), 4-bit, one token, K >=
     * 4096, N <= 32768; "wgx" forces it wherever it can run (tests), "nowgx"
     * turns it off. */
    const bool wgx_default = !o_nowgx && strncmp(base, "mul_mat_vec_id", 14) != 0 && w->quant.bits == 4 &&
                             x->ne[1] == 1 && w->ne[0] >= 4096 && w->ne[1] <= 32768;
    if ((o_wgx || wgx_default) && f16mul && nc == 1 && spec[SPEC_UW] == 4 &&
        (w->quant.bits == 4 || w->quant.bits == 8) &&
        (spec[SPEC_OPTS] & OPT_XVEC4) && caps->max_subgroup_size <= 32 && caps->max_workgroup_size >= 32 &&
        has_module(wname)) {
        uint32_t nw = (o_wgw >= 1 && o_wgw <= 32 && !(o_wgw & (o_wgw - 1))) ? o_wgw : 4u;
        while (nw > 1 && nw * 32u > caps->max_workgroup_size) nw /= 2;
        const uint32_t rpw = (o_wgr >= 1 && o_wgr <= 8) ? o_wgr : 2u;
        spec[SPEC_LX] = nw * 32u;
        spec[SPEC_NR] = nw * rpw;
        spec[SPEC_SGX] = sg;
        spec[SPEC_OPTS] |= OPT_WGX;
        snprintf(name, name_len, "%s", wname);
    }
}

void vk_mm_gemv_half_rows(uint32_t *spec) {
    const uint32_t nw = (spec[SPEC_OPTS] & OPT_WGX) ? spec[SPEC_LX] / 32u : 1u; /* warps owning rows */
    const uint32_t rpw = spec[SPEC_NR] / nw;
    spec[SPEC_NR] = nw * (rpw > 1 ? rpw / 2 : 1);
}

bool vk_mm_gemv_modules(const char *base) {
    char name[64];
    snprintf(name, sizeof name, "%s_f16", base);
    if (!has_module(base) || !has_module(name)) return false;
    snprintf(name, sizeof name, "%s_nosg", base);
    return has_module(name);
}

/* Dispatch gx * gy * gz workgroups, splitting x and z past the 65535 limit
 * (the shaders add base_x / base_z to their workgroup ids). The pieces write
 * disjoint outputs: no barrier between them. */
int vk_mm_dispatch_split(vk_rec *r, vk_pipeline *p, void *push, uint32_t push_size, uint32_t *base_x,
                         uint32_t *base_z, uint64_t gx, uint32_t gy, uint64_t gz) {
    for (uint64_t z0 = 0; z0 < gz; z0 += MAX_GRID)
        for (uint64_t x0 = 0; x0 < gx; x0 += MAX_GRID) {
            *base_x = (uint32_t)x0;
            *base_z = (uint32_t)z0;
            const uint64_t nx = gx - x0 < MAX_GRID ? gx - x0 : MAX_GRID;
            const uint64_t nz = gz - z0 < MAX_GRID ? gz - z0 : MAX_GRID;
            if (x0 > 0 || z0 > 0) vk_rec_independent(r);
            int rc = vk_dispatch(r, p, push, push_size, (uint32_t)nx, gy, (uint32_t)nz);
            if (rc != SC_OK) return rc;
        }
    return SC_OK;
}

void vk_mm_push_quant(const sc_tensor *w, uint32_t *q_scales, uint32_t *q_zeros, uint32_t *q_gidx,
                      uint32_t *group_size, uint32_t *G) {
    if (w->type != SC_TYPE_QG) {
        *q_scales = *q_zeros = *q_gidx = 0;
        *group_size = *G = 1;
        return;
    }
    *q_scales = u32_of(w->quant.scales_offset);
    *q_zeros = u32_of(w->quant.zeros_offset);
    *q_gidx = u32_of(w->quant.gidx_offset);
    *group_size = w->quant.group_size;
    *G = w->quant.n_groups;
}

/* ---- MUL_MAT ------------------------------------------------------------------------------- */
void vk_mm_push_fill(vk_mm_push *pc, vk_rec *r, const sc_tensor *node) {
    const sc_tensor *w = node->src[0], *x = node->src[1];
    memset(pc, 0, sizeof *pc);
    pc->w = vk_addr(w);
    pc->x = vk_addr(x);
    pc->y = vk_addr(node);
    pc->err = vk_rec_error_addr(r);
    pc->w_nb2 = w->nb[2];
    pc->w_nb3 = w->nb[3];
    pc->w_nb1 = u32_of(w->nb[1]);
    pc->K = (uint32_t)w->ne[0];
    pc->N = (uint32_t)w->ne[1];
    pc->M = (uint32_t)x->ne[1];
    pc->x_nb1 = u32_of(x->nb[1] / 4);
    pc->x_nb2 = u32_of(x->nb[2] / 4);
    pc->x_nb3 = u32_of(x->nb[3] / 4);
    pc->y_nb1 = u32_of(node->nb[1] / 4);
    pc->y_nb2 = u32_of(node->nb[2] / 4);
    pc->y_nb3 = u32_of(node->nb[3] / 4);
    pc->ne2 = (uint32_t)x->ne[2];
    pc->r2 = (uint32_t)(x->ne[2] / w->ne[2]);
    pc->r3 = (uint32_t)(x->ne[3] / w->ne[3]);
    vk_mm_push_quant(w, &pc->q_scales, &pc->q_zeros, &pc->q_gidx, &pc->group_size, &pc->G);
}

bool vk_mm_gemv_mul_mat(vk_dev *d, const sc_tensor *w, int64_t M, uint32_t *nc, const vk_tune_sel *sel) {
    const vk_caps *caps = vk_dev_caps(d);
    const unsigned dbg = dbg_flags();
    const bool gemm_ok = caps->max_workgroup_size >= GEMM_THREADS && !(dbg & DBG_GEMV);
    const int64_t gemv_max_m =
        dbg_mv ? (int64_t)dbg_mv : w->type == SC_TYPE_QG ? GEMV_MAX_M_QG : GEMV_MAX_M_DENSE;
    const uint8_t path = sel ? sel->path : VK_TP_AUTO; /* tuned: GEMV / DP4 yes, GEMM / COOP no */
    if (gemm_ok && (path == VK_TP_GEMM || path == VK_TP_COOP)) return false;
    if (gemm_ok && path == VK_TP_AUTO && (M > gemv_max_m || (dbg & DBG_GEMM))) return false;
    /* GEMV: all M columns at once when M <= 4, else (no GEMM) blocks of 4.
     * Columns per workgroup. QG on a discrete GPU: one, the weights read once
     * per column (on an H200, K = 4096, N = 57344, 4-bit: M = 2 and 4 in
     * one-column passes 0.10 and 0.19 ms, in one 2- or 4-column pass 0.44 and
     * 0.59 ms: the per-column x loads, not the weights, limit the multi-column
     * kernel there). Dense weights, and QG on a unified-memory iGPU whose
     * bandwidth is the limit: up to 4 at once. */
    uint32_t n = M < GEMV_MAX_NC ? (uint32_t)M : GEMV_MAX_NC;
    if (w->type == SC_TYPE_QG && !caps->unified_memory) n = 1;
    if ((uint64_t)M > (uint64_t)MAX_GRID * n) n = GEMV_MAX_NC; /* grid y (only without the GEMM) */
    *nc = n;
    return true;
}

static int record_mul_mat(vk_rec *r, const sc_tensor *node) {
    vk_dev *d = vk_rec_dev(r);
    vk_tune_sel sel; /* the tuned variant (vk_tune.c; zeros: the heuristics below) */
    vk_tune_pick(d, node, &sel);
    /* prefill on the matrix units (VK_KHR_cooperative_matrix), vk_op_matmul_coop.c */
    if (sel.path == VK_TP_COOP ||
        (sel.path == VK_TP_AUTO && vk_dev_caps(d)->coop_matrix && vk_mm_coop_supports(d, node)))
        return vk_mm_coop_record(r, node, &sel);
    /* decode on int8 activations and integer dot products (the default where the device has them;
     * STRIXCORE_VK_MATMUL=exact turns it off), vk_op_matmul_dp4.c */
    if (vk_tune_dp4_ok(&sel) && vk_mm_dp4_supports(d, node))
        return vk_mm_dp4_gemv(r, node->src[0], NULL, node->src[1], node, NULL, &sel);
    const sc_tensor *w = node->src[0], *x = node->src[1];
    const int64_t N = w->ne[1], M = x->ne[1];
    const uint64_t nbatch = (uint64_t)x->ne[2] * (uint64_t)x->ne[3];

    mm_push pc;
    vk_mm_push_fill(&pc, r, node);

    uint32_t nc = 1;
    const bool use_gemm = !vk_mm_gemv_mul_mat(d, w, M, &nc, &sel);

    uint32_t spec[SPEC_COUNT];
    spec_init(spec);
    spec_weight(spec, w);
    const bool wvec = weight_vec_ok(w), xvec = x_vec_ok(x);

    if (use_gemm) {
        spec[SPEC_LX] = GEMM_THREADS;
        spec[SPEC_GMODE] = gemm_gmode(w);
        spec[SPEC_UW] = (w->type != SC_TYPE_QG && wvec) ? 4u : 1u;
        spec[SPEC_NC] = gemm_bm((uint64_t)M);
        spec[SPEC_OPTS] = xvec ? OPT_XVEC4 : 0u;
        vk_pipeline *p = vk_pipeline_get(d, "mul_mat", sizeof pc, spec, SPEC_COUNT, 0);
        if (!p) return SC_EBACKEND;
        return vk_mm_dispatch_split(r, p, &pc, sizeof pc, &pc.base_x, &pc.base_z, div_up((uint64_t)N, GEMM_BN),
                                div_up((uint64_t)M, spec[SPEC_NC]), nbatch);
    }

    /* GEMV: nc columns per workgroup (vk_mm_gemv_mul_mat) */
    char module[64];
    vk_mm_gemv_setup(d, w, x, N, nc, "mul_mat_vec", &sel, spec, module, sizeof module);
    vk_pipeline *p = vk_pipeline_get(d, module, sizeof pc, spec, SPEC_COUNT, 0);
    if (!p) return SC_EBACKEND;
    return vk_mm_dispatch_split(r, p, &pc, sizeof pc, &pc.base_x, &pc.base_z, div_up((uint64_t)N, spec[SPEC_NR]),
                                div_up((uint64_t)M, nc), nbatch);
}

/* ---- MUL_MAT_ID ---------------------------------------------------------------------------- */
bool vk_mm_gemv_mul_mat_id(vk_dev *d, const sc_tensor *w, uint64_t npairs, const vk_tune_sel *sel) {
    const uint64_t E = (uint64_t)w->ne[2];
    const unsigned dbg = dbg_flags();
    const bool gemm_ok = vk_dev_caps(d)->max_workgroup_size >= GEMM_THREADS && E <= GROUP_MAX_E && !(dbg & DBG_GEMV);
    const uint8_t path = sel ? sel->path : VK_TP_AUTO; /* tuned: per pair (GEMV) or grouped (GEMM, COOP) */
    if (path == VK_TP_GEMV) return true;
    if (gemm_ok && (path == VK_TP_GEMM || path == VK_TP_COOP)) return false;
    return !(gemm_ok && (npairs >= (uint64_t)GROUP_MIN_PAIRS * E || (dbg & DBG_GEMM)));
}

static int record_mul_mat_id(vk_rec *r, const sc_tensor *node) {
    vk_dev *d = vk_rec_dev(r);
    vk_tune_sel sel; /* the tuned variant (vk_tune.c; zeros: the heuristics below) */
    vk_tune_pick(d, node, &sel);
    /* prefill on the matrix units: sort by expert, then a coop GEMM per expert (vk_op_matmul_coop.c) */
    if (sel.path == VK_TP_COOP ||
        (sel.path == VK_TP_AUTO && vk_dev_caps(d)->coop_matrix && vk_mm_coop_id_supports(d, node)))
        return vk_mm_coop_id_record(r, node);
    const sc_tensor *w = node->src[0], *x = node->src[1], *ids = node->src[2];
    const int64_t K = w->ne[0], N = w->ne[1], E = w->ne[2];
    const int64_t n_used = ids->ne[0], T = ids->ne[1];
    const uint64_t npairs = (uint64_t)n_used * (uint64_t)T;

    mmid_push pc;
    memset(&pc, 0, sizeof pc);
    pc.w = vk_addr(w);
    pc.x = vk_addr(x);
    pc.y = vk_addr(node);
    pc.err = vk_rec_error_addr(r);
    pc.ids = vk_addr(ids);
    pc.w_nb2 = w->nb[2];
    pc.w_nb1 = u32_of(w->nb[1]);
    pc.K = (uint32_t)K;
    pc.N = (uint32_t)N;
    pc.E = (uint32_t)E;
    pc.x_nb1 = u32_of(x->nb[1] / 4);
    pc.x_nb2 = u32_of(x->nb[2] / 4);
    pc.y_nb1 = u32_of(node->nb[1] / 4);
    pc.y_nb2 = u32_of(node->nb[2] / 4);
    pc.n_used = (uint32_t)n_used;
    pc.T = (uint32_t)T;
    pc.x_bcast = x->ne[1] == 1 ? 1u : 0u;
    pc.ids_nb1 = u32_of(ids->nb[1] / 4);
    vk_mm_push_quant(w, &pc.q_scales, &pc.q_zeros, &pc.q_gidx, &pc.group_size, &pc.G);

    const bool use_gemm = !vk_mm_gemv_mul_mat_id(d, w, npairs, &sel);

    uint32_t spec[SPEC_COUNT];
    spec_init(spec);
    spec_weight(spec, w);
    const bool wvec = weight_vec_ok(w), xvec = x_vec_ok(x);

    if (use_gemm) {
        /* 1. the pairs sorted by expert: u32 off[E + 1], list[npairs] */
        uint64_t lists = 0;
        int rc = vk_mm_id_lists(r, ids, pc.E, &lists);
        if (rc != SC_OK) return rc;
        /* 2. one workgroup per (64 rows, expert) over the expert's pairs */
        pc.ids = lists;
        spec[SPEC_LX] = GEMM_THREADS;
        spec[SPEC_GMODE] = gemm_gmode(w);
        spec[SPEC_UW] = (w->type != SC_TYPE_QG && wvec) ? 4u : 1u;
        spec[SPEC_NC] = gemm_bm((npairs + (uint64_t)E - 1) / (uint64_t)E); /* pairs per expert, on average */
        spec[SPEC_OPTS] = xvec ? OPT_XVEC4 : 0u;
        vk_pipeline *p = vk_pipeline_get(d, "mul_mat_id", sizeof pc, spec, SPEC_COUNT, 0);
        if (!p) return SC_EBACKEND;
        return vk_mm_dispatch_split(r, p, &pc, sizeof pc, &pc.base_x, &pc.base_z, div_up((uint64_t)N, GEMM_BN),
                                (uint32_t)E, 1);
    }

    /* GEMV per (i, t) pair: grid z = pairs */
    char module[64];
    vk_mm_gemv_setup(d, w, x, N, 1, "mul_mat_vec_id", &sel, spec, module, sizeof module);
    vk_pipeline *p = vk_pipeline_get(d, module, sizeof pc, spec, SPEC_COUNT, 0);
    if (!p) return SC_EBACKEND;
    return vk_mm_dispatch_split(r, p, &pc, sizeof pc, &pc.base_x, &pc.base_z, div_up((uint64_t)N, spec[SPEC_NR]), 1,
                                npairs);
}

int vk_mm_id_lists(vk_rec *r, const sc_tensor *ids, uint32_t E, uint64_t *lists) {
    vk_dev *d = vk_rec_dev(r);
    const vk_caps *caps = vk_dev_caps(d);
    const uint64_t n_used = (uint64_t)ids->ne[0], T = (uint64_t)ids->ne[1], npairs = n_used * T;
    const uint64_t bytes = (T - 1) * ids->nb[1] + n_used * 4u;
    const uint64_t tag = (0x1d5ull << 52) ^ ((uint64_t)E << 32) ^ (n_used << 16) ^ (uint64_t)ids->nb[1];
    if (vk_rec_memo_get(r, tag, vk_addr(ids), bytes, lists)) {
        VK_LOG(SC_LOG_DEBUG, "id lists: shared (%llu pairs, %u experts)", (unsigned long long)npairs, E);
        return SC_OK;
    }
    int rc = vk_rec_scratch(r, (size_t)(E + 1 + npairs) * 4u, lists);
    if (rc != SC_OK) return rc;
    mmg_push gp = {.ids = vk_addr(ids), .out = *lists, .err = vk_rec_error_addr(r), .n_used = (uint32_t)n_used,
                   .T = (uint32_t)T, .ids_nb1 = (uint32_t)(ids->nb[1] / 4), .E = E};
    uint32_t gspec[3] = {caps->max_workgroup_size >= 256 ? 256u : caps->max_workgroup_size, 1, 1};
    vk_pipeline *gpipe = vk_pipeline_get(d, "mul_mat_id_group", sizeof gp, gspec, 3, 0);
    if (!gpipe) return SC_EBACKEND;
    rc = vk_dispatch(r, gpipe, &gp, sizeof gp, 1, 1, 1);
    if (rc != SC_OK) return rc;
    vk_rec_memo_put(r, tag, vk_addr(ids), bytes, *lists); /* the caller's GEMM gets the barrier */
    return SC_OK;
}

int vk_record_matmul(vk_rec *r, const sc_tensor *node) {
    if (node->op == SC_OP_MUL_MAT) return record_mul_mat(r, node);
    if (node->op == SC_OP_MUL_MAT_ID) return record_mul_mat_id(r, node);
    return SC_ENOTSUP;
}

/* ---- tuning (vk_tune.c; docs/vulkan.md "Tuning") ------------------------------------------------ */

/* The weight's part of a key: f32 / f16 / bf16, or q<bits>g<group>[+gidx][+bf16r]. */
static void weight_key(const sc_tensor *w, char *buf, size_t n) {
    if (w->type != SC_TYPE_QG) {
        snprintf(buf, n, "%s", vk_host->type_name(w->type));
        return;
    }
    const sc_quant_info *q = &w->quant;
    snprintf(buf, n, "q%ug%u%s%s", q->bits, q->group_size, (q->flags & SC_QUANT_HAS_GIDX) ? "+gidx" : "",
             (q->flags & SC_QUANT_BF16_ROUND) ? "+bf16r" : "");
}

/* Add name; returns its index. */
static int add(sc_tune_info *info, const char *name) { return sc_tune_info_add(info, name); }

/* The f32 GEMV's launch shapes for w, x with nc columns (base: the plain
 * module's): the heuristic one, then WGX on or off, WGX shapes, rows per
 * workgroup, lanes, QG words per step; each listed only where it differs
 * from the heuristic's and the device runs it. */
static void gemv_variants(vk_dev *d, const sc_tensor *w, const sc_tensor *x, uint32_t nc, const char *base,
                          sc_tune_info *info) {
    const vk_caps *caps = vk_dev_caps(d);
    const int64_t N = w->ne[1];
    uint32_t spec[SPEC_COUNT], wspec[SPEC_COUNT], nspec[SPEC_COUNT];
    char module[64], name[SC_TUNE_NAME_LEN];
    vk_mm_gemv_setup(d, w, x, N, nc, base, NULL, spec, module, sizeof module);
    const vk_tune_sel on = {.path = VK_TP_GEMV, .wgx = 2}, off = {.path = VK_TP_GEMV, .wgx = 1};
    vk_mm_gemv_setup(d, w, x, N, nc, base, &on, wspec, module, sizeof module);
    vk_mm_gemv_setup(d, w, x, N, nc, base, &off, nspec, module, sizeof module);
    const bool wgx_def = (spec[SPEC_OPTS] & OPT_WGX) != 0, wgx_can = (wspec[SPEC_OPTS] & OPT_WGX) != 0;
    add(info, "gemv");
    if (wgx_def) add(info, "gemv.nowgx");
    else if (wgx_can) add(info, "gemv.wgx");
    if (wgx_can) {
        add(info, "gemv.wgx.w2r4");
        if (caps->max_workgroup_size >= 256) add(info, "gemv.wgx.w8r1");
    }
    for (uint32_t nr = 2; nr <= 8; nr *= 2) {
        if (nr == nspec[SPEC_NR]) continue;
        snprintf(name, sizeof name, "gemv.nr%u", nr);
        add(info, name);
    }
    const uint32_t bs = nspec[SPEC_LX] < 128 ? 128u : 64u; /* the other of 64 / 128 lanes */
    if (bs != nspec[SPEC_LX] && bs >= nspec[SPEC_SGX] && bs <= caps->max_workgroup_size) {
        snprintf(name, sizeof name, "gemv.bs%u", bs);
        add(info, name);
    }
    if (w->type == SC_TYPE_QG && w->quant.bits != 3) {
        if (nspec[SPEC_UW] != 1) add(info, "gemv.uw1");
        else if (weight_vec_ok(w)) add(info, "gemv.uw4");
    }
}

/* MUL_MAT: key mm.<weight>:N=,K=,M=<bucket>[,B=<batch>]. Variants: "coop"
 * (+ "coop.sk1|2|4" split-K parts) where the device has matrix units and
 * M >= 16; "gemm" where the tiled GEMM runs (M >= 2, or the default);
 * "dp4" (+ "dp4.r2", "dp4.r4" rows per team, "dp4.l64", "dp4.l256" lanes)
 * where the int8 GEMV takes the node; "gemv" and its launch shapes
 * (gemv_variants) for M <= 64. The default: coop, dp4, gemv or gemm as
 * record_mul_mat picks without a table. */
static int mm_variants(vk_dev *d, const sc_tensor *node, sc_tune_info *info) {
    const vk_caps *caps = vk_dev_caps(d);
    const sc_tensor *w = node->src[0], *x = node->src[1];
    const int64_t N = w->ne[1], K = w->ne[0], M = x->ne[1];
    const uint64_t nbatch = (uint64_t)x->ne[2] * (uint64_t)x->ne[3];
    char wk[48], key[SC_TUNE_KEY_LEN], bk[32] = "", name[SC_TUNE_NAME_LEN];
    weight_key(w, wk, sizeof wk);
    if (nbatch > 1) snprintf(bk, sizeof bk, ",B=%llu", (unsigned long long)nbatch);
    if (!sc_tune_key(key, "mm.%s:N=%lld,K=%lld,M=%lld%s", wk, (long long)N, (long long)K,
                     (long long)sc_tune_bucket(M), bk))
        return SC_ENOTSUP;
    sc_tune_info_begin(info, key);
    const bool coop_def = caps->coop_matrix && vk_mm_coop_supports(d, node);
    const bool coop_can = caps->coop_matrix && caps->fp16_arith && (coop_def || (M >= 16 && vk_mm_coop_can(d, node)));
    const bool dp4 = vk_mm_dp4_supports(d, node);
    uint32_t nc = 1;
    const bool gemv_def = vk_mm_gemv_mul_mat(d, w, M, &nc, NULL);
    const bool gemm_ok = caps->max_workgroup_size >= GEMM_THREADS;
    const char *def = coop_def ? "coop" : dp4 ? "dp4" : gemv_def ? "gemv" : "gemm";
    if (coop_can) {
        add(info, "coop");
        for (uint32_t S = 1; S <= 4; S *= 2)
            if (vk_mm_coop_splitk_ok(d, node, S)) {
                snprintf(name, sizeof name, "coop.sk%u", S);
                add(info, name);
            }
    }
    if (gemm_ok && (M >= 2 || !gemv_def)) add(info, "gemm");
    if (dp4) {
        add(info, "dp4");
        add(info, "dp4.r2");
        add(info, "dp4.r4");
        if (vk_mm_dp4_lanes_ok(d, 64)) add(info, "dp4.l64");
        if (vk_mm_dp4_lanes_ok(d, 256)) add(info, "dp4.l256");
    }
    if (gemv_def || M <= 64) {
        /* the columns per workgroup the GEMV takes when forced (as record_mul_mat will) */
        const vk_tune_sel g = {.path = VK_TP_GEMV};
        vk_mm_gemv_mul_mat(d, w, M, &nc, &g);
        gemv_variants(d, w, x, nc, "mul_mat_vec", info);
    }
    return sc_tune_info_find(info, def);
}

/* MUL_MAT_ID: key mmid.<weight>:N=,K=,E=,U=<n_used>,X=<x columns per token>,T=<bucket>.
 * Variants: "gemv" (per pair; + its launch shapes "gemv.nr2" .. "gemv.uw1")
 * for T <= 64 or where it is the default, "grouped" (sorted by expert, the
 * tiled GEMM), "coop" where the device has matrix units. A per-pair choice
 * other than "gemv" itself also sets the fused MoE kernels (vk_fuse_gemv.c)
 * to the f32 GEMV of that shape. */
static int mmid_variants(vk_dev *d, const sc_tensor *node, sc_tune_info *info) {
    const vk_caps *caps = vk_dev_caps(d);
    const sc_tensor *w = node->src[0], *x = node->src[1], *ids = node->src[2];
    const int64_t N = w->ne[1], K = w->ne[0], E = w->ne[2], n_used = ids->ne[0], T = ids->ne[1];
    const uint64_t npairs = (uint64_t)n_used * (uint64_t)T;
    char wk[48], key[SC_TUNE_KEY_LEN];
    weight_key(w, wk, sizeof wk);
    if (!sc_tune_key(key, "mmid.%s:N=%lld,K=%lld,E=%lld,U=%lld,X=%lld,T=%lld", wk, (long long)N, (long long)K,
                     (long long)E, (long long)n_used, (long long)x->ne[1], (long long)sc_tune_bucket(T)))
        return SC_ENOTSUP;
    sc_tune_info_begin(info, key);
    const bool coop_def = caps->coop_matrix && vk_mm_coop_id_supports(d, node);
    const bool coop_can = caps->coop_matrix && caps->fp16_arith && (coop_def || vk_mm_coop_id_can(d, node));
    const bool gemv_def = vk_mm_gemv_mul_mat_id(d, w, npairs, NULL);
    const bool grouped_ok = caps->max_workgroup_size >= GEMM_THREADS && (uint64_t)E <= GROUP_MAX_E;
    const char *def = coop_def ? "coop" : gemv_def ? "gemv" : "grouped";
    if (coop_can) add(info, "coop");
    if (grouped_ok) add(info, "grouped");
    if (gemv_def || T <= 64) {
        char name[SC_TUNE_NAME_LEN];
        uint32_t spec[SPEC_COUNT];
        char module[64];
        const vk_tune_sel off = {.path = VK_TP_GEMV, .wgx = 1};
        vk_mm_gemv_setup(d, w, x, N, 1, "mul_mat_vec_id", &off, spec, module, sizeof module);
        add(info, "gemv");
        for (uint32_t nr = 2; nr <= 8; nr *= 2) {
            if (nr == spec[SPEC_NR]) continue;
            snprintf(name, sizeof name, "gemv.nr%u", nr);
            add(info, name);
        }
        if (w->type == SC_TYPE_QG && w->quant.bits != 3 && spec[SPEC_UW] != 1) add(info, "gemv.uw1");
    }
    return sc_tune_info_find(info, def);
}

int vk_mm_tune_variants(vk_dev *d, const sc_tensor *node, sc_tune_info *info) {
    const char *env = getenv("STRIXCORE_VK_MATMUL");
    if (env && *env) return SC_ENOTSUP; /* the knobs win: nothing is tuned while they are set */
    if (!vk_supports_matmul(d, node)) return SC_ENOTSUP;
    return node->op == SC_OP_MUL_MAT ? mm_variants(d, node, info) : mmid_variants(d, node, info);
}

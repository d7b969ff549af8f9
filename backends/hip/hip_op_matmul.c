/*
 * backends/hip/hip_op_matmul.c - the matmul family on HIP: MUL_MAT and
 * MUL_MAT_ID (kernels/matmul_*.hip, arguments kernels/matmul.h; the
 * reference is backends/cpu/ref_matmul.c).
 *
 *   MUL_MAT    w [K, N, B2, B3] (f32/f16/bf16/QG), x f32 [K, M, b2, b3]
 *              -> y f32 [N, M, b2, b3]; batch (i2, i3) reads weight matrix
 *              (i2 / (b2/B2), i3 / (b3/B3)).
 *   MUL_MAT_ID w [K, N, E], x f32 [K, X, T] (X == n_used or 1), ids i32
 *              [n_used, T] -> y f32 [N, n_used, T].
 *              (The SC_TENSOR_ONE_HOT routing stack is an ordinary f32 weight here.)
 *
 * Paths and launch geometry:
 *   GEMV  (MUL_MAT with M <= GEMV_MAX_M; MUL_MAT_ID with fewer than
 *         GROUP_MIN_AVG pairs per expert on average): k_mm_gemv_<w>, 128
 *         threads = 4 warps x 2 weight rows, up to 4 columns a block; grid
 *         (ceil(N / 8), ceil(M / 4), batches) or (ceil(N / 8), 1, pairs):
 *         MUL_MAT_ID reads only the selected experts' weights. f32
 *         arithmetic on the reference's dequantised weights (nmse ~1e-14).
 *   dp4   the GEMV on int8 activations for 4/8-bit QG without g_idx, whole
 *         32-code groups, K % 32 == 0: k_mm_quant_q8 (x -> int8 blocks of 32
 *         in node scratch, 256 threads, a block of 32 per warp) then
 *         k_mm_gemv_dp4_q4/_q8 (the GEMV's geometry). About 4x fewer ALU
 *         instructions per weight than dequantising to f32 (what makes a
 *         decode GEMV on a fast memory ALU-bound). Numerics: x rounded to 8
 *         bits per block of 32 (nmse ~1.5e-5 on uniform data), the weights
 *         not rounded to f16/bf16 (relative 2^-12 / 2^-9): within
 *         backend-ops' QG bound (5e-5, cases_matmul.c, which allows this for
 *         exactly this reason; the worst case there is 3.2e-5, on EMU) and
 *         the path the Vulkan backend and the CPU's fast path take by
 *         default. STRIXCORE_HIP_MATMUL=exact turns it off (the end-to-end
 *         comparisons against transformers want that).
 *   GEMM  (MUL_MAT with more columns): k_mm_gemm_<w>, 64 x 64 output tiles,
 *         256 threads; grid (ceil(M / 64), ceil(N / 64), batches). On gfx11
 *         (hip_caps()->wmma) f16/bf16/QG weights take k_mm_gemm_wmma_<w>
 *         (x rounded to f16 for f16 and QG weights, nmse ~1e-7; split into
 *         two bf16 for bf16 and bf16-rounded QG weights, ~2^-16 relative);
 *         f32 weights always the f32 FMA kernel.
 *   grouped MUL_MAT_ID (the rest): k_mm_id_lists sorts the pairs by expert
 *         into node scratch (one block), then the GEMM kernels run one block
 *         per (expert, 64-pair tile) work item x 64 rows: grid
 *         (ceil(pairs / 64) + min(E, pairs), ceil(N / 64)); blocks past the
 *         real number of work items return at once.
 *
 * Tuning (hip_tune.c, docs/hip.md "Tuning"): the paths above are the
 * variants, named gemv / gemv-dp4 / gemm / gemm-wmma for MUL_MAT and gemv /
 * gemv-dp4 / grouped / grouped-wmma for MUL_MAT_ID, plus two launch
 * geometries of the dp4 GEMV, gemv-dp4.r1 / gemv-dp4.r4
 * (k_mm_gemv_dp4_q*_r1 / _r4: 1 or 4 weight rows a warp, grid x
 * ceil(N / (4 * rows))); tune_query lists those
 * whose launch limits the node meets (path_valid), the default is the
 * heuristic above (path_default). Keys (mm_key):
 *   mm.<w>:N=..,K=..,M=<bucket>[,B=<batches>]
 *   mmid.<w>:N=..,K=..,E=..,U=<n_used>,T=<bucket>[,X=1]
 * At dispatch (choose) the table's choice runs when valid for the node;
 * with an empty table no key is built.
 *
 * STRIXCORE_HIP_MATMUL (comma-separated, for tests and measurements; exact,
 * dp4, gemv and gemm win over the tuning table and make these nodes
 * untunable, wmma / nowmma only add or remove the WMMA variants):
 *   exact   no dp4 (every GEMV on the reference's f32 weights)
 *   dp4     dp4 wherever it can run, also past GEMV_MAX_M (MUL_MAT) and for
 *           every MUL_MAT_ID that its GEMV takes
 *   gemv    the GEMV for every M and per pair for every MUL_MAT_ID
 *   gemm    the GEMM for every M, the grouped path for every MUL_MAT_ID
 *   nowmma  the f32 FMA GEMM even where WMMA is available
 *   wmma    the WMMA GEMM kernels whatever hip_caps says: only for testing a
 *           build whose EMU kernels emulate WMMA (elsewhere they are empty)
 *
 * Supported: what the reference accepts, with 32-bit counts (K < 2^28, N,
 * M, pairs), batches <= 65535, 4-byte aligned QG slabs and element-aligned
 * dense strides; MUL_MAT_ID needs the GEMV (pairs <= 65535) or the grouped
 * path (E <= 1024).
 *
 * Range errors (an expert id outside 0..E-1, a g_idx entry outside 0..G-1 of
 * a weight matrix the op reads: the reference's SC_ERANGE) are reported by
 * the kernels in the stream's error word (hip_err_word; every launch gets it
 * as sc_mm_cols.err / sc_mm_id_lists_args.err), and graph_compute returns
 * SC_ERANGE. The rest of the op still runs: such a pair's column is left
 * unwritten, such a weight uses group 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hip_internal.h"
#include "sc_tune_table.h"
#include "sc_tensor_checks.h"
#include "matmul.h"

#define GEMV_MAX_M 8     /* MUL_MAT columns up to which the GEMV runs (2 passes of 4) */
#define GROUP_MIN_AVG 8  /* MUL_MAT_ID: pairs per expert from which the grouped GEMM runs */
#define MAX_K (1 << 28)  /* bit offsets k * bits stay below 2^32 */

/* ---- STRIXCORE_HIP_MATMUL ------------------------------------------------------------ */
enum { OPT_EXACT = 1, OPT_DP4 = 2, OPT_GEMV = 4, OPT_GEMM = 8, OPT_NOWMMA = 16, OPT_WMMA = 32 };
/* the knobs that force a path: with any of them the table is not consulted
 * and tune_query answers SC_ENOTSUP (nowmma / wmma only say whether the WMMA
 * kernels may run: the variants follow them) */
#define OPT_FORCING (OPT_EXACT | OPT_DP4 | OPT_GEMV | OPT_GEMM)

static unsigned opts(void) {
    static int cached = -1; /* a benign race: every thread computes the same value */
    if (cached < 0) {
        const char *s = getenv("STRIXCORE_HIP_MATMUL");
        unsigned f = 0;
        if (s) {
            if (strstr(s, "exact")) f |= OPT_EXACT;
            if (strstr(s, "dp4")) f |= OPT_DP4;
            if (strstr(s, "gemv")) f |= OPT_GEMV;
            if (strstr(s, "gemm")) f |= OPT_GEMM;
            if (strstr(s, "nowmma")) f |= OPT_NOWMMA;
            else if (strstr(s, "wmma")) f |= OPT_WMMA;
        }
        cached = (int)f;
    }
    return (unsigned)cached;
}

/* ---- checks ------------------------------------------------------------------------------- */

/* contiguous rows of `type`, every stride and the address element-aligned */
static bool rows_ok(const sc_tensor *t, int32_t type) {
    const size_t es = sc_chk_elem_size(type);
    if (!sc_chk_shape_ok32(t) || t->type != type || t->nb[0] != es) return false;
    for (int d = 1; d < SC_MAX_DIMS; d++)
        if (t->nb[d] % es != 0) return false;
    return (uintptr_t)t->data % es == 0; /* data: NULL before allocation */
}

/* The QG layout, plus 4-byte aligned slabs: the kernels read codes as u32 words. */
static bool qg_ok(const sc_tensor *w) {
    return sc_chk_qg_layout(w, NULL) && w->nb[2] % 4 == 0 && w->nb[3] % 4 == 0 && (uintptr_t)w->data % 4 == 0;
}

static bool weight_ok(const sc_tensor *w) {
    if (!sc_chk_shape_ok32(w) || w->ne[0] >= MAX_K) return false;
    if (w->type == SC_TYPE_QG) return qg_ok(w);
    if (w->type != SC_TYPE_F32 && w->type != SC_TYPE_F16 && w->type != SC_TYPE_BF16) return false;
    return rows_ok(w, w->type);
}

/* QG whose every 32-code unit lies in one group (the fast GEMV kernels) */
static bool qg_units(const sc_tensor *w) {
    const sc_quant_info *q = &w->quant;
    return w->type == SC_TYPE_QG && !(q->flags & SC_QUANT_HAS_GIDX) && (q->group_size % 32 == 0 || q->n_groups == 1);
}

/* May the dp4 GEMV take this weight, for ncols columns of x (int8 copies
 * of at most DP4_MAX_BYTES in node scratch, one warp of the quantizer per
 * block of 32)? ncols 0: any number. */
#define DP4_MAX_BYTES ((int64_t)256 << 20)
static bool dp4_ok(const sc_tensor *w, int64_t ncols) {
    if (opts() & OPT_EXACT) return false;
    if (!qg_units(w) || (w->quant.bits != 4 && w->quant.bits != 8) || w->ne[0] % SC_MM_Q8_BLOCK != 0) return false;
    return ncols == 0 || ncols * w->ne[0] <= DP4_MAX_BYTES;
}

/* Path choices. */
static bool mm_gemv(const sc_tensor *w, int64_t M) {
    const unsigned o = opts();
    if ((uint64_t)M > (uint64_t)HIP_GRID_YZ_MAX * SC_MM_GEMV_COLS) return false; /* grid y */
    if (o & OPT_GEMV) return true;
    if (o & OPT_GEMM) return false;
    return M <= GEMV_MAX_M || ((o & OPT_DP4) && dp4_ok(w, 0));
}

static bool mmid_grouped(const sc_tensor *w, int64_t npairs) {
    const int64_t E = w->ne[2];
    const bool gemv_ok = npairs <= (int64_t)HIP_GRID_YZ_MAX, group_ok = E <= SC_MM_ID_MAX_E;
    const unsigned o = opts();
    if (!gemv_ok || !group_ok) return !gemv_ok;
    if (o & OPT_GEMV) return false;
    if (o & OPT_GEMM) return true;
    return npairs >= GROUP_MIN_AVG * E;
}

static bool supports_mul_mat(const sc_tensor *node) {
    const sc_tensor *w = node->src[0], *x = node->src[1];
    if (!weight_ok(w) || !rows_ok(x, SC_TYPE_F32) || !rows_ok(node, SC_TYPE_F32)) return false;
    if (!sc_chk_mul_mat_shape(node)) return false;
    if (x->ne[2] * x->ne[3] > (int64_t)HIP_GRID_YZ_MAX) return false;           /* grid z */
    if (hip_div_up(w->ne[1], SC_MM_TILE) > HIP_GRID_YZ_MAX) return false;       /* GEMM grid y */
    return true;
}

static bool supports_mul_mat_id(const sc_tensor *node) {
    const sc_tensor *w = node->src[0], *x = node->src[1], *ids = node->src[2];
    if (!weight_ok(w) || !rows_ok(x, SC_TYPE_F32) || !rows_ok(ids, SC_TYPE_I32) || !rows_ok(node, SC_TYPE_F32))
        return false;
    if (!sc_chk_mul_mat_id_shape(node)) return false;
    const int64_t n_used = ids->ne[0], T = ids->ne[1];
    const int64_t npairs = n_used * T;
    if (npairs > INT32_MAX / 2) return false;
    if (npairs > (int64_t)HIP_GRID_YZ_MAX && w->ne[2] > SC_MM_ID_MAX_E) return false; /* neither path */
    return hip_div_up(w->ne[1], SC_MM_TILE) <= HIP_GRID_YZ_MAX;
}

bool hip_supports_matmul(hip_dev *d, const sc_tensor *node) {
    (void)d;
    if (!node) return false;
    if (node->op == SC_OP_MUL_MAT) return supports_mul_mat(node);
    if (node->op == SC_OP_MUL_MAT_ID) return supports_mul_mat_id(node);
    return false;
}

/* ---- arguments ------------------------------------------------------------------------------ */
/* the largest of 16, 8, 4 (or 2, 1) dividing every value */
static uint32_t align_of(uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
    const uint64_t v = a | b | c | d;
    for (uint32_t al = 16; al > 1; al /= 2)
        if (v % al == 0) return al;
    return 1;
}

static sc_mm_weight weight_args(const sc_tensor *w) {
    sc_mm_weight a;
    memset(&a, 0, sizeof a);
    a.base = w->data;
    a.nb1 = (int64_t)w->nb[1];
    a.nb2 = (int64_t)w->nb[2];
    a.nb3 = (int64_t)w->nb[3];
    a.K = (uint32_t)w->ne[0];
    a.N = (uint32_t)w->ne[1];
    a.q_gidx = -1;
    a.group_size = a.G = 1;
    if (w->type == SC_TYPE_QG) {
        const sc_quant_info *q = &w->quant;
        a.q_scales = (int64_t)q->scales_offset;
        a.q_zeros = (int64_t)q->zeros_offset;
        if (q->flags & SC_QUANT_HAS_GIDX) a.q_gidx = (int64_t)q->gidx_offset;
        a.bits = q->bits;
        a.group_size = q->group_size;
        a.G = q->n_groups;
        a.bf16_round = (q->flags & SC_QUANT_BF16_ROUND) ? 1u : 0u;
    }
    /* matrices past the first only exist when ne > 1: their stride does not count otherwise */
    a.align = align_of((uintptr_t)w->data, w->nb[1], w->ne[2] > 1 ? w->nb[2] : 0, w->ne[3] > 1 ? w->nb[3] : 0);
    return a;
}

static bool x_vec(const sc_tensor *x) {
    return align_of((uintptr_t)x->data, x->ne[1] > 1 ? x->nb[1] : 0, x->ne[2] > 1 ? x->nb[2] : 0,
                    x->ne[3] > 1 ? x->nb[3] : 0) >= 16;
}

/* kernel names by weight */
static const char *gemv_kernel(const sc_tensor *w) {
    switch (w->type) {
    case SC_TYPE_F32: return "k_mm_gemv_f32";
    case SC_TYPE_F16: return "k_mm_gemv_f16";
    case SC_TYPE_BF16: return "k_mm_gemv_bf16";
    default: break;
    }
    if (!qg_units(w)) return "k_mm_gemv_qg";
    static const char *const names[2][9] = {
        {NULL, NULL, "k_mm_gemv_q2", "k_mm_gemv_q3", "k_mm_gemv_q4", NULL, NULL, NULL, "k_mm_gemv_q8"},
        {NULL, NULL, "k_mm_gemv_q2_bf", "k_mm_gemv_q3_bf", "k_mm_gemv_q4_bf", NULL, NULL, NULL, "k_mm_gemv_q8_bf"},
    };
    return names[(w->quant.flags & SC_QUANT_BF16_ROUND) ? 1 : 0][w->quant.bits];
}

/* may the WMMA GEMM kernels run on this device (f16/bf16/QG weights)? */
static bool wmma_on(hip_dev *d) {
    return (hip_caps(d)->wmma && !(opts() & OPT_NOWMMA)) || (opts() & OPT_WMMA);
}

static const char *gemm_kernel(bool wmma, const sc_tensor *w) {
    switch (w->type) {
    case SC_TYPE_F32: return "k_mm_gemm_f32";
    case SC_TYPE_F16: return wmma ? "k_mm_gemm_wmma_f16" : "k_mm_gemm_f16";
    case SC_TYPE_BF16: return wmma ? "k_mm_gemm_wmma_bf16" : "k_mm_gemm_bf16";
    default: break;
    }
    if (!wmma) return "k_mm_gemm_qg";
    return (w->quant.flags & SC_QUANT_BF16_ROUND) ? "k_mm_gemm_wmma_qg_bf" : "k_mm_gemm_wmma_qg";
}

/* x -> int8 blocks in node scratch for the dp4 GEMV: ncols columns of x
 * [K, ne1, ne2, ...] (column q = c1 + ne1 * (c2 + ne2 * c3)). */
static int quantize_x(hip_stream *s, const sc_tensor *x, const sc_tensor *w, int64_t ne1, int64_t ne2, int64_t ncols,
                      sc_mm_gemv_args *a) {
    const int64_t K = x->ne[0], nblk = K / SC_MM_Q8_BLOCK;
    const size_t qbytes = ((size_t)ncols * (size_t)K + 255) & ~(size_t)255;
    uint8_t *scratch = hip_scratch(s, qbytes + (size_t)ncols * (size_t)nblk * 8u);
    if (!scratch) return SC_ENOMEM;
    sc_mm_q8_args q = {
        .x = x->data, .xq = (int8_t *)scratch, .xd = (float *)(scratch + qbytes),
        .nb1 = (int64_t)x->nb[1], .nb2 = (int64_t)x->nb[2], .nb3 = (int64_t)x->nb[3],
        .ne1 = (uint32_t)ne1, .ne2 = (uint32_t)ne2, .ncols = (uint32_t)ncols, .K = (uint32_t)K,
        .perm = w->quant.bits == 4 ? 1u : 0u,
    };
    a->xq = q.xq;
    a->xd = q.xd;
    const int64_t warps = ncols * nblk, per_block = SC_MM_Q8_THREADS / 32;
    return HIP_LAUNCH(s, "k_mm_quant_q8", hip_div_up(warps, per_block), 1, 1, SC_MM_Q8_THREADS, q);
}

/* ---- paths and tuning --------------------------------------------------------------------- */
/* The kernels a matmul node can take. Names (persisted in tuning caches):
 * MUL_MAT gemv / gemv-dp4 / gemm / gemm-wmma, MUL_MAT_ID gemv / gemv-dp4 /
 * grouped / grouped-wmma. */
typedef enum mm_path { MM_GEMV, MM_DP4, MM_DP4_R1, MM_DP4_R4, MM_GEMM, MM_WMMA, MM_NPATHS } mm_path;
static const char *const mm_names[MM_NPATHS] = {"gemv", "gemv-dp4", "gemv-dp4.r1", "gemv-dp4.r4", "gemm", "gemm-wmma"};
static const char *const mmid_names[MM_NPATHS] = {"gemv",        "gemv-dp4", "gemv-dp4.r1",
                                                  "gemv-dp4.r4", "grouped",  "grouped-wmma"};

static bool is_dp4(mm_path p) { return p == MM_DP4 || p == MM_DP4_R1 || p == MM_DP4_R4; }

/* the dp4 GEMV kernel of a path and its weight rows per warp */
static const char *dp4_kernel(mm_path p, const sc_tensor *w, int *rows) {
    const bool q4 = w->quant.bits == 4;
    switch (p) {
    case MM_DP4_R1: *rows = 1; return q4 ? "k_mm_gemv_dp4_q4_r1" : "k_mm_gemv_dp4_q8_r1";
    case MM_DP4_R4: *rows = 4; return q4 ? "k_mm_gemv_dp4_q4_r4" : "k_mm_gemv_dp4_q8_r4";
    default: *rows = SC_MM_GEMV_ROWS; return q4 ? "k_mm_gemv_dp4_q4" : "k_mm_gemv_dp4_q8";
    }
}

/* What one node is, for choosing: MUL_MAT columns M and batches, MUL_MAT_ID
 * pairs and the columns the dp4 GEMV would quantize. */
typedef struct mm_shape {
    bool id;
    int64_t M, nbatch;     /* MUL_MAT */
    int64_t npairs, xcols; /* MUL_MAT_ID: n_used * T, X * T */
} mm_shape;

static mm_shape shape_of(const sc_tensor *node) {
    const sc_tensor *x = node->src[1];
    mm_shape sh = {.id = node->op == SC_OP_MUL_MAT_ID};
    if (sh.id) {
        const sc_tensor *ids = node->src[2];
        sh.npairs = ids->ne[0] * ids->ne[1];
        sh.xcols = x->ne[1] * ids->ne[1];
    } else {
        sh.M = x->ne[1];
        sh.nbatch = x->ne[2] * x->ne[3];
    }
    return sh;
}

/* Can path p compute this node? (Every path computes every node it can run
 * within the op's tolerance; these are the launch limits.) */
static bool path_valid(hip_dev *d, const sc_tensor *w, const mm_shape *sh, mm_path p) {
    const bool wmma_w = w->type != SC_TYPE_F32 && wmma_on(d); /* f32 weights: the FMA GEMM only */
    if (sh->id) {
        const bool gemv = sh->npairs <= (int64_t)HIP_GRID_YZ_MAX, group = w->ne[2] <= SC_MM_ID_MAX_E;
        switch (p) {
        case MM_GEMV: return gemv;
        case MM_DP4:
        case MM_DP4_R1:
        case MM_DP4_R4: return gemv && dp4_ok(w, sh->xcols);
        case MM_GEMM: return group;
        case MM_WMMA: return group && wmma_w;
        default: return false;
        }
    }
    const bool gemv = (uint64_t)sh->M <= (uint64_t)HIP_GRID_YZ_MAX * SC_MM_GEMV_COLS; /* grid y */
    switch (p) {
    case MM_GEMV: return gemv;
    case MM_DP4:
    case MM_DP4_R1:
    case MM_DP4_R4: return gemv && dp4_ok(w, sh->M * sh->nbatch);
    case MM_GEMM: return true;
    case MM_WMMA: return wmma_w;
    default: return false;
    }
}

/* The heuristic (and the env knobs): what runs untuned. */
static mm_path path_default(hip_dev *d, const sc_tensor *w, const mm_shape *sh) {
    const bool gemv = sh->id ? !mmid_grouped(w, sh->npairs) : mm_gemv(w, sh->M);
    if (gemv) return dp4_ok(w, sh->id ? sh->xcols : sh->M * sh->nbatch) ? MM_DP4 : MM_GEMV;
    return path_valid(d, w, sh, MM_WMMA) ? MM_WMMA : MM_GEMM;
}

/* The node's tuning key:
 *   mm.<w>:N=..,K=..,M=<bucket>[,B=<batches>]
 *   mmid.<w>:N=..,K=..,E=..,U=<n_used>,T=<bucket>[,X=1]
 * <w> f32 | f16 | bf16 | q<bits>g<group_size>[.bf][.gidx] (g0: one group per row).
 * False when it does not fit. */
static bool mm_key(const sc_tensor *node, char *key) {
    const sc_tensor *w = node->src[0], *x = node->src[1];
    char wt[40];
    if (w->type == SC_TYPE_QG) {
        const sc_quant_info *q = &w->quant;
        snprintf(wt, sizeof wt, "q%ug%u%s%s", (unsigned)q->bits, q->n_groups == 1 ? 0u : (unsigned)q->group_size,
                 (q->flags & SC_QUANT_BF16_ROUND) ? ".bf" : "", (q->flags & SC_QUANT_HAS_GIDX) ? ".gidx" : "");
    } else {
        snprintf(wt, sizeof wt, "%s", w->type == SC_TYPE_F16 ? "f16" : w->type == SC_TYPE_BF16 ? "bf16" : "f32");
    }
    if (node->op == SC_OP_MUL_MAT_ID) {
        const sc_tensor *ids = node->src[2];
        return sc_tune_key(key, "mmid.%s:N=%lld,K=%lld,E=%lld,U=%lld,T=%lld%s", wt, (long long)w->ne[1],
                           (long long)w->ne[0], (long long)w->ne[2], (long long)ids->ne[0],
                           (long long)sc_tune_bucket(ids->ne[1]), x->ne[1] == 1 ? ",X=1" : "");
    }
    const int64_t nb = x->ne[2] * x->ne[3];
    char bs[32] = "";
    if (nb > 1) snprintf(bs, sizeof bs, ",B=%lld", (long long)nb);
    return sc_tune_key(key, "mm.%s:N=%lld,K=%lld,M=%lld%s", wt, (long long)w->ne[1], (long long)w->ne[0],
                       (long long)sc_tune_bucket(x->ne[1]), bs);
}

static int path_by_name(const char *const *names, const char *name) {
    for (int p = 0; p < MM_NPATHS; p++)
        if (strcmp(names[p], name) == 0) return p;
    return -1;
}

/* The path this node runs: the default, or the table's valid choice.
 * key/variant (for the tune log) are filled when the table was consulted. */
static mm_path choose(hip_stream *s, const sc_tensor *node, const mm_shape *sh, char *key, char *variant,
                      bool *chosen) {
    hip_dev *d = hip_stream_dev(s);
    const sc_tensor *w = node->src[0];
    const mm_path def = path_default(d, w, sh);
    key[0] = '\0';
    *chosen = false;
    if ((opts() & OPT_FORCING) || !hip_tune_active(d) || !mm_key(node, key)) return def;
    if (hip_tune_get(d, key, variant)) {
        const int p = path_by_name(sh->id ? mmid_names : mm_names, variant);
        if (p >= 0 && path_valid(d, w, sh, (mm_path)p)) {
            *chosen = true;
            return (mm_path)p;
        }
    }
    snprintf(variant, SC_TUNE_NAME_LEN, "%s", (sh->id ? mmid_names : mm_names)[def]);
    return def;
}

int hip_tune_query_matmul(hip_dev *d, const sc_tensor *node, sc_tune_info *info) {
    if (opts() & OPT_FORCING) return SC_ENOTSUP; /* an env knob decides */
    char key[SC_TUNE_KEY_LEN], chosen[SC_TUNE_NAME_LEN];
    if (!mm_key(node, key)) return SC_ENOTSUP;
    const sc_tensor *w = node->src[0];
    const mm_shape sh = shape_of(node);
    const char *const *names = sh.id ? mmid_names : mm_names;
    const mm_path def = path_default(d, w, &sh);
    int def_at = -1;
    sc_tune_info_begin(info, key);
    for (int p = 0; p < MM_NPATHS; p++) {
        if (!path_valid(d, w, &sh, (mm_path)p)) continue;
        const int at = sc_tune_info_add(info, names[p]);
        if (p == (int)def) def_at = at;
    }
    return sc_tune_info_finish(info, def_at, hip_tune_get(d, key, chosen) ? chosen : NULL);
}

bool hip_tune_known_matmul(const char *key, const char *variant) {
    return path_by_name(!strncmp(key, "mmid.", 5) ? mmid_names : mm_names, variant) >= 0;
}

/* ---- MUL_MAT -------------------------------------------------------------------------------- */
static int run_mul_mat(hip_stream *s, const sc_tensor *node) {
    const sc_tensor *w = node->src[0], *x = node->src[1];
    const int64_t N = w->ne[1], M = x->ne[1], nbatch = x->ne[2] * x->ne[3];
    const sc_mm_weight wa = weight_args(w);
    const sc_mm_cols ca = {
        .x = x->data, .y = node->data, .ids = NULL, .err = hip_err_word(s),
        .x_nb1 = (int64_t)x->nb[1], .x_nb2 = (int64_t)x->nb[2], .x_nb3 = (int64_t)x->nb[3],
        .y_nb1 = (int64_t)node->nb[1], .y_nb2 = (int64_t)node->nb[2], .y_nb3 = (int64_t)node->nb[3],
        .M = (uint32_t)M, .ne2 = (uint32_t)x->ne[2],
        .r2 = (uint32_t)(x->ne[2] / w->ne[2]), .r3 = (uint32_t)(x->ne[3] / w->ne[3]),
        .xvec = x_vec(x) ? 1u : 0u,
    };
    const unsigned gx = hip_div_up(N, SC_MM_GEMV_WARPS * SC_MM_GEMV_ROWS);
    const mm_shape sh = shape_of(node);
    char key[SC_TUNE_KEY_LEN], variant[SC_TUNE_NAME_LEN];
    bool chosen;
    const mm_path p = choose(s, node, &sh, key, variant, &chosen);

    if (p == MM_GEMV || is_dp4(p)) {
        sc_mm_gemv_args a = {.w = wa, .c = ca};
        if (is_dp4(p)) {
            int rc = quantize_x(s, x, w, M, x->ne[2], M * nbatch, &a), rows;
            if (rc != SC_OK) return rc;
            const char *k = dp4_kernel(p, w, &rows);
            if (key[0]) hip_tune_note(key, variant, chosen, k);
            return HIP_LAUNCH(s, k, hip_div_up(N, SC_MM_GEMV_WARPS * rows), hip_div_up(M, SC_MM_GEMV_COLS), nbatch,
                              SC_MM_GEMV_THREADS, a);
        }
        if (key[0]) hip_tune_note(key, variant, chosen, gemv_kernel(w));
        return HIP_LAUNCH(s, gemv_kernel(w), gx, hip_div_up(M, SC_MM_GEMV_COLS), nbatch, SC_MM_GEMV_THREADS, a);
    }
    sc_mm_gemm_args g = {.w = wa, .c = ca, .lists = NULL};
    const char *k = gemm_kernel(p == MM_WMMA, w);
    if (key[0]) hip_tune_note(key, variant, chosen, k);
    return HIP_LAUNCH(s, k, hip_div_up(M, SC_MM_TILE), hip_div_up(N, SC_MM_TILE), nbatch, SC_MM_GEMM_THREADS, g);
}

/* ---- MUL_MAT_ID ----------------------------------------------------------------------------- */
static int run_mul_mat_id(hip_stream *s, const sc_tensor *node) {
    const sc_tensor *w = node->src[0], *x = node->src[1], *ids = node->src[2];
    const int64_t N = w->ne[1], E = w->ne[2], n_used = ids->ne[0], T = ids->ne[1], X = x->ne[1];
    const int64_t npairs = n_used * T;
    const sc_mm_weight wa = weight_args(w);
    const sc_mm_cols ca = {
        .x = x->data, .y = node->data, .ids = ids->data, .err = hip_err_word(s),
        .x_nb1 = (int64_t)x->nb[1], .x_nb2 = (int64_t)x->nb[2], .x_nb3 = (int64_t)x->nb[3],
        .y_nb1 = (int64_t)node->nb[1], .y_nb2 = (int64_t)node->nb[2], .y_nb3 = (int64_t)node->nb[3],
        .ids_nb1 = (int64_t)ids->nb[1],
        .M = (uint32_t)n_used, .ne2 = (uint32_t)T, .r2 = 1, .r3 = 1,
        .x_bcast = X == 1 ? 1u : 0u, .E = (uint32_t)E,
        .xvec = x_vec(x) ? 1u : 0u,
    };
    const mm_shape sh = shape_of(node);
    char key[SC_TUNE_KEY_LEN], variant[SC_TUNE_NAME_LEN];
    bool chosen;
    const mm_path p = choose(s, node, &sh, key, variant, &chosen);

    if (p == MM_GEMV || is_dp4(p)) {
        /* GEMV per (i, t) pair: grid z */
        sc_mm_gemv_args a = {.w = wa, .c = ca};
        const unsigned gx = hip_div_up(N, SC_MM_GEMV_WARPS * SC_MM_GEMV_ROWS);
        if (is_dp4(p)) {
            int rc = quantize_x(s, x, w, X, T, X * T, &a), rows;
            if (rc != SC_OK) return rc;
            const char *k = dp4_kernel(p, w, &rows);
            if (key[0]) hip_tune_note(key, variant, chosen, k);
            return HIP_LAUNCH(s, k, hip_div_up(N, SC_MM_GEMV_WARPS * rows), 1, npairs, SC_MM_GEMV_THREADS, a);
        }
        if (key[0]) hip_tune_note(key, variant, chosen, gemv_kernel(w));
        return HIP_LAUNCH(s, gemv_kernel(w), gx, 1, npairs, SC_MM_GEMV_THREADS, a);
    }

    /* grouped: 1. the pairs sorted by expert, 2. a GEMM block per (work item, 64 rows) */
    const int64_t max_items = (npairs + SC_MM_TILE - 1) / SC_MM_TILE + (E < npairs ? E : npairs);
    const uint32_t off_at = 4, items_at = (uint32_t)((off_at + E + 1 + 3) & ~3), list_at = items_at + 2 * (uint32_t)max_items;
    uint32_t *lists = hip_scratch(s, ((size_t)list_at + (size_t)npairs) * 4u);
    if (!lists) return SC_ENOMEM;
    sc_mm_id_lists_args la = {
        .ids = ids->data, .lists = lists, .err = hip_err_word(s), .ids_nb1 = (int64_t)ids->nb[1],
        .n_used = (uint32_t)n_used, .T = (uint32_t)T, .E = (uint32_t)E,
        .off_at = off_at, .items_at = items_at, .list_at = list_at,
    };
    int rc = HIP_LAUNCH(s, "k_mm_id_lists", 1, 1, 1, SC_MM_ID_THREADS, la);
    if (rc != SC_OK) return rc;
    sc_mm_gemm_args g = {.w = wa, .c = ca, .lists = lists, .off_at = off_at, .items_at = items_at, .list_at = list_at};
    const char *k = gemm_kernel(p == MM_WMMA, w);
    if (key[0]) hip_tune_note(key, variant, chosen, k);
    return HIP_LAUNCH(s, k, max_items, hip_div_up(N, SC_MM_TILE), 1, SC_MM_GEMM_THREADS, g);
}

int hip_run_matmul(hip_stream *s, const sc_tensor *node) {
    if (!node) return SC_EINVAL;
    if (node->op == SC_OP_MUL_MAT) return run_mul_mat(s, node);
    if (node->op == SC_OP_MUL_MAT_ID) return run_mul_mat_id(s, node);
    return SC_ENOTSUP;
}

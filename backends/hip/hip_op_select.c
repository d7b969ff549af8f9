/*
 * backends/hip/hip_op_select.c - the select family on HIP: GET_ROWS, CPY,
 * TOP_K, ARGMAX (kernels/select.hip; the reference is backends/cpu/
 * ref_get_rows.c, ref_cpy.c, ref_softmax.c).
 *
 * Kernels and launch geometry:
 *   k_get_rows_{f32,f16,bf16,qg}  grid (ceil(D / 256), min(n, 65535)) x 256
 *                                 threads: one thread per output element
 *   k_cpy                         grid-stride over the elements, 256 threads
 *   k_top_k                       one block per row (64 threads for rows of
 *                                 <= 128, else 256): radix select + bitonic
 *                                 sort in shared memory
 *   k_argmax                      one block per row (64 .. 512 threads by n)
 *
 * Supported: what the reference accepts, except counts that do not fit the
 * kernels' 32-bit indices (elements of a CPY, a row's length, rows) and
 * strides that are not multiples of the element size; those run on the CPU.
 * Range errors (an id outside the table, a g_idx entry outside 0..G-1, an
 * i32 -> i8 value outside -128..127: the reference's SC_ERANGE) are reported
 * by the kernels in the stream's error word (hip_err_word, passed as the
 * args' err), and graph_compute returns SC_ERANGE; the element or row
 * concerned is left unwritten, the others are done.
 */
#include "hip_internal.h"
#include "sc_tensor_checks.h"
#include "select.h"

/* ---- shared helpers -------------------------------------------------------------------------- */

static bool is_int(int32_t type) { return type == SC_TYPE_I32 || type == SC_TYPE_I8; }

static int64_t n_elems(const sc_tensor *t) { return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]; }

/* ---- GET_ROWS -------------------------------------------------------------------------------- */


static bool supports_get_rows(const sc_tensor *node) {
    const sc_tensor *table = node->src[0], *ids = node->src[1];
    if (!sc_chk_get_rows(node)) return false;
    return table->ne[0] <= INT32_MAX && table->ne[1] <= INT32_MAX && ids->ne[0] <= INT32_MAX;
}

static int run_get_rows(hip_stream *s, const sc_tensor *node) {
    const sc_tensor *table = node->src[0], *ids = node->src[1];
    const int64_t D = table->ne[0], n = ids->ne[0];
    sel_get_rows_args a = {
        .table = table->data, .ids = ids->data, .y = node->data, .err = hip_err_word(s),
        .tnb1 = (int64_t)table->nb[1], .ynb1 = (int64_t)node->nb[1],
        .gidx_off = -1,
        .D = (int32_t)D, .V = (int32_t)table->ne[1], .n = (int32_t)n,
    };
    const char *name = "k_get_rows_f32";
    if (table->type == SC_TYPE_F16) name = "k_get_rows_f16";
    if (table->type == SC_TYPE_BF16) name = "k_get_rows_bf16";
    if (table->type == SC_TYPE_QG) {
        const sc_quant_info *q = &table->quant;
        name = "k_get_rows_qg";
        a.scales_off = (int64_t)q->scales_offset;
        a.zeros_off = (int64_t)q->zeros_offset;
        if (q->flags & SC_QUANT_HAS_GIDX) a.gidx_off = (int64_t)q->gidx_offset;
        a.bits = q->bits;
        a.group_size = q->group_size;
        a.G = q->n_groups;
        a.bf16_round = (q->flags & SC_QUANT_BF16_ROUND) ? 1u : 0u;
    }
    const unsigned gy = n < (int64_t)HIP_GRID_YZ_MAX ? (unsigned)n : HIP_GRID_YZ_MAX;
    return HIP_LAUNCH(s, name, hip_div_up(D, SEL_WG), gy, 1, SEL_WG, a);
}

/* ---- CPY ------------------------------------------------------------------------------------- */

/* A tensor's shape with size-1 dims dropped and dims contiguous in memory
 * merged: the logical order of the elements and their addresses stay the
 * same, and a dense tensor becomes one dim. */
typedef struct flat {
    int64_t ne[4];
    int64_t nb[4];
} flat;

static flat flatten(const sc_tensor *t) {
    flat f = {{1, 1, 1, 1}, {0, 0, 0, 0}};
    int nd = 0;
    for (int d = 0; d < SC_MAX_DIMS; d++) {
        if (t->ne[d] == 1) continue;
        if (nd > 0 && f.nb[nd - 1] * f.ne[nd - 1] == (int64_t)t->nb[d]) {
            f.ne[nd - 1] *= t->ne[d];
        } else {
            f.ne[nd] = t->ne[d];
            f.nb[nd] = (int64_t)t->nb[d];
            nd++;
        }
    }
    if (nd == 0) f.nb[0] = (int64_t)sc_chk_elem_size(t->type);
    return f;
}

static bool supports_cpy(const sc_tensor *node) {
    const sc_tensor *a = node->src[0];
    if (!sc_chk_shape_ok(a) || !sc_chk_shape_ok(node)) return false;
    const size_t sa = sc_chk_elem_size(a->type), sd = sc_chk_elem_size(node->type);
    if (sa == 0 || sd == 0 || is_int(a->type) != is_int(node->type)) return false;
    const int64_t n = n_elems(a);
    if (n != n_elems(node) || n > INT32_MAX) return false; /* 32-bit element indices */
    for (int d = 0; d < SC_MAX_DIMS; d++) /* element-aligned addresses */
        if ((a->ne[d] > 1 && a->nb[d] % sa != 0) || (node->ne[d] > 1 && node->nb[d] % sd != 0)) return false;
    return true;
}

static int run_cpy(hip_stream *s, const sc_tensor *node) {
    const sc_tensor *a = node->src[0];
    flat fa = flatten(a), fd = flatten(node);
    int32_t ta = a->type, td = node->type;
    int64_t n = n_elems(a);
    /* A dense copy between equal types moves bytes: as 16-byte words (or
     * 4-byte ones) when the size and both addresses allow. */
    const int64_t es = (int64_t)sc_chk_elem_size(ta), bytes = n * es;
    if (ta == td && fa.ne[0] == n && fd.ne[0] == n && fa.nb[0] == es && fd.nb[0] == es) {
        const uintptr_t pa = (uintptr_t)a->data, pd = (uintptr_t)node->data;
        int64_t w = 0;
        if (bytes % 16 == 0 && pa % 16 == 0 && pd % 16 == 0) {
            w = 16;
            ta = td = SEL_T_U128;
        } else if (es < 4 && bytes % 4 == 0 && pa % 4 == 0 && pd % 4 == 0) {
            w = 4;
            ta = td = SEL_T_I32;
        }
        if (w) {
            n = bytes / w;
            fa.ne[0] = fd.ne[0] = n;
            fa.nb[0] = fd.nb[0] = w;
        }
    }
    sel_cpy_args c = {.src = a->data, .dst = node->data, .err = hip_err_word(s), .n = n, .stype = ta, .dtype = td};
    for (int i = 0; i < 4; i++) {
        c.sne[i] = (uint32_t)fa.ne[i];
        c.snb[i] = fa.nb[i];
        c.dne[i] = (uint32_t)fd.ne[i];
        c.dnb[i] = fd.nb[i];
    }
    int64_t blocks = (n + SEL_WG - 1) / SEL_WG;
    if (blocks > 65536) blocks = 65536; /* the kernel strides over the rest */
    return HIP_LAUNCH(s, "k_cpy", blocks, 1, 1, SEL_WG, c);
}

/* ---- TOP_K and ARGMAX: one block per row ----------------------------------------------------- */

static bool supports_top_k(const sc_tensor *node) {
    const sc_tensor *x = node->src[0];
    if (!sc_chk_rows_of(x, SC_TYPE_F32) || !sc_chk_rows_of(node, SC_TYPE_I32)) return false;
    const int32_t k = sc_op_param_i32(node, 0);
    if (k < 1 || k > x->ne[0] || x->ne[0] > INT32_MAX) return false;
    if (node->ne[0] != k || node->ne[1] != x->ne[1] || node->ne[2] != x->ne[2] || node->ne[3] != x->ne[3])
        return false;
    return hip_nrows(x) <= INT32_MAX;
}

static bool supports_argmax(const sc_tensor *node) {
    const sc_tensor *x = node->src[0];
    if (!sc_chk_rows_of(x, SC_TYPE_F32) || !sc_chk_rows_of(node, SC_TYPE_I32)) return false;
    if (node->ne[0] != x->ne[1] || node->ne[1] != x->ne[2] || node->ne[2] != x->ne[3] || node->ne[3] != 1)
        return false;
    return x->ne[0] <= INT32_MAX && hip_nrows(x) <= INT32_MAX;
}

static sel_rank_args rank_args(const sc_tensor *node) {
    const sc_tensor *x = node->src[0];
    return (sel_rank_args){
        .x = x->data, .y = node->data,
        .xnb1 = (int64_t)x->nb[1], .xnb2 = (int64_t)x->nb[2], .xnb3 = (int64_t)x->nb[3],
        .ynb0 = (int64_t)node->nb[0], .ynb1 = (int64_t)node->nb[1], .ynb2 = (int64_t)node->nb[2],
        .ynb3 = (int64_t)node->nb[3],
        .n = (int32_t)x->ne[0], .k = sc_op_param_i32(node, 0),
        .r1 = (int32_t)x->ne[1], .r2 = (int32_t)x->ne[2], .rows = (int32_t)hip_nrows(x),
    };
}

static int run_top_k(hip_stream *s, const sc_tensor *node) {
    const sel_rank_args a = rank_args(node);
    const unsigned threads = a.n <= 128 ? 64 : SEL_WG; /* MoE routing: 8 of 128 experts */
    return HIP_LAUNCH(s, "k_top_k", a.rows, 1, 1, threads, a);
}

static int run_argmax(hip_stream *s, const sc_tensor *node) {
    const sel_rank_args a = rank_args(node);
    const unsigned threads = a.n >= 8192 ? SEL_ARGMAX_WG : a.n >= 1024 ? 256 : 64;
    return HIP_LAUNCH(s, "k_argmax", a.rows, 1, 1, threads, a);
}

/* ---- the family's entry points --------------------------------------------------------------- */

bool hip_supports_select(hip_dev *d, const sc_tensor *node) {
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

int hip_run_select(hip_stream *s, const sc_tensor *node) {
    switch (node->op) {
    case SC_OP_GET_ROWS: return run_get_rows(s, node);
    case SC_OP_CPY: return run_cpy(s, node);
    case SC_OP_TOP_K: return run_top_k(s, node);
    case SC_OP_ARGMAX: return run_argmax(s, node);
    default: return SC_ENOTSUP;
    }
}

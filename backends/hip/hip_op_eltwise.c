/*
 * backends/hip/hip_op_eltwise.c - ADD, MUL (b broadcast), SCALE, SILU,
 * SWIGLU, SIGMOID on f32 (kernels/eltwise.hip; the CPU reference is
 * backends/cpu/ref_elementwise.c).
 *
 * Operands [ne0, ne1, ne2, ne3] with contiguous rows; every other stride is
 * free (views, slices, permutations). Before the launch the dims are merged
 * as far as every operand allows (size-1 dims dropped, a dim folded into the
 * one below when it continues it in memory in a, y and b alike), so the
 * common contiguous case is one long row and moves as float4.
 *
 * Supported: what the reference accepts, except strides that are not a
 * multiple of 4 bytes and shapes whose dims do not fit the kernel's 32-bit
 * fields (ne[d] < 2^31, rows <= 65535^2). One launch per node.
 */
#include "sc_tensor_checks.h"
#include "hip_internal.h"

#include "eltwise.h"

/* f32 with contiguous rows, f32-aligned strides and dims that fit the kernel */
static bool rows_f32(const sc_tensor *t) {
    if (!t || t->type != SC_TYPE_F32 || t->nb[0] != sizeof(float)) return false;
    uint64_t rows = 1;
    for (int d = 0; d < SC_MAX_DIMS; d++) {
        if (t->ne[d] <= 0 || t->ne[d] > INT32_MAX) return false;
        if (d > 0 && t->nb[d] % sizeof(float) != 0) return false;
        if (d > 0) rows *= (uint64_t)t->ne[d];
    }
    return rows <= (uint64_t)HIP_GRID_YZ_MAX * HIP_GRID_YZ_MAX;
}

bool hip_supports_eltwise(hip_dev *d, const sc_tensor *node) {
    (void)d;
    if (!node) return false;
    const sc_tensor *a = node->src[0], *b = node->src[1];
    if (!rows_f32(node) || !rows_f32(a) || !sc_chk_same_shape(node, a)) return false;
    switch (node->op) {
    case SC_OP_ADD:
    case SC_OP_MUL:
        return rows_f32(b) && sc_chk_broadcasts(a, b);
    case SC_OP_SWIGLU: return rows_f32(b) && sc_chk_same_shape(a, b);
    case SC_OP_SCALE:
    case SC_OP_SILU:
    case SC_OP_SIGMOID: return true;
    default: return false;
    }
}

/* ---- dim merging ------------------------------------------------------------ */

/* The operands' layout as the kernel sees it: ne/strides of a (== y) and b. */
typedef struct elt_layout {
    int64_t ne[4], b_ne[4];
    int64_t a_nb[4], b_nb[4], y_nb[4];
} elt_layout;

/* Drop size-1 dims above dim 0 and fold dim d into the last kept one when it
 * continues it in every operand: a and y contiguous across the two, and b
 * either the same (contiguous, not broadcast in either) or broadcast in both
 * (one value for the pair). The result indexes exactly the same elements. */
static void elt_merge(const sc_tensor *node, bool has_b, elt_layout *m) {
    const sc_tensor *a = node->src[0], *b = node->src[1];
    int k = 0;
    for (int d = 0; d < SC_MAX_DIMS; d++) {
        const int64_t ne = a->ne[d], bne = has_b ? b->ne[d] : 1;
        const int64_t anb = (int64_t)a->nb[d], ynb = (int64_t)node->nb[d], bnb = has_b ? (int64_t)b->nb[d] : 0;
        if (d == 0) {
            m->ne[0] = ne, m->b_ne[0] = bne, m->a_nb[0] = anb, m->y_nb[0] = ynb, m->b_nb[0] = bnb;
            continue;
        }
        if (ne == 1) continue; /* then bne == 1 too: nothing to index */
        const bool a_cont = anb == m->a_nb[k] * m->ne[k] && ynb == m->y_nb[k] * m->ne[k];
        const bool b_cont = !has_b || (bne == 1 && m->b_ne[k] == 1) ||
                            (bne == ne && m->b_ne[k] == m->ne[k] && bnb == m->b_nb[k] * m->b_ne[k]);
        if (a_cont && b_cont && m->ne[k] * ne <= INT32_MAX) {
            m->b_ne[k] = (bne == 1 && m->b_ne[k] == 1) ? 1 : m->b_ne[k] * bne;
            m->ne[k] *= ne;
            continue;
        }
        k++;
        m->ne[k] = ne, m->b_ne[k] = bne, m->a_nb[k] = anb, m->y_nb[k] = ynb, m->b_nb[k] = bnb;
    }
    for (k++; k < SC_MAX_DIMS; k++) m->ne[k] = m->b_ne[k] = 1, m->a_nb[k] = m->b_nb[k] = m->y_nb[k] = 0;
}

/* Can every row of the merged layout move as float4? */
static bool elt_vec4(const elt_layout *m, const void *a, const void *b, const void *y) {
    if (m->ne[0] % 4 != 0 || (uintptr_t)a % 16 != 0 || (uintptr_t)y % 16 != 0) return false;
    for (int d = 1; d < SC_MAX_DIMS; d++)
        if (m->ne[d] > 1 && (m->a_nb[d] % 16 != 0 || m->y_nb[d] % 16 != 0)) return false;
    if (!b || m->b_ne[0] == 1) return true; /* one value of b per row: no vector read of b */
    if (m->b_ne[0] % 4 != 0 || (uintptr_t)b % 16 != 0) return false;
    for (int d = 1; d < SC_MAX_DIMS; d++)
        if (m->b_ne[d] > 1 && m->b_nb[d] % 16 != 0) return false;
    return true;
}

int hip_run_eltwise(hip_stream *s, const sc_tensor *node) {
    const char *kernel;
    bool has_b = false;
    switch (node->op) {
    case SC_OP_ADD: kernel = SC_ELT_KERNEL_ADD, has_b = true; break;
    case SC_OP_MUL: kernel = SC_ELT_KERNEL_MUL, has_b = true; break;
    case SC_OP_SCALE: kernel = SC_ELT_KERNEL_SCALE; break;
    case SC_OP_SILU: kernel = SC_ELT_KERNEL_SILU; break;
    case SC_OP_SWIGLU: kernel = SC_ELT_KERNEL_SWIGLU, has_b = true; break;
    case SC_OP_SIGMOID: kernel = SC_ELT_KERNEL_SIGMOID; break;
    default: return SC_ENOTSUP;
    }
    const sc_tensor *a = node->src[0], *b = has_b ? node->src[1] : NULL;

    elt_layout m;
    elt_merge(node, has_b, &m);
    sc_elt_args p = {
        .a = a->data,
        .b = b ? b->data : NULL,
        .y = node->data,
        .vec = elt_vec4(&m, a->data, b ? b->data : NULL, node->data) ? 4u : 1u,
        .s = node->op == SC_OP_SCALE ? sc_op_param_f32(node, 0) : 0.0f,
    };
    for (int d = 0; d < SC_MAX_DIMS; d++) {
        p.ne[d] = (uint32_t)m.ne[d];
        p.b_ne[d] = (uint32_t)m.b_ne[d];
        p.a_nb[d] = m.a_nb[d];
        p.b_nb[d] = m.b_nb[d];
        p.y_nb[d] = m.y_nb[d];
    }

    /* x: the row's items (a block of 32..256 threads, as many as the row
     * fills); y + z * gy: the rows */
    const int64_t items = m.ne[0] / p.vec;
    int64_t bx = (items + 31) / 32 * 32;
    if (bx > SC_ELT_THREADS) bx = SC_ELT_THREADS;
    const int64_t gx = (items + bx - 1) / bx;
    const int64_t rows = m.ne[1] * m.ne[2] * m.ne[3];
    const int64_t gy = rows < HIP_GRID_YZ_MAX ? rows : HIP_GRID_YZ_MAX;
    const int64_t gz = (rows + gy - 1) / gy;
    return HIP_LAUNCH(s, kernel, gx, gy, gz, bx, p);
}

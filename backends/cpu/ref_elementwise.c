/*
 * backends/cpu/ref_elementwise.c - reference add, mul, scale, silu, swiglu,
 * sigmoid.
 *
 * All operands f32 with contiguous rows ([ne0, ne1, ne2, ne3], any row
 * strides). add/mul broadcast b: b->ne[d] divides a->ne[d] and element i of a
 * meets element i % b->ne[d] of b in every dim. The output has a's shape.
 * Every loop reads an element before writing the same index, so an output
 * that aliases an input exactly is fine.
 */
#include "cpu_impl.h"

/* ---- checks ------------------------------------------------------------ */

static int check_unary(const sc_tensor *node) {
    const sc_tensor *a = node->src[0];
    if (!sc__cpu_rows_ok(a, SC_TYPE_F32) || !sc__cpu_rows_ok(node, SC_TYPE_F32)) return SC_EINVAL;
    if (!sc__cpu_same_shape(node, a)) return SC_EINVAL;
    return SC_OK;
}

static int check_binary(const sc_tensor *node) {
    int rc = check_unary(node);
    if (rc != SC_OK) return rc;
    const sc_tensor *a = node->src[0], *b = node->src[1];
    if (!sc__cpu_rows_ok(b, SC_TYPE_F32)) return SC_EINVAL;
    for (int d = 0; d < SC_MAX_DIMS; d++)
        if (a->ne[d] % b->ne[d] != 0) return SC_EINVAL;
    return SC_OK;
}

int sc__cpu_check_add(const sc_tensor *node) { return check_binary(node); }
int sc__cpu_check_mul(const sc_tensor *node) { return check_binary(node); }
int sc__cpu_check_scale(const sc_tensor *node) { return check_unary(node); }
int sc__cpu_check_silu(const sc_tensor *node) { return check_unary(node); }
int sc__cpu_check_sigmoid(const sc_tensor *node) { return check_unary(node); }

int sc__cpu_check_swiglu(const sc_tensor *node) {
    int rc = check_unary(node);
    if (rc != SC_OK) return rc;
    const sc_tensor *up = node->src[1];
    if (!sc__cpu_rows_ok(up, SC_TYPE_F32) || !sc__cpu_same_shape(up, node->src[0])) return SC_EINVAL;
    return SC_OK;
}

/* ---- reference --------------------------------------------------------- */

static float silu(float x) { return x / (1.0f + expf(-x)); }

static int ref_binary(sc_tensor *node, bool is_mul) {
    const sc_tensor *a = node->src[0], *b = node->src[1];
    const int64_t n0 = a->ne[0];
    for (int64_t i3 = 0; i3 < a->ne[3]; i3++)
        for (int64_t i2 = 0; i2 < a->ne[2]; i2++)
            for (int64_t i1 = 0; i1 < a->ne[1]; i1++) {
                const float *ra = sc__cpu_row(a, i1, i2, i3);
                const float *rb = sc__cpu_row(b, i1 % b->ne[1], i2 % b->ne[2], i3 % b->ne[3]);
                float *y = sc__cpu_row(node, i1, i2, i3);
                for (int64_t i0 = 0; i0 < n0; i0++) {
                    float vb = rb[i0 % b->ne[0]];
                    y[i0] = is_mul ? ra[i0] * vb : ra[i0] + vb;
                }
            }
    return SC_OK;
}

int sc__cpu_ref_add(sc_tensor *node) { return ref_binary(node, false); }
int sc__cpu_ref_mul(sc_tensor *node) { return ref_binary(node, true); }

enum unary_kind { UNARY_SCALE, UNARY_SILU, UNARY_SWIGLU, UNARY_SIGMOID };

static int ref_unary(sc_tensor *node, enum unary_kind kind) {
    const sc_tensor *a = node->src[0], *up = node->src[1];
    const float s = kind == UNARY_SCALE ? sc_op_param_f32(node, 0) : 0.0f;
    for (int64_t i3 = 0; i3 < a->ne[3]; i3++)
        for (int64_t i2 = 0; i2 < a->ne[2]; i2++)
            for (int64_t i1 = 0; i1 < a->ne[1]; i1++) {
                const float *x = sc__cpu_row(a, i1, i2, i3);
                const float *u = kind == UNARY_SWIGLU ? sc__cpu_row(up, i1, i2, i3) : NULL;
                float *y = sc__cpu_row(node, i1, i2, i3);
                for (int64_t i0 = 0; i0 < a->ne[0]; i0++) {
                    switch (kind) {
                    case UNARY_SCALE: y[i0] = x[i0] * s; break;
                    case UNARY_SILU: y[i0] = silu(x[i0]); break;
                    case UNARY_SWIGLU: y[i0] = silu(x[i0]) * u[i0]; break;
                    case UNARY_SIGMOID: y[i0] = 1.0f / (1.0f + expf(-x[i0])); break;
                    }
                }
            }
    return SC_OK;
}

int sc__cpu_ref_scale(sc_tensor *node) { return ref_unary(node, UNARY_SCALE); }
int sc__cpu_ref_silu(sc_tensor *node) { return ref_unary(node, UNARY_SILU); }
int sc__cpu_ref_swiglu(sc_tensor *node) { return ref_unary(node, UNARY_SWIGLU); }
int sc__cpu_ref_sigmoid(sc_tensor *node) { return ref_unary(node, UNARY_SIGMOID); }

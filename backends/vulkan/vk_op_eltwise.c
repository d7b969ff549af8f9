/*
 * backends/vulkan/vk_op_eltwise.c - ADD, MUL (b broadcast), SCALE, SILU,
 * SWIGLU, SIGMOID on f32 (shaders/eltwise.comp, one module per op).
 *
 * Operands [ne0, ne1, ne2, ne3] with contiguous rows; every other stride is
 * free (views, slices, permutations). One dispatch per node: x walks a row,
 * y (+ z beyond 65535) the rows. The output may alias an input.
 */
#include <stdio.h>

#include "sc_tensor_checks.h"
#include "vk_internal.h"

/* Must match the push-constant block of eltwise.comp. */
typedef struct elt_push {
    uint64_t a, b, d;
    uint32_t ne[4];
    uint32_t a_nb[3];   /* strides of dims 1..3, in elements */
    uint32_t b_ne[4];
    uint32_t b_nb[3];
    uint32_t d_nb[3];
    float s;
} elt_push;
_Static_assert(sizeof(elt_push) == 96, "elt_push must match eltwise.comp");

/* f32, contiguous rows, strides and dims that fit the shader's u32 fields */
static bool rows_f32(const sc_tensor *t) {
    if (!t || t->type != SC_TYPE_F32 || t->nb[0] != sizeof(float)) return false;
    uint64_t rows = 1;
    for (int d = 0; d < SC_MAX_DIMS; d++) {
        if (t->ne[d] <= 0 || t->ne[d] > UINT32_MAX) return false;
        if (d > 0 && (t->nb[d] % sizeof(float) != 0 || t->nb[d] / sizeof(float) > UINT32_MAX)) return false;
        if (d > 0) rows *= (uint64_t)t->ne[d];
    }
    return rows <= UINT32_MAX && (vk_addr(t) % sizeof(float)) == 0;
}

bool vk_supports_eltwise(vk_dev *dev, const sc_tensor *node) {
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

static void strides(const sc_tensor *t, uint32_t nb[3]) {
    for (int d = 1; d < SC_MAX_DIMS; d++) nb[d - 1] = (uint32_t)(t->nb[d] / sizeof(float));
}

int vk_record_eltwise(vk_rec *r, const sc_tensor *node) {
    const sc_tensor *a = node->src[0], *b = node->src[1];
    const char *module;
    elt_push pc = {0};

    switch (node->op) {
    case SC_OP_ADD: module = "add_f32"; break;
    case SC_OP_MUL: module = "mul_f32"; break;
    case SC_OP_SCALE: module = "scale_f32"; break;
    case SC_OP_SILU: module = "silu_f32"; break;
    case SC_OP_SWIGLU: module = "swiglu_f32"; break;
    case SC_OP_SIGMOID: module = "sigmoid_f32"; break;
    default: return SC_ENOTSUP;
    }
    pc.a = vk_addr(a);
    pc.d = vk_addr(node);
    for (int d = 0; d < SC_MAX_DIMS; d++) pc.ne[d] = (uint32_t)node->ne[d];
    strides(a, pc.a_nb);
    strides(node, pc.d_nb);
    if (node->op == SC_OP_SCALE) pc.s = sc_op_param_f32(node, 0);
    if (b && (node->op == SC_OP_ADD || node->op == SC_OP_MUL || node->op == SC_OP_SWIGLU)) {
        pc.b = vk_addr(b);
        for (int d = 0; d < SC_MAX_DIMS; d++) pc.b_ne[d] = (uint32_t)b->ne[d];
        strides(b, pc.b_nb);
    } else {
        for (int d = 0; d < SC_MAX_DIMS; d++) pc.b_ne[d] = 1;
    }

    /* a row per workgroup row; short rows get a small workgroup */
    const uint32_t wg = node->ne[0] >= 256 ? 256 : 64;
    const uint32_t spec[1] = {wg};
    vk_pipeline *p = vk_pipeline_get(vk_rec_dev(r), module, sizeof(pc), spec, 1, 0);
    if (!p) return SC_EBACKEND;

    uint64_t rows = (uint64_t)node->ne[1] * (uint64_t)node->ne[2] * (uint64_t)node->ne[3];
    uint64_t gx = ((uint64_t)node->ne[0] + wg - 1) / wg;
    if (gx > 65535) gx = 65535; /* the shader strides over the rest */
    uint64_t gy = rows < 65535 ? rows : 65535;
    uint64_t gz = (rows + gy - 1) / gy;
    return vk_dispatch(r, p, &pc, sizeof(pc), (uint32_t)gx, (uint32_t)gy, (uint32_t)gz);
}

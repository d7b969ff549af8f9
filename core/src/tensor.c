/* core/src/tensor.c - shape and size helpers for sc_tensor. */
#include "internal.h"

int64_t sc_tensor_nelements(const sc_tensor *t) {
    if (!t) return 0;
    return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
}

int sc_tensor_ndims(const sc_tensor *t) {
    if (!t) return 0;
    for (int d = SC_MAX_DIMS - 1; d > 0; d--)
        if (t->ne[d] > 1) return d + 1;
    return 1;
}

/* Bytes from element 0 to one past the last element, following the strides.
 * A QG tensor spans whole slabs: nb[2] bytes per matrix. */
size_t sc_tensor_nbytes(const sc_tensor *t) {
    if (!t) return 0;
    for (int d = 0; d < SC_MAX_DIMS; d++)
        if (t->ne[d] <= 0) return 0;
    if (t->type == SC_TYPE_QG)
        return (size_t)(t->ne[3] - 1) * t->nb[3] + (size_t)(t->ne[2] - 1) * t->nb[2] + t->nb[2];
    size_t bytes = sc_type_size(t->type);
    for (int d = 0; d < SC_MAX_DIMS; d++)
        bytes += (size_t)(t->ne[d] - 1) * t->nb[d];
    return bytes;
}

bool sc_tensor_is_contiguous(const sc_tensor *t) {
    if (!t) return false;
    if (t->type == SC_TYPE_QG) return true; /* its layout is fixed by sc_quant_layout */
    size_t expect = sc_type_size(t->type);
    for (int d = 0; d < SC_MAX_DIMS; d++) {
        if (t->ne[d] != 1 && t->nb[d] != expect) return false;
        expect *= (size_t)t->ne[d];
    }
    return true;
}

bool sc_tensor_same_shape(const sc_tensor *a, const sc_tensor *b) {
    if (!a || !b) return false;
    for (int d = 0; d < SC_MAX_DIMS; d++)
        if (a->ne[d] != b->ne[d]) return false;
    return true;
}

void sc__tensor_set_strides(sc_tensor *t) {
    t->nb[0] = sc_type_size(t->type);
    for (int d = 1; d < SC_MAX_DIMS; d++)
        t->nb[d] = t->nb[d - 1] * (size_t)t->ne[d - 1];
}

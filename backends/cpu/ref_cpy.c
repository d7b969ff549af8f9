/*
 * backends/cpu/ref_cpy.c - reference copy / cast.
 *
 * a (f32/f16/bf16/i32/i8, any shape and strides) -> node of node->type with
 * the same number of elements. Elements are visited in logical order (ne0
 * fastest) on both sides, so a copy into a differently shaped node reshapes,
 * and a copy into a contiguous node of the same shape makes a "cont".
 * Casts: between float types (f32 -> f16/bf16 rounds to nearest even), and
 * between integer types (i32 -> i8 requires every value in -128..127, else
 * SC_ERANGE before anything is written). float <-> int is SC_ENOTSUP.
 */
#include "cpu_impl.h"

static bool is_int(int32_t type) { return type == SC_TYPE_I32 || type == SC_TYPE_I8; }

int sc__cpu_check_cpy(const sc_tensor *node) {
    const sc_tensor *a = node->src[0];
    if (!a || !sc__cpu_shape_ok(a) || !sc__cpu_shape_ok(node)) return SC_EINVAL;
    if (sc__cpu_type_size(a->type) == 0 || sc__cpu_type_size(node->type) == 0) return SC_ENOTSUP;
    if (is_int(a->type) != is_int(node->type)) return SC_ENOTSUP;
    int64_t na = a->ne[0] * a->ne[1] * a->ne[2] * a->ne[3];
    int64_t nn = node->ne[0] * node->ne[1] * node->ne[2] * node->ne[3];
    if (na != nn) return SC_EINVAL;
    return SC_OK;
}

static int32_t load_int(const uint8_t *p, int32_t type) {
    if (type == SC_TYPE_I8) return (int8_t)*p;
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* A multi-index over a tensor's shape, advanced in logical order (ne0
 * fastest), carrying the byte offset along so each step is an add. */
typedef struct walker {
    int64_t idx[SC_MAX_DIMS];
    size_t off;
} walker;

static void walker_next(walker *w, const sc_tensor *t) {
    for (int d = 0; d < SC_MAX_DIMS; d++) {
        if (++w->idx[d] < t->ne[d]) {
            w->off += t->nb[d];
            return;
        }
        w->off -= (size_t)(t->ne[d] - 1) * t->nb[d]; /* back to the start of this dim (mod 2^64) */
        w->idx[d] = 0;
    }
}

static bool dense(const sc_tensor *t) {
    size_t expect = sc__cpu_type_size(t->type);
    for (int d = 0; d < SC_MAX_DIMS; d++) {
        if (t->ne[d] != 1 && t->nb[d] != expect) return false;
        expect *= (size_t)t->ne[d];
    }
    return true;
}

int sc__cpu_ref_cpy(sc_tensor *node) {
    const sc_tensor *a = node->src[0];
    const int64_t n = a->ne[0] * a->ne[1] * a->ne[2] * a->ne[3];
    const uint8_t *src = a->data;
    uint8_t *dst = node->data;
    walker ws = {{0}, 0}, wd = {{0}, 0};

    if (a->type == node->type && dense(a) && dense(node)) { /* same bytes, same order */
        memmove(dst, src, (size_t)n * sc__cpu_type_size(a->type));
        return SC_OK;
    }
    if (a->type == SC_TYPE_I32 && node->type == SC_TYPE_I8) { /* narrowing: check first */
        for (int64_t i = 0; i < n; i++, walker_next(&ws, a)) {
            int32_t v = load_int(src + ws.off, a->type);
            if (v < INT8_MIN || v > INT8_MAX) return SC_ERANGE;
        }
        ws = (walker){{0}, 0};
    }
    const size_t esize = sc__cpu_type_size(a->type);
    for (int64_t i = 0; i < n; i++, walker_next(&ws, a), walker_next(&wd, node)) {
        const uint8_t *ps = src + ws.off;
        uint8_t *pd = dst + wd.off;
        if (a->type == node->type) {
            memcpy(pd, ps, esize);
        } else if (is_int(a->type)) {
            int32_t v = load_int(ps, a->type);
            if (node->type == SC_TYPE_I8) {
                int8_t b = (int8_t)v;
                memcpy(pd, &b, 1);
            } else {
                memcpy(pd, &v, sizeof v);
            }
        } else {
            sc__cpu_store_f(pd, node->type, 0, sc__cpu_load_f(ps, a->type, 0));
        }
    }
    return SC_OK;
}

/*
 * tests/unit/cpu_test_util.h - hand-built tensors for the CPU backend tests.
 *
 * Tensors are built field by field (no ctx/builder API) so the reference is
 * tested on its own: type, ne, nb, data from a 64-byte aligned allocation,
 * src and op_params set by the test. Everything allocated goes into a
 * tt_arena and is freed by tt_free.
 */
#ifndef STRIXCORE_CPU_TEST_UTIL_H
#define STRIXCORE_CPU_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_impl.h"

#define TT_MAX_ALLOCS 512

typedef struct tt_arena {
    void *p[TT_MAX_ALLOCS];
    int n;
} tt_arena;

static inline void *tt_alloc(tt_arena *a, size_t bytes) {
    void *p = NULL;
    if (a->n >= TT_MAX_ALLOCS || posix_memalign(&p, 64, bytes ? bytes : 1) != 0) abort(); /* test bug */
    memset(p, 0, bytes ? bytes : 1);
    a->p[a->n++] = p;
    return p;
}

static inline void tt_free(tt_arena *a) {
    for (int i = 0; i < a->n; i++) free(a->p[i]);
    a->n = 0;
}

static inline size_t tt_type_size(int32_t type) { return sc__cpu_type_size(type); }

/* A contiguous tensor with zeroed data. */
static inline sc_tensor *tt_new(tt_arena *a, int32_t type, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3) {
    sc_tensor *t = tt_alloc(a, sizeof *t);
    t->type = type;
    t->op = SC_OP_NONE;
    t->ne[0] = ne0;
    t->ne[1] = ne1;
    t->ne[2] = ne2;
    t->ne[3] = ne3;
    t->nb[0] = tt_type_size(type);
    for (int d = 1; d < 4; d++) t->nb[d] = t->nb[d - 1] * (size_t)t->ne[d - 1];
    t->data = tt_alloc(a, t->nb[3] * (size_t)ne3);
    return t;
}

/* A tensor whose rows are `pad` elements longer than ne0 (rows contiguous, gaps between). */
static inline sc_tensor *tt_new_padded(tt_arena *a, int32_t type, int64_t ne0, int64_t ne1, int64_t ne2, int64_t pad) {
    sc_tensor *t = tt_alloc(a, sizeof *t);
    t->type = type;
    t->ne[0] = ne0;
    t->ne[1] = ne1;
    t->ne[2] = ne2;
    t->ne[3] = 1;
    t->nb[0] = tt_type_size(type);
    t->nb[1] = t->nb[0] * (size_t)(ne0 + pad);
    t->nb[2] = t->nb[1] * (size_t)ne1;
    t->nb[3] = t->nb[2] * (size_t)ne2;
    t->data = tt_alloc(a, t->nb[3]);
    return t;
}

/* A QG tensor [K, N, n_mat] with zeroed slabs. */
static inline sc_tensor *tt_new_qg(tt_arena *a, uint32_t bits, uint32_t gs, bool gidx, int64_t K, int64_t N, int64_t n_mat) {
    sc_tensor *t = tt_alloc(a, sizeof *t);
    t->ne[0] = K;
    t->ne[1] = N;
    t->ne[2] = n_mat;
    t->ne[3] = 1;
    if (sc_quant_layout(t, bits, gs, gidx) != SC_OK) abort(); /* test bug */
    t->data = tt_alloc(a, t->nb[3]);
    return t;
}

/* An op node of `type` and shape ne, sources in order. */
static inline sc_tensor *tt_op(tt_arena *a, int op, int32_t type, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3,
                        sc_tensor *s0, sc_tensor *s1, sc_tensor *s2) {
    sc_tensor *t = tt_new(a, type, ne0, ne1, ne2, ne3);
    t->op = op;
    t->src[0] = s0;
    t->src[1] = s1;
    t->src[2] = s2;
    return t;
}

static inline void tt_set_f32_param(sc_tensor *t, int i, float v) { memcpy(&t->op_params[i], &v, sizeof v); }

static inline void *tt_ptr(const sc_tensor *t, int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
    return (uint8_t *)t->data + (size_t)i0 * t->nb[0] + (size_t)i1 * t->nb[1] + (size_t)i2 * t->nb[2] +
           (size_t)i3 * t->nb[3];
}

static inline float tt_getf(const sc_tensor *t, int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
    return sc__cpu_load_f(tt_ptr(t, i0, i1, i2, i3), t->type, 0);
}

static inline void tt_setf(sc_tensor *t, int64_t i0, int64_t i1, int64_t i2, int64_t i3, float v) {
    sc__cpu_store_f(tt_ptr(t, i0, i1, i2, i3), t->type, 0, v);
}

static inline int32_t tt_geti(const sc_tensor *t, int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
    int32_t v;
    memcpy(&v, tt_ptr(t, i0, i1, i2, i3), sizeof v);
    return v;
}

static inline void tt_seti(sc_tensor *t, int64_t i0, int64_t i1, int64_t i2, int64_t i3, int32_t v) {
    memcpy(tt_ptr(t, i0, i1, i2, i3), &v, sizeof v);
}

/* Fill every element with a deterministic pseudo-random value in [-1, 1). */
static uint64_t tt_rng_state = 0x9e3779b97f4a7c15ull;
static inline void tt_seed(uint64_t s) { tt_rng_state = s * 0x9e3779b97f4a7c15ull + 1; }
static inline float tt_rand(void) {
    tt_rng_state ^= tt_rng_state << 13;
    tt_rng_state ^= tt_rng_state >> 7;
    tt_rng_state ^= tt_rng_state << 17;
    return (float)((tt_rng_state >> 40) & 0xffffff) / 8388608.0f - 1.0f;
}

static inline void tt_fill(sc_tensor *t) {
    for (int64_t i3 = 0; i3 < t->ne[3]; i3++)
        for (int64_t i2 = 0; i2 < t->ne[2]; i2++)
            for (int64_t i1 = 0; i1 < t->ne[1]; i1++)
                for (int64_t i0 = 0; i0 < t->ne[0]; i0++) tt_setf(t, i0, i1, i2, i3, tt_rand());
}

#endif

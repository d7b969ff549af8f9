/*
 * tests/backend-ops/data.c - fixed-seed random leaves.
 *
 * Each case seeds its RNG from a hash of its name, so a case gets the same
 * data whether it runs alone (-o, -p) or in the full suite, and the
 * reference run and the device run of one case see identical leaves.
 */
#include <stdlib.h>
#include <string.h>

#include "bo.h"

static uint64_t fnv1a(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

int bo_env_init(bo_env *e, const char *seed_name, bool shapes_only) {
    memset(e, 0, sizeof *e);
    e->rng = fnv1a(seed_name);
    e->shapes_only = shapes_only;
    e->ctx = sc_ctx_create(64);
    return e->ctx ? SC_OK : SC_ENOMEM;
}

void bo_env_free(bo_env *e) {
    for (int i = 0; i < e->n_leaves; i++) free(e->leaves[i].data);
    sc_ctx_destroy(e->ctx);
    memset(e, 0, sizeof *e);
}

const bo_leaf *bo_env_leaf(const bo_env *e, const sc_tensor *t) {
    for (int i = 0; i < e->n_leaves; i++)
        if (e->leaves[i].t == t) return &e->leaves[i];
    return NULL;
}

/* splitmix64: small, fast, and good enough for test data */
uint64_t bo_rand(bo_env *e) {
    uint64_t z = (e->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

float bo_uniform(bo_env *e, float lo, float hi) {
    float u = (float)(bo_rand(e) >> 40) * (1.0f / 16777216.0f); /* [0, 1), 24 bits */
    return lo + (hi - lo) * u;
}

int64_t bo_randint(bo_env *e, int64_t n) { return n <= 1 ? 0 : (int64_t)(bo_rand(e) % (uint64_t)n); }

void bo_shuffle_i32(bo_env *e, int32_t *v, int64_t n) {
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = bo_randint(e, i + 1);
        int32_t tmp = v[i];
        v[i] = v[j];
        v[j] = tmp;
    }
}

/* Record t as a leaf and give it a zeroed data buffer of its full span.
 * Returns the buffer, or NULL in shapes-only mode or on error. */
static void *leaf_data(bo_env *e, sc_tensor *t) {
    if (!t || e->shapes_only || e->err) return NULL;
    if (e->n_leaves == BO_MAX_LEAVES) {
        e->err = SC_ERANGE;
        return NULL;
    }
    size_t size = sc_tensor_nbytes(t);
    void *data = calloc(1, size ? size : 1);
    if (!data) {
        e->err = SC_ENOMEM;
        return NULL;
    }
    e->leaves[e->n_leaves++] = (bo_leaf){t, data, size};
    return data;
}

/* Store n f32 values as `type` into dst (contiguous). */
static void store_as(sc_type type, void *dst, const float *v, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        switch (type) {
        case SC_TYPE_F32: ((float *)dst)[i] = v[i]; break;
        case SC_TYPE_F16: ((uint16_t *)dst)[i] = sc_f32_to_f16(v[i]); break;
        case SC_TYPE_BF16: ((uint16_t *)dst)[i] = sc_f32_to_bf16(v[i]); break;
        default: break;
        }
    }
}

sc_tensor *bo_leaf_uniform(bo_env *e, sc_type type, int ndims, const int64_t *ne, float lo, float hi) {
    sc_tensor *t = sc_new_tensor(e->ctx, type, ndims, ne);
    void *data = leaf_data(e, t);
    if (!data) return t;
    int64_t n = sc_tensor_nelements(t);
    float *tmp = malloc((size_t)n * sizeof *tmp);
    if (!tmp) {
        e->err = SC_ENOMEM;
        return t;
    }
    for (int64_t i = 0; i < n; i++) tmp[i] = bo_uniform(e, lo, hi);
    store_as(type, data, tmp, n);
    free(tmp);
    return t;
}

sc_tensor *bo_leaf_view(bo_env *e, sc_type type, const int64_t ne[4], bo_view view, float lo, float hi) {
    int64_t lne[4] = {ne[0], ne[1], ne[2], ne[3]};
    if (view == BO_PERM) {
        lne[1] = ne[2];
        lne[2] = ne[1];
    }
    if (view == BO_SLICE) lne[0] = ne[0] + 3;
    sc_tensor *leaf = bo_leaf_uniform(e, type, 4, lne, lo, hi);
    if (!leaf || view == BO_CONTIG) return leaf;
    if (view == BO_PERM) return sc_permute(e->ctx, leaf, 0, 2, 1, 3);
    return sc_view(e->ctx, leaf, 4, ne, leaf->nb, leaf->nb[0]);
}

sc_tensor *bo_leaf_f32(bo_env *e, int ndims, const int64_t *ne, const float *v) {
    sc_tensor *t = sc_new_tensor(e->ctx, SC_TYPE_F32, ndims, ne);
    void *data = leaf_data(e, t);
    if (data) memcpy(data, v, (size_t)sc_tensor_nelements(t) * sizeof(float));
    return t;
}

sc_tensor *bo_leaf_i32(bo_env *e, int ndims, const int64_t *ne, const int32_t *v) {
    sc_tensor *t = sc_new_tensor(e->ctx, SC_TYPE_I32, ndims, ne);
    void *data = leaf_data(e, t);
    if (data) memcpy(data, v, (size_t)sc_tensor_nelements(t) * sizeof(int32_t));
    return t;
}

/*
 * Fill a QG tensor directly in its packed layout (see sc_quant_info): per slab,
 * codes [N rows of row_bytes], f16 scales [N, G], u8 zeros [N, G], and when
 * flagged an i32 g_idx [K] that is a random permutation of k / group_size
 * (act-order: every group keeps its size, columns are scattered).
 * Scales are ~1/2^bits so that dequantised weights are O(1) like the dense ones.
 */
static int fill_qg(bo_env *e, sc_tensor *t, uint8_t *data) {
    const sc_quant_info *q = &t->quant;
    int64_t K = t->ne[0], N = t->ne[1], n_mat = t->ne[2] * t->ne[3];
    uint32_t levels = 1u << q->bits, G = q->n_groups;
    uint8_t *codes = malloc((size_t)K);
    int32_t *gidx = malloc((size_t)K * sizeof *gidx);
    if (!codes || !gidx) {
        free(codes);
        free(gidx);
        return SC_ENOMEM;
    }
    int rc = SC_OK;
    for (int64_t m = 0; m < n_mat && rc == SC_OK; m++) {
        uint8_t *slab = data + (size_t)m * t->nb[2];
        for (int64_t n = 0; n < N && rc == SC_OK; n++) {
            for (int64_t k = 0; k < K; k++) codes[k] = (uint8_t)bo_randint(e, levels);
            rc = sc_quant_pack_row(q->bits, K, codes, slab + (size_t)n * q->row_bytes);
        }
        for (int64_t i = 0; i < N * (int64_t)G; i++) {
            uint16_t s = sc_f32_to_f16(bo_uniform(e, 0.5f, 1.5f) / (float)levels);
            memcpy(slab + q->scales_offset + (size_t)i * 2, &s, 2);
            slab[q->zeros_offset + (size_t)i] = (uint8_t)bo_randint(e, levels);
        }
        if (q->flags & SC_QUANT_HAS_GIDX) {
            for (int64_t k = 0; k < K; k++) gidx[k] = (int32_t)(k / q->group_size);
            bo_shuffle_i32(e, gidx, K);
            memcpy(slab + q->gidx_offset, gidx, (size_t)K * sizeof *gidx);
        }
    }
    free(codes);
    free(gidx);
    return rc;
}

sc_tensor *bo_leaf_weight(bo_env *e, const bo_wtype *w, int64_t K, int64_t N, int64_t n2, int64_t n3, bo_view view) {
    if (w->type != SC_TYPE_QG) {
        int64_t ne[4] = {K, N, n2, n3};
        return bo_leaf_view(e, (sc_type)w->type, ne, view, -1.0f, 1.0f);
    }
    if (n3 != 1 || view != BO_CONTIG) {
        e->err = SC_EINVAL; /* a case-table bug: QG stacks are 3-D and cannot be viewed */
        return NULL;
    }
    uint32_t group = w->group ? w->group : (uint32_t)K;
    sc_tensor *t = sc_new_qtensor(e->ctx, w->bits, group, w->gidx, K, N, n2);
    if (t && w->bf16) t->quant.flags |= SC_QUANT_BF16_ROUND;
    uint8_t *data = leaf_data(e, t);
    if (data) {
        int rc = fill_qg(e, t, data);
        if (rc != SC_OK) e->err = rc;
    }
    return t;
}

void bo_mark_written(bo_env *e, sc_tensor *t) {
    if (!t || e->err) return;
    if (t->op != SC_OP_NONE || t->view_src) {
        e->err = SC_EINVAL; /* a case-table bug: only leaves are written in place */
        return;
    }
    for (int i = 0; i < e->n_written; i++)
        if (e->written[i] == t) return;
    if (e->n_written == BO_MAX_WRITTEN) {
        e->err = SC_ERANGE;
        return;
    }
    e->written[e->n_written++] = t;
}

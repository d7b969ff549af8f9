/*
 * core/src/ctx.c - tensor-descriptor arenas.
 *
 * A context owns the sc_tensor descriptors of one graph (never their data).
 * Builders never fail loudly: the first error is recorded here and every
 * later builder that receives a NULL operand returns NULL, so a model can
 * build its whole graph and check sc_ctx_error() once.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct sc_ctx {
    sc_tensor *tensors;
    size_t n, cap;
    int err;
    char msg[256];
};

sc_ctx_t *sc_ctx_create(size_t max_tensors) {
    if (max_tensors == 0) max_tensors = 4096;
    if (max_tensors > (SIZE_MAX / sizeof(sc_tensor))) return NULL;
    sc_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return NULL;
    ctx->tensors = calloc(max_tensors, sizeof(sc_tensor));
    if (!ctx->tensors) {
        free(ctx);
        return NULL;
    }
    ctx->cap = max_tensors;
    return ctx;
}

void sc_ctx_destroy(sc_ctx_t *ctx) {
    if (!ctx) return;
    free(ctx->tensors);
    free(ctx);
}

void sc_ctx_reset(sc_ctx_t *ctx) {
    if (!ctx) return;
    memset(ctx->tensors, 0, ctx->n * sizeof(sc_tensor));
    ctx->n = 0;
    ctx->err = SC_OK;
    ctx->msg[0] = '\0';
}

int sc_ctx_error(const sc_ctx_t *ctx) { return ctx ? ctx->err : SC_EINVAL; }
const char *sc_ctx_error_msg(const sc_ctx_t *ctx) { return ctx ? ctx->msg : "no context"; }

void sc__ctx_fail(sc_ctx_t *ctx, int err, const char *fmt, ...) {
    if (!ctx || ctx->err != SC_OK) return; /* keep the first error: it is the cause */
    ctx->err = err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->msg, sizeof ctx->msg, fmt, ap);
    va_end(ap);
}

sc_tensor *sc__ctx_new(sc_ctx_t *ctx, sc_type type, int ndims, const int64_t *ne) {
    if (!ctx) return NULL;
    if (ndims < 1 || ndims > SC_MAX_DIMS || !ne) {
        sc__ctx_fail(ctx, SC_EINVAL, "tensor with %d dims (1..%d allowed)", ndims, SC_MAX_DIMS);
        return NULL;
    }
    if ((int)type < 0 || type >= SC_TYPE_COUNT) {
        sc__ctx_fail(ctx, SC_EINVAL, "unknown dtype %d", (int)type);
        return NULL;
    }
    int64_t total = 1;
    for (int d = 0; d < ndims; d++) {
        /* 2^40 elements per tensor is far past any model; it keeps byte sizes in range. */
        if (ne[d] <= 0 || ne[d] > ((int64_t)1 << 40) / total) {
            sc__ctx_fail(ctx, SC_ERANGE, "tensor dim %d = %lld out of range", d, (long long)ne[d]);
            return NULL;
        }
        total *= ne[d];
    }
    if (ctx->n == ctx->cap) {
        sc__ctx_fail(ctx, SC_ENOMEM, "context full (%zu tensors)", ctx->cap);
        return NULL;
    }
    sc_tensor *t = &ctx->tensors[ctx->n++];
    memset(t, 0, sizeof *t);
    t->type = type;
    t->op = SC_OP_NONE;
    for (int d = 0; d < SC_MAX_DIMS; d++) t->ne[d] = d < ndims ? ne[d] : 1;
    if (type != SC_TYPE_QG) sc__tensor_set_strides(t);
    return t;
}

sc_tensor *sc_new_tensor(sc_ctx_t *ctx, sc_type type, int ndims, const int64_t *ne) {
    if (type == SC_TYPE_QG) {
        sc__ctx_fail(ctx, SC_EINVAL, "QG tensors are made with sc_new_qtensor");
        return NULL;
    }
    return sc__ctx_new(ctx, type, ndims, ne);
}

sc_tensor *sc_new_tensor_1d(sc_ctx_t *ctx, sc_type type, int64_t ne0) {
    int64_t ne[1] = {ne0};
    return sc_new_tensor(ctx, type, 1, ne);
}
sc_tensor *sc_new_tensor_2d(sc_ctx_t *ctx, sc_type type, int64_t ne0, int64_t ne1) {
    int64_t ne[2] = {ne0, ne1};
    return sc_new_tensor(ctx, type, 2, ne);
}
sc_tensor *sc_new_tensor_3d(sc_ctx_t *ctx, sc_type type, int64_t ne0, int64_t ne1, int64_t ne2) {
    int64_t ne[3] = {ne0, ne1, ne2};
    return sc_new_tensor(ctx, type, 3, ne);
}
sc_tensor *sc_new_tensor_4d(sc_ctx_t *ctx, sc_type type, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3) {
    int64_t ne[4] = {ne0, ne1, ne2, ne3};
    return sc_new_tensor(ctx, type, 4, ne);
}

sc_tensor *sc_new_qtensor(sc_ctx_t *ctx, uint32_t bits, uint32_t group_size, bool has_gidx,
                          int64_t K, int64_t N, int64_t n_mat) {
    int64_t ne[3] = {K, N, n_mat};
    sc_tensor *t = sc__ctx_new(ctx, SC_TYPE_QG, 3, ne);
    if (!t) return NULL;
    int rc = sc_quant_layout(t, bits, group_size, has_gidx);
    if (rc != SC_OK) {
        sc__ctx_fail(ctx, rc, "bad quantized layout: bits=%u group_size=%u K=%lld", bits, group_size,
                     (long long)K);
        ctx->n--; /* give the slot back; nothing points at it */
        return NULL;
    }
    return t;
}

void sc_tensor_set_name(sc_tensor *t, const char *fmt, ...) {
    if (!t || !fmt) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
}

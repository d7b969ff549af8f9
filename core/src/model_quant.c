/*
 * core/src/model_quant.c - quantized weights of a model: which Linear
 * modules a format plugin says are quantized, and filling their SC_TYPE_QG
 * tensors through the plugin's linear_convert.
 *
 * A matrix weight "X.weight" is the Linear module "X". MoE experts
 * "model.layers.L.mlp.experts.E.{gate,up,down}_proj" are stacked: expert e is
 * slab e of one QG tensor {K, N, E}, so every expert of a stack must agree on
 * bits, group size, g_idx and flags (they do in every known checkpoint).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"
#include "qformat.h"

static const char *proj_name(sc_wpart p) {
    return p == SC_WP_GATE ? "gate_proj" : p == SC_WP_UP ? "up_proj" : "down_proj";
}

static void module_name(const sc_wspec *s, int64_t e, char *buf, size_t len) {
    if (s->kind == SC_W_EXPERTS) {
        snprintf(buf, len, "%s.%lld.%s", s->name, (long long)e, proj_name(s->part));
        return;
    }
    size_t n = strlen(s->name);
    const size_t suf = strlen(".weight");
    if (n > suf && strcmp(s->name + n - suf, ".weight") == 0) n -= suf;
    snprintf(buf, len, "%.*s", (int)n, s->name);
}

static bool same_quant(const sc_linear_desc *a, const sc_linear_desc *b) {
    return a->quantized == b->quantized && a->bits == b->bits && a->group_size == b->group_size &&
           a->has_gidx == b->has_gidx && a->quant_flags == b->quant_flags;
}

void sc__wquant_free(sc_wquant *q) {
    free(q->module);
    memset(q, 0, sizeof *q);
}

int sc__wquant_resolve(sc_qformat *f, const sc_wspec *s, sc_wquant *q, char *err, size_t err_len) {
    memset(q, 0, sizeof *q);
    if (s->kind == SC_W_NORM) return SC_OK;
    const int64_t n_mat = s->kind == SC_W_EXPERTS ? s->ne[2] : 1;
    const int64_t K = s->ne[0], N = s->ne[1];
    char mod[SC_WQ_NAME];
    module_name(s, 0, mod, sizeof mod);
    int rc = sc__qformat_info(f, mod, &q->d, err, err_len);
    if (rc != SC_OK || !q->d.quantized) return rc; /* dense: the caller loads <module>.weight */
    q->module = calloc((size_t)n_mat, sizeof *q->module);
    if (!q->module) return SC_ENOMEM;
    q->n = (int)n_mat;
    for (int64_t e = 0; e < n_mat; e++) {
        sc_linear_desc d = q->d;
        module_name(s, e, q->module[e], sizeof q->module[e]);
        if (e > 0 && (rc = sc__qformat_info(f, q->module[e], &d, err, err_len)) != SC_OK) break;
        if (d.K != K || d.N != N) {
            rc = sc__errf(err, err_len, SC_EFORMAT, "%s: quantized shape [%lld, %lld] (out, in), expected [%lld, %lld]",
                          q->module[e], (long long)d.N, (long long)d.K, (long long)N, (long long)K);
            break;
        }
        if (!same_quant(&d, &q->d)) {
            rc = sc__errf(err, err_len, SC_ENOTSUP,
                          "%s: quantization (quantized %d, bits %u, group %u, g_idx %d) differs from %s's; "
                          "experts of one layer are stacked and must agree",
                          q->module[e], d.quantized, d.bits, d.group_size, d.has_gidx, q->module[0]);
            break;
        }
    }
    if (rc != SC_OK) sc__wquant_free(q);
    return rc;
}

sc_tensor *sc__wquant_tensor(sc_ctx_t *ctx, const sc_wspec *s, const sc_wquant *q) {
    const int64_t n_mat = s->kind == SC_W_EXPERTS ? s->ne[2] : 1;
    sc_tensor *t = sc_new_qtensor(ctx, q->d.bits, q->d.group_size, q->d.has_gidx != 0, s->ne[0], s->ne[1], n_mat);
    if (t) t->quant.flags |= q->d.quant_flags & SC_QUANT_BF16_ROUND;
    return t;
}

int sc__wquant_upload(sc_qformat *f, sc_tensor *t, const sc_wquant *q, char *err, size_t err_len) {
    const size_t slab = t->nb[2];
    /* Host-visible memory (CPU): the plugin converts straight into the
     * tensor, no staging copy (which cost a second page-zeroing pass over
     * every byte of the model). Otherwise stage one matrix at a time. */
    uint8_t *host = sc_buffer_host_ptr(t->buffer);
    if (host) host += (uint8_t *)t->data - (uint8_t *)t->buffer->base;
    uint8_t *buf = host ? NULL : malloc(slab);
    if (!host && !buf) return SC_ENOMEM;
    sc_tensor one = *t; /* one matrix of the stack: what the plugin fills */
    one.ne[2] = 1;
    one.ne[3] = 1;
    one.nb[3] = slab;
    int rc = SC_OK;
    for (int e = 0; e < q->n && rc == SC_OK; e++) {
        uint8_t *dst = host ? host + (size_t)e * slab : buf;
        memset(dst, 0, slab); /* padding between sections stays zero */
        rc = sc__qformat_convert(f, q->module[e], dst, slab, &one, err, err_len);
        if (rc == SC_OK && !host && (rc = sc_tensor_set(t, buf, (size_t)e * slab, slab)) != SC_OK)
            sc__errf(err, err_len, rc, "%s: upload: %s", q->module[e], sc_strerror(rc));
    }
    free(buf);
    return rc;
}

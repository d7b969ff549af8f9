/*
 * formats/awq/awq.c - AutoAWQ GEMM checkpoints (version "gemm", 4-bit) into
 * SC_TYPE_QG (specs formats.md section 2):
 *
 *   qweight I32 [K, N/8]   packed along N; output column 8c+m sits in nibble
 *                          AWQ_REVERSE_ORDER[m] of word c (pack order
 *                          [0,2,4,6,1,3,5,7])
 *   qzeros  I32 [K/gs, N/8] same nibble order; zeros stored directly
 *   scales  F16 [K/gs, N]
 *
 * W[n][k] = fp16(scale[g][n] * (q - z)), g = k / gs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "fmt_common.h"

static const uint32_t AWQ_REVERSE_ORDER[8] = {0, 4, 1, 5, 2, 6, 3, 7};

typedef struct awq {
    const sc_ckpt_reader *r;
    int group_size;
} awq;

typedef struct awq_lin {
    sc_ckpt_tensor qw, qz, sc;
    int64_t K, N, G;
} awq_lin;

static int a_detect(void *ctx, const char *qjson, int *score) {
    json_t *q = json_loads(qjson, 0, NULL);
    const char *m = fc_json_str(q, "quant_method", NULL);
    *score = m && !strcmp(m, "awq") ? 10 : 0;
    json_decref(q);
    return SC_OK;
}

static int a_open(void *ctx, const char *qjson, const sc_ckpt_reader *reader, void **handle, char *err, size_t err_len) {
    json_t *q = json_loads(qjson, 0, NULL);
    if (!json_is_object(q)) {
        json_decref(q);
        return fc_errf(err, err_len, SC_EFORMAT, "AWQ quantization config is not a JSON object");
    }
    int bits = (int)fc_json_int(q, "bits", "w_bit", 4);
    int gs = (int)fc_json_int(q, "group_size", "q_group_size", 128);
    const char *ver = fc_json_str(q, "version", "format");
    const json_t *zp = json_object_get(q, "zero_point");
    int rc = SC_OK;
    if (ver && strcasecmp(ver, "gemm"))
        rc = fc_errf(err, err_len, SC_ENOTSUP, "AWQ version \"%s\" is not supported (supported: gemm; GEMV, GEMV_fast, "
                     "Marlin and IPEX layouts differ)", ver);
    else if (bits != 4)
        rc = fc_errf(err, err_len, SC_ENOTSUP, "AWQ bits %d is not supported (GEMM is 4-bit only)", bits);
    else if (gs <= 0)
        rc = fc_errf(err, err_len, SC_ENOTSUP, "AWQ group_size %d is not supported (supported: 32, 64, 128, ...)", gs);
    else if (json_is_false(zp))
        rc = fc_errf(err, err_len, SC_ENOTSUP, "AWQ zero_point=false cannot be packed as GEMM");
    json_decref(q);
    if (rc != SC_OK) return rc;
    awq *a = calloc(1, sizeof *a);
    if (!a) return SC_ENOMEM;
    a->r = reader;
    a->group_size = gs;
    *handle = a;
    return SC_OK;
}

static int resolve(const awq *a, const char *module, awq_lin *l, bool *quant, char *err, size_t err_len) {
    memset(l, 0, sizeof *l);
    *quant = false;
    if (fc_get(a->r, module, "qweight", &l->qw) != SC_OK) return SC_OK; /* dense */
    if (strcmp(l->qw.dtype, "I32") || l->qw.ndims != 2)
        return fc_errf(err, err_len, SC_EFORMAT, "%s: qweight must be I32 [K, N/8]", module);
    const int64_t K = l->qw.shape[0], N = l->qw.shape[1] * 8, gs = a->group_size;
    if (K % gs)
        return fc_errf(err, err_len, SC_EFORMAT, "%s: in_features %lld is not a multiple of group_size %lld", module,
                       (long long)K, (long long)gs);
    const int64_t G = K / gs, zs[2] = {G, N / 8}, ss[2] = {G, N};
    if (fc_get(a->r, module, "qzeros", &l->qz) || fc_get(a->r, module, "scales", &l->sc))
        return fc_errf(err, err_len, SC_ENOENT, "%s: qweight without qzeros/scales", module);
    int rc = fc_expect(&l->qz, module, "qzeros", "I32", 2, zs, err, err_len);
    if (rc == SC_OK) rc = fc_expect(&l->sc, module, "scales", "F16", 2, ss, err, err_len);
    if (rc != SC_OK) return rc;
    l->K = K;
    l->N = N;
    l->G = G;
    *quant = true;
    return SC_OK;
}

static int a_info(void *h, const char *module, sc_linear_desc *out, char *err, size_t err_len) {
    const awq *a = h;
    awq_lin l;
    bool quant;
    int rc = resolve(a, module, &l, &quant, err, err_len);
    if (rc != SC_OK || !quant) return rc;
    out->quantized = 1;
    out->bits = 4;
    out->group_size = (uint32_t)a->group_size;
    out->has_gidx = 0;
    out->K = l.K;
    out->N = l.N;
    return SC_OK;
}

/* Nibble of output column n in row `words` of an [.., N/8] tensor. */
static inline uint32_t awq_nib(const void *words, int64_t n) {
    return (fc_word(words, (uint64_t)(n / 8)) >> (4u * AWQ_REVERSE_ORDER[n % 8])) & 0xFu;
}

static int a_convert(void *h, const char *module, void *dst, size_t dst_size, const sc_tensor *layout, char *err,
                     size_t err_len) {
    const awq *a = h;
    awq_lin l;
    bool quant;
    int rc = resolve(a, module, &l, &quant, err, err_len);
    if (rc == SC_OK && !quant) rc = fc_errf(err, err_len, SC_EINVAL, "%s: not quantized", module);
    if (rc == SC_OK) rc = fc_check_layout(layout, dst_size, module, l.K, l.N, 4, (uint32_t)a->group_size, 0, err, err_len);
    if (rc != SC_OK) return rc;
    const sc_quant_info *qi = &layout->quant;
    const int64_t K = l.K, N = l.N, G = l.G;
    uint8_t *base = dst;
    for (int64_t g = 0; g < G; g++) {
        const char *zrow = (const char *)l.qz.data + (uint64_t)(g * (N / 8)) * 4u;
        for (int64_t n = 0; n < N; n++) {
            base[qi->zeros_offset + (uint64_t)(n * G + g)] = (uint8_t)awq_nib(zrow, n);
            memcpy(base + qi->scales_offset + (uint64_t)(n * G + g) * 2u, (const char *)l.sc.data + (uint64_t)(g * N + n) * 2u, 2);
        }
    }
    for (int64_t k = 0; k < K; k++) { /* row k of qweight holds column k of every output row */
        const char *qrow = (const char *)l.qw.data + (uint64_t)(k * (N / 8)) * 4u;
        for (int64_t n = 0; n < N; n++) fc_put_code(base + (uint64_t)n * qi->row_bytes, k, 4, awq_nib(qrow, n));
    }
    return SC_OK;
}

static void a_close(void *h) { free(h); }

static const sc_format_iface a_format = {
    .struct_size = sizeof(sc_format_iface),
    .detect = a_detect,
    .open = a_open,
    .linear_info = a_info,
    .linear_convert = a_convert,
    .close = a_close,
    .methods = "awq",
};
static sc_plugin_iface a_iface;

SC_PLUGIN_EXPORT int strixcore_plugin_probe(const sc_host_api *host, sc_plugin_desc *desc) {
    return fc_probe(host, desc, "awq", "AutoAWQ GEMM 4-bit checkpoints");
}

SC_PLUGIN_EXPORT int strixcore_plugin_init(const sc_host_api *host, uint32_t abi_minor, const sc_plugin_iface **iface,
                                           void **ctx) {
    return fc_init(host, abi_minor, iface, ctx, &a_format, &a_iface);
}

/*
 * formats/gptq/gptq.c - GPTQ checkpoints (AutoGPTQ, GPTQModel, transformers
 * GPTQConfig) into SC_TYPE_QG. Layout (docs: specs formats.md section 1):
 *
 *   qweight I32 [K*b/32, N]  codes packed along K: code k of column n is field
 *                            k of the bitstream qweight[:, n] (32 codes per
 *                            b words, so 3-bit is the same rule)
 *   qzeros  I32 [G, N*b/32]  zeros packed along N; v1 ("gptq", the default)
 *                            stores z-1, v2 ("gptq_v2") stores z
 *   scales  F16 [G, N]
 *   g_idx   I32 [K]          group of column k (desc_act); trivial otherwise
 *
 * W[n][k] = fp16(scale[g][n] * (q - z)), g = g_idx[k]: exactly QG's formula,
 * so conversion only transposes and re-packs. GPTQModel `dynamic` rules pick
 * per-module settings: "-:re" leaves a module dense, "+:re" / "re" overrides
 * bits and group_size; the first matching rule wins (GPTQModel dynamic_get).
 */
#include <stdio.h>
#include <stdlib.h>

#include "fmt_common.h"

typedef struct gptq {
    const sc_ckpt_reader *r;
    json_t *cfg;
    int bits, group_size; /* group_size -1: one group per row */
    bool v2;
} gptq;

/* One module resolved: its tensors and settings, checked. */
typedef struct gptq_lin {
    sc_ckpt_tensor qw, qz, sc, gi;
    bool has_gi;     /* g_idx present and not the trivial k / gs */
    uint32_t bits, gs;
    int64_t K, N, G;
} gptq_lin;

static int g_detect(void *ctx, const char *qjson, int *score) {
    json_t *q = json_loads(qjson, 0, NULL);
    const char *m = fc_json_str(q, "quant_method", NULL);
    *score = m && !strcmp(m, "gptq") ? 10 : 0;
    json_decref(q);
    return SC_OK;
}

static bool bits_ok(int b) { return b == 2 || b == 3 || b == 4 || b == 8; }

static int g_open(void *ctx, const char *qjson, const sc_ckpt_reader *reader, void **handle, char *err, size_t err_len) {
    json_error_t je;
    json_t *q = json_loads(qjson, 0, &je);
    if (!json_is_object(q)) {
        json_decref(q);
        return fc_errf(err, err_len, SC_EFORMAT, "quantization config: %s", je.text);
    }
    int bits = (int)fc_json_int(q, "bits", "w_bit", 4);
    int gs = (int)fc_json_int(q, "group_size", "q_group_size", 128);
    const char *fmt = fc_json_str(q, "checkpoint_format", "format");
    int rc = SC_OK;
    if (!bits_ok(bits))
        rc = fc_errf(err, err_len, SC_ENOTSUP, "GPTQ bits %d is not supported (supported: 2, 3, 4, 8)", bits);
    else if (gs != -1 && gs <= 0)
        rc = fc_errf(err, err_len, SC_EFORMAT, "GPTQ group_size %d is invalid", gs);
    else if (fmt && strcmp(fmt, "gptq") && strcmp(fmt, "gptq_v2"))
        rc = fc_errf(err, err_len, SC_ENOTSUP, "GPTQ checkpoint_format \"%s\" is not supported (supported: gptq, gptq_v2)",
                     fmt);
    else if (json_is_true(json_object_get(q, "is_marlin_format")))
        rc = fc_errf(err, err_len, SC_ENOTSUP, "GPTQ Marlin-format checkpoints are not supported (supported: gptq, gptq_v2)");
    gptq *g = rc == SC_OK ? calloc(1, sizeof *g) : NULL;
    if (rc == SC_OK && !g) rc = SC_ENOMEM;
    if (rc != SC_OK) {
        json_decref(q);
        return rc;
    }
    g->r = reader;
    g->cfg = q;
    g->bits = bits;
    g->group_size = gs;
    g->v2 = fmt && !strcmp(fmt, "gptq_v2");
    *handle = g;
    return SC_OK;
}

/* Settings of `module` from the dynamic rules: 0 quantized (settings in bits, gs),
 * 1 skipped (dense), <0 error. */
static int dynamic_rule(const gptq *g, const char *module, int *bits, int *gs, char *err, size_t err_len) {
    const json_t *dyn = json_object_get(g->cfg, "dynamic");
    const char *key;
    json_t *val;
    *bits = g->bits;
    *gs = g->group_size;
    if (!json_is_object(dyn)) return 0;
    json_object_foreach((json_t *)dyn, key, val) {
        bool neg = !strncmp(key, "-:", 2);
        const char *pat = neg || !strncmp(key, "+:", 2) ? key + 2 : key;
        int m = fc_re_match(pat, module);
        if (m < 0) return fc_errf(err, err_len, SC_EFORMAT, "GPTQ dynamic rule \"%s\": bad regular expression", key);
        if (!m) continue;
        if (neg) return 1;
        *bits = (int)fc_json_int(val, "bits", NULL, *bits);
        *gs = (int)fc_json_int(val, "group_size", NULL, *gs);
        if (!bits_ok(*bits) || (*gs != -1 && *gs <= 0))
            return fc_errf(err, err_len, SC_ENOTSUP, "%s: dynamic rule \"%s\" gives bits %d, group_size %d", module, key,
                           *bits, *gs);
        return 0;
    }
    return 0;
}

/* SC_OK with *quant = false when the module is dense. */
static int resolve(const gptq *g, const char *module, gptq_lin *l, bool *quant, char *err, size_t err_len) {
    int bits, gs;
    memset(l, 0, sizeof *l);
    *quant = false;
    int rule = dynamic_rule(g, module, &bits, &gs, err, err_len);
    if (rule != 0) return rule < 0 ? rule : SC_OK;
    if (fc_get(g->r, module, "qweight", &l->qw) != SC_OK) return SC_OK; /* not quantized: <module>.weight */
    if (strcmp(l->qw.dtype, "I32") || l->qw.ndims != 2)
        return fc_errf(err, err_len, SC_EFORMAT, "%s: qweight must be I32 [K*bits/32, N] (pack_dtype int32)", module);
    const int64_t N = l->qw.shape[1], K = l->qw.shape[0] * 32 / bits;
    if ((l->qw.shape[0] * 32) % bits || N % 32 || K <= 0)
        return fc_errf(err, err_len, SC_EFORMAT, "%s: qweight shape [%lld, %lld] does not fit %d-bit codes", module,
                       (long long)l->qw.shape[0], (long long)N, bits);
    const int64_t gsz = gs == -1 ? K : gs, G = (K + gsz - 1) / gsz;
    if (fc_get(g->r, module, "qzeros", &l->qz) || fc_get(g->r, module, "scales", &l->sc))
        return fc_errf(err, err_len, SC_ENOENT, "%s: qweight without qzeros/scales", module);
    const int64_t zs[2] = {G, N * bits / 32}, ss[2] = {G, N}, gis[1] = {K};
    int rc = fc_expect(&l->qz, module, "qzeros", "I32", 2, zs, err, err_len);
    if (rc == SC_OK) rc = fc_expect(&l->sc, module, "scales", "F16", 2, ss, err, err_len);
    if (rc != SC_OK) return rc;
    if (fc_get(g->r, module, "g_idx", &l->gi) == SC_OK) {
        if ((rc = fc_expect(&l->gi, module, "g_idx", "I32", 1, gis, err, err_len)) != SC_OK) return rc;
        for (int64_t k = 0; k < K; k++) {
            int32_t v = (int32_t)fc_word(l->gi.data, (uint64_t)k);
            if (v < 0 || v >= G)
                return fc_errf(err, err_len, SC_ERANGE, "%s: g_idx[%lld] = %d is outside [0, %lld)", module, (long long)k,
                               v, (long long)G);
            if (v != k / gsz) l->has_gi = true; /* act-order: keep the table */
        }
    }
    l->bits = (uint32_t)bits;
    l->gs = (uint32_t)gsz;
    l->K = K;
    l->N = N;
    l->G = G;
    *quant = true;
    return SC_OK;
}

static int g_info(void *h, const char *module, sc_linear_desc *out, char *err, size_t err_len) {
    gptq_lin l;
    bool quant;
    int rc = resolve(h, module, &l, &quant, err, err_len);
    if (rc != SC_OK || !quant) return rc;
    out->quantized = 1;
    out->bits = l.bits;
    out->group_size = l.gs;
    out->has_gidx = l.has_gi;
    out->quant_flags = 0;
    out->K = l.K;
    out->N = l.N;
    return SC_OK;
}

static int g_convert(void *h, const char *module, void *dst, size_t dst_size, const sc_tensor *layout, char *err,
                     size_t err_len) {
    const gptq *g = h;
    gptq_lin l;
    bool quant;
    int rc = resolve(g, module, &l, &quant, err, err_len);
    if (rc == SC_OK && !quant) rc = fc_errf(err, err_len, SC_EINVAL, "%s: not quantized", module);
    if (rc == SC_OK) rc = fc_check_layout(layout, dst_size, module, l.K, l.N, l.bits, l.gs, l.has_gi, err, err_len);
    if (rc != SC_OK) return rc;
    const sc_quant_info *qi = &layout->quant;
    const uint32_t b = l.bits;
    const int64_t K = l.K, N = l.N, G = l.G;
    uint8_t *base = dst;
    /* zeros first: a v1 zero of 2^b (stored all ones, +1) fits u8 only below 8 bits */
    for (int64_t gg = 0; gg < G; gg++) {
        const char *zrow = (const char *)l.qz.data + (uint64_t)gg * (uint64_t)(N * b / 32) * 4u; /* [N*b/32] */
        for (int64_t n = 0; n < N; n++) {
            uint32_t z = fc_field(zrow, 1, (uint64_t)n, b) + (g->v2 ? 0u : 1u);
            if (z > 255)
                return fc_errf(err, err_len, SC_ERANGE, "%s: zero point %u (group %lld, row %lld) does not fit 8 bits",
                               module, z, (long long)gg, (long long)n);
            base[qi->zeros_offset + (uint64_t)n * G + gg] = (uint8_t)z;
            uint16_t s;
            memcpy(&s, (const char *)l.sc.data + ((uint64_t)gg * N + n) * 2u, 2);
            memcpy(base + qi->scales_offset + ((uint64_t)n * G + gg) * 2u, &s, 2);
        }
    }
    /* codes: column n of qweight [K*b/32, N] is row n of W. Both are the
     * same little-endian bitstream along K (code k at bit b*k, every width),
     * so when a row is exactly the column's words the conversion is a
     * transpose of 32-bit words, done in cache-sized tiles. */
    const int64_t W = l.qw.shape[0];
    if ((uint64_t)W * 4u == qi->row_bytes) {
        const char *qw = l.qw.data;
        enum { TILE = 64 };
        for (int64_t n0 = 0; n0 < N; n0 += TILE) {
            const int64_t n1 = n0 + TILE < N ? n0 + TILE : N;
            for (int64_t w0 = 0; w0 < W; w0 += TILE) {
                const int64_t w1 = w0 + TILE < W ? w0 + TILE : W;
                for (int64_t n = n0; n < n1; n++) {
                    uint8_t *row = base + (uint64_t)n * qi->row_bytes;
                    for (int64_t w = w0; w < w1; w++) memcpy(row + 4u * (uint64_t)w, qw + ((uint64_t)w * N + n) * 4u, 4);
                }
            }
        }
    } else {
        for (int64_t n = 0; n < N; n++) {
            uint8_t *row = base + (uint64_t)n * qi->row_bytes;
            const char *col = (const char *)l.qw.data + (uint64_t)n * 4u;
            for (int64_t k = 0; k < K; k++) fc_put_code(row, k, b, fc_field(col, (uint64_t)N, (uint64_t)k, b));
        }
    }
    if (l.has_gi) memcpy(base + qi->gidx_offset, l.gi.data, (size_t)K * 4u);
    return SC_OK;
}

static void g_close(void *h) {
    gptq *g = h;
    if (!g) return;
    json_decref(g->cfg);
    free(g);
}

static const sc_format_iface g_format = {
    .struct_size = sizeof(sc_format_iface),
    .detect = g_detect,
    .open = g_open,
    .linear_info = g_info,
    .linear_convert = g_convert,
    .close = g_close,
    .methods = "gptq",
};
static sc_plugin_iface g_iface;

SC_PLUGIN_EXPORT int strixcore_plugin_probe(const sc_host_api *host, sc_plugin_desc *desc) {
    return fc_probe(host, desc, "gptq", "GPTQ (AutoGPTQ / GPTQModel) checkpoints, v1 and v2 zeros, act-order");
}

SC_PLUGIN_EXPORT int strixcore_plugin_init(const sc_host_api *host, uint32_t abi_minor, const sc_plugin_iface **iface,
                                           void **ctx) {
    return fc_init(host, abi_minor, iface, ctx, &g_format, &g_iface);
}

/*
 * formats/compressed-tensors/ct.c - compressed-tensors "pack-quantized"
 * checkpoints (llm-compressor W4A16 / W8A16) into SC_TYPE_QG (specs
 * formats.md section 3). Tensors of one quantized Linear, K = in_features,
 * N = out_features, b = num_bits, G groups (1 for the channel strategy):
 *
 *   weight_packed     I32 [N, ceil(K*b/32)]  row n = output channel, codes
 *                                            packed along K as a dense LE
 *                                            bitstream (code k at bit b*k),
 *                                            offset-binary u = q + 2^(b-1)
 *   weight_scale      BF16|F16 [N, G]        ([N, 1] for "channel")
 *   weight_shape      I64 [2] = [N, K]       (the unpacked shape; checked)
 *   weight_g_idx      I32 [K]                only actorder "group"
 *   weight_zero_point I32 [ceil(N*b/32), G]  only asymmetric; packed along N
 *                                            (column g is a bitstream of N
 *                                            fields), offset-binary too
 *
 * Reference dequant: W[n][k] = round_to(scale.dtype, (q - zp) * scale[n][g]),
 * q = u - 2^(b-1), zp = z_u - 2^(b-1) (0 when symmetric). So q - zp = u - z_u
 * and QG holds it as is: codes = u, zero = z_u (2^(b-1) when symmetric),
 * scales as f16 (exact conversion required), and SC_QUANT_BF16_ROUND when
 * the scales are bf16 so the product is rounded to bf16 like the reference.
 *
 * The config picks the scheme per module: "ignore" (exact name, or "re:"
 * with Python re.match semantics) leaves a module dense; the module's scheme
 * is the config group whose "targets" match it (exact name, then "re:",
 * then the class name "Linear"); whether it is quantized at all is decided by
 * which tensors exist (weight_packed vs weight, formats.md section 0).
 */
#include <stdio.h>
#include <stdlib.h>

#include "fmt_common.h"

#define CT_FORMAT "pack-quantized"

/* One config group's weight scheme, validated at open. */
typedef struct ct_scheme {
    const char *name;     /* the config_groups key (owned by cfg) */
    const json_t *targets;
    uint32_t bits;
    bool sym;
    bool channel;         /* strategy "channel": one group of K */
    int64_t group_size;   /* strategy "group" */
} ct_scheme;

typedef struct ct {
    const sc_ckpt_reader *r;
    json_t *cfg;
    const json_t *ignore; /* array of names / "re:" patterns, or NULL */
    ct_scheme *s;
    size_t ns;
} ct;

/* One module resolved: its tensors and settings, checked. */
typedef struct ct_lin {
    sc_ckpt_tensor wp, sc, zp, gi;
    bool has_zp, has_gi; /* has_gi: g_idx present and not the trivial k / gs */
    bool bf16;           /* scales are bf16: round the product to bf16 */
    uint32_t bits, gs;
    int64_t K, N, G, W;  /* W: words per packed row, ceil(K*b/32) */
} ct_lin;

static int c_detect(void *ctx, const char *qjson, int *score) {
    json_t *q = json_loads(qjson, 0, NULL);
    const char *m = fc_json_str(q, "quant_method", NULL);
    *score = m && !strcmp(m, "compressed-tensors") ? 10 : 0;
    json_decref(q);
    return SC_OK;
}

/* Validate config group `name` (global format gfmt) into *s. */
static int parse_group(const char *name, const json_t *grp, const char *gfmt, ct_scheme *s, char *err, size_t err_len) {
    const char *fmt = fc_json_str(grp, "format", NULL);
    if (!fmt) fmt = gfmt;
    if (fmt && !strcmp(fmt, "mixed-precision"))
        return fc_errf(err, err_len, SC_EFORMAT,
                       "compressed-tensors group \"%s\": mixed-precision needs a per-group format", name);
    if (fmt && strcmp(fmt, CT_FORMAT))
        return fc_errf(err, err_len, SC_ENOTSUP,
                       "compressed-tensors group \"%s\": format \"%s\" is not supported (supported: " CT_FORMAT ")",
                       name, fmt);
    const json_t *w = json_object_get(grp, "weights");
    if (!json_is_object(w))
        return fc_errf(err, err_len, SC_ENOTSUP, "compressed-tensors group \"%s\": no \"weights\" scheme", name);
    const json_t *ia = json_object_get(grp, "input_activations");
    if (ia && !json_is_null(ia))
        return fc_errf(err, err_len, SC_ENOTSUP,
                       "compressed-tensors group \"%s\": activation quantization (input_activations) is not supported",
                       name);
    const char *type = fc_json_str(w, "type", NULL);
    if (type && strcmp(type, "int"))
        return fc_errf(err, err_len, SC_ENOTSUP,
                       "compressed-tensors group \"%s\": weight type \"%s\" is not supported (supported: int)", name, type);
    int64_t bits = fc_json_int(w, "num_bits", NULL, 8);
    if (bits != 2 && bits != 4 && bits != 8)
        return fc_errf(err, err_len, SC_ENOTSUP,
                       "compressed-tensors group \"%s\": num_bits %lld is not supported (supported: 2, 4, 8)", name,
                       (long long)bits);
    const json_t *sym = json_object_get(w, "symmetric");
    int64_t gs = fc_json_int(w, "group_size", NULL, -1);
    const char *strat = fc_json_str(w, "strategy", NULL);
    if (!strat && gs > 0) strat = "group"; /* QuantizationArgs infers it from group_size */
    if (!strat || (strcmp(strat, "group") && strcmp(strat, "channel")))
        return fc_errf(err, err_len, SC_ENOTSUP,
                       "compressed-tensors group \"%s\": strategy \"%s\" is not supported (supported: group, channel)",
                       name, strat ? strat : "tensor");
    s->channel = !strcmp(strat, "channel");
    if (!s->channel && gs <= 0)
        return fc_errf(err, err_len, SC_EFORMAT, "compressed-tensors group \"%s\": strategy group needs group_size > 0",
                       name);
    s->name = name;
    s->targets = json_object_get(grp, "targets");
    s->bits = (uint32_t)bits;
    s->sym = !sym || json_is_true(sym); /* QuantizationArgs default: symmetric */
    s->group_size = gs;
    return SC_OK;
}

static int c_open(void *ctx, const char *qjson, const sc_ckpt_reader *reader, void **handle, char *err, size_t err_len) {
    json_error_t je;
    json_t *q = json_loads(qjson, 0, &je);
    if (!json_is_object(q)) {
        json_decref(q);
        return fc_errf(err, err_len, SC_EFORMAT, "quantization config: %s", je.text);
    }
    int rc = SC_OK;
    const char *gfmt = fc_json_str(q, "format", NULL);
    const json_t *groups = json_object_get(q, "config_groups");
    const json_t *sp = json_object_get(q, "sparsity_config");
    const char *spf = fc_json_str(sp, "format", NULL);
    const json_t *tc = json_object_get(q, "transform_config");
    const json_t *tcg = json_object_get(tc, "config_groups");
    if (gfmt && strcmp(gfmt, CT_FORMAT) && strcmp(gfmt, "mixed-precision"))
        rc = fc_errf(err, err_len, SC_ENOTSUP,
                     "compressed-tensors format \"%s\" is not supported (supported: " CT_FORMAT ")", gfmt);
    else if (!json_is_object(groups) || !json_object_size(groups))
        rc = fc_errf(err, err_len, SC_EFORMAT, "compressed-tensors config has no config_groups");
    else if (spf && strcmp(spf, "dense"))
        rc = fc_errf(err, err_len, SC_ENOTSUP, "compressed-tensors sparsity format \"%s\" is not supported", spf);
    else if (json_is_object(tcg) && json_object_size(tcg))
        rc = fc_errf(err, err_len, SC_ENOTSUP, "compressed-tensors transforms (transform_config) are not supported");
    ct *c = rc == SC_OK ? calloc(1, sizeof *c) : NULL;
    if (rc == SC_OK && !c) rc = SC_ENOMEM;
    if (c) c->s = calloc(json_object_size(groups), sizeof *c->s);
    if (c && !c->s) rc = SC_ENOMEM;
    if (rc == SC_OK) {
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)groups, key, val) {
            if ((rc = parse_group(key, val, gfmt, &c->s[c->ns], err, err_len)) != SC_OK) break;
            c->ns++;
        }
    }
    if (rc != SC_OK) {
        if (c) free(c->s);
        free(c);
        json_decref(q);
        return rc;
    }
    c->r = reader;
    c->cfg = q;
    c->ignore = json_object_get(q, "ignore");
    *handle = c;
    return SC_OK;
}

/* How well one target / ignore entry matches: 3 exact name, 2 "re:",
 * 1 class name "Linear" (every module asked about is a Linear), 0 none;
 * <0 bad regex. */
static int target_match(const char *t, const char *module) {
    if (!strcmp(t, module)) return 3;
    if (!strncmp(t, "re:", 3)) {
        int m = fc_re_match(t + 3, module);
        return m < 0 ? m : m ? 2 : 0;
    }
    return !strcmp(t, "Linear") ? 1 : 0;
}

/* The scheme of `module`: *out NULL when ignored or untargeted. */
static int pick_scheme(const ct *c, const char *module, const ct_scheme **out, bool *ignored, char *err,
                       size_t err_len) {
    size_t i;
    json_t *v;
    *out = NULL;
    *ignored = false;
    json_array_foreach((json_t *)c->ignore, i, v) {
        const char *t = json_string_value(v);
        int m = t ? target_match(t, module) : 0;
        if (m < 0) return fc_errf(err, err_len, SC_EFORMAT, "compressed-tensors ignore \"%s\": bad regular expression", t);
        if (m) {
            *ignored = true;
            return SC_OK;
        }
    }
    int best = 0;
    for (size_t s = 0; s < c->ns; s++) {
        json_array_foreach((json_t *)c->s[s].targets, i, v) {
            const char *t = json_string_value(v);
            int m = t ? target_match(t, module) : 0;
            if (m < 0)
                return fc_errf(err, err_len, SC_EFORMAT,
                               "compressed-tensors group \"%s\": target \"%s\": bad regular expression", c->s[s].name, t);
            if (m > best) best = m, *out = &c->s[s]; /* the first group of the best kind wins */
        }
    }
    return SC_OK;
}

/* SC_OK with *quant = false when the module is dense. */
static int resolve(const ct *c, const char *module, ct_lin *l, bool *quant, char *err, size_t err_len) {
    const ct_scheme *s;
    bool ignored;
    memset(l, 0, sizeof *l);
    *quant = false;
    int rc = pick_scheme(c, module, &s, &ignored, err, err_len);
    if (rc != SC_OK || ignored) return rc;
    if (fc_get(c->r, module, "weight_packed", &l->wp) != SC_OK) return SC_OK; /* dense: <module>.weight */
    if (!s)
        return fc_errf(err, err_len, SC_EFORMAT, "%s: weight_packed present but no config group targets the module",
                       module);
    const uint32_t b = s->bits;
    if (strcmp(l->wp.dtype, "I32") || l->wp.ndims != 2)
        return fc_errf(err, err_len, SC_EFORMAT, "%s: weight_packed must be I32 [N, ceil(K*%u/32)] (group \"%s\")",
                       module, b, s->name);
    /* weight_shape [2] = [N, K]: K is not recoverable from the padded rows */
    sc_ckpt_tensor ws;
    if (fc_get(c->r, module, "weight_shape", &ws) != SC_OK)
        return fc_errf(err, err_len, SC_ENOENT, "%s: weight_packed without weight_shape", module);
    const int64_t two[1] = {2};
    const bool i64 = !strcmp(ws.dtype, "I64");
    if ((rc = fc_expect(&ws, module, "weight_shape", i64 ? "I64" : "I32", 1, two, err, err_len)) != SC_OK) return rc;
    int64_t shp[2];
    for (int d = 0; d < 2; d++) {
        if (i64) {
            memcpy(&shp[d], (const char *)ws.data + d * 8, 8);
        } else {
            shp[d] = (int32_t)fc_word(ws.data, (uint64_t)d);
        }
    }
    const int64_t N = l->wp.shape[0], K = shp[1];
    if (shp[0] != N || K <= 0 || K > INT32_MAX || l->wp.shape[1] != (K * b + 31) / 32)
        return fc_errf(err, err_len, SC_EFORMAT,
                       "%s: weight_shape [%lld, %lld] does not match weight_packed [%lld, %lld] (%u-bit, group \"%s\")",
                       module, (long long)shp[0], (long long)shp[1], (long long)N, (long long)l->wp.shape[1], b, s->name);
    const int64_t gs = s->channel ? K : s->group_size, G = (K + gs - 1) / gs;
    if (fc_get(c->r, module, "weight_scale", &l->sc) != SC_OK)
        return fc_errf(err, err_len, SC_ENOENT, "%s: weight_packed without weight_scale", module);
    if (strcmp(l->sc.dtype, "BF16") && strcmp(l->sc.dtype, "F16"))
        return fc_errf(err, err_len, SC_ENOTSUP,
                       "%s: weight_scale dtype %s is not supported (supported: BF16, F16; the reference weight would "
                       "be %s)", module, l->sc.dtype, l->sc.dtype);
    const int64_t ss[2] = {N, G}, zs[2] = {(N * b + 31) / 32, G}, gis[1] = {K};
    if ((rc = fc_expect(&l->sc, module, "weight_scale", NULL, 2, ss, err, err_len)) != SC_OK) return rc;
    if (fc_get(c->r, module, "weight_zero_point", &l->zp) == SC_OK) {
        /* written only when asymmetric (_skip_zp), but honoured whenever present */
        if ((rc = fc_expect(&l->zp, module, "weight_zero_point", "I32", 2, zs, err, err_len)) != SC_OK) return rc;
        l->has_zp = true;
    } else if (!s->sym) {
        return fc_errf(err, err_len, SC_ENOENT, "%s: asymmetric (group \"%s\") but no weight_zero_point", module,
                       s->name);
    }
    if (fc_get(c->r, module, "weight_g_idx", &l->gi) == SC_OK) {
        if ((rc = fc_expect(&l->gi, module, "weight_g_idx", "I32", 1, gis, err, err_len)) != SC_OK) return rc;
        for (int64_t k = 0; k < K; k++) {
            int32_t v = (int32_t)fc_word(l->gi.data, (uint64_t)k);
            if (v < 0 || v >= G)
                return fc_errf(err, err_len, SC_ERANGE, "%s: weight_g_idx[%lld] = %d is outside [0, %lld)", module,
                               (long long)k, v, (long long)G);
            if (v != k / gs) l->has_gi = true; /* act-order: keep the table */
        }
    }
    l->bf16 = !strcmp(l->sc.dtype, "BF16");
    l->bits = b;
    l->gs = (uint32_t)gs;
    l->K = K;
    l->N = N;
    l->G = G;
    l->W = l->wp.shape[1];
    *quant = true;
    return SC_OK;
}

static int c_info(void *h, const char *module, sc_linear_desc *out, char *err, size_t err_len) {
    ct_lin l;
    bool quant;
    int rc = resolve(h, module, &l, &quant, err, err_len);
    if (rc != SC_OK || !quant) return rc;
    out->quantized = 1;
    out->bits = l.bits;
    out->group_size = l.gs;
    out->has_gidx = l.has_gi;
    out->quant_flags = l.bf16 ? SC_QUANT_BF16_ROUND : 0;
    out->K = l.K;
    out->N = l.N;
    return SC_OK;
}

static int c_convert(void *h, const char *module, void *dst, size_t dst_size, const sc_tensor *layout, char *err,
                     size_t err_len) {
    ct_lin l;
    bool quant;
    int rc = resolve(h, module, &l, &quant, err, err_len);
    if (rc == SC_OK && !quant) rc = fc_errf(err, err_len, SC_EINVAL, "%s: not quantized", module);
    if (rc == SC_OK) rc = fc_check_layout(layout, dst_size, module, l.K, l.N, l.bits, l.gs, l.has_gi, err, err_len);
    if (rc != SC_OK) return rc;
    const sc_quant_info *qi = &layout->quant;
    const uint32_t b = l.bits;
    const int64_t K = l.K, N = l.N, G = l.G;
    uint8_t *base = dst;
    /* scales [N, G] -> f16 [N, G]; zeros: column g of weight_zero_point
     * [ceil(N*b/32), G] is a bitstream of N fields (word j at j*G + g) */
    for (int64_t n = 0; n < N; n++) {
        for (int64_t g = 0; g < G; g++) {
            const uint64_t i = (uint64_t)(n * G + g);
            uint16_t s;
            if (fc_scale_f16(l.sc.data, i, l.sc.dtype, &s) != SC_OK) {
                uint16_t raw;
                memcpy(&raw, (const char *)l.sc.data + i * 2u, 2);
                float f = l.bf16 ? fc_host->bf16_to_f32(raw) : fc_host->f16_to_f32(raw);
                return fc_errf(err, err_len, SC_ERANGE,
                               "%s: weight_scale[%lld][%lld] = %g is not exactly representable as f16 (QG scales are f16)",
                               module, (long long)n, (long long)g, (double)f);
            }
            memcpy(base + qi->scales_offset + i * 2u, &s, 2);
            uint32_t z = l.has_zp ? fc_field((const char *)l.zp.data + (uint64_t)g * 4u, (uint64_t)G, (uint64_t)n, b)
                                  : 1u << (b - 1);
            base[qi->zeros_offset + i] = (uint8_t)z; /* b <= 8 */
        }
    }
    /* codes: row n of weight_packed is already QG's row bitstream (ceil(K*b/32)
     * words); copy it and clear the padding past code K-1 */
    const uint64_t wbytes = (uint64_t)l.W * 4u, used = (uint64_t)K * b;
    if (qi->row_bytes < wbytes)
        return fc_errf(err, err_len, SC_EINVAL, "%s: QG row of %llu bytes is shorter than a packed row", module,
                       (unsigned long long)qi->row_bytes);
    for (int64_t n = 0; n < N; n++) {
        uint8_t *row = base + (uint64_t)n * qi->row_bytes;
        memcpy(row, (const char *)l.wp.data + (uint64_t)n * wbytes, wbytes);
        if (used & 7u) row[used >> 3] &= (uint8_t)((1u << (used & 7u)) - 1u);
        memset(row + (used + 7) / 8, 0, qi->row_bytes - (used + 7) / 8);
    }
    if (l.has_gi) memcpy(base + qi->gidx_offset, l.gi.data, (size_t)K * 4u);
    return SC_OK;
}

static void c_close(void *h) {
    ct *c = h;
    if (!c) return;
    json_decref(c->cfg);
    free(c->s);
    free(c);
}

static const sc_format_iface c_format = {
    .struct_size = sizeof(sc_format_iface),
    .detect = c_detect,
    .open = c_open,
    .linear_info = c_info,
    .linear_convert = c_convert,
    .close = c_close,
    .methods = "compressed-tensors",
};
static sc_plugin_iface c_iface;

SC_PLUGIN_EXPORT int strixcore_plugin_probe(const sc_host_api *host, sc_plugin_desc *desc) {
    return fc_probe(host, desc, "compressed-tensors",
                    "compressed-tensors pack-quantized (llm-compressor W4A16/W8A16), group/channel, asym, act-order");
}

SC_PLUGIN_EXPORT int strixcore_plugin_init(const sc_host_api *host, uint32_t abi_minor, const sc_plugin_iface **iface,
                                           void **ctx) {
    return fc_init(host, abi_minor, iface, ctx, &c_format, &c_iface);
}

/*
 * tests/formats/test_formats.c - every format plugin against the
 * dequantisation formulas of specs/formats.md, on tiny checkpoints packed
 * here with the reference packing rules (fmt_pack.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt_pack.h"

#define MOD "model.layers.0.mlp.down_proj"

/* Reference weights of one module: W[n][k] (already rounded as the format says). */
typedef struct ref {
    int64_t K, N;
    float *w; /* [N][K] */
} ref;

/* Convert `module` through the plugin and compare every row with r. */
static void check_module(fp_open *o, const char *module, const ref *r, int want_gidx, uint32_t want_flags) {
    sc_tensor t;
    uint8_t *slab;
    int rc = fp_convert(o, module, &t, &slab);
    if (rc != SC_OK) fprintf(stderr, "%s: %s\n", module, o->err);
    assert_int_equal(rc, SC_OK);
    assert_int_equal(!!(t.quant.flags & SC_QUANT_HAS_GIDX), want_gidx);
    assert_int_equal(t.quant.flags & SC_QUANT_BF16_ROUND, want_flags & SC_QUANT_BF16_ROUND);
    float *row = malloc((size_t)r->K * sizeof *row);
    assert_non_null(row);
    for (int64_t n = 0; n < r->N; n++) {
        assert_int_equal(sc_quant_dequant_row(&t, slab, n, row), SC_OK);
        for (int64_t k = 0; k < r->K; k++) {
            if (row[k] != r->w[n * r->K + k])
                fail_msg("%s: W[%lld][%lld] = %g, expected %g", module, (long long)n, (long long)k, row[k],
                         r->w[n * r->K + k]);
        }
    }
    free(row);
    free(slab);
}

/* ---- GPTQ -------------------------------------------------------------- */
typedef struct gcase {
    uint32_t bits;
    int gs;        /* -1: one group */
    bool v2, sym, act_order;
    int64_t K, N;
} gcase;

/* Add module's GPTQ tensors (qweight [K*b/32, N], qzeros [G, N*b/32],
 * scales [G, N], g_idx [K]) from random codes; fill r with
 * W[n][k] = fp16(scale[g][n] * (q - z)), g = g_idx[k] (formats.md 1.6). */
static void gptq_module(fp_ckpt *c, const char *module, const gcase *g, ref *r) {
    const uint32_t b = g->bits, maxq = (1u << b) - 1u;
    const int64_t K = g->K, N = g->N, gs = g->gs == -1 ? K : g->gs, G = (K + gs - 1) / gs;
    uint32_t *qw = calloc((size_t)(K * b / 32 * N), 4), *qz = calloc((size_t)(G * N * b / 32), 4);
    uint16_t *sc = calloc((size_t)(G * N), 2);
    int32_t *gi = calloc((size_t)K, 4);
    uint8_t *q = calloc((size_t)(K * N), 1), *z = calloc((size_t)(G * N), 1);
    assert_true(qw && qz && sc && gi && q && z);
    for (int64_t k = 0; k < K; k++) gi[k] = (int32_t)(k / gs);
    if (g->act_order) /* g_idx = (arange(K) // gs)[perm]: a shuffle of the trivial table */
        for (int64_t k = K - 1; k > 0; k--) {
            int64_t j = fp_rand() % (uint32_t)(k + 1);
            int32_t t = gi[k];
            gi[k] = gi[j];
            gi[j] = t;
        }
    for (int64_t i = 0; i < K * N; i++) q[i] = (uint8_t)(fp_rand() & maxq);
    for (int64_t i = 0; i < G * N; i++) {
        /* v1 cannot store z = 0 (it would be -1): asymmetric v1 zeros are >= 1 */
        z[i] = g->sym ? (uint8_t)(1u << (b - 1)) : (uint8_t)(g->v2 ? fp_rand() & maxq : 1 + fp_rand() % maxq);
        sc[i] = fp_scale();
    }
    for (int64_t k = 0; k < K; k++)
        for (int64_t n = 0; n < N; n++) fp_put(qw + n, (uint64_t)N, (uint64_t)k, b, q[k * N + n]);
    for (int64_t gg = 0; gg < G; gg++)
        for (int64_t n = 0; n < N; n++)
            fp_put(qz + gg * (N * b / 32), 1, (uint64_t)n, b, g->v2 ? z[gg * N + n] : z[gg * N + n] - 1u);
    char name[200];
    snprintf(name, sizeof name, "%s.qweight", module);
    fp_add(c, name, SC_ST_I32, 2, K * b / 32, N, qw, (size_t)(K * b / 32 * N) * 4);
    snprintf(name, sizeof name, "%s.qzeros", module);
    fp_add(c, name, SC_ST_I32, 2, G, N * b / 32, qz, (size_t)(G * N * b / 32) * 4);
    snprintf(name, sizeof name, "%s.scales", module);
    fp_add(c, name, SC_ST_F16, 2, G, N, sc, (size_t)(G * N) * 2);
    snprintf(name, sizeof name, "%s.g_idx", module);
    fp_add(c, name, SC_ST_I32, 1, K, 0, gi, (size_t)K * 4);
    r->K = K;
    r->N = N;
    r->w = malloc((size_t)(K * N) * sizeof *r->w);
    assert_non_null(r->w);
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++) {
            int64_t gg = gi[k];
            r->w[n * K + k] = fp_round_f16(sc_f16_to_f32(sc[gg * N + n]) * (float)((int)q[k * N + n] - (int)z[gg * N + n]));
        }
    free(qw), free(qz), free(sc), free(gi), free(q), free(z);
}

static void gptq_config(char *buf, size_t len, const gcase *g, const char *extra) {
    snprintf(buf, len,
             "{\"quant_method\": \"gptq\", \"bits\": %u, \"group_size\": %d, \"sym\": %s, \"desc_act\": %s, "
             "\"checkpoint_format\": \"%s\", \"pack_dtype\": \"int32\"%s}",
             g->bits, g->gs, g->sym ? "true" : "false", g->act_order ? "true" : "false", g->v2 ? "gptq_v2" : "gptq",
             extra ? extra : "");
}

static void run_gptq(const gcase *g) {
    fp_ckpt c = {0};
    ref r;
    char cfg[512];
    fp_seed(g->bits * 1000u + (uint32_t)g->gs * 7u + g->v2 * 3u + g->sym * 5u + g->act_order * 11u);
    gptq_module(&c, MOD, g, &r);
    gptq_config(cfg, sizeof cfg, g, NULL);
    fp_write(&c, cfg);
    fp_open o;
    fp_open_ckpt(&o, c.dir);
    if (o.rc != SC_OK) fprintf(stderr, "%s\n", o.err);
    assert_int_equal(o.rc, SC_OK);
    check_module(&o, MOD, &r, g->act_order && g->gs != -1 && g->gs < g->K, 0);
    fp_close(&o);
    fp_free(&c);
    free(r.w);
}

static void test_gptq_variants(void **state) {
    static const uint32_t bits[] = {2, 3, 4, 8};
    static const int gss[] = {-1, 32, 64, 128};
    for (int bi = 0; bi < 4; bi++)
        for (int gi = 0; gi < 4; gi++)
            for (int v = 0; v < 4; v++) { /* v1/v2 x sym/asym */
                gcase g = {bits[bi], gss[gi], v & 1, (v >> 1) & 1, false, 256, 64};
                run_gptq(&g);
                g.act_order = true;
                run_gptq(&g);
            }
}

/* dynamic: "-:" leaves a module dense, "+:" overrides bits and group size */
static void test_gptq_dynamic(void **state) {
    fp_ckpt c = {0};
    ref r8, r4;
    gcase g8 = {8, 32, false, true, false, 128, 32}, g4 = {4, 64, false, false, false, 128, 32};
    fp_seed(77);
    gptq_module(&c, "model.layers.0.self_attn.q_proj", &g8, &r8);
    gptq_module(&c, "model.layers.0.self_attn.k_proj", &g4, &r4);
    free(r4.w);
    gptq_module(&c, "model.layers.0.mlp.gate", &g4, &r4); /* packed, but the rule says dense */
    free(r4.w);
    char cfg[512];
    gptq_config(cfg, sizeof cfg, &g4,
                ", \"dynamic\": {\"-:.*mlp\\\\.gate$\": {}, \"+:.*q_proj\": {\"bits\": 8, \"group_size\": 32}}");
    fp_write(&c, cfg);
    fp_open o;
    fp_open_ckpt(&o, c.dir);
    assert_int_equal(o.rc, SC_OK);
    check_module(&o, "model.layers.0.self_attn.q_proj", &r8, 0, 0);
    sc_linear_desc d;
    assert_int_equal(sc__qformat_info(o.f, "model.layers.0.mlp.gate", &d, o.err, sizeof o.err), SC_OK);
    assert_int_equal(d.quantized, 0);
    assert_int_equal(sc__qformat_info(o.f, "model.layers.0.self_attn.k_proj", &d, o.err, sizeof o.err), SC_OK);
    assert_int_equal(d.quantized, 1);
    assert_int_equal(d.bits, 4);
    assert_int_equal(d.group_size, 64);
    /* a module with no qweight is dense */
    assert_int_equal(sc__qformat_info(o.f, "model.embed_tokens", &d, o.err, sizeof o.err), SC_OK);
    assert_int_equal(d.quantized, 0);
    fp_close(&o);
    fp_free(&c);
    free(r8.w);
}

static void expect_open_error(fp_ckpt *c, const char *cfg, const char *module, const char *msg) {
    fp_write(c, cfg);
    fp_open o;
    fp_open_ckpt(&o, c->dir);
    if (o.rc == SC_OK && module) {
        sc_linear_desc d;
        o.rc = sc__qformat_info(o.f, module, &d, o.err, sizeof o.err);
    }
    assert_int_not_equal(o.rc, SC_OK);
    if (!strstr(o.err, msg)) fail_msg("error \"%s\" does not contain \"%s\"", o.err, msg);
    fp_close(&o);
}

static void test_gptq_errors(void **state) {
    fp_ckpt c = {0};
    ref r;
    gcase g = {4, 64, false, true, false, 128, 32};
    gptq_module(&c, MOD, &g, &r);
    free(r.w);
    /* qzeros of 2 groups where the config says group 32 (4 groups) */
    expect_open_error(&c, "{\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 32}", MOD,
                      MOD ": qzeros shape [2, 4] does not match [4, 4]");
    fp_free(&c);
    fp_ckpt c2 = {0};
    gptq_module(&c2, MOD, &g, &r);
    free(r.w);
    expect_open_error(&c2, "{\"quant_method\": \"gptq\", \"bits\": 5}", NULL, "bits 5 is not supported");
    fp_free(&c2);
    fp_ckpt c3 = {0};
    gptq_module(&c3, MOD, &g, &r);
    free(r.w);
    expect_open_error(&c3, "{\"quant_method\": \"gptq\", \"checkpoint_format\": \"marlin\"}", NULL,
                      "checkpoint_format \"marlin\" is not supported");
    fp_free(&c3);
    fp_ckpt c4 = {0};
    gptq_module(&c4, MOD, &g, &r);
    free(r.w);
    expect_open_error(&c4, "{\"quant_method\": \"fp8\"}", NULL, "quant_method \"fp8\" is not supported (supported: ");
    fp_free(&c4);
}

/* ---- AWQ GEMM ------------------------------------------------------------ */
/* qweight[k][c] = OR_j q[k][8c + AWQ_ORDER[j]] << 4j (formats.md 2.2), the
 * same for qzeros; W[n][k] = fp16(scale[g][n] * (q - z)), g = k / gs. */
static void awq_module(fp_ckpt *c, const char *module, int64_t K, int64_t N, int64_t gs, ref *r) {
    static const int ORDER[8] = {0, 2, 4, 6, 1, 3, 5, 7};
    const int64_t G = K / gs;
    uint32_t *qw = calloc((size_t)(K * N / 8), 4), *qz = calloc((size_t)(G * N / 8), 4);
    uint16_t *sc = calloc((size_t)(G * N), 2);
    uint8_t *q = calloc((size_t)(K * N), 1), *z = calloc((size_t)(G * N), 1);
    assert_true(qw && qz && sc && q && z);
    for (int64_t i = 0; i < K * N; i++) q[i] = (uint8_t)(fp_rand() & 15u);
    for (int64_t i = 0; i < G * N; i++) z[i] = (uint8_t)(fp_rand() & 15u), sc[i] = fp_scale();
    for (int64_t k = 0; k < K; k++)
        for (int64_t cc = 0; cc < N / 8; cc++)
            for (int j = 0; j < 8; j++) qw[k * (N / 8) + cc] |= (uint32_t)q[k * N + 8 * cc + ORDER[j]] << (4 * j);
    for (int64_t g = 0; g < G; g++)
        for (int64_t cc = 0; cc < N / 8; cc++)
            for (int j = 0; j < 8; j++) qz[g * (N / 8) + cc] |= (uint32_t)z[g * N + 8 * cc + ORDER[j]] << (4 * j);
    char name[200];
    snprintf(name, sizeof name, "%s.qweight", module);
    fp_add(c, name, SC_ST_I32, 2, K, N / 8, qw, (size_t)(K * N / 8) * 4);
    snprintf(name, sizeof name, "%s.qzeros", module);
    fp_add(c, name, SC_ST_I32, 2, G, N / 8, qz, (size_t)(G * N / 8) * 4);
    snprintf(name, sizeof name, "%s.scales", module);
    fp_add(c, name, SC_ST_F16, 2, G, N, sc, (size_t)(G * N) * 2);
    r->K = K;
    r->N = N;
    r->w = malloc((size_t)(K * N) * sizeof *r->w);
    assert_non_null(r->w);
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++) {
            int64_t g = k / gs;
            r->w[n * K + k] = fp_round_f16(sc_f16_to_f32(sc[g * N + n]) * (float)((int)q[k * N + n] - (int)z[g * N + n]));
        }
    free(qw), free(qz), free(sc), free(q), free(z);
}

static void test_awq_gemm(void **state) {
    static const int gss[] = {32, 64, 128};
    for (int i = 0; i < 3; i++) {
        fp_ckpt c = {0};
        ref r;
        char cfg[256];
        fp_seed(100u + (uint32_t)i);
        awq_module(&c, MOD, 256, 48, gss[i], &r);
        snprintf(cfg, sizeof cfg,
                 "{\"quant_method\": \"awq\", \"zero_point\": true, \"group_size\": %d, \"bits\": 4, \"version\": \"gemm\", "
                 "\"modules_to_not_convert\": null}", gss[i]);
        fp_write(&c, cfg);
        fp_open o;
        fp_open_ckpt(&o, c.dir);
        assert_int_equal(o.rc, SC_OK);
        check_module(&o, MOD, &r, 0, 0);
        fp_close(&o);
        fp_free(&c);
        free(r.w);
    }
}

static void test_awq_errors(void **state) {
    fp_ckpt c = {0};
    ref r;
    awq_module(&c, MOD, 128, 16, 64, &r);
    free(r.w);
    expect_open_error(&c, "{\"quant_method\": \"awq\", \"bits\": 4, \"group_size\": 64, \"version\": \"gemv\"}", NULL,
                      "AWQ version \"gemv\" is not supported");
    fp_free(&c);
    fp_ckpt c2 = {0};
    awq_module(&c2, MOD, 128, 16, 64, &r);
    free(r.w);
    expect_open_error(&c2, "{\"quant_method\": \"awq\", \"bits\": 4, \"group_size\": 32, \"version\": \"gemm\"}", MOD,
                      MOD ": qzeros shape [2, 2] does not match [4, 2]");
    fp_free(&c2);
}

/* ---- compressed-tensors pack-quantized ---------------------------------- */
typedef struct ccase {
    uint32_t bits;
    int gs;            /* -1: strategy "channel" (one group of K) */
    bool sym, act_order, f16; /* f16: F16 scales (fp16 rounding), else BF16 */
    int64_t K, N;
    int bad;           /* 1: weight_shape K off by 32, 2: zero point rows off by one, 3: a scale of 2^20 */
} ccase;

/* Add module's compressed-tensors tensors from random offset-binary codes
 * (formats.md 3.1-3.3): weight_packed [N, ceil(K*b/32)] packed along K,
 * weight_scale [N, G], weight_shape I64 [N, K], weight_zero_point
 * [ceil(N*b/32), G] packed along N (asym), weight_g_idx [K] (act-order);
 * r gets W[n][k] = round_to(scale dtype, (q - zp) * scale[n][g]) with
 * q = u - 2^(b-1), zp = z_u - 2^(b-1). */
static void ct_module(fp_ckpt *c, const char *module, const ccase *cc, ref *r) {
    const uint32_t b = cc->bits, half = 1u << (b - 1), maxq = (1u << b) - 1u;
    const int64_t K = cc->K, N = cc->N, gs = cc->gs == -1 ? K : cc->gs, G = (K + gs - 1) / gs;
    const int64_t W = (K * b + 31) / 32, ZR = (N * b + 31) / 32;
    uint32_t *wp = calloc((size_t)(N * W), 4), *zp = calloc((size_t)((ZR + 1) * G), 4);
    uint16_t *sc = calloc((size_t)(G * N), 2);
    int32_t *gi = calloc((size_t)K, 4);
    uint8_t *u = calloc((size_t)(K * N), 1), *z = calloc((size_t)(G * N), 1);
    assert_true(wp && zp && sc && gi && u && z);
    for (int64_t k = 0; k < K; k++) gi[k] = (int32_t)(k / gs);
    if (cc->act_order)
        for (int64_t k = K - 1; k > 0; k--) {
            int64_t j = fp_rand() % (uint32_t)(k + 1);
            int32_t t = gi[k];
            gi[k] = gi[j];
            gi[j] = t;
        }
    for (int64_t i = 0; i < K * N; i++) u[i] = (uint8_t)(fp_rand() & maxq);
    for (int64_t i = 0; i < G * N; i++) {
        z[i] = cc->sym ? (uint8_t)half : (uint8_t)(fp_rand() & maxq);
        uint16_t h = fp_scale();
        /* mostly exact-in-both values; some bf16 ones only f16 can't round-trip are avoided */
        sc[i] = cc->f16 ? h : sc_f32_to_bf16(sc_f16_to_f32(h));
    }
    if (cc->bad == 3) sc[G * N / 2] = sc_f32_to_bf16(1048576.0f);
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++) fp_put(wp + n * W, 1, (uint64_t)k, b, u[n * K + k]);
    for (int64_t g = 0; g < G; g++)
        for (int64_t n = 0; n < N; n++) fp_put(zp + g, (uint64_t)G, (uint64_t)n, b, z[n * G + g]);
    const int64_t shape[2] = {N, cc->bad == 1 ? K + 32 : K};
    char name[200];
    snprintf(name, sizeof name, "%s.weight_packed", module);
    fp_add(c, name, SC_ST_I32, 2, N, W, wp, (size_t)(N * W) * 4);
    snprintf(name, sizeof name, "%s.weight_scale", module);
    fp_add(c, name, cc->f16 ? SC_ST_F16 : SC_ST_BF16, 2, N, G, sc, (size_t)(G * N) * 2);
    snprintf(name, sizeof name, "%s.weight_shape", module);
    fp_add(c, name, SC_ST_I64, 1, 2, 0, shape, sizeof shape);
    if (!cc->sym) {
        const int64_t zr = cc->bad == 2 ? ZR + 1 : ZR;
        snprintf(name, sizeof name, "%s.weight_zero_point", module);
        fp_add(c, name, SC_ST_I32, 2, zr, G, zp, (size_t)(zr * G) * 4);
    }
    if (cc->act_order) {
        snprintf(name, sizeof name, "%s.weight_g_idx", module);
        fp_add(c, name, SC_ST_I32, 1, K, 0, gi, (size_t)K * 4);
    }
    r->K = K;
    r->N = N;
    r->w = malloc((size_t)(K * N) * sizeof *r->w);
    assert_non_null(r->w);
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++) {
            int64_t g = gi[k];
            float s = cc->f16 ? sc_f16_to_f32(sc[n * G + g]) : sc_bf16_to_f32(sc[n * G + g]);
            float qz = (float)(((int)u[n * K + k] - (int)half) - ((int)z[n * G + g] - (int)half));
            r->w[n * K + k] = cc->f16 ? fp_round_f16(qz * s) : fp_round_bf16(qz * s);
        }
    free(wp), free(zp), free(sc), free(gi), free(u), free(z);
}

/* A one-group config; extra is spliced into the top-level object. */
static void ct_config(char *buf, size_t len, const ccase *cc, const char *fmt, const char *extra) {
    char gs[16];
    snprintf(gs, sizeof gs, "%d", cc->gs);
    snprintf(buf, len,
             "{\"quant_method\": \"compressed-tensors\", \"format\": \"%s\", \"quantization_status\": \"compressed\", "
             "\"sparsity_config\": {}, \"transform_config\": {}, \"ignore\": [\"lm_head\"], "
             "\"config_groups\": {\"group_0\": {\"targets\": [\"Linear\"], \"input_activations\": null, "
             "\"weights\": {\"num_bits\": %u, \"type\": \"int\", \"symmetric\": %s, \"strategy\": \"%s\", "
             "\"group_size\": %s, \"actorder\": %s, \"dynamic\": false}}}%s}",
             fmt, cc->bits, cc->sym ? "true" : "false", cc->gs == -1 ? "channel" : "group",
             cc->gs == -1 ? "null" : gs, cc->act_order ? "\"group\"" : "null", extra ? extra : "");
}

static void run_ct(const ccase *cc) {
    fp_ckpt c = {0};
    ref r;
    char cfg[1024];
    fp_seed(cc->bits * 977u + (uint32_t)cc->gs * 13u + cc->sym * 3u + cc->act_order * 7u + cc->f16 * 5u);
    ct_module(&c, MOD, cc, &r);
    ct_config(cfg, sizeof cfg, cc, "pack-quantized", NULL);
    fp_write(&c, cfg);
    fp_open o;
    fp_open_ckpt(&o, c.dir);
    if (o.rc != SC_OK) fprintf(stderr, "%s\n", o.err);
    assert_int_equal(o.rc, SC_OK);
    const int64_t gs = cc->gs == -1 ? cc->K : cc->gs;
    check_module(&o, MOD, &r, cc->act_order && gs < cc->K, cc->f16 ? 0 : SC_QUANT_BF16_ROUND);
    fp_close(&o);
    fp_free(&c);
    free(r.w);
}

static void test_ct_variants(void **state) {
    static const ccase cases[] = {
        {4, 32, true, false, false, 256, 64, 0},   /* W4A16 g32 */
        {4, 128, true, false, false, 256, 64, 0},  /* W4A16 preset */
        {8, -1, true, false, false, 256, 64, 0},   /* W8A16 channel */
        {4, 32, false, false, false, 256, 64, 0},  /* asym group */
        {8, -1, false, false, false, 256, 40, 0},  /* asym channel, N*b/32 not a multiple of 4 rows */
        {4, 32, true, true, false, 256, 64, 0},    /* actorder "group": g_idx */
        {4, 64, false, true, false, 256, 64, 0},   /* actorder + asym */
        {2, 32, true, false, false, 256, 64, 0},   /* 2-bit */
        {4, 40, false, false, false, 200, 40, 0},  /* K, N not multiples of 32: padded rows */
        {4, 32, true, false, true, 256, 64, 0},    /* F16 scales: fp16 rounding */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_ct(&cases[i]);
}

/* ignore (exact and re:) leaves modules dense; the group whose target
 * matches best (name > re: > Linear) gives the scheme */
static void test_ct_ignore(void **state) {
    fp_ckpt c = {0};
    ref r8, r4, rx;
    ccase c8 = {8, -1, true, false, false, 128, 32, 0}, c4 = {4, 32, false, false, false, 128, 32, 0};
    fp_seed(4242);
    ct_module(&c, "model.layers.0.self_attn.q_proj", &c8, &r8);
    ct_module(&c, "model.layers.0.self_attn.k_proj", &c4, &r4);
    ct_module(&c, "model.layers.0.mlp.gate", &c4, &rx); /* packed, but ignored: dense */
    free(rx.w);
    const char *cfg =
        "{\"quant_method\": \"compressed-tensors\", \"format\": \"pack-quantized\", "
        "\"ignore\": [\"lm_head\", \"re:.*mlp.gate$\"], \"config_groups\": {"
        "\"group_0\": {\"targets\": [\"Linear\"], \"weights\": {\"num_bits\": 4, \"type\": \"int\", "
        "\"symmetric\": false, \"strategy\": \"group\", \"group_size\": 32}}, "
        "\"group_1\": {\"targets\": [\"re:.*q_proj$\"], \"format\": \"pack-quantized\", \"weights\": {\"num_bits\": 8, "
        "\"type\": \"int\", \"symmetric\": true, \"strategy\": \"channel\", \"group_size\": null}}}}";
    fp_write(&c, cfg);
    fp_open o;
    fp_open_ckpt(&o, c.dir);
    if (o.rc != SC_OK) fprintf(stderr, "%s\n", o.err);
    assert_int_equal(o.rc, SC_OK);
    check_module(&o, "model.layers.0.self_attn.q_proj", &r8, 0, SC_QUANT_BF16_ROUND);
    check_module(&o, "model.layers.0.self_attn.k_proj", &r4, 0, SC_QUANT_BF16_ROUND);
    sc_linear_desc d;
    assert_int_equal(sc__qformat_info(o.f, "model.layers.0.mlp.gate", &d, o.err, sizeof o.err), SC_OK);
    assert_int_equal(d.quantized, 0);
    assert_int_equal(sc__qformat_info(o.f, "lm_head", &d, o.err, sizeof o.err), SC_OK);
    assert_int_equal(d.quantized, 0);
    /* "re:" is re.match: anchored at the start only, so a longer name still matches */
    assert_int_equal(sc__qformat_info(o.f, "model.layers.0.mlp.gate_proj", &d, o.err, sizeof o.err), SC_OK);
    assert_int_equal(d.quantized, 0); /* not ignored (the $), but it has no weight_packed: dense */
    assert_int_equal(sc__qformat_info(o.f, "model.layers.0.self_attn.k_proj", &d, o.err, sizeof o.err), SC_OK);
    assert_int_equal(d.quantized, 1);
    assert_int_equal(d.bits, 4);
    assert_int_equal(d.group_size, 32);
    fp_close(&o);
    fp_free(&c);
    free(r8.w);
    free(r4.w);
}

/* Open (and, with module, linear_info or convert) must fail with msg. */
static void ct_expect_error(const ccase *cc, const char *fmt, const char *cfg_override, const char *module,
                            bool convert, const char *msg) {
    fp_ckpt c = {0};
    ref r;
    char cfg[1024];
    ct_module(&c, MOD, cc, &r);
    free(r.w);
    if (cfg_override)
        snprintf(cfg, sizeof cfg, "%s", cfg_override);
    else
        ct_config(cfg, sizeof cfg, cc, fmt, NULL);
    if (!convert) {
        expect_open_error(&c, cfg, module, msg);
    } else {
        fp_write(&c, cfg);
        fp_open o;
        fp_open_ckpt(&o, c.dir);
        assert_int_equal(o.rc, SC_OK);
        sc_tensor t;
        uint8_t *slab;
        assert_int_not_equal(fp_convert(&o, module, &t, &slab), SC_OK);
        free(slab);
        if (!strstr(o.err, msg)) fail_msg("error \"%s\" does not contain \"%s\"", o.err, msg);
        fp_close(&o);
    }
    fp_free(&c);
}

static void test_ct_errors(void **state) {
    const ccase ok = {4, 32, true, false, false, 128, 32, 0}, asym = {4, 32, false, false, false, 128, 32, 0};
    static const char *const others[] = {"naive-quantized", "int-quantized", "float-quantized", "nvfp4-pack-quantized",
                                         "marlin-24"};
    for (int i = 0; i < 5; i++) {
        char msg[128];
        snprintf(msg, sizeof msg, "format \"%s\" is not supported (supported: pack-quantized)", others[i]);
        ct_expect_error(&ok, others[i], NULL, NULL, false, msg);
    }
    /* mixed-precision: each group's own format decides */
    ct_expect_error(&ok, NULL,
                    "{\"quant_method\": \"compressed-tensors\", \"format\": \"mixed-precision\", \"config_groups\": {"
                    "\"group_0\": {\"targets\": [\"Linear\"], \"format\": \"pack-quantized\", \"weights\": "
                    "{\"num_bits\": 4, \"type\": \"int\", \"strategy\": \"group\", \"group_size\": 32}}, "
                    "\"group_1\": {\"targets\": [\"re:.*lm_head\"], \"format\": \"float-quantized\", \"weights\": "
                    "{\"num_bits\": 8, \"type\": \"float\", \"strategy\": \"channel\"}}}}",
                    NULL, false, "group \"group_1\": format \"float-quantized\" is not supported");
    ct_expect_error(&ok, NULL,
                    "{\"quant_method\": \"compressed-tensors\", \"format\": \"pack-quantized\", \"config_groups\": {"
                    "\"group_0\": {\"targets\": [\"Linear\"], \"weights\": {\"num_bits\": 4, \"type\": \"float\", "
                    "\"strategy\": \"group\", \"group_size\": 32}}}}",
                    NULL, false, "group \"group_0\": weight type \"float\" is not supported");
    ct_expect_error(&ok, NULL,
                    "{\"quant_method\": \"compressed-tensors\", \"format\": \"pack-quantized\", \"config_groups\": {"
                    "\"group_0\": {\"targets\": [\"Linear\"], \"weights\": {\"num_bits\": 3, \"type\": \"int\", "
                    "\"strategy\": \"group\", \"group_size\": 32}}}}",
                    NULL, false, "group \"group_0\": num_bits 3 is not supported");
    ct_expect_error(&ok, NULL,
                    "{\"quant_method\": \"compressed-tensors\", \"format\": \"pack-quantized\", \"config_groups\": {"
                    "\"group_0\": {\"targets\": [\"Linear\"], \"weights\": {\"num_bits\": 4, \"type\": \"int\", "
                    "\"strategy\": \"tensor\"}}}}",
                    NULL, false, "group \"group_0\": strategy \"tensor\" is not supported");
    /* tensors that contradict each other or the config */
    ccase c = ok;
    c.bad = 1;
    ct_expect_error(&c, "pack-quantized", NULL, MOD, false,
                    MOD ": weight_shape [32, 160] does not match weight_packed [32, 16]");
    c = asym;
    c.bad = 2;
    ct_expect_error(&c, "pack-quantized", NULL, MOD, false,
                    MOD ": weight_zero_point shape [5, 4] does not match [4, 4]");
    /* group_size 64 in the config, 4 groups of 32 in the checkpoint */
    ct_expect_error(&asym, NULL,
                    "{\"quant_method\": \"compressed-tensors\", \"format\": \"pack-quantized\", \"config_groups\": {"
                    "\"group_0\": {\"targets\": [\"Linear\"], \"weights\": {\"num_bits\": 4, \"type\": \"int\", "
                    "\"symmetric\": false, \"strategy\": \"group\", \"group_size\": 64}}}}",
                    MOD, false, MOD ": weight_scale shape [32, 4] does not match [32, 2]");
    c = ok;
    c.bad = 3;
    ct_expect_error(&c, "pack-quantized", NULL, MOD, true, "is not exactly representable as f16");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gptq_variants),
        cmocka_unit_test(test_gptq_dynamic),
        cmocka_unit_test(test_gptq_errors),
        cmocka_unit_test(test_awq_gemm),
        cmocka_unit_test(test_awq_errors),
        cmocka_unit_test(test_ct_variants),
        cmocka_unit_test(test_ct_ignore),
        cmocka_unit_test(test_ct_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

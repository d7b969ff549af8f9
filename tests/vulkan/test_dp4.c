/*
 * tests/vulkan/test_dp4.c - the Vulkan int8-activation GEMV
 * (backends/vulkan/vk_op_matmul_dp4.c) against a double-precision reference.
 *
 *   test_dp4 dp4    the default (STRIXCORE_VK_MATMUL as the environment has
 *                   it, e.g. "dp4rows=1,dp4lanes=64"): every eligible case
 *                   must take the dp4 path (its debug log line is counted)
 *                   and stay within the int8 bound; the others must not take
 *                   it and stay within the f32 bound. Skipped (77) when the
 *                   Vulkan device lacks VK_KHR_shader_integer_dot_product.
 *   test_dp4 off    STRIXCORE_VK_MATMUL=exact: no case may take the path
 *                   (f32 bound).
 *   test_dp4 nodot  STRIXCORE_VK_DISABLE=int_dot: no case may take the path
 *                   (the device check works).
 * Exit 77 without a Vulkan device.
 *
 * Each case: y [N, M] = W [K, N] (QG, random codes, scales ~1/2^bits, random
 * zeros, as tests/backend-ops/data.c) x x [K, M], x from one of three
 * distributions. The reference is sum_k W[k, n] x[k, m] in double over the
 * dequantised weights (sc_quant_dequant_row: exactly the weights the
 * f16-rounding reference uses). Printed per case: the nmse of the Vulkan
 * result and, for comparison, of the CPU device (whose own QG path also
 * quantises activations to int8 blocks on x86).
 *
 * Bounds (nmse = sum (y - ref)^2 / sum ref^2):
 *  - f32 paths: 1e-7 (the order of an f32 K-sum, as backend-ops' f32 bound).
 *  - dp4, uniform and Gaussian x: 1e-4. Rounding x to d * round(x/d) with
 *    d = max|x|/127 per 32-block errs by a uniform +-d/2: variance d^2/12. With
 *    W and x independent, nmse ~ E[d^2/12] / E[x^2]: uniform [-1, 1] gives
 *    (1/127)^2/12 / (1/3) = 1.6e-5, Gaussian (block max ~2.0-2.5 sigma)
 *    ~2.5e-5-3.2e-5; W's missing f16 rounding adds ~1e-8. 1e-4 leaves a 3x
 *    margin over that and still fails one dropped block (nmse ~32/K >= 8e-3
 *    at K <= 4096), a wrong zero correction or a wrong scale.
 *  - dp4, outlier x (every 64th channel 30x larger, as LLM activations have
 *    a few): half the blocks hold an outlier, and their other 31 values are
 *    rounded with a ~15x coarser step. Per element the error variance averages
 *    about (E[(30 g)^2]/127^2/12 + 2.3e-5) / 2 = 2.3e-3 against E[x^2] =
 *    (63 + 900)/64 = 15: nmse ~1.6e-4 (measured 1.1e-4 to 2.6e-4); bound 1e-3.
 *    This is what int8 activations cost on real models (the exact f32 path
 *    stays one STRIXCORE_VK_MATMUL=exact away).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strixcore/strixcore.h>

enum { X_UNIFORM, X_GAUSS, X_OUTLIER };
static const char *const x_names[] = {"uniform", "gauss", "outlier"};

typedef struct tcase {
    uint32_t bits, group; /* group 0: one group per row (K) */
    int64_t K, N, M;
    int xdist;
    bool gidx;
} tcase;

static const tcase cases[] = {
    /* decode shapes: M = 1, groups of 32 / 128 / the whole row */
    {4, 128, 1024, 300, 1, X_UNIFORM, false},
    {4, 32, 512, 64, 1, X_GAUSS, false},
    {4, 0, 256, 7, 1, X_UNIFORM, false},
    {8, 128, 1024, 128, 1, X_UNIFORM, false},
    {8, 32, 256, 33, 1, X_GAUSS, false},
    {8, 0, 512, 5, 1, X_GAUSS, false},
    /* 2-4 columns; N = 1, N odd, N past 8192 */
    {4, 128, 2048, 96, 2, X_GAUSS, false},
    {4, 64, 192, 1, 3, X_UNIFORM, false},
    {4, 32, 4096, 40, 4, X_UNIFORM, false},
    {8, 128, 1024, 65, 4, X_UNIFORM, false},
    {8, 64, 320, 17, 3, X_GAUSS, false},
    {4, 128, 256, 8200, 1, X_UNIFORM, false},
    {4, 32, 64, 70000, 1, X_GAUSS, false}, /* with dp4rows=1: a grid past 65535 */
    /* a partial last group (K = 352, groups of 128), groups of 96 */
    {4, 128, 352, 64, 2, X_GAUSS, false},
    {8, 128, 352, 64, 1, X_UNIFORM, false},
    {4, 96, 480, 64, 4, X_GAUSS, false},
    /* activation outliers */
    {4, 128, 2048, 128, 1, X_OUTLIER, false},
    {8, 128, 2048, 64, 2, X_OUTLIER, false},
    /* not taken by dp4: K % 32, group % 32, M > 4, 2-bit, g_idx */
    {4, 32, 100, 64, 1, X_UNIFORM, false},
    {4, 48, 192, 64, 1, X_UNIFORM, false},
    {4, 128, 512, 64, 5, X_UNIFORM, false},
    {2, 64, 256, 64, 1, X_UNIFORM, false},
    {4, 128, 512, 64, 1, X_UNIFORM, true},
};

static bool dp4_eligible(const tcase *c) {
    const uint32_t g = c->group ? c->group : (uint32_t)c->K;
    return (c->bits == 4 || c->bits == 8) && !c->gidx && c->K % 32 == 0 && g % 32 == 0 && c->M <= 4;
}

/* ---- data --------------------------------------------------------------------------- */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng_next(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}
static double rng_uniform(void) { return (double)(rng_next() >> 11) / 9007199254740992.0; } /* [0, 1) */
static uint32_t rng_int(uint32_t n) { return (uint32_t)(rng_uniform() * n); }
static double rng_gauss(void) {
    double u = rng_uniform() + 1e-300, v = rng_uniform();
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* The QG slab of w (shape and layout set): codes, scales, zeros, g_idx. */
static int fill_weight(const sc_tensor *w, uint8_t *slab) {
    const sc_quant_info *q = &w->quant;
    const int64_t K = w->ne[0], N = w->ne[1];
    const uint32_t levels = 1u << q->bits;
    uint8_t *codes = malloc((size_t)K);
    if (!codes) return SC_ENOMEM;
    int rc = SC_OK;
    for (int64_t n = 0; n < N && rc == SC_OK; n++) {
        for (int64_t k = 0; k < K; k++) codes[k] = (uint8_t)rng_int(levels);
        rc = sc_quant_pack_row(q->bits, K, codes, slab + (size_t)n * q->row_bytes);
    }
    free(codes);
    for (int64_t i = 0; i < N * (int64_t)q->n_groups; i++) {
        uint16_t s = sc_f32_to_f16((float)(0.5 + rng_uniform()) / (float)levels);
        memcpy(slab + q->scales_offset + (size_t)i * 2, &s, 2);
        slab[q->zeros_offset + (size_t)i] = (uint8_t)rng_int(levels);
    }
    if (q->flags & SC_QUANT_HAS_GIDX) { /* a permutation of k / group_size */
        int32_t *g = malloc((size_t)K * sizeof *g);
        if (!g) return SC_ENOMEM;
        for (int64_t k = 0; k < K; k++) g[k] = (int32_t)(k / q->group_size);
        for (int64_t k = K - 1; k > 0; k--) {
            int64_t j = (int64_t)rng_int((uint32_t)k + 1);
            int32_t t = g[k];
            g[k] = g[j];
            g[j] = t;
        }
        memcpy(slab + q->gidx_offset, g, (size_t)K * sizeof *g);
        free(g);
    }
    return rc;
}

static void fill_x(float *x, int64_t n, int dist) {
    for (int64_t i = 0; i < n; i++) {
        switch (dist) {
        case X_UNIFORM: x[i] = (float)(2.0 * rng_uniform() - 1.0); break;
        case X_GAUSS: x[i] = (float)rng_gauss(); break;
        default: x[i] = (float)(rng_gauss() * (i % 64 == 5 ? 30.0 : 1.0)); break;
        }
    }
}

/* ---- log sink: counts the dp4 path's debug lines, passes warnings on ----------------- */
static int n_dp4_lines;
static void sink(sc_log_level level, const char *who, const char *msg, void *user) {
    (void)user;
    /* one per recorded node; pipeline creation logs the module name too */
    if (who && strcmp(who, "vulkan") == 0 && strncmp(msg, "dp4: mul_mat_vec_dp4 ", 21) == 0) n_dp4_lines++;
    if (level <= SC_LOG_WARN) fprintf(stderr, "[%s] %s\n", who ? who : "?", msg);
}

/* ---- one case on one device: y [N, M] -------------------------------------------------- */
static int run(sc_device_t *dev, const tcase *c, const uint8_t *wdata, size_t wbytes, const float *x, float *y,
               char *why, size_t why_len) {
    sc_ctx_t *ctx = sc_ctx_create(16);
    sc_graph_t *g = sc_graph_create(16);
    sc_buffer_t *buf = NULL;
    sc_sched_t *sched = NULL;
    int rc = SC_ENOMEM;
    if (!ctx || !g) goto done;
    sc_tensor *w = sc_new_qtensor(ctx, c->bits, c->group ? c->group : (uint32_t)c->K, c->gidx, c->K, c->N, 1);
    sc_tensor *xt = sc_new_tensor_2d(ctx, SC_TYPE_F32, c->K, c->M);
    sc_tensor *yt = sc_mul_mat(ctx, w, xt);
    if ((rc = sc_ctx_error(ctx)) != SC_OK) {
        snprintf(why, why_len, "build: %s", sc_ctx_error_msg(ctx));
        goto done;
    }
    if (sc_tensor_nbytes(w) != wbytes) {
        rc = SC_ESTATE;
        snprintf(why, why_len, "weight size changed");
        goto done;
    }
    if ((rc = sc_graph_expand(g, yt)) != SC_OK) {
        snprintf(why, why_len, "graph: %s", sc_strerror(rc));
        goto done;
    }
    sc_tensor *leaves[2] = {w, xt};
    if ((rc = sc_alloc_tensors(dev, leaves, 2, &buf)) != SC_OK ||
        (rc = sc_tensor_set(w, wdata, 0, wbytes)) != SC_OK ||
        (rc = sc_tensor_set(xt, x, 0, (size_t)(c->K * c->M) * sizeof(float))) != SC_OK) {
        snprintf(why, why_len, "inputs: %s", sc_strerror(rc));
        goto done;
    }
    if ((rc = sc_sched_create(&dev, 1, &sched)) != SC_OK || (rc = sc_sched_compute(sched, g)) != SC_OK) {
        snprintf(why, why_len, "compute: %s", sc_strerror(rc));
        goto done;
    }
    if (sc_sched_node_device(sched, yt) != dev) {
        rc = SC_ESTATE;
        snprintf(why, why_len, "mul_mat did not run on %s", sc_device_name(dev));
        goto done;
    }
    if ((rc = sc_tensor_get(yt, y, 0, (size_t)(c->N * c->M) * sizeof(float))) != SC_OK)
        snprintf(why, why_len, "read back: %s", sc_strerror(rc));
done:
    sc_sched_destroy(sched);
    sc_buffer_destroy(buf);
    sc_graph_destroy(g);
    sc_ctx_destroy(ctx);
    return rc;
}

static double nmse(const float *y, const double *ref, int64_t n) {
    double num = 0.0, den = 0.0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(y[i])) return INFINITY;
        const double e = (double)y[i] - ref[i];
        num += e * e;
        den += ref[i] * ref[i];
    }
    return den > 0.0 ? num / den : num;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "dp4";
    const bool want = strcmp(mode, "dp4") == 0;
    if (want) {
        const char *s = getenv("STRIXCORE_VK_MATMUL");
        if (s && (strstr(s, "exact") || strstr(s, "nodp4"))) unsetenv("STRIXCORE_VK_MATMUL");
    } else if (strcmp(mode, "off") == 0) {
        setenv("STRIXCORE_VK_MATMUL", "exact", 1);
    } else if (strcmp(mode, "nodot") == 0) {
        unsetenv("STRIXCORE_VK_MATMUL");
        setenv("STRIXCORE_VK_DISABLE", "int_dot", 1);
    } else {
        fprintf(stderr, "usage: test_dp4 [dp4|off|nodot]\n");
        return 2;
    }
    sc_log_set_level(SC_LOG_DEBUG);
    sc_log_set_sink(sink, NULL);

    sc_registry_t *reg = NULL;
    if (sc_registry_create(NULL, &reg) != SC_OK) {
        fprintf(stderr, "cannot create the registry\n");
        return 1;
    }
    sc_device_t *vk = sc_registry_find_device(reg, "vulkan0");
    if (!vk) vk = sc_registry_find_device(reg, "vulkan");
    sc_device_t *cpu = sc_registry_find_device(reg, "cpu");
    if (!vk) {
        printf("no Vulkan device (lavapipe: apt install mesa-vulkan-drivers): skipped\n");
        sc_registry_destroy(reg);
        return 77;
    }
    sc_device_props props = {.struct_size = sizeof props};
    sc_device_get_props(vk, &props);
    const bool has_dot = strstr(props.description, " dot") != NULL;
    printf("device %s: %s\nmode %s (STRIXCORE_VK_MATMUL=%s)\n", sc_device_name(vk), props.description, mode,
           getenv("STRIXCORE_VK_MATMUL") ? getenv("STRIXCORE_VK_MATMUL") : "");
    if (want && !has_dot) {
        printf("the device has no VK_KHR_shader_integer_dot_product: skipped\n");
        sc_registry_destroy(reg);
        return 77;
    }

    int n_fail = 0;
    double worst[3] = {0, 0, 0};
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const tcase *c = &cases[ci];
        char why[256] = "";
        uint8_t *wdata = NULL;
        float *x = NULL, *y = NULL, *ycpu = NULL, *row = NULL;
        double *ref = NULL;
        size_t wbytes = 0;
        int rc;

        /* the weight's layout from a scratch context */
        sc_ctx_t *lctx = sc_ctx_create(4);
        sc_tensor *w = lctx ? sc_new_qtensor(lctx, c->bits, c->group ? c->group : (uint32_t)c->K, c->gidx, c->K,
                                             c->N, 1)
                            : NULL;
        if (!w) {
            printf("FAIL case %zu: cannot make the weight\n", ci);
            n_fail++;
            sc_ctx_destroy(lctx);
            continue;
        }
        wbytes = sc_tensor_nbytes(w);
        wdata = calloc(1, wbytes);
        x = malloc((size_t)(c->K * c->M) * sizeof *x);
        y = malloc((size_t)(c->N * c->M) * sizeof *y);
        ycpu = malloc((size_t)(c->N * c->M) * sizeof *ycpu);
        row = malloc((size_t)c->K * sizeof *row);
        ref = calloc((size_t)(c->N * c->M), sizeof *ref);
        if (!wdata || !x || !y || !ycpu || !row || !ref || fill_weight(w, wdata) != SC_OK) {
            printf("FAIL case %zu: out of memory\n", ci);
            n_fail++;
            goto next;
        }
        fill_x(x, c->K * c->M, c->xdist);
        /* reference: double sums over the dequantised weights */
        for (int64_t n = 0; n < c->N; n++) {
            if ((rc = sc_quant_dequant_row(w, wdata, n, row)) != SC_OK) {
                printf("FAIL case %zu: dequant: %s\n", ci, sc_strerror(rc));
                n_fail++;
                goto next;
            }
            for (int64_t m = 0; m < c->M; m++) {
                double s = 0.0;
                for (int64_t k = 0; k < c->K; k++) s += (double)row[k] * (double)x[m * c->K + k];
                ref[m * c->N + n] = s;
            }
        }

        const bool expect = want && dp4_eligible(c);
        const int before = n_dp4_lines;
        if ((rc = run(vk, c, wdata, wbytes, x, y, why, sizeof why)) != SC_OK) {
            printf("FAIL case %zu: vulkan: %s\n", ci, why);
            n_fail++;
            goto next;
        }
        const int lines = n_dp4_lines - before;
        const double e = nmse(y, ref, c->N * c->M);
        double ecpu = NAN;
        if (cpu && run(cpu, c, wdata, wbytes, x, ycpu, why, sizeof why) == SC_OK) ecpu = nmse(ycpu, ref, c->N * c->M);
        const double bound = !expect ? 1e-7 : c->xdist == X_OUTLIER ? 1e-3 : 1e-4;
        const bool ok = lines == (expect ? 1 : 0) && e <= bound;
        if (expect && e > worst[c->xdist]) worst[c->xdist] = e;
        printf("%s %u-bit group %u K %lld N %lld M %lld x %s%s: %s nmse %.3g (bound %.0e), cpu device %.3g\n",
               ok ? "ok  " : "FAIL", c->bits, c->group ? c->group : (uint32_t)c->K, (long long)c->K,
               (long long)c->N, (long long)c->M, x_names[c->xdist], c->gidx ? " g_idx" : "",
               lines ? "dp4" : "f32", e, bound, ecpu);
        if (lines != (expect ? 1 : 0))
            printf("     the dp4 path ran %d times, expected %d\n", lines, expect ? 1 : 0);
        if (!ok) n_fail++;
    next:
        free(wdata);
        free(x);
        free(y);
        free(ycpu);
        free(row);
        free(ref);
        sc_ctx_destroy(lctx);
    }
    if (want)
        printf("dp4 worst nmse: uniform %.3g, gauss %.3g, outlier %.3g\n", worst[X_UNIFORM], worst[X_GAUSS],
               worst[X_OUTLIER]);
    printf("%d of %zu cases failed\n", n_fail, sizeof cases / sizeof cases[0]);
    sc_registry_destroy(reg);
    sc_log_set_sink(NULL, NULL);
    return n_fail ? 1 : 0;
}

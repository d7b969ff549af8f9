/*
 * tests/vulkan/test_vk_tune.c - the Vulkan backend's kernel tuning
 * (backends/vulkan/vk_tune.c) through the public API:
 *
 *  1. device_props fills `driver`;
 *  2. tune_query on y [N, 1] = W x (QG 4-bit, K 512, N 64, a decode GEMV):
 *     a key "mm.q4g128:N=64,K=512,M=1", the variants "gemv" and (with
 *     integer dot products) "dp4", the default dp4 there, current = default;
 *     on RMS_NORM a key "rms:..." with "wg64";
 *  3. tune_set: SC_ENOENT for names that are no variant of the key's family
 *     ("bogus", "decode" on a MUL_MAT key, "gemv.nr3x", "dp4.sk2", an unknown
 *     key family), SC_OK for known ones, NULL forgets;
 *  4. a choice changes what runs: with the default the dp4 GEMV's debug line
 *     appears once per recording; after tune_set(key, "gemv") it does not and
 *     "tune: KEY -> gemv" does (the graph is recorded again: the table's
 *     generation moved), query reports it current, the result stays within
 *     1e-4 nmse of the default's; "dp4.r2" logs teams of 2 rows; forgetting
 *     the key brings the dp4 line back; RMS_NORM "wg64" logs its choice;
 *  5. a fused group follows the choice: r + W2 x (mm_add, W2 of W's shape:
 *     the same key) fuses under every choice, its epilogue GEMV is dp4 by
 *     default, f32 under "gemv", dp4 with teams of 2 rows under "dp4.r2".
 * Without integer dot products (vulkan/tune-nodot: STRIXCORE_VK_DISABLE=int_dot)
 * the dp4 checks are left out and "gemv" is the default.
 * Exit 77 without a Vulkan device. STRIXCORE_VK_MATMUL / _NORM_WG must be
 * unset (they turn tuning off): the test unsets them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strixcore/strixcore.h>

#define K 512
#define N 64

static int n_fail;
#define CHECK(cond, ...)                       \
    do {                                       \
        if (!(cond)) {                         \
            printf("FAIL %s:%d: ", __FILE__, __LINE__); \
            printf(__VA_ARGS__);               \
            printf("\n");                      \
            n_fail++;                          \
        }                                      \
    } while (0)

/* ---- log sink: counts lines by prefix -------------------------------------------- */
static int n_dp4, n_dp4_r2, n_tune_gemv, n_tune_wg64, n_dp4_add, n_dp4_add_r2, n_fused_add;
static void sink(sc_log_level level, const char *who, const char *msg, void *user) {
    (void)user;
    if (who && strcmp(who, "vulkan") == 0) {
        if (strncmp(msg, "dp4: mul_mat_vec_dp4 ", 21) == 0) {
            n_dp4++;
            if (strstr(msg, " x 2 rows")) n_dp4_r2++;
        }
        if (strncmp(msg, "dp4: mul_mat_vec_dp4_add ", 25) == 0) {
            n_dp4_add++;
            if (strstr(msg, " x 2 rows")) n_dp4_add_r2++;
        }
        if (strncmp(msg, "fused mm_add", 12) == 0) n_fused_add++;
        if (strncmp(msg, "tune: mm.q4g128:", 16) == 0 && strstr(msg, " -> gemv ")) n_tune_gemv++;
        if (strncmp(msg, "tune: rms:", 10) == 0 && strstr(msg, " -> wg64 ")) n_tune_wg64++;
    }
    if (level <= SC_LOG_WARN) fprintf(stderr, "[%s] %s\n", who ? who : "?", msg);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
    rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
    return (uint32_t)((rng * 0x2545f4914f6cdd1dull) >> 32);
}

static double nmse(const float *a, const float *b, int n) {
    double num = 0, den = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(a[i])) return INFINITY;
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return den > 0 ? num / den : num;
}

int main(void) {
    unsetenv("STRIXCORE_VK_MATMUL");
    unsetenv("STRIXCORE_VK_NORM_WG");
    setenv("STRIXCORE_VK_FUSE_LOG", "1", 1); /* "fused mm_add ..." info lines */
    sc_log_set_level(SC_LOG_DEBUG);
    sc_log_set_sink(sink, NULL);
    sc_registry_t *reg = NULL;
    if (sc_registry_create(NULL, &reg) != SC_OK) {
        fprintf(stderr, "cannot create the registry\n");
        return 1;
    }
    sc_device_t *vk = sc_registry_find_device(reg, "vulkan0");
    if (!vk) vk = sc_registry_find_device(reg, "vulkan");
    if (!vk) {
        printf("no Vulkan device (lavapipe: apt install mesa-vulkan-drivers): skipped\n");
        sc_registry_destroy(reg);
        return 77;
    }
    sc_device_props props = {.struct_size = sizeof props};
    sc_device_get_props(vk, &props);
    const bool has_dot = strstr(props.description, " dot") != NULL;
    printf("device %s: %s\ndriver: %s\n", sc_device_name(vk), props.description, props.driver);
    CHECK(props.driver[0] != '\0', "device_props left driver empty");

    /* the graph: y = W rms_norm(x) */
    sc_ctx_t *ctx = sc_ctx_create(16);
    sc_graph_t *g = sc_graph_create(16);
    sc_buffer_t *buf = NULL;
    sc_sched_t *sched = NULL;
    sc_tensor *w = sc_new_qtensor(ctx, 4, 128, false, K, N, 1);
    sc_tensor *x = sc_new_tensor_2d(ctx, SC_TYPE_F32, K, 1);
    sc_tensor *h = sc_rms_norm(ctx, x, NULL, 1e-6f);
    sc_tensor *y = sc_mul_mat(ctx, w, h);
    if (sc_ctx_error(ctx) != SC_OK || sc_graph_expand(g, y) != SC_OK) {
        printf("FAIL: build: %s\n", sc_ctx_error_msg(ctx));
        return 1;
    }
    const size_t wbytes = sc_tensor_nbytes(w);
    uint8_t *wd = malloc(wbytes);
    float xs[K], y0[N], y1[N];
    if (!wd) return 1;
    for (size_t i = 0; i < wbytes; i++) wd[i] = (uint8_t)rnd();
    const sc_quant_info *q = &w->quant;
    for (uint32_t i = 0; i < (uint32_t)N * q->n_groups; i++) { /* finite scales ~1/16 */
        const uint16_t s = sc_f32_to_f16((float)(0.5 + (rnd() % 1000) / 1000.0) / 16.0f);
        memcpy(wd + q->scales_offset + (size_t)i * 2, &s, 2);
    }
    for (int i = 0; i < K; i++) xs[i] = (float)((int)(rnd() % 2001) - 1000) / 1000.0f;
    sc_tensor *leaves[2] = {w, x};
    int rc;
    if ((rc = sc_alloc_tensors(vk, leaves, 2, &buf)) != SC_OK || (rc = sc_tensor_set(w, wd, 0, wbytes)) != SC_OK ||
        (rc = sc_tensor_set(x, xs, 0, sizeof xs)) != SC_OK || (rc = sc_sched_create(&vk, 1, &sched)) != SC_OK) {
        printf("FAIL: set-up: %s\n", sc_strerror(rc));
        return 1;
    }

    /* 1. default */
    int before = n_dp4;
    rc = sc_sched_compute(sched, g);
    CHECK(rc == SC_OK, "compute: %s", sc_strerror(rc));
    CHECK(sc_sched_node_device(sched, y) == vk, "mul_mat did not run on the Vulkan device");
    sc_tensor_get(y, y0, 0, sizeof y0);
    if (has_dot) CHECK(n_dp4 - before == 1, "default: the dp4 GEMV ran %d times, expected 1", n_dp4 - before);

    /* 2. query */
    sc_tune_info info = {.struct_size = sizeof info};
    rc = sc_device_tune_query(vk, y, &info);
    CHECK(rc == SC_OK, "tune_query(mul_mat): %s", sc_strerror(rc));
    char key[SC_TUNE_KEY_LEN];
    snprintf(key, sizeof key, "%s", info.key);
    printf("key %s: %d variants, default %s:", key, info.n_variants,
           info.n_variants ? info.variants[info.default_variant] : "-");
    for (int i = 0; i < info.n_variants; i++) printf(" %s", info.variants[i]);
    printf("\n");
    CHECK(strcmp(key, "mm.q4g128:N=64,K=512,M=1") == 0, "key %s", key);
    CHECK(info.current == info.default_variant, "current %d != default %d", info.current, info.default_variant);
    bool have_gemv = false, have_dp4r2 = false;
    for (int i = 0; i < info.n_variants; i++) {
        have_gemv |= strcmp(info.variants[i], "gemv") == 0;
        have_dp4r2 |= strcmp(info.variants[i], "dp4.r2") == 0;
        for (const char *c = info.variants[i]; *c; c++)
            CHECK((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '.', "odd name %s", info.variants[i]);
    }
    CHECK(have_gemv, "no gemv variant");
    if (has_dot) {
        CHECK(strcmp(info.variants[info.default_variant], "dp4") == 0, "default %s, expected dp4",
              info.variants[info.default_variant]);
        CHECK(have_dp4r2, "no dp4.r2 variant");
    }
    sc_tune_info ninfo = {.struct_size = sizeof ninfo};
    rc = sc_device_tune_query(vk, h, &ninfo);
    CHECK(rc == SC_OK && strncmp(ninfo.key, "rms:n=512,rows=1", 17) == 0 && ninfo.n_variants >= 2,
          "tune_query(rms_norm): %s key %s", sc_strerror(rc), ninfo.key);
    CHECK(sc_device_tune_query(vk, x, &ninfo) == SC_ENOTSUP, "a leaf is not tunable");

    /* 3. names */
    CHECK(sc_device_tune_set(vk, key, "bogus") == SC_ENOENT, "bogus accepted");
    CHECK(sc_device_tune_set(vk, key, "decode") == SC_ENOENT, "an attention variant accepted for MUL_MAT");
    CHECK(sc_device_tune_set(vk, key, "gemv.nr3x") == SC_ENOENT, "gemv.nr3x accepted");
    CHECK(sc_device_tune_set(vk, key, "dp4.sk2") == SC_ENOENT, "dp4.sk2 accepted");
    CHECK(sc_device_tune_set(vk, key, "gemv.") == SC_ENOENT, "gemv. accepted");
    CHECK(sc_device_tune_set(vk, "mmid.q4g128:N=64,K=512,E=8,U=2,X=1,T=1", "gemm") == SC_ENOENT,
          "gemm accepted for MUL_MAT_ID (its name is grouped)");
    CHECK(sc_device_tune_set(vk, "conv:x=1", "gemv") == SC_ENOENT, "an unknown family accepted");
    CHECK(sc_device_tune_set(vk, "rms:n=512,rows=1", "wg100") == SC_ENOENT, "wg100 accepted");
    CHECK(sc_device_tune_set(vk, key, NULL) == SC_OK, "forgetting an absent key");

    /* 4. the choice runs */
    before = n_dp4;
    int tb = n_tune_gemv;
    rc = sc_device_tune_set(vk, key, "gemv");
    CHECK(rc == SC_OK, "tune_set gemv: %s", sc_strerror(rc));
    rc = sc_sched_compute(sched, g);
    CHECK(rc == SC_OK, "compute (gemv): %s", sc_strerror(rc));
    sc_tensor_get(y, y1, 0, sizeof y1);
    CHECK(n_dp4 == before, "gemv chosen, but the dp4 GEMV ran");
    CHECK(n_tune_gemv > tb, "no 'tune: ... -> gemv' line: the choice was not applied");
    const double e = nmse(y1, y0, N);
    printf("gemv against the default: nmse %.3g\n", e);
    CHECK(e < 1e-4, "gemv differs from the default: nmse %g", e);
    rc = sc_device_tune_query(vk, y, &info);
    CHECK(rc == SC_OK && strcmp(info.variants[info.current], "gemv") == 0, "current is not gemv");
    if (has_dot) {
        before = n_dp4_r2;
        CHECK(sc_device_tune_set(vk, key, "dp4.r2") == SC_OK, "tune_set dp4.r2");
        CHECK(sc_sched_compute(sched, g) == SC_OK, "compute (dp4.r2)");
        CHECK(n_dp4_r2 == before + 1, "dp4.r2 chosen, teams of 2 rows ran %d times", n_dp4_r2 - before);
        sc_tensor_get(y, y1, 0, sizeof y1);
        CHECK(nmse(y1, y0, N) < 1e-6, "dp4.r2 differs from dp4: nmse %g", nmse(y1, y0, N));
    }
    before = n_dp4;
    CHECK(sc_device_tune_set(vk, key, NULL) == SC_OK, "forget");
    tb = n_tune_wg64;
    CHECK(sc_device_tune_set(vk, "rms:n=512,rows=1", "wg64") == SC_OK, "tune_set wg64");
    CHECK(sc_sched_compute(sched, g) == SC_OK, "compute (default again)");
    if (has_dot) CHECK(n_dp4 == before + 1, "forgotten, but the dp4 GEMV ran %d times", n_dp4 - before);
    CHECK(n_tune_wg64 > tb, "no 'tune: rms... -> wg64' line");
    sc_tensor_get(y, y1, 0, sizeof y1);
    CHECK(nmse(y1, y0, N) < 1e-8, "rms wg64 differs: nmse %g", nmse(y1, y0, N));

    /* 5. y2 = r + W2 x: the mm_add fuser */
    CHECK(sc_device_tune_set(vk, "rms:n=512,rows=1", NULL) == SC_OK, "forget rms");
    sc_ctx_t *ctx2 = sc_ctx_create(16);
    sc_graph_t *g2 = sc_graph_create(16);
    sc_buffer_t *buf2 = NULL;
    sc_sched_t *sched2 = NULL;
    sc_tensor *w2 = sc_new_qtensor(ctx2, 4, 128, false, K, N, 1);
    sc_tensor *x2 = sc_new_tensor_2d(ctx2, SC_TYPE_F32, K, 1);
    sc_tensor *r2 = sc_new_tensor_2d(ctx2, SC_TYPE_F32, N, 1);
    sc_tensor *y2 = sc_add(ctx2, r2, sc_mul_mat(ctx2, w2, x2));
    float rs[N], z0[N], z1[N];
    for (int i = 0; i < N; i++) rs[i] = (float)i / N;
    sc_tensor *leaves2[3] = {w2, x2, r2};
    if (sc_ctx_error(ctx2) != SC_OK || sc_graph_expand(g2, y2) != SC_OK ||
        sc_alloc_tensors(vk, leaves2, 3, &buf2) != SC_OK || sc_tensor_set(w2, wd, 0, wbytes) != SC_OK ||
        sc_tensor_set(x2, xs, 0, sizeof xs) != SC_OK || sc_tensor_set(r2, rs, 0, sizeof rs) != SC_OK ||
        sc_sched_create(&vk, 1, &sched2) != SC_OK) {
        CHECK(false, "mm_add graph set-up");
    } else {
        static const char *const choices[3] = {NULL, "gemv", "dp4.r2"};
        for (int c = 0; c < (has_dot ? 3 : 2); c++) {
            const int f0 = n_fused_add, a0 = n_dp4_add, r0 = n_dp4_add_r2;
            CHECK(sc_device_tune_set(vk, key, choices[c]) == SC_OK, "tune_set %s", choices[c] ? choices[c] : "NULL");
            CHECK(sc_sched_compute(sched2, g2) == SC_OK, "compute mm_add");
            sc_tensor_get(y2, c ? z1 : z0, 0, sizeof z0);
            const char *cn = choices[c] ? choices[c] : "default";
            CHECK(n_fused_add == f0 + 1, "%s: mm_add fused %d times, expected 1", cn, n_fused_add - f0);
            const int want_dp4 = has_dot && c != 1;
            CHECK(n_dp4_add - a0 == want_dp4, "%s: the dp4 epilogue GEMV ran %d times, expected %d", cn, n_dp4_add - a0,
                  want_dp4);
            if (c == 2) CHECK(n_dp4_add_r2 == r0 + 1, "dp4.r2: no teams of 2 rows in the fused GEMV");
            if (c) {
                const double ez = nmse(z1, z0, N);
                printf("mm_add under %s against the default: nmse %.3g\n", cn, ez);
                CHECK(ez < 1e-4, "mm_add under %s: nmse %g", cn, ez);
            }
        }
        CHECK(sc_device_tune_set(vk, key, NULL) == SC_OK, "forget");
    }
    sc_sched_destroy(sched2);
    sc_buffer_destroy(buf2);
    sc_graph_destroy(g2);
    sc_ctx_destroy(ctx2);

    sc_sched_destroy(sched);
    sc_buffer_destroy(buf);
    sc_graph_destroy(g);
    sc_ctx_destroy(ctx);
    free(wd);
    sc_registry_destroy(reg);
    sc_log_set_sink(NULL, NULL);
    printf("%s (%d failures)\n", n_fail ? "FAILED" : "passed", n_fail);
    return n_fail ? 1 : 0;
}

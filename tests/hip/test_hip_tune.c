/*
 * tests/hip/test_hip_tune.c - kernel tuning on the HIP backend
 * (backends/hip/hip_tune.c, the families' tune_query halves in
 * hip_op_matmul.c and hip_op_attn.c).
 *
 *   test_hip_tune DEVICE [graphs]
 *
 *  - sc_device_props.driver is filled ("emulator" on the emulator);
 *  - tune_set: SC_ENOENT for names that are no variant of the key's op
 *    family (and for keys of no tunable family), SC_OK for known names and
 *    for forgetting (NULL);
 *  - a quantized decode GEMV (MUL_MAT, q4g32, M = 1): tune_query's key,
 *    variants (gemv, gemv-dp4, gemv-dp4.r1, gemv-dp4.r4, gemm; gemm-wmma only
 *    with WMMA), default
 *    gemv-dp4; every variant, once set, is `current`, runs its kernel (the
 *    STRIXCORE_HIP_TUNE_LOG line "tune KEY: VARIANT -> KERNEL") and computes
 *    the product;
 *  - a choice that is invalid for a node (gemv-dp4 for f32 weights) runs the
 *    default;
 *  - a decode ATTENTION (4 tokens, f16 cache): its key, the default first
 *    among its variants, split counts between the heuristic's and the cap
 *    only, and prefill / decode variants with explicit split counts run
 *    their kernels and agree with the default; a count past the cap runs the
 *    default;
 *  - "graphs" (STRIXCORE_HIP_GRAPHS=1): a graph captured and replayed under
 *    one choice is not replayed after tune_set: the next compute gives the new
 *    variant's numbers (bit for bit the eager ones), and forgetting the key
 *    gives the old ones back; the stream reports captures and replays.
 *
 * Exit 0: passed; 1: a failure; 77: no such device (skipped).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strixcore/strixcore.h>

static int failures;
#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                    \
            printf(__VA_ARGS__);                                           \
            printf("\n");                                                  \
            failures++;                                                    \
        }                                                                  \
    } while (0)

/* ---- the log: every message of the run, cleared per step ---------------------------------- */
static char logbuf[1 << 16];
static size_t loglen;
static void sink(sc_log_level level, const char *who, const char *msg, void *user) {
    (void)level;
    (void)user;
    int n = snprintf(logbuf + loglen, sizeof logbuf - loglen, "%s: %s\n", who, msg);
    if (n > 0 && (size_t)n < sizeof logbuf - loglen) loglen += (size_t)n;
}
static void log_clear(void) {
    loglen = 0;
    logbuf[0] = '\0';
}

/* ---- one graph, allocated once, computed as often as asked -------------------------------- */
typedef struct leaf {
    sc_tensor *t;
    const void *data;
    size_t size;
} leaf;

typedef struct run {
    sc_graph_t *g;
    sc_buffer_t *buf;
    sc_sched_t *sched;
    sc_tensor *out;
} run;

static int run_init(run *r, sc_device_t *dev, sc_tensor *out, leaf *leaves, int n) {
    sc_tensor *ts[8];
    memset(r, 0, sizeof *r);
    r->out = out;
    r->g = sc_graph_create(64);
    int rc = r->g ? sc_graph_expand(r->g, out) : SC_ENOMEM;
    for (int i = 0; i < n; i++) ts[i] = leaves[i].t;
    if (rc == SC_OK) rc = sc_alloc_tensors(dev, ts, n, &r->buf);
    for (int i = 0; i < n && rc == SC_OK; i++) rc = sc_tensor_set(leaves[i].t, leaves[i].data, 0, leaves[i].size);
    if (rc == SC_OK) rc = sc_sched_create(&dev, 1, &r->sched);
    return rc;
}

static int run_compute(run *r, float *result, size_t n) {
    log_clear();
    int rc = sc_sched_compute(r->sched, r->g);
    if (rc == SC_OK) rc = sc_tensor_get(r->out, result, 0, n * sizeof(float));
    return rc;
}

static void run_free(run *r) {
    sc_sched_destroy(r->sched);
    sc_buffer_destroy(r->buf);
    sc_graph_destroy(r->g);
}

static double nmse(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return den > 0 ? num / den : num;
}

static int find(const sc_tune_info *ti, const char *name) {
    for (int i = 0; i < ti->n_variants; i++)
        if (!strcmp(ti->variants[i], name)) return i;
    return -1;
}

/* the log has "tune KEY: VARIANT[ (default)] -> KERNEL" */
static bool ran(const char *key, const char *variant, bool chosen, const char *kernel) {
    char want[512];
    snprintf(want, sizeof want, "tune %s: %s%s -> %s\n", key, variant, chosen ? "" : " (default)", kernel);
    return strstr(logbuf, want) != NULL;
}

/* ---- tune_set's answers ------------------------------------------------------------------------ */
static void names(sc_device_t *dev) {
    static const struct {
        const char *key, *variant;
        int rc;
    } cases[] = {
        {"mm.q4g32:N=64,K=256,M=1", "bogus", SC_ENOENT},
        {"mm.q4g32:N=64,K=256,M=1", "grouped", SC_ENOENT}, /* a MUL_MAT_ID name */
        {"mm.q4g32:N=64,K=256,M=1", "gemv-dp4", SC_OK},
        {"mm.q4g32:N=64,K=256,M=1", "gemv-dp4.r4", SC_OK},
        {"mm.q4g32:N=64,K=256,M=1", "gemv-dp4.r3", SC_ENOENT},
        {"mm.q4g32:N=64,K=256,M=1", NULL, SC_OK},
        {"mmid.q4g128:N=768,K=2048,E=128,U=8,T=1,X=1", "gemm", SC_ENOENT},
        {"mmid.q4g128:N=768,K=2048,E=128,U=8,T=1,X=1", "grouped-wmma", SC_OK},
        {"mmid.q4g128:N=768,K=2048,E=128,U=8,T=1,X=1", NULL, SC_OK},
        {"attn.f16.f16:D=128,H=32,Hkv=8,T=1,ctx=4096", "decode", SC_ENOENT},
        {"attn.f16.f16:D=128,H=32,Hkv=8,T=1,ctx=4096", "decode.splits=0", SC_ENOENT},
        {"attn.f16.f16:D=128,H=32,Hkv=8,T=1,ctx=4096", "decode.splits=999", SC_ENOENT},
        {"attn.f16.f16:D=128,H=32,Hkv=8,T=1,ctx=4096", "decode.splits=4x", SC_ENOENT},
        {"attn.f16.f16:D=128,H=32,Hkv=8,T=1,ctx=4096", "gemv", SC_ENOENT},
        {"attn.f16.f16:D=128,H=32,Hkv=8,T=1,ctx=4096", "prefill-wmma.splits=3", SC_OK},
        {"attn.f16.f16:D=128,H=32,Hkv=8,T=1,ctx=4096", NULL, SC_OK},
        {"conv.f32:N=1", "gemv", SC_ENOENT}, /* no such family */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int rc = sc_device_tune_set(dev, cases[i].key, cases[i].variant);
        CHECK(rc == cases[i].rc, "tune_set(%s, %s): %s, wanted %s", cases[i].key,
              cases[i].variant ? cases[i].variant : "NULL", sc_strerror(rc), sc_strerror(cases[i].rc));
    }
    printf("ok   tune_set names\n");
}

/* ---- MUL_MAT: a q4g32 decode GEMV ----------------------------------------------------------- */
enum { K = 256, N = 64 };

static void fill_q4(sc_tensor *w, uint8_t *slab) {
    uint8_t codes[K];
    for (int n = 0; n < N; n++) {
        for (int k = 0; k < K; k++) codes[k] = (uint8_t)((n * 7 + k * 3) % 16);
        sc_quant_pack_row(4, K, codes, slab + (size_t)n * w->quant.row_bytes);
    }
    uint16_t *scales = (uint16_t *)(slab + w->quant.scales_offset);
    uint8_t *zeros = slab + w->quant.zeros_offset;
    for (uint32_t i = 0; i < N * w->quant.n_groups; i++) {
        scales[i] = sc_f32_to_f16(0.01f * (float)(1 + i % 13));
        zeros[i] = (uint8_t)(7 + i % 3);
    }
}

/* the table's variant per name: its kernel */
static const char *mm_kernel(const char *variant) {
    if (!strcmp(variant, "gemv")) return "k_mm_gemv_q4";
    if (!strcmp(variant, "gemv-dp4")) return "k_mm_gemv_dp4_q4";
    if (!strcmp(variant, "gemv-dp4.r1")) return "k_mm_gemv_dp4_q4_r1";
    if (!strcmp(variant, "gemv-dp4.r4")) return "k_mm_gemv_dp4_q4_r4";
    if (!strcmp(variant, "gemm")) return "k_mm_gemm_qg";
    if (!strcmp(variant, "gemm-wmma")) return "k_mm_gemm_wmma_qg";
    return "?";
}

static void mul_mat(sc_device_t *dev, bool graphs) {
    static float x[K], want[N], got[N], out_gemv[N], out_dp4[N];
    sc_ctx_t *ctx = sc_ctx_create(16);
    sc_tensor *w = sc_new_qtensor(ctx, 4, 32, false, K, N, 1), *xt = sc_new_tensor_2d(ctx, SC_TYPE_F32, K, 1);
    sc_tensor *y = sc_mul_mat(ctx, w, xt);
    const size_t wbytes = sc_tensor_nbytes(w);
    uint8_t *slab = calloc(1, wbytes);
    float row[K];
    fill_q4(w, slab);
    for (int k = 0; k < K; k++) x[k] = sinf(0.37f * (float)k) + 0.1f;
    for (int n = 0; n < N; n++) {
        double acc = 0;
        sc_quant_dequant_row(w, slab, n, row);
        for (int k = 0; k < K; k++) acc += (double)row[k] * x[k];
        want[n] = (float)acc;
    }
    leaf leaves[] = {{w, slab, wbytes}, {xt, x, sizeof x}};
    run r;
    int rc = run_init(&r, dev, y, leaves, 2);
    CHECK(rc == SC_OK, "mul_mat setup: %s", sc_strerror(rc));
    if (rc != SC_OK) goto done;

    sc_tune_info ti;
    rc = sc_device_tune_query(dev, y, &ti);
    CHECK(rc == SC_OK, "tune_query(mul_mat): %s", sc_strerror(rc));
    if (rc != SC_OK) goto done;
    const char *key = "mm.q4g32:N=64,K=256,M=1";
    CHECK(!strcmp(ti.key, key), "key %s, wanted %s", ti.key, key);
    CHECK(find(&ti, "gemv") >= 0 && find(&ti, "gemv-dp4") >= 0 && find(&ti, "gemv-dp4.r1") >= 0 &&
              find(&ti, "gemv-dp4.r4") >= 0 && find(&ti, "gemm") >= 0,
          "variants lack gemv, gemv-dp4(.r1, .r4) or gemm (%d variants)", ti.n_variants);
    CHECK(!strcmp(ti.variants[ti.default_variant], "gemv-dp4"), "default %s, wanted gemv-dp4",
          ti.variants[ti.default_variant]);
    CHECK(ti.current == ti.default_variant, "current %d is not the default %d untuned", ti.current, ti.default_variant);
    printf("     %s:", ti.key);
    for (int i = 0; i < ti.n_variants; i++) printf(" %s%s", ti.variants[i], i == ti.default_variant ? "*" : "");
    printf("\n");

    for (int v = 0; v < ti.n_variants; v++) {
        const char *name = ti.variants[v];
        sc_tune_info now;
        rc = sc_device_tune_set(dev, key, name);
        CHECK(rc == SC_OK, "tune_set(%s): %s", name, sc_strerror(rc));
        rc = sc_device_tune_query(dev, y, &now);
        CHECK(rc == SC_OK && now.current == v, "after tune_set(%s) current is %d", name, now.current);
        rc = run_compute(&r, got, N);
        CHECK(rc == SC_OK, "compute under %s: %s", name, sc_strerror(rc));
        CHECK(ran(key, name, true, mm_kernel(name)), "%s did not run %s; log:\n%s", name, mm_kernel(name), logbuf);
        const double e = nmse(got, want, N);
        CHECK(e < 5e-5, "%s: nmse %.3e", name, e);
        if (!strcmp(name, "gemv")) memcpy(out_gemv, got, sizeof got);
        if (!strcmp(name, "gemv-dp4")) memcpy(out_dp4, got, sizeof got);
        printf("ok   mul_mat q4g32 M=1 %-10s -> %s, nmse %.2e\n", name, mm_kernel(name), e);
    }
    rc = sc_device_tune_set(dev, key, NULL);
    CHECK(rc == SC_OK, "tune_set(NULL): %s", sc_strerror(rc));
    CHECK(memcmp(out_gemv, out_dp4, sizeof out_gemv) != 0, "gemv and gemv-dp4 gave the same bits");

    if (graphs) {
        /* default (dp4) until the list repeats and is captured and replayed */
        for (int i = 0; i < 4; i++) {
            rc = run_compute(&r, got, N);
            CHECK(rc == SC_OK && !memcmp(got, out_dp4, sizeof got), "graphs: default run %d differs", i);
        }
        CHECK(sc_device_tune_set(dev, key, "gemv") == SC_OK, "tune_set(gemv)");
        for (int i = 0; i < 3; i++) {
            rc = run_compute(&r, got, N);
            CHECK(rc == SC_OK && !memcmp(got, out_gemv, sizeof got), "graphs: run %d after tune_set(gemv) is not gemv's", i);
        }
        CHECK(sc_device_tune_set(dev, key, NULL) == SC_OK, "tune_set(NULL)");
        for (int i = 0; i < 3; i++) {
            rc = run_compute(&r, got, N);
            CHECK(rc == SC_OK && !memcmp(got, out_dp4, sizeof got), "graphs: run %d after forgetting is not dp4's", i);
        }
        printf("ok   graphs: a tune_set is never replayed over\n");
    }
done:
    run_free(&r);
    free(slab);
    sc_ctx_destroy(ctx);
}

/* an f32 weight: gemv-dp4 can not run, the default does */
static void invalid_choice(sc_device_t *dev) {
    enum { KF = 64, NF = 8 };
    static float wd[KF * NF], x[KF], got[NF];
    for (int i = 0; i < KF * NF; i++) wd[i] = 0.01f * (float)(i % 17);
    for (int i = 0; i < KF; i++) x[i] = 1.0f - 0.02f * (float)i;
    sc_ctx_t *ctx = sc_ctx_create(16);
    sc_tensor *w = sc_new_tensor_2d(ctx, SC_TYPE_F32, KF, NF), *xt = sc_new_tensor_2d(ctx, SC_TYPE_F32, KF, 1);
    sc_tensor *y = sc_mul_mat(ctx, w, xt);
    leaf leaves[] = {{w, wd, sizeof wd}, {xt, x, sizeof x}};
    run r;
    int rc = run_init(&r, dev, y, leaves, 2);
    sc_tune_info ti;
    if (rc == SC_OK) rc = sc_device_tune_query(dev, y, &ti);
    CHECK(rc == SC_OK, "f32 mul_mat: %s", sc_strerror(rc));
    if (rc == SC_OK) {
        CHECK(find(&ti, "gemv-dp4") < 0, "gemv-dp4 offered for f32 weights");
        CHECK(sc_device_tune_set(dev, ti.key, "gemv-dp4") == SC_OK, "tune_set(gemv-dp4)");
        rc = run_compute(&r, got, NF);
        CHECK(rc == SC_OK && ran(ti.key, "gemv", false, "k_mm_gemv_f32"), "invalid choice: not the default; log:\n%s",
              logbuf);
        for (int n = 0; n < NF; n++) {
            double acc = 0;
            for (int k = 0; k < KF; k++) acc += (double)wd[n * KF + k] * x[k];
            CHECK(fabs(acc - got[n]) < 1e-4, "f32 row %d: %g, wanted %g", n, got[n], acc);
        }
        sc_device_tune_set(dev, ti.key, NULL);
        printf("ok   an invalid choice runs the default\n");
    }
    run_free(&r);
    sc_ctx_destroy(ctx);
}

/* ---- ATTENTION: a decode step of 4 tokens over an f16 cache ------------------------------ */
static void attention(sc_device_t *dev) {
    /* capacity MB * BS = 4096 keys; 4 tokens x 8 kv heads = 32 blocks before splitting */
    enum { HD = 64, H = 8, HKV = 8, T = 4, BS = 16, NB = 8, MB = 256, CTX = 100 };
    static uint16_t cache[HD * HKV * BS * NB];
    static float q[HD * H * T], ref[HD * H * T], got[HD * H * T];
    int32_t bt[MB], pos[T];
    for (int i = 0; i < MB; i++) bt[i] = i % NB;
    for (int t = 0; t < T; t++) pos[t] = CTX - T + t;
    for (int i = 0; i < HD * HKV * BS * NB; i++) cache[i] = sc_f32_to_f16(0.05f * (float)((i * 7) % 23) - 0.5f);
    for (int i = 0; i < HD * H * T; i++) q[i] = 0.1f * (float)((i * 5) % 11) - 0.4f;
    sc_ctx_t *ctx = sc_ctx_create(16);
    sc_tensor *qt = sc_new_tensor_3d(ctx, SC_TYPE_F32, HD, H, T);
    sc_tensor *k = sc_new_tensor_4d(ctx, SC_TYPE_F16, HD, HKV, BS, NB);
    sc_tensor *v = sc_new_tensor_4d(ctx, SC_TYPE_F16, HD, HKV, BS, NB);
    sc_tensor *btt = sc_new_tensor_2d(ctx, SC_TYPE_I32, MB, 1), *pt = sc_new_tensor_1d(ctx, SC_TYPE_I32, T);
    sc_tensor *y = sc_attention(ctx, qt, k, v, btt, pt, NULL, 0.125f);
    leaf leaves[] = {{qt, q, sizeof q}, {k, cache, sizeof cache}, {v, cache, sizeof cache}, {btt, bt, sizeof bt},
                     {pt, pos, sizeof pos}};
    run r;
    sc_tune_info ti;
    int rc = run_init(&r, dev, y, leaves, 5);
    if (rc == SC_OK) rc = sc_device_tune_query(dev, y, &ti);
    CHECK(rc == SC_OK, "attention: %s", sc_strerror(rc));
    if (rc != SC_OK) goto done;
    const char *key = "attn.f16.f16:D=64,H=8,Hkv=8,T=4,ctx=4096";
    CHECK(!strcmp(ti.key, key), "key %s, wanted %s", ti.key, key);
    printf("     %s:", ti.key);
    for (int i = 0; i < ti.n_variants; i++) printf(" %s%s", ti.variants[i], i == ti.default_variant ? "*" : "");
    printf("\n");
    CHECK(ti.default_variant == 0 && !strncmp(ti.variants[0], "decode.splits=", 14), "default %s",
          ti.variants[ti.default_variant]);
    /* decode: at least 256 keys a split -> at most 16; prefill (key tiles of 32): at most 32 */
    CHECK(find(&ti, "decode.splits=16") >= 0 && find(&ti, "prefill.splits=32") >= 0,
          "attention variants lack decode.splits=16 or prefill.splits=32");
    CHECK(find(&ti, "decode.splits=32") < 0, "decode.splits=32 offered for 4096 keys");
    CHECK(find(&ti, "decode.splits=1") < 0 && find(&ti, "prefill.splits=1") < 0,
          "fewer splits than the heuristic's offered");
    rc = run_compute(&r, ref, HD * H * T);
    CHECK(rc == SC_OK, "attention default: %s", sc_strerror(rc));
    int pf0 = 0; /* the prefill kernel's first variant: its heuristic's count (the CU count decides it) */
    while (pf0 < ti.n_variants - 1 && strncmp(ti.variants[pf0], "prefill.", 8) != 0) pf0++;
    const char *tries[][2] = {
        {"decode.splits=16", "k_attn_dec_f16_f16"},
        {"prefill.splits=32", "k_attn_pf_f16_f16_128"},
        {ti.variants[pf0], "k_attn_pf_f16_f16_128"},
    };
    for (int i = 0; i < 3; i++) {
        CHECK(sc_device_tune_set(dev, key, tries[i][0]) == SC_OK, "tune_set(%s)", tries[i][0]);
        rc = run_compute(&r, got, HD * H * T);
        CHECK(rc == SC_OK && ran(key, tries[i][0], true, tries[i][1]), "%s did not run %s; log:\n%s", tries[i][0],
              tries[i][1], logbuf);
        const double e = nmse(got, ref, HD * H * T);
        CHECK(e < 1e-10, "%s: nmse %.3e against the default", tries[i][0], e);
        printf("ok   attention decode %-17s -> %s, nmse %.2e\n", tries[i][0], tries[i][1], e);
    }
    /* a split count past the node's offer: the default */
    CHECK(sc_device_tune_set(dev, key, "decode.splits=64") == SC_OK, "tune_set(decode.splits=64)");
    rc = run_compute(&r, got, HD * H * T);
    CHECK(rc == SC_OK && strstr(logbuf, " (default) -> k_attn_dec_f16_f16\n"), "decode.splits=64 ran; log:\n%s", logbuf);
    sc_device_tune_set(dev, key, NULL);
done:
    run_free(&r);
    sc_ctx_destroy(ctx);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s DEVICE [graphs]\n", argv[0]);
        return 2;
    }
    const bool graphs = argc > 2 && !strcmp(argv[2], "graphs");
    setenv("STRIXCORE_HIP_TUNE_LOG", "1", 1);
    if (graphs) setenv("STRIXCORE_HIP_GRAPHS", "1", 1);
    sc_log_set_sink(sink, NULL);
    sc_log_set_level(SC_LOG_INFO);
    sc_registry_t *reg = NULL;
    if (sc_registry_create(NULL, &reg) != SC_OK) {
        fprintf(stderr, "no registry\n");
        return 1;
    }
    sc_device_t *dev = sc_registry_find_device(reg, argv[1]);
    if (!dev) {
        printf("skip: no device '%s' here\n", argv[1]);
        sc_registry_destroy(reg);
        return 77;
    }
    sc_device_props props;
    memset(&props, 0, sizeof props);
    props.struct_size = sizeof props;
    CHECK(sc_device_get_props(dev, &props) == SC_OK && props.driver[0], "no driver string");
    const char *plat = getenv("STRIXCORE_HIP_PLATFORM");
    if (plat && !strcmp(plat, "emu")) CHECK(!strcmp(props.driver, "emulator"), "driver '%s' on the emulator", props.driver);
    printf("ok   driver '%s'\n", props.driver);

    names(dev);
    mul_mat(dev, graphs);
    invalid_choice(dev);
    attention(dev);

    log_clear();
    sc_registry_destroy(reg); /* the stream logs its graph statistics */
    if (graphs) {
        const char *at = strstr(logbuf, "graph mode: ");
        unsigned long long caps = 0, reps = 0;
        CHECK(at && sscanf(at, "graph mode: %llu captures, %llu replays", &caps, &reps) == 2 && caps >= 2 && reps >= 2,
              "graph mode: %llu captures, %llu replays (wanted 2+ of each); log:\n%s", caps, reps, logbuf);
        printf("ok   graph mode: %llu captures, %llu replays\n", caps, reps);
    }
    printf("%s\n", failures ? "FAIL" : "OK");
    return failures ? 1 : 0;
}

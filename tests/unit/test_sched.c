/*
 * tests/unit/test_sched.c - placement, copies, memory reuse and error paths
 * of the scheduler, over the CPU device and an in-test "fakegpu" backend
 * whose buffers are not host-visible (so every copy goes through
 * buffer_read/buffer_write) and which supports only MUL_MAT and ADD.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cpu.h"
#include "internal.h"

/* ---- the fake backend ---- */
static int fake_computed;

static int fk_device_count(void *ctx) { return 1; }
static int fk_device_props(void *ctx, int index, sc_device_props *p) {
    snprintf(p->name, sizeof p->name, "fakegpu");
    snprintf(p->description, sizeof p->description, "test device");
    p->type = SC_DEVICE_GPU;
    p->n_buffer_types = 1;
    return SC_OK;
}
static int fk_device_open(void *ctx, int index, void **dev) { *dev = NULL; return SC_OK; }
static void fk_device_close(void *dev) {}
static int fk_buft_props(void *dev, int buft, sc_buffer_type_props *p) {
    if (buft != 0) return SC_EINVAL;
    snprintf(p->name, sizeof p->name, "vram");
    p->alignment = 128;
    p->host_visible = false;
    return SC_OK;
}
static int fk_alloc(void *dev, int buft, size_t size, void **buf, void **base) {
    void *p = aligned_alloc(128, SC_ALIGN_UP(size, 128));
    if (!p) return SC_ENOMEM;
    *buf = p;
    *base = p;
    return SC_OK;
}
static void fk_free(void *dev, void *buf) { free(buf); }
static int fk_write(void *dev, void *buf, size_t off, const void *src, size_t n) {
    memcpy((char *)buf + off, src, n);
    return SC_OK;
}
static int fk_read(void *dev, void *buf, size_t off, void *dst, size_t n) {
    memcpy(dst, (char *)buf + off, n);
    return SC_OK;
}
static bool fk_supports(void *dev, const sc_tensor *n) {
    return n->op == SC_OP_MUL_MAT || n->op == SC_OP_ADD || n->op == SC_OP_VIEW || n->op == SC_OP_NONE;
}
static int fk_stream_create(void *dev, void **stream) { *stream = NULL; return SC_OK; }
static void fk_stream_destroy(void *stream) {}
static int fk_compute(void *stream, sc_tensor *const *nodes, int n) {
    for (int i = 0; i < n; i++) {
        int rc = sc__cpu_ref_compute(nodes[i]);
        if (rc != SC_OK) return rc;
        fake_computed++;
    }
    return SC_OK;
}

static const sc_backend_iface fake_iface = {
    .struct_size = sizeof(sc_backend_iface),
    .device_count = fk_device_count,
    .device_props = fk_device_props,
    .device_open = fk_device_open,
    .device_close = fk_device_close,
    .buffer_type_props = fk_buft_props,
    .buffer_alloc = fk_alloc,
    .buffer_free = fk_free,
    .buffer_write = fk_write,
    .buffer_read = fk_read,
    .supports_op = fk_supports,
    .stream_create = fk_stream_create,
    .stream_destroy = fk_stream_destroy,
    .graph_compute = fk_compute,
};

typedef struct fixture {
    sc_registry_t *reg;
    sc_device_t *cpu;
    sc_plugin_entry fake_pe;
    sc_device_t *fake;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    sc_registry_opts o = {.struct_size = sizeof o, .no_env = true, .no_default_paths = true};
    if (sc_registry_create(&o, &f->reg) != SC_OK) return -1;
    f->cpu = sc_registry_find_device(f->reg, "cpu");
    if (!f->cpu) return -1;
    f->fake_pe.backend = &fake_iface;
    snprintf(f->fake_pe.rec.desc.name, sizeof f->fake_pe.rec.desc.name, "fakegpu");
    if (sc__device_open(&f->fake_pe, 0, &f->fake) != SC_OK) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    sc__device_close(f->fake);
    sc_registry_destroy(f->reg);
    free(f);
    return 0;
}

static void fill(float *v, int n, float seed) {
    for (int i = 0; i < n; i++) v[i] = (float)((i * 37 + 11) % 23) / 23.0f - 0.5f + seed;
}

/* Chain of elementwise ops on the CPU: results exact, and the arena reuses
 * memory (smaller than the sum of all intermediates): freed bytes are reused
 * SC_SCHED_REUSE_DELAY nodes after their last read, not sooner. */
static void test_cpu_chain_and_reuse(void **state) {
    fixture *f = *state;
    enum { N = 1000, DEPTH = 3 * SC_SCHED_REUSE_DELAY };
    sc_ctx_t *ctx = sc_ctx_create(128);
    sc_tensor *x = sc_new_tensor_1d(ctx, SC_TYPE_F32, N);
    sc_buffer_t *buf = NULL;
    assert_int_equal(sc_alloc_tensors(f->cpu, &x, 1, &buf), SC_OK);
    float in[N], out[N], ref[N];
    fill(in, N, 0.0f);
    assert_int_equal(sc_tensor_set(x, in, 0, sizeof in), SC_OK);

    sc_tensor *y = x;
    for (int i = 0; i < DEPTH; i++) y = (i % 2) ? sc_add(ctx, y, x) : sc_scale(ctx, y, 0.5f);
    sc_graph_t *g = sc_graph_create(128);
    assert_int_equal(sc_graph_expand(g, y), SC_OK);
    sc_sched_t *s = NULL;
    assert_int_equal(sc_sched_create(&f->cpu, 1, &s), SC_OK);
    assert_int_equal(sc_sched_compute(s, g), SC_OK);
    assert_int_equal(sc_tensor_get(y, out, 0, sizeof out), SC_OK);
    for (int j = 0; j < N; j++) {
        float v = in[j];
        for (int i = 0; i < DEPTH; i++) v = (i % 2) ? v + in[j] : v * 0.5f;
        ref[j] = v;
    }
    for (int j = 0; j < N; j++) assert_float_equal(out[j], ref[j], 1e-6);
    /* a chain needs two live intermediates at a time, plus those waiting out
     * the reuse delay: not DEPTH of them */
    assert_true(sc_sched_arena_size(s, f->cpu) <= (SC_SCHED_REUSE_DELAY + 3) * SC_ALIGN_UP(N * sizeof(float), 64));
    assert_true(sc_sched_arena_size(s, f->cpu) >= SC_SCHED_REUSE_DELAY * N * sizeof(float));
    assert_int_equal(sc_sched_n_copies(s), 0);
    /* running again reuses the plan's arena and gives the same answer */
    assert_int_equal(sc_sched_compute(s, g), SC_OK);
    float again[N];
    assert_int_equal(sc_tensor_get(y, again, 0, sizeof again), SC_OK);
    assert_memory_equal(again, out, sizeof out);
    sc_sched_destroy(s);
    sc_graph_destroy(g);
    sc_buffer_destroy(buf);
    sc_ctx_destroy(ctx);
}

/* Two devices: the weight lives on fakegpu, so the matmul goes there; the
 * norm is unsupported there and falls back to the CPU; the final add goes to
 * fakegpu by priority. Inputs and results cross devices via copies. */
static void test_two_devices(void **state) {
    fixture *f = *state;
    enum { K = 33, NOUT = 5, M = 3 };
    sc_ctx_t *ctx = sc_ctx_create(64);
    sc_tensor *w = sc_new_tensor_2d(ctx, SC_TYPE_F32, K, NOUT);
    w->flags |= SC_TENSOR_WEIGHT;
    sc_tensor_set_name(w, "w");
    sc_tensor *x = sc_new_tensor_2d(ctx, SC_TYPE_F32, K, M);
    sc_tensor_set_name(x, "x");
    sc_buffer_t *wb = NULL, *xb = NULL;
    assert_int_equal(sc_alloc_tensors(f->fake, &w, 1, &wb), SC_OK);
    assert_int_equal(sc_alloc_tensors(f->cpu, &x, 1, &xb), SC_OK);
    float wv[K * NOUT], xv[K * M];
    fill(wv, K * NOUT, 0.1f);
    fill(xv, K * M, -0.2f);
    assert_int_equal(sc_tensor_set(w, wv, 0, sizeof wv), SC_OK);
    assert_int_equal(sc_tensor_set(x, xv, 0, sizeof xv), SC_OK);

    sc_tensor *y = sc_mul_mat(ctx, w, x);           /* [NOUT, M] */
    sc_tensor *z = sc_rms_norm(ctx, y, NULL, 1e-6f);
    sc_tensor *o = sc_add(ctx, z, y);
    sc_graph_t *g = sc_graph_create(64);
    assert_int_equal(sc_graph_expand(g, o), SC_OK);
    sc_device_t *devs[2] = {f->fake, f->cpu};
    sc_sched_t *s = NULL;
    assert_int_equal(sc_sched_create(devs, 2, &s), SC_OK);
    fake_computed = 0;
    assert_int_equal(sc_sched_compute(s, g), SC_OK);
    assert_ptr_equal(sc_sched_node_device(s, y), f->fake);
    assert_ptr_equal(sc_sched_node_device(s, z), f->cpu);
    assert_ptr_equal(sc_sched_node_device(s, o), f->fake);
    assert_non_null(strstr(sc_sched_node_reason(s, y), "weights 'w'"));
    assert_non_null(strstr(sc_sched_node_reason(s, z), "fakegpu"));
    /* x -> fakegpu, y -> cpu, z -> fakegpu */
    assert_int_equal(sc_sched_n_copies(s), 3);
    assert_int_equal(fake_computed, 2);

    float got[NOUT * M];
    assert_int_equal(sc_tensor_get(o, got, 0, sizeof got), SC_OK);
    for (int m = 0; m < M; m++) {
        float yv[NOUT], ss = 0;
        for (int n = 0; n < NOUT; n++) {
            float acc = 0;
            for (int k = 0; k < K; k++) acc += wv[n * K + k] * xv[m * K + k];
            yv[n] = acc;
            ss += acc * acc;
        }
        float inv = 1.0f / sqrtf(ss / NOUT + 1e-6f);
        for (int n = 0; n < NOUT; n++) assert_float_equal(got[m * NOUT + n], yv[n] * inv + yv[n], 1e-4);
    }
    char *dump = NULL;
    size_t dump_len = 0;
    FILE *mf = open_memstream(&dump, &dump_len);
    sc_sched_dump(s, mf);
    fclose(mf);
    assert_non_null(strstr(dump, "copy 'x'"));
    free(dump);
    sc_sched_destroy(s);
    sc_graph_destroy(g);
    sc_buffer_destroy(wb);
    sc_buffer_destroy(xb);
    sc_ctx_destroy(ctx);
}

static void test_unsupported_and_unallocated(void **state) {
    fixture *f = *state;
    sc_ctx_t *ctx = sc_ctx_create(64);
    sc_tensor *x = sc_new_tensor_1d(ctx, SC_TYPE_F32, 8);
    sc_tensor *y = sc_silu(ctx, x);
    sc_graph_t *g = sc_graph_create(16);
    assert_int_equal(sc_graph_expand(g, y), SC_OK);
    sc_sched_t *s = NULL;
    assert_int_equal(sc_sched_create(&f->cpu, 1, &s), SC_OK);
    /* x was never allocated */
    assert_int_equal(sc_sched_compute(s, g), SC_ESTATE);
    sc_sched_destroy(s);

    sc_buffer_t *b = NULL;
    assert_int_equal(sc_alloc_tensors(f->fake, &x, 1, &b), SC_OK);
    assert_int_equal(sc_sched_create(&f->fake, 1, &s), SC_OK);
    /* fakegpu cannot run SILU and nothing else was offered */
    assert_int_equal(sc_sched_compute(s, g), SC_ENOTSUP);
    assert_null(sc_sched_node_device(s, y));
    sc_sched_destroy(s);
    sc_buffer_destroy(b);
    sc_graph_destroy(g);
    sc_ctx_destroy(ctx);

    assert_int_equal(sc_sched_create(NULL, 1, &s), SC_EINVAL);
    sc_device_t *none[1] = {NULL};
    assert_int_equal(sc_sched_create(none, 1, &s), SC_EINVAL);
    assert_int_equal(sc_sched_compute(NULL, NULL), SC_EINVAL);
}

/* A caller-allocated output keeps its place; bytes around it stay untouched. */
static void test_preallocated_output(void **state) {
    fixture *f = *state;
    sc_ctx_t *ctx = sc_ctx_create(64);
    sc_tensor *x = sc_new_tensor_1d(ctx, SC_TYPE_F32, 10);
    sc_buffer_t *xb = NULL, *ob = NULL;
    assert_int_equal(sc_alloc_tensors(f->cpu, &x, 1, &xb), SC_OK);
    float in[10];
    fill(in, 10, 0);
    sc_tensor_set(x, in, 0, sizeof in);
    sc_tensor *y = sc_scale(ctx, sc_silu(ctx, x), 2.0f);
    assert_int_equal(sc_buffer_create(f->cpu, 256, &ob), SC_OK);
    unsigned char *host = sc_buffer_host_ptr(ob);
    assert_non_null(host);
    memset(host, 0xA5, 256);
    assert_int_equal(sc_tensor_alloc(ob, y, 64), SC_OK);
    sc_graph_t *g = sc_graph_create(16);
    sc_graph_expand(g, y);
    sc_sched_t *s = NULL;
    assert_int_equal(sc_sched_create(&f->cpu, 1, &s), SC_OK);
    assert_int_equal(sc_sched_compute(s, g), SC_OK);
    assert_ptr_equal(y->data, host + 64);
    for (int i = 0; i < 64; i++) assert_int_equal(host[i], 0xA5);
    for (int i = 64 + 40; i < 256; i++) assert_int_equal(host[i], 0xA5);
    for (int i = 0; i < 10; i++) assert_float_equal(((float *)y->data)[i], 2.0f * in[i] / (1.0f + expf(-in[i])), 1e-5);
    sc_sched_destroy(s);
    sc_graph_destroy(g);
    sc_buffer_destroy(xb);
    sc_buffer_destroy(ob);
    sc_ctx_destroy(ctx);
}

/* One step's graph over persistent leaves (x, w): y = ((x * 0.5 + w) * 0.5 + w) ..., depth nodes. */
static sc_tensor *chain(sc_ctx_t *ctx, sc_graph_t *g, sc_tensor *x, sc_tensor *w, int depth) {
    sc_ctx_reset(ctx);
    sc_graph_reset(g);
    sc_tensor *y = x;
    for (int i = 0; i < depth; i++) y = (i % 2) ? sc_add(ctx, y, w) : sc_scale(ctx, y, 0.5f);
    y->flags |= SC_TENSOR_OUTPUT;
    assert_int_equal(sc_graph_expand(g, y), SC_OK);
    return y;
}

static void check_chain(sc_tensor *y, const float *x, const float *w, int n, int depth) {
    float out[64];
    assert_int_equal(sc_tensor_get(y, out, 0, (size_t)n * sizeof(float)), SC_OK);
    for (int j = 0; j < n; j++) {
        float v = x[j];
        for (int i = 0; i < depth; i++) v = (i % 2) ? v + w[j] : v * 0.5f;
        assert_float_equal(out[j], v, 1e-6);
    }
}

/* Decode steps build the same graph every time: the second and later plans
 * of an identical graph reuse the first (rebinding the new tensors), and a
 * graph that differs in anything is planned afresh. Results stay exact. */
static void test_plan_reuse(void **state) {
    fixture *f = *state;
    enum { N = 64 };
    sc_ctx_t *wctx = sc_ctx_create(4), *ctx = sc_ctx_create(64);
    sc_tensor *lv[2] = {sc_new_tensor_1d(wctx, SC_TYPE_F32, N), sc_new_tensor_1d(wctx, SC_TYPE_F32, N)};
    sc_buffer_t *buf = NULL;
    assert_int_equal(sc_alloc_tensors(f->cpu, lv, 2, &buf), SC_OK);
    sc_graph_t *g = sc_graph_create(64);
    sc_sched_t *s = NULL;
    assert_int_equal(sc_sched_create(&f->cpu, 1, &s), SC_OK);
    float x[N], w[N];
    fill(w, N, 0.25f);
    const int depths[] = {9, 9, 9, 10, 10, 9};
    const int reused[] = {0, 1, 2, 2, 3, 3};
    for (int step = 0; step < 6; step++) {
        fill(x, N, (float)step); /* new contents each step, same addresses */
        assert_int_equal(sc_tensor_set(lv[0], x, 0, sizeof x), SC_OK);
        assert_int_equal(sc_tensor_set(lv[1], w, 0, sizeof w), SC_OK);
        sc_tensor *y = chain(ctx, g, lv[0], lv[1], depths[step]);
        assert_int_equal(sc_sched_compute(s, g), SC_OK);
        check_chain(y, x, w, N, depths[step]);
        assert_int_equal(sc_sched_n_reused(s), reused[step]);
    }
    /* a different op parameter is a different graph */
    sc_ctx_reset(ctx);
    sc_graph_reset(g);
    sc_tensor *y = sc_scale(ctx, lv[0], 2.0f);
    y->flags |= SC_TENSOR_OUTPUT;
    assert_int_equal(sc_graph_expand(g, y), SC_OK);
    assert_int_equal(sc_sched_compute(s, g), SC_OK);
    sc_ctx_reset(ctx);
    sc_graph_reset(g);
    y = sc_scale(ctx, lv[0], 3.0f);
    y->flags |= SC_TENSOR_OUTPUT;
    assert_int_equal(sc_graph_expand(g, y), SC_OK);
    assert_int_equal(sc_sched_compute(s, g), SC_OK);
    assert_int_equal(sc_sched_n_reused(s), 3);
    float out[N];
    assert_int_equal(sc_tensor_get(y, out, 0, sizeof out), SC_OK);
    for (int j = 0; j < N; j++) assert_float_equal(out[j], x[j] * 3.0f, 1e-6);
    sc_sched_destroy(s);
    sc_graph_destroy(g);
    sc_buffer_destroy(buf);
    sc_ctx_destroy(ctx);
    sc_ctx_destroy(wctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_chain_and_reuse),
        cmocka_unit_test(test_two_devices),
        cmocka_unit_test(test_unsupported_and_unallocated),
        cmocka_unit_test(test_preallocated_output),
        cmocka_unit_test(test_plan_reuse),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

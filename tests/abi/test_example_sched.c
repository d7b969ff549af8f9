/*
 * tests/abi/test_example_sched.c - the out-of-tree example backend working
 * next to the CPU under the scheduler. Run by example_plugin.sh with
 * STRIXCORE_PLUGIN_PATH pointing at the freshly built plugin.
 *
 *   x [D, R], y [D, 1], w [D] on "example"
 *   o = mul(rms_norm(add(x, y)), w)
 * ADD and MUL are the example's (MUL because w is a weight living there),
 * RMS_NORM is not, so it falls back to the CPU.
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

#include "strixcore/strixcore.h"

enum { D = 24, R = 5 };
#define EPS 1e-5f

static void test_example_with_cpu(void **state) {
    sc_registry_opts o = {.struct_size = sizeof(o), .no_default_paths = true};
    float xv[D * R], yv[D], wv[D], got[D * R];
    sc_registry_t *reg = NULL;
    sc_device_t *ex, *cpu;
    sc_buffer_t *buf = NULL;
    sc_sched_t *s = NULL;

    assert_int_equal(sc_registry_create(&o, &reg), SC_OK);
    ex = sc_registry_find_device(reg, "example");
    cpu = sc_registry_find_device(reg, "cpu");
    if (!ex) {
        for (int i = 0; i < sc_registry_plugin_count(reg); i++)
            print_message("plugin %s: %s\n", sc_registry_plugin(reg, i)->path, sc_registry_plugin(reg, i)->reason);
        fail_msg("no 'example' device: is STRIXCORE_PLUGIN_PATH set?");
    }
    assert_non_null(cpu);
    assert_string_equal(sc_device_backend_name(ex), "example");

    sc_ctx_t *ctx = sc_ctx_create(64);
    sc_tensor *x = sc_new_tensor_2d(ctx, SC_TYPE_F32, D, R);
    sc_tensor *y = sc_new_tensor_2d(ctx, SC_TYPE_F32, D, 1);
    sc_tensor *w = sc_new_tensor_1d(ctx, SC_TYPE_F32, D);
    sc_tensor_set_name(x, "x");
    sc_tensor_set_name(y, "y");
    sc_tensor_set_name(w, "w");
    w->flags |= SC_TENSOR_WEIGHT;
    x->flags |= SC_TENSOR_INPUT;
    y->flags |= SC_TENSOR_INPUT;
    sc_tensor *leaves[3] = {x, y, w};
    assert_int_equal(sc_alloc_tensors(ex, leaves, 3, &buf), SC_OK);
    for (int i = 0; i < D * R; i++)
        xv[i] = sinf((float)i * 0.37f) * 2.0f;
    for (int i = 0; i < D; i++) {
        yv[i] = 0.1f * (float)(i % 5) - 0.2f;
        wv[i] = 0.5f + 0.03f * (float)i;
    }
    assert_int_equal(sc_tensor_set(x, xv, 0, sizeof(xv)), SC_OK);
    assert_int_equal(sc_tensor_set(y, yv, 0, sizeof(yv)), SC_OK);
    assert_int_equal(sc_tensor_set(w, wv, 0, sizeof(wv)), SC_OK);

    sc_tensor *a = sc_add(ctx, x, y);             /* [R, D], y broadcast over rows */
    sc_tensor *n = sc_rms_norm(ctx, a, NULL, EPS); /* [R, D] */
    sc_tensor *out = sc_mul(ctx, n, w);            /* [R, D], w broadcast */
    assert_int_equal(sc_ctx_error(ctx), SC_OK);
    sc_graph_t *g = sc_graph_create(64);
    assert_int_equal(sc_graph_expand(g, out), SC_OK);

    sc_device_t *devs[2] = {ex, cpu};
    assert_int_equal(sc_sched_create(devs, 2, &s), SC_OK);
    assert_int_equal(sc_sched_compute(s, g), SC_OK);
    sc_sched_dump(s, stdout);

    assert_ptr_equal(sc_sched_node_device(s, a), ex);
    assert_ptr_equal(sc_sched_node_device(s, n), cpu);
    assert_ptr_equal(sc_sched_node_device(s, out), ex);
    assert_non_null(sc_sched_node_reason(s, a));
    assert_true(strlen(sc_sched_node_reason(s, a)) > 0);
    assert_true(strlen(sc_sched_node_reason(s, n)) > 0);
    assert_true(strlen(sc_sched_node_reason(s, out)) > 0);

    /* the same computation in plain C */
    assert_int_equal(sc_tensor_get(out, got, 0, sizeof(got)), SC_OK);
    for (int r = 0; r < R; r++) {
        float row[D], ss = 0.0f;
        for (int i = 0; i < D; i++) {
            row[i] = xv[r * D + i] + yv[i];
            ss += row[i] * row[i];
        }
        float inv = 1.0f / sqrtf(ss / D + EPS);
        for (int i = 0; i < D; i++)
            assert_float_equal(got[r * D + i], row[i] * inv * wv[i], 1e-5);
    }

    sc_sched_destroy(s);
    sc_graph_destroy(g);
    sc_buffer_destroy(buf);
    sc_ctx_destroy(ctx);
    sc_registry_destroy(reg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_with_cpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

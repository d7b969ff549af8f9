/*
 * tests/unit/test_registry.c - the registry without plugins, bad search
 * path entries, and every bounds check on buffers and tensor placement.
 * (Real plugins, good and broken, are tests/abi's job.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "internal.h"

#define MAX_LINES 256
static char g_lines[MAX_LINES][600];
static int g_n_lines;

static void capture(sc_log_level level, const char *who, const char *msg, void *user) {
    if (g_n_lines < MAX_LINES)
        snprintf(g_lines[g_n_lines++], sizeof(g_lines[0]), "%s %s: %s", level == SC_LOG_WARN ? "W" : "-",
                 who ? who : "-", msg);
}

static int count_lines(const char *substr) {
    int n = 0;
    for (int i = 0; i < g_n_lines; i++)
        if (strstr(g_lines[i], substr))
            n++;
    return n;
}

static sc_registry_t *bare(void) {
    sc_registry_opts o = {.struct_size = sizeof(o), .no_env = true, .no_default_paths = true};
    sc_registry_t *reg = NULL;
    assert_int_equal(sc_registry_create(&o, &reg), SC_OK);
    return reg;
}

/* A plain f32 vector of n elements, not allocated. */
static void vec(sc_tensor *t, int64_t n) {
    memset(t, 0, sizeof(*t));
    t->type = SC_TYPE_F32;
    t->ne[0] = n, t->ne[1] = t->ne[2] = t->ne[3] = 1;
    sc__tensor_set_strides(t);
}

static void test_cpu_only(void **state) {
    sc_registry_t *reg = bare();
    const sc_plugin_record *r;
    sc_device_t *cpu;
    sc_device_props p;

    assert_int_equal(sc_registry_plugin_count(reg), 1);
    r = sc_registry_plugin(reg, 0);
    assert_string_equal(r->path, "(built-in)");
    assert_string_equal(r->desc.name, "cpu");
    assert_int_equal(r->status, SC_PLUGIN_LOADED);
    assert_int_equal(r->desc.kind, SC_PLUGIN_BACKEND);
    assert_int_equal(r->desc.score, 1);
    assert_int_equal(r->abi_minor, SC_ABI_MINOR);
    assert_int_equal(r->n_devices, 1);

    assert_int_equal(sc_registry_device_count(reg), 1);
    cpu = sc_registry_device(reg, 0);
    assert_non_null(cpu);
    assert_string_equal(sc_device_name(cpu), "cpu");
    assert_string_equal(sc_device_backend_name(cpu), "cpu");
    assert_ptr_equal(sc_registry_find_device(reg, "cpu"), cpu);
    assert_ptr_equal(sc_registry_pick(reg, "auto"), cpu);
    assert_ptr_equal(sc_registry_pick(reg, NULL), cpu);
    assert_ptr_equal(sc_registry_pick(reg, "cpu"), cpu);
    assert_null(sc_registry_pick(reg, "hip"));
    assert_null(sc_registry_find_device(reg, ""));
    assert_null(sc_registry_find_device(reg, NULL));
    assert_int_equal(sc_device_get_props(cpu, &p), SC_OK);
    assert_true(p.n_buffer_types >= 1);

    /* out-of-range indices and NULLs */
    assert_null(sc_registry_plugin(reg, 1));
    assert_null(sc_registry_plugin(reg, -1));
    assert_null(sc_registry_device(reg, 1));
    assert_int_equal(sc_registry_plugin_count(NULL), 0);
    assert_int_equal(sc_registry_device_count(NULL), 0);
    assert_null(sc_registry_pick(NULL, "auto"));
    assert_int_equal(sc_device_get_props(NULL, &p), SC_EINVAL);
    assert_int_equal(sc_device_get_props(cpu, NULL), SC_EINVAL);
    assert_int_equal(sc_registry_load(reg, NULL), SC_EINVAL);
    assert_int_equal(sc_registry_load(NULL, "/x.so"), SC_EINVAL);
    assert_null(sc_device_name(NULL));
    assert_false(sc_device_supports_op(NULL, NULL));
    assert_false(sc_device_offload_op(cpu, NULL));
    sc_registry_destroy(reg);
    sc_registry_destroy(NULL);

    assert_int_equal(sc_registry_create(NULL, NULL), SC_EINVAL);
    sc_registry_opts zero = {0};
    assert_int_equal(sc_registry_create(&zero, &reg), SC_EINVAL);
    assert_null(reg);
}

static void test_bad_plugin_path(void **state) {
    char txt[] = "/tmp/sc_test_registry_XXXXXX";
    char env[512];
    sc_registry_opts o = {.struct_size = sizeof(o), .no_default_paths = true};
    sc_registry_t *reg = NULL;
    int fd = mkstemp(txt);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, "hello\n", 6), 6);
    close(fd);
    snprintf(env, sizeof(env), "/nonexistent/strixcore/plugins:%s::", txt);
    setenv("STRIXCORE_PLUGIN_PATH", env, 1);
    g_n_lines = 0;
    sc_log_set_sink(capture, NULL);

    assert_int_equal(sc_registry_create(&o, &reg), SC_OK);
    /* both entries were logged as warnings and skipped: only the CPU remains */
    assert_int_equal(sc_registry_plugin_count(reg), 1);
    assert_int_equal(sc_registry_device_count(reg), 1);
    assert_int_equal(count_lines("W plugins: /nonexistent/strixcore/plugins: STRIXCORE_PLUGIN_PATH entry skipped"), 1);
    char expect[256];
    snprintf(expect, sizeof(expect), "W plugins: %s: STRIXCORE_PLUGIN_PATH entry skipped: not a directory or a .so file",
             txt);
    assert_int_equal(count_lines(expect), 1);
    sc_registry_destroy(reg);

    /* the same entries through opts->search_paths */
    const char *paths[] = {"/nonexistent/dir", txt, NULL};
    o.no_env = true;
    o.search_paths = paths;
    g_n_lines = 0;
    assert_int_equal(sc_registry_create(&o, &reg), SC_OK);
    assert_int_equal(sc_registry_plugin_count(reg), 1);
    assert_int_equal(count_lines("/nonexistent/dir: search path entry skipped"), 1);
    sc_registry_destroy(reg);

    /* an explicit load of a missing file is recorded as rejected */
    reg = bare();
    assert_int_equal(sc_registry_load(reg, "/nonexistent/x.so"), SC_EPLUGIN);
    assert_int_equal(sc_registry_plugin(reg, 1)->status, SC_PLUGIN_REJECTED);
    assert_non_null(strstr(sc_registry_plugin(reg, 1)->reason, "cannot load"));
    assert_non_null(sc_registry_find_device(reg, "cpu"));
    sc_registry_destroy(reg);

    sc_log_set_sink(NULL, NULL);
    unsetenv("STRIXCORE_PLUGIN_PATH");
    unlink(txt);
}

static void test_buffer_and_tensor_bounds(void **state) {
    sc_registry_t *reg = bare();
    sc_device_t *cpu = sc_registry_find_device(reg, "cpu");
    sc_buffer_t *buf = NULL;
    sc_tensor t, u, v, bad;
    float in[16], out[16];
    size_t align;

    assert_int_equal(sc_buffer_create(cpu, 0, &buf), SC_EINVAL);
    assert_int_equal(sc_buffer_create(NULL, 64, &buf), SC_EINVAL);
    assert_int_equal(sc_buffer_create(cpu, 64, NULL), SC_EINVAL);
    assert_int_equal(sc_buffer_create(cpu, 1024, &buf), SC_OK);
    assert_int_equal(sc_buffer_size(buf), 1024);
    assert_ptr_equal(sc_buffer_device(buf), cpu);
    align = sc_buffer_alignment(buf);
    assert_true(align >= 1 && (align & (align - 1)) == 0 && align <= 512);
    assert_int_equal((uintptr_t)buf->base % align, 0);

    vec(&t, 16); /* 64 bytes */
    /* unallocated tensors cannot be read or written */
    assert_int_equal(sc_tensor_set(&t, in, 0, sizeof(in)), SC_ESTATE);
    assert_int_equal(sc_tensor_get(&t, out, 0, sizeof(out)), SC_ESTATE);
    /* placement: alignment, range, bad arguments */
    if (align > 1)
        assert_int_equal(sc_tensor_alloc(buf, &t, align / 2), SC_EINVAL);
    assert_int_equal(sc_tensor_alloc(buf, &t, SC_ALIGN_UP(1024 - 32, align)), SC_ERANGE);
    assert_int_equal(sc_tensor_alloc(buf, &t, SC_ALIGN_UP(2048, align)), SC_ERANGE);
    assert_int_equal(sc_tensor_alloc(NULL, &t, 0), SC_EINVAL);
    assert_int_equal(sc_tensor_alloc(buf, NULL, 0), SC_EINVAL);
    bad = t;
    bad.type = SC_TYPE_COUNT;
    assert_int_equal(sc_tensor_alloc(buf, &bad, 0), SC_EINVAL);
    assert_null(t.buffer);
    /* the last slot that fits */
    assert_int_equal(sc_tensor_alloc(buf, &t, 1024 - 64), SC_OK);
    assert_ptr_equal(t.buffer, buf);
    assert_ptr_equal(t.data, (char *)buf->base + 1024 - 64);

    for (int i = 0; i < 16; i++)
        in[i] = (float)i * 1.5f;
    assert_int_equal(sc_tensor_set(&t, in, 0, sizeof(in)), SC_OK);
    assert_int_equal(sc_tensor_get(&t, out, 0, sizeof(out)), SC_OK);
    assert_memory_equal(in, out, sizeof(in));
    /* partial access inside the tensor */
    assert_int_equal(sc_tensor_get(&t, out, 8, 8), SC_OK);
    assert_memory_equal(out, &in[2], 8);
    /* out of range: past the end, overflowing sums, NULL data */
    assert_int_equal(sc_tensor_set(&t, in, 60, 8), SC_ERANGE);
    assert_int_equal(sc_tensor_set(&t, in, 0, 65), SC_ERANGE);
    assert_int_equal(sc_tensor_get(&t, out, 65, 0), SC_ERANGE);
    assert_int_equal(sc_tensor_set(&t, in, SIZE_MAX, 8), SC_ERANGE);
    assert_int_equal(sc_tensor_set(&t, in, 8, SIZE_MAX), SC_ERANGE);
    assert_int_equal(sc_tensor_set(&t, NULL, 0, 4), SC_EINVAL);
    assert_int_equal(sc_tensor_get(&t, NULL, 0, 4), SC_EINVAL);
    assert_int_equal(sc_tensor_set(NULL, in, 0, 4), SC_EINVAL);
    assert_int_equal(sc_tensor_set(&t, NULL, 0, 0), SC_OK); /* empty is fine */

    /* views resolve to their root: u views elements 4..7 of t */
    vec(&u, 4);
    u.op = SC_OP_VIEW;
    u.view_src = &t;
    u.view_offs = 16;
    assert_int_equal(sc_tensor_alloc(buf, &u, 0), SC_EINVAL); /* views own no memory */
    assert_int_equal(sc_tensor_get(&u, out, 0, 16), SC_OK);
    assert_memory_equal(out, &in[4], 16);
    float four[4] = {-1, -2, -3, -4};
    assert_int_equal(sc_tensor_set(&u, four, 0, sizeof(four)), SC_OK);
    assert_int_equal(sc_tensor_get(&t, out, 0, sizeof(out)), SC_OK);
    assert_memory_equal(&out[4], four, sizeof(four));
    assert_int_equal(sc_tensor_set(&u, four, 4, sizeof(four)), SC_ERANGE);
    /* a view that claims to reach past its buffer is refused */
    vec(&v, 16);
    v.op = SC_OP_VIEW;
    v.view_src = &t;
    v.view_offs = 32;
    assert_int_equal(sc_tensor_get(&v, out, 0, sizeof(out)), SC_ERANGE);
    /* a view cycle is a malformed tensor, not a hang */
    sc_tensor c1, c2;
    vec(&c1, 1);
    vec(&c2, 1);
    c1.view_src = &c2;
    c2.view_src = &c1;
    assert_int_equal(sc_tensor_get(&c1, out, 0, 4), SC_EINVAL);
    sc_buffer_destroy(buf);
    sc_buffer_destroy(NULL);
    sc_registry_destroy(reg);
}

static void test_alloc_tensors(void **state) {
    sc_registry_t *reg = bare();
    sc_device_t *cpu = sc_registry_find_device(reg, "cpu");
    sc_tensor a, b, c, view;
    sc_tensor *ts[4] = {&a, &b, &view, &c};
    sc_buffer_t *buf = NULL;
    size_t align;

    vec(&a, 3);
    vec(&b, 10);
    vec(&c, 1);
    vec(&view, 2);
    view.op = SC_OP_VIEW;
    view.view_src = &b;
    view.view_offs = 8;
    assert_int_equal(sc_alloc_tensors(cpu, ts, 4, &buf), SC_OK);
    align = sc_buffer_alignment(buf);
    /* back to back, each aligned, in order; the view follows b */
    assert_ptr_equal(a.data, buf->base);
    assert_ptr_equal(b.data, (char *)buf->base + SC_ALIGN_UP(12, align));
    assert_ptr_equal(c.data, (char *)b.data + SC_ALIGN_UP(40, align));
    assert_ptr_equal(view.buffer, buf);
    assert_ptr_equal(view.data, (char *)b.data + 8);
    assert_true(sc_buffer_size(buf) >= (size_t)((char *)c.data - (char *)buf->base) + 4);
    sc_buffer_destroy(buf);

    assert_int_equal(sc_alloc_tensors(cpu, ts, 0, &buf), SC_EINVAL);
    assert_int_equal(sc_alloc_tensors(NULL, ts, 1, &buf), SC_EINVAL);
    ts[1] = NULL;
    assert_int_equal(sc_alloc_tensors(cpu, ts, 2, &buf), SC_EINVAL);
    assert_null(buf);
    sc_registry_destroy(reg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_only),
        cmocka_unit_test(test_bad_plugin_path),
        cmocka_unit_test(test_buffer_and_tensor_bounds),
        cmocka_unit_test(test_alloc_tensors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

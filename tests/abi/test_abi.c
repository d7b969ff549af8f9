/*
 * tests/abi/test_abi.c - the plugin ABI rules, proven with broken plugins.
 *
 * Each plugin in SC_ABI_PLUGIN_DIR is tests/abi/plugins/test_plugin.c built
 * with one defect. For each, the loader must give the exact status, error
 * code and reason, call init / shutdown exactly when the contract says
 * (the plugin logs a marker through the host table on every call), and
 * leave a registry whose CPU device still computes.
 *
 * The fmt_* plugins are format plugins (ABI 1.1, sc_format_iface): the same
 * rules for their table, plus the minor they must agree, and the core's
 * choice of format plugin for a checkpoint's quant_method (qformat.c).
 *
 * Usage: test_abi [TEST]  (TEST: a cmocka name such as test_wrong_major;
 * ctest registers one abi/<variant> test per function).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "internal.h"
#include "qformat.h"

#ifndef SC_ABI_PLUGIN_DIR
#error "SC_ABI_PLUGIN_DIR must point at the built test plugins"
#endif

/* ---- log capture: every line as "who: msg" ---- */
#define MAX_LINES 1024
static char g_lines[MAX_LINES][600];
static int g_n_lines;

static void capture(sc_log_level level, const char *who, const char *msg, void *user) {
    if (g_n_lines < MAX_LINES)
        snprintf(g_lines[g_n_lines++], sizeof(g_lines[0]), "%s: %s", who ? who : "-", msg);
}

static int count_lines(const char *substr) {
    int n = 0;
    for (int i = 0; i < g_n_lines; i++)
        if (strstr(g_lines[i], substr))
            n++;
    return n;
}

/* Marker the test plugin logs from one of its entry points. */
/* What the test plugins log at init, and the rejection of one answering a
 * minor above the core's: both follow the core's SC_ABI_MINOR. */
#define SC_STR_(x) #x
#define SC_STR(x) SC_STR_(x)
#define INIT_MARK "init (minor " SC_STR(SC_ABI_MINOR) ")"
#define TOO_HIGH_REASON "is newer than the core's " SC_STR(SC_ABI_MINOR)

static int marks(const char *variant, const char *what) {
    char s[128];
    snprintf(s, sizeof(s), "abi-test: %s: %s", variant, what);
    return count_lines(s);
}

static sc_registry_t *bare_registry(void) {
    sc_registry_opts o = {.struct_size = sizeof(o), .no_env = true, .no_default_paths = true};
    sc_registry_t *reg = NULL;
    g_n_lines = 0;
    sc_log_set_level(SC_LOG_INFO);
    sc_log_set_sink(capture, NULL);
    assert_int_equal(sc_registry_create(&o, &reg), SC_OK);
    assert_non_null(reg);
    return reg;
}

static const sc_plugin_record *last_record(const sc_registry_t *reg) {
    return sc_registry_plugin(reg, sc_registry_plugin_count(reg) - 1);
}

static void plugin_path(char *out, size_t n, const char *variant) {
    snprintf(out, n, "%s/%s.so", SC_ABI_PLUGIN_DIR, variant);
}

/* Compute out = a + b on `dev` (CPU as fallback) through the scheduler;
 * the inputs live on dev. Returns the device the ADD ran on. */
static sc_device_t *run_add(sc_registry_t *reg, sc_device_t *dev) {
    enum { N = 37 };
    float av[N], bv[N], ov[N];
    sc_device_t *devs[2] = {dev, sc_registry_find_device(reg, "cpu")};
    sc_ctx_t *ctx = sc_ctx_create(16);
    sc_tensor *in[2], *o;
    sc_buffer_t *buf = NULL;
    sc_graph_t *g = sc_graph_create(16);
    sc_sched_t *s = NULL;
    sc_device_t *ran;

    assert_non_null(ctx);
    assert_non_null(g);
    in[0] = sc_new_tensor_1d(ctx, SC_TYPE_F32, N);
    in[1] = sc_new_tensor_1d(ctx, SC_TYPE_F32, N);
    assert_int_equal(sc_alloc_tensors(dev, in, 2, &buf), SC_OK);
    for (int i = 0; i < N; i++) {
        av[i] = (float)i * 0.25f - 3.0f;
        bv[i] = 1.5f - (float)(i % 7);
    }
    assert_int_equal(sc_tensor_set(in[0], av, 0, sizeof(av)), SC_OK);
    assert_int_equal(sc_tensor_set(in[1], bv, 0, sizeof(bv)), SC_OK);
    o = sc_add(ctx, in[0], in[1]);
    assert_int_equal(sc_ctx_error(ctx), SC_OK);
    assert_int_equal(sc_graph_expand(g, o), SC_OK);
    assert_int_equal(sc_sched_create(devs, dev == devs[1] ? 1 : 2, &s), SC_OK);
    assert_int_equal(sc_sched_compute(s, g), SC_OK);
    ran = sc_sched_node_device(s, o);
    assert_int_equal(sc_tensor_get(o, ov, 0, sizeof(ov)), SC_OK);
    for (int i = 0; i < N; i++)
        assert_float_equal(ov[i], av[i] + bv[i], 0.0f);
    sc_sched_destroy(s);
    sc_graph_destroy(g);
    sc_buffer_destroy(buf);
    sc_ctx_destroy(ctx);
    return ran;
}

/* After any plugin failure the registry must still serve the CPU. */
static void assert_cpu_usable(sc_registry_t *reg) {
    sc_device_t *cpu = sc_registry_find_device(reg, "cpu");
    assert_non_null(cpu);
    assert_string_equal(sc_device_backend_name(cpu), "cpu");
    assert_ptr_equal(run_add(reg, cpu), cpu);
}

/* Load one variant into a fresh registry and check its record exactly. */
static sc_registry_t *expect_load(const char *variant, sc_plugin_status status, int error, const char *reason) {
    char path[1024];
    sc_registry_t *reg = bare_registry();
    const sc_plugin_record *r;
    int rc;

    plugin_path(path, sizeof(path), variant);
    rc = sc_registry_load(reg, path);
    assert_int_equal(sc_registry_plugin_count(reg), 2);
    r = last_record(reg);
    assert_string_equal(r->path, path);
    assert_int_equal(r->status, status);
    assert_int_equal(r->error, error);
    assert_int_equal(rc, status == SC_PLUGIN_REJECTED ? error : SC_OK);
    if (!strstr(r->reason, reason))
        fail_msg("reason of %s is \"%s\", expected it to contain \"%s\"", variant, r->reason, reason);
    if (status == SC_PLUGIN_REJECTED) {
        /* logged as a warning naming the file and the reason */
        char line[2048];
        snprintf(line, sizeof(line), "plugins: %s: %s", path, r->reason);
        assert_int_equal(count_lines(line), 1);
    }
    if (status != SC_PLUGIN_LOADED)
        assert_int_equal(r->n_devices, 0);
    return reg;
}

/* Destroy the registry and check how often the plugin's shutdown ran. */
static void finish(sc_registry_t *reg, const char *variant, int shutdowns) {
    assert_cpu_usable(reg);
    sc_registry_destroy(reg);
    assert_int_equal(marks(variant, "shutdown"), shutdowns);
    assert_int_equal(marks(variant, "shutdown with a foreign ctx"), 0);
    sc_log_set_sink(NULL, NULL);
}

static void test_good(void **state) {
    sc_registry_t *reg = expect_load("good", SC_PLUGIN_LOADED, SC_OK, "");
    const sc_plugin_record *r = last_record(reg);
    sc_device_t *g0 = sc_registry_find_device(reg, "good0");

    assert_int_equal(r->abi_minor, SC_ABI_MINOR);
    assert_int_equal(r->n_devices, 2);
    assert_int_equal(sc_registry_device_count(reg), 3);
    assert_non_null(g0);
    assert_non_null(sc_registry_find_device(reg, "good1"));
    assert_null(sc_registry_find_device(reg, "good2"));
    /* a backend name means its first device; auto means the best score */
    assert_ptr_equal(sc_registry_find_device(reg, "good"), g0);
    assert_ptr_equal(sc_registry_pick(reg, "auto"), g0);
    assert_ptr_equal(sc_registry_pick(reg, NULL), g0);
    assert_ptr_equal(sc_registry_pick(reg, "cpu"), sc_registry_find_device(reg, "cpu"));
    assert_null(sc_registry_pick(reg, "vulkan"));
    assert_int_equal(marks("good", INIT_MARK), 1);
    assert_ptr_equal(run_add(reg, g0), g0);
    finish(reg, "good", 1);
}

static void test_wrong_major(void **state) {
    sc_registry_t *reg = expect_load("wrong_major", SC_PLUGIN_REJECTED, SC_EABI, "ABI major 2, core speaks 1");
    assert_int_equal(last_record(reg)->desc.abi_major, 2);
    assert_int_equal(marks("wrong_major", "init"), 0);
    finish(reg, "wrong_major", 0);
}

static void test_minor_too_high(void **state) {
    sc_registry_t *reg = expect_load("minor_too_high", SC_PLUGIN_REJECTED, SC_EABI, TOO_HIGH_REASON);
    assert_int_equal(marks("minor_too_high", "init"), 0);
    finish(reg, "minor_too_high", 0);
}

static void test_short_table(void **state) {
    sc_registry_t *reg = expect_load("short_table", SC_PLUGIN_REJECTED, SC_EABI,
                                     "required member supports_op lies past struct_size");
    /* init succeeded, so the plugin gets its shutdown before dlclose */
    assert_int_equal(marks("short_table", "init"), 1);
    assert_int_equal(marks("short_table", "shutdown"), 1);
    finish(reg, "short_table", 1);
}

static void test_required_null(void **state) {
    sc_registry_t *reg = expect_load("required_null", SC_PLUGIN_REJECTED, SC_EABI,
                                     "required member graph_compute is NULL");
    finish(reg, "required_null", 1);
}

static void test_null_optional(void **state) {
    sc_registry_t *reg = expect_load("null_optional", SC_PLUGIN_LOADED, SC_OK, "");
    sc_device_t *d = sc_registry_find_device(reg, "null_optional");
    sc_buffer_t *buf = NULL;
    sc_tensor t;
    float in[8] = {1, 2, 3, 4, 5, 6, 7, 8}, out[8];

    assert_non_null(d);
    /* each missing optional is reported once, as degraded */
    assert_int_equal(count_lines("null_optional: degraded: no buffer_host_ptr"), 1);
    assert_int_equal(count_lines("null_optional: degraded: no buffer_clear"), 1);
    assert_int_equal(count_lines("null_optional: degraded: no offload_op"), 1);
    assert_int_equal(count_lines("null_optional: degraded: no stream_sync"), 1);

    /* buffers work without a host pointer: set/get go through write/read */
    assert_int_equal(sc_buffer_create(d, 256, &buf), SC_OK);
    assert_null(sc_buffer_host_ptr(buf));
    assert_int_equal(sc_buffer_alignment(buf), 32);
    memset(&t, 0, sizeof(t));
    t.type = SC_TYPE_F32;
    t.ne[0] = 8, t.ne[1] = t.ne[2] = t.ne[3] = 1;
    t.nb[0] = 4, t.nb[1] = t.nb[2] = t.nb[3] = 32;
    assert_int_equal(sc_tensor_alloc(buf, &t, 64), SC_OK);
    assert_int_equal(sc_tensor_set(&t, in, 0, sizeof(in)), SC_OK);
    assert_int_equal(sc_tensor_get(&t, out, 0, sizeof(out)), SC_OK);
    assert_memory_equal(in, out, sizeof(in));
    sc_buffer_destroy(buf);

    /* a graph runs on it, and offload_op is simply "no" */
    assert_false(sc_device_offload_op(d, &t));
    assert_ptr_equal(run_add(reg, d), d);
    assert_int_equal(marks("null_optional", "offload_op called"), 0);
    assert_int_equal(marks("null_optional", "stream_sync called"), 0);
    finish(reg, "null_optional", 1);
    /* the members past struct_size were never called, not even at teardown */
    assert_int_equal(marks("null_optional", "stream_sync called"), 0);
}

static void test_init_fail(void **state) {
    sc_registry_t *reg = expect_load("init_fail", SC_PLUGIN_REJECTED, SC_EPLUGIN, "init failed: out of memory");
    assert_int_equal(marks("init_fail", "init"), 1);
    /* a failed init fires no callbacks, even with *iface filled in */
    finish(reg, "init_fail", 0);
}

static void test_missing_symbol(void **state) {
    sc_registry_t *reg = expect_load("missing_symbol", SC_PLUGIN_REJECTED, SC_EPLUGIN,
                                     "missing symbol strixcore_plugin_init");
    /* nothing of the plugin ran: not even the probe */
    assert_int_equal(last_record(reg)->desc.struct_size, 0);
    finish(reg, "missing_symbol", 0);
}

static void test_probe_fail(void **state) {
    sc_registry_t *reg = expect_load("probe_fail", SC_PLUGIN_REJECTED, SC_EPLUGIN, "probe failed: input/output error");
    assert_int_equal(marks("probe_fail", "init"), 0);
    finish(reg, "probe_fail", 0);
}

static void test_score_zero(void **state) {
    sc_registry_t *reg = expect_load("score_zero", SC_PLUGIN_UNUSABLE, SC_OK, "no abi-test device on this machine");
    assert_string_equal(last_record(reg)->reason, "no abi-test device on this machine");
    assert_int_equal(marks("score_zero", "init"), 0);
    assert_int_equal(sc_registry_device_count(reg), 1);
    finish(reg, "score_zero", 0);
}

static void test_bad_kind(void **state) {
    sc_registry_t *reg = expect_load("bad_kind", SC_PLUGIN_REJECTED, SC_EABI, "unknown plugin kind 42");
    assert_int_equal(marks("bad_kind", "init"), 0);
    finish(reg, "bad_kind", 0);
}

static void test_null_iface(void **state) {
    sc_registry_t *reg = expect_load("null_iface", SC_PLUGIN_REJECTED, SC_EABI, "init returned a NULL plugin table");
    finish(reg, "null_iface", 0);
}

static void test_kind_mismatch(void **state) {
    sc_registry_t *reg = expect_load("kind_mismatch", SC_PLUGIN_REJECTED, SC_EABI,
                                     "plugin table kind 2 differs from the probed kind 1");
    finish(reg, "kind_mismatch", 1);
}

static void test_no_devices(void **state) {
    sc_registry_t *reg = expect_load("no_devices", SC_PLUGIN_UNUSABLE, SC_ENOENT, "no devices (device_count returned 0)");
    assert_int_equal(sc_registry_device_count(reg), 1);
    finish(reg, "no_devices", 1);
}

static void test_garbage_strings(void **state) {
    char g31[32], v31[32], d127[128], r255[256];
    sc_registry_t *reg = expect_load("garbage_strings", SC_PLUGIN_LOADED, SC_OK, "");
    const sc_plugin_record *r = last_record(reg);

    memset(g31, 'G', 31), g31[31] = '\0';
    memset(v31, 'V', 31), v31[31] = '\0';
    memset(d127, 'D', 127), d127[127] = '\0';
    memset(r255, 'R', 255), r255[255] = '\0';
    /* every array cut to a C string, the last byte sacrificed */
    assert_string_equal(r->desc.name, g31);
    assert_string_equal(r->desc.version, v31);
    assert_string_equal(r->desc.description, d127);
    assert_string_equal(r->desc.reason, r255);
    assert_int_equal(count_lines("left strings unterminated"), 1);
    assert_non_null(sc_registry_find_device(reg, g31));
    finish(reg, "garbage_strings", 1);
}

static void test_not_a_plugin(void **state) {
    sc_registry_t *reg = expect_load("not_a_plugin", SC_PLUGIN_REJECTED, SC_EPLUGIN, "cannot load: ");
    finish(reg, "not_a_plugin", 0);
}

static void test_duplicate_name(void **state) {
    char path[1024];
    sc_registry_t *reg = expect_load("good", SC_PLUGIN_LOADED, SC_OK, "");
    const sc_plugin_record *r;

    plugin_path(path, sizeof(path), "good_copy");
    assert_int_equal(sc_registry_load(reg, path), SC_EINVAL);
    r = last_record(reg);
    assert_int_equal(r->status, SC_PLUGIN_REJECTED);
    assert_non_null(strstr(r->reason, "duplicate plugin name \"good\""));
    assert_int_equal(marks("good_copy", "init"), 0);
    /* the first one keeps its devices */
    assert_int_equal(sc_registry_device_count(reg), 3);
    /* the same file twice is one load, and gives the first outcome again */
    assert_int_equal(sc_registry_load(reg, path), SC_EINVAL);
    plugin_path(path, sizeof(path), "good");
    assert_int_equal(sc_registry_load(reg, path), SC_OK);
    snprintf(path, sizeof(path), "%s/../plugins/./good.so", SC_ABI_PLUGIN_DIR);
    assert_int_equal(sc_registry_load(reg, path), SC_OK);
    assert_int_equal(sc_registry_plugin_count(reg), 3);
    assert_int_equal(marks("good", "init"), 1);
    finish(reg, "good", 1);
}

/* ---- format plugins (ABI minor >= 1) ---- */

#define TESTQ_JSON "{\"quant_method\":\"testq\",\"bits\":4}"
#define GPTQ_JSON  "{\"quant_method\":\"gptq\",\"bits\":4,\"group_size\":128}"

/* A rejected format plugin contributes no devices and no format table. */
static void assert_no_format(sc_registry_t *reg) {
    char methods[256];
    assert_int_equal(sc_registry_device_count(reg), 1);
    assert_null(sc__registry_format_for(reg, TESTQ_JSON, methods, sizeof(methods)));
    assert_string_equal(methods, "");
}

static void test_fmt_good(void **state) {
    sc_registry_t *reg = expect_load("fmt_good", SC_PLUGIN_LOADED, SC_OK, "");
    const sc_plugin_record *r = last_record(reg);
    const sc_plugin_entry *pe;
    sc_qformat *f = NULL;
    sc_linear_desc d;
    sc_tensor layout;
    char methods[256], err[512] = "";
    unsigned char slab[64];

    assert_int_equal(r->desc.kind, SC_PLUGIN_FORMAT);
    assert_int_equal(r->abi_minor, SC_ABI_MINOR);
    assert_int_equal(marks("fmt_good", INIT_MARK), 1);
    /* a format plugin brings no devices, and no "degraded" backend notes */
    assert_int_equal(r->n_devices, 0);
    assert_int_equal(sc_registry_device_count(reg), 1);
    assert_int_equal(count_lines("fmt_good: degraded"), 0);

    /* detect claims "testq" and declines anything else */
    pe = sc__registry_format_for(reg, TESTQ_JSON, methods, sizeof(methods));
    assert_non_null(pe);
    assert_string_equal(pe->rec.desc.name, "fmt_good");
    assert_string_equal(methods, "testq");
    assert_null(sc__registry_format_for(reg, GPTQ_JSON, methods, sizeof(methods)));

    /* open / linear_info / linear_convert / close through qformat.c; the toy
     * never reads tensors, so no checkpoint is needed */
    assert_int_equal(sc__qformat_open(reg, TESTQ_JSON, NULL, &f, err, sizeof(err)), SC_OK);
    assert_non_null(f);
    assert_ptr_equal(f->pe, pe);
    assert_int_equal(marks("fmt_good", "format open"), 1);
    assert_int_equal(count_lines("model: quantized checkpoint: format plugin fmt_good"), 1);

    assert_int_equal(sc__qformat_info(f, "model.layers.0.mlp.down_proj", &d, err, sizeof(err)), SC_OK);
    assert_int_equal(d.struct_size, sizeof(d));
    assert_int_equal(d.quantized, 1);
    assert_int_equal(d.bits, 4);
    assert_int_equal(d.group_size, 32);
    assert_int_equal(d.K, 64);
    assert_int_equal(d.N, 8);
    assert_int_equal(sc__qformat_info(f, "model.dense", &d, err, sizeof(err)), SC_OK);
    assert_int_equal(d.quantized, 0);
    assert_int_equal(d.bits, 0);

    /* the plugin's error code and message come back unchanged */
    memset(&layout, 0, sizeof(layout));
    err[0] = '\0';
    assert_int_equal(sc__qformat_convert(f, "model.layers.0.mlp.down_proj", slab, sizeof(slab), &layout, err,
                                         sizeof(err)),
                     SC_ENOTSUP);
    assert_string_equal(err, "testq: linear_convert is not implemented");

    sc__qformat_close(f);
    assert_int_equal(marks("fmt_good", "format close"), 1);
    assert_int_equal(marks("fmt_good", "shutdown"), 0); /* only at registry teardown */
    finish(reg, "fmt_good", 1);
}

static void test_fmt_short_table(void **state) {
    sc_registry_t *reg = expect_load("fmt_short_table", SC_PLUGIN_REJECTED, SC_EABI,
                                     "short format table: required member linear_convert lies past struct_size");
    assert_int_equal(marks("fmt_short_table", INIT_MARK), 1);
    /* init succeeded: shutdown runs once, before dlclose */
    assert_int_equal(marks("fmt_short_table", "shutdown"), 1);
    assert_no_format(reg);
    finish(reg, "fmt_short_table", 1);
}

static void test_fmt_null_member(void **state) {
    sc_registry_t *reg = expect_load("fmt_null_member", SC_PLUGIN_REJECTED, SC_EABI,
                                     "format table: required member linear_info is NULL");
    assert_int_equal(marks("fmt_null_member", "shutdown"), 1);
    assert_no_format(reg);
    finish(reg, "fmt_null_member", 1);
}

static void test_fmt_minor0(void **state) {
    sc_registry_t *reg = expect_load("fmt_minor0", SC_PLUGIN_REJECTED, SC_EABI,
                                     "format plugins need ABI minor >= 1 (agreed 0)");
    const sc_plugin_record *r = last_record(reg);
    assert_int_equal(r->abi_minor, 0);
    assert_int_equal(r->desc.kind, SC_PLUGIN_FORMAT);
    /* the minor is agreed at probe time, the table checked after init */
    assert_int_equal(marks("fmt_minor0", "init (minor 0)"), 1);
    assert_int_equal(marks("fmt_minor0", "shutdown"), 1);
    assert_no_format(reg);
    finish(reg, "fmt_minor0", 1);
}

static void test_fmt_init_fail(void **state) {
    sc_registry_t *reg = expect_load("fmt_init_fail", SC_PLUGIN_REJECTED, SC_EPLUGIN, "init failed: out of memory");
    assert_int_equal(marks("fmt_init_fail", INIT_MARK), 1);
    /* a failed init fires no callbacks, even with *iface filled in */
    assert_no_format(reg);
    finish(reg, "fmt_init_fail", 0);
}

static void test_fmt_unknown_method(void **state) {
    char path[1024], err[512];
    sc_registry_t *reg = expect_load("good", SC_PLUGIN_LOADED, SC_OK, "");
    sc_qformat *f = (sc_qformat *)&f; /* must be reset to NULL on failure */

    /* no format plugin at all */
    assert_int_equal(sc__qformat_open(reg, GPTQ_JSON, NULL, &f, err, sizeof(err)), SC_ENOTSUP);
    assert_null(f);
    assert_string_equal(err, "quant_method \"gptq\" is not supported (supported: none: no format plugin is loaded)");
    finish(reg, "good", 1);

    /* fmt_good loaded, a rejected format plugin next to it: only loaded ones count */
    reg = expect_load("fmt_good", SC_PLUGIN_LOADED, SC_OK, "");
    plugin_path(path, sizeof(path), "fmt_null_member");
    assert_int_equal(sc_registry_load(reg, path), SC_EABI);
    f = (sc_qformat *)&f;
    assert_int_equal(sc__qformat_open(reg, GPTQ_JSON, NULL, &f, err, sizeof(err)), SC_ENOTSUP);
    assert_null(f);
    assert_string_equal(err, "quant_method \"gptq\" is not supported (supported: testq)");
    /* a config without quant_method */
    assert_int_equal(sc__qformat_open(reg, "{\"bits\":4}", NULL, &f, err, sizeof(err)), SC_ENOTSUP);
    assert_string_equal(err, "quant_method \"(none)\" is not supported (supported: testq)");
    /* nothing was opened */
    assert_int_equal(marks("fmt_good", "format open"), 0);
    /* and the supported one still opens */
    assert_int_equal(sc__qformat_open(reg, TESTQ_JSON, NULL, &f, err, sizeof(err)), SC_OK);
    sc__qformat_close(f);
    assert_int_equal(marks("fmt_good", "format close"), 1);
    finish(reg, "fmt_good", 1);
    assert_int_equal(marks("fmt_null_member", "shutdown"), 1);
}

/* What a directory scan must record, in file-name order. */
static const struct {
    const char *file;
    sc_plugin_status status;
} scan_expect[] = {
    {"bad_kind", SC_PLUGIN_REJECTED},       {"fmt_good", SC_PLUGIN_LOADED},
    {"fmt_init_fail", SC_PLUGIN_REJECTED},  {"fmt_minor0", SC_PLUGIN_REJECTED},
    {"fmt_null_member", SC_PLUGIN_REJECTED}, {"fmt_short_table", SC_PLUGIN_REJECTED},
    {"garbage_strings", SC_PLUGIN_LOADED},
    {"good", SC_PLUGIN_LOADED},             {"good_copy", SC_PLUGIN_REJECTED},
    {"init_fail", SC_PLUGIN_REJECTED},      {"kind_mismatch", SC_PLUGIN_REJECTED},
    {"minor_too_high", SC_PLUGIN_REJECTED}, {"missing_symbol", SC_PLUGIN_REJECTED},
    {"no_devices", SC_PLUGIN_UNUSABLE},     {"not_a_plugin", SC_PLUGIN_REJECTED},
    {"null_iface", SC_PLUGIN_REJECTED},     {"null_optional", SC_PLUGIN_LOADED},
    {"probe_fail", SC_PLUGIN_REJECTED},     {"required_null", SC_PLUGIN_REJECTED},
    {"score_zero", SC_PLUGIN_UNUSABLE},     {"short_table", SC_PLUGIN_REJECTED},
    {"wrong_major", SC_PLUGIN_REJECTED},
};

static void test_scan(void **state) {
    /* the same directory twice, once through a trailing slash */
    const char *paths[] = {SC_ABI_PLUGIN_DIR, SC_ABI_PLUGIN_DIR "/", NULL};
    sc_registry_opts o = {.struct_size = sizeof(o), .search_paths = paths, .no_env = true, .no_default_paths = true};
    const size_t n = sizeof(scan_expect) / sizeof(scan_expect[0]);
    sc_registry_t *reg = NULL;
    const sc_plugin_record *garbage = NULL;
    char methods[256];

    g_n_lines = 0;
    sc_log_set_level(SC_LOG_INFO);
    sc_log_set_sink(capture, NULL);
    assert_int_equal(sc_registry_create(&o, &reg), SC_OK);
    /* built-in first, then every *.so once (README.txt is not a plugin) */
    assert_int_equal(sc_registry_plugin_count(reg), (int)n + 1);
    assert_string_equal(sc_registry_plugin(reg, 0)->path, "(built-in)");
    assert_string_equal(sc_registry_plugin(reg, 0)->desc.name, "cpu");
    for (size_t i = 0; i < n; i++) {
        char path[1024];
        const sc_plugin_record *r = sc_registry_plugin(reg, (int)i + 1);
        plugin_path(path, sizeof(path), scan_expect[i].file);
        assert_string_equal(r->path, path);
        if (r->status != scan_expect[i].status)
            fail_msg("%s: status %d, expected %d (%s)", scan_expect[i].file, r->status, scan_expect[i].status,
                     r->reason);
        if (strcmp(scan_expect[i].file, "garbage_strings") == 0)
            garbage = r;
    }
    /* cpu + good0 + good1 + garbage + null_optional (format plugins add none) */
    assert_int_equal(sc_registry_device_count(reg), 5);
    /* score ties go to the first device found: garbage_strings sorts first */
    assert_non_null(garbage);
    assert_ptr_equal(sc_registry_pick(reg, "auto"), sc_registry_device(reg, 1));
    assert_string_equal(sc_device_backend_name(sc_registry_device(reg, 1)), garbage->desc.name);
    /* the one loaded format plugin is the one offered */
    assert_non_null(sc__registry_format_for(reg, TESTQ_JSON, methods, sizeof(methods)));
    assert_string_equal(methods, "testq");
    finish(reg, "good", 1);
    assert_int_equal(marks("fmt_good", "shutdown"), 1);
    assert_int_equal(marks("fmt_init_fail", "shutdown"), 0);
    assert_int_equal(marks("fmt_short_table", "shutdown"), 1);
    assert_int_equal(marks("fmt_null_member", "shutdown"), 1);
    assert_int_equal(marks("fmt_minor0", "shutdown"), 1);
    assert_int_equal(marks("init_fail", "shutdown"), 0);
    assert_int_equal(marks("short_table", "shutdown"), 1);
    assert_int_equal(marks("null_optional", "shutdown"), 1);
}

static void test_env_path(void **state) {
    char env[2048];
    sc_registry_opts o = {.struct_size = sizeof(o), .no_default_paths = true};
    sc_registry_t *reg = NULL;

    snprintf(env, sizeof(env), "/nonexistent/strixcore-plugins::%s/good.so:%s/README.txt", SC_ABI_PLUGIN_DIR,
             SC_ABI_PLUGIN_DIR);
    setenv("STRIXCORE_PLUGIN_PATH", env, 1);
    g_n_lines = 0;
    sc_log_set_level(SC_LOG_INFO);
    sc_log_set_sink(capture, NULL);
    assert_int_equal(sc_registry_create(&o, &reg), SC_OK);
    assert_int_equal(sc_registry_plugin_count(reg), 2);
    assert_int_equal(sc_registry_plugin(reg, 1)->status, SC_PLUGIN_LOADED);
    assert_int_equal(count_lines("/nonexistent/strixcore-plugins: STRIXCORE_PLUGIN_PATH entry skipped"), 1);
    assert_int_equal(count_lines("README.txt: STRIXCORE_PLUGIN_PATH entry skipped: not a directory or a .so file"), 1);
    finish(reg, "good", 1);

    /* no_env ignores it */
    o.no_env = true;
    assert_int_equal(sc_registry_create(&o, &reg), SC_OK);
    assert_int_equal(sc_registry_plugin_count(reg), 1);
    sc_registry_destroy(reg);
    unsetenv("STRIXCORE_PLUGIN_PATH");
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),          cmocka_unit_test(test_wrong_major),
        cmocka_unit_test(test_minor_too_high), cmocka_unit_test(test_short_table),
        cmocka_unit_test(test_required_null), cmocka_unit_test(test_null_optional),
        cmocka_unit_test(test_init_fail),     cmocka_unit_test(test_missing_symbol),
        cmocka_unit_test(test_probe_fail),    cmocka_unit_test(test_score_zero),
        cmocka_unit_test(test_bad_kind),      cmocka_unit_test(test_null_iface),
        cmocka_unit_test(test_kind_mismatch), cmocka_unit_test(test_no_devices),
        cmocka_unit_test(test_garbage_strings), cmocka_unit_test(test_not_a_plugin),
        cmocka_unit_test(test_duplicate_name), cmocka_unit_test(test_scan),
        cmocka_unit_test(test_env_path),
        cmocka_unit_test(test_fmt_good),      cmocka_unit_test(test_fmt_short_table),
        cmocka_unit_test(test_fmt_null_member), cmocka_unit_test(test_fmt_minor0),
        cmocka_unit_test(test_fmt_init_fail), cmocka_unit_test(test_fmt_unknown_method),
    };
    if (argc > 1) {
        /* A filter that matches nothing would pass silently: refuse it. */
        bool known = false;
        for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
            known |= strcmp(tests[i].name, argv[1]) == 0;
        if (!known) {
            fprintf(stderr, "test_abi: no test named %s\n", argv[1]);
            return 1;
        }
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

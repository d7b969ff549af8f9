/*
 * tests/tune/tune_plugin.c - a backend made to test the tuner: host memory,
 * MUL_MAT of f32 weights only, four variants of it.
 *
 *   w f32 [K, N], x f32 [K, M] -> y f32 [N, M]
 *
 *   "rows"    the default: one dot product per output
 *   "twice"   correct and slower: every dot product computed twice
 *   "zeros"   wrong and the fastest: writes zeros (the check must see nmse 1)
 *   "half"    wrong and fast: only the even rows (the others keep whatever the
 *             buffer held: the tuner's NaN fill must catch that)
 *
 * Keys: "mm.f32:N=<N>,K=<K>,M=<bucket>". TUNETEST_VARIANTS=a,b,... lists only
 * those variants (the default stays "rows"). tunetest_runs() counts the runs
 * of each variant, so tests see which one a graph used.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc_tune_table.h"
#include "strixcore/plugin.h"

static const sc_host_api *host;
static sc_tune_table table;
static int dummy_dev;

static const char *const names[] = {"rows", "twice", "zeros", "half"};
enum { N_VARIANTS = 4 };
static long runs[N_VARIANTS];

/* for tests: runs of variant `name` so far (dlsym'd) */
SC_PLUGIN_EXPORT long tunetest_runs(const char *name) {
    for (int i = 0; i < N_VARIANTS; i++)
        if (!strcmp(names[i], name)) return runs[i];
    return -1;
}

static int tt_device_count(void *ctx) { return 1; }
static int tt_device_props(void *ctx, int index, sc_device_props *p) {
    if (index != 0) return SC_EINVAL;
    snprintf(p->name, sizeof p->name, "tunetest");
    snprintf(p->description, sizeof p->description, "Tuner Test Device (host)");
    p->type = SC_DEVICE_ACCEL;
    p->n_buffer_types = 1;
    if (SC_HAS_FIELD(p, sc_device_props, driver)) snprintf(p->driver, sizeof p->driver, "%s",
                                                          getenv("TUNETEST_DRIVER") ? getenv("TUNETEST_DRIVER") : "tt 1.0");
    return SC_OK;
}
static int tt_device_open(void *ctx, int index, void **dev) {
    *dev = &dummy_dev;
    return index == 0 ? SC_OK : SC_EINVAL;
}
static void tt_device_close(void *dev) {}
static int tt_buffer_type_props(void *dev, int buft, sc_buffer_type_props *p) {
    snprintf(p->name, sizeof p->name, "host");
    p->alignment = 64;
    p->host_visible = true;
    return buft == 0 ? SC_OK : SC_EINVAL;
}
static int tt_buffer_alloc(void *dev, int buft, size_t size, void **buf, void **base) {
    void *m = host->aligned_alloc(64, (size + 63) / 64 * 64);
    if (!m) return SC_ENOMEM;
    *buf = *base = m;
    return SC_OK;
}
static void tt_buffer_free(void *dev, void *buf) { host->aligned_free(buf); }
static int tt_buffer_write(void *dev, void *buf, size_t off, const void *src, size_t n) {
    memcpy((char *)buf + off, src, n);
    return SC_OK;
}
static int tt_buffer_read(void *dev, void *buf, size_t off, void *dst, size_t n) {
    memcpy(dst, (const char *)buf + off, n);
    return SC_OK;
}
static void *tt_buffer_host_ptr(void *dev, void *buf) { return buf; }

static bool f32c(const sc_tensor *t) { return t && t->type == SC_TYPE_F32 && host->tensor_is_contiguous(t); }
static bool tt_supports_op(void *dev, const sc_tensor *n) {
    if (n->op == SC_OP_NONE || n->op == SC_OP_VIEW) return true;
    return n->op == SC_OP_MUL_MAT && f32c(n) && f32c(n->src[0]) && f32c(n->src[1]) && n->src[0]->ne[2] == 1 &&
           n->src[1]->ne[2] == 1 && n->src[0]->ne[3] == 1 && n->src[1]->ne[3] == 1;
}

static bool listed(const char *name) {
    const char *only = getenv("TUNETEST_VARIANTS");
    if (!only || !strcmp(name, "rows")) return true;
    const size_t n = strlen(name);
    for (const char *p = only; (p = strstr(p, name)); p += n)
        if ((p == only || p[-1] == ',') && (p[n] == ',' || !p[n])) return true;
    return false;
}

static void node_key(const sc_tensor *n, char *key) {
    sc_tune_key(key, "mm.f32:N=%lld,K=%lld,M=%lld", (long long)n->src[0]->ne[1], (long long)n->src[0]->ne[0],
                (long long)sc_tune_bucket(n->src[1]->ne[1]));
}

static int tt_tune_query(void *dev, const sc_tensor *n, sc_tune_info *info) {
    if (n->op != SC_OP_MUL_MAT || !tt_supports_op(dev, n)) return SC_ENOTSUP;
    char key[SC_TUNE_KEY_LEN], chosen[SC_TUNE_NAME_LEN];
    node_key(n, key);
    sc_tune_info_begin(info, key);
    for (int i = 0; i < N_VARIANTS; i++)
        if (listed(names[i])) sc_tune_info_add(info, names[i]);
    return sc_tune_info_finish(info, 0, sc_tune_table_get(&table, key, chosen) ? chosen : NULL);
}

static int tt_tune_set(void *dev, const char *key, const char *variant) {
    if (strncmp(key, "mm.f32:", 7) != 0) return SC_ENOENT;
    if (variant) {
        bool known = false;
        for (int i = 0; i < N_VARIANTS; i++) known |= !strcmp(names[i], variant);
        if (!known) return SC_ENOENT;
    }
    return sc_tune_table_set(&table, key, variant);
}

static float dot(const float *a, const float *b, int64_t K) {
    float s = 0;
    for (int64_t k = 0; k < K; k++) s += a[k] * b[k];
    return s;
}

static void mul_mat(sc_tensor *n, int v) {
    const sc_tensor *w = n->src[0], *x = n->src[1];
    const int64_t K = w->ne[0], N = w->ne[1], M = x->ne[1];
    float *y = n->data;
    runs[v]++;
    for (int64_t m = 0; m < M; m++)
        for (int64_t r = 0; r < N; r++) {
            const float *wr = (const float *)w->data + r * K, *xc = (const float *)x->data + m * K;
            switch (v) {
            case 0: y[m * N + r] = dot(wr, xc, K); break;
            case 1: {
                volatile float a = dot(wr, xc, K);
                y[m * N + r] = dot(wr, xc, K) + 0 * a;
                break;
            }
            case 2: y[m * N + r] = 0; break;
            default:
                if (r % 2 == 0) y[m * N + r] = dot(wr, xc, K);
                break;
            }
        }
}

static int tt_graph_compute(void *stream, sc_tensor *const *nodes, int n_nodes) {
    for (int i = 0; i < n_nodes; i++) {
        sc_tensor *n = nodes[i];
        if (n->op == SC_OP_NONE || n->op == SC_OP_VIEW) continue;
        if (!tt_supports_op(NULL, n)) return SC_ENOTSUP;
        int v = 0;
        if (table.count) {
            char key[SC_TUNE_KEY_LEN], chosen[SC_TUNE_NAME_LEN];
            node_key(n, key);
            if (sc_tune_table_get(&table, key, chosen))
                for (int j = 0; j < N_VARIANTS; j++)
                    if (!strcmp(chosen, names[j]) && listed(names[j])) v = j;
        }
        mul_mat(n, v);
    }
    return SC_OK;
}
static int tt_stream_create(void *dev, void **stream) {
    *stream = dev;
    return SC_OK;
}
static void tt_stream_destroy(void *stream) {}
static int tt_stream_sync(void *stream) { return SC_OK; }

static const sc_backend_iface tt_backend = {
    .struct_size = sizeof(sc_backend_iface),
    .device_count = tt_device_count, .device_props = tt_device_props,
    .device_open = tt_device_open, .device_close = tt_device_close,
    .buffer_type_props = tt_buffer_type_props, .buffer_alloc = tt_buffer_alloc, .buffer_free = tt_buffer_free,
    .buffer_write = tt_buffer_write, .buffer_read = tt_buffer_read, .buffer_host_ptr = tt_buffer_host_ptr,
    .supports_op = tt_supports_op,
    .stream_create = tt_stream_create, .stream_destroy = tt_stream_destroy,
    .graph_compute = tt_graph_compute, .stream_sync = tt_stream_sync,
    .tune_query = tt_tune_query, .tune_set = tt_tune_set,
};

static void tt_shutdown(void *ctx) { sc_tune_table_free(&table); }

static const sc_plugin_iface tt_iface = {
    .struct_size = sizeof(sc_plugin_iface), .kind = SC_PLUGIN_BACKEND, .shutdown = tt_shutdown, .backend = &tt_backend,
};

SC_PLUGIN_EXPORT int strixcore_plugin_probe(const sc_host_api *h, sc_plugin_desc *d) {
    d->abi_major = SC_ABI_MAJOR;
    d->abi_minor = d->abi_minor < SC_ABI_MINOR ? d->abi_minor : SC_ABI_MINOR;
    d->kind = SC_PLUGIN_BACKEND;
    d->score = 1;
    snprintf(d->name, sizeof d->name, "tunetest");
    snprintf(d->version, sizeof d->version, "1.0");
    snprintf(d->description, sizeof d->description, "tuner test backend");
    return SC_OK;
}

SC_PLUGIN_EXPORT int strixcore_plugin_init(const sc_host_api *h, uint32_t minor, const sc_plugin_iface **iface,
                                           void **ctx) {
    host = h;
    sc_tune_table_init(&table);
    memset(runs, 0, sizeof runs);
    *iface = &tt_iface;
    *ctx = NULL;
    return SC_OK;
}

/*
 * tests/abi/plugins/test_plugin.c - one small host-memory backend, compiled
 * once per variant (-DSC_ABI_<VARIANT>, -DSC_ABI_NAME="...") into the
 * plugins tests/abi loads, most of them broken on purpose.
 *
 * Built with only core/include on the include path and linked with nothing
 * from the core: everything goes through the host table, as for a real
 * third-party plugin.
 *
 * Every call the core must never make (shutdown after a failed init, init
 * after a zero score, optional members past struct_size) logs a marker line
 * through host->log under who = "abi-test"; test_abi.c counts them.
 *
 * The fmt_* variants are FORMAT plugins (ABI minor 1) instead: a toy
 * sc_format_iface that claims quant_method "testq", and broken copies of it.
 */
#include <stddef.h>
#include <string.h>

#include <strixcore/plugin.h>

#ifndef SC_ABI_NAME
#error "SC_ABI_NAME must name the variant"
#endif

/* missing_symbol: init is built but not exported. */
#ifdef SC_ABI_MISSING_SYMBOL
#define TP_INIT_EXPORT
#else
#define TP_INIT_EXPORT SC_PLUGIN_EXPORT
#endif

/* fmt_*: a format plugin rather than a backend. */
#if defined(SC_ABI_FMT_GOOD) || defined(SC_ABI_FMT_SHORT_TABLE) || defined(SC_ABI_FMT_NULL_MEMBER) || \
    defined(SC_ABI_FMT_MINOR0) || defined(SC_ABI_FMT_INIT_FAIL)
#define TP_FORMAT 1
#define TP_KIND SC_PLUGIN_FORMAT
#else
#define TP_FORMAT 0
#define TP_KIND SC_PLUGIN_BACKEND
#endif

#define TP_ALIGN 32
/* Some variants leave a member out of the table on purpose. */
#define TP_MAYBE_UNUSED __attribute__((unused))

static const sc_host_api *g_host;
static int g_ctx_token; /* its address is the plugin context */

#define TP_MARK(...) g_host->log(SC_LOG_INFO, "abi-test", __VA_ARGS__)

typedef struct tp_buf {
    void *mem;
    size_t size;
} tp_buf;

static void copy_str(char *dst, size_t n, const char *src) {
    size_t len = strlen(src);
    if (len >= n)
        len = n - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static int tp_device_count(void *ctx) {
#if defined(SC_ABI_NO_DEVICES)
    return 0;
#elif defined(SC_ABI_GOOD)
    return 2;
#else
    return 1;
#endif
}

static int tp_device_props(void *ctx, int index, sc_device_props *p) {
    copy_str(p->name, sizeof(p->name), SC_ABI_NAME);
    copy_str(p->description, sizeof(p->description), "abi test device (host memory)");
    p->type = SC_DEVICE_ACCEL;
    p->memory_total = 1u << 30;
    p->memory_free = 1u << 30;
    p->n_buffer_types = 1;
    return SC_OK;
}

static int tp_devices[2];
static int tp_device_open(void *ctx, int index, void **dev) {
    if (index < 0 || index > 1)
        return SC_EINVAL;
    *dev = &tp_devices[index];
    return SC_OK;
}
static void tp_device_close(void *dev) {}

static int tp_buffer_type_props(void *dev, int buft, sc_buffer_type_props *p) {
    if (buft != 0)
        return SC_EINVAL;
    copy_str(p->name, sizeof(p->name), "host");
    p->alignment = TP_ALIGN;
#ifdef SC_ABI_NULL_OPTIONAL
    p->host_visible = false; /* no buffer_host_ptr: the core must copy */
#else
    p->host_visible = true;
#endif
    return SC_OK;
}

static int tp_buffer_alloc(void *dev, int buft, size_t size, void **buf, void **base) {
    tp_buf *b = g_host->calloc(1, sizeof(*b));
    if (!b)
        return SC_ENOMEM;
    b->mem = g_host->aligned_alloc(TP_ALIGN, size);
    if (!b->mem) {
        g_host->free(b);
        return SC_ENOMEM;
    }
    b->size = size;
    *buf = b;
    *base = b->mem;
    return SC_OK;
}

static void tp_buffer_free(void *dev, void *buf) {
    tp_buf *b = buf;
    g_host->aligned_free(b->mem);
    g_host->free(b);
}

static int tp_buffer_write(void *dev, void *buf, size_t off, const void *src, size_t n) {
    tp_buf *b = buf;
    if (off > b->size || n > b->size - off)
        return SC_ERANGE;
    memcpy((char *)b->mem + off, src, n);
    return SC_OK;
}

static int tp_buffer_read(void *dev, void *buf, size_t off, void *dst, size_t n) {
    tp_buf *b = buf;
    if (off > b->size || n > b->size - off)
        return SC_ERANGE;
    memcpy(dst, (char *)b->mem + off, n);
    return SC_OK;
}

TP_MAYBE_UNUSED static void *tp_buffer_host_ptr(void *dev, void *buf) { return ((tp_buf *)buf)->mem; }

TP_MAYBE_UNUSED static int tp_buffer_clear(void *dev, void *buf, uint8_t value) {
    tp_buf *b = buf;
    memset(b->mem, value, b->size);
    return SC_OK;
}

static bool f32_contig(const sc_tensor *t) {
    return t && t->type == SC_TYPE_F32 && g_host->tensor_is_contiguous(t);
}

/* ADD of two contiguous f32 tensors of the same shape; nothing else. */
static bool tp_supports_op(void *dev, const sc_tensor *n) {
    if (n->op == SC_OP_NONE || n->op == SC_OP_VIEW)
        return true;
    if (n->op != SC_OP_ADD || !f32_contig(n) || !f32_contig(n->src[0]) || !f32_contig(n->src[1]))
        return false;
    for (int d = 0; d < SC_MAX_DIMS; d++)
        if (n->src[0]->ne[d] != n->ne[d] || n->src[1]->ne[d] != n->ne[d])
            return false;
    return true;
}

TP_MAYBE_UNUSED static bool tp_offload_op(void *dev, const sc_tensor *n) {
    TP_MARK("%s: offload_op called", SC_ABI_NAME);
    return false;
}

static int tp_stream_create(void *dev, void **stream) {
    *stream = dev;
    return SC_OK;
}
static void tp_stream_destroy(void *stream) {}

TP_MAYBE_UNUSED static int tp_graph_compute(void *stream, sc_tensor *const *nodes, int n_nodes) {
    for (int i = 0; i < n_nodes; i++) {
        const sc_tensor *n = nodes[i];
        if (n->op == SC_OP_NONE || n->op == SC_OP_VIEW)
            continue;
        if (!tp_supports_op(stream, n))
            return SC_ENOTSUP;
        const float *a = n->src[0]->data, *b = n->src[1]->data;
        float *o = n->data;
        for (int64_t k = 0, ne = g_host->tensor_nelements(n); k < ne; k++)
            o[k] = a[k] + b[k];
    }
    return SC_OK;
}

static int tp_stream_sync(void *stream) {
    TP_MARK("%s: stream_sync called", SC_ABI_NAME);
    return SC_OK;
}

TP_MAYBE_UNUSED static const sc_backend_iface tp_backend = {
#if defined(SC_ABI_SHORT_TABLE)
    /* ends before supports_op: a required member lies past struct_size */
    .struct_size = offsetof(sc_backend_iface, supports_op),
#elif defined(SC_ABI_NULL_OPTIONAL)
    /* stream_sync is set but lies past struct_size: the core must not see it */
    .struct_size = offsetof(sc_backend_iface, stream_sync),
#else
    .struct_size = sizeof(sc_backend_iface),
#endif
    .device_count = tp_device_count,
    .device_props = tp_device_props,
    .device_open = tp_device_open,
    .device_close = tp_device_close,
    .buffer_type_props = tp_buffer_type_props,
    .buffer_alloc = tp_buffer_alloc,
    .buffer_free = tp_buffer_free,
    .buffer_write = tp_buffer_write,
    .buffer_read = tp_buffer_read,
#ifndef SC_ABI_NULL_OPTIONAL
    .buffer_host_ptr = tp_buffer_host_ptr,
    .buffer_clear = tp_buffer_clear,
    .offload_op = tp_offload_op,
#endif
    .supports_op = tp_supports_op,
    .stream_create = tp_stream_create,
    .stream_destroy = tp_stream_destroy,
#ifndef SC_ABI_REQUIRED_NULL
    .graph_compute = tp_graph_compute,
#endif
    .stream_sync = tp_stream_sync,
};

#if TP_FORMAT
/* ---- the format table: quant_method "testq", one fixed 4-bit layout ---- */

typedef struct tp_fmt {
    const sc_ckpt_reader *reader;
} tp_fmt;

/* Claims any config whose quant_method is "testq" (the JSON is compact or
 * spaced; a substring test is all a toy needs). */
static int tp_detect(void *ctx, const char *json, int *score) {
    *score = json && strstr(json, "\"testq\"") ? 50 : 0;
    return SC_OK;
}

static int tp_open(void *ctx, const char *json, const sc_ckpt_reader *reader, void **handle, char *err,
                   size_t err_len) {
    tp_fmt *f;
    if (ctx != &g_ctx_token) {
        copy_str(err, err_len, "open with a foreign ctx");
        return SC_EINVAL;
    }
    f = g_host->calloc(1, sizeof(*f));
    if (!f)
        return SC_ENOMEM;
    f->reader = reader;
    *handle = f;
    TP_MARK("%s: format open", SC_ABI_NAME);
    return SC_OK;
}

/* "*.dense" modules are dense; every other one is 4-bit, groups of 32. */
TP_MAYBE_UNUSED static int tp_linear_info(void *handle, const char *module, sc_linear_desc *d, char *err,
                                          size_t err_len) {
    size_t n = strlen(module);
    if (n >= 6 && strcmp(module + n - 6, ".dense") == 0)
        return SC_OK; /* quantized stays 0 */
    d->quantized = 1;
    d->bits = 4;
    d->group_size = 32;
    d->K = 64;
    d->N = 8;
    return SC_OK;
}

TP_MAYBE_UNUSED static int tp_linear_convert(void *handle, const char *module, void *dst, size_t dst_size,
                                             const sc_tensor *layout, char *err, size_t err_len) {
    copy_str(err, err_len, "testq: linear_convert is not implemented");
    return SC_ENOTSUP;
}

static void tp_close(void *handle) {
    g_host->free(handle);
    TP_MARK("%s: format close", SC_ABI_NAME);
}

static const sc_format_iface tp_format = {
#if defined(SC_ABI_FMT_SHORT_TABLE)
    /* ends before linear_convert: a required member lies past struct_size */
    .struct_size = offsetof(sc_format_iface, linear_convert),
#else
    .struct_size = sizeof(sc_format_iface),
#endif
    .detect = tp_detect,
    .open = tp_open,
#ifndef SC_ABI_FMT_NULL_MEMBER
    .linear_info = tp_linear_info,
#endif
    .linear_convert = tp_linear_convert,
    .close = tp_close,
    .methods = "testq",
};
#endif /* TP_FORMAT */

static void tp_shutdown(void *ctx) {
    if (ctx == &g_ctx_token)
        TP_MARK("%s: shutdown", SC_ABI_NAME);
    else
        TP_MARK("%s: shutdown with a foreign ctx", SC_ABI_NAME);
}

TP_MAYBE_UNUSED static const sc_plugin_iface tp_iface = {
    .struct_size = sizeof(sc_plugin_iface),
#ifdef SC_ABI_KIND_MISMATCH
    .kind = SC_PLUGIN_FORMAT,
#else
    .kind = TP_KIND,
#endif
    .shutdown = tp_shutdown,
#if TP_FORMAT
    .format = &tp_format,
#else
    .backend = &tp_backend,
#endif
};

SC_PLUGIN_EXPORT int strixcore_plugin_probe(const sc_host_api *host, sc_plugin_desc *desc) {
    g_host = host;
#ifdef SC_ABI_PROBE_FAIL
    return SC_EIO;
#endif
    desc->abi_major = SC_ABI_MAJOR;
#ifdef SC_ABI_WRONG_MAJOR
    desc->abi_major = SC_ABI_MAJOR + 1;
#endif
#ifdef SC_ABI_MINOR_TOO_HIGH
    desc->abi_minor = desc->abi_minor + 1; /* answers above what it was offered */
#endif
#ifdef SC_ABI_FMT_MINOR0
    desc->abi_minor = 0; /* a format plugin that only speaks ABI 1.0 */
#endif
    desc->kind = TP_KIND;
#ifdef SC_ABI_BAD_KIND
    desc->kind = 42;
#endif
    desc->score = 10;
    copy_str(desc->name, sizeof(desc->name), SC_ABI_NAME);
#ifdef SC_ABI_GOOD_COPY
    copy_str(desc->name, sizeof(desc->name), "good"); /* same name as good.so */
#endif
    copy_str(desc->version, sizeof(desc->version), "0.0.1");
    copy_str(desc->description, sizeof(desc->description), "strixcore ABI test plugin");
#ifdef SC_ABI_SCORE_ZERO
    desc->score = 0;
    copy_str(desc->reason, sizeof(desc->reason), "no abi-test device on this machine");
#endif
#ifdef SC_ABI_GARBAGE_STRINGS
    /* every string array filled to the brim, no terminator */
    memset(desc->name, 'G', sizeof(desc->name));
    memset(desc->version, 'V', sizeof(desc->version));
    memset(desc->description, 'D', sizeof(desc->description));
    memset(desc->reason, 'R', sizeof(desc->reason));
#endif
    return SC_OK;
}

TP_INIT_EXPORT int strixcore_plugin_init(const sc_host_api *host, uint32_t abi_minor,
                                         const sc_plugin_iface **iface, void **ctx) {
    g_host = host;
    TP_MARK("%s: init (minor %u)", SC_ABI_NAME, (unsigned)abi_minor);
#if defined(SC_ABI_INIT_FAIL) || defined(SC_ABI_FMT_INIT_FAIL)
    /* Fill the outputs and fail anyway: the core must not use them. */
    *iface = &tp_iface;
    *ctx = &g_ctx_token;
    return SC_ENOMEM;
#elif defined(SC_ABI_NULL_IFACE)
    *iface = NULL;
    *ctx = &g_ctx_token;
    return SC_OK;
#else
    *iface = &tp_iface;
    *ctx = &g_ctx_token;
    return SC_OK;
#endif
}

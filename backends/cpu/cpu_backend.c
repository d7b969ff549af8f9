/*
 * backends/cpu/cpu_backend.c - the built-in CPU backend's sc_backend_iface.
 *
 * One device ("cpu"), one buffer type ("host": 64-byte aligned heap memory,
 * host visible, so tensor->data is a plain pointer). Streams are synchronous:
 * graph_compute runs every node through the fast path before it returns.
 * The registry calls this table exactly like a plugin's; the CPU backend has
 * no plugin context (ctx is NULL) and stateless device and stream handles.
 * Kernel tuning (tune_query / tune_set: mul_mat and mul_mat_id variants) is
 * in fast_tune.c; device_props' driver is the kernel table's feature string.
 */
#include <stdlib.h>
#include <unistd.h>

#include "cpu_impl.h"

#define CPU_ALIGN 64

typedef struct cpu_device { int unused; } cpu_device;
typedef struct cpu_stream { cpu_device *dev; } cpu_stream;
typedef struct cpu_buffer {
    uint8_t *base;
    size_t size;
} cpu_buffer;

static cpu_device the_device;

static int cpu_device_count(void *ctx) {
    (void)ctx;
    return 1;
}

static uint64_t sys_bytes(int pages_name) {
    long pages = sysconf(pages_name), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
}

/* Writes no byte past props->struct_size (a caller may know a shorter struct). */
static int cpu_device_props(void *ctx, int index, sc_device_props *props) {
    (void)ctx;
    if (index != 0 || !props) return SC_EINVAL;
    size_t n = props->struct_size;
    if (n == 0 || n > sizeof *props) n = sizeof *props;
    if (n < offsetof(sc_device_props, name) + sizeof props->name) return SC_EINVAL;
    sc_device_props p = {.struct_size = n, .type = SC_DEVICE_CPU, .n_buffer_types = 1};
    snprintf(p.name, sizeof p.name, "cpu");
    snprintf(p.description, sizeof p.description, "CPU, %d threads, %s", sc__cpu_n_threads(), sc__cpu_features());
    snprintf(p.driver, sizeof p.driver, "%s", sc__cpu_features()); /* the kernel table: its ISA level */
    p.memory_total = sys_bytes(_SC_PHYS_PAGES);
    p.memory_free = sys_bytes(_SC_AVPHYS_PAGES);
    memcpy(props, &p, n);
    return SC_OK;
}

static int cpu_device_open(void *ctx, int index, void **dev) {
    (void)ctx;
    if (index != 0 || !dev) return SC_EINVAL;
    *dev = &the_device;
    return SC_OK;
}

static void cpu_device_close(void *dev) { (void)dev; }

static int cpu_buffer_type_props(void *dev, int buft, sc_buffer_type_props *props) {
    (void)dev;
    if (buft != 0 || !props) return SC_EINVAL;
    size_t n = props->struct_size;
    if (n == 0 || n > sizeof *props) n = sizeof *props;
    if (n < offsetof(sc_buffer_type_props, name) + sizeof props->name) return SC_EINVAL;
    sc_buffer_type_props p = {.struct_size = n, .alignment = CPU_ALIGN, .host_visible = true};
    snprintf(p.name, sizeof p.name, "host");
    memcpy(props, &p, n);
    return SC_OK;
}

static int cpu_buffer_alloc(void *dev, int buft, size_t size, void **buf, void **base) {
    (void)dev;
    if (buft != 0 || !buf || !base) return SC_EINVAL;
    *buf = NULL;
    *base = NULL;
    if (size > SIZE_MAX - CPU_ALIGN) return SC_EOVERFLOW;
    cpu_buffer *b = calloc(1, sizeof *b);
    if (!b) return SC_ENOMEM;
    /* whole cache lines: the buffer ends on an alignment boundary too */
    size_t bytes = ((size ? size : 1) + CPU_ALIGN - 1) / CPU_ALIGN * CPU_ALIGN;
    void *p = NULL;
    if (posix_memalign(&p, CPU_ALIGN, bytes) != 0) {
        free(b);
        return SC_ENOMEM;
    }
    b->base = p;
    b->size = size;
    *buf = b;
    *base = p;
    return SC_OK;
}

static void cpu_buffer_free(void *dev, void *buf) {
    (void)dev;
    cpu_buffer *b = buf;
    if (!b) return;
    free(b->base);
    free(b);
}

static bool in_range(const cpu_buffer *b, size_t offset, size_t size) {
    return b && offset <= b->size && size <= b->size - offset;
}

static int cpu_buffer_write(void *dev, void *buf, size_t offset, const void *src, size_t size) {
    (void)dev;
    cpu_buffer *b = buf;
    if (!in_range(b, offset, size) || (size && !src)) return SC_ERANGE;
    if (size) memcpy(b->base + offset, src, size);
    return SC_OK;
}

static int cpu_buffer_read(void *dev, void *buf, size_t offset, void *dst, size_t size) {
    (void)dev;
    cpu_buffer *b = buf;
    if (!in_range(b, offset, size) || (size && !dst)) return SC_ERANGE;
    if (size) memcpy(dst, b->base + offset, size);
    return SC_OK;
}

static void *cpu_buffer_host_ptr(void *dev, void *buf) {
    (void)dev;
    cpu_buffer *b = buf;
    return b ? b->base : NULL;
}

static int cpu_buffer_clear(void *dev, void *buf, uint8_t value) {
    (void)dev;
    cpu_buffer *b = buf;
    if (!b) return SC_EINVAL;
    memset(b->base, value, b->size);
    return SC_OK;
}

static bool cpu_supports_op(void *dev, const sc_tensor *node) {
    (void)dev;
    return sc__cpu_supports(node);
}

/* Kernel tuning (fast_tune.c): the one device's table lives there. */
static int cpu_tune_query(void *dev, const sc_tensor *node, sc_tune_info *info) {
    (void)dev;
    return sc__cpu_tune_query(node, info);
}

static int cpu_tune_set(void *dev, const char *key, const char *variant) {
    (void)dev;
    return sc__cpu_tune_set(key, variant);
}

static int cpu_stream_create(void *dev, void **stream) {
    if (!stream) return SC_EINVAL;
    cpu_stream *s = calloc(1, sizeof *s);
    if (!s) return SC_ENOMEM;
    s->dev = dev;
    *stream = s;
    return SC_OK;
}

static void cpu_stream_destroy(void *stream) { free(stream); }

static int cpu_graph_compute(void *stream, sc_tensor *const *nodes, int n_nodes) {
    (void)stream;
    if (n_nodes < 0 || (n_nodes > 0 && !nodes)) return SC_EINVAL;
    for (int i = 0; i < n_nodes; i++) {
        sc_tensor *node = nodes[i];
        int rc = node ? sc__cpu_fast_compute(node) : SC_EINVAL;
        if (rc != SC_OK) {
            sc_log(SC_LOG_ERROR, "cpu", "node %d '%s' (%s) failed: %s", i, node ? node->name : "(null)",
                   node ? sc_op_name(node->op) : "?", sc_strerror(rc));
            return rc;
        }
    }
    return SC_OK;
}

static int cpu_stream_sync(void *stream) {
    (void)stream;
    return SC_OK; /* graph_compute is synchronous */
}

static const sc_backend_iface cpu_iface = {
    .struct_size = sizeof(sc_backend_iface),
    .device_count = cpu_device_count,
    .device_props = cpu_device_props,
    .device_open = cpu_device_open,
    .device_close = cpu_device_close,
    .buffer_type_props = cpu_buffer_type_props,
    .buffer_alloc = cpu_buffer_alloc,
    .buffer_free = cpu_buffer_free,
    .buffer_write = cpu_buffer_write,
    .buffer_read = cpu_buffer_read,
    .buffer_host_ptr = cpu_buffer_host_ptr,
    .buffer_clear = cpu_buffer_clear,
    .supports_op = cpu_supports_op,
    .offload_op = NULL,
    .stream_create = cpu_stream_create,
    .stream_destroy = cpu_stream_destroy,
    .graph_compute = cpu_graph_compute,
    .stream_sync = cpu_stream_sync,
    .tune_query = cpu_tune_query,
    .tune_set = cpu_tune_set,
};

const sc_backend_iface *sc_cpu_backend_iface(void) { return &cpu_iface; }

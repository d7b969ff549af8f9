/*
 * example_backend.c - a complete strixcore backend plugin, small enough to
 * read in one sitting. Copy it to start a real one.
 *
 * One device, "example", whose memory is ordinary host memory (one buffer
 * type, "host"). It computes ADD, MUL (with src1 broadcast) and SILU on
 * contiguous f32 tensors; for everything else supports_op says no and the
 * scheduler runs that node elsewhere (normally on the CPU).
 *
 * The plugin includes only <strixcore/plugin.h> and links nothing from the
 * core: logging, allocation and tensor helpers come from the host table the
 * core passes to probe and init.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <strixcore/plugin.h>

#define EX_NAME "example"
#define EX_VERSION "0.1.0"
#define EX_ALIGN 64 /* bytes; buffer bases and tensor offsets honour it */

/* The host table stays valid until shutdown returns. */
static const sc_host_api *host;

typedef struct ex_buffer {
    void *mem;
    size_t size;
} ex_buffer;

/* One static device and one stream per device: nothing here needs state. */
typedef struct ex_device {
    int index;
} ex_device;
static ex_device the_device;

/* ------------------------------------------------------------------------ */
/* registry: one device                                                      */
/* ------------------------------------------------------------------------ */
static int ex_device_count(void *ctx) { return 1; }

static int ex_device_props(void *ctx, int index, sc_device_props *p) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    long avail = sysconf(_SC_AVPHYS_PAGES);
    if (index != 0)
        return SC_EINVAL;
    snprintf(p->name, sizeof(p->name), "%s", EX_NAME);
    snprintf(p->description, sizeof(p->description), "example backend (host memory, ADD/MUL/SILU)");
    p->type = SC_DEVICE_ACCEL;
    p->memory_total = (pages > 0 && page > 0) ? (uint64_t)pages * (uint64_t)page : 0;
    p->memory_free = (avail > 0 && page > 0) ? (uint64_t)avail * (uint64_t)page : 0;
    p->n_buffer_types = 1;
    return SC_OK;
}

static int ex_device_open(void *ctx, int index, void **dev) {
    if (index != 0)
        return SC_EINVAL;
    the_device.index = index;
    *dev = &the_device;
    return SC_OK;
}

static void ex_device_close(void *dev) {}

/* ------------------------------------------------------------------------ */
/* buffers: aligned host memory                                              */
/* ------------------------------------------------------------------------ */
static int ex_buffer_type_props(void *dev, int buft, sc_buffer_type_props *p) {
    if (buft != 0)
        return SC_EINVAL;
    snprintf(p->name, sizeof(p->name), "host");
    p->alignment = EX_ALIGN;
    p->host_visible = true;
    return SC_OK;
}

static int ex_buffer_alloc(void *dev, int buft, size_t size, void **buf, void **base) {
    ex_buffer *b;
    if (buft != 0 || size == 0)
        return SC_EINVAL;
    b = host->calloc(1, sizeof(*b));
    if (!b)
        return SC_ENOMEM;
    b->mem = host->aligned_alloc(EX_ALIGN, size);
    if (!b->mem) {
        host->free(b);
        return SC_ENOMEM;
    }
    b->size = size;
    *buf = b;
    *base = b->mem; /* tensor->data = base + offset: a host address here */
    return SC_OK;
}

static void ex_buffer_free(void *dev, void *buf) {
    ex_buffer *b = buf;
    host->aligned_free(b->mem);
    host->free(b);
}

/* The core bounds-checks first; a plugin checks again because it is cheap
 * and a plugin should never trust a caller with its memory. */
static int ex_buffer_write(void *dev, void *buf, size_t off, const void *src, size_t n) {
    ex_buffer *b = buf;
    if (off > b->size || n > b->size - off)
        return SC_ERANGE;
    memcpy((char *)b->mem + off, src, n);
    return SC_OK;
}

static int ex_buffer_read(void *dev, void *buf, size_t off, void *dst, size_t n) {
    ex_buffer *b = buf;
    if (off > b->size || n > b->size - off)
        return SC_ERANGE;
    memcpy(dst, (const char *)b->mem + off, n);
    return SC_OK;
}

static void *ex_buffer_host_ptr(void *dev, void *buf) { return ((ex_buffer *)buf)->mem; }

static int ex_buffer_clear(void *dev, void *buf, uint8_t value) {
    ex_buffer *b = buf;
    memset(b->mem, value, b->size);
    return SC_OK;
}

/* ------------------------------------------------------------------------ */
/* placement                                                                 */
/* ------------------------------------------------------------------------ */
static bool f32_contiguous(const sc_tensor *t) {
    return t != NULL && t->type == SC_TYPE_F32 && host->tensor_is_contiguous(t);
}

static bool ex_supports_op(void *dev, const sc_tensor *node) {
    switch (node->op) {
    case SC_OP_NONE:
    case SC_OP_VIEW:
        return true; /* no work */
    case SC_OP_ADD:
    case SC_OP_MUL:
        if (!f32_contiguous(node) || !f32_contiguous(node->src[0]) || !f32_contiguous(node->src[1]))
            return false;
        /* dst has src0's shape; src1 repeats along every dimension */
        for (int d = 0; d < SC_MAX_DIMS; d++)
            if (node->ne[d] != node->src[0]->ne[d] || node->src[1]->ne[d] <= 0 ||
                node->ne[d] % node->src[1]->ne[d] != 0)
                return false;
        return true;
    case SC_OP_SILU:
        return f32_contiguous(node) && f32_contiguous(node->src[0]) &&
               host->tensor_nelements(node) == host->tensor_nelements(node->src[0]);
    default:
        return false; /* includes ops added to the ABI after this was written */
    }
}

/* Asked when a node's weights live on another device: is it worth copying
 * them here? This device is no faster than the CPU, so never. */
static bool ex_offload_op(void *dev, const sc_tensor *node) { return false; }

/* ------------------------------------------------------------------------ */
/* execution                                                                 */
/* ------------------------------------------------------------------------ */
static int ex_stream_create(void *dev, void **stream) {
    *stream = dev; /* work runs synchronously inside graph_compute */
    return SC_OK;
}

static void ex_stream_destroy(void *stream) {}

static int ex_stream_sync(void *stream) { return SC_OK; }

/* dst = a (op) b, b broadcast: b[i % b->ne] along each dimension.
 * Shapes [ne3, ne2, ne1, ne0]; strides from nb so the loop reads like it. */
static void ex_binary(sc_tensor *dst, int op) {
    const sc_tensor *a = dst->src[0], *b = dst->src[1];
    for (int64_t i3 = 0; i3 < dst->ne[3]; i3++)
        for (int64_t i2 = 0; i2 < dst->ne[2]; i2++)
            for (int64_t i1 = 0; i1 < dst->ne[1]; i1++) {
                const float *ar = (const float *)((const char *)a->data + i3 * a->nb[3] + i2 * a->nb[2] + i1 * a->nb[1]);
                const float *br = (const float *)((const char *)b->data + (i3 % b->ne[3]) * b->nb[3] +
                                                  (i2 % b->ne[2]) * b->nb[2] + (i1 % b->ne[1]) * b->nb[1]);
                float *dr = (float *)((char *)dst->data + i3 * dst->nb[3] + i2 * dst->nb[2] + i1 * dst->nb[1]);
                const int64_t nb0 = b->ne[0];
                /* hot loop: one row */
                if (op == SC_OP_ADD)
                    for (int64_t i0 = 0; i0 < dst->ne[0]; i0++)
                        dr[i0] = ar[i0] + br[i0 % nb0];
                else
                    for (int64_t i0 = 0; i0 < dst->ne[0]; i0++)
                        dr[i0] = ar[i0] * br[i0 % nb0];
            }
}

static void ex_silu(sc_tensor *dst) {
    const float *x = dst->src[0]->data;
    float *y = dst->data;
    for (int64_t i = 0, n = host->tensor_nelements(dst); i < n; i++)
        y[i] = x[i] / (1.0f + expf(-x[i]));
}

static int ex_graph_compute(void *stream, sc_tensor *const *nodes, int n_nodes) {
    for (int i = 0; i < n_nodes; i++) {
        sc_tensor *node = nodes[i];
        /* The scheduler only sends what supports_op accepted; checking again
         * turns a scheduler bug into an error code instead of a crash. */
        if (!ex_supports_op(stream, node)) {
            host->log(SC_LOG_ERROR, EX_NAME, "cannot compute %s '%s'", host->op_name(node->op), node->name);
            return SC_ENOTSUP;
        }
        switch (node->op) {
        case SC_OP_ADD:
        case SC_OP_MUL:
            ex_binary(node, node->op);
            break;
        case SC_OP_SILU:
            ex_silu(node);
            break;
        default:
            break; /* NONE, VIEW */
        }
    }
    return SC_OK;
}

/* ------------------------------------------------------------------------ */
/* the two exported symbols                                                  */
/* ------------------------------------------------------------------------ */
static const sc_backend_iface ex_backend = {
    .struct_size = sizeof(sc_backend_iface),
    .device_count = ex_device_count,
    .device_props = ex_device_props,
    .device_open = ex_device_open,
    .device_close = ex_device_close,
    .buffer_type_props = ex_buffer_type_props,
    .buffer_alloc = ex_buffer_alloc,
    .buffer_free = ex_buffer_free,
    .buffer_write = ex_buffer_write,
    .buffer_read = ex_buffer_read,
    .buffer_host_ptr = ex_buffer_host_ptr,
    .buffer_clear = ex_buffer_clear,
    .supports_op = ex_supports_op,
    .offload_op = ex_offload_op,
    .stream_create = ex_stream_create,
    .stream_destroy = ex_stream_destroy,
    .graph_compute = ex_graph_compute,
    .stream_sync = ex_stream_sync,
};

static void ex_shutdown(void *ctx) {
    host->log(SC_LOG_DEBUG, EX_NAME, "shutdown");
    /* A real backend releases its driver context here. */
}

static const sc_plugin_iface ex_iface = {
    .struct_size = sizeof(sc_plugin_iface),
    .kind = SC_PLUGIN_BACKEND,
    .shutdown = ex_shutdown,
    .backend = &ex_backend,
};

SC_PLUGIN_EXPORT int strixcore_plugin_probe(const sc_host_api *h, sc_plugin_desc *desc) {
    /* Everything used below must lie inside the core's table. */
    if (!SC_HAS_FIELD(h, sc_host_api, tensor_is_contiguous))
        return SC_EABI;
    host = h;
    desc->abi_major = SC_ABI_MAJOR;
    /* Speak the lower of the core's minor and ours. */
    if (desc->abi_minor > SC_ABI_MINOR)
        desc->abi_minor = SC_ABI_MINOR;
    desc->kind = SC_PLUGIN_BACKEND;
    /* 1 = "as good as the CPU": `--backend auto` keeps the CPU (it is found
     * first), the scheduler still uses this device for what it supports.
     * A GPU backend would answer 100 or more, or 0 with desc->reason when
     * its hardware is absent. */
    desc->score = 1;
    snprintf(desc->name, sizeof(desc->name), "%s", EX_NAME);
    snprintf(desc->version, sizeof(desc->version), "%s", EX_VERSION);
    snprintf(desc->description, sizeof(desc->description), "example out-of-tree backend (ADD, MUL, SILU)");
    return SC_OK;
}

SC_PLUGIN_EXPORT int strixcore_plugin_init(const sc_host_api *h, uint32_t abi_minor,
                                           const sc_plugin_iface **iface, void **ctx) {
    host = h;
    host->log(SC_LOG_DEBUG, EX_NAME, "init, ABI %d.%u", SC_ABI_MAJOR, (unsigned)abi_minor);
    *iface = &ex_iface;
    *ctx = NULL; /* no global state beyond the static device */
    return SC_OK;
}

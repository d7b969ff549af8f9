/*
 * backends/hip/hip_plugin.c - the HIP backend plugin (libstrixcore-hip.so,
 * plugin name "hip"): its two exported symbols, devices and buffers.
 *
 * Which runtime (hip_runtime.h): STRIXCORE_HIP_PLATFORM=amd|nvidia|emu picks
 * one; unset (or "auto") tries ROCm first, then the CUDA driver. The emulator
 * is only used when asked for by name.
 *
 * Kernel tuning (ABI minor 3): tune_query / tune_set go to hip_tune.c;
 * device_props' driver is the runtime's version (hip_rt_driver_version).
 *
 * Scores: 110 on an AMD GPU (above the Vulkan backend's 100: on Strix Halo
 * `--backend auto` means HIP), 50 on NVIDIA (the development path: Vulkan
 * stays the default there), 1 on the emulator (never beats the CPU backend,
 * which wins ties).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hip_device.h"

#define HIP_PLUGIN_NAME "hip"
#define HIP_PLUGIN_VERSION "0.1.0"
#define HIP_MAX_DEVICES 16

const sc_host_api *hip_host;

/* ------------------------------------------------------------------------ */
/* probe / init                                                              */
/* ------------------------------------------------------------------------ */
static int platform_from_env(hip_platform *p, char *why, size_t why_len) {
    const char *e = getenv("STRIXCORE_HIP_PLATFORM");
    *p = HIP_PLAT_NONE;
    if (!e || !*e || strcmp(e, "auto") == 0) return SC_OK;
    if (strcmp(e, "amd") == 0) *p = HIP_PLAT_AMD;
    else if (strcmp(e, "nvidia") == 0 || strcmp(e, "cuda") == 0) *p = HIP_PLAT_NVIDIA;
    else if (strcmp(e, "emu") == 0) *p = HIP_PLAT_EMU;
    else {
        snprintf(why, why_len, "STRIXCORE_HIP_PLATFORM=%s: expected auto, amd, nvidia or emu", e);
        return SC_EINVAL;
    }
    return SC_OK;
}

/* The directory this plugin was loaded from (the emulator library and the
 * NVIDIA kernel images live under <dir>/hip/). */
static void plugin_dir(char *out, size_t len) {
    Dl_info info;
    out[0] = '\0';
    if (dladdr((void *)plugin_dir, &info) && info.dli_fname) {
        char tmp[1024];
        snprintf(tmp, sizeof(tmp), "%s", info.dli_fname);
        snprintf(out, len, "%s", dirname(tmp));
    }
}

static int open_runtime(hip_plugin *pl, char *why, size_t why_len) {
    hip_platform p;
    int rc = platform_from_env(&p, why, why_len);
    if (rc != SC_OK) return rc;
    plugin_dir(pl->dir, sizeof(pl->dir));
    rc = hip_rt_open(&pl->rt, p, pl->dir, why, why_len);
    if (rc != SC_OK) return rc;
    rc = pl->rt.device_count(&pl->rt, &pl->n_devices, NULL);
    if (rc != SC_OK || pl->n_devices <= 0) {
        snprintf(why, why_len, "%s: no device", pl->rt.lib_name);
        hip_rt_close(&pl->rt);
        return SC_ENOTSUP;
    }
    if (pl->n_devices > HIP_MAX_DEVICES) pl->n_devices = HIP_MAX_DEVICES;
    return SC_OK;
}

static int score_of(hip_platform p) {
    switch (p) {
    case HIP_PLAT_AMD: return 110;
    case HIP_PLAT_NVIDIA: return 50;
    case HIP_PLAT_EMU: return 1;
    default: return 0;
    }
}

/* ------------------------------------------------------------------------ */
/* registry                                                                  */
/* ------------------------------------------------------------------------ */
static int hb_device_count(void *ctx) { return ((hip_plugin *)ctx)->n_devices; }

static int hb_device_props(void *ctx, int index, sc_device_props *p) {
    hip_plugin *pl = ctx;
    hip_rt_dev_info info;
    char why[HIP_RT_WHY] = "";
    if (index < 0 || index >= pl->n_devices) return SC_EINVAL;
    int rc = pl->rt.device_info(&pl->rt, index, &info, why);
    if (rc != SC_OK) {
        HIP_LOG(SC_LOG_ERROR, "device %d: %s", index, why);
        return rc;
    }
    snprintf(p->name, sizeof(p->name), "hip%d", index);
    /* "NVIDIA H200, sm_90 (nvidia)"; the name may fill the field */
    int k = snprintf(p->description, sizeof(p->description), "%.90s", info.name);
    if (k > 0 && (size_t)k < sizeof(p->description))
        snprintf(p->description + k, sizeof(p->description) - (size_t)k, "%s%.16s (%s)", info.arch[0] ? ", " : "",
                 info.arch, hip_platform_name(pl->rt.platform));
    p->type = pl->rt.platform == HIP_PLAT_EMU ? SC_DEVICE_CPU : info.integrated ? SC_DEVICE_IGPU : SC_DEVICE_GPU;
    p->memory_total = info.memory_total;
    p->memory_free = info.memory_total;
    if (pl->rt.device_use(&pl->rt, index, NULL) == SC_OK) {
        uint64_t fr = 0, tot = 0;
        if (pl->rt.mem_info(&pl->rt, &fr, &tot) == SC_OK) p->memory_free = fr;
    }
    p->n_buffer_types = 1;
    if (SC_HAS_FIELD(p, sc_device_props, driver)) hip_rt_driver_version(&pl->rt, p->driver, sizeof(p->driver));
    return SC_OK;
}

static int hb_device_open(void *ctx, int index, void **dev) {
    hip_plugin *pl = ctx;
    hip_dev *d = NULL;
    if (index < 0 || index >= pl->n_devices) return SC_EINVAL;
    int rc = hip_dev_create(pl, index, &d);
    if (rc != SC_OK) return rc;
    *dev = d;
    return SC_OK;
}

static void hb_device_close(void *dev) { hip_dev_destroy(dev); }

/* ------------------------------------------------------------------------ */
/* buffers: one device allocation each                                        */
/* ------------------------------------------------------------------------ */
typedef struct hip_buf {
    void *ptr;
    size_t size;
} hip_buf;

static int hb_buffer_type_props(void *dev, int buft, sc_buffer_type_props *p) {
    hip_dev *d = dev;
    if (buft != 0) return SC_EINVAL;
    snprintf(p->name, sizeof(p->name), "device");
    p->alignment = 256;
    /* emulated device memory is host memory, but the CPU backend must not
     * read it behind the emulator's back either: stay explicit */
    p->host_visible = false;
    (void)d;
    return SC_OK;
}

static int hb_buffer_alloc(void *dev, int buft, size_t size, void **buf, void **base) {
    hip_dev *d = dev;
    hip_buf *b;
    char why[HIP_RT_WHY] = "";
    if (buft != 0 || size == 0) return SC_EINVAL;
    b = hip_host->calloc(1, sizeof(*b));
    if (!b) return SC_ENOMEM;
    int rc = d->rt->mem_alloc(d->rt, size, &b->ptr, why);
    if (rc != SC_OK) {
        HIP_LOG(SC_LOG_ERROR, "%s: allocating %zu bytes: %s", d->name, size, why);
        hip_host->free(b);
        return rc == SC_EBACKEND ? SC_ENOMEM : rc;
    }
    b->size = size;
    *buf = b;
    *base = b->ptr;
    return SC_OK;
}

static void hb_buffer_free(void *dev, void *buf) {
    hip_dev *d = dev;
    hip_buf *b = buf;
    if (!b) return;
    hip_dev_sync_all(d); /* a launch in flight may still read it */
    d->rt->mem_free(d->rt, b->ptr);
    hip_host->free(b);
}

static int copy_checked(hip_dev *d, hip_buf *b, size_t off, size_t n, int dir, void *host) {
    char why[HIP_RT_WHY] = "";
    int rc;
    if (off > b->size || n > b->size - off) return SC_ERANGE;
    if (n == 0) return SC_OK;
    pthread_mutex_lock(&d->io_mu);
    rc = dir ? d->rt->copy_htod(d->rt, (char *)b->ptr + off, host, n, d->io_stream, why)
             : d->rt->copy_dtoh(d->rt, host, (char *)b->ptr + off, n, d->io_stream, why);
    if (rc == SC_OK) rc = d->rt->stream_sync(d->rt, d->io_stream, why);
    pthread_mutex_unlock(&d->io_mu);
    if (rc != SC_OK) HIP_LOG(SC_LOG_ERROR, "%s: %s", d->name, why);
    return rc;
}

static int hb_buffer_write(void *dev, void *buf, size_t off, const void *src, size_t n) {
    return copy_checked(dev, buf, off, n, 1, (void *)src);
}

static int hb_buffer_read(void *dev, void *buf, size_t off, void *dst, size_t n) {
    return copy_checked(dev, buf, off, n, 0, dst);
}

static int hb_buffer_clear(void *dev, void *buf, uint8_t value) {
    hip_dev *d = dev;
    hip_buf *b = buf;
    char why[HIP_RT_WHY] = "";
    pthread_mutex_lock(&d->io_mu);
    int rc = d->rt->fill(d->rt, b->ptr, value, b->size, d->io_stream, why);
    if (rc == SC_OK) rc = d->rt->stream_sync(d->rt, d->io_stream, why);
    pthread_mutex_unlock(&d->io_mu);
    if (rc != SC_OK) HIP_LOG(SC_LOG_ERROR, "%s: %s", d->name, why);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* placement and execution                                                   */
/* ------------------------------------------------------------------------ */
static bool hb_supports_op(void *dev, const sc_tensor *node) {
    if (node->op == SC_OP_NONE || node->op == SC_OP_VIEW) return true;
    return hip_ops_supports(dev, node);
}

/* Batched matmuls are worth moving weights for on a GPU; the emulator never is. */
static bool hb_offload_op(void *dev, const sc_tensor *node) {
    hip_dev *d = dev;
    if (d->caps.platform == HIP_PLAT_EMU) return false;
    if (node->op != SC_OP_MUL_MAT && node->op != SC_OP_MUL_MAT_ID) return false;
    const sc_tensor *x = node->src[1];
    return x && x->ne[1] * x->ne[2] * x->ne[3] >= 32 && hip_ops_supports(d, node);
}

static int hb_stream_create(void *dev, void **stream) {
    hip_stream *s = NULL;
    int rc = hip_stream_create(dev, &s);
    if (rc == SC_OK) *stream = s;
    return rc;
}

static void hb_stream_destroy(void *stream) { hip_stream_destroy(stream); }

static int hb_graph_compute(void *stream, sc_tensor *const *nodes, int n_nodes) {
    return hip_graph_compute(stream, nodes, n_nodes);
}

/* graph_compute waits for its work: nothing is left queued. */
static int hb_stream_sync(void *stream) {
    (void)stream;
    return SC_OK;
}

/* kernel tuning: hip_tune.c and the families' halves */
static int hb_tune_query(void *dev, const sc_tensor *node, sc_tune_info *info) {
    return hip_tune_query(dev, node, info);
}

static int hb_tune_set(void *dev, const char *key, const char *variant) { return hip_tune_set(dev, key, variant); }

static const sc_backend_iface hip_backend = {
    .struct_size = sizeof(sc_backend_iface),
    .device_count = hb_device_count,
    .device_props = hb_device_props,
    .device_open = hb_device_open,
    .device_close = hb_device_close,
    .buffer_type_props = hb_buffer_type_props,
    .buffer_alloc = hb_buffer_alloc,
    .buffer_free = hb_buffer_free,
    .buffer_write = hb_buffer_write,
    .buffer_read = hb_buffer_read,
    .buffer_host_ptr = NULL,
    .buffer_clear = hb_buffer_clear,
    .supports_op = hb_supports_op,
    .offload_op = hb_offload_op,
    .stream_create = hb_stream_create,
    .stream_destroy = hb_stream_destroy,
    .graph_compute = hb_graph_compute,
    .stream_sync = hb_stream_sync,
    .tune_query = hb_tune_query,
    .tune_set = hb_tune_set,
};

static void hip_shutdown(void *ctx) {
    hip_plugin *pl = ctx;
    if (!pl) return;
    hip_rt_close(&pl->rt);
    hip_host->free(pl);
}

static const sc_plugin_iface hip_iface = {
    .struct_size = sizeof(sc_plugin_iface),
    .kind = SC_PLUGIN_BACKEND,
    .shutdown = hip_shutdown,
    .backend = &hip_backend,
};

static bool host_ok(const sc_host_api *h) {
    return SC_HAS_FIELD(h, sc_host_api, tensor_is_contiguous) && h->log && h->aligned_alloc && h->aligned_free;
}

SC_PLUGIN_EXPORT int strixcore_plugin_probe(const sc_host_api *h, sc_plugin_desc *desc) {
    char why[256] = "";
    hip_plugin *pl;
    if (!host_ok(h)) return SC_EABI;
    hip_host = h;
    desc->abi_major = SC_ABI_MAJOR;
    if (desc->abi_minor > SC_ABI_MINOR) desc->abi_minor = SC_ABI_MINOR;
    desc->kind = SC_PLUGIN_BACKEND;
    snprintf(desc->name, sizeof(desc->name), "%s", HIP_PLUGIN_NAME);
    snprintf(desc->version, sizeof(desc->version), "%s", HIP_PLUGIN_VERSION);
    snprintf(desc->description, sizeof(desc->description), "HIP backend (ROCm; CUDA and CPU-emulated for testing)");
    pl = hip_host->calloc(1, sizeof(*pl));
    if (!pl) return SC_ENOMEM;
    if (open_runtime(pl, why, sizeof(why)) == SC_OK) {
        hip_rt_dev_info info;
        desc->score = score_of(pl->rt.platform);
        if (pl->rt.device_info(&pl->rt, 0, &info, NULL) == SC_OK)
            snprintf(desc->description, sizeof(desc->description), "HIP backend on %s (%s), %d device%s", info.name,
                     hip_platform_name(pl->rt.platform), pl->n_devices, pl->n_devices == 1 ? "" : "s");
        hip_rt_close(&pl->rt);
    } else {
        desc->score = 0;
        snprintf(desc->reason, sizeof(desc->reason), "%s", why[0] ? why : "no usable HIP device");
    }
    hip_host->free(pl);
    return SC_OK;
}

SC_PLUGIN_EXPORT int strixcore_plugin_init(const sc_host_api *h, uint32_t abi_minor, const sc_plugin_iface **iface,
                                           void **ctx) {
    char why[256] = "";
    hip_plugin *pl;
    (void)abi_minor;
    if (!host_ok(h)) return SC_EABI;
    hip_host = h;
    pl = hip_host->calloc(1, sizeof(*pl));
    if (!pl) return SC_ENOMEM;
    int rc = open_runtime(pl, why, sizeof(why));
    if (rc != SC_OK) {
        HIP_LOG(SC_LOG_ERROR, "%s", why[0] ? why : "no usable HIP device");
        hip_host->free(pl);
        return rc;
    }
    HIP_LOG(SC_LOG_INFO, "%s runtime (%s), %d device%s; op families: %s", hip_platform_name(pl->rt.platform),
            pl->rt.lib_name, pl->n_devices, pl->n_devices == 1 ? "" : "s", hip_ops_families());
    *iface = &hip_iface;
    *ctx = pl;
    return SC_OK;
}

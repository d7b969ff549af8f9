/*
 * backends/vulkan/vk_plugin.c - the plugin's two exported symbols, the
 * Vulkan loader (dlopen + vkGetInstanceProcAddr) and the backend table.
 *
 * Lifecycle. probe opens libvulkan.so.1, makes an instance, lists the usable
 * devices, answers a score and closes everything again (probe must be cheap
 * and a plugin scored 0 is unloaded without a shutdown call). init does the
 * same and keeps the instance; device_open makes the VkDevice; shutdown
 * destroys the instance and unloads the loader.
 *
 * Scores: 100 when a real GPU (integrated or discrete) is usable, 1 when
 * only a CPU implementation (lavapipe) is: the built-in CPU backend also
 * scores 1 and wins ties, so `--backend auto` never picks lavapipe; it is
 * reached with `--backend vulkan` (or -b in backend-ops).
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_infra.h"
#include "vk_tune.h"

#define VK_PLUGIN_NAME "vulkan"
#define VK_PLUGIN_VERSION "0.1.0"

const sc_host_api *vk_host;

/* One per init: a process may hold several registries (sc_model_load makes
 * one for format plugins), each initialising this plugin again, so nothing
 * lives in globals but the host table. */
typedef struct vk_plugin {
    vk_lib lib;
    vk_pdev pdevs[VK_MAX_DEVICES];
    int n_pdevs;
} vk_plugin;

/* ------------------------------------------------------------------------ */
/* helpers                                                                   */
/* ------------------------------------------------------------------------ */
void *vk_calloc(size_t n, size_t size) { return vk_host->calloc(n, size); }
void vk_free(void *p) {
    if (p) vk_host->free(p);
}

/* Drivers start threads (lavapipe's rasterizer and queue threads, shader
 * compiler and disk-cache threads) inside vkCreateInstance, vkCreateDevice,
 * pipeline creation and submissions. A thread inherits its creator's signal
 * mask, and a process that later blocks SIGTERM/SIGINT to sigwait for them
 * (strixcore serve) would still be killed through a driver thread that has
 * them unblocked. So every call that may start one runs with all
 * asynchronous signals blocked; the synchronous ones stay deliverable. */
void vk_sig_block(sigset_t *old) {
    sigset_t all;
    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    sigdelset(&all, SIGTRAP);
    sigdelset(&all, SIGSYS);
    sigdelset(&all, SIGABRT);
    pthread_sigmask(SIG_BLOCK, &all, old);
}

void vk_sig_restore(const sigset_t *old) { pthread_sigmask(SIG_SETMASK, old, NULL); }

/* Append src to the NUL-terminated string in dst[len], truncating. */
void vk_strcat(char *dst, size_t len, const char *src) {
    size_t o = strnlen(dst, len);
    while (o + 1 < len && *src) dst[o++] = *src++;
    if (o < len) dst[o] = '\0';
}

const char *vk_result_str(VkResult r) {
    switch (r) {
#define R(x) case x: return #x;
    R(VK_SUCCESS) R(VK_NOT_READY) R(VK_TIMEOUT) R(VK_INCOMPLETE) R(VK_ERROR_OUT_OF_HOST_MEMORY)
    R(VK_ERROR_OUT_OF_DEVICE_MEMORY) R(VK_ERROR_INITIALIZATION_FAILED) R(VK_ERROR_DEVICE_LOST)
    R(VK_ERROR_MEMORY_MAP_FAILED) R(VK_ERROR_LAYER_NOT_PRESENT) R(VK_ERROR_EXTENSION_NOT_PRESENT)
    R(VK_ERROR_FEATURE_NOT_PRESENT) R(VK_ERROR_INCOMPATIBLE_DRIVER) R(VK_ERROR_TOO_MANY_OBJECTS)
    R(VK_ERROR_FORMAT_NOT_SUPPORTED) R(VK_ERROR_FRAGMENTED_POOL) R(VK_ERROR_UNKNOWN)
    R(VK_ERROR_OUT_OF_POOL_MEMORY) R(VK_ERROR_INVALID_EXTERNAL_HANDLE) R(VK_ERROR_FRAGMENTATION)
    R(VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS) R(VK_PIPELINE_COMPILE_REQUIRED) R(VK_ERROR_INVALID_SHADER_NV)
#undef R
    default: return "VK_ERROR_(other)";
    }
}

VkResult vk_check(VkResult r, const char *what) {
    if (r != VK_SUCCESS) VK_LOG(SC_LOG_ERROR, "%s failed: %s", what, vk_result_str(r));
    return r;
}

int vk_result_to_sc(VkResult r) {
    switch (r) {
    case VK_SUCCESS: return SC_OK;
    case VK_ERROR_OUT_OF_HOST_MEMORY:
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
    case VK_ERROR_OUT_OF_POOL_MEMORY:
    case VK_ERROR_FRAGMENTED_POOL:
    case VK_ERROR_FRAGMENTATION: return SC_ENOMEM;
    case VK_ERROR_FEATURE_NOT_PRESENT:
    case VK_ERROR_EXTENSION_NOT_PRESENT:
    case VK_ERROR_INCOMPATIBLE_DRIVER: return SC_ENOTSUP;
    default: return SC_EBACKEND;
    }
}

/* ------------------------------------------------------------------------ */
/* the loader                                                                */
/* ------------------------------------------------------------------------ */
static bool env_on(const char *name) {
    const char *v = getenv(name);
    return v && v[0] && strcmp(v, "0") != 0;
}

/* VK_LAYER_KHRONOS_validation when STRIXCORE_VK_VALIDATION=1 and installed. */
static bool want_validation(vk_lib *lib) {
    PFN_vkEnumerateInstanceLayerProperties enum_layers;
    VkLayerProperties *lp;
    uint32_t n = 0;
    bool found = false;
    if (!env_on("STRIXCORE_VK_VALIDATION")) return false;
    enum_layers = (PFN_vkEnumerateInstanceLayerProperties)lib->vkGetInstanceProcAddr(
        VK_NULL_HANDLE, "vkEnumerateInstanceLayerProperties");
    if (enum_layers && enum_layers(&n, NULL) == VK_SUCCESS && n && (lp = vk_calloc(n, sizeof(*lp)))) {
        if (enum_layers(&n, lp) == VK_SUCCESS)
            for (uint32_t i = 0; i < n; i++) found |= strcmp(lp[i].layerName, "VK_LAYER_KHRONOS_validation") == 0;
        vk_free(lp);
    }
    if (!found) VK_LOG(SC_LOG_WARN, "STRIXCORE_VK_VALIDATION: VK_LAYER_KHRONOS_validation is not installed");
    return found;
}

int vk_lib_open(vk_lib *lib, char *why, size_t why_len) {
    PFN_vkEnumerateInstanceVersion enum_version;
    uint32_t inst_version = VK_API_VERSION_1_0;
    const char *layer = "VK_LAYER_KHRONOS_validation";
    VkResult r;

    /* STRIXCORE_VK_LOADER: another loader (a path), e.g. one built with debug output */
    const char *loader = getenv("STRIXCORE_VK_LOADER");
    memset(lib, 0, sizeof(*lib));
    if (loader && loader[0]) {
        lib->so = dlopen(loader, RTLD_NOW | RTLD_LOCAL);
    } else {
        loader = "libvulkan.so.1";
        lib->so = dlopen(loader, RTLD_NOW | RTLD_LOCAL);
        if (!lib->so) lib->so = dlopen("libvulkan.so", RTLD_NOW | RTLD_LOCAL);
    }
    if (!lib->so) {
        const char *e = dlerror();
        snprintf(why, why_len, "no Vulkan loader (%.200s)", e ? e : loader);
        return SC_ENOTSUP;
    }
    /* dlsym returns void *; the loader's entry point is a function. */
    void *sym = dlsym(lib->so, "vkGetInstanceProcAddr");
    memcpy(&lib->vkGetInstanceProcAddr, &sym, sizeof(sym));
    if (!lib->vkGetInstanceProcAddr) {
        snprintf(why, why_len, "no Vulkan loader (libvulkan.so.1 lacks vkGetInstanceProcAddr)");
        goto fail;
    }
#define LOAD_GLOBAL(n) lib->n = (PFN_##n)lib->vkGetInstanceProcAddr(VK_NULL_HANDLE, #n);
    VK_GLOBAL_FNS(LOAD_GLOBAL)
#undef LOAD_GLOBAL
    enum_version = (PFN_vkEnumerateInstanceVersion)lib->vkGetInstanceProcAddr(VK_NULL_HANDLE,
                                                                               "vkEnumerateInstanceVersion");
    if (enum_version && enum_version(&inst_version) != VK_SUCCESS) inst_version = VK_API_VERSION_1_0;
    if (!lib->vkCreateInstance || inst_version < VK_API_VERSION_1_2) {
        snprintf(why, why_len, "no Vulkan 1.2 loader (the loader speaks %u.%u)", VK_API_VERSION_MAJOR(inst_version),
                 VK_API_VERSION_MINOR(inst_version));
        goto fail;
    }
    lib->api_version = inst_version >= VK_API_VERSION_1_3 ? VK_API_VERSION_1_3 : VK_API_VERSION_1_2;

    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "strixcore",
        .applicationVersion = 1,
        .pEngineName = "strixcore",
        .engineVersion = 1,
        .apiVersion = lib->api_version,
    };
    VkInstanceCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pApplicationInfo = &app,
    };
    if (want_validation(lib)) {
        ci.enabledLayerCount = 1;
        ci.ppEnabledLayerNames = &layer;
    }
    sigset_t old;
    vk_sig_block(&old);
    r = lib->vkCreateInstance(&ci, NULL, &lib->instance);
    vk_sig_restore(&old);
    if (r != VK_SUCCESS) {
        if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
            snprintf(why, why_len, "no Vulkan driver (vkCreateInstance: VK_ERROR_INCOMPATIBLE_DRIVER; lavapipe: "
                                   "apt install mesa-vulkan-drivers)");
        else
            snprintf(why, why_len, "vkCreateInstance failed: %s", vk_result_str(r));
        lib->instance = VK_NULL_HANDLE;
        goto fail;
    }
#define LOAD_INSTANCE(n)                                                            \
    lib->n = (PFN_##n)lib->vkGetInstanceProcAddr(lib->instance, #n);                 \
    if (!lib->n) {                                                                  \
        snprintf(why, why_len, "the Vulkan loader lacks %s", #n);                   \
        goto fail;                                                                  \
    }
    VK_INSTANCE_FNS(LOAD_INSTANCE)
#undef LOAD_INSTANCE
    lib->vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR =
        (PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR)lib->vkGetInstanceProcAddr(
            lib->instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR");
    return SC_OK;
fail:
    vk_lib_close(lib);
    return SC_ENOTSUP;
}

void vk_lib_close(vk_lib *lib) {
    if (lib->instance && lib->vkDestroyInstance) lib->vkDestroyInstance(lib->instance, NULL);
    lib->instance = VK_NULL_HANDLE;
    if (lib->so) dlclose(lib->so);
    memset(lib, 0, sizeof(*lib));
}

/* ------------------------------------------------------------------------ */
/* registry                                                                  */
/* ------------------------------------------------------------------------ */
static int vkb_device_count(void *ctx) { return ((vk_plugin *)ctx)->n_pdevs; }

static int vkb_device_props(void *ctx, int index, sc_device_props *p) {
    vk_plugin *pl = ctx;
    const vk_pdev *pi;
    if (index < 0 || index >= pl->n_pdevs) return SC_EINVAL;
    pi = &pl->pdevs[index];
    snprintf(p->name, sizeof(p->name), "vulkan%d", index);
    /* "llvmpipe (LLVM 15.0.6, 256 bits), llvmpipe Mesa 22.3.6 (LLVM 15.0.6); vk1.3 sg8 arith fp16 int8 dot(sw) ts" */
    p->description[0] = '\0';
    vk_strcat(p->description, sizeof(p->description), pi->props.deviceName);
    vk_strcat(p->description, sizeof(p->description), ", ");
    vk_strcat(p->description, sizeof(p->description), pi->driver_name);
    vk_strcat(p->description, sizeof(p->description), " ");
    vk_strcat(p->description, sizeof(p->description), pi->driver_info);
    vk_strcat(p->description, sizeof(p->description), "; ");
    vk_strcat(p->description, sizeof(p->description), pi->features);
    switch (pi->props.deviceType) {
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: p->type = SC_DEVICE_IGPU; break;
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: p->type = SC_DEVICE_GPU; break;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: p->type = SC_DEVICE_CPU; break;
    default: p->type = SC_DEVICE_ACCEL; break;
    }
    vk_pdev_memory(&pl->lib, pi, &p->memory_total, &p->memory_free);
    p->n_buffer_types = 1;
    /* ABI minor 3: "NVIDIA 580.159.04", "llvmpipe Mesa 22.3.6 (LLVM 15.0.6)" (the tuning cache's device key) */
    if (SC_HAS_FIELD(p, sc_device_props, driver))
        snprintf(p->driver, sizeof(p->driver), "%.31s%s%.31s", pi->driver_name, pi->driver_info[0] ? " " : "",
                 pi->driver_info);
    return SC_OK;
}

static int vkb_device_open(void *ctx, int index, void **dev) {
    vk_plugin *pl = ctx;
    vk_dev *d = NULL;
    int rc;
    if (index < 0 || index >= pl->n_pdevs) return SC_EINVAL;
    rc = vk_dev_create(&pl->lib, &pl->pdevs[index], &d);
    if (rc != SC_OK) return rc;
    *dev = d;
    return SC_OK;
}

static void vkb_device_close(void *dev) { vk_dev_destroy(dev); }

/* ------------------------------------------------------------------------ */
/* buffers                                                                   */
/* ------------------------------------------------------------------------ */
static int vkb_buffer_type_props(void *dev, int buft, sc_buffer_type_props *p) {
    vk_dev *d = dev;
    if (buft != 0) return SC_EINVAL;
    snprintf(p->name, sizeof(p->name), "device");
    p->alignment = VK_BUF_ALIGN;
    p->host_visible = d->pi->mapped_device_memory;
    return SC_OK;
}

static int vkb_buffer_alloc(void *dev, int buft, size_t size, void **buf, void **base) {
    vk_buf *b = NULL;
    int rc;
    if (buft != 0 || size == 0) return SC_EINVAL;
    rc = vk_buf_create(dev, VK_BUF_DEVICE, size, &b);
    if (rc != SC_OK) return rc;
    *buf = b;
    *base = (void *)(uintptr_t)b->addr; /* tensor->data is a device address */
    return SC_OK;
}

static void vkb_buffer_free(void *dev, void *buf) { vk_buf_destroy(dev, buf); }

static int vkb_buffer_write(void *dev, void *buf, size_t off, const void *src, size_t n) {
    return vk_buf_write(dev, buf, off, src, n);
}

static int vkb_buffer_read(void *dev, void *buf, size_t off, void *dst, size_t n) {
    return vk_buf_read(dev, buf, off, dst, n);
}

static void *vkb_buffer_host_ptr(void *dev, void *buf) { return ((vk_buf *)buf)->map; }

static int vkb_buffer_clear(void *dev, void *buf, uint8_t value) { return vk_buf_fill(dev, buf, value); }

/* ------------------------------------------------------------------------ */
/* placement and execution                                                   */
/* ------------------------------------------------------------------------ */
static bool vkb_supports_op(void *dev, const sc_tensor *node) {
    if (node->op == SC_OP_NONE || node->op == SC_OP_VIEW) return true;
    return vk_ops_supports(dev, node);
}

/* Batched matmuls are worth moving weights for on a real GPU; a CPU
 * implementation never is. */
static bool vkb_offload_op(void *dev, const sc_tensor *node) {
    vk_dev *d = dev;
    if (d->pi->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU) return false;
    if (node->op != SC_OP_MUL_MAT && node->op != SC_OP_MUL_MAT_ID) return false;
    /* rows of activations: ne[1] * ne[2] * ne[3] of src1 */
    const sc_tensor *x = node->src[1];
    return x && x->ne[1] * x->ne[2] * x->ne[3] >= 32 && vk_ops_supports(d, node);
}

static int vkb_stream_create(void *dev, void **stream) {
    vk_stream *s = NULL;
    int rc = vk_stream_create(dev, &s);
    if (rc == SC_OK) *stream = s;
    return rc;
}

static void vkb_stream_destroy(void *stream) { vk_stream_destroy(stream); }

static int vkb_graph_compute(void *stream, sc_tensor *const *nodes, int n_nodes) {
    return vk_graph_compute(stream, nodes, n_nodes);
}

/* kernel tuning (vk_tune.c) */
static int vkb_tune_query(void *dev, const sc_tensor *node, sc_tune_info *info) {
    return vk_tune_query(dev, node, info);
}
static int vkb_tune_set(void *dev, const char *key, const char *variant) { return vk_tune_set(dev, key, variant); }

/* graph_compute waits for its work: nothing is ever queued. */
static int vkb_stream_sync(void *stream) { return SC_OK; }

static const sc_backend_iface vk_backend = {
    .struct_size = sizeof(sc_backend_iface),
    .device_count = vkb_device_count,
    .device_props = vkb_device_props,
    .device_open = vkb_device_open,
    .device_close = vkb_device_close,
    .buffer_type_props = vkb_buffer_type_props,
    .buffer_alloc = vkb_buffer_alloc,
    .buffer_free = vkb_buffer_free,
    .buffer_write = vkb_buffer_write,
    .buffer_read = vkb_buffer_read,
    .buffer_host_ptr = vkb_buffer_host_ptr,
    .buffer_clear = vkb_buffer_clear,
    .supports_op = vkb_supports_op,
    .offload_op = vkb_offload_op,
    .stream_create = vkb_stream_create,
    .stream_destroy = vkb_stream_destroy,
    .graph_compute = vkb_graph_compute,
    .stream_sync = vkb_stream_sync,
    .tune_query = vkb_tune_query,
    .tune_set = vkb_tune_set,
};

/* ------------------------------------------------------------------------ */
/* probe, init, shutdown                                                     */
/* ------------------------------------------------------------------------ */
static int score_of(const vk_pdev *devs, int n) {
    int score = 0;
    for (int i = 0; i < n; i++) {
        int s;
        switch (devs[i].props.deviceType) {
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: s = 100; break;
        case VK_PHYSICAL_DEVICE_TYPE_CPU: s = 1; break; /* lavapipe: CPU backend stays the default */
        default: s = 50; break;
        }
        if (s > score) score = s;
    }
    return score;
}

static void vk_shutdown(void *ctx) {
    vk_plugin *pl = ctx;
    if (!pl) return;
    vk_lib_close(&pl->lib);
    vk_free(pl);
}

static const sc_plugin_iface vk_iface = {
    .struct_size = sizeof(sc_plugin_iface),
    .kind = SC_PLUGIN_BACKEND,
    .shutdown = vk_shutdown,
    .backend = &vk_backend,
};

static bool host_ok(const sc_host_api *h) { return SC_HAS_FIELD(h, sc_host_api, tensor_is_contiguous) && h->log; }

SC_PLUGIN_EXPORT int strixcore_plugin_probe(const sc_host_api *h, sc_plugin_desc *desc) {
    vk_pdev *devs;
    char why[256] = "";
    vk_lib lib;
    int n = 0;

    if (!host_ok(h)) return SC_EABI;
    vk_host = h;
    desc->abi_major = SC_ABI_MAJOR;
    if (desc->abi_minor > SC_ABI_MINOR) desc->abi_minor = SC_ABI_MINOR;
    desc->kind = SC_PLUGIN_BACKEND;
    snprintf(desc->name, sizeof(desc->name), "%s", VK_PLUGIN_NAME);
    snprintf(desc->version, sizeof(desc->version), "%s", VK_PLUGIN_VERSION);
    snprintf(desc->description, sizeof(desc->description), "Vulkan 1.2 compute backend");

    devs = vk_calloc(VK_MAX_DEVICES, sizeof(*devs));
    if (!devs) return SC_ENOMEM;
    if (vk_lib_open(&lib, why, sizeof(why)) == SC_OK) {
        n = vk_enumerate(&lib, devs, VK_MAX_DEVICES, why, sizeof(why));
        vk_lib_close(&lib);
    }
    desc->score = n > 0 ? score_of(devs, n) : 0;
    if (n <= 0) {
        desc->reason[0] = '\0';
        vk_strcat(desc->reason, sizeof(desc->reason), why[0] ? why : "no usable Vulkan device");
    } else {
        snprintf(desc->description, sizeof(desc->description), "Vulkan compute, %d device%s: ", n,
                 n == 1 ? "" : "s");
        for (int i = 0; i < n; i++) {
            if (i) vk_strcat(desc->description, sizeof(desc->description), ", ");
            vk_strcat(desc->description, sizeof(desc->description), devs[i].props.deviceName);
        }
    }
    vk_free(devs);
    return SC_OK;
}

SC_PLUGIN_EXPORT int strixcore_plugin_init(const sc_host_api *h, uint32_t abi_minor, const sc_plugin_iface **iface,
                                           void **ctx) {
    char why[256] = "";
    vk_plugin *pl;
    int rc;
    if (!host_ok(h)) return SC_EABI;
    vk_host = h;
    pl = vk_calloc(1, sizeof(*pl));
    if (!pl) return SC_ENOMEM;
    rc = vk_lib_open(&pl->lib, why, sizeof(why));
    if (rc != SC_OK) {
        VK_LOG(SC_LOG_ERROR, "%s", why);
        vk_free(pl);
        return rc;
    }
    pl->n_pdevs = vk_enumerate(&pl->lib, pl->pdevs, VK_MAX_DEVICES, why, sizeof(why));
    if (pl->n_pdevs <= 0) {
        VK_LOG(SC_LOG_ERROR, "%s", why[0] ? why : "no usable Vulkan device");
        vk_shutdown(pl);
        return SC_ENOTSUP;
    }
    if (why[0]) VK_LOG(SC_LOG_INFO, "devices skipped: %s", why);
    for (int i = 0; i < pl->n_pdevs; i++) {
        const vk_pdev *pi = &pl->pdevs[i];
        VK_LOG(SC_LOG_INFO, "vulkan%d: %s (%s %s): %s", i, pi->props.deviceName, pi->driver_name, pi->driver_info,
               pi->features);
    }
    VK_LOG(SC_LOG_DEBUG, "op families built in: %s", vk_ops_families());
    *iface = &vk_iface;
    *ctx = pl;
    return SC_OK;
}

/*
 * backends/hip/hip_runtime.c - the hip_rt table over libamdhip64, libcuda
 * and the CPU emulator (hip_runtime.h says why there are three).
 *
 * Nothing here includes a vendor header: the few entry points are declared
 * with plain C types (handles are pointers, device pointers are 64-bit), which
 * is how both runtimes define them in their stable C ABIs. Every entry point
 * is resolved when the runtime opens, so a missing one is a clear "this
 * runtime is too old" message at probe time rather than a crash later.
 *
 * Threads: HIP and the CUDA driver keep a current device/context per thread;
 * the core may allocate from one thread and compute from another, so every
 * call made through this table first makes the table's device current
 * (hipSetDevice / cuCtxSetCurrent cost next to nothing when it already is).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hip_runtime.h"

const char *hip_platform_name(hip_platform p) {
    switch (p) {
    case HIP_PLAT_AMD: return "amd";
    case HIP_PLAT_NVIDIA: return "nvidia";
    case HIP_PLAT_EMU: return "emu";
    default: return "none";
    }
}

static void why_set(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void why_set(char *why, const char *fmt, ...) {
    va_list ap;
    if (!why) return;
    va_start(ap, fmt);
    vsnprintf(why, HIP_RT_WHY, fmt, ap);
    va_end(ap);
}

/* Resolve `names` (NULL-terminated) into the function-pointer array `fns`,
 * in order. Returns the first missing name, or NULL. */
static const char *resolve(void *lib, const char *const *names, void **fns) {
    for (int i = 0; names[i]; i++) {
        fns[i] = dlsym(lib, names[i]);
        if (!fns[i]) return names[i];
    }
    return NULL;
}

/* ========================================================================= */
/* AMD: libamdhip64                                                            */
/* ========================================================================= */
typedef int hipErr;
typedef struct amd_api {
    hipErr (*Init)(unsigned);
    hipErr (*GetDeviceCount)(int *);
    hipErr (*DeviceGetName)(char *, int, int);
    hipErr (*DeviceTotalMem)(size_t *, int);
    hipErr (*SetDevice)(int);
    hipErr (*MemGetInfo)(size_t *, size_t *);
    hipErr (*Malloc)(void **, size_t);
    hipErr (*Free)(void *);
    hipErr (*MemcpyHtoDAsync)(void *, const void *, size_t, void *);
    hipErr (*MemcpyDtoHAsync)(void *, const void *, size_t, void *);
    hipErr (*MemsetD8Async)(void *, unsigned char, size_t, void *);
    hipErr (*StreamCreateWithFlags)(void **, unsigned);
    hipErr (*StreamDestroy)(void *);
    hipErr (*StreamSynchronize)(void *);
    hipErr (*ModuleLoadData)(void **, const void *);
    hipErr (*ModuleUnload)(void *);
    hipErr (*ModuleGetFunction)(void **, void *, const char *);
    hipErr (*ModuleLaunchKernel)(void *, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                                 void *, void **, void **);
    const char *(*GetErrorString)(hipErr);
    hipErr (*StreamBeginCapture)(void *, int);
    hipErr (*StreamEndCapture)(void *, void **);
    hipErr (*GraphInstantiate)(void **, void *, void *, char *, size_t);
    hipErr (*GraphLaunch)(void *, void *);
    hipErr (*GraphExecDestroy)(void *);
    hipErr (*GraphDestroy)(void *);
    int device;
} amd_api;

static const char *const amd_names[] = {
    "hipInit", "hipGetDeviceCount", "hipDeviceGetName", "hipDeviceTotalMem", "hipSetDevice", "hipMemGetInfo",
    "hipMalloc", "hipFree", "hipMemcpyHtoDAsync", "hipMemcpyDtoHAsync", "hipMemsetD8Async",
    "hipStreamCreateWithFlags", "hipStreamDestroy", "hipStreamSynchronize", "hipModuleLoadData",
    "hipModuleUnload", "hipModuleGetFunction", "hipModuleLaunchKernel", "hipGetErrorString",
    "hipStreamBeginCapture", "hipStreamEndCapture", "hipGraphInstantiate", "hipGraphLaunch",
    "hipGraphExecDestroy", "hipGraphDestroy", NULL};

#define AMD(rt) ((amd_api *)(rt)->impl)
/* Run a HIP call on the table's device; on failure set why and return SC_EBACKEND. */
#define AMD_CALL(rt, why, call, what)                                                        \
    do {                                                                                     \
        hipErr e_;                                                                           \
        AMD(rt)->SetDevice(AMD(rt)->device);                                                 \
        e_ = (call);                                                                         \
        if (e_ != 0) {                                                                       \
            why_set((why), "%s: %s (%d)", (what), AMD(rt)->GetErrorString(e_), e_);         \
            return SC_EBACKEND;                                                              \
        }                                                                                    \
    } while (0)

static int amd_device_count(hip_rt *rt, int *n, char *why) {
    hipErr e = AMD(rt)->GetDeviceCount(n);
    if (e != 0) {
        why_set(why, "hipGetDeviceCount: %s (%d)", AMD(rt)->GetErrorString(e), e);
        *n = 0;
        return SC_EBACKEND;
    }
    return SC_OK;
}

static int amd_device_info(hip_rt *rt, int index, hip_rt_dev_info *o, char *why) {
    size_t total = 0;
    memset(o, 0, sizeof(*o));
    if (AMD(rt)->DeviceGetName(o->name, (int)sizeof(o->name), index) != 0) snprintf(o->name, sizeof(o->name), "AMD GPU %d", index);
    hipErr e = AMD(rt)->DeviceTotalMem(&total, index);
    if (e != 0) {
        why_set(why, "hipDeviceTotalMem: %s", AMD(rt)->GetErrorString(e));
        return SC_EBACKEND;
    }
    o->memory_total = total;
    return SC_OK;
}

static int amd_device_use(hip_rt *rt, int index, char *why) {
    AMD(rt)->device = index;
    AMD_CALL(rt, why, AMD(rt)->SetDevice(index), "hipSetDevice");
    return SC_OK;
}

static int amd_mem_info(hip_rt *rt, uint64_t *fr, uint64_t *tot) {
    size_t f = 0, t = 0;
    AMD_CALL(rt, NULL, AMD(rt)->MemGetInfo(&f, &t), "hipMemGetInfo");
    *fr = f;
    *tot = t;
    return SC_OK;
}

static int amd_mem_alloc(hip_rt *rt, size_t size, void **ptr, char *why) {
    AMD_CALL(rt, why, AMD(rt)->Malloc(ptr, size), "hipMalloc");
    return SC_OK;
}
static void amd_mem_free(hip_rt *rt, void *ptr) {
    AMD(rt)->SetDevice(AMD(rt)->device);
    AMD(rt)->Free(ptr);
}
static int amd_copy_htod(hip_rt *rt, void *dst, const void *src, size_t n, void *st, char *why) {
    AMD_CALL(rt, why, AMD(rt)->MemcpyHtoDAsync(dst, src, n, st), "hipMemcpyHtoDAsync");
    return SC_OK;
}
static int amd_copy_dtoh(hip_rt *rt, void *dst, const void *src, size_t n, void *st, char *why) {
    AMD_CALL(rt, why, AMD(rt)->MemcpyDtoHAsync(dst, src, n, st), "hipMemcpyDtoHAsync");
    return SC_OK;
}
static int amd_fill(hip_rt *rt, void *dst, uint8_t v, size_t n, void *st, char *why) {
    AMD_CALL(rt, why, AMD(rt)->MemsetD8Async(dst, v, n, st), "hipMemsetD8Async");
    return SC_OK;
}
static int amd_stream_create(hip_rt *rt, void **s, char *why) {
    AMD_CALL(rt, why, AMD(rt)->StreamCreateWithFlags(s, 1u /* hipStreamNonBlocking */), "hipStreamCreateWithFlags");
    return SC_OK;
}
static void amd_stream_destroy(hip_rt *rt, void *s) {
    AMD(rt)->SetDevice(AMD(rt)->device);
    AMD(rt)->StreamDestroy(s);
}
static int amd_stream_sync(hip_rt *rt, void *s, char *why) {
    AMD_CALL(rt, why, AMD(rt)->StreamSynchronize(s), "hipStreamSynchronize");
    return SC_OK;
}
static int amd_module_load(hip_rt *rt, const void *image, size_t size, void **m, char *why) {
    (void)size;
    AMD_CALL(rt, why, AMD(rt)->ModuleLoadData(m, image), "hipModuleLoadData");
    return SC_OK;
}
static void amd_module_unload(hip_rt *rt, void *m) {
    AMD(rt)->SetDevice(AMD(rt)->device);
    AMD(rt)->ModuleUnload(m);
}
static int amd_module_function(hip_rt *rt, void *m, const char *name, void **fn) {
    AMD(rt)->SetDevice(AMD(rt)->device);
    return AMD(rt)->ModuleGetFunction(fn, m, name) == 0 ? SC_OK : SC_ENOENT;
}
static int amd_launch(hip_rt *rt, void *fn, const unsigned g[3], const unsigned b[3], void *st, const void *args,
                      size_t args_size, char *why) {
    void *params[1] = {(void *)args};
    (void)args_size;
    AMD_CALL(rt, why, AMD(rt)->ModuleLaunchKernel(fn, g[0], g[1], g[2], b[0], b[1], b[2], 0, st, params, NULL),
             "hipModuleLaunchKernel");
    return SC_OK;
}
static int amd_capture_begin(hip_rt *rt, void *st, char *why) {
    AMD_CALL(rt, why, AMD(rt)->StreamBeginCapture(st, 2 /* relaxed */), "hipStreamBeginCapture");
    return SC_OK;
}
static int amd_capture_end(hip_rt *rt, void *st, void **exec, char *why) {
    void *graph = NULL;
    AMD_CALL(rt, why, AMD(rt)->StreamEndCapture(st, &graph), "hipStreamEndCapture");
    hipErr e = AMD(rt)->GraphInstantiate(exec, graph, NULL, NULL, 0);
    AMD(rt)->GraphDestroy(graph);
    if (e != 0) {
        why_set(why, "hipGraphInstantiate: %s", AMD(rt)->GetErrorString(e));
        return SC_EBACKEND;
    }
    return SC_OK;
}
static int amd_graph_launch(hip_rt *rt, void *exec, void *st, char *why) {
    AMD_CALL(rt, why, AMD(rt)->GraphLaunch(exec, st), "hipGraphLaunch");
    return SC_OK;
}
static void amd_graph_destroy(hip_rt *rt, void *exec) {
    AMD(rt)->SetDevice(AMD(rt)->device);
    AMD(rt)->GraphExecDestroy(exec);
}

static int amd_open(hip_rt *rt, char *why, size_t why_len) {
    static const char *const libs[] = {"libamdhip64.so", "libamdhip64.so.6", "libamdhip64.so.5", NULL};
    amd_api *a;
    const char *miss;
    for (int i = 0; libs[i] && !rt->lib; i++) {
        rt->lib = dlopen(libs[i], RTLD_NOW | RTLD_LOCAL);
        if (rt->lib) snprintf(rt->lib_name, sizeof(rt->lib_name), "%s", libs[i]);
    }
    if (!rt->lib) {
        snprintf(why, why_len, "the HIP runtime (libamdhip64.so) is not installed");
        return SC_ENOENT;
    }
    a = hip_host->calloc(1, sizeof(*a));
    if (!a) return SC_ENOMEM;
    miss = resolve(rt->lib, amd_names, (void **)a);
    if (miss) {
        snprintf(why, why_len, "%s lacks %s (ROCm too old?)", rt->lib_name, miss);
        hip_host->free(a);
        return SC_ENOTSUP;
    }
    rt->impl = a;
    if (a->Init(0) != 0) {
        snprintf(why, why_len, "hipInit failed: no usable AMD GPU (is the amdgpu driver loaded, /dev/kfd readable?)");
        return SC_ENOTSUP;
    }
    rt->device_count = amd_device_count;
    rt->device_info = amd_device_info;
    rt->device_use = amd_device_use;
    rt->mem_info = amd_mem_info;
    rt->mem_alloc = amd_mem_alloc;
    rt->mem_free = amd_mem_free;
    rt->copy_htod = amd_copy_htod;
    rt->copy_dtoh = amd_copy_dtoh;
    rt->fill = amd_fill;
    rt->stream_create = amd_stream_create;
    rt->stream_destroy = amd_stream_destroy;
    rt->stream_sync = amd_stream_sync;
    rt->module_load = amd_module_load;
    rt->module_unload = amd_module_unload;
    rt->module_function = amd_module_function;
    rt->launch = amd_launch;
    rt->capture_begin = amd_capture_begin;
    rt->capture_end = amd_capture_end;
    rt->graph_launch = amd_graph_launch;
    rt->graph_destroy = amd_graph_destroy;
    return SC_OK;
}

/* ========================================================================= */
/* NVIDIA: the CUDA driver API (libcuda.so.1)                                  */
/* ========================================================================= */
typedef int cuRes;
typedef unsigned long long cuPtr;
typedef struct cuda_api {
    cuRes (*Init)(unsigned);
    cuRes (*DeviceGetCount)(int *);
    cuRes (*DeviceGet)(int *, int);
    cuRes (*DeviceGetName)(char *, int, int);
    cuRes (*DeviceTotalMem)(size_t *, int);
    cuRes (*DeviceGetAttribute)(int *, int, int);
    cuRes (*DevicePrimaryCtxRetain)(void **, int);
    cuRes (*CtxSetCurrent)(void *);
    cuRes (*MemGetInfo)(size_t *, size_t *);
    cuRes (*MemAlloc)(cuPtr *, size_t);
    cuRes (*MemFree)(cuPtr);
    cuRes (*MemcpyHtoDAsync)(cuPtr, const void *, size_t, void *);
    cuRes (*MemcpyDtoHAsync)(void *, cuPtr, size_t, void *);
    cuRes (*MemsetD8Async)(cuPtr, unsigned char, size_t, void *);
    cuRes (*StreamCreate)(void **, unsigned);
    cuRes (*StreamDestroy)(void *);
    cuRes (*StreamSynchronize)(void *);
    cuRes (*ModuleLoadData)(void **, const void *);
    cuRes (*ModuleUnload)(void *);
    cuRes (*ModuleGetFunction)(void **, void *, const char *);
    cuRes (*LaunchKernel)(void *, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void *,
                          void **, void **);
    cuRes (*GetErrorString)(cuRes, const char **);
    cuRes (*StreamBeginCapture)(void *, int);
    cuRes (*StreamEndCapture)(void *, void **);
    cuRes (*GraphInstantiateWithFlags)(void **, void *, unsigned long long);
    cuRes (*GraphLaunch)(void *, void *);
    cuRes (*GraphExecDestroy)(void *);
    cuRes (*GraphDestroy)(void *);
    void *ctx;
    int device;
} cuda_api;

static const char *const cuda_names[] = {
    "cuInit", "cuDeviceGetCount", "cuDeviceGet", "cuDeviceGetName", "cuDeviceTotalMem_v2", "cuDeviceGetAttribute",
    "cuDevicePrimaryCtxRetain", "cuCtxSetCurrent", "cuMemGetInfo_v2", "cuMemAlloc_v2", "cuMemFree_v2",
    "cuMemcpyHtoDAsync_v2", "cuMemcpyDtoHAsync_v2", "cuMemsetD8Async", "cuStreamCreate", "cuStreamDestroy_v2",
    "cuStreamSynchronize", "cuModuleLoadData", "cuModuleUnload", "cuModuleGetFunction", "cuLaunchKernel",
    "cuGetErrorString", "cuStreamBeginCapture_v2", "cuStreamEndCapture", "cuGraphInstantiateWithFlags",
    "cuGraphLaunch", "cuGraphExecDestroy", "cuGraphDestroy", NULL};

enum { CU_ATTR_SM_COUNT = 16, CU_ATTR_INTEGRATED = 18, CU_ATTR_CC_MAJOR = 75, CU_ATTR_CC_MINOR = 76 };

#define CU(rt) ((cuda_api *)(rt)->impl)
static const char *cu_err(hip_rt *rt, cuRes e) {
    const char *s = NULL;
    if (CU(rt)->GetErrorString(e, &s) != 0 || !s) s = "unknown CUDA error";
    return s;
}
#define CU_CALL(rt, why, call, what)                                                  \
    do {                                                                              \
        cuRes e_;                                                                     \
        if (CU(rt)->ctx) CU(rt)->CtxSetCurrent(CU(rt)->ctx);                          \
        e_ = (call);                                                                  \
        if (e_ != 0) {                                                                \
            why_set((why), "%s: %s (%d)", (what), cu_err((rt), e_), e_);              \
            return SC_EBACKEND;                                                       \
        }                                                                             \
    } while (0)

static int cu_device_count(hip_rt *rt, int *n, char *why) {
    cuRes e = CU(rt)->DeviceGetCount(n);
    if (e != 0) {
        why_set(why, "cuDeviceGetCount: %s", cu_err(rt, e));
        *n = 0;
        return SC_EBACKEND;
    }
    return SC_OK;
}

static int cu_device_info(hip_rt *rt, int index, hip_rt_dev_info *o, char *why) {
    int dev = 0, maj = 0, min = 0, sms = 0, integ = 0;
    size_t total = 0;
    memset(o, 0, sizeof(*o));
    cuRes e = CU(rt)->DeviceGet(&dev, index);
    if (e == 0) e = CU(rt)->DeviceTotalMem(&total, dev);
    if (e != 0) {
        why_set(why, "cuDeviceGet/TotalMem: %s", cu_err(rt, e));
        return SC_EBACKEND;
    }
    if (CU(rt)->DeviceGetName(o->name, (int)sizeof(o->name), dev) != 0) snprintf(o->name, sizeof(o->name), "CUDA device %d", index);
    CU(rt)->DeviceGetAttribute(&maj, CU_ATTR_CC_MAJOR, dev);
    CU(rt)->DeviceGetAttribute(&min, CU_ATTR_CC_MINOR, dev);
    CU(rt)->DeviceGetAttribute(&sms, CU_ATTR_SM_COUNT, dev);
    CU(rt)->DeviceGetAttribute(&integ, CU_ATTR_INTEGRATED, dev);
    snprintf(o->arch, sizeof(o->arch), "sm_%d%d", maj, min);
    o->memory_total = total;
    o->compute_units = sms;
    o->integrated = integ != 0;
    return SC_OK;
}

static int cu_device_use(hip_rt *rt, int index, char *why) {
    int dev = 0;
    cuRes e = CU(rt)->DeviceGet(&dev, index);
    if (e == 0) e = CU(rt)->DevicePrimaryCtxRetain(&CU(rt)->ctx, dev);
    if (e == 0) e = CU(rt)->CtxSetCurrent(CU(rt)->ctx);
    if (e != 0) {
        why_set(why, "cuDevicePrimaryCtxRetain: %s", cu_err(rt, e));
        return SC_EBACKEND;
    }
    CU(rt)->device = index;
    return SC_OK;
}

static int cu_mem_info(hip_rt *rt, uint64_t *fr, uint64_t *tot) {
    size_t f = 0, t = 0;
    CU_CALL(rt, NULL, CU(rt)->MemGetInfo(&f, &t), "cuMemGetInfo");
    *fr = f;
    *tot = t;
    return SC_OK;
}
static int cu_mem_alloc(hip_rt *rt, size_t size, void **ptr, char *why) {
    cuPtr p = 0;
    CU_CALL(rt, why, CU(rt)->MemAlloc(&p, size), "cuMemAlloc");
    *ptr = (void *)(uintptr_t)p;
    return SC_OK;
}
static void cu_mem_free(hip_rt *rt, void *ptr) {
    if (CU(rt)->ctx) CU(rt)->CtxSetCurrent(CU(rt)->ctx);
    CU(rt)->MemFree((cuPtr)(uintptr_t)ptr);
}
static int cu_copy_htod(hip_rt *rt, void *dst, const void *src, size_t n, void *st, char *why) {
    CU_CALL(rt, why, CU(rt)->MemcpyHtoDAsync((cuPtr)(uintptr_t)dst, src, n, st), "cuMemcpyHtoDAsync");
    return SC_OK;
}
static int cu_copy_dtoh(hip_rt *rt, void *dst, const void *src, size_t n, void *st, char *why) {
    CU_CALL(rt, why, CU(rt)->MemcpyDtoHAsync(dst, (cuPtr)(uintptr_t)src, n, st), "cuMemcpyDtoHAsync");
    return SC_OK;
}
static int cu_fill(hip_rt *rt, void *dst, uint8_t v, size_t n, void *st, char *why) {
    CU_CALL(rt, why, CU(rt)->MemsetD8Async((cuPtr)(uintptr_t)dst, v, n, st), "cuMemsetD8Async");
    return SC_OK;
}
static int cu_stream_create(hip_rt *rt, void **s, char *why) {
    CU_CALL(rt, why, CU(rt)->StreamCreate(s, 1u /* CU_STREAM_NON_BLOCKING */), "cuStreamCreate");
    return SC_OK;
}
static void cu_stream_destroy(hip_rt *rt, void *s) {
    if (CU(rt)->ctx) CU(rt)->CtxSetCurrent(CU(rt)->ctx);
    CU(rt)->StreamDestroy(s);
}
static int cu_stream_sync(hip_rt *rt, void *s, char *why) {
    CU_CALL(rt, why, CU(rt)->StreamSynchronize(s), "cuStreamSynchronize");
    return SC_OK;
}
static int cu_module_load(hip_rt *rt, const void *image, size_t size, void **m, char *why) {
    (void)size;
    CU_CALL(rt, why, CU(rt)->ModuleLoadData(m, image), "cuModuleLoadData");
    return SC_OK;
}
static void cu_module_unload(hip_rt *rt, void *m) {
    if (CU(rt)->ctx) CU(rt)->CtxSetCurrent(CU(rt)->ctx);
    CU(rt)->ModuleUnload(m);
}
static int cu_module_function(hip_rt *rt, void *m, const char *name, void **fn) {
    if (CU(rt)->ctx) CU(rt)->CtxSetCurrent(CU(rt)->ctx);
    return CU(rt)->ModuleGetFunction(fn, m, name) == 0 ? SC_OK : SC_ENOENT;
}
static int cu_launch(hip_rt *rt, void *fn, const unsigned g[3], const unsigned b[3], void *st, const void *args,
                     size_t args_size, char *why) {
    void *params[1] = {(void *)args};
    (void)args_size;
    CU_CALL(rt, why, CU(rt)->LaunchKernel(fn, g[0], g[1], g[2], b[0], b[1], b[2], 0, st, params, NULL),
            "cuLaunchKernel");
    return SC_OK;
}
static int cu_capture_begin(hip_rt *rt, void *st, char *why) {
    CU_CALL(rt, why, CU(rt)->StreamBeginCapture(st, 2 /* relaxed */), "cuStreamBeginCapture");
    return SC_OK;
}
static int cu_capture_end(hip_rt *rt, void *st, void **exec, char *why) {
    void *graph = NULL;
    CU_CALL(rt, why, CU(rt)->StreamEndCapture(st, &graph), "cuStreamEndCapture");
    cuRes e = CU(rt)->GraphInstantiateWithFlags(exec, graph, 0);
    CU(rt)->GraphDestroy(graph);
    if (e != 0) {
        why_set(why, "cuGraphInstantiate: %s", cu_err(rt, e));
        return SC_EBACKEND;
    }
    return SC_OK;
}
static int cu_graph_launch(hip_rt *rt, void *exec, void *st, char *why) {
    CU_CALL(rt, why, CU(rt)->GraphLaunch(exec, st), "cuGraphLaunch");
    return SC_OK;
}
static void cu_graph_destroy(hip_rt *rt, void *exec) {
    if (CU(rt)->ctx) CU(rt)->CtxSetCurrent(CU(rt)->ctx);
    CU(rt)->GraphExecDestroy(exec);
}

static int cuda_open(hip_rt *rt, char *why, size_t why_len) {
    cuda_api *a;
    const char *miss;
    rt->lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!rt->lib) {
        snprintf(why, why_len, "the CUDA driver (libcuda.so.1) is not installed");
        return SC_ENOENT;
    }
    snprintf(rt->lib_name, sizeof(rt->lib_name), "libcuda.so.1");
    a = hip_host->calloc(1, sizeof(*a));
    if (!a) return SC_ENOMEM;
    miss = resolve(rt->lib, cuda_names, (void **)a);
    if (miss) {
        snprintf(why, why_len, "libcuda.so.1 lacks %s (driver too old?)", miss);
        hip_host->free(a);
        return SC_ENOTSUP;
    }
    rt->impl = a;
    if (a->Init(0) != 0) {
        snprintf(why, why_len, "cuInit failed: no usable NVIDIA GPU");
        return SC_ENOTSUP;
    }
    rt->device_count = cu_device_count;
    rt->device_info = cu_device_info;
    rt->device_use = cu_device_use;
    rt->mem_info = cu_mem_info;
    rt->mem_alloc = cu_mem_alloc;
    rt->mem_free = cu_mem_free;
    rt->copy_htod = cu_copy_htod;
    rt->copy_dtoh = cu_copy_dtoh;
    rt->fill = cu_fill;
    rt->stream_create = cu_stream_create;
    rt->stream_destroy = cu_stream_destroy;
    rt->stream_sync = cu_stream_sync;
    rt->module_load = cu_module_load;
    rt->module_unload = cu_module_unload;
    rt->module_function = cu_module_function;
    rt->launch = cu_launch;
    rt->capture_begin = cu_capture_begin;
    rt->capture_end = cu_capture_end;
    rt->graph_launch = cu_graph_launch;
    rt->graph_destroy = cu_graph_destroy;
    return SC_OK;
}

/* ========================================================================= */
/* EMU: libstrixcore-hip-emu.so (backends/hip/emu): host memory, CPU fibers    */
/* ========================================================================= */
/* A captured "graph": the launches and fills enqueued between capture_begin
 * and capture_end, replayed in order by graph_launch. It stands in for
 * hipGraph so that graph mode's record / compare / capture / replay logic
 * (hip_stream.c) runs in CI too. */
typedef struct emu_op {
    const char *fn;            /* NULL: a fill */
    unsigned grid[3], block[3];
    void *args;
    size_t args_size;
    void *dst;
    size_t size;
    uint8_t value;
} emu_op;
typedef struct emu_graph {
    emu_op *ops;
    int n, cap;
} emu_graph;

typedef struct emu_api {
    int (*launch)(const char *, const unsigned[3], const unsigned[3], const void *, size_t, char *, size_t);
    int (*kernel_count)(void);
    const char *(*kernel_name)(int);
    emu_graph *capturing;      /* one stream captures at a time (the core runs one per device) */
} emu_api;
static const char *const emu_names[] = {"sc_emu_launch", "sc_emu_kernel_count", "sc_emu_kernel_name", NULL};
#define EMU(rt) ((emu_api *)(rt)->impl)

/* Emulated device memory is host memory; 256-byte alignment like hipMalloc's. */
#define EMU_ALIGN 256
#define EMU_MEMORY (8ull << 30)

static int emu_device_count(hip_rt *rt, int *n, char *why) {
    (void)rt;
    (void)why;
    *n = 1;
    return SC_OK;
}
static int emu_device_info(hip_rt *rt, int index, hip_rt_dev_info *o, char *why) {
    (void)rt;
    (void)index;
    (void)why;
    memset(o, 0, sizeof(*o));
    snprintf(o->name, sizeof(o->name), "HIP emulator (kernels as CPU fibers)");
    snprintf(o->arch, sizeof(o->arch), "emu");
    o->memory_total = EMU_MEMORY;
    o->integrated = true;
    return SC_OK;
}
static int emu_device_use(hip_rt *rt, int index, char *why) {
    (void)rt;
    (void)why;
    return index == 0 ? SC_OK : SC_EINVAL;
}
static int emu_mem_info(hip_rt *rt, uint64_t *fr, uint64_t *tot) {
    (void)rt;
    *fr = EMU_MEMORY;
    *tot = EMU_MEMORY;
    return SC_OK;
}
static int emu_mem_alloc(hip_rt *rt, size_t size, void **ptr, char *why) {
    (void)rt;
    *ptr = hip_host->aligned_alloc(EMU_ALIGN, (size + EMU_ALIGN - 1) / EMU_ALIGN * EMU_ALIGN);
    if (!*ptr) {
        why_set(why, "out of host memory (%zu bytes)", size);
        return SC_ENOMEM;
    }
    return SC_OK;
}
static void emu_mem_free(hip_rt *rt, void *ptr) {
    (void)rt;
    if (ptr) hip_host->aligned_free(ptr);
}
static int emu_copy(hip_rt *rt, void *dst, const void *src, size_t n, void *st, char *why) {
    (void)rt;
    (void)st;
    (void)why;
    memmove(dst, src, n);
    return SC_OK;
}
static emu_op *emu_graph_add(emu_graph *g) {
    if (g->n == g->cap) {
        int cap = g->cap ? g->cap * 2 : 64;
        emu_op *ops = hip_host->malloc((size_t)cap * sizeof(*ops));
        if (!ops) return NULL;
        if (g->n) memcpy(ops, g->ops, (size_t)g->n * sizeof(*ops));
        hip_host->free(g->ops);
        g->ops = ops;
        g->cap = cap;
    }
    emu_op *o = &g->ops[g->n++];
    memset(o, 0, sizeof(*o));
    return o;
}

static void emu_graph_free(emu_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->n; i++) hip_host->free(g->ops[i].args);
    hip_host->free(g->ops);
    hip_host->free(g);
}

static int emu_fill(hip_rt *rt, void *dst, uint8_t v, size_t n, void *st, char *why) {
    (void)st;
    if (EMU(rt)->capturing) {
        emu_op *o = emu_graph_add(EMU(rt)->capturing);
        if (!o) {
            why_set(why, "out of memory while capturing");
            return SC_ENOMEM;
        }
        o->dst = dst;
        o->size = n;
        o->value = v;
        return SC_OK;
    }
    memset(dst, v, n);
    return SC_OK;
}
static int emu_stream_create(hip_rt *rt, void **s, char *why) {
    (void)rt;
    (void)why;
    *s = (void *)(uintptr_t)1; /* launches run synchronously: the stream is a token */
    return SC_OK;
}
static void emu_stream_destroy(hip_rt *rt, void *s) {
    (void)rt;
    (void)s;
}
static int emu_stream_sync(hip_rt *rt, void *s, char *why) {
    (void)rt;
    (void)s;
    (void)why;
    return SC_OK;
}
/* One module: the library itself (image unused). */
static int emu_module_load(hip_rt *rt, const void *image, size_t size, void **m, char *why) {
    (void)image;
    (void)size;
    (void)why;
    *m = rt->lib;
    return SC_OK;
}
static void emu_module_unload(hip_rt *rt, void *m) {
    (void)rt;
    (void)m;
}
/* The function handle is the registry's own copy of the name. */
static int emu_module_function(hip_rt *rt, void *m, const char *name, void **fn) {
    (void)m;
    int n = EMU(rt)->kernel_count();
    for (int i = 0; i < n; i++) {
        const char *k = EMU(rt)->kernel_name(i);
        if (k && strcmp(k, name) == 0) {
            *fn = (void *)k;
            return SC_OK;
        }
    }
    return SC_ENOENT;
}
static int emu_launch(hip_rt *rt, void *fn, const unsigned g[3], const unsigned b[3], void *st, const void *args,
                      size_t args_size, char *why) {
    char err[HIP_RT_WHY] = "";
    (void)st;
    if (EMU(rt)->capturing) {
        emu_op *o = emu_graph_add(EMU(rt)->capturing);
        if (!o || !(o->args = hip_host->malloc(args_size ? args_size : 1))) {
            why_set(why, "out of memory while capturing");
            return SC_ENOMEM;
        }
        o->fn = fn;
        memcpy(o->grid, g, sizeof(o->grid));
        memcpy(o->block, b, sizeof(o->block));
        memcpy(o->args, args, args_size);
        o->args_size = args_size;
        return SC_OK;
    }
    int rc = EMU(rt)->launch((const char *)fn, g, b, args, args_size, err, sizeof(err));
    if (rc != 0) {
        why_set(why, "emulated launch of %s: %s", (const char *)fn, err[0] ? err : "failed");
        return SC_EBACKEND;
    }
    return SC_OK;
}

static int emu_capture_begin(hip_rt *rt, void *st, char *why) {
    (void)st;
    if (EMU(rt)->capturing) {
        why_set(why, "a capture is already running");
        return SC_ESTATE;
    }
    EMU(rt)->capturing = hip_host->calloc(1, sizeof(emu_graph));
    if (!EMU(rt)->capturing) return SC_ENOMEM;
    return SC_OK;
}
static int emu_capture_end(hip_rt *rt, void *st, void **exec, char *why) {
    (void)st;
    (void)why;
    *exec = EMU(rt)->capturing;
    EMU(rt)->capturing = NULL;
    return *exec ? SC_OK : SC_ESTATE;
}
static int emu_graph_launch(hip_rt *rt, void *exec, void *st, char *why) {
    const emu_graph *gr = exec;
    for (int i = 0; i < gr->n; i++) {
        const emu_op *o = &gr->ops[i];
        int rc = o->fn ? emu_launch(rt, (void *)o->fn, o->grid, o->block, st, o->args, o->args_size, why)
                       : emu_fill(rt, o->dst, o->value, o->size, st, why);
        if (rc != SC_OK) return rc;
    }
    return SC_OK;
}
static void emu_graph_destroy(hip_rt *rt, void *exec) {
    (void)rt;
    emu_graph_free(exec);
}

static int emu_open(hip_rt *rt, const char *plugin_dir, char *why, size_t why_len) {
    char path[1024];
    const char *env = getenv("STRIXCORE_HIP_EMU_LIB");
    emu_api *a;
    const char *miss;
    if (env && *env) snprintf(path, sizeof(path), "%s", env);
    else snprintf(path, sizeof(path), "%s/hip/libstrixcore-hip-emu.so", plugin_dir ? plugin_dir : ".");
    rt->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!rt->lib) {
        snprintf(why, why_len, "the HIP emulator library does not load: %s", dlerror());
        return SC_ENOENT;
    }
    snprintf(rt->lib_name, sizeof(rt->lib_name), "libstrixcore-hip-emu.so");
    a = hip_host->calloc(1, sizeof(*a));
    if (!a) return SC_ENOMEM;
    miss = resolve(rt->lib, emu_names, (void **)a);
    if (miss) {
        snprintf(why, why_len, "%s lacks %s", path, miss);
        hip_host->free(a);
        return SC_ENOTSUP;
    }
    rt->impl = a;
    rt->device_count = emu_device_count;
    rt->device_info = emu_device_info;
    rt->device_use = emu_device_use;
    rt->mem_info = emu_mem_info;
    rt->mem_alloc = emu_mem_alloc;
    rt->mem_free = emu_mem_free;
    rt->copy_htod = emu_copy;
    rt->copy_dtoh = emu_copy;
    rt->fill = emu_fill;
    rt->stream_create = emu_stream_create;
    rt->stream_destroy = emu_stream_destroy;
    rt->stream_sync = emu_stream_sync;
    rt->module_load = emu_module_load;
    rt->module_unload = emu_module_unload;
    rt->module_function = emu_module_function;
    rt->launch = emu_launch;
    rt->capture_begin = emu_capture_begin;
    rt->capture_end = emu_capture_end;
    rt->graph_launch = emu_graph_launch;
    rt->graph_destroy = emu_graph_destroy;
    return SC_OK;
}

/* ========================================================================= */
int hip_rt_open(hip_rt *rt, hip_platform platform, const char *plugin_dir, char *why, size_t why_len) {
    int rc;
    memset(rt, 0, sizeof(*rt));
    if (platform == HIP_PLAT_NONE) {
        char w1[HIP_RT_WHY] = "", w2[HIP_RT_WHY] = "";
        int n = 0;
        rc = hip_rt_open(rt, HIP_PLAT_AMD, plugin_dir, w1, sizeof(w1));
        if (rc == SC_OK && rt->device_count(rt, &n, NULL) == SC_OK && n > 0) return SC_OK;
        if (rc == SC_OK) snprintf(w1, sizeof(w1), "no AMD GPU visible to %s", rt->lib_name);
        hip_rt_close(rt);
        rc = hip_rt_open(rt, HIP_PLAT_NVIDIA, plugin_dir, w2, sizeof(w2));
        if (rc == SC_OK && rt->device_count(rt, &n, NULL) == SC_OK && n > 0) return SC_OK;
        if (rc == SC_OK) snprintf(w2, sizeof(w2), "no NVIDIA GPU visible to libcuda");
        hip_rt_close(rt);
        snprintf(why, why_len, "%s; %s", w1, w2);
        return rc == SC_OK ? SC_ENOTSUP : rc;
    }
    rt->platform = platform;
    switch (platform) {
    case HIP_PLAT_AMD: rc = amd_open(rt, why, why_len); break;
    case HIP_PLAT_NVIDIA: rc = cuda_open(rt, why, why_len); break;
    case HIP_PLAT_EMU: rc = emu_open(rt, plugin_dir, why, why_len); break;
    default: rc = SC_EINVAL; break;
    }
    if (rc != SC_OK) hip_rt_close(rt);
    return rc;
}

void hip_rt_close(hip_rt *rt) {
    if (rt->platform == HIP_PLAT_EMU && rt->impl) emu_graph_free(EMU(rt)->capturing);
    if (rt->impl) hip_host->free(rt->impl);
    /* The GPU runtimes stay mapped: libamdhip64 and libcuda start threads
     * and register atexit handlers that must not outlive their code. */
    if (rt->lib && rt->platform == HIP_PLAT_EMU) dlclose(rt->lib);
    memset(rt, 0, sizeof(*rt));
}

/* The driver / runtime version for sc_device_props.driver: "HIP 6.2.41134"
 * (hipRuntimeGetVersion: major * 10^7 + minor * 10^5 + patch), "CUDA 12.4"
 * (cuDriverGetVersion: major * 1000 + minor * 10), "emulator". Looked up here
 * rather than required at open: an old runtime without it still works. */
void hip_rt_driver_version(hip_rt *rt, char *out, size_t len) {
    typedef int (*version_fn)(int *);
    int v = 0;
    snprintf(out, len, "%s", rt->platform == HIP_PLAT_EMU ? "emulator" : "unknown");
    if (!rt->lib) return;
    if (rt->platform == HIP_PLAT_AMD) {
        version_fn f = (version_fn)dlsym(rt->lib, "hipRuntimeGetVersion");
        if (f && f(&v) == 0 && v > 0) snprintf(out, len, "HIP %d.%d.%d", v / 10000000, v / 100000 % 100, v % 100000);
    } else if (rt->platform == HIP_PLAT_NVIDIA) {
        version_fn f = (version_fn)dlsym(rt->lib, "cuDriverGetVersion");
        if (f && f(&v) == 0 && v > 0) snprintf(out, len, "CUDA %d.%d", v / 1000, v % 1000 / 10);
    }
}

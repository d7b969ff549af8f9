/*
 * backends/hip/hip_runtime.h - one table over the three GPU runtimes the
 * plugin can drive (hip_runtime.c opens them with dlopen):
 *
 *   amd     libamdhip64.so (ROCm 5.x / 6.x): hipModuleLoadData, hipModuleLaunchKernel, ...
 *   nvidia  libcuda.so.1, the CUDA driver API: cuModuleLoadData, cuLaunchKernel, ...
 *           (the host half of the HIP-to-CUDA mapping; kernels/sc_hip_cuda.h is the device half)
 *   emu     libstrixcore-hip-emu.so: host memory, kernels run as CPU fibers
 *
 * The HIP module API mirrors the CUDA driver API one to one, so every entry
 * below is one call on either GPU runtime. Functions return SC_OK or a
 * negative SC_E* code; on failure `why` (when non-NULL) says which call failed
 * and the runtime's own message.
 */
#ifndef SC_HIP_RUNTIME_H
#define SC_HIP_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hip_internal.h"

#define HIP_RT_WHY 256

typedef struct hip_rt_dev_info {
    char name[96];
    char arch[32];            /* "sm_90"; AMD: filled in by the code object that loads */
    uint64_t memory_total;
    int compute_units;        /* 0 when unknown */
    bool integrated;
} hip_rt_dev_info;

struct hip_rt {
    hip_platform platform;
    void *lib;                                  /* dlopen handle */
    char lib_name[64];
    void *impl;                                 /* the platform's resolved entry points */

    int (*device_count)(hip_rt *rt, int *n, char *why);
    int (*device_info)(hip_rt *rt, int index, hip_rt_dev_info *out, char *why);
    /* Make the device current on the calling thread (every entry below
     * acts on the current device). */
    int (*device_use)(hip_rt *rt, int index, char *why);
    int (*mem_info)(hip_rt *rt, uint64_t *free_bytes, uint64_t *total_bytes);

    int (*mem_alloc)(hip_rt *rt, size_t size, void **ptr, char *why);
    void (*mem_free)(hip_rt *rt, void *ptr);
    int (*copy_htod)(hip_rt *rt, void *dst, const void *src, size_t n, void *stream, char *why);
    int (*copy_dtoh)(hip_rt *rt, void *dst, const void *src, size_t n, void *stream, char *why);
    int (*fill)(hip_rt *rt, void *dst, uint8_t value, size_t n, void *stream, char *why);

    int (*stream_create)(hip_rt *rt, void **stream, char *why);
    void (*stream_destroy)(hip_rt *rt, void *stream);
    int (*stream_sync)(hip_rt *rt, void *stream, char *why);

    /* image: a code object (amd), a fatbin/cubin (nvidia), a library path (emu) */
    int (*module_load)(hip_rt *rt, const void *image, size_t size, void **module, char *why);
    void (*module_unload)(hip_rt *rt, void *module);
    /* SC_ENOENT (no message) when the module has no such kernel */
    int (*module_function)(hip_rt *rt, void *module, const char *name, void **fn);
    int (*launch)(hip_rt *rt, void *fn, const unsigned grid[3], const unsigned block[3], void *stream,
                  const void *args, size_t args_size, char *why);

    /* Graphs (NULL when the runtime has none: emu). Capture records every
     * launch and fill enqueued on `stream` between begin and end. */
    int (*capture_begin)(hip_rt *rt, void *stream, char *why);
    int (*capture_end)(hip_rt *rt, void *stream, void **exec, char *why);
    int (*graph_launch)(hip_rt *rt, void *exec, void *stream, char *why);
    void (*graph_destroy)(hip_rt *rt, void *exec);
};

/* Open the runtime of `platform` (HIP_PLAT_NONE: the first that loads and
 * has a device: amd, then nvidia; emu is only ever opened by name).
 * plugin_dir: the directory of this plugin (where the emu library and the
 * NVIDIA fatbins are looked for). */
int hip_rt_open(hip_rt *rt, hip_platform platform, const char *plugin_dir, char *why, size_t why_len);
void hip_rt_close(hip_rt *rt);
/* "HIP 6.2.41134", "CUDA 12.4", "emulator" (sc_device_props.driver); "unknown"
 * when the runtime does not say */
void hip_rt_driver_version(hip_rt *rt, char *out, size_t len);
const char *hip_platform_name(hip_platform p);

#endif /* SC_HIP_RUNTIME_H */

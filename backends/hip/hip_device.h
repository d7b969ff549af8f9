/*
 * backends/hip/hip_device.h - the plugin's objects: plugin -> device -> stream.
 *
 * hip_device.c: devices, their kernel modules (the embedded AMD code objects,
 * the NVIDIA fatbins beside the plugin, or the emulator) and a name -> kernel
 * cache. hip_stream.c: streams, launches, scratch, eager and graph execution.
 * hip_tune.c: the device's table of tuned kernel choices (tune_query / tune_set).
 */
#ifndef SC_HIP_DEVICE_H
#define SC_HIP_DEVICE_H

#include <pthread.h>

#include "hip_internal.h"
#include "hip_runtime.h"
#include "sc_tune_table.h"

typedef struct hip_plugin {
    hip_rt rt;
    int n_devices;
    char dir[1024];            /* where the plugin was loaded from */
} hip_plugin;

#define HIP_FN_CACHE 256       /* kernels a device can look up (power of 2) */
#define HIP_MAX_MODULES 64

typedef struct hip_fn_slot {
    char name[64];
    void *fn;
} hip_fn_slot;

struct hip_dev {
    hip_plugin *pl;
    hip_rt *rt;
    int index;
    char name[16];             /* "hip0" */
    hip_dev_caps caps;
    void *modules[HIP_MAX_MODULES];
    int n_modules;
    pthread_mutex_t fn_mu;     /* the cache is filled lazily from any stream's thread */
    hip_fn_slot fns[HIP_FN_CACHE];
    pthread_mutex_t io_mu;     /* buffer reads/writes share one stream */
    void *io_stream;
    sc_tune_table tune;        /* kernel tuning: key -> variant (hip_tune.c) */
};

int hip_dev_create(hip_plugin *pl, int index, hip_dev **out);
void hip_dev_destroy(hip_dev *d);
void hip_dev_sync_all(hip_dev *d);
/* The kernel `name` of any loaded module, cached; SC_ENOENT when none has it. */
int hip_dev_function(hip_dev *d, const char *name, void **fn);

int hip_stream_create(hip_dev *d, hip_stream **out);
void hip_stream_destroy(hip_stream *s);
int hip_graph_compute(hip_stream *s, sc_tensor *const *nodes, int n_nodes);

/* The AMD code objects built into the plugin (generated hip_code_objects.c). */
typedef struct hip_code_object {
    const char *arch;          /* "gfx1151" */
    const char *file;          /* "matmul": kernels/matmul.hip */
    const unsigned char *data;
    size_t size;
} hip_code_object;
/* Every file for one arch, then the next arch; *n set to the count. */
const hip_code_object *hip_code_objects_list(int *n);

#endif /* SC_HIP_DEVICE_H */

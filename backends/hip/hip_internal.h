/*
 * backends/hip/hip_internal.h - what the HIP backend's files share.
 *
 * The plugin is C and links no GPU runtime. hip_runtime.c opens one at run
 * time behind the hip_rt table:
 *
 *   amd     libamdhip64 (ROCm): the code objects built for gfx1151 / gfx1150 /
 *           gfx1100 and embedded in the plugin, loaded with hipModuleLoadData
 *   nvidia  libcuda (the CUDA driver API): the same kernels/<name>.hip compiled by
 *           nvcc through kernels/sc_hip_cuda.h into fatbins beside the plugin
 *   emu     libstrixcore-hip-emu.so: the same kernels compiled for the CPU
 *           (kernels/sc_hip_emu.h), every GPU thread a fiber; CI runs it
 *
 * Op families (hip_op_<family>.c, one per kernels/<family>.hip) land
 * independently like the Vulkan backend's: CMake defines
 * SC_HIP_HAVE_FAMILY_<family>=1 for each file present and hip_ops.c routes
 * ops to them. A family provides
 *
 *   bool hip_supports_<family>(hip_dev *d, const sc_tensor *node);
 *   int  hip_run_<family>(hip_stream *s, const sc_tensor *node);
 *
 * run() only enqueues: it calls hip_launch / hip_memset (which may be
 * recorded and replayed as a graph, see hip_graph.c), never waits, never
 * reads device memory back. Every node's inputs and output are device
 * pointers (node->data, node->src[i]->data) on this device.
 *
 * Kernel arguments: each kernel takes one struct, declared in the family's
 * kernels/<family>.h, which this C code and the kernel source both include
 * (plain C types: pointers, int64_t / int32_t / float, byte strides). The
 * emulator checks the struct size at every launch.
 */
#ifndef SC_HIP_INTERNAL_H
#define SC_HIP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strixcore/plugin.h>

extern const sc_host_api *hip_host;
#define HIP_LOG(level, ...) hip_host->log((level), "hip", __VA_ARGS__)

typedef enum hip_platform { HIP_PLAT_NONE = 0, HIP_PLAT_AMD, HIP_PLAT_NVIDIA, HIP_PLAT_EMU } hip_platform;

typedef struct hip_rt hip_rt;         /* hip_runtime.c */
typedef struct hip_dev hip_dev;
typedef struct hip_stream hip_stream;

/* What the kernels' host side may ask about the device. */
typedef struct hip_dev_caps {
    hip_platform platform;
    char arch[32];          /* "gfx1151", "sm_90", "emu" */
    int compute_units;      /* CUs / SMs; 0 when unknown */
    bool wmma;              /* gfx11 WMMA kernels were built and load (SC_HIP_WMMA) */
    bool igpu;              /* memory shared with the host (Strix Halo) */
} hip_dev_caps;

const hip_dev_caps *hip_caps(const hip_dev *d);
hip_dev *hip_stream_dev(hip_stream *s);

/* Enqueue kernel `name` (an SC_KERNEL of kernels/<name>.hip) on the stream:
 * grid[3] blocks of block[3] threads, `args` the kernel's args struct
 * (copied). SC_ENOENT when no loaded module has the kernel. */
int hip_launch(hip_stream *s, const char *name, const unsigned grid[3], const unsigned block[3], const void *args,
               size_t args_size);
#define HIP_LAUNCH(s, name, gx, gy, gz, bx, args)                                          \
    hip_launch((s), (name), (const unsigned[3]){(unsigned)(gx), (unsigned)(gy), (unsigned)(gz)}, \
               (const unsigned[3]){(unsigned)(bx), 1u, 1u}, &(args), sizeof(args))

/* Enqueue a byte fill of device memory. */
int hip_memset(hip_stream *s, void *dst, uint8_t value, size_t size);

/* The stream's error word (a device u32): kernels atomicOr SC_HIP_ERR_RANGE
 * (kernels/sc_hip.h sc_report) into it when an id, position, block or g_idx
 * entry is out of range and skip that element; graph_compute clears it before
 * the nodes run and returns SC_ERANGE when it is set afterwards (the
 * reference's answer to the same input). Pass it in the kernel's args. */
unsigned *hip_err_word(hip_stream *s);
#define SC_HIP_ERR_RANGE 1u

/* Device scratch for one node (e.g. int8 copies of activations, split-K
 * partials): valid for the launches this node enqueues; the next node may
 * reuse it. NULL when it cannot be had (the op then fails with SC_ENOMEM). */
void *hip_scratch(hip_stream *s, size_t size);

/* Largest grid dimension y / z a launch may use (65535 on every platform). */
#define HIP_GRID_YZ_MAX 65535u
#define HIP_GRID_X_MAX 2147483647u

/* ---- families ---------------------------------------------------------------- */
#define HIP_FAMILY_DECL(f)                                      \
    bool hip_supports_##f(hip_dev *d, const sc_tensor *node); \
    int hip_run_##f(hip_stream *s, const sc_tensor *node);
HIP_FAMILY_DECL(eltwise)  /* ADD MUL SCALE SILU SWIGLU SIGMOID */
HIP_FAMILY_DECL(norm)     /* RMS_NORM SOFTMAX ROPE */
HIP_FAMILY_DECL(select)   /* GET_ROWS CPY TOP_K ARGMAX */
HIP_FAMILY_DECL(matmul)   /* MUL_MAT MUL_MAT_ID */
HIP_FAMILY_DECL(attn)     /* KV_WRITE ATTENTION */
HIP_FAMILY_DECL(recurrent) /* SSM_CONV GATED_DELTA_NET (update their state source in place) */

/* ---- kernel tuning (hip_tune.c; each tunable family builds its keys and
 * lists its variants in its own file, docs/hip.md "Tuning") ------------------- */
int hip_tune_query(hip_dev *d, const sc_tensor *node, sc_tune_info *info);
int hip_tune_set(hip_dev *d, const char *key, const char *variant);
/* false while the device's table is empty: dispatch then builds no key */
bool hip_tune_active(hip_dev *d);
/* the table's choice for key into variant (SC_TUNE_NAME_LEN bytes); false: none */
bool hip_tune_get(hip_dev *d, const char *key, char *variant);
uint64_t hip_tune_generation(hip_dev *d);
/* STRIXCORE_HIP_TUNE_LOG=1: log "tune KEY: VARIANT -> KERNEL" for every tuned-path dispatch */
void hip_tune_note(const char *key, const char *variant, bool chosen, const char *kernel);
/* the families' halves: tune_query for their nodes, and whether a name could
 * ever be a variant of key's op family (tune_set's SC_ENOENT) */
int hip_tune_query_matmul(hip_dev *d, const sc_tensor *node, sc_tune_info *info);
bool hip_tune_known_matmul(const char *key, const char *variant);
int hip_tune_query_attn(hip_dev *d, const sc_tensor *node, sc_tune_info *info);
bool hip_tune_known_attn(const char *key, const char *variant);

bool hip_ops_supports(hip_dev *d, const sc_tensor *node);
int hip_ops_run(hip_stream *s, const sc_tensor *node);
const char *hip_ops_families(void);

/* ---- small helpers for families -------------------------------------------- */
static inline int64_t hip_nrows(const sc_tensor *t) { return t->ne[1] * t->ne[2] * t->ne[3]; }
static inline unsigned hip_div_up(int64_t a, int64_t b) { return (unsigned)((a + b - 1) / b); }

#endif /* SC_HIP_INTERNAL_H */

/*
 * backends/vulkan/vk_internal.h - the Vulkan backend's internal contract:
 * what the infrastructure (loader, device, memory, pipelines, recording;
 * vk_plugin.c, vk_device.c, vk_memory.c, vk_pipeline.c, vk_graph.c) offers
 * the op families (vk_op_*.c), and what each op family provides.
 *
 * Addressing. Every buffer is created with SHADER_DEVICE_ADDRESS usage and
 * buffer_alloc hands the core the buffer's VkDeviceAddress as its base, so a
 * tensor's `data` IS the device address of its element 0 (views and offsets
 * included). Shaders receive addresses in push constants and read memory
 * through GL_EXT_buffer_reference; no descriptor sets exist. Vulkan 1.2 with
 * bufferDeviceAddress, shaderInt64 and 8/16-bit storage is required (RADV,
 * NVIDIA and lavapipe all have them); a device without is not listed.
 *
 * Recording. graph_compute records every node into one command buffer (more
 * when a graph is very long), one vk_dispatch after another; the recorder
 * puts a compute->compute memory barrier between dispatches that need one
 * (conservatively: every one, until hazard tracking says otherwise), submits
 * once and waits. Shaders report data-dependent range errors (ids, pos, seq,
 * block ids, g_idx out of range) by atomicOr of VK_ERR_RANGE into the u32 at
 * vk_rec_error_addr(); graph_compute returns SC_ERANGE when it is set (the
 * offending writes are skipped, the others may have happened).
 *
 * Shaders live in backends/vulkan/shaders/NAME.comp (GLSL 450 + extensions),
 * compiled by glslc at build time, one SPIR-V module per (source, -D set)
 * listed in backends/vulkan/shaders/shaders.cmake, embedded in the plugin
 * and looked up by name. Local sizes are specialization constants 0, 1, 2
 * (layout(local_size_x_id = 0, ...)), so one module serves many sizes.
 */
#ifndef STRIXCORE_VK_INTERNAL_H
#define STRIXCORE_VK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VK_NO_PROTOTYPES /* every entry point is loaded from libvulkan.so.1 at run time */
#include <vulkan/vulkan.h>

#include <strixcore/plugin.h>

extern const sc_host_api *vk_host; /* set at init; valid until shutdown */

#define VK_LOG(level, ...) do { if (vk_host && vk_host->log) vk_host->log(level, "vulkan", __VA_ARGS__); } while (0)

/* ---- device ----------------------------------------------------------------- */
typedef struct vk_dev vk_dev;

typedef struct vk_caps {
    uint32_t subgroup_size;        /* the device's default subgroup size */
    uint32_t max_workgroup_size;   /* maxComputeWorkGroupInvocations */
    uint32_t max_push_constants;   /* bytes (>= 128) */
    bool subgroup_arithmetic;      /* subgroupAdd/Max in compute shaders */
    bool subgroup_size_control;    /* requiredSubgroupSize works for compute */
    bool fp16_arith;               /* shaderFloat16 */
    bool int8_arith;               /* shaderInt8 */
    bool int_dot;                  /* VK_KHR_shader_integer_dot_product (4x8-bit packed) */
    bool coop_matrix;              /* VK_KHR_cooperative_matrix with f16 x f16 -> f32 */
    bool unified_memory;           /* an iGPU whose device-local memory is host-visible */
    bool timestamps;               /* compute queue timestamps */
    float timestamp_period_ns;
    /* appended by the infrastructure (fill-ins for the bools above): */
    uint32_t min_subgroup_size;    /* the range a required subgroup size may take */
    uint32_t max_subgroup_size;    /*   (both == subgroup_size without size control) */
    bool full_subgroups;           /* computeFullSubgroups: vk_pipeline_get(required_subgroup) also
                                      asks for full subgroups when local_size_x is a multiple */
    bool int_dot_accelerated;      /* 4x8-bit packed signed dot product runs in hardware */
    uint32_t coopmat_m, coopmat_n, coopmat_k; /* a subgroup-scope f16 x f16 -> f32 shape (coop_matrix) */
    uint32_t max_shared_bytes;     /* maxComputeSharedMemorySize */
    uint32_t compute_units;        /* SMs / CUs (VK_NV_shader_sm_builtins, VK_AMD_shader_core_properties); 0: unknown */
} vk_caps;

const vk_caps *vk_dev_caps(const vk_dev *d);

/* ---- shaders and pipelines ------------------------------------------------------ */
typedef struct vk_spirv {
    const char *name;              /* e.g. "add_f32", "mul_mat_vec_qg4" */
    const uint32_t *code;
    size_t size;                   /* bytes */
} vk_spirv;

/* The embedded modules (generated vk_shaders.c); NULL when absent. */
const vk_spirv *vk_spirv_find(const char *name);

typedef struct vk_pipeline vk_pipeline;

/* A compute pipeline for module `name` with push constants of push_size
 * bytes (<= vk_dev_caps()->max_push_constants) and specialization constants
 * spec[0..n_spec) bound to constant ids 0..n_spec-1 (ids 0-2 are the local
 * size; give at least spec[0]). required_subgroup: 0, or a subgroup size the
 * pipeline must run with (needs subgroup_size_control). Cached per device by
 * (name, spec, required_subgroup); created on first use. NULL on failure
 * (logged). */
vk_pipeline *vk_pipeline_get(vk_dev *d, const char *name, uint32_t push_size, const uint32_t *spec, int n_spec,
                             uint32_t required_subgroup);

/* ---- recording one graph ---------------------------------------------------------- */
typedef struct vk_rec vk_rec;

vk_dev *vk_rec_dev(vk_rec *r);
/* Append one dispatch of gx * gy * gz workgroups (each <= 65535; split larger
 * grids yourself). push: push_size bytes, copied. Returns SC_OK or an error. */
int vk_dispatch(vk_rec *r, vk_pipeline *p, const void *push, uint32_t push_size, uint32_t gx, uint32_t gy,
                uint32_t gz);
/* Device memory for this graph only (e.g. int8 copies of activations),
 * 256-byte aligned, contents undefined; *addr its device address. */
int vk_rec_scratch(vk_rec *r, size_t bytes, uint64_t *addr);
/* Scratch for the current node's own dispatches only (e.g. a GEMM's partial
 * sums before its summing pass): one region that every node of the graph
 * reuses, so its size is the largest request, not the sum. The recorder puts
 * a barrier in front of the node's next dispatch when an earlier node's
 * dispatches may still be using it. Contents undefined; 256-byte aligned. */
int vk_rec_scratch_node(vk_rec *r, size_t bytes, uint64_t *addr);
/* Added: the next vk_dispatch of the current node reads and writes nothing
 * an earlier dispatch of this node wrote (one grid split into pieces, or
 * independent outputs), so the recorder puts no barrier in front of it.
 * Without this call every dispatch of a node after its first gets one. */
void vk_rec_independent(vk_rec *r);
/* Constant data for this graph's shaders (tables too big for push
 * constants): `bytes` (a multiple of 4, <= 65536) copied now into the
 * recording (vkCmdUpdateBuffer into scratch, ordered before the next
 * dispatch); *addr its device address. The same bytes asked for again in one
 * graph get the same address, so a table is stored once per graph. */
int vk_rec_const(vk_rec *r, const void *data, size_t bytes, uint64_t *addr);
/* Derived data shared by the nodes of one graph (the int8 copy of an
 * activation that several GEMVs read: vk_op_matmul_dp4.c). put: `val` (e.g. a
 * vk_rec_scratch address) was computed by this node's dispatches from the
 * bytes [addr, addr + bytes) under `tag` (what was computed and how), and a
 * barrier of this node follows that computation before any later node runs
 * (the node's own later dispatch gets one: vk_rec_independent not called).
 * get: true and *val for the same (tag, addr, bytes) while no later node has
 * written any of those bytes (the putting node's own output may be them) (the entry goes when one does; at most
 * 8 live entries, the oldest goes first). Valid for the recording only. */
void vk_rec_memo_put(vk_rec *r, uint64_t tag, uint64_t addr, uint64_t bytes, uint64_t val);
bool vk_rec_memo_get(vk_rec *r, uint64_t tag, uint64_t addr, uint64_t bytes, uint64_t *val);
/* The u32 error flag shaders atomicOr into. */
uint64_t vk_rec_error_addr(vk_rec *r);
#define VK_ERR_RANGE 1u

/* The device address of a tensor's element 0. */
static inline uint64_t vk_addr(const sc_tensor *t) { return (uint64_t)(uintptr_t)t->data; }

/* ---- op families ------------------------------------------------------------------ */
/* Each family file implements supports (a pure question: types, shapes,
 * strides, params this family's shaders handle on this device) and record
 * (push the dispatches for one node). record may assume supports said yes. */
#define VK_OP_FAMILY(fam)                                               \
    bool vk_supports_##fam(vk_dev *d, const sc_tensor *node);            \
    int vk_record_##fam(vk_rec *r, const sc_tensor *node);

VK_OP_FAMILY(eltwise)   /* vk_op_eltwise.c: ADD, MUL, SCALE, SILU, SWIGLU, SIGMOID */
VK_OP_FAMILY(norm)      /* vk_op_norm.c:    RMS_NORM, SOFTMAX, ROPE */
VK_OP_FAMILY(select)    /* vk_op_select.c:  GET_ROWS, CPY, TOP_K, ARGMAX */
VK_OP_FAMILY(matmul)    /* vk_op_matmul.c:  MUL_MAT, MUL_MAT_ID */
VK_OP_FAMILY(attn)      /* vk_op_attn.c:    KV_WRITE, ATTENTION */
VK_OP_FAMILY(recurrent) /* vk_op_recurrent.c: SSM_CONV, GATED_DELTA_NET (update a source in place) */

/* ---- fusion ------------------------------------------------------------------------ */
/* A fuser (vk_fuse_<name>.c, listed in vk_fuse.c) records a chain of graph
 * nodes as fewer dispatches than one per node: a decode step is hundreds of
 * small dependent dispatches, and each barrier between them costs the GPU a
 * drain and a ramp-up (microseconds each, the dominant cost on a big GPU).
 *
 * Before recording, graph_compute asks every fuser, at every node i not yet
 * taken, whether a pattern it knows starts there (match). A group is the
 * nodes members[0] = i < members[1] < ... : consecutive WORK nodes (nodes
 * that are not NONE or VIEW; the VIEW nodes between them are free), so
 * nothing else runs between its first and last member and the group can be
 * recorded at the position of its first. The group then replaces its
 * members (record): it must write every member result that something
 * outside the group reads (vk_fg_uses), and may skip the others.
 *
 * The scheduler keeps an intermediate's memory unreused for
 * SC_SCHED_REUSE_DELAY nodes after its last use (docs/plugin-abi.md), so a
 * group spanning fewer nodes than that never finds a result it writes placed
 * over an input another member still reads; match checks vk_fg_disjoint for
 * longer groups or when in doubt.
 *
 * Fusion is on unless STRIXCORE_VK_FUSE=0 (or a comma list of fuser names
 * to leave out, e.g. STRIXCORE_VK_FUSE=-moe_down); STRIXCORE_VK_FUSE_LOG=1
 * logs one info line per group ("fused NAME: ..."), which tests check. */
typedef struct vk_fuse_graph vk_fuse_graph;

int vk_fg_count(const vk_fuse_graph *g);
sc_tensor *vk_fg_node(const vk_fuse_graph *g, int i);
/* The next work node after i not taken by an earlier group, or -1. */
int vk_fg_next(const vk_fuse_graph *g, int i);
/* How many times t's result is read: src[] slots of work nodes that name t
 * or a view of t, plus one when t or a view of it is a graph output. */
int vk_fg_uses(const vk_fuse_graph *g, const sc_tensor *t);
/* The view-resolved root of t (the tensor that owns its memory). */
const sc_tensor *vk_fg_root(const sc_tensor *t);
/* t's bytes and u's bytes do not overlap. */
bool vk_fg_disjoint(const sc_tensor *t, const sc_tensor *u);
/* y, written by a group, may be read in place (the same elements: same
 * address, shape and strides) but must not partly overlap t. */
bool vk_fg_in_place_or_disjoint(const sc_tensor *y, const sc_tensor *t);
/* The other operand of a binary node one of whose operands is a (NULL when
 * both are a, or neither). */
const sc_tensor *vk_fg_other_src(const sc_tensor *node, const sc_tensor *a);

/* The MoE combine of the experts' products mm [D, k, T] (k >= 2), starting at
 * work node j: MUL(mm, rw [1, k, T]) (rw f32, contiguous slots), then
 * ADD(slot 0, slot 1), ADD(., slot 2), ... (slot s: the [D, T] view of the
 * MUL at s * nb1) and, when next, the layer's residual ADD(x, sum); mm and
 * each intermediate read only by the next member, the result's bytes apart
 * from mm's and rw's. Fills members (node j first) and returns their count
 * (k or k + 1), with *rw and *out (the last member), or 0. */
int vk_fg_moe_sum(const vk_fuse_graph *g, const sc_tensor *mm, int j, int *members, int max, const sc_tensor **rw,
                  const sc_tensor **out);

typedef struct vk_fuser {
    const char *name;
    /* A pattern starting at node i? Fill members[0..n) (<= max) and return n
     * (>= 2), or 0. Pure: checks types, shapes, uses and what this device
     * supports; records nothing. */
    int (*match)(vk_dev *d, const vk_fuse_graph *g, int i, int *members, int max);
    /* Record the group match found. */
    int (*record)(vk_rec *r, const vk_fuse_graph *g, const int *members, int n);
} vk_fuser;

#define VK_FUSER(name) extern const vk_fuser vk_fuser_##name;

#endif

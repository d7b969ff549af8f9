/*
 * backends/vulkan/vk_infra.h - what the infrastructure files (vk_plugin.c,
 * vk_device.c, vk_memory.c, vk_pipeline.c, vk_graph.c, vk_ops.c) share among
 * themselves. Op families include vk_internal.h only; nothing here is part
 * of their contract.
 *
 * Vulkan is reached only through function pointers: libvulkan.so.1 is
 * dlopen()ed at probe/init time (VK_NO_PROTOTYPES), global and instance
 * entry points come from vkGetInstanceProcAddr, device entry points from
 * vkGetDeviceProcAddr into a table per VkDevice. A machine without a Vulkan
 * loader still loads the plugin; probe then answers score 0.
 */
#ifndef STRIXCORE_VK_INFRA_H
#define STRIXCORE_VK_INFRA_H

#include <pthread.h>
#include <signal.h>

#include "sc_tune_table.h"
#include "vk_internal.h"

#define VK_BUF_ALIGN 256u          /* buffer_type_props alignment: every base is a multiple */
#define VK_MAX_DEVICES 16
#define VK_MAX_PUSH 256u           /* push-constant staging in vk_dispatch */

/* VK_KHR_cooperative_matrix arrived in header 1.3.255; older headers (Debian
 * 12 ships 1.3.239) lack it, so the few names used are spelled out here. */
#ifndef VK_KHR_cooperative_matrix
#define VK_KHR_cooperative_matrix 1
#define VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME "VK_KHR_cooperative_matrix"
#define VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_KHR ((VkStructureType)1000506000)
#define VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_KHR ((VkStructureType)1000506001)
typedef enum VkComponentTypeKHR {
    VK_COMPONENT_TYPE_FLOAT16_KHR = 0,
    VK_COMPONENT_TYPE_FLOAT32_KHR = 1,
    VK_COMPONENT_TYPE_MAX_ENUM_KHR = 0x7FFFFFFF
} VkComponentTypeKHR;
typedef enum VkScopeKHR {
    VK_SCOPE_DEVICE_KHR = 1,
    VK_SCOPE_WORKGROUP_KHR = 2,
    VK_SCOPE_SUBGROUP_KHR = 3,
    VK_SCOPE_QUEUE_FAMILY_KHR = 5,
    VK_SCOPE_MAX_ENUM_KHR = 0x7FFFFFFF
} VkScopeKHR;
typedef struct VkCooperativeMatrixPropertiesKHR {
    VkStructureType sType;
    void *pNext;
    uint32_t MSize, NSize, KSize;
    VkComponentTypeKHR AType, BType, CType, ResultType;
    VkBool32 saturatingAccumulation;
    VkScopeKHR scope;
} VkCooperativeMatrixPropertiesKHR;
typedef struct VkPhysicalDeviceCooperativeMatrixFeaturesKHR {
    VkStructureType sType;
    void *pNext;
    VkBool32 cooperativeMatrix;
    VkBool32 cooperativeMatrixRobustBufferAccess;
} VkPhysicalDeviceCooperativeMatrixFeaturesKHR;
typedef VkResult (VKAPI_PTR *PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR)(
    VkPhysicalDevice physicalDevice, uint32_t *pPropertyCount, VkCooperativeMatrixPropertiesKHR *pProperties);
#endif

/* ---- function tables ----------------------------------------------------------- */
#define VK_GLOBAL_FNS(X)                       \
    X(vkCreateInstance)                        \
    X(vkEnumerateInstanceExtensionProperties)

#define VK_INSTANCE_FNS(X)                      \
    X(vkDestroyInstance)                        \
    X(vkEnumeratePhysicalDevices)               \
    X(vkGetPhysicalDeviceProperties)            \
    X(vkGetPhysicalDeviceProperties2)           \
    X(vkGetPhysicalDeviceFeatures2)             \
    X(vkGetPhysicalDeviceMemoryProperties)      \
    X(vkGetPhysicalDeviceMemoryProperties2)     \
    X(vkGetPhysicalDeviceQueueFamilyProperties) \
    X(vkEnumerateDeviceExtensionProperties)     \
    X(vkCreateDevice)                           \
    X(vkGetDeviceProcAddr)

#define VK_DEVICE_FNS(X)               \
    X(vkDestroyDevice)                 \
    X(vkGetDeviceQueue)                \
    X(vkDeviceWaitIdle)                \
    X(vkCreateBuffer)                  \
    X(vkDestroyBuffer)                 \
    X(vkGetBufferMemoryRequirements)   \
    X(vkAllocateMemory)                \
    X(vkFreeMemory)                    \
    X(vkBindBufferMemory)              \
    X(vkMapMemory)                     \
    X(vkUnmapMemory)                   \
    X(vkGetBufferDeviceAddress)        \
    X(vkCreateCommandPool)             \
    X(vkDestroyCommandPool)            \
    X(vkResetCommandPool)              \
    X(vkAllocateCommandBuffers)        \
    X(vkBeginCommandBuffer)            \
    X(vkEndCommandBuffer)              \
    X(vkCmdBindPipeline)               \
    X(vkCmdPushConstants)              \
    X(vkCmdDispatch)                   \
    X(vkCmdPipelineBarrier)            \
    X(vkCmdFillBuffer)                 \
    X(vkCmdUpdateBuffer)               \
    X(vkCmdCopyBuffer)                 \
    X(vkCmdResetQueryPool)             \
    X(vkCmdWriteTimestamp)             \
    X(vkCreateQueryPool)               \
    X(vkDestroyQueryPool)              \
    X(vkGetQueryPoolResults)           \
    X(vkQueueSubmit)                   \
    X(vkQueueWaitIdle)                 \
    X(vkCreateFence)                   \
    X(vkDestroyFence)                  \
    X(vkWaitForFences)                 \
    X(vkResetFences)                   \
    X(vkCreateShaderModule)            \
    X(vkDestroyShaderModule)           \
    X(vkCreatePipelineLayout)          \
    X(vkDestroyPipelineLayout)         \
    X(vkCreateComputePipelines)        \
    X(vkDestroyPipeline)               \
    X(vkCreatePipelineCache)           \
    X(vkDestroyPipelineCache)          \
    X(vkGetPipelineCacheData)

#define VK_FN_FIELD(n) PFN_##n n;

/* The loader and the instance (one per plugin). */
typedef struct vk_lib {
    void *so;                                /* dlopen("libvulkan.so.1") */
    PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr;
    VK_GLOBAL_FNS(VK_FN_FIELD)
    VK_INSTANCE_FNS(VK_FN_FIELD)
    PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR;
    VkInstance instance;
    uint32_t api_version;                    /* the instance's (1.2 or 1.3) */
} vk_lib;

typedef struct vk_devfn {
    VK_DEVICE_FNS(VK_FN_FIELD)
} vk_devfn;

/* Everything known about one usable physical device (filled at enumeration,
 * before any VkDevice exists). */
typedef struct vk_pdev {
    VkPhysicalDevice pd;
    int vk_index;                            /* in vkEnumeratePhysicalDevices order */
    VkPhysicalDeviceProperties props;
    char driver_name[VK_MAX_DRIVER_NAME_SIZE];
    char driver_info[VK_MAX_DRIVER_INFO_SIZE];
    uint32_t api_version;                    /* min(device, instance) */
    uint32_t queue_family;
    uint32_t timestamp_bits;
    VkDeviceSize max_alloc;                  /* maxMemoryAllocationSize */
    uint32_t compute_units;                  /* SMs / CUs where a vendor extension tells; 0: unknown */
    vk_caps caps;
    bool mapped_device_memory;               /* device buffers are host-visible and mapped */
    /* features / extensions to enable */
    bool has_budget, has_int16, has_shader_int8, has_fp16, has_push16, has_push8, has_ubo16, has_ubo8,
        has_vmm, has_full_subgroups, has_host_query_reset;
    bool ext_subgroup_size_control, ext_int_dot, ext_coop_matrix; /* as extensions (1.2 devices) */
    bool ext_exec_props;                     /* VK_KHR_pipeline_executable_properties, enabled only for
                                                STRIXCORE_VK_PIPELINE_STATS=1 */
    /* memory types, best first, -1 terminated: device buffers, staging/readback */
    int dev_types[VK_MAX_MEMORY_TYPES + 1];
    int host_types[VK_MAX_MEMORY_TYPES + 1];
    VkMemoryPropertyFlags type_flags[VK_MAX_MEMORY_TYPES];
    char features[160];                      /* "sg 64 (32-64), fp16, int8, dot, coopmat, uma" */
} vk_pdev;

/* ---- memory -------------------------------------------------------------------------- */
typedef struct vk_buf {
    VkBuffer buf;
    VkDeviceMemory mem;
    VkDeviceSize size;                       /* bytes usable (>= requested, multiple of 4) */
    uint64_t addr;                           /* vkGetBufferDeviceAddress */
    void *map;                               /* persistent mapping, or NULL */
    uint32_t mem_type;
    struct vk_buf *prev, *next;              /* the device's list of live buffers */
} vk_buf;

enum vk_buf_kind {
    VK_BUF_DEVICE,   /* device-local; mapped when the device's memory is host-visible */
    VK_BUF_HOST,     /* host-visible, coherent, mapped (staging, readback) */
};

/* ---- the opened device ---------------------------------------------------------------- */
typedef struct vk_pipe_cache vk_pipe_cache;

struct vk_dev {
    const vk_pdev *pi;
    vk_lib *lib;
    VkDevice dev;
    VkQueue queue;
    vk_devfn fn;
    vk_caps caps;                            /* copy of pi->caps (STRIXCORE_VK_DISABLE applied) */
    pthread_mutex_t queue_lock;              /* vkQueueSubmit */
    pthread_mutex_t xfer_lock;               /* the transfer context and the staging buffer */
    pthread_mutex_t buf_lock;
    vk_buf *bufs;                            /* live buffers (freed at close if leaked) */
    uint64_t allocated;                      /* bytes of live buffers */
    /* transfer context: staging copies, fills (under queue_lock) */
    VkCommandPool xfer_pool;
    VkCommandBuffer xfer_cb;
    VkFence xfer_fence;
    vk_buf *staging;
    /* pipelines */
    vk_pipe_cache *pipes;
    /* STRIXCORE_VK_PIPELINE_STATS=1: the driver's statistics of each new pipeline */
    PFN_vkGetPipelineExecutablePropertiesKHR get_exec_props;
    PFN_vkGetPipelineExecutableStatisticsKHR get_exec_stats;
    /* kernel tuning: the core's choices, key -> variant (vk_tune.c) */
    sc_tune_table tune;
};

/* vk_plugin.c */
int vk_lib_open(vk_lib *lib, char *why, size_t why_len);
void vk_lib_close(vk_lib *lib);
const char *vk_result_str(VkResult r);
/* Log a failed Vulkan call ("vkCreateBuffer (4096 bytes) failed: VK_ERROR_OUT_OF_DEVICE_MEMORY")
 * and pass its result on: if (vk_check(d->fn.vkX(...), "vkX") != VK_SUCCESS) ... */
VkResult vk_check(VkResult r, const char *what);
int vk_result_to_sc(VkResult r);

/* vk_device.c */
int vk_enumerate(vk_lib *lib, vk_pdev *out, int max, char *why, size_t why_len);
int vk_dev_create(vk_lib *lib, const vk_pdev *pi, vk_dev **out);
void vk_dev_destroy(vk_dev *d);
void vk_pdev_memory(vk_lib *lib, const vk_pdev *pi, uint64_t *total, uint64_t *free_bytes);
/* Run a one-off transfer command buffer: rec(cb, user) records, then it is
 * submitted and waited for. The caller holds xfer_lock. */
int vk_dev_oneshot(vk_dev *d, void (*rec)(vk_dev *d, VkCommandBuffer cb, void *user), void *user);

/* vk_memory.c */
int vk_buf_create(vk_dev *d, enum vk_buf_kind kind, size_t size, vk_buf **out);
void vk_buf_destroy(vk_dev *d, vk_buf *b);
void vk_buf_destroy_all(vk_dev *d);
int vk_buf_write(vk_dev *d, vk_buf *b, size_t off, const void *src, size_t n);
int vk_buf_read(vk_dev *d, vk_buf *b, size_t off, void *dst, size_t n);
int vk_buf_fill(vk_dev *d, vk_buf *b, uint8_t value);

/* vk_pipeline.c */
int vk_pipes_init(vk_dev *d);
void vk_pipes_free(vk_dev *d);
VkPipeline vk_pipeline_handle(const vk_pipeline *p);
VkPipelineLayout vk_pipeline_layout(const vk_pipeline *p);
uint32_t vk_pipeline_push_size(const vk_pipeline *p);
const char *vk_pipeline_name(const vk_pipeline *p);

/* vk_ops.c */
bool vk_ops_supports(vk_dev *d, const sc_tensor *node);
int vk_ops_record(vk_rec *r, const sc_tensor *node);
const char *vk_ops_families(void); /* "eltwise, norm, ..." compiled in */

/* vk_graph.c */
typedef struct vk_stream vk_stream;
int vk_stream_create(vk_dev *d, vk_stream **out);
void vk_stream_destroy(vk_stream *s);
int vk_graph_compute(vk_stream *s, sc_tensor *const *nodes, int n_nodes);

/* vk_fuse.c: the fusion plan of one graph (vk_internal.h "fusion"). *out is
 * NULL when nothing fuses (or STRIXCORE_VK_FUSE=0). */
int vk_fuse_plan(vk_dev *d, sc_tensor *const *nodes, int n_nodes, vk_fuse_graph **out);
void vk_fuse_free(vk_fuse_graph *g);
/* Node i: -1 a plain node (also when g is NULL), -2 a later member of a
 * group (skip it), else a group index with its members and fuser. */
int vk_fuse_group_at(const vk_fuse_graph *g, int i, const int **members, int *n, const vk_fuser **fuser);
int vk_fuse_n_groups(const vk_fuse_graph *g);

/* small helpers */
static inline uint64_t vk_round_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }
void *vk_calloc(size_t n, size_t size);
void vk_free(void *p);
void vk_strcat(char *dst, size_t len, const char *src);
/* Around driver calls that may start threads (see vk_plugin.c). */
void vk_sig_block(sigset_t *old);
void vk_sig_restore(const sigset_t *old);

#endif

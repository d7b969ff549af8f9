/*
 * backends/vulkan/vk_device.c - physical devices: which are usable, what
 * they can do (vk_caps), which memory types buffers use; and the VkDevice
 * with its queue and its transfer context.
 *
 * Usable means Vulkan >= 1.2 with bufferDeviceAddress (every tensor is a
 * device address), shaderInt64 (address arithmetic), 16- and 8-bit storage
 * (f16/bf16/QG weights), scalarBlockLayout (common.glsl's buffer
 * references) and a compute queue. Selection: STRIXCORE_VK_DEVICES, a comma
 * list of indices (vkEnumeratePhysicalDevices order) or case-insensitive
 * name substrings; without it every usable GPU, or lavapipe & co. when the
 * machine has no GPU (CPU implementations would only slow a GPU machine's
 * backend-ops and scheduling down).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vk_infra.h"

static bool has_ext(const VkExtensionProperties *e, uint32_t n, const char *name) {
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(e[i].extensionName, name) == 0) return true;
    return false;
}

static void append(char *buf, size_t len, const char *fmt, const char *s) {
    size_t o = strlen(buf);
    if (o < len) snprintf(buf + o, len - o, fmt, s);
}

/* STRIXCORE_VK_DISABLE=fp16,int8,int_dot,coopmat,subgroup_arith,subgroup_size_control,uma,timestamps
 * turns capabilities off, to test an op family's fallback paths on a device that has them;
 * "map" leaves device buffers unmapped (staging copies, as on a discrete GPU). */
static bool disabled(const char *cap) {
    const char *env = getenv("STRIXCORE_VK_DISABLE");
    size_t n = strlen(cap);
    for (const char *p = env; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncasecmp(p, cap, n) == 0) return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

/* Memory types for device buffers and for staging, best first. */
static void pick_memory_types(vk_pdev *pi, const VkPhysicalDeviceMemoryProperties *mp) {
    const VkMemoryPropertyFlags DL = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, HV = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
                                HC = VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    bool cpu = pi->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
    bool igpu = pi->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU;
    int nd = 0, nh = 0;
    bool uma = false;

    for (uint32_t i = 0; i < mp->memoryTypeCount; i++) {
        VkMemoryPropertyFlags f = mp->memoryTypes[i].propertyFlags;
        bool heap_dl = mp->memoryHeaps[mp->memoryTypes[i].heapIndex].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT;
        if ((f & (DL | HV | HC)) == (DL | HV | HC) && heap_dl) uma = true;
    }
    for (uint32_t i = 0; i < mp->memoryTypeCount; i++) pi->type_flags[i] = mp->memoryTypes[i].propertyFlags;
    pi->caps.unified_memory = igpu && uma;
    pi->mapped_device_memory = (igpu || cpu) && uma;

    /* device buffers: mapped device-local first on UMA; plain device-local
     * (not the small BAR window) first on a discrete GPU. */
    if (pi->mapped_device_memory) {
        for (uint32_t i = 0; i < mp->memoryTypeCount; i++)
            if ((mp->memoryTypes[i].propertyFlags & (DL | HV | HC)) == (DL | HV | HC)) pi->dev_types[nd++] = (int)i;
        /* then any host-visible memory (GTT on an APU whose carve-out is full) */
        for (uint32_t i = 0; i < mp->memoryTypeCount; i++)
            if ((mp->memoryTypes[i].propertyFlags & (DL | HV | HC)) == (HV | HC)) pi->dev_types[nd++] = (int)i;
    } else {
        for (uint32_t i = 0; i < mp->memoryTypeCount; i++)
            if ((mp->memoryTypes[i].propertyFlags & (DL | HV)) == DL) pi->dev_types[nd++] = (int)i;
        for (uint32_t i = 0; i < mp->memoryTypeCount; i++)
            if ((mp->memoryTypes[i].propertyFlags & (DL | HV)) == (DL | HV)) pi->dev_types[nd++] = (int)i;
    }
    pi->dev_types[nd] = -1;
    /* staging / readback: host-visible coherent, cached first (reads), not device-local first */
    for (int pass = 0; pass < 3; pass++)
        for (uint32_t i = 0; i < mp->memoryTypeCount; i++) {
            VkMemoryPropertyFlags f = mp->memoryTypes[i].propertyFlags;
            bool cached = f & VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
            if ((f & (HV | HC)) != (HV | HC)) continue;
            if ((pass == 0 && cached && !(f & DL)) || (pass == 1 && !cached && !(f & DL)) || (pass == 2 && (f & DL)))
                pi->host_types[nh++] = (int)i;
        }
    pi->host_types[nh] = -1;
}

/* Fill *pi for one physical device. false (and a reason) when unusable. */
static bool query_pdev(vk_lib *lib, VkPhysicalDevice pd, int index, vk_pdev *pi, char *why, size_t why_len) {
    VkExtensionProperties *ext = NULL;
    uint32_t n_ext = 0, n_qf = 0;
    VkQueueFamilyProperties *qf = NULL;
    VkPhysicalDeviceMemoryProperties mp;
    bool ok = false;

    memset(pi, 0, sizeof(*pi));
    pi->pd = pd;
    pi->vk_index = index;
    lib->vkGetPhysicalDeviceProperties(pd, &pi->props);
    pi->api_version = pi->props.apiVersion < lib->api_version ? pi->props.apiVersion : lib->api_version;
    if (pi->api_version < VK_API_VERSION_1_2) {
        snprintf(why, why_len, "Vulkan %u.%u < 1.2", VK_API_VERSION_MAJOR(pi->props.apiVersion),
                 VK_API_VERSION_MINOR(pi->props.apiVersion));
        return false;
    }
    bool v13 = pi->api_version >= VK_API_VERSION_1_3;

    if (vk_check(lib->vkEnumerateDeviceExtensionProperties(pd, NULL, &n_ext, NULL), "vkEnumerateDeviceExtensionProperties") != VK_SUCCESS)
        n_ext = 0;
    if (n_ext && (ext = vk_calloc(n_ext, sizeof(*ext))) != NULL &&
        lib->vkEnumerateDeviceExtensionProperties(pd, NULL, &n_ext, ext) != VK_SUCCESS)
        n_ext = 0;
    if (!ext) n_ext = 0;
    pi->has_budget = has_ext(ext, n_ext, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
    pi->ext_subgroup_size_control = !v13 && has_ext(ext, n_ext, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);
    pi->ext_int_dot = !v13 && has_ext(ext, n_ext, VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME);
    pi->ext_coop_matrix = has_ext(ext, n_ext, VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME) &&
                          lib->vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR;
    {
        const char *ps = getenv("STRIXCORE_VK_PIPELINE_STATS");
        pi->ext_exec_props = ps && ps[0] && strcmp(ps, "0") != 0 &&
                             has_ext(ext, n_ext, VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME);
    }

    /* features */
    VkPhysicalDeviceCooperativeMatrixFeaturesKHR fcm = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_KHR};
    VkPhysicalDeviceShaderIntegerDotProductFeatures fdot = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES};
    VkPhysicalDeviceSubgroupSizeControlFeatures fssc = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES};
    VkPhysicalDeviceVulkan13Features f13 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
    VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    VkPhysicalDeviceVulkan11Features f11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES, .pNext = &f12};
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f11};
    void **tail = &f12.pNext;
    if (v13) { *tail = &f13; tail = &f13.pNext; }
    if (pi->ext_subgroup_size_control) { *tail = &fssc; tail = &fssc.pNext; }
    if (pi->ext_int_dot) { *tail = &fdot; tail = &fdot.pNext; }
    if (pi->ext_coop_matrix) { *tail = &fcm; tail = &fcm.pNext; }
    lib->vkGetPhysicalDeviceFeatures2(pd, &f2);

    /* properties */
    VkPhysicalDeviceShaderIntegerDotProductProperties pdot = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_PROPERTIES};
    VkPhysicalDeviceSubgroupSizeControlProperties pssc = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES};
    VkPhysicalDeviceVulkan12Properties p12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_PROPERTIES};
    VkPhysicalDeviceVulkan11Properties p11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_PROPERTIES, .pNext = &p12};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &p11};
    tail = &p12.pNext;
    if (v13 || pi->ext_subgroup_size_control) { *tail = &pssc; tail = &pssc.pNext; }
    if (v13 || pi->ext_int_dot) { *tail = &pdot; tail = &pdot.pNext; }
    /* the compute unit count, where the vendor tells it (GEMM grid sizing) */
    VkPhysicalDeviceShaderSMBuiltinsPropertiesNV psm = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_SM_BUILTINS_PROPERTIES_NV};
    VkPhysicalDeviceShaderCorePropertiesAMD pcore = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_CORE_PROPERTIES_AMD};
    if (has_ext(ext, n_ext, VK_NV_SHADER_SM_BUILTINS_EXTENSION_NAME)) { *tail = &psm; tail = &psm.pNext; }
    if (has_ext(ext, n_ext, VK_AMD_SHADER_CORE_PROPERTIES_EXTENSION_NAME)) { *tail = &pcore; tail = &pcore.pNext; }
    lib->vkGetPhysicalDeviceProperties2(pd, &p2);
    const uint64_t amd_cus = (uint64_t)pcore.shaderEngineCount * pcore.shaderArraysPerEngineCount *
                             pcore.computeUnitsPerShaderArray;
    pi->compute_units = psm.shaderSMCount ? psm.shaderSMCount : amd_cus <= 65536 ? (uint32_t)amd_cus : 0;
    snprintf(pi->driver_name, sizeof(pi->driver_name), "%s", p12.driverName);
    snprintf(pi->driver_info, sizeof(pi->driver_info), "%s", p12.driverInfo);
    pi->max_alloc = p11.maxMemoryAllocationSize;

    /* requirements */
    const char *missing = !f12.bufferDeviceAddress         ? "bufferDeviceAddress"
                          : !f2.features.shaderInt64        ? "shaderInt64"
                          : !f11.storageBuffer16BitAccess   ? "storageBuffer16BitAccess"
                          : !f12.storageBuffer8BitAccess    ? "storageBuffer8BitAccess"
                          : !f12.scalarBlockLayout          ? "scalarBlockLayout"
                                                            : NULL;
    if (missing) {
        snprintf(why, why_len, "no %s", missing);
        goto out;
    }

    /* a compute queue: a compute-only family first (async compute), with timestamps */
    lib->vkGetPhysicalDeviceQueueFamilyProperties(pd, &n_qf, NULL);
    qf = n_qf ? vk_calloc(n_qf, sizeof(*qf)) : NULL;
    if (qf) lib->vkGetPhysicalDeviceQueueFamilyProperties(pd, &n_qf, qf);
    int best = -1, best_rank = -1;
    for (uint32_t i = 0; qf && i < n_qf; i++) {
        if (!(qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) || qf[i].queueCount == 0) continue;
        int rank = (qf[i].timestampValidBits ? 2 : 0) + (qf[i].queueFlags & VK_QUEUE_GRAPHICS_BIT ? 0 : 1);
        if (rank > best_rank) best = (int)i, best_rank = rank;
    }
    if (best < 0) {
        snprintf(why, why_len, "no compute queue");
        goto out;
    }
    pi->queue_family = (uint32_t)best;
    pi->timestamp_bits = qf[best].timestampValidBits;

    /* optional features we enable when present */
    pi->has_int16 = f2.features.shaderInt16;
    pi->has_shader_int8 = f12.shaderInt8;
    pi->has_fp16 = f12.shaderFloat16;
    pi->has_push16 = f11.storagePushConstant16;
    pi->has_push8 = f12.storagePushConstant8;
    pi->has_ubo16 = f11.uniformAndStorageBuffer16BitAccess;
    pi->has_ubo8 = f12.uniformAndStorageBuffer8BitAccess;
    /* the memory model only with device scope: atomics on the error flag use it */
    pi->has_vmm = f12.vulkanMemoryModel && f12.vulkanMemoryModelDeviceScope;
    pi->has_host_query_reset = f12.hostQueryReset;
    bool ssc = v13 ? f13.subgroupSizeControl : fssc.subgroupSizeControl;
    bool full = v13 ? f13.computeFullSubgroups : fssc.computeFullSubgroups;
    bool dot = v13 ? f13.shaderIntegerDotProduct : fdot.shaderIntegerDotProduct;
    pi->has_full_subgroups = full;

    /* capabilities */
    vk_caps *c = &pi->caps;
    c->subgroup_size = p11.subgroupSize;
    c->max_workgroup_size = pi->props.limits.maxComputeWorkGroupInvocations;
    c->max_push_constants = pi->props.limits.maxPushConstantsSize;
    c->max_shared_bytes = pi->props.limits.maxComputeSharedMemorySize;
    c->compute_units = pi->compute_units;
    c->subgroup_arithmetic = (p11.subgroupSupportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                             (p11.subgroupSupportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) &&
                             !disabled("subgroup_arith");
    c->subgroup_size_control = ssc && (pssc.requiredSubgroupSizeStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                               !disabled("subgroup_size_control");
    c->min_subgroup_size = c->subgroup_size_control ? pssc.minSubgroupSize : c->subgroup_size;
    c->max_subgroup_size = c->subgroup_size_control ? pssc.maxSubgroupSize : c->subgroup_size;
    c->full_subgroups = full && ssc;
    c->fp16_arith = f12.shaderFloat16 && !disabled("fp16");
    c->int8_arith = f12.shaderInt8 && !disabled("int8");
    c->int_dot = dot && !disabled("int_dot");
    c->int_dot_accelerated = c->int_dot && pdot.integerDotProduct4x8BitPackedSignedAccelerated;
    c->timestamps = pi->timestamp_bits > 0 && pi->props.limits.timestampPeriod > 0 && !disabled("timestamps");
    c->timestamp_period_ns = pi->props.limits.timestampPeriod;
    if (pi->ext_coop_matrix && fcm.cooperativeMatrix && !disabled("coopmat")) {
        uint32_t n = 0;
        VkCooperativeMatrixPropertiesKHR *cm = NULL;
        if (lib->vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR(pd, &n, NULL) == VK_SUCCESS && n &&
            (cm = vk_calloc(n, sizeof(*cm))) != NULL) {
            for (uint32_t i = 0; i < n; i++) cm[i].sType = VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_KHR;
            if (lib->vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR(pd, &n, cm) == VK_SUCCESS)
                for (uint32_t i = 0; i < n && !c->coop_matrix; i++)
                    if (cm[i].scope == VK_SCOPE_SUBGROUP_KHR && cm[i].AType == VK_COMPONENT_TYPE_FLOAT16_KHR &&
                        cm[i].BType == VK_COMPONENT_TYPE_FLOAT16_KHR && cm[i].CType == VK_COMPONENT_TYPE_FLOAT32_KHR &&
                        cm[i].ResultType == VK_COMPONENT_TYPE_FLOAT32_KHR) {
                        c->coop_matrix = true;
                        c->coopmat_m = cm[i].MSize, c->coopmat_n = cm[i].NSize, c->coopmat_k = cm[i].KSize;
                    }
            vk_free(cm);
        }
    }
    pi->ext_coop_matrix = pi->ext_coop_matrix && fcm.cooperativeMatrix;
    pi->ext_int_dot = pi->ext_int_dot && dot;
    pi->ext_subgroup_size_control = pi->ext_subgroup_size_control && ssc;

    lib->vkGetPhysicalDeviceMemoryProperties(pd, &mp);
    pick_memory_types(pi, &mp);
    if (disabled("uma")) c->unified_memory = false;
    /* "map": device buffers are never mapped (the discrete GPU's staging path, on any device) */
    if (disabled("map")) pi->mapped_device_memory = false;
    if (pi->dev_types[0] < 0) {
        snprintf(why, why_len, "no device-local memory type");
        goto out;
    }

    /* "vk1.3 sg64 (32-64) arith fp16 int8 dot coopmat16x16x16 uma ts cu40" */
    char *f = pi->features, r[48];
    size_t fl = sizeof(pi->features);
    snprintf(f, fl, "vk%u.%u sg%u", VK_API_VERSION_MAJOR(pi->api_version), VK_API_VERSION_MINOR(pi->api_version),
             c->subgroup_size);
    if (c->subgroup_size_control && c->min_subgroup_size != c->max_subgroup_size) {
        snprintf(r, sizeof(r), " (%u-%u)", c->min_subgroup_size, c->max_subgroup_size);
        append(f, fl, "%s", r);
    }
    if (c->subgroup_arithmetic) append(f, fl, "%s", " arith");
    if (c->fp16_arith) append(f, fl, "%s", " fp16");
    if (c->int8_arith) append(f, fl, "%s", " int8");
    if (c->int_dot) append(f, fl, "%s", c->int_dot_accelerated ? " dot" : " dot(sw)");
    if (c->coop_matrix) {
        snprintf(r, sizeof(r), " coopmat%ux%ux%u", c->coopmat_m, c->coopmat_n, c->coopmat_k);
        append(f, fl, "%s", r);
    }
    if (c->unified_memory) append(f, fl, "%s", " uma");
    if (c->timestamps) append(f, fl, "%s", " ts");
    if (c->compute_units) {
        snprintf(r, sizeof(r), " cu%u", c->compute_units);
        append(f, fl, "%s", r);
    }
    ok = true;
out:
    vk_free(ext);
    vk_free(qf);
    return ok;
}

/* Does selection entry `sel` (an index or a name substring) name device pi? */
static bool sel_matches(const char *sel, size_t len, const vk_pdev *pi) {
    char buf[64];
    char *end;
    if (len == 0 || len >= sizeof(buf)) return false;
    memcpy(buf, sel, len);
    buf[len] = '\0';
    long idx = strtol(buf, &end, 10);
    if (*end == '\0') return idx == pi->vk_index;
    for (const char *p = pi->props.deviceName; *p; p++)
        if (strncasecmp(p, buf, len) == 0) return true;
    return false;
}

/* Sanitizer builds. Drivers keep a few allocations made while the physical
 * devices are listed reachable only from their own globals (lavapipe: 128
 * bytes per load); the loader unloads the driver at vkDestroyInstance, so
 * at exit LeakSanitizer finds them unreferenced and blames the process.
 * What the driver allocates inside that call is not ours: LSan is told to
 * ignore it. (Weak references: NULL, and skipped, without the sanitizer.) */
extern void __lsan_disable(void) __attribute__((weak));
extern void __lsan_enable(void) __attribute__((weak));

static VkResult list_devices(vk_lib *lib, uint32_t *n, VkPhysicalDevice *pds) {
    VkResult r;
    if (__lsan_disable) __lsan_disable();
    r = lib->vkEnumeratePhysicalDevices(lib->instance, n, pds);
    if (__lsan_enable) __lsan_enable();
    return r;
}

int vk_enumerate(vk_lib *lib, vk_pdev *out, int max, char *why, size_t why_len) {
    VkPhysicalDevice *pds = NULL;
    vk_pdev *all = NULL;
    bool *usable = NULL;
    uint32_t n = 0;
    int n_out = 0, n_gpu = 0;
    const char *sel = getenv("STRIXCORE_VK_DEVICES");

    why[0] = '\0';
    if (vk_check(list_devices(lib, &n, NULL), "vkEnumeratePhysicalDevices") != VK_SUCCESS ||
        n == 0) {
        snprintf(why, why_len, "no Vulkan device");
        return 0;
    }
    pds = vk_calloc(n, sizeof(*pds));
    all = vk_calloc(n, sizeof(*all));
    usable = vk_calloc(n, sizeof(*usable));
    if (!pds || !all || !usable || list_devices(lib, &n, pds) < 0) {
        snprintf(why, why_len, "cannot list Vulkan devices");
        goto out;
    }
    for (uint32_t i = 0; i < n; i++) {
        char r[128] = "";
        usable[i] = query_pdev(lib, pds[i], (int)i, &all[i], r, sizeof(r));
        if (!usable[i]) {
            size_t o = strlen(why);
            if (o < why_len)
                snprintf(why + o, why_len - o, "%s%s: %s", o ? "; " : "", all[i].props.deviceName, r);
        } else if (all[i].props.deviceType != VK_PHYSICAL_DEVICE_TYPE_CPU) {
            n_gpu++;
        }
    }
    if (sel && sel[0]) {
        /* in the order listed; each device once */
        for (const char *p = sel; p && *p;) {
            const char *end = strchr(p, ',');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            bool any = false;
            for (uint32_t i = 0; i < n && n_out < max; i++) {
                if (!sel_matches(p, len, &all[i])) continue;
                any = true;
                if (!usable[i]) continue;
                out[n_out++] = all[i];
                usable[i] = false; /* taken */
            }
            if (!any) VK_LOG(SC_LOG_WARN, "STRIXCORE_VK_DEVICES: '%.*s' matches no Vulkan device", (int)len, p);
            p = end ? end + 1 : NULL;
        }
        if (n_out == 0 && !why[0]) snprintf(why, why_len, "STRIXCORE_VK_DEVICES=%s selects no usable device", sel);
    } else {
        for (uint32_t i = 0; i < n && n_out < max; i++) {
            if (!usable[i]) continue;
            if (n_gpu > 0 && all[i].props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU) {
                VK_LOG(SC_LOG_DEBUG, "%s skipped: a GPU is present (STRIXCORE_VK_DEVICES selects it)",
                       all[i].props.deviceName);
                continue;
            }
            out[n_out++] = all[i];
        }
    }
    if (n_out == 0 && !(sel && sel[0])) {
        char r[256];
        snprintf(r, sizeof(r), "no Vulkan 1.2 device with bufferDeviceAddress%s%s", why[0] ? ": " : "", why);
        snprintf(why, why_len, "%s", r);
    }
out:
    vk_free(pds);
    vk_free(all);
    vk_free(usable);
    return n_out;
}

/* memory_total: the heaps device buffers come from; memory_free: their
 * budget minus usage (VK_EXT_memory_budget) or, without it, the heap size. */
void vk_pdev_memory(vk_lib *lib, const vk_pdev *pi, uint64_t *total, uint64_t *free_bytes) {
    VkPhysicalDeviceMemoryBudgetPropertiesEXT budget = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT};
    VkPhysicalDeviceMemoryProperties2 mp2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2};
    bool seen[VK_MAX_MEMORY_HEAPS] = {false};
    *total = *free_bytes = 0;
    if (!lib->instance) return;
    if (pi->has_budget) mp2.pNext = &budget;
    lib->vkGetPhysicalDeviceMemoryProperties2(pi->pd, &mp2);
    /* the first (preferred) memory type's heap, and any other device-local heap it may spill to */
    for (int k = 0; pi->dev_types[k] >= 0; k++) {
        uint32_t h = mp2.memoryProperties.memoryTypes[pi->dev_types[k]].heapIndex;
        if (seen[h] || (k > 0 && !(mp2.memoryProperties.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)))
            continue;
        seen[h] = true;
        *total += mp2.memoryProperties.memoryHeaps[h].size;
        if (pi->has_budget)
            *free_bytes += budget.heapBudget[h] > budget.heapUsage[h] ? budget.heapBudget[h] - budget.heapUsage[h] : 0;
        else
            *free_bytes += mp2.memoryProperties.memoryHeaps[h].size;
    }
}

/* ------------------------------------------------------------------------ */
/* the VkDevice                                                              */
/* ------------------------------------------------------------------------ */
int vk_dev_create(vk_lib *lib, const vk_pdev *pi, vk_dev **out) {
    const char *exts[8];
    uint32_t n_ext = 0;
    float prio = 1.0f;
    vk_dev *d;
    VkResult r;
    int rc = SC_EBACKEND;
    bool v13 = pi->api_version >= VK_API_VERSION_1_3;

    *out = NULL;
    d = vk_calloc(1, sizeof(*d));
    if (!d) return SC_ENOMEM;
    d->pi = pi;
    d->lib = lib;
    d->caps = pi->caps;
    pthread_mutex_init(&d->queue_lock, NULL);
    pthread_mutex_init(&d->buf_lock, NULL);
    pthread_mutex_init(&d->xfer_lock, NULL);
    sc_tune_table_init(&d->tune);

    if (pi->has_budget) exts[n_ext++] = VK_EXT_MEMORY_BUDGET_EXTENSION_NAME;
    if (pi->ext_subgroup_size_control) exts[n_ext++] = VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME;
    if (pi->ext_int_dot) exts[n_ext++] = VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME;
    if (pi->ext_coop_matrix) exts[n_ext++] = VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME;
    if (pi->ext_exec_props) exts[n_ext++] = VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME;
    VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR fexe = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR,
        .pipelineExecutableInfo = VK_TRUE};

    VkPhysicalDeviceCooperativeMatrixFeaturesKHR fcm = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_KHR, .cooperativeMatrix = VK_TRUE};
    VkPhysicalDeviceShaderIntegerDotProductFeatures fdot = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES, .shaderIntegerDotProduct = VK_TRUE};
    VkPhysicalDeviceSubgroupSizeControlFeatures fssc = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES,
        .subgroupSizeControl = VK_TRUE,
        .computeFullSubgroups = pi->has_full_subgroups};
    VkPhysicalDeviceVulkan13Features f13 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
    VkPhysicalDeviceVulkan12Features f12 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
        .bufferDeviceAddress = VK_TRUE,
        .storageBuffer8BitAccess = VK_TRUE,
        .uniformAndStorageBuffer8BitAccess = pi->has_ubo8,
        .storagePushConstant8 = pi->has_push8,
        .shaderInt8 = pi->has_shader_int8,
        .shaderFloat16 = pi->has_fp16,
        .scalarBlockLayout = VK_TRUE,
        .vulkanMemoryModel = pi->has_vmm,
        .vulkanMemoryModelDeviceScope = pi->has_vmm,
        .hostQueryReset = pi->has_host_query_reset,
    };
    VkPhysicalDeviceVulkan11Features f11 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
        .pNext = &f12,
        .storageBuffer16BitAccess = VK_TRUE,
        .uniformAndStorageBuffer16BitAccess = pi->has_ubo16,
        .storagePushConstant16 = pi->has_push16,
    };
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f11};
    f2.features.shaderInt64 = VK_TRUE;
    f2.features.shaderInt16 = pi->has_int16;
    void **tail = &f12.pNext;
    if (v13) {
        /* what the 1.2 path takes from extensions is core here */
        VkPhysicalDeviceVulkan13Features have = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
        VkPhysicalDeviceFeatures2 q = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &have};
        lib->vkGetPhysicalDeviceFeatures2(pi->pd, &q);
        f13.subgroupSizeControl = have.subgroupSizeControl;
        f13.computeFullSubgroups = have.computeFullSubgroups;
        f13.shaderIntegerDotProduct = have.shaderIntegerDotProduct;
        f13.maintenance4 = have.maintenance4;
        f13.synchronization2 = have.synchronization2;
        *tail = &f13, tail = &f13.pNext;
    }
    if (pi->ext_subgroup_size_control) *tail = &fssc, tail = &fssc.pNext;
    if (pi->ext_int_dot) *tail = &fdot, tail = &fdot.pNext;
    if (pi->ext_coop_matrix) *tail = &fcm, tail = &fcm.pNext;
    if (pi->ext_exec_props) *tail = &fexe, tail = &fexe.pNext;

    VkDeviceQueueCreateInfo qci = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
        .queueFamilyIndex = pi->queue_family,
        .queueCount = 1,
        .pQueuePriorities = &prio,
    };
    VkDeviceCreateInfo dci = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
        .pNext = &f2,
        .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &qci,
        .enabledExtensionCount = n_ext,
        .ppEnabledExtensionNames = n_ext ? exts : NULL,
    };
    sigset_t old;
    vk_sig_block(&old);
    r = lib->vkCreateDevice(pi->pd, &dci, NULL, &d->dev);
    vk_sig_restore(&old);
    if (vk_check(r, "vkCreateDevice") != VK_SUCCESS) {
        d->dev = VK_NULL_HANDLE;
        rc = vk_result_to_sc(r);
        goto fail;
    }
#define LOAD_DEVICE(n)                                                             \
    d->fn.n = (PFN_##n)lib->vkGetDeviceProcAddr(d->dev, #n);                        \
    if (!d->fn.n) {                                                                \
        VK_LOG(SC_LOG_ERROR, "%s: vkGetDeviceProcAddr(%s) failed", pi->props.deviceName, #n); \
        goto fail;                                                                 \
    }
    VK_DEVICE_FNS(LOAD_DEVICE)
#undef LOAD_DEVICE
    if (pi->ext_exec_props) {
        d->get_exec_props =
            (PFN_vkGetPipelineExecutablePropertiesKHR)lib->vkGetDeviceProcAddr(d->dev, "vkGetPipelineExecutablePropertiesKHR");
        d->get_exec_stats =
            (PFN_vkGetPipelineExecutableStatisticsKHR)lib->vkGetDeviceProcAddr(d->dev, "vkGetPipelineExecutableStatisticsKHR");
    }
    d->fn.vkGetDeviceQueue(d->dev, pi->queue_family, 0, &d->queue);

    /* the transfer context */
    VkCommandPoolCreateInfo pci = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT | VK_COMMAND_POOL_CREATE_TRANSIENT_BIT,
        .queueFamilyIndex = pi->queue_family,
    };
    if (vk_check(d->fn.vkCreateCommandPool(d->dev, &pci, NULL, &d->xfer_pool), "vkCreateCommandPool") != VK_SUCCESS) {
        d->xfer_pool = VK_NULL_HANDLE;
        goto fail;
    }
    VkCommandBufferAllocateInfo cai = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = d->xfer_pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    if (vk_check(d->fn.vkAllocateCommandBuffers(d->dev, &cai, &d->xfer_cb), "vkAllocateCommandBuffers") != VK_SUCCESS)
        goto fail;
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    if (vk_check(d->fn.vkCreateFence(d->dev, &fci, NULL, &d->xfer_fence), "vkCreateFence") != VK_SUCCESS) {
        d->xfer_fence = VK_NULL_HANDLE;
        goto fail;
    }
    rc = vk_pipes_init(d);
    if (rc != SC_OK) goto fail;
    VK_LOG(SC_LOG_DEBUG, "%s: device open (queue family %u, %s memory)", pi->props.deviceName, pi->queue_family,
           pi->mapped_device_memory ? "mapped device" : "staged device");
    *out = d;
    return SC_OK;
fail:
    if (rc == SC_OK) rc = SC_EBACKEND;
    vk_dev_destroy(d);
    return rc;
}

void vk_dev_destroy(vk_dev *d) {
    if (!d) return;
    if (d->dev) {
        if (d->fn.vkDeviceWaitIdle) d->fn.vkDeviceWaitIdle(d->dev);
        vk_pipes_free(d);
        vk_buf_destroy_all(d); /* the staging buffer and anything leaked */
        if (d->xfer_fence) d->fn.vkDestroyFence(d->dev, d->xfer_fence, NULL);
        if (d->xfer_pool) d->fn.vkDestroyCommandPool(d->dev, d->xfer_pool, NULL);
        if (d->fn.vkDestroyDevice) d->fn.vkDestroyDevice(d->dev, NULL);
        else if (d->lib->vkGetDeviceProcAddr) {
            PFN_vkDestroyDevice destroy = (PFN_vkDestroyDevice)d->lib->vkGetDeviceProcAddr(d->dev, "vkDestroyDevice");
            if (destroy) destroy(d->dev, NULL);
        }
    }
    pthread_mutex_destroy(&d->queue_lock);
    pthread_mutex_destroy(&d->buf_lock);
    pthread_mutex_destroy(&d->xfer_lock);
    sc_tune_table_free(&d->tune);
    vk_free(d);
}

const vk_caps *vk_dev_caps(const vk_dev *d) { return &d->caps; }

/* One transfer command buffer, recorded by rec, submitted and waited for.
 * The caller holds xfer_lock (the command buffer and the staging buffer are
 * the device's, one user at a time). */
int vk_dev_oneshot(vk_dev *d, void (*rec)(vk_dev *d, VkCommandBuffer cb, void *user), void *user) {
    VkCommandBufferBeginInfo bi = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &d->xfer_cb};
    VkResult r;

    if (vk_check(d->fn.vkBeginCommandBuffer(d->xfer_cb, &bi), "vkBeginCommandBuffer") != VK_SUCCESS)
        return SC_EBACKEND;
    rec(d, d->xfer_cb, user);
    if (vk_check(d->fn.vkEndCommandBuffer(d->xfer_cb), "vkEndCommandBuffer") != VK_SUCCESS) return SC_EBACKEND;
    sigset_t old;
    vk_sig_block(&old);
    pthread_mutex_lock(&d->queue_lock);
    r = d->fn.vkQueueSubmit(d->queue, 1, &si, d->xfer_fence);
    pthread_mutex_unlock(&d->queue_lock);
    vk_sig_restore(&old);
    if (vk_check(r, "vkQueueSubmit (transfer)") != VK_SUCCESS) return vk_result_to_sc(r);
    r = d->fn.vkWaitForFences(d->dev, 1, &d->xfer_fence, VK_TRUE, UINT64_MAX);
    if (vk_check(r, "vkWaitForFences (transfer)") != VK_SUCCESS) return vk_result_to_sc(r);
    if (vk_check(d->fn.vkResetFences(d->dev, 1, &d->xfer_fence), "vkResetFences") != VK_SUCCESS) return SC_EBACKEND;
    return SC_OK;
}

/*
 * backends/vulkan/vk_pipeline.c - compute pipelines from the embedded SPIR-V.
 *
 * A pipeline is (module name, specialization constants, required subgroup
 * size, push-constant size); its layout holds only a push-constant range
 * (no descriptor sets: shaders read memory through device addresses). They
 * are created on first use, kept in a hash table per device and go through
 * one VkPipelineCache. A creation that fails is remembered, so a missing
 * module is logged once, not once per graph.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_infra.h"

#define VK_MAX_SPEC 16
#define VK_PIPE_BUCKETS 512

struct vk_pipeline {
    struct vk_pipeline *next;
    uint64_t hash;
    char name[64];
    uint32_t spec[VK_MAX_SPEC];
    int n_spec;
    uint32_t sg;
    uint32_t push_size;
    VkPipeline pipe;
    VkPipelineLayout layout;
    bool failed;
};

struct vk_pipe_cache {
    pthread_mutex_t lock;
    VkPipelineCache cache;
    vk_pipeline *buckets[VK_PIPE_BUCKETS];
    int count;
};

VkPipeline vk_pipeline_handle(const vk_pipeline *p) { return p->pipe; }
VkPipelineLayout vk_pipeline_layout(const vk_pipeline *p) { return p->layout; }
uint32_t vk_pipeline_push_size(const vk_pipeline *p) { return p->push_size; }
const char *vk_pipeline_name(const vk_pipeline *p) { return p->name; }

int vk_pipes_init(vk_dev *d) {
    vk_pipe_cache *pc = vk_calloc(1, sizeof(*pc));
    if (!pc) return SC_ENOMEM;
    pthread_mutex_init(&pc->lock, NULL);
    VkPipelineCacheCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
    if (vk_check(d->fn.vkCreatePipelineCache(d->dev, &ci, NULL, &pc->cache), "vkCreatePipelineCache") != VK_SUCCESS)
        pc->cache = VK_NULL_HANDLE; /* pipelines are still made, uncached */
    d->pipes = pc;
    return SC_OK;
}

void vk_pipes_free(vk_dev *d) {
    vk_pipe_cache *pc = d->pipes;
    if (!pc) return;
    for (int i = 0; i < VK_PIPE_BUCKETS; i++) {
        vk_pipeline *p = pc->buckets[i];
        while (p) {
            vk_pipeline *next = p->next;
            if (p->pipe) d->fn.vkDestroyPipeline(d->dev, p->pipe, NULL);
            if (p->layout) d->fn.vkDestroyPipelineLayout(d->dev, p->layout, NULL);
            vk_free(p);
            p = next;
        }
    }
    if (pc->cache) d->fn.vkDestroyPipelineCache(d->dev, pc->cache, NULL);
    pthread_mutex_destroy(&pc->lock);
    vk_free(pc);
    d->pipes = NULL;
}

/* FNV-1a over the key */
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static bool same_key(const vk_pipeline *p, uint64_t hash, const char *name, uint32_t push_size, const uint32_t *spec,
                     int n_spec, uint32_t sg) {
    return p->hash == hash && p->n_spec == n_spec && p->sg == sg && p->push_size == push_size &&
           memcmp(p->spec, spec, (size_t)n_spec * sizeof(*spec)) == 0 && strcmp(p->name, name) == 0;
}

/* Make p->pipe and p->layout; false (logged) on failure. */
/* STRIXCORE_VK_PIPELINE_STATS=1: one info line per new pipeline with what the
 * driver reports of its compiled code (registers, spills, occupancy, ...:
 * VK_KHR_pipeline_executable_properties; names and values are the driver's). */
static void log_stats(vk_dev *d, vk_pipeline *p) {
    VkPipelineInfoKHR pi = {.sType = VK_STRUCTURE_TYPE_PIPELINE_INFO_KHR, .pipeline = p->pipe};
    VkPipelineExecutablePropertiesKHR props[4];
    uint32_t n = 4;
    for (uint32_t i = 0; i < n; i++) props[i] = (VkPipelineExecutablePropertiesKHR){.sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_PROPERTIES_KHR};
    if (d->get_exec_props(d->dev, &pi, &n, props) < 0) return;
    char spec[96];
    size_t o = 0;
    spec[0] = '\0';
    for (int i = 0; i < p->n_spec && o < sizeof spec; i++) {
        int k = snprintf(spec + o, sizeof spec - o, "%s%u", i ? "," : "", p->spec[i]);
        if (k < 0) break;
        o += (size_t)k;
    }
    for (uint32_t e = 0; e < n; e++) {
        VkPipelineExecutableInfoKHR ei = {.sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INFO_KHR, .pipeline = p->pipe,
                                          .executableIndex = e};
        VkPipelineExecutableStatisticKHR st[24];
        uint32_t ns = 24;
        for (uint32_t i = 0; i < ns; i++) st[i] = (VkPipelineExecutableStatisticKHR){.sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_STATISTIC_KHR};
        if (d->get_exec_stats(d->dev, &ei, &ns, st) < 0) continue;
        char line[768];
        size_t lo = 0;
        line[0] = '\0';
        for (uint32_t i = 0; i < ns && lo < sizeof line; i++) {
            int k = 0;
            switch (st[i].format) {
            case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_BOOL32_KHR:
                k = snprintf(line + lo, sizeof line - lo, " %s=%s", st[i].name, st[i].value.b32 ? "yes" : "no"); break;
            case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_INT64_KHR:
                k = snprintf(line + lo, sizeof line - lo, " %s=%lld", st[i].name, (long long)st[i].value.i64); break;
            case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR:
                k = snprintf(line + lo, sizeof line - lo, " %s=%llu", st[i].name, (unsigned long long)st[i].value.u64); break;
            case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_FLOAT64_KHR:
                k = snprintf(line + lo, sizeof line - lo, " %s=%.3g", st[i].name, st[i].value.f64); break;
            default: break;
            }
            if (k < 0) break;
            lo += (size_t)k;
        }
        VK_LOG(SC_LOG_INFO, "pipeline %s [%s] %s:%s", p->name, spec, props[e].name, line);
    }
}

/* STRIXCORE_VK_DUMP_BINARIES=DIR: the pipeline is compiled once more into an
 * empty VkPipelineCache whose data (the driver's own format, usually holding
 * the machine code) is written to DIR/<name>-<spec>.bin, for offline
 * disassembly with the vendor's tools. Failures are logged and ignored. */
static void dump_binary(vk_dev *d, const vk_pipeline *p, const VkComputePipelineCreateInfo *pci) {
    const char *dir = getenv("STRIXCORE_VK_DUMP_BINARIES");
    if (!dir || !dir[0]) return;
    VkPipelineCacheCreateInfo cci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
    VkPipelineCache cache = VK_NULL_HANDLE;
    VkPipeline pipe = VK_NULL_HANDLE;
    if (d->fn.vkCreatePipelineCache(d->dev, &cci, NULL, &cache) != VK_SUCCESS) return;
    size_t size = 0;
    void *data = NULL;
    if (d->fn.vkCreateComputePipelines(d->dev, cache, 1, pci, NULL, &pipe) == VK_SUCCESS &&
        d->fn.vkGetPipelineCacheData(d->dev, cache, &size, NULL) == VK_SUCCESS && size > 0 &&
        (data = vk_calloc(1, size)) != NULL && d->fn.vkGetPipelineCacheData(d->dev, cache, &size, data) == VK_SUCCESS) {
        char path[512];
        int o = snprintf(path, sizeof path, "%s/%s", dir, p->name);
        for (int i = 0; i < p->n_spec && o > 0 && (size_t)o < sizeof path; i++)
            o += snprintf(path + o, sizeof path - (size_t)o, "%c%u", i ? ',' : '-', p->spec[i]);
        if (o > 0 && (size_t)o + 5 < sizeof path) {
            snprintf(path + o, sizeof path - (size_t)o, ".bin");
            FILE *f = fopen(path, "wb");
            if (f) {
                if (fwrite(data, 1, size, f) != size) VK_LOG(SC_LOG_WARN, "short write to %s", path);
                fclose(f);
            } else {
                VK_LOG(SC_LOG_WARN, "cannot write %s", path);
            }
        }
    }
    vk_free(data);
    if (pipe) d->fn.vkDestroyPipeline(d->dev, pipe, NULL);
    d->fn.vkDestroyPipelineCache(d->dev, cache, NULL);
}

static bool build(vk_dev *d, vk_pipeline *p) {
    const vk_caps *c = &d->caps;
    const vk_spirv *sp = vk_spirv_find(p->name);
    VkShaderModule mod = VK_NULL_HANDLE;
    VkResult r;
    char what[128];

    if (!sp) {
        VK_LOG(SC_LOG_ERROR, "no shader module '%s' in this build (is it listed in a shaders/*.cmake manifest?)",
               p->name);
        return false;
    }
    VkShaderModuleCreateInfo mci = {
        .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
        .codeSize = sp->size,
        .pCode = sp->code,
    };
    snprintf(what, sizeof(what), "vkCreateShaderModule(%s)", p->name);
    if (vk_check(d->fn.vkCreateShaderModule(d->dev, &mci, NULL, &mod), what) != VK_SUCCESS) return false;

    VkPushConstantRange range = {
        .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        .offset = 0,
        .size = (uint32_t)vk_round_up(p->push_size, 4),
    };
    VkPipelineLayoutCreateInfo lci = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
        .pushConstantRangeCount = p->push_size ? 1 : 0,
        .pPushConstantRanges = p->push_size ? &range : NULL,
    };
    if (vk_check(d->fn.vkCreatePipelineLayout(d->dev, &lci, NULL, &p->layout), "vkCreatePipelineLayout") != VK_SUCCESS) {
        p->layout = VK_NULL_HANDLE;
        d->fn.vkDestroyShaderModule(d->dev, mod, NULL);
        return false;
    }

    VkSpecializationMapEntry entries[VK_MAX_SPEC];
    for (int i = 0; i < p->n_spec; i++)
        entries[i] = (VkSpecializationMapEntry){.constantID = (uint32_t)i, .offset = (uint32_t)(4 * i), .size = 4};
    VkSpecializationInfo si = {
        .mapEntryCount = (uint32_t)p->n_spec,
        .pMapEntries = entries,
        .dataSize = (size_t)p->n_spec * 4,
        .pData = p->spec,
    };
    VkPipelineShaderStageRequiredSubgroupSizeCreateInfo rss = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_REQUIRED_SUBGROUP_SIZE_CREATE_INFO,
        .requiredSubgroupSize = p->sg,
    };
    VkPipelineShaderStageCreateInfo stage = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
        .stage = VK_SHADER_STAGE_COMPUTE_BIT,
        .module = mod,
        .pName = "main",
        .pSpecializationInfo = p->n_spec ? &si : NULL,
    };
    if (p->sg) {
        if (c->subgroup_size_control) stage.pNext = &rss;
        /* full subgroups need the workgroup's x size to be a multiple */
        if (c->full_subgroups && p->n_spec > 0 && p->spec[0] % p->sg == 0)
            stage.flags |= VK_PIPELINE_SHADER_STAGE_CREATE_REQUIRE_FULL_SUBGROUPS_BIT;
    }
    VkComputePipelineCreateInfo pci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = stage,
        .layout = p->layout,
    };
    if (d->get_exec_props) pci.flags |= VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR;
    snprintf(what, sizeof(what), "vkCreateComputePipelines(%s)", p->name);
    sigset_t old;
    vk_sig_block(&old);
    r = d->fn.vkCreateComputePipelines(d->dev, d->pipes->cache, 1, &pci, NULL, &p->pipe);
    if (r == VK_SUCCESS) dump_binary(d, p, &pci);
    vk_sig_restore(&old);
    d->fn.vkDestroyShaderModule(d->dev, mod, NULL);
    if (vk_check(r, what) != VK_SUCCESS) {
        p->pipe = VK_NULL_HANDLE;
        d->fn.vkDestroyPipelineLayout(d->dev, p->layout, NULL);
        p->layout = VK_NULL_HANDLE;
        return false;
    }
    if (d->get_exec_props) log_stats(d, p);
    return true;
}

vk_pipeline *vk_pipeline_get(vk_dev *d, const char *name, uint32_t push_size, const uint32_t *spec, int n_spec,
                             uint32_t required_subgroup) {
    vk_pipe_cache *pc = d->pipes;
    const vk_caps *c = &d->caps;
    uint64_t h = 0xcbf29ce484222325ull;
    vk_pipeline *p;

    if (!name || strlen(name) >= sizeof(p->name) || n_spec < 0 || n_spec > VK_MAX_SPEC || (n_spec && !spec)) {
        VK_LOG(SC_LOG_ERROR, "vk_pipeline_get(%s): bad arguments (n_spec %d)", name ? name : "(null)", n_spec);
        return NULL;
    }
    h = fnv(h, name, strlen(name));
    h = fnv(h, &push_size, sizeof(push_size));
    h = fnv(h, &required_subgroup, sizeof(required_subgroup));
    if (n_spec) h = fnv(h, spec, (size_t)n_spec * sizeof(*spec));

    pthread_mutex_lock(&pc->lock);
    for (p = pc->buckets[h % VK_PIPE_BUCKETS]; p; p = p->next)
        if (same_key(p, h, name, push_size, spec, n_spec, required_subgroup)) break;
    if (p) {
        pthread_mutex_unlock(&pc->lock);
        return p->failed ? NULL : p;
    }

    /* first use: check, build, remember (failures too) */
    p = vk_calloc(1, sizeof(*p));
    if (!p) {
        pthread_mutex_unlock(&pc->lock);
        return NULL;
    }
    p->hash = h;
    snprintf(p->name, sizeof(p->name), "%s", name);
    if (n_spec) memcpy(p->spec, spec, (size_t)n_spec * sizeof(*spec));
    p->n_spec = n_spec;
    p->sg = required_subgroup;
    p->push_size = push_size;
    if (push_size > c->max_push_constants || push_size > VK_MAX_PUSH) {
        VK_LOG(SC_LOG_ERROR, "pipeline %s: %u bytes of push constants exceed the device's %u", name, push_size,
               c->max_push_constants);
        p->failed = true;
    } else if (n_spec > 0 && spec[0] * (n_spec > 1 ? spec[1] : 1) * (n_spec > 2 ? spec[2] : 1) > c->max_workgroup_size) {
        VK_LOG(SC_LOG_ERROR, "pipeline %s: workgroup of %u x %u x %u exceeds the device's %u invocations", name,
               spec[0], n_spec > 1 ? spec[1] : 1, n_spec > 2 ? spec[2] : 1, c->max_workgroup_size);
        p->failed = true;
    } else if (required_subgroup && !(c->subgroup_size_control && required_subgroup >= c->min_subgroup_size &&
                                      required_subgroup <= c->max_subgroup_size) &&
               required_subgroup != c->subgroup_size) {
        VK_LOG(SC_LOG_ERROR, "pipeline %s: subgroup size %u is not available (device: %u, control %s %u-%u)", name,
               required_subgroup, c->subgroup_size, c->subgroup_size_control ? "yes" : "no", c->min_subgroup_size,
               c->max_subgroup_size);
        p->failed = true;
    } else {
        p->failed = !build(d, p);
    }
    p->next = pc->buckets[h % VK_PIPE_BUCKETS];
    pc->buckets[h % VK_PIPE_BUCKETS] = p;
    pc->count++;
    pthread_mutex_unlock(&pc->lock);
    if (!p->failed)
        VK_LOG(SC_LOG_DEBUG, "pipeline %s (spec %u%s, subgroup %u) created", name, n_spec ? spec[0] : 0,
               n_spec > 1 ? ",..." : "", required_subgroup);
    return p->failed ? NULL : p;
}

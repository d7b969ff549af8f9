/*
 * backends/vulkan/vk_memory.c - buffers.
 *
 * Every VkBuffer is a storage buffer with a device address (shaders reach
 * memory only through addresses) and may be a transfer source/destination;
 * its memory is allocated with VK_MEMORY_ALLOCATE_DEVICE_ADDRESS_BIT. One
 * buffer, one dedicated allocation: the core allocates few, large buffers
 * (weights, the KV cache, one planned arena per graph), so sub-allocation
 * would buy little and a buffer larger than maxMemoryAllocationSize cannot
 * be split (its base must be one address) - that fails with a message.
 *
 * Host access. Where device buffers are host-visible (unified-memory iGPUs,
 * lavapipe) they stay mapped: write/read are memcpy and buffer_host_ptr
 * hands out the mapping. Elsewhere (discrete GPUs) write/read go through a
 * host-visible staging buffer, VK_STAGING_BYTES at a time.
 */
#include <stdio.h>
#include <string.h>

#include "vk_infra.h"

#define VK_STAGING_BYTES (32u << 20)

static const char *mb(uint64_t bytes, char *buf, size_t len) {
    snprintf(buf, len, "%.1f MiB", (double)bytes / (1024.0 * 1024.0));
    return buf;
}

int vk_buf_create(vk_dev *d, enum vk_buf_kind kind, size_t size, vk_buf **out) {
    const vk_pdev *pi = d->pi;
    const int *types = kind == VK_BUF_HOST ? pi->host_types : pi->dev_types;
    VkMemoryRequirements req;
    VkResult r = VK_ERROR_OUT_OF_DEVICE_MEMORY;
    char s1[32], s2[32];
    vk_buf *b;

    *out = NULL;
    if (size == 0) return SC_EINVAL;
    VkDeviceSize vsize = vk_round_up(size, VK_BUF_ALIGN);
    if (vsize < size) return SC_EOVERFLOW;
    if (pi->max_alloc && vsize > pi->max_alloc) {
        VK_LOG(SC_LOG_ERROR,
               "%s: a buffer of %s exceeds the device's maxMemoryAllocationSize (%s); one buffer cannot be split "
               "across allocations (use smaller buffers)",
               pi->props.deviceName, mb(vsize, s1, sizeof(s1)), mb(pi->max_alloc, s2, sizeof(s2)));
        return SC_ENOMEM;
    }
    b = vk_calloc(1, sizeof(*b));
    if (!b) return SC_ENOMEM;
    b->size = vsize;

    VkBufferCreateInfo bci = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = vsize,
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_SHADER_DEVICE_ADDRESS_BIT |
                 VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    r = d->fn.vkCreateBuffer(d->dev, &bci, NULL, &b->buf);
    if (vk_check(r, "vkCreateBuffer") != VK_SUCCESS) {
        vk_free(b);
        return vk_result_to_sc(r);
    }
    d->fn.vkGetBufferMemoryRequirements(d->dev, b->buf, &req);

    /* the candidate types in order; out-of-memory in one moves on to the next */
    VkMemoryAllocateFlagsInfo flags = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO,
        .flags = VK_MEMORY_ALLOCATE_DEVICE_ADDRESS_BIT,
    };
    VkMemoryDedicatedAllocateInfo dedicated = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_DEDICATED_ALLOCATE_INFO,
        .pNext = &flags,
        .buffer = b->buf,
    };
    r = VK_ERROR_OUT_OF_DEVICE_MEMORY;
    for (int k = 0; types[k] >= 0; k++) {
        if (!(req.memoryTypeBits & (1u << types[k]))) continue;
        VkMemoryAllocateInfo ai = {
            .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
            .pNext = &dedicated,
            .allocationSize = req.size,
            .memoryTypeIndex = (uint32_t)types[k],
        };
        r = d->fn.vkAllocateMemory(d->dev, &ai, NULL, &b->mem);
        if (r == VK_SUCCESS) {
            b->mem_type = (uint32_t)types[k];
            if (k > 0)
                VK_LOG(SC_LOG_WARN, "%s: %s buffer of %s placed in fallback memory type %d", pi->props.deviceName,
                       kind == VK_BUF_HOST ? "host" : "device", mb(vsize, s1, sizeof(s1)), types[k]);
            break;
        }
        b->mem = VK_NULL_HANDLE;
        if (r != VK_ERROR_OUT_OF_DEVICE_MEMORY && r != VK_ERROR_OUT_OF_HOST_MEMORY) break;
    }
    if (!b->mem) {
        VK_LOG(SC_LOG_ERROR, "%s: allocating %s of %s memory failed: %s (%s already allocated)", pi->props.deviceName,
               mb(vsize, s1, sizeof(s1)), kind == VK_BUF_HOST ? "host-visible" : "device", vk_result_str(r),
               mb(d->allocated, s2, sizeof(s2)));
        d->fn.vkDestroyBuffer(d->dev, b->buf, NULL);
        vk_free(b);
        return r == VK_SUCCESS ? SC_ENOMEM : vk_result_to_sc(r);
    }
    r = d->fn.vkBindBufferMemory(d->dev, b->buf, b->mem, 0);
    if (vk_check(r, "vkBindBufferMemory") != VK_SUCCESS) goto fail;
    VkBufferDeviceAddressInfo ai = {.sType = VK_STRUCTURE_TYPE_BUFFER_DEVICE_ADDRESS_INFO, .buffer = b->buf};
    b->addr = d->fn.vkGetBufferDeviceAddress(d->dev, &ai);
    if (b->addr == 0 || b->addr % VK_BUF_ALIGN != 0) {
        VK_LOG(SC_LOG_ERROR, "%s: buffer device address 0x%llx is not %u-byte aligned", pi->props.deviceName,
               (unsigned long long)b->addr, VK_BUF_ALIGN);
        r = VK_ERROR_UNKNOWN;
        goto fail;
    }
    VkMemoryPropertyFlags mf = pi->type_flags[b->mem_type];
    if ((mf & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) && (kind == VK_BUF_HOST || pi->mapped_device_memory)) {
        if (!(mf & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT)) {
            VK_LOG(SC_LOG_ERROR, "%s: memory type %u is host-visible but not coherent", pi->props.deviceName,
                   b->mem_type);
            r = VK_ERROR_UNKNOWN;
            goto fail;
        }
        r = d->fn.vkMapMemory(d->dev, b->mem, 0, VK_WHOLE_SIZE, 0, &b->map);
        if (vk_check(r, "vkMapMemory") != VK_SUCCESS) goto fail;
    }

    pthread_mutex_lock(&d->buf_lock);
    b->next = d->bufs;
    if (d->bufs) d->bufs->prev = b;
    d->bufs = b;
    d->allocated += b->size;
    pthread_mutex_unlock(&d->buf_lock);
    *out = b;
    return SC_OK;
fail:
    d->fn.vkDestroyBuffer(d->dev, b->buf, NULL);
    d->fn.vkFreeMemory(d->dev, b->mem, NULL);
    vk_free(b);
    return vk_result_to_sc(r);
}

static void release(vk_dev *d, vk_buf *b) {
    if (b->map) d->fn.vkUnmapMemory(d->dev, b->mem);
    d->fn.vkDestroyBuffer(d->dev, b->buf, NULL);
    d->fn.vkFreeMemory(d->dev, b->mem, NULL);
    vk_free(b);
}

void vk_buf_destroy(vk_dev *d, vk_buf *b) {
    if (!b) return;
    pthread_mutex_lock(&d->buf_lock);
    if (b->prev) b->prev->next = b->next;
    else d->bufs = b->next;
    if (b->next) b->next->prev = b->prev;
    d->allocated -= b->size;
    pthread_mutex_unlock(&d->buf_lock);
    release(d, b);
}

/* At device close: the staging buffer, and buffers the core leaked. */
void vk_buf_destroy_all(vk_dev *d) {
    int leaked = 0;
    if (d->staging) vk_buf_destroy(d, d->staging);
    d->staging = NULL;
    while (d->bufs) {
        vk_buf *b = d->bufs;
        d->bufs = b->next;
        leaked++;
        release(d, b);
    }
    if (leaked) VK_LOG(SC_LOG_DEBUG, "%s: %d buffer(s) still allocated at close, freed", d->pi->props.deviceName, leaked);
    d->allocated = 0;
}

/* ------------------------------------------------------------------------ */
/* host access                                                               */
/* ------------------------------------------------------------------------ */
typedef struct copy_job {
    VkBuffer src, dst;
    VkBufferCopy region;
    bool to_host; /* a readback: make the copy visible to the host */
} copy_job;

static void rec_copy(vk_dev *d, VkCommandBuffer cb, void *user) {
    copy_job *j = user;
    /* earlier work (graphs, copies) on this queue wrote what is read here */
    VkMemoryBarrier before = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_MEMORY_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
    };
    d->fn.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &before,
                               0, NULL, 0, NULL);
    d->fn.vkCmdCopyBuffer(cb, j->src, j->dst, 1, &j->region);
    VkMemoryBarrier after = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = j->to_host ? VK_ACCESS_HOST_READ_BIT : VK_ACCESS_MEMORY_READ_BIT | VK_ACCESS_MEMORY_WRITE_BIT,
    };
    d->fn.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT,
                               j->to_host ? VK_PIPELINE_STAGE_HOST_BIT : VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, 0, 1,
                               &after, 0, NULL, 0, NULL);
}

static int ensure_staging(vk_dev *d) {
    if (d->staging) return SC_OK;
    return vk_buf_create(d, VK_BUF_HOST, VK_STAGING_BYTES, &d->staging);
}

int vk_buf_write(vk_dev *d, vk_buf *b, size_t off, const void *src, size_t n) {
    int rc = SC_OK;
    if (off > b->size || n > b->size - off) return SC_ERANGE;
    if (n == 0) return SC_OK;
    if (b->map) {
        memcpy((char *)b->map + off, src, n);
        return SC_OK;
    }
    pthread_mutex_lock(&d->xfer_lock);
    rc = ensure_staging(d);
    for (size_t done = 0; rc == SC_OK && done < n;) {
        size_t chunk = n - done < VK_STAGING_BYTES ? n - done : VK_STAGING_BYTES;
        copy_job j = {.src = d->staging->buf, .dst = b->buf, .region = {0, off + done, chunk}, .to_host = false};
        memcpy(d->staging->map, (const char *)src + done, chunk);
        rc = vk_dev_oneshot(d, rec_copy, &j);
        done += chunk;
    }
    pthread_mutex_unlock(&d->xfer_lock);
    return rc;
}

int vk_buf_read(vk_dev *d, vk_buf *b, size_t off, void *dst, size_t n) {
    int rc = SC_OK;
    if (off > b->size || n > b->size - off) return SC_ERANGE;
    if (n == 0) return SC_OK;
    if (b->map) {
        memcpy(dst, (const char *)b->map + off, n);
        return SC_OK;
    }
    pthread_mutex_lock(&d->xfer_lock);
    rc = ensure_staging(d);
    for (size_t done = 0; rc == SC_OK && done < n;) {
        size_t chunk = n - done < VK_STAGING_BYTES ? n - done : VK_STAGING_BYTES;
        copy_job j = {.src = b->buf, .dst = d->staging->buf, .region = {off + done, 0, chunk}, .to_host = true};
        rc = vk_dev_oneshot(d, rec_copy, &j);
        if (rc == SC_OK) memcpy((char *)dst + done, d->staging->map, chunk);
        done += chunk;
    }
    pthread_mutex_unlock(&d->xfer_lock);
    return rc;
}

typedef struct fill_job {
    VkBuffer buf;
    uint32_t word;
} fill_job;

static void rec_fill(vk_dev *d, VkCommandBuffer cb, void *user) {
    fill_job *j = user;
    VkMemoryBarrier before = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_MEMORY_READ_BIT | VK_ACCESS_MEMORY_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
    };
    d->fn.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &before,
                               0, NULL, 0, NULL);
    d->fn.vkCmdFillBuffer(cb, j->buf, 0, VK_WHOLE_SIZE, j->word);
    VkMemoryBarrier after = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_MEMORY_READ_BIT | VK_ACCESS_MEMORY_WRITE_BIT,
    };
    d->fn.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, 0, 1, &after, 0,
                               NULL, 0, NULL);
}

int vk_buf_fill(vk_dev *d, vk_buf *b, uint8_t value) {
    int rc;
    if (b->map) {
        memset(b->map, value, b->size);
        return SC_OK;
    }
    fill_job j = {.buf = b->buf, .word = value * 0x01010101u};
    pthread_mutex_lock(&d->xfer_lock);
    rc = vk_dev_oneshot(d, rec_fill, &j);
    pthread_mutex_unlock(&d->xfer_lock);
    return rc;
}

/*
 * backends/vulkan/vk_util.c - grids larger than one dispatch (see
 * vk_util.h).
 */
#include "vk_util.h"

int vk_dispatch_groups(vk_rec *r, vk_pipeline *p, void *push, uint32_t push_size, uint32_t *wg_base,
                       uint32_t *wg_count, uint64_t groups, bool independent) {
    const uint64_t per = (uint64_t)VK_GRID_MAX * VK_GRID_MAX;
    for (uint64_t done = 0; done < groups;) {
        uint64_t c = groups - done < per ? groups - done : per;
        uint32_t gx = c < VK_GRID_MAX ? (uint32_t)c : VK_GRID_MAX;
        uint32_t gy = (uint32_t)((c + gx - 1) / gx);
        *wg_base = (uint32_t)done;
        *wg_count = (uint32_t)c;
        if (done > 0 || independent) vk_rec_independent(r); /* disjoint pieces: no barrier between them */
        int rc = vk_dispatch(r, p, push, push_size, gx, gy, 1);
        if (rc != SC_OK) return rc;
        done += c;
    }
    return SC_OK;
}

/*
 * backends/vulkan/vk_util.h - small helpers the op families share:
 * shape checks, workgroup sizing and dispatching grids larger than one
 * vkCmdDispatch may hold.
 */
#ifndef STRIXCORE_VK_UTIL_H
#define STRIXCORE_VK_UTIL_H

#include "sc_tensor_checks.h"
#include "vk_internal.h"

#define VK_GRID_MAX 65535u /* workgroups per dimension of one dispatch (the guaranteed minimum limit) */

/* Present, every dimension at least 1. */
static inline bool vk_shape_ok(const sc_tensor *t) { return sc_chk_shape_ok(t); }

static inline int64_t vk_n_rows(const sc_tensor *t) { return t->ne[1] * t->ne[2] * t->ne[3]; }
static inline bool vk_fits_u32(int64_t v) { return v >= 0 && v <= (int64_t)UINT32_MAX; }

static inline uint32_t vk_floor_pow2(uint32_t v) {
    uint32_t p = 1;
    while (p * 2 <= v && p < (1u << 30)) p *= 2;
    return p;
}

/* wg (a power of two), or the largest power of two the device allows if less */
static inline uint32_t vk_clamp_wg(const vk_caps *c, uint32_t wg) {
    uint32_t lim = vk_floor_pow2(c->max_workgroup_size ? c->max_workgroup_size : 128u);
    return wg > lim ? lim : wg;
}

/* Record `groups` workgroups as as few dispatches of at most 65535 x 65535
 * as it takes; *wg_base / *wg_count (fields of the push block) tell each one
 * which groups it holds. The pieces are independent of each other, and with
 * `independent` the first one also of the node's earlier dispatches. */
int vk_dispatch_groups(vk_rec *r, vk_pipeline *p, void *push, uint32_t push_size, uint32_t *wg_base,
                       uint32_t *wg_count, uint64_t groups, bool independent);

#endif

/*
 * backends/vulkan/vk_op_matmul.h - what vk_op_matmul.c shares with the GEMV
 * fusers (vk_fuse_gemv.c): the checks, the path choice, the GEMV's
 * specialization and module, the grid splitting, MUL_MAT's push block. The
 * fusers' push blocks stay with them (they mirror shaders/mul_mat_common.glsl).
 */
#ifndef STRIXCORE_VK_OP_MATMUL_H
#define STRIXCORE_VK_OP_MATMUL_H

#include "vk_internal.h"
#include "vk_tune.h"

/* specialization constants of mul_mat_common.glsl */
enum {
    VK_MM_SPEC_LX, VK_MM_SPEC_LY, VK_MM_SPEC_LZ, VK_MM_SPEC_WTYPE, VK_MM_SPEC_QBITS, VK_MM_SPEC_QFLAGS,
    VK_MM_SPEC_GMODE, VK_MM_SPEC_UW, VK_MM_SPEC_NR, VK_MM_SPEC_NC, VK_MM_SPEC_OPTS, VK_MM_SPEC_SGX,
    VK_MM_SPEC_COUNT
};

#define VK_MM_MAX_GRID 65535u

/* MUL_MAT's push block: mirrors mul_mat_common.glsl's (and mul_mat_coop.comp's,
 * which takes the same one). Byte strides for weights, float strides for x/y. */
typedef struct vk_mm_push {
    uint64_t w, x, y, err;
    uint64_t w_nb2, w_nb3;                   /* bytes */
    uint32_t w_nb1, K, N, M;                 /* w_nb1: bytes */
    uint32_t x_nb1, x_nb2, x_nb3;            /* floats */
    uint32_t y_nb1, y_nb2, y_nb3;            /* floats */
    uint32_t ne2, r2, r3;
    uint32_t q_scales, q_zeros, q_gidx, group_size, G;
    uint32_t base_x, base_z;
} vk_mm_push;

/* The push block of MUL_MAT node: addresses, shapes, strides, QG offsets (base_x/z 0). */
void vk_mm_push_fill(vk_mm_push *pc, vk_rec *r, const sc_tensor *node);

/* A weight the shaders read: f32/f16/bf16 rows, or a QG stack of valid layout. */
bool vk_mm_weight_ok(const sc_tensor *w);
/* Contiguous rows of `type` with strides the shaders can index. */
bool vk_mm_rows_ok(const sc_tensor *t, int32_t type);

/* Does MUL_MAT with weight w and M activation columns take the GEMV? *nc:
 * its columns per workgroup. sel (here and below; NULL: none): a tuned
 * selection (vk_tune.h), whose path (GEMV / DP4: yes, GEMM / COOP: no) and
 * launch shape replace the heuristics. */
bool vk_mm_gemv_mul_mat(vk_dev *d, const sc_tensor *w, int64_t M, uint32_t *nc, const vk_tune_sel *sel);
/* Does MUL_MAT_ID with weight stack w and npairs (i, t) pairs run the GEMV
 * per pair? (sel GEMV: yes, GEMM / COOP: no) */
bool vk_mm_gemv_mul_mat_id(vk_dev *d, const sc_tensor *w, uint64_t npairs, const vk_tune_sel *sel);

/* The GEMV's specialization (spec[VK_MM_SPEC_COUNT]) for weight w, x, N
 * rows, nc columns (sel's nr / bs / uw / wgx / wgw / wgr where set), and
 * its module: `base` ("mul_mat_vec", "mul_mat_vec_id",
 * "mul_mat_vec_add", ...) or base + "_f16" / "_nosg", written to name. */
void vk_mm_gemv_setup(vk_dev *d, const sc_tensor *w, const sc_tensor *x, int64_t N, uint32_t nc, const char *base,
                      const vk_tune_sel *sel, uint32_t *spec, char *name, size_t name_len);
/* Rows per workgroup for each of two matrices (fused SWIGLU): half of what
 * vk_mm_gemv_setup chose for one (per warp for its WGX module). */
void vk_mm_gemv_half_rows(uint32_t *spec);
/* The three modules of a GEMV base are embedded. */
bool vk_mm_gemv_modules(const char *base);

/* QG slab offsets and group layout of w for the push constants (dense: zeros, 1). */
void vk_mm_push_quant(const sc_tensor *w, uint32_t *q_scales, uint32_t *q_zeros, uint32_t *q_gidx,
                      uint32_t *group_size, uint32_t *G);

/* MUL_MAT_ID's pairs sorted by expert (mul_mat_id_group.comp's u32 off[E + 1],
 * list[n_used * T] in scratch, at *lists) for ids i32 [n_used, T]: the copy
 * an earlier node of the graph made from the same ids (vk_rec_memo: a MoE
 * layer's gate, up and down projections share one), else the sort dispatch
 * now; the caller's next dispatch must be its own (it gets the barrier). */
int vk_mm_id_lists(vk_rec *r, const sc_tensor *ids, uint32_t E, uint64_t *lists);

/* Dispatch gx * gy * gz workgroups, splitting x and z past 65535 (the
 * shaders add *base_x / *base_z, fields of push, to their workgroup ids). */
int vk_mm_dispatch_split(vk_rec *r, vk_pipeline *p, void *push, uint32_t push_size, uint32_t *base_x,
                         uint32_t *base_z, uint64_t gx, uint32_t gy, uint64_t gz);

#endif

/*
 * backends/vulkan/vk_op_matmul_coop.h - MUL_MAT and MUL_MAT_ID on VK_KHR_cooperative_matrix
 * (vk_op_matmul_coop.c, shaders/mul_mat_coop.comp): the prefill GEMM for
 * f16, bf16 and QG weights with many activation columns. record_mul_mat
 * (vk_op_matmul.c) asks supports first and hands the node over when it says
 * yes; anything it says no to takes the f32 tiled GEMM / GEMV as before.
 * record_mul_mat_id likewise asks vk_mm_coop_id_supports first.
 */
#ifndef STRIXCORE_VK_OP_MATMUL_COOP_H
#define STRIXCORE_VK_OP_MATMUL_COOP_H

#include <stdbool.h>

#include "vk_internal.h"
#include "vk_tune.h"

/* A MUL_MAT node the coop GEMM takes on this device: the device has an
 * f16 x f16 -> f32 subgroup matrix shape the shader tiles, shaderFloat16, the
 * module was built; w f16/bf16/QG, x and y f32 with contiguous rows; at least
 * 64 columns (M = x->ne[1]). STRIXCORE_VK_MATMUL containing "nocoop" turns it
 * off, "coopmin=N" moves the column threshold (1: every M, for tests). */
bool vk_mm_coop_supports(vk_dev *d, const sc_tensor *node);

/* Record node (supports or vk_mm_coop_can said yes); sel (NULL: default):
 * a tuned selection whose splitk (1..8, vk_mm_coop_splitk_ok) fixes the K splits. */
int vk_mm_coop_record(vk_rec *r, const sc_tensor *node, const vk_tune_sel *sel);
/* supports without the column threshold (tuning: a coop variant for any M). */
bool vk_mm_coop_can(vk_dev *d, const sc_tensor *node);
/* May the coop GEMM of node (vk_mm_coop_can) run in S parts along K? */
bool vk_mm_coop_splitk_ok(vk_dev *d, const sc_tensor *node, uint32_t S);

/* A MUL_MAT_ID node the coop GEMM grouped by expert takes: the device as
 * above, w f16/bf16/QG [K, N, E] with E <= 4096, x f32 [K, X, T] (X == 1 or
 * n_used), ids i32, y f32, with contiguous rows; by default exactly where
 * record_mul_mat_id would run the grouped GEMM (vk_mm_gemv_mul_mat_id says
 * no: 32 pairs per expert on average and more). STRIXCORE_VK_MATMUL
 * "nocoop" turns it off, "coopidmin=N" takes nodes with at least N pairs
 * per expert on average instead (1: every node, for tests); "coopidz=N"
 * (testing) runs N workgroups along each expert's columns. */
bool vk_mm_coop_id_supports(vk_dev *d, const sc_tensor *node);

/* Record node (supports said yes): the sort pass (mul_mat_id_group, into
 * scratch) and the GEMM. */
int vk_mm_coop_id_record(vk_rec *r, const sc_tensor *node);
/* vk_mm_coop_id_supports without the pairs-per-expert threshold (tuning). */
bool vk_mm_coop_id_can(vk_dev *d, const sc_tensor *node);

#endif

/*
 * backends/vulkan/vk_op_matmul_coop.h - MUL_MAT on VK_KHR_cooperative_matrix
 * (vk_op_matmul_coop.c, shaders/mul_mat_coop.comp): the prefill GEMM for
 * f16, bf16 and QG weights with many activation columns. record_mul_mat
 * (vk_op_matmul.c) asks supports first and hands the node over when it says
 * yes; anything it says no to takes the f32 tiled GEMM / GEMV as before.
 */
#ifndef STRIXCORE_VK_OP_MATMUL_COOP_H
#define STRIXCORE_VK_OP_MATMUL_COOP_H

#include <stdbool.h>

#include "vk_internal.h"

/* A MUL_MAT node the coop GEMM takes on this device: the device has an
 * f16 x f16 -> f32 subgroup matrix shape the shader tiles, shaderFloat16, the
 * module was built; w f16/bf16/QG, x and y f32 with contiguous rows; at least
 * 64 columns (M = x->ne[1]). STRIXCORE_VK_MATMUL containing "nocoop" turns it
 * off, "coopmin=N" moves the column threshold (1: every M, for tests). */
bool vk_mm_coop_supports(vk_dev *d, const sc_tensor *node);

/* Record node (supports said yes). */
int vk_mm_coop_record(vk_rec *r, const sc_tensor *node);

#endif

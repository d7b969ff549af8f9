/*
 * backends/vulkan/vk_op_matmul_dp4.h - the int8-activation decode GEMV for QG
 * 4/8-bit weights on packed 4x8-bit integer dot products
 * (vk_op_matmul_dp4.c, shaders/quantize_q8.comp, shaders/mul_mat_vec_dp4.comp).
 * Opt-in (STRIXCORE_VK_MATMUL containing "dp4"): quantising the activations
 * to int8 changes results beyond the f16-exact path's bounds (nmse about
 * 2e-5 against the f32 reference on random data). record_mul_mat
 * (vk_op_matmul.c) asks supports first and hands the node over when it says
 * yes; anything it says no to takes the usual GEMV / GEMM.
 */
#ifndef STRIXCORE_VK_OP_MATMUL_DP4_H
#define STRIXCORE_VK_OP_MATMUL_DP4_H

#include <stdbool.h>

#include "vk_internal.h"

/* A MUL_MAT node the dp4 GEMV takes on this device: "dp4" asked for; the
 * device has VK_KHR_shader_integer_dot_product (vk_caps.int_dot) and subgroup
 * arithmetic; the modules were built; w QG 4- or 8-bit, 2-D, no g_idx, f16
 * rounding, group_size % 32 == 0, K % 32 == 0, codes 16-byte aligned; x f32
 * [K, M] with M <= 4 and contiguous rows; y f32 [N, M]. Alignment is checked
 * on the tensors' addresses (none yet: not checked), so ask again at record
 * time. */
bool vk_mm_dp4_supports(vk_dev *d, const sc_tensor *node);

/* Record node (supports said yes): the quantize dispatch into scratch, then
 * the GEMV. */
int vk_mm_dp4_record(vk_rec *r, const sc_tensor *node);

#endif

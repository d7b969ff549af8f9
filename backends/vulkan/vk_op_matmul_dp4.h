/*
 * backends/vulkan/vk_op_matmul_dp4.h - the int8-activation decode GEMV for QG
 * 4/8-bit weights on packed 4x8-bit integer dot products
 * (vk_op_matmul_dp4.c, shaders/quantize_q8.comp, shaders/mul_mat_vec_dp4.comp).
 * The default for decode GEMVs on devices with integer dot products;
 * STRIXCORE_VK_MATMUL=exact turns it off (quantising the activations to int8
 * changes results beyond the f16-exact path's bounds: nmse about 2e-5 against
 * the f32 reference on random data). record_mul_mat (vk_op_matmul.c) asks
 * supports first and hands the node over when it says yes; the mm_swiglu and
 * mm_add fusers ask vk_mm_dp4_takes. Anything they say no to takes the f32
 * GEMV / GEMM.
 */
#ifndef STRIXCORE_VK_OP_MATMUL_DP4_H
#define STRIXCORE_VK_OP_MATMUL_DP4_H

#include <stdbool.h>

#include "vk_internal.h"
#include "vk_tune.h"

/* y = W x takes the dp4 GEMV on this device: not turned off; the device has
 * VK_KHR_shader_integer_dot_product (vk_caps.int_dot) and subgroup
 * arithmetic; the modules were built; w QG 4- or 8-bit, 2-D, no g_idx, f16
 * or bf16 rounding, group_size % 32 == 0, K % 32 == 0, codes 16-byte aligned; x f32
 * [K, M] with M <= 4 and contiguous rows; y f32 [N, M]. Alignment is checked
 * on the tensors' addresses (none yet: not checked), so ask again at record
 * time. */
bool vk_mm_dp4_takes(vk_dev *d, const sc_tensor *w, const sc_tensor *x, const sc_tensor *y);
/* A MUL_MAT node vk_mm_dp4_takes. */
bool vk_mm_dp4_supports(vk_dev *d, const sc_tensor *node);

/* Record y = W x (takes said yes), with w2 (non-NULL: y = silu(W x) * (W2 x),
 * w2 of w's type, shape and layout) or res (non-NULL: y = res + W x, res f32
 * of y's shape): the quantize dispatch into scratch unless an earlier node of
 * the graph quantized the same x (vk_rec_memo), then the GEMV. */
int vk_mm_dp4_gemv(vk_rec *r, const sc_tensor *w, const sc_tensor *w2, const sc_tensor *x, const sc_tensor *y,
                   const sc_tensor *res, const vk_tune_sel *sel);
/* sel: a tuned selection (vk_tune.h; NULL: the default): its dp4rows / dp4lanes
 * replace the knobs (and, as they do, turn the swiglu int8-copy epilogue off). */
/* Does a dp4 GEMV of `lanes` lanes per workgroup run on this device (a tuned variant)? */
bool vk_mm_dp4_lanes_ok(vk_dev *d, uint32_t lanes);
/* For a node about to write y f32 [K, M] (2-D, M <= 4, K % 32 == 0) in a
 * dispatch that can also write y's int8 copy (norm_rms.comp's Q8OUT): when
 * the dp4 GEMV is on, scratch for the copy (*qs: int8 [M, K/32, 32], *ds:
 * vec2 [M, K/32], quantize_q8.comp's layout in byte order *perm) and
 * vk_rec_memo entry for it, so that the GEMVs reading y skip their quantize
 * dispatch; the caller must then write the copy in its dispatch. SC_ENOTSUP
 * (nothing done) where the dp4 GEMV is off or y does not qualify. */
int vk_mm_dp4_q8_target(vk_rec *r, const sc_tensor *y, uint64_t *qs, uint64_t *ds, uint32_t *perm);
/* The same for the M columns of K floats at addr, x_nb1 floats apart, as a
 * GEMV will see them (ATTENTION's output [D, H, T] is the output projection's
 * x [D*H, T]). */
int vk_mm_dp4_q8_target_at(vk_rec *r, uint64_t addr, uint64_t K, uint64_t M, uint64_t x_nb1, uint64_t *qs, uint64_t *ds,
                            uint32_t *perm);
/* The routed experts take it: w a QG stack [K, N, E] (as takes, per slab),
 * x f32 [K, X, T] with X 1 or n_used (contiguous when n_used), ids i32
 * [n_used, T], n_used * T <= 65535. */
bool vk_mm_dp4_takes_id(vk_dev *d, const sc_tensor *w, const sc_tensor *x, const sc_tensor *ids);
/* moe_gate_up (vk_fuse_gemv.c): y [N, n_used, T] = silu(W_e x) * (W2_e x)
 * per pair. SC_ENOTSUP (nothing recorded) when y's layout does not fit. */
int vk_mm_dp4_moe_gate_up(vk_rec *r, const sc_tensor *w, const sc_tensor *w2, const sc_tensor *x, const sc_tensor *ids,
                          const sc_tensor *y);
/* moe_down: y [N, T] = res + sum over slots in order of rw[i, t] * (W_e a_i),
 * res NULL or of y's layout, rw [1, n_used, T] contiguous. SC_ENOTSUP
 * (nothing recorded) when a layout does not fit. */
int vk_mm_dp4_moe_down(vk_rec *r, const sc_tensor *w, const sc_tensor *a, const sc_tensor *ids, const sc_tensor *rw,
                       const sc_tensor *res, const sc_tensor *y);
/* Record a MUL_MAT node (supports said yes). */
int vk_mm_dp4_record(vk_rec *r, const sc_tensor *node);

#endif

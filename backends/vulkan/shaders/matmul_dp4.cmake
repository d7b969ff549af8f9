# backends/vulkan/shaders/matmul_dp4.cmake - the int8-activation decode GEMV
# (vk_op_matmul_dp4.c; the default for QG 4/8-bit decode on devices with
# VK_KHR_shader_integer_dot_product, vk_caps.int_dot; STRIXCORE_VK_MATMUL=exact
# turns it off):
#   quantize_q8              f32 activations -> int8 blocks of 32 + (scale, sum)
#   mul_mat_vec_dp4          QG 4/8-bit GEMV through OpSDot (GL_EXT_spirv_intrinsics,
#                            so it needs no GL_EXT_integer_dot_product in glslang)
#   mul_mat_vec_dp4_swiglu   the same for a gate/up pair: silu(W x) * (W2 x)
#   mul_mat_vec_dp4_add      the same plus a residual: r + W x
sc_vk_shader(NAME quantize_q8 SOURCE quantize_q8.comp)
sc_vk_shader(NAME mul_mat_vec_dp4 SOURCE mul_mat_vec_dp4.comp)
sc_vk_shader(NAME mul_mat_vec_dp4_swiglu SOURCE mul_mat_vec_dp4.comp DEFINES EPI_SWIGLU)
#   mul_mat_vec_dp4_swiglu_q8  the same writing y's int8 copy too (32 rows a workgroup, one column)
sc_vk_shader(NAME mul_mat_vec_dp4_swiglu_q8 SOURCE mul_mat_vec_dp4.comp DEFINES EPI_SWIGLU Q8OUT)
sc_vk_shader(NAME mul_mat_vec_dp4_add SOURCE mul_mat_vec_dp4.comp DEFINES EPI_ADD)
#   mul_mat_vec_dp4_id_swiglu  routed experts, gate/up pair (moe_gate_up)
#   mul_mat_vec_dp4_id_moe     routed experts, down and the weighted slot sum (moe_down)
sc_vk_shader(NAME mul_mat_vec_dp4_id_swiglu SOURCE mul_mat_vec_dp4.comp DEFINES MUL_MAT_ID EPI_SWIGLU)
#   mul_mat_vec_dp4_id_swiglu_q8  the same writing y's int8 copy too (32 rows a workgroup)
sc_vk_shader(NAME mul_mat_vec_dp4_id_swiglu_q8 SOURCE mul_mat_vec_dp4.comp DEFINES MUL_MAT_ID EPI_SWIGLU Q8OUT)
sc_vk_shader(NAME mul_mat_vec_dp4_id_moe SOURCE mul_mat_vec_dp4.comp DEFINES MUL_MAT_ID EPI_MOE)

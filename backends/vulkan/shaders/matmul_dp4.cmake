# backends/vulkan/shaders/matmul_dp4.cmake - the int8-activation decode GEMV
# (vk_op_matmul_dp4.c; opt-in: STRIXCORE_VK_MATMUL containing "dp4"), used only
# on devices with VK_KHR_shader_integer_dot_product (vk_caps.int_dot):
#   quantize_q8      f32 activations -> int8 blocks of 32 + (scale, sum)
#   mul_mat_vec_dp4  QG 4/8-bit GEMV through OpSDot (GL_EXT_spirv_intrinsics,
#                    so it needs no GL_EXT_integer_dot_product in glslang)
sc_vk_shader(NAME quantize_q8 SOURCE quantize_q8.comp)
sc_vk_shader(NAME mul_mat_vec_dp4 SOURCE mul_mat_vec_dp4.comp)

# backends/vulkan/shaders/matmul_coop.cmake - MUL_MAT and MUL_MAT_ID on the
# matrix units (vk_op_matmul_coop.c). The source is GL_NV_cooperative_matrix
# (what Debian 12's glslc compiles); NV_TO_KHR rewrites it into
# SPV_KHR_cooperative_matrix. Weight type, QG bits/flags, the matrix shape and
# the subgroup size are specialization constants: one module per op.
_sc_vk_probe(SC_VK_HAVE_COOPMAT_NV [=[
#version 450
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
layout(local_size_x = 32) in;
shared uvec4 s[64];
void main() {
    fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> m;
    coopMatLoadNV(m, s, 0u, 2u, false);
}
]=])
if(SC_VK_HAVE_COOPMAT_NV AND TARGET sc_spv_coopmat_khr)
  sc_vk_shader(NAME mul_mat_coop SOURCE mul_mat_coop.comp NV_TO_KHR)
  # 128 x 64 tiles (the MUL_MAT_ID shape), the default: fewer registers per
  # lane, two workgroups per SM on an H200
  sc_vk_shader(NAME mul_mat_coop_m64 SOURCE mul_mat_coop.comp DEFINES TILE_M64=1 NV_TO_KHR)
  # MUL_MAT_ID grouped by expert after mul_mat_id_group.comp's sort (vk_mm_coop_id_record)
  sc_vk_shader(NAME mul_mat_coop_id SOURCE mul_mat_coop.comp DEFINES MUL_MAT_ID=1 NV_TO_KHR)
  # its activations as f16 rows (OPT_XF16), shared by the GEMMs that read them
  sc_vk_shader(NAME x_to_f16 SOURCE x_to_f16.comp)
  # the sum of the partial products of a GEMM split along K (SPLITK)
  sc_vk_shader(NAME mul_mat_splitk SOURCE mul_mat_splitk.comp)
else()
  message(STATUS "Vulkan backend: glslc lacks GL_NV_cooperative_matrix: no mul_mat_coop module")
endif()

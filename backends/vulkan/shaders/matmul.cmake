# backends/vulkan/shaders/matmul.cmake - the MUL_MAT / MUL_MAT_ID modules
# (vk_op_matmul*.c). Weight type, QG bits and flags, tile/row/column counts are
# specialization constants (mul_mat_common.glsl), so one module per algorithm.

# GEMV (decode): few columns, or one MUL_MAT_ID (i, t) pair per workgroup.
sc_vk_shader(NAME mul_mat_vec SOURCE mul_mat_vec.comp)
sc_vk_shader(NAME mul_mat_vec_id SOURCE mul_mat_vec.comp DEFINES MUL_MAT_ID=1)
# QG dequantisation by f16x2 multiplies (devices with shaderFloat16).
sc_vk_shader(NAME mul_mat_vec_f16 SOURCE mul_mat_vec.comp DEFINES QG_F16MUL=1)
sc_vk_shader(NAME mul_mat_vec_id_f16 SOURCE mul_mat_vec.comp DEFINES MUL_MAT_ID=1 QG_F16MUL=1)
# Several warps per workgroup sharing each K chunk of x through shared memory
# (mul_mat_vec.comp WGX; QG with f16 dequantisation only).
sc_vk_shader(NAME mul_mat_vec_wgx_f16 SOURCE mul_mat_vec.comp DEFINES WGX=1 QG_F16MUL=1)
sc_vk_shader(NAME mul_mat_vec_id_wgx_f16 SOURCE mul_mat_vec.comp DEFINES MUL_MAT_ID=1 WGX=1 QG_F16MUL=1)
# The same without GL_KHR_shader_subgroup_arithmetic (shared-memory reduction),
# for devices without subgroup arithmetic in compute.
sc_vk_shader(NAME mul_mat_vec_nosg SOURCE mul_mat_vec.comp DEFINES NO_SUBGROUP=1)
sc_vk_shader(NAME mul_mat_vec_id_nosg SOURCE mul_mat_vec.comp DEFINES MUL_MAT_ID=1 NO_SUBGROUP=1)

# Tiled GEMM (prefill), and MUL_MAT_ID grouped by expert after the sort pass.
sc_vk_shader(NAME mul_mat SOURCE mul_mat.comp)
sc_vk_shader(NAME mul_mat_id SOURCE mul_mat.comp DEFINES MUL_MAT_ID=1)
sc_vk_shader(NAME mul_mat_id_group SOURCE mul_mat_id_group.comp)

# GEMV with fused epilogues (vk_fuse_gemv.c), each as the four GEMV modules
# above (subgroup, f16 dequantisation, shared-memory reduction, WGX):
#   mul_mat_vec_swiglu     MUL_MAT gate + MUL_MAT up + SWIGLU
#   mul_mat_vec_add        MUL_MAT + residual ADD
#   mul_mat_vec_id_swiglu  MUL_MAT_ID gate + MUL_MAT_ID up + SWIGLU
#   mul_mat_vec_id_moe     MUL_MAT_ID down + MUL by routing weights + slot sum (+ residual)
foreach(_epi swiglu:EPI_SWIGLU add:EPI_ADD id_swiglu:MUL_MAT_ID=1,EPI_SWIGLU id_moe:MUL_MAT_ID=1,EPI_MOE)
  string(REGEX REPLACE "[:,]" ";" _epi "${_epi}")
  list(POP_FRONT _epi _suffix)
  sc_vk_shader(NAME mul_mat_vec_${_suffix} SOURCE mul_mat_vec.comp DEFINES ${_epi})
  sc_vk_shader(NAME mul_mat_vec_${_suffix}_f16 SOURCE mul_mat_vec.comp DEFINES ${_epi} QG_F16MUL=1)
  sc_vk_shader(NAME mul_mat_vec_${_suffix}_nosg SOURCE mul_mat_vec.comp DEFINES ${_epi} NO_SUBGROUP=1)
  sc_vk_shader(NAME mul_mat_vec_${_suffix}_wgx_f16 SOURCE mul_mat_vec.comp DEFINES ${_epi} WGX=1 QG_F16MUL=1)
endforeach()

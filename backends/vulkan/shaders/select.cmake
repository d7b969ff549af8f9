# backends/vulkan/shaders/select.cmake - the select family's SPIR-V modules
# (vk_op_select.c looks them up by NAME).
sc_vk_shader(NAME select_get_rows_f32  SOURCE select_get_rows.comp DEFINES TABLE=0)
sc_vk_shader(NAME select_get_rows_f16  SOURCE select_get_rows.comp DEFINES TABLE=1)
sc_vk_shader(NAME select_get_rows_bf16 SOURCE select_get_rows.comp DEFINES TABLE=2)
sc_vk_shader(NAME select_get_rows_qg   SOURCE select_get_rows.comp DEFINES TABLE=3)
sc_vk_shader(NAME select_cpy           SOURCE select_cpy.comp)
sc_vk_shader(NAME select_topk          SOURCE select_topk.comp)
# _nosg: the reduction through shared memory only (no subgroup arithmetic)
sc_vk_shader(NAME select_argmax        SOURCE select_argmax.comp   DEFINES USE_SUBGROUP=1)
sc_vk_shader(NAME select_argmax_nosg   SOURCE select_argmax.comp)

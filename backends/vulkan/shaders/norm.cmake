# backends/vulkan/shaders/norm.cmake - the norm family's SPIR-V modules
# (vk_op_norm.c looks them up by NAME). _nosg: reductions through shared
# memory only, for devices without subgroup arithmetic.
sc_vk_shader(NAME norm_rms          SOURCE norm_rms.comp     DEFINES USE_SUBGROUP=1)
sc_vk_shader(NAME norm_rms_nosg     SOURCE norm_rms.comp)
# RMS_NORM that also writes the int8 copy of its rows the int8-activation GEMV
# reads (vk_op_norm.c, vk_op_matmul_dp4.c; devices with integer dot products)
sc_vk_shader(NAME norm_rms_q8       SOURCE norm_rms.comp     DEFINES USE_SUBGROUP=1 Q8OUT=1)
sc_vk_shader(NAME norm_rms_q8_nosg  SOURCE norm_rms.comp     DEFINES Q8OUT=1)
sc_vk_shader(NAME norm_softmax      SOURCE norm_softmax.comp DEFINES USE_SUBGROUP=1)
sc_vk_shader(NAME norm_softmax_nosg SOURCE norm_softmax.comp)
# inv_freq values carried in push constants: 16 fit 128 bytes, 48 fit 256
sc_vk_shader(NAME norm_rope16       SOURCE norm_rope.comp    DEFINES NFREQ=16)
sc_vk_shader(NAME norm_rope48       SOURCE norm_rope.comp    DEFINES NFREQ=48)

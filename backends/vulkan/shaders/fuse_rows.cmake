# backends/vulkan/shaders/fuse_rows.cmake - the row-wise fusers' SPIR-V
# modules (vk_fuse_rows.c). _nosg: reductions through shared memory only, for
# devices without subgroup arithmetic (as norm.cmake's).
sc_vk_shader(NAME fuse_norm_rope      SOURCE fuse_norm_rope.comp DEFINES USE_SUBGROUP=1)
sc_vk_shader(NAME fuse_norm_rope_nosg SOURCE fuse_norm_rope.comp)
sc_vk_shader(NAME fuse_moe_route      SOURCE fuse_moe_route.comp DEFINES USE_SUBGROUP=1)
sc_vk_shader(NAME fuse_moe_route_nosg SOURCE fuse_moe_route.comp)
# the MoE combine (MUL by the routing weights, slot sum, residual) at prefill
sc_vk_shader(NAME fuse_moe_sum        SOURCE fuse_moe_sum.comp)

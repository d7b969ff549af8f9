# backends/vulkan/shaders/recurrent.cmake - the recurrent ops of Gated DeltaNet
# layers (vk_op_recurrent.c). Kernel size, column block, row split and the
# subgroup size are specialization constants. gated_delta_net_nosg reduces
# through shared memory only (devices without subgroup arithmetic, as the
# norm family's _nosg modules).
sc_vk_shader(NAME ssm_conv             SOURCE ssm_conv.comp)
sc_vk_shader(NAME gated_delta_net      SOURCE gated_delta_net.comp DEFINES USE_SUBGROUP=1)
sc_vk_shader(NAME gated_delta_net_nosg SOURCE gated_delta_net.comp)

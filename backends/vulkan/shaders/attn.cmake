# backends/vulkan/shaders/attn.cmake - the KV_WRITE and ATTENTION modules
# (vk_op_attn.c). Cache dtypes, head_dim, GQA ratio and tile sizes are
# specialization constants, so each source is one module.
sc_vk_shader(NAME kv_write          SOURCE kv_write.comp)
sc_vk_shader(NAME kv_write_copy     SOURCE kv_write_copy.comp)
sc_vk_shader(NAME attention_decode  SOURCE attention_decode.comp)
# decode attention that also writes the int8 copy of its output (for the
# output projection's int8-activation GEMV; one split only)
sc_vk_shader(NAME attention_decode_q8 SOURCE attention_decode.comp DEFINES Q8OUT=1)
sc_vk_shader(NAME attention_prefill SOURCE attention_prefill.comp)
sc_vk_shader(NAME attention_reduce  SOURCE attention_reduce.comp)
# the split-K merge that also writes the int8 copy (decode in several splits)
sc_vk_shader(NAME attention_reduce_q8 SOURCE attention_reduce.comp DEFINES Q8OUT=1)

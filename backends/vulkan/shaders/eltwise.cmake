# Elementwise f32 ops (vk_op_eltwise.c): one module per op from eltwise.comp.
foreach(op add mul scale silu swiglu sigmoid)
  string(TOUPPER ${op} OP)
  sc_vk_shader(NAME ${op}_f32 SOURCE eltwise.comp DEFINES OP_${OP}=1)
endforeach()

// backends/vulkan/shaders/common.glsl - shared declarations of every
// strixcore compute shader (#include "common.glsl"; glslc -I shaders/).
//
// Memory is reached through device addresses (GL_EXT_buffer_reference): a
// push-constant uint64_t is cast to one of the reference types below. Byte
// offsets and strides come from sc_tensor.nb and are turned into element
// indices by the caller's arithmetic; every tensor row the ops read is
// contiguous (docs/ops.md), so rows are indexed as arrays.
#extension GL_EXT_buffer_reference : require
#extension GL_EXT_buffer_reference2 : require
#extension GL_EXT_buffer_reference_uvec2 : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#extension GL_EXT_shader_explicit_arithmetic_types_int16 : require
#extension GL_EXT_shader_explicit_arithmetic_types_int8 : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_8bit_storage : require
#extension GL_EXT_scalar_block_layout : require
#extension GL_KHR_shader_subgroup_basic : enable
#extension GL_KHR_shader_subgroup_arithmetic : enable

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

// Element views of memory at an address (alignment: the element's size).
layout(buffer_reference, scalar, buffer_reference_align = 4) buffer F32Buf { float v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 4) buffer I32Buf { int v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 4) buffer U32Buf { uint v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 2) buffer U16Buf { uint16_t v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 1) buffer U8Buf { uint8_t v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 4) buffer Vec4Buf { vec4 v[]; };

// The error flag (vk_rec_error_addr): atomicOr(ErrBuf(addr).flag, ERR_RANGE).
layout(buffer_reference, std430, buffer_reference_align = 4) buffer ErrBuf { uint flag; };
const uint ERR_RANGE = 1u;

// Half-precision values stored as u16 bit patterns: f16 via unpackHalf2x16
// (no shaderFloat16 needed), bf16 as the top half of an f32.
float f16_to_f32(uint16_t h) { return unpackHalf2x16(uint(h)).x; }
float bf16_to_f32(uint16_t b) { return uintBitsToFloat(uint(b) << 16); }

// f32 -> f16 / bf16, round to nearest even (docs/ops.md "Number formats");
// NaN stays NaN, overflow goes to inf.
uint16_t f32_to_f16(float f) { return uint16_t(packHalf2x16(vec2(f, 0.0)) & 0xffffu); }
uint16_t f32_to_bf16(float f) {
    uint u = floatBitsToUint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40u); // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return uint16_t(u >> 16);
}

// Address arithmetic: byte offsets on uint64 addresses.
uint64_t addr_at(uint64_t base, uint64_t byte_off) { return base + byte_off; }

/*
 * core/src/fp16.c - f16 and bf16 conversions.
 *
 * The bit-exact implementations live in backends/cpu/cpu_fp.h as static
 * inline functions so the CPU kernels can inline them in their scalar loops;
 * this file gives them their public names (and the host-API table its
 * function pointers). Rounding is to nearest, ties to even; see cpu_fp.h.
 */
#include "internal.h"
#include "cpu_fp.h"

float sc_f16_to_f32(uint16_t h) { return sc__f16_to_f32_inl(h); }
uint16_t sc_f32_to_f16(float f) { return sc__f32_to_f16_inl(f); }
float sc_bf16_to_f32(uint16_t b) { return sc__bf16_to_f32_inl(b); }
uint16_t sc_f32_to_bf16(float f) { return sc__f32_to_bf16_inl(f); }

// backends/vulkan/shaders/qg_round.glsl - rounding of a dequantised QG weight,
// shared by the matmul shaders (mul_mat_common.glsl, mul_mat_coop.comp).
// ---- rounding of a dequantised weight (docs/ops.md "Number formats") ---------------
// scale (an f16) * (code - zero) (|.| <= 255) is exact in f32; these round it once,
// to nearest even, in integer arithmetic: no dependence on the device's f16
// conversion rounding mode (packHalf2x16 may truncate), denormal or fast-math
// modes. Mirrors sc__round_f16_inl / sc__round_bf16_inl.
float round_to_f16(float f) {
    uint u = floatBitsToUint(f);
    uint a = u & 0x7fffffffu;
    uint s = u ^ a;
    if (a - 0x38800000u < 0x477ff000u - 0x38800000u) // 2^-14 <= |f| < 65520: a normal f16
        return uintBitsToFloat((u + 0xfffu + ((u >> 13) & 1u)) & ~0x1fffu);
    if (a >= 0x7f800000u) return f;                              // inf, NaN
    if (a >= 0x477ff000u) return uintBitsToFloat(s | 0x7f800000u); // past 65504: inf
    // f16 subnormal: a multiple of 2^-24 (|f| * 2^24 < 1024 is exact, so is the way back)
    float q = roundEven(uintBitsToFloat(a) * 16777216.0);
    return uintBitsToFloat(s | floatBitsToUint(q * (1.0 / 16777216.0)));
}

float round_to_bf16(float f) {
    uint u = floatBitsToUint(f);
    if ((u & 0x7fffffffu) >= 0x7f800000u) return f;
    return uintBitsToFloat((u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u);
}

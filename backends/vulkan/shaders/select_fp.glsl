// backends/vulkan/shaders/select_fp.glsl - exact half-precision conversions
// on bit patterns, for GET_ROWS and CPY, whose results backend-ops compares
// bit for bit. A port of backends/cpu/cpu_fp.h in integer arithmetic: no
// float instruction touches a value, so neither packHalf2x16's
// implementation-defined rounding nor a device's denormal flushing can show.
//  - f32 -> f16 / bf16 round to nearest, ties to even; overflow -> inf
//  - f16 subnormals are produced and consumed exactly
//  - NaN stays NaN (quieted; sign and top payload bits kept)
// Include after common.glsl. Values travel as uint bit patterns (f32 bits,
// or f16/bf16 bits in the low 16).

uint fp_f16_to_f32(uint h) {
    const uint sign = (h & 0x8000u) << 16;
    const uint em = h & 0x7fffu; // exponent and mantissa
    if (em - 0x0400u < 0x7800u) return sign | ((em + 0x1c000u) << 13); // normal: rebias 15 -> 127
    const uint mant = em & 0x3ffu;
    if (em >= 0x7c00u) return sign | 0x7f800000u | (mant << 13); // inf, NaN with its payload
    if (mant == 0u) return sign;                                   // +-0
    // subnormal mant * 2^-24: the leading one at bit p becomes the implicit bit
    const int p = findMSB(mant);
    return sign | (uint(p + 103) << 23) | ((mant << uint(23 - p)) & 0x7fffffu);
}

uint fp_bf16_to_f32(uint b) { return b << 16; }

uint fp_f32_to_f16(uint x) {
    const uint sign = (x >> 16) & 0x8000u;
    uint ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) { // inf or NaN
        if (ax == 0x7f800000u) return sign | 0x7c00u;
        return sign | 0x7e00u | ((ax >> 13) & 0x3ffu);
    }
    if (ax >= 0x477ff000u) return sign | 0x7c00u; // >= 65520: RNE rounds to inf
    if (ax >= 0x38800000u) {                       // normal f16: rebias, round 13 bits to nearest even
        const uint odd = (ax >> 13) & 1u;
        ax += 0xc8000fffu + odd; // -(112 << 23) + 0xfff + odd, mod 2^32
        return sign | (ax >> 13);
    }
    // below 2^-14: subnormal f16 (units of 2^-24) or zero
    const uint e = ax >> 23;
    if (e < 102u) return sign;
    const uint m = (ax & 0x7fffffu) | 0x800000u;
    const uint shift = 126u - e; // 14..24
    uint q = m >> shift;
    const uint rem = m & ((1u << shift) - 1u);
    const uint halfway = 1u << (shift - 1u);
    if (rem > halfway || (rem == halfway && (q & 1u) != 0u)) q++;
    return sign | q;
}

uint fp_f32_to_bf16(uint x) {
    if ((x & 0x7fffffffu) > 0x7f800000u) return ((x >> 16) | 0x40u) & 0xffffu; // NaN: quiet it
    x += 0x7fffu + ((x >> 16) & 1u);
    return x >> 16;
}

// f32 -> f16 -> f32, f32 -> bf16 -> f32: the rounding of a QG weight
uint fp_round_f16(uint x) { return fp_f16_to_f32(fp_f32_to_f16(x)); }
uint fp_round_bf16(uint x) { return fp_f32_to_bf16(x) << 16; }

// The linear workgroup index of a grid split into dispatches of at most
// 65535 x 65535 (vk_op_select.c: sel_dispatch); false for padding groups.
bool sel_group(uint wg_base, uint wg_count, out uint group) {
    const uint local = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    group = wg_base + local;
    return local < wg_count;
}

// backends/vulkan/shaders/select_rank.glsl - the ranking order of TOP_K and
// ARGMAX (docs/ops.md, backends/cpu/ref_softmax.c) as unsigned integers:
// larger value first, NaN below every number (-inf included), equal values
// (-0 == +0, every NaN equal to every NaN) by lower index first.
//
// rank_key(bits) maps an f32 bit pattern to a u32 that orders like the value
// (NaN -> 0, the smallest; -inf -> 0x007fffff; +-0 -> 0x80000000; +inf ->
// 0xff800000). Paired with ~index (larger for a lower index), the 64-bit key
// (rank_key << 32 | ~index) is distinct per element and "ranks before" is
// plain ">". Values are read as bits, never as floats, so no device can
// canonicalise a NaN or flush a denormal on the way.

uint rank_key(uint b) {
    if ((b & 0x7fffffffu) > 0x7f800000u) return 0u; // NaN
    if (b == 0x80000000u) b = 0u;                    // -0 ties with +0
    return (b & 0x80000000u) != 0u ? ~b : (b | 0x80000000u);
}

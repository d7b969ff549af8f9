// backends/vulkan/shaders/norm_sincos.glsl - sin and cos of an f32 rotary
// angle theta = pos * inv_freq, for ROPE (norm_rope.comp) and the fused head
// norm + rotation (fuse_norm_rope.comp). Include after common.glsl.
//
// GPU sin/cos are only specified to 2^-11 absolute error and reduce large
// arguments in f32 (an error of ~|theta| * 2^-24), while theta reaches
// thousands of radians. sincos_exact reduces theta modulo pi/2 exactly in
// 64-bit integers (Payne-Hanek with 96 bits of 2/pi) and evaluates minimax
// polynomials on [-pi/4, pi/4]: within ~2 ulp of the true values, on any
// device.

// sin and cos of r in [-pi/4, pi/4] (Cephes sinf/cosf polynomials, ~1 ulp)
void sincos_poly(float r, out float s, out float c) {
    const float z = r * r;
    s = ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1) * z * r + r;
    c = ((2.443315711809948e-5 * z - 1.388731625493765e-3) * z + 4.166664568298827e-2) * z * z - 0.5 * z + 1.0;
}

// sin and cos of an f32 angle, with exact argument reduction.
void sincos_exact(float theta, out float s, out float c) {
    const uint b = floatBitsToUint(theta);
    const uint ab = b & 0x7fffffffu;
    const int E = int(ab >> 23) - 150; // |theta| = M * 2^E, M the 24-bit significand
    if (ab < 0x3f490fdbu) {            // |theta| < pi/4: no reduction
        sincos_poly(uintBitsToFloat(ab), s, c);
    } else if (E > 33) {               // |theta| >= 2^57 (or inf/NaN): out of the table's reach
        s = sin(uintBitsToFloat(ab));
        c = cos(uintBitsToFloat(ab));
    } else {
        // theta * 2/pi = M * P * 2^(E - 96), P = floor(2/pi * 2^96) in three
        // 32-bit limbs; the 128-bit product M * P is exact.
        const uint64_t M = uint64_t((ab & 0x7fffffu) | 0x800000u);
        const uint64_t a0 = M * 0xFC2757D1ul, a1 = M * 0x4E441529ul, a2 = M * 0xA2F9836Eul;
        const uint64_t lo = a0 + (a1 << 32);
        const uint64_t hi = (a1 >> 32) + a2 + (lo < a0 ? 1ul : 0ul);
        // X: theta * 2/pi mod 4 as fixed point, 2 integer bits over 62
        // fraction bits; |theta| >= pi/4 gives E >= -24, so 1 <= S <= 58.
        const int S = 34 - E;
        uint64_t X = (lo >> S) | (hi << (64 - S));
        X += 1ul << 61;                              // round to the nearest quadrant
        const uint k = uint(X >> 62);                // quadrant mod 4
        const int64_t fx = int64_t(X & ((1ul << 62) - 1ul)) - (1l << 61); // [-2^61, 2^61)
        const float r = float(fx) * 3.40612158008655459e-19; // * pi/2 * 2^-62 (one rounding, as of pi/2)
        float ps, pc_;
        sincos_poly(r, ps, pc_);
        s = (k == 0u) ? ps : (k == 1u) ? pc_ : (k == 2u) ? -ps : -pc_;
        c = (k == 0u) ? pc_ : (k == 1u) ? -ps : (k == 2u) ? -pc_ : ps;
    }
    if ((b >> 31) != 0u) s = -s; // sin is odd, cos even
}

/*
 * backends/cpu/cpu_fp.h - half-precision conversions as static inline code.
 *
 * One implementation, two users: core/src/fp16.c wraps these into the public
 * sc_f16_to_f32 & co., and the CPU kernels inline them in their scalar loops
 * (tails, the generic path). All four are exact IEEE-754 conversions done in
 * integer arithmetic, so they do not depend on the FPU rounding mode, on
 * flush-to-zero, or on -ffast-math:
 *  - f32 -> f16 and f32 -> bf16 round to nearest, ties to even;
 *  - subnormals are produced and consumed exactly;
 *  - +-inf stays inf, a value past the f16 range rounds to inf;
 *  - NaN stays NaN (quieted, sign and the top payload bits kept).
 */
#ifndef STRIXCORE_CPU_FP_H
#define STRIXCORE_CPU_FP_H

#include <stdint.h>
#include <string.h>

static inline uint32_t sc__f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float sc__f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* f16: 1 sign, 5 exponent (bias 15), 10 mantissa bits. */
static inline float sc__f16_to_f32_inl(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t em = h & 0x7fffu; /* exponent and mantissa */
    if (em - 0x0400u < 0x7800u) /* exponent 1..30, the common case: rebias 15 -> 127 */
        return sc__f32_from_bits(sign | ((em + 0x1c000u) << 13));
    uint32_t mant = em & 0x3ffu, bits;
    if (em >= 0x7c00u) {
        bits = sign | 0x7f800000u | (mant << 13); /* inf, or NaN with its payload */
    } else if (mant == 0) {
        bits = sign; /* +-0 */
    } else {
        /* subnormal: mant * 2^-24. Shift the leading one up to bit 10; every
         * shift halves the value, i.e. lowers the f32 exponent by one from
         * that of 2^-14 (biased 113). */
        uint32_t e = 113;
        while ((mant & 0x400u) == 0) {
            mant <<= 1;
            e--;
        }
        bits = sign | (e << 23) | ((mant & 0x3ffu) << 13);
    }
    return sc__f32_from_bits(bits);
}

static inline uint16_t sc__f32_to_f16_inl(float f) {
    uint32_t x = sc__f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;

    if (ax >= 0x7f800000u) { /* inf or NaN */
        if (ax == 0x7f800000u) return (uint16_t)(sign | 0x7c00u);
        return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu)); /* quiet NaN */
    }
    if (ax >= 0x477ff000u) /* >= 65520: halfway past 65504 or beyond, RNE -> inf */
        return (uint16_t)(sign | 0x7c00u);
    if (ax >= 0x38800000u) { /* >= 2^-14: a normal f16 */
        /* Rebias the exponent (127 -> 15) and round the 13 dropped bits to
         * nearest even; a carry out of the mantissa bumps the exponent, which
         * is exactly right (and 65519.99 -> 65504 stays below inf). */
        uint32_t odd = (ax >> 13) & 1u;
        ax += 0xc8000fffu + odd; /* == -(112 << 23) + 0xfff + odd (mod 2^32) */
        return (uint16_t)(sign | (ax >> 13));
    }
    /* Below 2^-14: an f16 subnormal (units of 2^-24) or zero. The f32 value is
     * m * 2^(e - 150) with the implicit bit in m, so the f16 code is
     * m * 2^(e - 126) = m >> (126 - e), rounded to nearest even. */
    uint32_t e = ax >> 23;
    if (e < 102) return (uint16_t)sign; /* < 2^-25: rounds to zero */
    uint32_t m = (ax & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - e; /* 14..24 */
    uint32_t q = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1u))) q++; /* may become 0x400: the smallest normal */
    return (uint16_t)(sign | q);
}

/* bf16: the top 16 bits of an f32. */
static inline float sc__bf16_to_f32_inl(uint16_t b) { return sc__f32_from_bits((uint32_t)b << 16); }

static inline uint16_t sc__f32_to_bf16_inl(float f) {
    uint32_t x = sc__f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) /* NaN: truncating could make it inf; quiet it */
        return (uint16_t)((x >> 16) | 0x40u);
    x += 0x7fffu + ((x >> 16) & 1u); /* RNE; overflow past the max rounds to inf */
    return (uint16_t)(x >> 16);
}

/* f32 -> f16 -> f32 in one step (what a QG weight goes through). Values in
 * the normal f16 range round the mantissa in place; the rest take the exact
 * conversions. */
static inline float sc__round_f16_inl(float f) {
    uint32_t x = sc__f32_bits(f), ax = x & 0x7fffffffu;
    if (ax - 0x38800000u < 0x477ff000u - 0x38800000u) { /* 2^-14 <= |f| < 65520 */
        x += 0xfffu + ((x >> 13) & 1u);                  /* RNE at bit 13; a carry bumps the exponent */
        return sc__f32_from_bits(x & ~0x1fffu);
    }
    return sc__f16_to_f32_inl(sc__f32_to_f16_inl(f));
}

static inline float sc__round_bf16_inl(float f) { return sc__bf16_to_f32_inl(sc__f32_to_bf16_inl(f)); }

#endif

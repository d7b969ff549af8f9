/*
 * tests/unit/test_fp16.c - f16 and bf16 conversions (core/src/fp16.c).
 *
 * Independent oracles: ldexp() for the value of every f16 code, exact
 * midpoints between neighbouring f16/bf16 values for round-to-nearest-even,
 * and, where the CPU has F16C, the hardware converter on a large sample.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <string.h>
#include <cmocka.h>

#include "strixcore/strixcore.h"
#include "cpu_fp.h"

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* The value of an f16 code from its definition. */
static double f16_value(uint16_t h) {
    int sign = h >> 15, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    double v = exp == 0 ? ldexp(mant, -24) : exp == 31 ? INFINITY : ldexp(1024 + mant, exp - 25);
    return sign ? -v : v;
}

static void test_f16_to_f32_all(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = sc_f16_to_f32((uint16_t)h);
        int exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
        if (exp == 31 && mant != 0) {
            assert_true(isnan(f));
            assert_int_equal(bits_of(f) >> 31, h >> 15);
            continue;
        }
        assert_true((double)f == f16_value((uint16_t)h));
        if (h == 0x8000) assert_true(signbit(f)); /* -0 keeps its sign */
    }
}

static void test_f16_round_trip_all(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        uint16_t back = sc_f32_to_f16(sc_f16_to_f32((uint16_t)h));
        if (((h >> 10) & 0x1f) == 31 && (h & 0x3ff) != 0) {
            /* NaN: stays NaN, same sign, quiet bit set, payload kept */
            assert_int_equal(back & 0x7c00, 0x7c00);
            assert_int_not_equal(back & 0x3ff, 0);
            assert_int_equal(back & 0x8000, h & 0x8000);
            assert_int_equal(back & 0x1ff, h & 0x1ff);
            continue;
        }
        assert_int_equal(back, h);
    }
}

/* Midpoints between every pair of neighbouring positive f16 values: the
 * midpoint goes to the even code, one f32 ulp either side to the nearer. */
static void test_f16_rne_midpoints(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 0x7c00; h++) {
        double lo = f16_value((uint16_t)h);
        double hi = h + 1 == 0x7c00 ? 65536.0 : f16_value((uint16_t)(h + 1)); /* inf sits where 2^16 would */
        float mid = (float)((lo + hi) / 2); /* exact: needs 12 significant bits */
        assert_true((double)mid == (lo + hi) / 2);
        uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
        assert_int_equal(sc_f32_to_f16(mid), even);
        assert_int_equal(sc_f32_to_f16(nextafterf(mid, 0.0f)), h);
        assert_int_equal(sc_f32_to_f16(nextafterf(mid, INFINITY)), h + 1);
        assert_int_equal(sc_f32_to_f16(-mid), 0x8000 | even);
    }
}

static void test_f16_special(void **state) {
    (void)state;
    assert_int_equal(sc_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);           /* tie -> even (1.0) */
    assert_int_equal(sc_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);       /* tie -> even (1 + 2^-9) */
    assert_int_equal(sc_f32_to_f16(65504.0f), 0x7bff);
    assert_int_equal(sc_f32_to_f16(65519.996f), 0x7bff);
    assert_int_equal(sc_f32_to_f16(65520.0f), 0x7c00);                  /* tie past max -> inf */
    assert_int_equal(sc_f32_to_f16(1e10f), 0x7c00);
    assert_int_equal(sc_f32_to_f16(-1e10f), 0xfc00);
    assert_int_equal(sc_f32_to_f16(INFINITY), 0x7c00);
    assert_int_equal(sc_f32_to_f16(-INFINITY), 0xfc00);
    assert_int_equal(sc_f32_to_f16(0x1p-24f), 0x0001);                  /* smallest subnormal */
    assert_int_equal(sc_f32_to_f16(0x1p-25f), 0x0000);                  /* tie -> even (0) */
    assert_int_equal(sc_f32_to_f16(nextafterf(0x1p-25f, 1.0f)), 0x0001);
    assert_int_equal(sc_f32_to_f16(3 * 0x1p-25f), 0x0002);              /* 1.5 units -> 2 */
    assert_int_equal(sc_f32_to_f16(0x1p-14f - 0x1p-25f), 0x0400);       /* rounds up into the normals */
    assert_int_equal(sc_f32_to_f16(1e-30f), 0x0000);
    assert_int_equal(sc_f32_to_f16(-1e-30f), 0x8000);
    assert_int_equal(sc_f32_to_f16(from_bits(1)), 0x0000);              /* f32 subnormal */
    assert_int_equal(sc_f32_to_f16(-0.0f), 0x8000);
    assert_int_equal(sc_f32_to_f16(0.1f), 0x2e66);
    uint16_t n = sc_f32_to_f16(NAN);
    assert_int_equal(n & 0x7c00, 0x7c00);
    assert_int_not_equal(n & 0x3ff, 0);
    n = sc_f32_to_f16(from_bits(0x7f800001u)); /* signalling NaN whose payload is all below f16's */
    assert_int_equal(n & 0x7c00, 0x7c00);
    assert_int_not_equal(n & 0x3ff, 0);
}

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
__attribute__((target("f16c"))) static uint16_t hw_f32_to_f16(float f) {
    return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}

/* F16C present and usable (OSXSAVE + AVX state enabled); cpuid because
 * clang's __builtin_cpu_supports does not know "f16c". */
static bool have_f16c(void) {
    unsigned a, b, c, d, lo, hi;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    if ((c & (7u << 27)) != (7u << 27)) return false; /* OSXSAVE, AVX, F16C */
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    return (lo & 6u) == 6u;
}
#endif

/* Compare against the F16C converter over many f32 bit patterns (every
 * 97th pattern spans all exponents, signs and NaN payloads). */
static void test_f16_vs_hardware(void **state) {
    (void)state;
#if defined(__x86_64__)
    if (!have_f16c()) skip();
    for (uint64_t u = 0; u < 0x100000000ull; u += 97) {
        float f = from_bits((uint32_t)u);
        uint16_t a = sc_f32_to_f16(f), b = hw_f32_to_f16(f);
        if (isnan(f)) {
            assert_int_equal(a & 0x7c00, 0x7c00);
            assert_int_not_equal(a & 0x3ff, 0);
            continue;
        }
        if (a != b) fail_msg("f32 0x%08x: got 0x%04x, F16C says 0x%04x", (unsigned)u, a, b);
    }
#else
    skip();
#endif
}

/* The one-step f32 -> f16 -> f32 rounding the QG kernels use agrees with the
 * two conversions on every 61st f32 bit pattern (and bf16 likewise). */
static void test_round_helpers(void **state) {
    (void)state;
    for (uint64_t u = 0; u < 0x100000000ull; u += 61) {
        float f = from_bits((uint32_t)u);
        float a = sc__round_f16_inl(f), b = sc_f16_to_f32(sc_f32_to_f16(f));
        if (isnan(f)) {
            assert_true(isnan(a));
        } else if (bits_of(a) != bits_of(b)) {
            fail_msg("f32 0x%08x: round_f16 0x%08x, via f16 0x%08x", (unsigned)u, bits_of(a), bits_of(b));
        }
        a = sc__round_bf16_inl(f);
        b = sc_bf16_to_f32(sc_f32_to_bf16(f));
        assert_true(isnan(f) ? isnan(a) : bits_of(a) == bits_of(b));
    }
}

static void test_bf16(void **state) {
    (void)state;
    /* every bf16 code: exact widening, round trip */
    for (uint32_t b = 0; b < 65536; b++) {
        float f = sc_bf16_to_f32((uint16_t)b);
        assert_int_equal(bits_of(f), b << 16);
        uint16_t back = sc_f32_to_bf16(f);
        if (isnan(f)) {
            assert_true(isnan(sc_bf16_to_f32(back)));
            assert_int_equal(back & 0x8000, b & 0x8000);
        } else {
            assert_int_equal(back, b);
        }
    }
    /* RNE: midpoints go to even, one ulp off goes to nearer */
    assert_int_equal(sc_f32_to_bf16(from_bits(0x3f808000u)), 0x3f80); /* tie, even below */
    assert_int_equal(sc_f32_to_bf16(from_bits(0x3f818000u)), 0x3f82); /* tie, even above */
    assert_int_equal(sc_f32_to_bf16(from_bits(0x3f808001u)), 0x3f81);
    assert_int_equal(sc_f32_to_bf16(from_bits(0x3f807fffu)), 0x3f80);
    assert_int_equal(sc_f32_to_bf16(1.0f / 3.0f), 0x3eab);
    assert_int_equal(sc_f32_to_bf16(from_bits(0x7f7fffffu)), 0x7f80); /* FLT_MAX rounds to inf */
    assert_int_equal(sc_f32_to_bf16(-INFINITY), 0xff80);
    /* NaN stays NaN even when its payload lives only in the dropped bits */
    uint16_t n = sc_f32_to_bf16(from_bits(0x7f800001u));
    assert_true(isnan(sc_bf16_to_f32(n)));
    n = sc_f32_to_bf16(from_bits(0xffffffffu));
    assert_true(isnan(sc_bf16_to_f32(n)));
    assert_int_equal(n & 0x8000, 0x8000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_to_f32_all),
        cmocka_unit_test(test_f16_round_trip_all),
        cmocka_unit_test(test_f16_rne_midpoints),
        cmocka_unit_test(test_f16_special),
        cmocka_unit_test(test_f16_vs_hardware),
        cmocka_unit_test(test_round_helpers),
        cmocka_unit_test(test_bf16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

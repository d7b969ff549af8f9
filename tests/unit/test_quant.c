/*
 * tests/unit/test_quant.c - the SC_TYPE_QG layout, packing and dequantisation
 * (core/src/quant.c), checked against hand-computed layouts and values.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cpu_test_util.h"

static sc_tensor shape3(int64_t K, int64_t N, int64_t n_mat) {
    sc_tensor t;
    memset(&t, 0, sizeof t);
    t.ne[0] = K;
    t.ne[1] = N;
    t.ne[2] = n_mat;
    t.ne[3] = 1;
    return t;
}

static void test_layout_by_hand(void **state) {
    (void)state;
    /* K=70, N=5, 4 bits, groups of 32: row_bytes = ceil(280/32)*4 = 36, G = 3.
     * codes 5*36 = 180 -> scales at 192 (30 bytes) -> zeros at 224 (15 bytes)
     * -> end 239 -> slab 256. */
    sc_tensor t = shape3(70, 5, 3);
    assert_int_equal(sc_quant_layout(&t, 4, 32, false), SC_OK);
    assert_int_equal(t.type, SC_TYPE_QG);
    assert_int_equal(t.quant.bits, 4);
    assert_int_equal(t.quant.n_groups, 3);
    assert_int_equal(t.quant.row_bytes, 36);
    assert_int_equal(t.quant.scales_offset, 192);
    assert_int_equal(t.quant.zeros_offset, 224);
    assert_int_equal(t.quant.flags, 0);
    assert_int_equal(t.nb[1], 36);
    assert_int_equal(t.nb[2], 256);
    assert_int_equal(t.nb[3], 768);

    /* with g_idx: i32 [70] at 256, ends at 536 -> slab 544 */
    t = shape3(70, 5, 1);
    assert_int_equal(sc_quant_layout(&t, 4, 32, true), SC_OK);
    assert_int_equal(t.quant.flags, SC_QUANT_HAS_GIDX);
    assert_int_equal(t.quant.gidx_offset, 256);
    assert_int_equal(t.nb[2], 544);

    /* 3 bits, K=11: 33 bits -> 2 words = 8 bytes per row; one group (gs >= K) */
    t = shape3(11, 2, 1);
    assert_int_equal(sc_quant_layout(&t, 3, 128, false), SC_OK);
    assert_int_equal(t.quant.row_bytes, 8);
    assert_int_equal(t.quant.n_groups, 1);
    assert_int_equal(t.quant.scales_offset, 32);
    assert_int_equal(t.quant.zeros_offset, 64);
    assert_int_equal(t.nb[2], 96);
}

static void test_layout_bad_args(void **state) {
    (void)state;
    sc_tensor t = shape3(64, 4, 1);
    assert_int_equal(sc_quant_layout(NULL, 4, 32, false), SC_EINVAL);
    assert_int_equal(sc_quant_layout(&t, 5, 32, false), SC_EINVAL);
    assert_int_equal(sc_quant_layout(&t, 1, 32, false), SC_EINVAL);
    assert_int_equal(sc_quant_layout(&t, 16, 32, false), SC_EINVAL);
    assert_int_equal(sc_quant_layout(&t, 4, 0, false), SC_EINVAL);
    t = shape3(0, 4, 1);
    assert_int_equal(sc_quant_layout(&t, 4, 32, false), SC_EINVAL);
    t = shape3(64, -1, 1);
    assert_int_equal(sc_quant_layout(&t, 4, 32, false), SC_EINVAL);
    t = shape3((int64_t)1 << 40, 4, 1);
    assert_int_equal(sc_quant_layout(&t, 4, 32, false), SC_EOVERFLOW);
}

static void test_pack_known_bits(void **state) {
    (void)state;
    uint8_t row[8];
    const uint8_t c4[3] = {1, 2, 3};
    assert_int_equal(sc_quant_pack_row(4, 3, c4, row), SC_OK);
    const uint8_t want4[4] = {0x21, 0x03, 0x00, 0x00}; /* code k at bits 4k, LSB first */
    assert_memory_equal(row, want4, 4);

    const uint8_t c3[3] = {7, 0, 5}; /* 111 | 000 << 3 | 101 << 6 = 0x147 */
    assert_int_equal(sc_quant_pack_row(3, 3, c3, row), SC_OK);
    const uint8_t want3[4] = {0x47, 0x01, 0x00, 0x00};
    assert_memory_equal(row, want3, 4);

    const uint8_t c2[5] = {3, 0, 1, 2, 3}; /* 11 00 01 10 | 11 -> 0b10010011, 0b11 */
    assert_int_equal(sc_quant_pack_row(2, 5, c2, row), SC_OK);
    const uint8_t want2[4] = {0x93, 0x03, 0x00, 0x00};
    assert_memory_equal(row, want2, 4);

    const uint8_t c8[2] = {0xab, 0x01};
    assert_int_equal(sc_quant_pack_row(8, 2, c8, row), SC_OK);
    const uint8_t want8[4] = {0xab, 0x01, 0x00, 0x00};
    assert_memory_equal(row, want8, 4);
}

/* Bit k*bits+j of the row, read as a plain bitstream. */
static uint32_t stream_code(const uint8_t *row, uint32_t bits, int64_t k) {
    uint32_t v = 0;
    for (uint32_t j = 0; j < bits; j++) {
        uint64_t bit = (uint64_t)k * bits + j;
        v |= (uint32_t)((row[bit / 8] >> (bit % 8)) & 1u) << j;
    }
    return v;
}

static void test_pack_round_trip(void **state) {
    (void)state;
    const uint32_t bits_list[4] = {2, 3, 4, 8};
    const int64_t k_list[5] = {1, 7, 33, 37, 101};
    uint8_t codes[101], row[128];
    tt_seed(7);
    for (int b = 0; b < 4; b++)
        for (int ki = 0; ki < 5; ki++) {
            const uint32_t bits = bits_list[b];
            const int64_t K = k_list[ki];
            const size_t rb = (size_t)((K * bits + 31) / 32 * 4);
            for (int64_t k = 0; k < K; k++) codes[k] = (uint8_t)((uint32_t)((tt_rand() + 1.0f) * 1000.0f) % (1u << bits));
            memset(row, 0xee, sizeof row);
            assert_int_equal(sc_quant_pack_row(bits, K, codes, row), SC_OK);
            for (int64_t k = 0; k < K; k++) {
                assert_int_equal(sc_quant_get_code(bits, row, k), codes[k]);
                assert_int_equal(stream_code(row, bits, k), codes[k]);
            }
            for (uint64_t bit = (uint64_t)K * bits; bit < rb * 8; bit++) /* padding is zero */
                assert_int_equal((row[bit / 8] >> (bit % 8)) & 1, 0);
            assert_int_equal(row[rb], 0xee); /* nothing written past row_bytes */
        }
}

static void test_pack_bad_args(void **state) {
    (void)state;
    uint8_t row[8] = {0}, codes[4] = {1, 2, 16, 0};
    assert_int_equal(sc_quant_pack_row(4, 4, codes, row), SC_ERANGE); /* 16 needs 5 bits */
    assert_int_equal(sc_quant_pack_row(5, 4, codes, row), SC_EINVAL);
    assert_int_equal(sc_quant_pack_row(4, 0, codes, row), SC_EINVAL);
    assert_int_equal(sc_quant_pack_row(4, 4, NULL, row), SC_EINVAL);
    assert_int_equal(sc_quant_pack_row(4, 4, codes, NULL), SC_EINVAL);
    assert_int_equal(sc_quant_get_code(5, row, 0), 0);
    assert_int_equal(sc_quant_get_code(4, NULL, 0), 0);
}

static void set_scale(sc_tensor *t, uint8_t *slab, int64_t n, int64_t g, uint16_t h) {
    memcpy(slab + t->quant.scales_offset + (size_t)(n * t->quant.n_groups + g) * 2, &h, 2);
}

static void set_zero(sc_tensor *t, uint8_t *slab, int64_t n, int64_t g, uint8_t z) {
    slab[t->quant.zeros_offset + (size_t)(n * t->quant.n_groups + g)] = z;
}

/* Hand-computed values, including one where the single f16 rounding shows:
 * scale 0x3555 = 0.333251953125, times 5 = 1.666259765625 -> f16 1.666015625
 * (bf16: 1.6640625). */
static void test_dequant_by_hand(void **state) {
    (void)state;
    tt_arena a = {0};
    sc_tensor *t = tt_new_qg(&a, 4, 2, false, 5, 2, 1); /* K=5, N=2, groups of 2 -> G=3 */
    uint8_t *slab = t->data;
    const uint8_t r0[5] = {9, 13, 0, 15, 7}, r1[5] = {3, 8, 8, 1, 2};
    sc_quant_pack_row(4, 5, r0, slab);
    sc_quant_pack_row(4, 5, r1, slab + t->quant.row_bytes);
    set_scale(t, slab, 0, 0, 0x3e00); /* 1.5 */
    set_scale(t, slab, 0, 1, 0x3555); /* 0.333251953125 */
    set_scale(t, slab, 0, 2, 0xb800); /* -0.5 */
    set_zero(t, slab, 0, 0, 8);
    set_zero(t, slab, 0, 1, 8);
    set_zero(t, slab, 0, 2, 2);
    set_scale(t, slab, 1, 0, 0x3c00); /* 1 */
    set_scale(t, slab, 1, 1, 0x4000); /* 2 */
    set_scale(t, slab, 1, 2, 0x3400); /* 0.25 */
    set_zero(t, slab, 1, 0, 0);
    set_zero(t, slab, 1, 1, 8);
    set_zero(t, slab, 1, 2, 0);

    float out[5];
    assert_int_equal(sc_quant_dequant_row(t, slab, 0, out), SC_OK);
    /* 1.5*(9-8), 1.5*(13-8), 0.3333*(0-8) -> f16, 0.3333*(15-8) -> f16, -0.5*(7-2) */
    assert_true(out[0] == 1.5f);
    assert_true(out[1] == 7.5f);
    assert_true(out[2] == -2.666015625f);    /* -2.666015625 exactly representable */
    assert_true(out[3] == 2.33203125f);      /* 2.332763671875 rounds to 2.33203125 */
    assert_true(out[4] == -2.5f);
    assert_int_equal(sc_quant_dequant_row(t, slab, 1, out), SC_OK);
    assert_true(out[0] == 3.0f && out[1] == 8.0f && out[2] == 0.0f && out[3] == -14.0f && out[4] == 0.5f);

    /* the rounding that shows: code-zero = 5 with the 1/3 scale */
    const uint8_t r2[5] = {0, 0, 13, 13, 0};
    sc_quant_pack_row(4, 5, r2, slab);
    assert_int_equal(sc_quant_dequant_row(t, slab, 0, out), SC_OK);
    assert_true(out[2] == 1.666015625f);
    t->quant.flags |= SC_QUANT_BF16_ROUND;
    assert_int_equal(sc_quant_dequant_row(t, slab, 0, out), SC_OK);
    assert_true(out[2] == 1.6640625f);
    tt_free(&a);
}

static void test_dequant_gidx(void **state) {
    (void)state;
    tt_arena a = {0};
    sc_tensor *t = tt_new_qg(&a, 8, 2, true, 4, 1, 1); /* K=4, groups of 2 -> G=2 */
    uint8_t *slab = t->data;
    const uint8_t r[4] = {10, 10, 10, 10};
    sc_quant_pack_row(8, 4, r, slab);
    set_scale(t, slab, 0, 0, 0x3c00); /* group 0: 1 * (10 - 0) = 10 */
    set_scale(t, slab, 0, 1, 0x4000); /* group 1: 2 * (10 - 4) = 12 */
    set_zero(t, slab, 0, 1, 4);
    const int32_t gidx[4] = {1, 0, 0, 1}; /* act-order: columns 0 and 3 in group 1 */
    memcpy(slab + t->quant.gidx_offset, gidx, sizeof gidx);
    float out[4];
    assert_int_equal(sc_quant_dequant_row(t, slab, 0, out), SC_OK);
    assert_true(out[0] == 12.0f && out[1] == 10.0f && out[2] == 10.0f && out[3] == 12.0f);

    const int32_t bad[4] = {0, 2, 0, 0}; /* G = 2: group 2 does not exist */
    memcpy(slab + t->quant.gidx_offset, bad, sizeof bad);
    assert_int_equal(sc_quant_dequant_row(t, slab, 0, out), SC_ERANGE);
    const int32_t neg[4] = {0, 0, -1, 0};
    memcpy(slab + t->quant.gidx_offset, neg, sizeof neg);
    assert_int_equal(sc_quant_dequant_row(t, slab, 0, out), SC_ERANGE);
    tt_free(&a);
}

static void test_dequant_bad_args(void **state) {
    (void)state;
    tt_arena a = {0};
    sc_tensor *t = tt_new_qg(&a, 4, 32, false, 64, 3, 1);
    float out[64];
    assert_int_equal(sc_quant_dequant_row(t, t->data, 3, out), SC_ERANGE);
    assert_int_equal(sc_quant_dequant_row(t, t->data, -1, out), SC_ERANGE);
    assert_int_equal(sc_quant_dequant_row(NULL, t->data, 0, out), SC_EINVAL);
    assert_int_equal(sc_quant_dequant_row(t, NULL, 0, out), SC_EINVAL);
    assert_int_equal(sc_quant_dequant_row(t, t->data, 0, NULL), SC_EINVAL);
    sc_tensor bad = *t;
    bad.quant.n_groups = 1; /* disagrees with K / group_size */
    assert_int_equal(sc_quant_dequant_row(&bad, t->data, 0, out), SC_EINVAL);
    bad = *t;
    bad.quant.bits = 5;
    assert_int_equal(sc_quant_dequant_row(&bad, t->data, 0, out), SC_EINVAL);
    bad = *t;
    bad.quant.scales_offset = 8; /* overlaps the codes */
    assert_int_equal(sc_quant_dequant_row(&bad, t->data, 0, out), SC_EINVAL);
    bad = *t;
    bad.nb[2] = 16; /* slab too small for its sections */
    assert_int_equal(sc_quant_dequant_row(&bad, t->data, 0, out), SC_EINVAL);
    bad = *t;
    bad.type = SC_TYPE_F16;
    assert_int_equal(sc_quant_dequant_row(&bad, t->data, 0, out), SC_EINVAL);
    assert_int_equal(sc_quant_dequant_row(t, t->data, 0, out), SC_OK);
    tt_free(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_by_hand),
        cmocka_unit_test(test_layout_bad_args),
        cmocka_unit_test(test_pack_known_bits),
        cmocka_unit_test(test_pack_round_trip),
        cmocka_unit_test(test_pack_bad_args),
        cmocka_unit_test(test_dequant_by_hand),
        cmocka_unit_test(test_dequant_gidx),
        cmocka_unit_test(test_dequant_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

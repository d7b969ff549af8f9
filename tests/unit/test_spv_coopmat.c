/*
 * tests/unit/test_spv_coopmat.c - the Vulkan backend's build-time SPIR-V
 * rewriter, SPV_NV_cooperative_matrix -> SPV_KHR_cooperative_matrix
 * (backends/vulkan/tools/spv_coopmat_khr.c).
 *
 * No validator on Debian 12 knows the KHR opcodes, so the test builds small
 * NV modules word by word, rewrites them, parses the result back and checks
 * each rewritten instruction's opcode and operands against the SPIR-V
 * registry's grammar (spirv.core.grammar.json): KHR types carry a Use id
 * naming an i32 constant 0/1/2 (A/B/accumulator), loads and stores a
 * MemoryLayout id (0 row-, 1 column-major) before the stride, and so on. It
 * also checks that what the tool cannot map is refused with a message.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "spv_coopmat_khr.h"

/* ---- a tiny module builder ------------------------------------------------------ */
typedef struct mod {
    uint32_t w[512];
    size_t n;
} mod;

static void ins(mod *m, uint32_t op, int n, ...) {
    va_list ap;
    va_start(ap, n);
    m->w[m->n++] = ((uint32_t)(n + 1) << 16) | op;
    for (int i = 0; i < n; i++) m->w[m->n++] = va_arg(ap, uint32_t);
    va_end(ap);
}

static void ins_str(mod *m, uint32_t op, const char *s) {
    const size_t len = strlen(s), nw = len / 4 + 1;
    m->w[m->n++] = ((uint32_t)(nw + 1) << 16) | op;
    memset(m->w + m->n, 0, nw * 4);
    memcpy(m->w + m->n, s, len);
    m->n += nw;
}

/* ids */
enum {
    VOID_ = 1, FN, UINT, HALF, FLOAT, BOOL, U3, U16, U8, TRUE_, FALSE_, TA, TB, TC, PTR, VAR, CNULL, MAIN, LBL,
    VA, VB, VC, LEN, BOUND
};

enum { OP_MUL_A_ID = VA, OP_MUL_B_ID = VB }; /* the MulAdd operands, swappable by a case */

/* An NV module: A <16x16 half>, B <16x8 half>, C <16x8 float>; a row-major
 * load of A, a column-major load of B with memory operands, a MulAdd, a
 * column-major store, a Length. `b_type`: the type B is loaded as (TA makes
 * one type both A and B); `b_layout`: the ColumnMajor operand of B's load. */
static void build(mod *m, uint32_t b_type, uint32_t b_layout) {
    memset(m, 0, sizeof *m);
    m->w[m->n++] = SPV_MAGIC;
    m->w[m->n++] = 0x00010500u;
    m->w[m->n++] = 0;
    m->w[m->n++] = BOUND;
    m->w[m->n++] = 0;
    ins(m, SPV_OP_CAPABILITY, 1, 1u);                       /* Shader */
    ins(m, SPV_OP_CAPABILITY, 1, 9u);                       /* Float16 */
    ins(m, SPV_OP_CAPABILITY, 1, (uint32_t)SPV_CAP_COOPMAT_NV);
    ins_str(m, SPV_OP_EXTENSION, "SPV_NV_cooperative_matrix");
    ins(m, 14, 2, 0u, 1u);                                  /* OpMemoryModel Logical GLSL450 */
    ins(m, 15, 4, 5u, (uint32_t)MAIN, 0x6e69616du, 0u);     /* OpEntryPoint GLCompute %main "main" */
    ins(m, SPV_OP_NAME, 2, (uint32_t)TA, 0x41u);            /* OpName %TA "A": word 2 is no value */
    ins(m, 19, 1, (uint32_t)VOID_);                         /* OpTypeVoid */
    ins(m, 33, 2, (uint32_t)FN, (uint32_t)VOID_);           /* OpTypeFunction */
    ins(m, SPV_OP_TYPE_INT, 3, (uint32_t)UINT, 32u, 0u);
    ins(m, SPV_OP_TYPE_FLOAT, 2, (uint32_t)HALF, 16u);
    ins(m, SPV_OP_TYPE_FLOAT, 2, (uint32_t)FLOAT, 32u);
    ins(m, 20, 1, (uint32_t)BOOL);                          /* OpTypeBool */
    ins(m, SPV_OP_CONSTANT, 3, (uint32_t)UINT, (uint32_t)U3, 3u);
    ins(m, SPV_OP_CONSTANT, 3, (uint32_t)UINT, (uint32_t)U16, 16u);
    ins(m, SPV_OP_CONSTANT, 3, (uint32_t)UINT, (uint32_t)U8, 8u);
    ins(m, SPV_OP_CONSTANT_TRUE, 2, (uint32_t)BOOL, (uint32_t)TRUE_);
    ins(m, SPV_OP_CONSTANT_FALSE, 2, (uint32_t)BOOL, (uint32_t)FALSE_);
    ins(m, SPV_OP_TYPE_COOPMAT_NV, 5, (uint32_t)TA, (uint32_t)HALF, (uint32_t)U3, (uint32_t)U16, (uint32_t)U16);
    ins(m, SPV_OP_TYPE_COOPMAT_NV, 5, (uint32_t)TB, (uint32_t)HALF, (uint32_t)U3, (uint32_t)U16, (uint32_t)U8);
    ins(m, SPV_OP_TYPE_COOPMAT_NV, 5, (uint32_t)TC, (uint32_t)FLOAT, (uint32_t)U3, (uint32_t)U16, (uint32_t)U8);
    ins(m, 32, 3, (uint32_t)PTR, 4u, (uint32_t)HALF);       /* OpTypePointer Workgroup %half */
    ins(m, 59, 3, (uint32_t)PTR, (uint32_t)VAR, 4u);        /* OpVariable */
    ins(m, 46, 2, (uint32_t)TC, (uint32_t)CNULL);           /* OpConstantNull %TC */
    ins(m, 54, 4, (uint32_t)VOID_, (uint32_t)MAIN, 0u, (uint32_t)FN); /* OpFunction */
    ins(m, 248, 1, (uint32_t)LBL);                          /* OpLabel */
    ins(m, SPV_OP_COOPMAT_LOAD_NV, 5, (uint32_t)TA, (uint32_t)VA, (uint32_t)VAR, (uint32_t)U16, (uint32_t)FALSE_);
    ins(m, SPV_OP_COOPMAT_LOAD_NV, 7, b_type, (uint32_t)VB, (uint32_t)VAR, (uint32_t)U16, b_layout, 0x28u,
        (uint32_t)U3);                                      /* MakePointerVisible|NonPrivatePointer, scope */
    ins(m, SPV_OP_COOPMAT_MULADD_NV, 5, (uint32_t)TC, (uint32_t)VC, (uint32_t)OP_MUL_A_ID, (uint32_t)OP_MUL_B_ID,
        (uint32_t)CNULL);
    ins(m, SPV_OP_COOPMAT_STORE_NV, 4, (uint32_t)VAR, (uint32_t)VC, (uint32_t)U8, (uint32_t)TRUE_);
    ins(m, SPV_OP_COOPMAT_LENGTH_NV, 3, (uint32_t)UINT, (uint32_t)LEN, (uint32_t)TC);
    ins(m, 253, 0);                                         /* OpReturn */
    ins(m, 56, 0);                                          /* OpFunctionEnd */
}

/* ---- reading the result back ------------------------------------------------------ */
/* The k-th instruction (0-based) with opcode op, or NULL. */
static const uint32_t *find(const uint32_t *w, size_t n, uint32_t op, int k) {
    for (size_t p = 5; p < n;) {
        const uint32_t wc = w[p] >> 16;
        assert_true(wc > 0 && p + wc <= n);
        if ((w[p] & 0xffffu) == op && k-- == 0) return w + p;
        p += wc;
    }
    return NULL;
}

/* The value of the OpConstant defining id, or -1. */
static long const_value(const uint32_t *w, size_t n, uint32_t id) {
    for (int k = 0;; k++) {
        const uint32_t *c = find(w, n, SPV_OP_CONSTANT, k);
        if (!c) return -1;
        if (c[2] == id) return (long)c[3];
    }
}

static int position(const uint32_t *w, size_t n, const uint32_t *at) {
    int i = 0;
    for (size_t p = 5; p < n; p += w[p] >> 16, i++)
        if (w + p == at) return i;
    return -1;
}

static void test_rewrite(void **state) {
    (void)state;
    mod m;
    build(&m, TB, TRUE_);
    uint32_t *o = NULL;
    size_t n = 0;
    char err[256];
    assert_int_equal(spv_coopmat_nv_to_khr(m.w, m.n, &o, &n, err, sizeof err), 0);
    assert_non_null(o);
    assert_int_equal(o[0], SPV_MAGIC);
    assert_int_equal(o[3], BOUND + 3); /* three new constants */

    /* capability and extension */
    bool cap_khr = false;
    for (int k = 0; find(o, n, SPV_OP_CAPABILITY, k); k++) {
        const uint32_t *c = find(o, n, SPV_OP_CAPABILITY, k);
        assert_int_not_equal(c[1], SPV_CAP_COOPMAT_NV);
        if (c[1] == SPV_CAP_COOPMAT_KHR) cap_khr = true;
    }
    assert_true(cap_khr);
    const uint32_t *e = find(o, n, SPV_OP_EXTENSION, 0);
    assert_non_null(e);
    assert_string_equal((const char *)(e + 1), "SPV_KHR_cooperative_matrix");
    assert_int_equal(e[0] >> 16, 1 + 27 / 4 + 1);

    /* no NV opcode is left */
    for (uint32_t op = SPV_OP_TYPE_COOPMAT_NV; op <= SPV_OP_COOPMAT_LENGTH_NV; op++) assert_null(find(o, n, op, 0));

    /* the new constants follow the 32-bit integer type, before the matrix types */
    const uint32_t *ti = find(o, n, SPV_OP_TYPE_INT, 0);
    const int pi = position(o, n, ti);
    for (uint32_t v = 0; v < 3; v++) {
        const uint32_t *c = find(o, n, SPV_OP_CONSTANT, (int)v);
        assert_int_equal(position(o, n, c), pi + 1 + (int)v);
        assert_int_equal(c[0], (4u << 16) | SPV_OP_CONSTANT);
        assert_int_equal(c[1], UINT);
        assert_int_equal(c[2], BOUND + v);
        assert_int_equal(c[3], v);
    }

    /* OpTypeCooperativeMatrixKHR Result Component Scope Rows Columns Use */
    const uint32_t want_type[3][6] = {{TA, HALF, U3, U16, U16, SPV_USE_A},
                                      {TB, HALF, U3, U16, U8, SPV_USE_B},
                                      {TC, FLOAT, U3, U16, U8, SPV_USE_ACC}};
    for (int k = 0; k < 3; k++) {
        const uint32_t *t = find(o, n, SPV_OP_TYPE_COOPMAT_KHR, k);
        assert_non_null(t);
        assert_int_equal(t[0] >> 16, 7);
        assert_true(position(o, n, t) > pi + 3);
        for (int i = 0; i < 5; i++) assert_int_equal(t[1 + i], want_type[k][i]);
        assert_int_equal(const_value(o, n, t[6]), (long)want_type[k][5]);
    }
    assert_null(find(o, n, SPV_OP_TYPE_COOPMAT_KHR, 3));

    /* OpCooperativeMatrixLoadKHR RT R Pointer MemoryLayout Stride [MemoryOperand...] */
    const uint32_t *l = find(o, n, SPV_OP_COOPMAT_LOAD_KHR, 0);
    assert_non_null(l);
    assert_int_equal(l[0] >> 16, 6);
    assert_int_equal(l[1], TA);
    assert_int_equal(l[2], VA);
    assert_int_equal(l[3], VAR);
    assert_int_equal(const_value(o, n, l[4]), SPV_LAYOUT_ROW_MAJOR);
    assert_int_equal(l[5], U16);
    l = find(o, n, SPV_OP_COOPMAT_LOAD_KHR, 1);
    assert_non_null(l);
    assert_int_equal(l[0] >> 16, 8);
    assert_int_equal(l[1], TB);
    assert_int_equal(l[2], VB);
    assert_int_equal(l[3], VAR);
    assert_int_equal(const_value(o, n, l[4]), SPV_LAYOUT_COLUMN_MAJOR);
    assert_int_equal(l[5], U16);
    assert_int_equal(l[6], 0x28u);
    assert_int_equal(l[7], U3);

    /* OpCooperativeMatrixMulAddKHR RT R A B C (float: no operand flags) */
    const uint32_t *ma = find(o, n, SPV_OP_COOPMAT_MULADD_KHR, 0);
    assert_non_null(ma);
    assert_int_equal(ma[0] >> 16, 6);
    const uint32_t want_ma[5] = {TC, VC, VA, VB, CNULL};
    for (int i = 0; i < 5; i++) assert_int_equal(ma[1 + i], want_ma[i]);

    /* OpCooperativeMatrixStoreKHR Pointer Object MemoryLayout Stride */
    const uint32_t *st = find(o, n, SPV_OP_COOPMAT_STORE_KHR, 0);
    assert_non_null(st);
    assert_int_equal(st[0] >> 16, 5);
    assert_int_equal(st[1], VAR);
    assert_int_equal(st[2], VC);
    assert_int_equal(const_value(o, n, st[3]), SPV_LAYOUT_COLUMN_MAJOR);
    assert_int_equal(st[4], U8);

    /* OpCooperativeMatrixLengthKHR RT R Type */
    const uint32_t *len = find(o, n, SPV_OP_COOPMAT_LENGTH_KHR, 0);
    assert_non_null(len);
    assert_int_equal(len[0] >> 16, 4);
    assert_int_equal(len[1], UINT);
    assert_int_equal(len[2], LEN);
    assert_int_equal(len[3], TC);

    /* everything else word for word: the OpName, the function */
    const uint32_t *nm = find(o, n, SPV_OP_NAME, 0);
    assert_non_null(nm);
    assert_int_equal(nm[1], TA);
    assert_non_null(find(o, n, 54, 0));
    assert_non_null(find(o, n, 56, 0));
    free(o);
}

static void expect_fail(const mod *m, const char *what) {
    uint32_t *o = (uint32_t *)(uintptr_t)1;
    size_t n = 7;
    char err[256];
    assert_int_equal(spv_coopmat_nv_to_khr(m->w, m->n, &o, &n, err, sizeof err), -1);
    assert_null(o);
    assert_int_equal(n, 0);
    if (!strstr(err, what)) fail_msg("error '%s' does not mention '%s'", err, what);
}

static void test_reject_a_b_one_type(void **state) {
    (void)state;
    mod m;
    build(&m, TA, TRUE_); /* B loaded as A's type: one NV type in both roles */
    expect_fail(&m, "both");
}

static void test_reject_runtime_layout(void **state) {
    (void)state;
    mod m;
    build(&m, TB, U3); /* ColumnMajor not an OpConstantTrue/False */
    expect_fail(&m, "ColumnMajor");
}

static void test_reject_malformed(void **state) {
    (void)state;
    mod m;
    build(&m, TB, TRUE_);
    m.w[0] = 0x03022307u; /* byte-swapped magic */
    expect_fail(&m, "not a SPIR-V module");
    build(&m, TB, TRUE_);
    m.w[m.n - 1] = (9u << 16) | 56u; /* OpFunctionEnd claiming 9 words */
    expect_fail(&m, "length");
    build(&m, TB, TRUE_);
    m.n = 3;
    expect_fail(&m, "not a SPIR-V module");
}

static void test_reject_unknown(void **state) {
    (void)state;
    mod m;
    build(&m, TB, TRUE_);
    /* SPV_NV_cooperative_matrix2's OpCooperativeMatrixReduceNV: not translated */
    m.n -= 2;
    ins(&m, 5366, 5, (uint32_t)TC, (uint32_t)LEN + 0, (uint32_t)VC, 1u, (uint32_t)FN);
    ins(&m, 253, 0);
    ins(&m, 56, 0);
    expect_fail(&m, "5366");

    /* a module with KHR already in it */
    build(&m, TB, TRUE_);
    m.n -= 2;
    ins(&m, SPV_OP_COOPMAT_LENGTH_KHR, 3, (uint32_t)UINT, (uint32_t)LEN, (uint32_t)TC);
    ins(&m, 253, 0);
    ins(&m, 56, 0);
    expect_fail(&m, "4460");

    /* a matrix type no MulAdd reads: its Use cannot be inferred */
    build(&m, TB, TRUE_);
    for (size_t p = 5; p < m.n; p += m.w[p] >> 16)
        if ((m.w[p] & 0xffffu) == SPV_OP_COOPMAT_MULADD_NV) m.w[p] = (6u << 16) | 1u; /* -> OpUndef-shaped nop */
    expect_fail(&m, "never an operand");

    /* no NV cooperative matrix at all */
    mod e;
    memset(&e, 0, sizeof e);
    e.w[e.n++] = SPV_MAGIC;
    e.w[e.n++] = 0x00010500u;
    e.w[e.n++] = 0;
    e.w[e.n++] = 4;
    e.w[e.n++] = 0;
    ins(&e, SPV_OP_CAPABILITY, 1, 1u);
    expect_fail(&e, "does not use");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rewrite),
        cmocka_unit_test(test_reject_a_b_one_type),
        cmocka_unit_test(test_reject_runtime_layout),
        cmocka_unit_test(test_reject_malformed),
        cmocka_unit_test(test_reject_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* tests/unit/test_graph.c - graph builders' validation and graph ordering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "internal.h"

static int index_of(const sc_graph_t *g, const sc_tensor *t) {
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i] == t) return i;
    return -1;
}

static void test_topological_order(void **state) {
    (void)state;
    sc_ctx_t *ctx = sc_ctx_create(64);
    sc_tensor *w = sc_new_tensor_2d(ctx, SC_TYPE_F32, 8, 4);   /* [K=8, N=4] */
    sc_tensor *x = sc_new_tensor_2d(ctx, SC_TYPE_F32, 8, 3);   /* [K=8, M=3] */
    sc_tensor *y = sc_mul_mat(ctx, w, x);                      /* [4, 3] */
    sc_tensor *a = sc_silu(ctx, y);
    sc_tensor *b = sc_add(ctx, a, y);                          /* y used twice */
    sc_tensor *c = sc_rms_norm(ctx, b, NULL, 1e-6f);
    assert_int_equal(sc_ctx_error(ctx), SC_OK);
    assert_int_equal(y->ne[0], 4);
    assert_int_equal(y->ne[1], 3);

    sc_graph_t *g = sc_graph_create(16);
    assert_int_equal(sc_graph_expand(g, c), SC_OK);
    assert_int_equal(g->n_nodes, 4);
    assert_int_equal(g->n_leafs, 2);
    assert_true(index_of(g, y) < index_of(g, a));
    assert_true(index_of(g, a) < index_of(g, b));
    assert_true(index_of(g, b) < index_of(g, c));
    assert_true(c->flags & SC_TENSOR_OUTPUT);
    /* expanding again adds nothing */
    assert_int_equal(sc_graph_expand(g, c), SC_OK);
    assert_int_equal(g->n_nodes, 4);
    sc_graph_destroy(g);
    sc_ctx_destroy(ctx);
}

static void test_graph_capacity(void **state) {
    (void)state;
    sc_ctx_t *ctx = sc_ctx_create(64);
    sc_tensor *x = sc_new_tensor_1d(ctx, SC_TYPE_F32, 4);
    for (int i = 0; i < 10; i++) x = sc_silu(ctx, x);
    sc_graph_t *g = sc_graph_create(4);
    assert_int_equal(sc_graph_expand(g, x), SC_ENOMEM);
    sc_graph_destroy(g);
    sc_ctx_destroy(ctx);
}

static void test_builder_errors(void **state) {
    (void)state;
    sc_ctx_t *ctx = sc_ctx_create(64);
    sc_tensor *w = sc_new_tensor_2d(ctx, SC_TYPE_F16, 8, 4);
    sc_tensor *x = sc_new_tensor_2d(ctx, SC_TYPE_F32, 7, 3);
    assert_null(sc_mul_mat(ctx, w, x));
    assert_int_equal(sc_ctx_error(ctx), SC_EINVAL);
    assert_non_null(strstr(sc_ctx_error_msg(ctx), "K mismatch"));
    /* the first error is kept: a later NULL operand does not overwrite it */
    assert_null(sc_silu(ctx, NULL));
    assert_non_null(strstr(sc_ctx_error_msg(ctx), "K mismatch"));

    sc_ctx_reset(ctx);
    assert_int_equal(sc_ctx_error(ctx), SC_OK);
    assert_null(sc_new_tensor_1d(ctx, SC_TYPE_F32, 0));
    assert_int_equal(sc_ctx_error(ctx), SC_ERANGE);

    sc_ctx_reset(ctx);
    assert_null(sc_new_tensor_2d(ctx, (sc_type)99, 2, 2));
    assert_int_equal(sc_ctx_error(ctx), SC_EINVAL);

    sc_ctx_reset(ctx);
    sc_tensor *q = sc_new_tensor_3d(ctx, SC_TYPE_F32, 64, 6, 2);
    sc_tensor *pos = sc_new_tensor_1d(ctx, SC_TYPE_I32, 3); /* wrong n_tokens */
    assert_null(sc_rope(ctx, q, pos, 64, 1e6f));
    assert_int_equal(sc_ctx_error(ctx), SC_EINVAL);

    sc_ctx_reset(ctx);
    sc_tensor *kc = sc_new_tensor_4d(ctx, SC_TYPE_F16, 64, 4, 16, 8);
    sc_tensor *bt = sc_new_tensor_2d(ctx, SC_TYPE_I32, 8, 1);
    sc_tensor *p2 = sc_new_tensor_1d(ctx, SC_TYPE_I32, 2);
    sc_tensor *q5 = sc_new_tensor_3d(ctx, SC_TYPE_F32, 64, 6, 2); /* 6 heads over 4 kv heads */
    assert_null(sc_attention(ctx, q5, kc, kc, bt, p2, NULL, 0.125f));
    assert_int_equal(sc_ctx_error(ctx), SC_EINVAL);

    sc_ctx_reset(ctx);
    sc_tensor *logits = sc_new_tensor_2d(ctx, SC_TYPE_F32, 10, 2);
    assert_null(sc_top_k(ctx, logits, 11));
    assert_non_null(sc_top_k(ctx, logits, 10));
    assert_null(sc_cpy(ctx, logits, SC_TYPE_I32));
    sc_ctx_destroy(ctx);
}

static void test_context_full(void **state) {
    (void)state;
    sc_ctx_t *ctx = sc_ctx_create(2);
    assert_non_null(sc_new_tensor_1d(ctx, SC_TYPE_F32, 1));
    assert_non_null(sc_new_tensor_1d(ctx, SC_TYPE_F32, 1));
    assert_null(sc_new_tensor_1d(ctx, SC_TYPE_F32, 1));
    assert_int_equal(sc_ctx_error(ctx), SC_ENOMEM);
    sc_ctx_destroy(ctx);
}

static void test_views(void **state) {
    (void)state;
    sc_ctx_t *ctx = sc_ctx_create(64);
    sc_tensor *a = sc_new_tensor_3d(ctx, SC_TYPE_F32, 4, 3, 2); /* [2, 3, 4] */
    sc_tensor *r = sc_reshape(ctx, a, 2, (int64_t[]){12, 2});
    assert_non_null(r);
    assert_ptr_equal(r->view_src, a);
    sc_tensor *p = sc_permute(ctx, a, 1, 0, 2, 3); /* swap the inner two dims */
    assert_non_null(p);
    assert_int_equal(p->ne[0], 3);
    assert_int_equal(p->ne[1], 4);
    assert_int_equal(p->nb[0], a->nb[1]);
    assert_false(sc_tensor_is_contiguous(p));
    assert_null(sc_reshape(ctx, p, 1, (int64_t[]){24})); /* not contiguous */
    sc_ctx_reset(ctx);
    a = sc_new_tensor_2d(ctx, SC_TYPE_F32, 4, 3);
    /* a view past the end of its source is refused */
    assert_null(sc_view(ctx, a, 1, (int64_t[]){4}, (size_t[]){4}, 40));
    assert_int_equal(sc_ctx_error(ctx), SC_ERANGE);
    sc_ctx_reset(ctx);
    a = sc_new_tensor_2d(ctx, SC_TYPE_F32, 4, 3);
    sc_tensor *row2 = sc_view(ctx, a, 1, (int64_t[]){4}, (size_t[]){4}, 32);
    assert_non_null(row2);
    sc_tensor *vv = sc_view(ctx, row2, 1, (int64_t[]){2}, (size_t[]){4}, 8);
    assert_non_null(vv);
    assert_ptr_equal(vv->view_src, a);   /* views of views point at the root */
    assert_int_equal(vv->view_offs, 40);
    sc_ctx_destroy(ctx);
}

static void test_tensor_sizes(void **state) {
    (void)state;
    sc_ctx_t *ctx = sc_ctx_create(16);
    sc_tensor *t = sc_new_tensor_3d(ctx, SC_TYPE_BF16, 5, 3, 2);
    assert_int_equal(sc_tensor_nelements(t), 30);
    assert_int_equal(sc_tensor_nbytes(t), 60);
    assert_int_equal(sc_tensor_ndims(t), 3);
    assert_true(sc_tensor_is_contiguous(t));
    sc_tensor *q = sc_new_qtensor(ctx, 4, 32, true, 64, 3, 2);
    assert_non_null(q);
    assert_int_equal(q->quant.n_groups, 2);
    assert_true(sc_tensor_nbytes(q) >= 2 * (3 * 32 + 3 * 2 * 2 + 3 * 2 + 64 * 4));
    assert_null(sc_new_qtensor(ctx, 5, 32, false, 64, 3, 1)); /* 5-bit does not exist */
    sc_ctx_destroy(ctx);
}

static void test_names(void **state) {
    (void)state;
    assert_string_equal(sc_op_name(SC_OP_MUL_MAT_ID), "MUL_MAT_ID");
    assert_string_equal(sc_op_name(-1), "UNKNOWN");
    assert_string_equal(sc_op_name(SC_OP_COUNT), "UNKNOWN");
    assert_string_equal(sc_type_name(SC_TYPE_BF16), "bf16");
    assert_int_equal(sc_type_size(SC_TYPE_QG), 0);
    assert_string_equal(sc_strerror(SC_EABI), "plugin ABI mismatch");
    assert_string_equal(sc_strerror(12345), "unknown error");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topological_order), cmocka_unit_test(test_graph_capacity),
        cmocka_unit_test(test_builder_errors),    cmocka_unit_test(test_context_full),
        cmocka_unit_test(test_views),             cmocka_unit_test(test_tensor_sizes),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

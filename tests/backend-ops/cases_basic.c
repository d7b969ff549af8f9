/*
 * tests/backend-ops/cases_basic.c - elementwise ops, rms_norm, rope, softmax.
 *
 * Error bounds (nmse against the scalar reference):
 *  - ADD, MUL, SCALE, SILU, SWIGLU, SIGMOID, RMS_NORM, SOFTMAX: 1e-7. Each output is a
 *    few f32 operations of its inputs; only reassociation of a row sum
 *    (rms_norm, softmax) and vectorised expf approximations (~1e-7 relative,
 *    i.e. nmse ~1e-14) may differ. A wrong or missing element costs far more.
 *  - ROPE: 1e-6. theta = pos * base^(-2i/n_rot) is an f32 product; two correct
 *    implementations may round it differently by an ulp, which at pos 8192 is
 *    ~1e-3 rad for the fastest-rotating pair; averaged over the pairs that
 *    gives nmse up to ~1e-7. Positions here stay <= 8192.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bo.h"

#define NMSE_F32 1e-7
#define NMSE_ROPE 1e-6

/* ---- ADD, MUL: a [ne], b broadcast (a->ne[d] % b->ne[d] == 0) ----------
 * view[0]: layout of a, view[1]: layout of b */
static sc_tensor *build_binary(bo_env *e, const bo_case *c) {
    const bo_p_eltwise *p = &c->p.elt;
    sc_tensor *a = bo_leaf_view(e, SC_TYPE_F32, p->a, c->view[0], -1.0f, 1.0f);
    sc_tensor *b = bo_leaf_view(e, SC_TYPE_F32, p->b, c->view[1], -1.0f, 1.0f);
    return c->op == SC_OP_ADD ? sc_add(e->ctx, a, b) : sc_mul(e->ctx, a, b);
}

/* ---- SCALE, SILU, SIGMOID: a [ne]; SWIGLU: gate, up [ne] ---------------
 * view[0]: layout of a / gate, view[1]: layout of up */
static sc_tensor *build_unary(bo_env *e, const bo_case *c) {
    const bo_p_eltwise *p = &c->p.elt;
    /* [-8, 8] covers both saturated ends of the sigmoid; SIGMOID cases may
     * ask for more (s), where exp(-a) overflows f32 for a < -88 */
    const float amp = c->op == SC_OP_SIGMOID && p->s > 0.0f ? p->s : 8.0f;
    sc_tensor *a = bo_leaf_view(e, SC_TYPE_F32, p->a, c->view[0], -amp, amp);
    switch (c->op) {
    case SC_OP_SCALE: return sc_scale(e->ctx, a, p->s);
    case SC_OP_SILU: return sc_silu(e->ctx, a);
    case SC_OP_SIGMOID: return sc_sigmoid(e->ctx, a);
    default: return sc_swiglu(e->ctx, a, bo_leaf_view(e, SC_TYPE_F32, p->a, c->view[1], -2.0f, 2.0f));
    }
}

#define SHAPE(...) {__VA_ARGS__}

static void add_binary(bo_list *l, int32_t op, const int64_t a[4], const int64_t b[4], bo_view va, bo_view vb) {
    bo_case *c = bo_list_add(l, op, build_binary, NMSE_F32);
    if (!c) return;
    for (int d = 0; d < 4; d++) {
        c->p.elt.a[d] = a[d];
        c->p.elt.b[d] = b[d];
    }
    bo_case_name(c, "a=[%lld,%lld,%lld,%lld],b=[%lld,%lld,%lld,%lld]", (long long)a[0], (long long)a[1],
                 (long long)a[2], (long long)a[3], (long long)b[0], (long long)b[1], (long long)b[2],
                 (long long)b[3]);
    bo_case_views(c, va, "a", vb, "b");
}

static void add_unary(bo_list *l, int32_t op, const int64_t a[4], float s, bo_view va, bo_view vb) {
    bo_case *c = bo_list_add(l, op, build_unary, NMSE_F32);
    if (!c) return;
    for (int d = 0; d < 4; d++) c->p.elt.a[d] = a[d];
    c->p.elt.s = s;
    char sbuf[32] = "";
    if (op == SC_OP_SCALE) snprintf(sbuf, sizeof sbuf, ",s=%g", (double)s);
    if (op == SC_OP_SIGMOID && s > 0.0f) snprintf(sbuf, sizeof sbuf, ",amp=%g", (double)s);
    bo_case_name(c, "ne=[%lld,%lld,%lld,%lld]%s", (long long)a[0], (long long)a[1], (long long)a[2],
                 (long long)a[3], sbuf);
    bo_case_views(c, va, op == SC_OP_SWIGLU ? "gate" : "a", vb, "up");
}

static void cases_eltwise(bo_list *l) {
    /* a, b pairs: same shape, row/column/scalar broadcast, tiling (b->ne < a->ne
     * but not 1), odd sizes that are no multiple of any SIMD width */
    static const int64_t bin[][2][4] = {
        {SHAPE(1, 1, 1, 1), SHAPE(1, 1, 1, 1)},       {SHAPE(7, 3, 1, 1), SHAPE(7, 3, 1, 1)},
        {SHAPE(33, 5, 2, 1), SHAPE(33, 1, 1, 1)},     {SHAPE(4097, 2, 1, 1), SHAPE(4097, 2, 1, 1)},
        {SHAPE(16, 4, 3, 2), SHAPE(1, 4, 1, 2)},      {SHAPE(6, 4, 1, 1), SHAPE(2, 1, 1, 1)},
        {SHAPE(10, 5, 4, 3), SHAPE(1, 1, 1, 1)},      {SHAPE(64, 3, 2, 2), SHAPE(64, 3, 1, 1)},
        {SHAPE(1, 9, 1, 1), SHAPE(1, 3, 1, 1)},       {SHAPE(256, 1, 1, 1), SHAPE(256, 1, 1, 1)},
        {SHAPE(31, 6, 4, 1), SHAPE(31, 2, 2, 1)},
    };
    static const int32_t bin_ops[] = {SC_OP_ADD, SC_OP_MUL};
    static const int64_t s1[2][4] = {SHAPE(33, 4, 3, 1), SHAPE(33, 1, 1, 1)};
    static const int64_t s2[2][4] = {SHAPE(17, 3, 5, 2), SHAPE(17, 3, 5, 2)};
    static const int64_t s3[2][4] = {SHAPE(8, 6, 4, 1), SHAPE(1, 6, 1, 1)};
    for (size_t o = 0; o < 2; o++) {
        for (size_t i = 0; i < sizeof bin / sizeof bin[0]; i++)
            add_binary(l, bin_ops[o], bin[i][0], bin[i][1], BO_CONTIG, BO_CONTIG);
        add_binary(l, bin_ops[o], s1[0], s1[1], BO_PERM, BO_CONTIG);
        add_binary(l, bin_ops[o], s2[0], s2[1], BO_PERM, BO_SLICE);
        add_binary(l, bin_ops[o], s2[0], s2[1], BO_SLICE, BO_PERM);
        add_binary(l, bin_ops[o], s3[0], s3[1], BO_SLICE, BO_CONTIG);
    }

    static const int64_t un[][4] = {
        SHAPE(1, 1, 1, 1), SHAPE(7, 1, 1, 1), SHAPE(33, 3, 1, 1), SHAPE(4097, 2, 1, 1), SHAPE(16, 5, 3, 2),
    };
    for (size_t i = 0; i < sizeof un / sizeof un[0]; i++) {
        add_unary(l, SC_OP_SCALE, un[i], i % 2 ? -3.25f : 0.5f, BO_CONTIG, BO_CONTIG);
        add_unary(l, SC_OP_SILU, un[i], 0.0f, BO_CONTIG, BO_CONTIG);
        add_unary(l, SC_OP_SIGMOID, un[i], 0.0f, BO_CONTIG, BO_CONTIG);
        add_unary(l, SC_OP_SWIGLU, un[i], 0.0f, BO_CONTIG, BO_CONTIG);
    }
    static const int64_t un_s[4] = SHAPE(31, 4, 3, 1);
    add_unary(l, SC_OP_SCALE, un_s, 0.125f, BO_PERM, BO_CONTIG);
    add_unary(l, SC_OP_SCALE, un_s, 2.0f, BO_SLICE, BO_CONTIG);
    add_unary(l, SC_OP_SILU, un_s, 0.0f, BO_PERM, BO_CONTIG);
    add_unary(l, SC_OP_SILU, un_s, 0.0f, BO_SLICE, BO_CONTIG);
    add_unary(l, SC_OP_SIGMOID, un_s, 0.0f, BO_PERM, BO_CONTIG);
    add_unary(l, SC_OP_SIGMOID, un_s, 0.0f, BO_SLICE, BO_CONTIG);
    /* Qwen3-Next's gates (attention output, shared expert) at a decode row,
     * and inputs far past where exp(-a) overflows */
    static const int64_t gate[4] = SHAPE(4096, 1, 1, 1), wide[4] = SHAPE(1000, 3, 1, 1);
    add_unary(l, SC_OP_SIGMOID, gate, 0.0f, BO_CONTIG, BO_CONTIG);
    add_unary(l, SC_OP_SIGMOID, wide, 200.0f, BO_CONTIG, BO_CONTIG);
    add_unary(l, SC_OP_SWIGLU, un_s, 0.0f, BO_PERM, BO_SLICE);
    add_unary(l, SC_OP_SWIGLU, un_s, 0.0f, BO_SLICE, BO_PERM);
}

/* ---- RMS_NORM: x [D, rows, b2, b3] (layout view[0]), w [D] or NULL ----- */
static sc_tensor *build_rms_norm(bo_env *e, const bo_case *c) {
    const bo_p_norm *p = &c->p.norm;
    /* an offset keeps the mean square away from zero for D == 1 */
    sc_tensor *x = bo_leaf_view(e, SC_TYPE_F32, p->ne, c->view[0], -1.0f, 1.5f);
    sc_tensor *w = p->has_w ? bo_leaf_uniform(e, SC_TYPE_F32, 1, p->ne, 0.5f, 1.5f) : NULL;
    return sc_rms_norm(e->ctx, x, w, p->eps);
}

static bo_case *add_rms_norm(bo_list *l, const int64_t ne[4], bool has_w, float eps) {
    bo_case *c = bo_list_add(l, SC_OP_RMS_NORM, build_rms_norm, NMSE_F32);
    if (!c) return NULL;
    for (int d = 0; d < 4; d++) c->p.norm.ne[d] = ne[d];
    c->p.norm.has_w = has_w;
    c->p.norm.eps = eps;
    bo_case_name(c, "ne=[%lld,%lld,%lld,%lld],w=%s,eps=%g", (long long)ne[0], (long long)ne[1], (long long)ne[2],
                 (long long)ne[3], has_w ? "yes" : "null", (double)eps);
    return c;
}

static void cases_rms_norm(bo_list *l) {
    static const int64_t shapes[][4] = {
        SHAPE(1, 3, 1, 1),    SHAPE(7, 3, 1, 1),   SHAPE(32, 3, 1, 1),   SHAPE(33, 3, 1, 1),
        SHAPE(257, 2, 1, 1),  SHAPE(4096, 2, 1, 1), SHAPE(4097, 1, 1, 1), SHAPE(11008, 1, 1, 1),
        SHAPE(64, 3, 2, 2),
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int has_w = 0; has_w < 2; has_w++) add_rms_norm(l, shapes[i], has_w, i % 2 ? 1e-5f : 1e-6f);
    static const int64_t s1[4] = SHAPE(64, 3, 2, 1), s2[4] = SHAPE(33, 4, 1, 1);
    bo_case_views(add_rms_norm(l, s1, true, 1e-6f), BO_PERM, "x", BO_CONTIG, "");
    bo_case_views(add_rms_norm(l, s2, false, 1e-6f), BO_SLICE, "x", BO_CONTIG, "");
}

/* ---- ROPE: x [hd, n_heads, n_tokens] (layout view[0]), pos i32 [n_tokens] */
static sc_tensor *build_rope(bo_env *e, const bo_case *c) {
    const bo_p_rope *p = &c->p.rope;
    int64_t ne[4] = {p->hd, p->n_heads, p->n_tokens, 1};
    sc_tensor *x = bo_leaf_view(e, SC_TYPE_F32, ne, c->view[0], -1.0f, 1.0f);
    int32_t *pos = malloc((size_t)p->n_tokens * sizeof *pos);
    if (!pos) {
        e->err = SC_ENOMEM;
        return NULL;
    }
    for (int64_t t = 0; t < p->n_tokens; t++)
        pos[t] = p->max_pos ? (int32_t)bo_randint(e, (int64_t)p->max_pos + 1) : (int32_t)t;
    if (p->max_pos && p->n_tokens > 1) pos[0] = p->max_pos; /* the largest angle always appears */
    sc_tensor *tpos = bo_leaf_i32(e, 1, &ne[2], pos);
    free(pos);
    return sc_rope(e->ctx, x, tpos, p->n_rot, p->base);
}

static void cases_rope(bo_list *l) {
    /* hd, n_rot (partial rotary when < hd), heads, tokens, base, max position */
    static const struct { int64_t hd; int n_rot; int64_t heads, tokens; float base; int32_t max_pos; } r[] = {
        {64, 64, 1, 1, 10000.0f, 0},      {64, 64, 4, 5, 10000.0f, 0},      {64, 32, 4, 5, 10000.0f, 4096},
        {128, 128, 7, 3, 1000000.0f, 8192}, {128, 64, 2, 9, 10000.0f, 100},  {128, 32, 3, 2, 500000.0f, 4096},
        {128, 2, 2, 3, 10000.0f, 50},     {80, 32, 3, 4, 10000.0f, 2048},   {96, 96, 5, 1, 10000.0f, 8192},
        {64, 48, 1, 7, 1000000.0f, 300},  {128, 128, 16, 1, 1000000.0f, 0},
        {128, 64, 4, 3, 10000.0f, 1000},  {64, 64, 2, 5, 10000.0f, 4096},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
        bo_case *c = bo_list_add(l, SC_OP_ROPE, build_rope, NMSE_ROPE);
        if (!c) return;
        c->p.rope = (bo_p_rope){r[i].hd, r[i].heads, r[i].tokens, r[i].n_rot, r[i].base, r[i].max_pos};
        bo_case_name(c, "hd=%lld,n_rot=%d,heads=%lld,tokens=%lld,base=%g,pos=%s%d", (long long)r[i].hd, r[i].n_rot,
                     (long long)r[i].heads, (long long)r[i].tokens, (double)r[i].base,
                     r[i].max_pos ? "rand..." : "0..", r[i].max_pos ? r[i].max_pos : (int)r[i].tokens - 1);
        /* the last two: q read through a permute, and k sliced out of a fused projection */
        size_t n = sizeof r / sizeof r[0];
        if (i + 2 >= n) bo_case_views(c, i + 1 == n ? BO_SLICE : BO_PERM, "x", BO_CONTIG, "");
    }
}

/* ---- SOFTMAX: x [n, rows] (layout view[0]) ------------------------------ */
static sc_tensor *build_softmax(bo_env *e, const bo_case *c) {
    const bo_p_rows *p = &c->p.rows;
    int64_t ne[2] = {p->n, p->rows};
    if (!p->masked) {
        int64_t ne4[4] = {p->n, p->rows, 1, 1};
        sc_tensor *x = bo_leaf_view(e, SC_TYPE_F32, ne4, c->view[0], p->offset - p->amp, p->offset + p->amp);
        return sc_softmax(e->ctx, x, p->scale);
    }
    /* an attention mask: every masked-th value (never the first) is -inf */
    float *v = malloc((size_t)(p->n * p->rows) * sizeof *v);
    if (!v) {
        e->err = SC_ENOMEM;
        return NULL;
    }
    for (int64_t i = 0; i < p->n * p->rows; i++) {
        bool masked = (i % p->n) % p->masked == p->masked - 1;
        v[i] = masked ? -INFINITY : bo_uniform(e, p->offset - p->amp, p->offset + p->amp);
    }
    sc_tensor *x = bo_leaf_f32(e, 2, ne, v);
    free(v);
    return sc_softmax(e->ctx, x, p->scale);
}

static void cases_softmax(bo_list *l) {
    /* amp 100 with scale 1: exp overflows unless the row max is subtracted */
    static const struct { int64_t n, rows; float scale, amp, offset; int masked; } s[] = {
        {1, 3, 1.0f, 1.0f, 0.0f, 0},      {7, 3, 1.0f, 1.0f, 0.0f, 0},     {32, 2, 0.125f, 4.0f, 0.0f, 0},
        {33, 5, 1.0f, 1.0f, 0.0f, 0},     {257, 2, 0.5f, 10.0f, 0.0f, 0},  {4097, 2, 1.0f, 100.0f, 0.0f, 0},
        {4096, 1, 0.0883883f, 8.0f, 50.0f, 0}, {151936, 1, 1.0f, 20.0f, -30.0f, 0}, {64, 64, 2.0f, 3.0f, 0.0f, 0},
        {37, 4, 1.0f, 2.0f, 0.0f, 3},  {1000, 2, 0.125f, 8.0f, 0.0f, 2}, {33, 4, 1.0f, 4.0f, 0.0f, 0},
        {1000, 3, 0.5f, 4.0f, 0.0f, 0},
    };
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        bo_case *c = bo_list_add(l, SC_OP_SOFTMAX, build_softmax, NMSE_F32);
        if (!c) return;
        c->p.rows.n = s[i].n;
        c->p.rows.rows = s[i].rows;
        c->p.rows.scale = s[i].scale;
        c->p.rows.amp = s[i].amp;
        c->p.rows.offset = s[i].offset;
        c->p.rows.masked = s[i].masked;
        char mask[32] = "";
        if (s[i].masked) snprintf(mask, sizeof mask, ",mask=1/%d", s[i].masked);
        bo_case_name(c, "n=%lld,rows=%lld,scale=%g,vals=%g+-%g%s", (long long)s[i].n, (long long)s[i].rows,
                     (double)s[i].scale, (double)s[i].offset, (double)s[i].amp, mask);
        if (i + 2 >= sizeof s / sizeof s[0]) bo_case_views(c, BO_SLICE, "x", BO_CONTIG, ""); /* the last two */
    }
}

void bo_cases_basic(bo_list *l) {
    cases_eltwise(l);
    cases_rms_norm(l);
    cases_rope(l);
    cases_softmax(l);
}

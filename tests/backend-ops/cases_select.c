/*
 * tests/backend-ops/cases_select.c - top_k, argmax, cpy, get_rows.
 *
 * All of these are checked for exact equality:
 *  - TOP_K and ARGMAX return indices: one answer is right. Rows hold distinct
 *    values, except in the "ties" cases, where the rule "ties to the lower
 *    index" (strixcore.h) makes the answer unique again.
 *  - CPY and GET_ROWS move data; a conversion rounds to nearest even
 *    (sc_f32_to_f16, sc_f32_to_bf16), and a QG row is defined value by value
 *    as fp16(scale * (code - zero)), so every correct backend gives the same bits.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bo.h"

#define SHAPE(...) {__VA_ARGS__}

/* x [n, rows] in offset + [-amp, amp]. Distinct values: each row is a
 * shuffled ladder of n steps with jitter inside each step (plain uniform
 * draws would collide at vocabulary sizes). ties > 0: `ties` levels only. */
static sc_tensor *rows_leaf(bo_env *e, const bo_p_rows *p) {
    int64_t ne[2] = {p->n, p->rows};
    float *v = malloc((size_t)(p->n * p->rows) * sizeof *v);
    int32_t *perm = malloc((size_t)p->n * sizeof *perm);
    if (!v || !perm) {
        free(v);
        free(perm);
        e->err = SC_ENOMEM;
        return NULL;
    }
    float step = 2.0f * p->amp / (float)p->n;
    for (int64_t r = 0; r < p->rows; r++) {
        float *row = v + r * p->n;
        if (p->ties > 0) {
            for (int64_t i = 0; i < p->n; i++)
                row[i] = p->offset + p->amp * (2.0f * ((float)bo_randint(e, p->ties) + 0.5f) / (float)p->ties - 1.0f);
            continue;
        }
        for (int64_t i = 0; i < p->n; i++) perm[i] = (int32_t)i;
        bo_shuffle_i32(e, perm, p->n);
        for (int64_t i = 0; i < p->n; i++)
            row[i] = p->offset - p->amp + ((float)perm[i] + bo_uniform(e, 0.25f, 0.75f)) * step;
    }
    sc_tensor *t = bo_leaf_f32(e, 2, ne, v);
    free(v);
    free(perm);
    return t;
}

/* ---- TOP_K: x [n, rows] -> i32 [k, rows]; ARGMAX: x [n, rows] -> i32 [rows] */
static sc_tensor *build_top_k(bo_env *e, const bo_case *c) {
    return sc_top_k(e->ctx, rows_leaf(e, &c->p.rows), c->p.rows.k);
}

static sc_tensor *build_argmax(bo_env *e, const bo_case *c) { return sc_argmax(e->ctx, rows_leaf(e, &c->p.rows)); }

static void add_rows_case(bo_list *l, int32_t op, int64_t n, int64_t rows, int k, int ties, float amp, float offset) {
    bo_case *c = bo_list_add(l, op, op == SC_OP_TOP_K ? build_top_k : build_argmax, BO_EXACT);
    if (!c) return;
    c->p.rows = (bo_p_rows){.n = n, .rows = rows, .k = k, .amp = amp, .offset = offset, .ties = ties};
    char kbuf[24] = "", tbuf[24] = "";
    if (op == SC_OP_TOP_K) snprintf(kbuf, sizeof kbuf, ",k=%d", k);
    if (ties) snprintf(tbuf, sizeof tbuf, ",ties=%d", ties);
    bo_case_name(c, "n=%lld,rows=%lld%s%s,vals=%g+-%g", (long long)n, (long long)rows, kbuf, tbuf, (double)offset,
                 (double)amp);
}

static void cases_top_k_argmax(bo_list *l) {
    /* k = 1 and k = n, odd n, vocabulary sizes, an all-negative row (a 0
     * sentinel for "best so far" fails it), deliberate ties */
    static const struct { int64_t n, rows; int k, ties; float amp, offset; } tk[] = {
        {1, 1, 1, 0, 1.0f, 0.0f},        {7, 3, 1, 0, 1.0f, 0.0f},       {7, 3, 7, 0, 1.0f, 0.0f},
        {33, 2, 5, 0, 1.0f, 0.0f},       {100, 4, 100, 0, 1.0f, 0.0f},   {1000, 2, 40, 0, 10.0f, 0.0f},
        {4097, 2, 1, 0, 10.0f, 0.0f},    {4097, 1, 64, 0, 10.0f, 0.0f},  {32000, 1, 40, 0, 100.0f, 0.0f},
        {151936, 1, 50, 0, 100.0f, 0.0f}, {257, 3, 3, 0, 1.0f, -100.0f},  {33, 3, 10, 4, 1.0f, 0.0f},
        {1000, 2, 1000, 8, 1.0f, 0.0f},  {151936, 1, 20, 16, 1.0f, 0.0f}, {64, 2, 1, 2, 1.0f, 0.0f},
    };
    for (size_t i = 0; i < sizeof tk / sizeof tk[0]; i++)
        add_rows_case(l, SC_OP_TOP_K, tk[i].n, tk[i].rows, tk[i].k, tk[i].ties, tk[i].amp, tk[i].offset);

    static const struct { int64_t n, rows; int ties; float amp, offset; } am[] = {
        {1, 1, 0, 1.0f, 0.0f},       {7, 3, 0, 1.0f, 0.0f},      {33, 5, 0, 1.0f, 0.0f},
        {4097, 2, 0, 10.0f, 0.0f},   {32000, 1, 0, 100.0f, 0.0f}, {151936, 2, 0, 100.0f, 0.0f},
        {257, 3, 0, 1.0f, -100.0f},  {33, 4, 3, 1.0f, 0.0f},     {4097, 2, 5, 1.0f, 0.0f},
        {100, 7, 1, 1.0f, -5.0f},
        /* n % 4 == 0 rows take 16-byte loads: ties inside and across loads, and
         * lengths around the two-loads-in-flight stride (2 * 256 lanes * 4) */
        {4096, 3, 7, 1.0f, 0.0f},    {2052, 2, 3, 1.0f, 0.0f},   {1024, 2, 2, 1.0f, 0.0f},
        {2048, 2, 0, 1.0f, 0.0f},    {8, 5, 2, 1.0f, 0.0f},
    };
    for (size_t i = 0; i < sizeof am / sizeof am[0]; i++)
        add_rows_case(l, SC_OP_ARGMAX, am[i].n, am[i].rows, 0, am[i].ties, am[i].amp, am[i].offset);
}

/* ---- CPY: src viewed through `layout` -> contiguous dst type ------------
 *   0: the leaf itself, [ne]
 *   1: leaf [ne1, ne0, ne2, ne3] transposed (dims 0 and 1 swapped): nb[0] != type size
 *   2: leaf [ne0, ne2, ne1, ne3] with dims 1 and 2 swapped
 *   3: leaf [ne0, 2*ne1, ne2, ne3], every other row starting at row 1 */
static sc_tensor *build_cpy(bo_env *e, const bo_case *c) {
    const bo_p_cpy *p = &c->p.cpy;
    const int64_t *ne = p->ne;
    int64_t lne[4] = {ne[0], ne[1], ne[2], ne[3]};
    if (p->layout == 1) { lne[0] = ne[1]; lne[1] = ne[0]; }
    if (p->layout == 2) { lne[1] = ne[2]; lne[2] = ne[1]; }
    if (p->layout == 3) lne[1] = 2 * ne[1];

    sc_tensor *leaf;
    if (p->src == SC_TYPE_I32) {
        int64_t n = lne[0] * lne[1] * lne[2] * lne[3];
        int32_t *v = malloc((size_t)n * sizeof *v);
        if (!v) {
            e->err = SC_ENOMEM;
            return NULL;
        }
        for (int64_t i = 0; i < n; i++) v[i] = (int32_t)(uint32_t)bo_rand(e);
        leaf = bo_leaf_i32(e, 4, lne, v);
        free(v);
    } else {
        leaf = bo_leaf_uniform(e, (sc_type)p->src, 4, lne, -p->amp, p->amp);
    }
    if (!leaf) return NULL;

    sc_tensor *src = leaf;
    if (p->layout == 1) src = sc_permute(e->ctx, leaf, 1, 0, 2, 3);
    if (p->layout == 2) src = sc_permute(e->ctx, leaf, 0, 2, 1, 3);
    if (p->layout == 3) {
        size_t nb[4] = {leaf->nb[0], 2 * leaf->nb[1], leaf->nb[2], leaf->nb[3]};
        src = sc_view(e->ctx, leaf, 4, ne, nb, leaf->nb[1]);
    }
    return sc_cpy(e->ctx, src, (sc_type)p->dst);
}

static void add_cpy(bo_list *l, const int64_t ne[4], int32_t src, int32_t dst, int layout, float amp) {
    static const char *const layouts[] = {"contiguous", "transposed", "permuted", "row-strided"};
    bo_case *c = bo_list_add(l, SC_OP_CPY, build_cpy, BO_EXACT);
    if (!c) return;
    for (int d = 0; d < 4; d++) c->p.cpy.ne[d] = ne[d];
    c->p.cpy.src = src;
    c->p.cpy.dst = dst;
    c->p.cpy.layout = layout;
    c->p.cpy.amp = amp;
    bo_case_name(c, "%s->%s,ne=[%lld,%lld,%lld,%lld],src=%s%s", sc_type_name(src), sc_type_name(dst),
                 (long long)ne[0], (long long)ne[1], (long long)ne[2], (long long)ne[3], layouts[layout],
                 amp == 1.0f || src == SC_TYPE_I32 ? "" : amp < 1.0f ? ",vals=tiny" : ",vals=large");
}

static void cases_cpy(bo_list *l) {
    static const int32_t pairs[][2] = {
        {SC_TYPE_F32, SC_TYPE_F16},  {SC_TYPE_F16, SC_TYPE_F32},  {SC_TYPE_F32, SC_TYPE_BF16},
        {SC_TYPE_BF16, SC_TYPE_F32}, {SC_TYPE_F16, SC_TYPE_BF16}, {SC_TYPE_BF16, SC_TYPE_F16},
        {SC_TYPE_F32, SC_TYPE_F32},  {SC_TYPE_F16, SC_TYPE_F16},  {SC_TYPE_BF16, SC_TYPE_BF16},
        {SC_TYPE_I32, SC_TYPE_I32},
    };
    static const int64_t strided_ne[4] = SHAPE(33, 5, 2, 1);
    static const int64_t contig_ne[][4] = {SHAPE(1, 1, 1, 1), SHAPE(4097, 3, 1, 1), SHAPE(7, 3, 2, 2)};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        for (int layout = 0; layout < 4; layout++) add_cpy(l, strided_ne, pairs[i][0], pairs[i][1], layout, 1.0f);
        for (size_t s = 0; s < sizeof contig_ne / sizeof contig_ne[0]; s++)
            add_cpy(l, contig_ne[s], pairs[i][0], pairs[i][1], 0, 1.0f);
    }
    /* rounding at the ends of the 16-bit ranges: f16 subnormals (< 6.1e-5)
     * and large magnitudes (f16 max 65504) */
    static const int64_t ne[4] = SHAPE(1000, 2, 1, 1);
    add_cpy(l, ne, SC_TYPE_F32, SC_TYPE_F16, 0, 1e-4f);
    add_cpy(l, ne, SC_TYPE_F32, SC_TYPE_BF16, 0, 1e-4f);
    add_cpy(l, ne, SC_TYPE_F32, SC_TYPE_F16, 1, 60000.0f);
    add_cpy(l, ne, SC_TYPE_F32, SC_TYPE_BF16, 0, 1e30f);
    add_cpy(l, ne, SC_TYPE_BF16, SC_TYPE_F16, 0, 1e-4f);
}

/* ---- GET_ROWS: table [D, V] (layout view[1]), ids i32 [n] -> f32 [D, n] -- */
static sc_tensor *build_get_rows(bo_env *e, const bo_case *c) {
    const bo_p_get_rows *p = &c->p.gr;
    sc_tensor *table = bo_leaf_weight(e, &p->w, p->D, p->V, 1, 1, c->view[1]);
    int32_t *ids = malloc((size_t)p->n * sizeof *ids);
    if (!ids) {
        e->err = SC_ENOMEM;
        return NULL;
    }
    for (int64_t i = 0; i < p->n; i++) ids[i] = (int32_t)bo_randint(e, p->V);
    ids[0] = (int32_t)p->V - 1; /* the last row: reading past the table shows */
    if (p->n > 2) ids[p->n - 1] = ids[1]; /* a repeated id */
    sc_tensor *tids = bo_leaf_i32(e, 1, &p->n, ids);
    free(ids);
    return sc_get_rows(e->ctx, table, tids);
}

static bo_case *add_get_rows(bo_list *l, bo_wtype w, int64_t D, int64_t V, int64_t n) {
    bo_case *c = bo_list_add(l, SC_OP_GET_ROWS, build_get_rows, BO_EXACT);
    if (!c) return NULL;
    c->p.gr = (bo_p_get_rows){w, D, V, n};
    char wn[32];
    bo_case_name(c, "type=%s,D=%lld,V=%lld,n=%lld", bo_wtype_name(&w, wn, sizeof wn), (long long)D, (long long)V,
                 (long long)n);
    return c;
}

static void cases_get_rows(bo_list *l) {
    static const int32_t dense[] = {SC_TYPE_F32, SC_TYPE_F16, SC_TYPE_BF16};
    static const int64_t Ds[] = {1, 7, 64, 4097};
    for (size_t t = 0; t < 3; t++) {
        for (size_t d = 0; d < sizeof Ds / sizeof Ds[0]; d++) {
            add_get_rows(l, (bo_wtype){.type = dense[t]}, Ds[d], 10, 5);
            add_get_rows(l, (bo_wtype){.type = dense[t]}, Ds[d], 100, 1);
        }
    }
    static const uint32_t bits[] = {2, 3, 4, 8};
    for (size_t b = 0; b < 4; b++)
        for (int g = 0; g < 2; g++)
            add_get_rows(l, bo_qg(bits[b], 32, g, false), 128, 16, 4);
    add_get_rows(l, bo_qg(4, 128, false, false), 4097, 8, 3);
    add_get_rows(l, bo_qg(4, 128, true, false), 2048, 8, 3);
    add_get_rows(l, bo_qg(3, 0, false, false), 257, 5, 6);
    add_get_rows(l, bo_qg(8, 64, true, false), 333, 7, 2);
    add_get_rows(l, bo_qg(2, 64, false, false), 31, 9, 1);
    add_get_rows(l, bo_qg(4, 32, false, true), 128, 16, 4);
    add_get_rows(l, bo_qg(8, 128, true, true), 333, 7, 3);
    /* a table whose rows are slices of wider rows */
    bo_case_views(add_get_rows(l, bo_dense(SC_TYPE_F32), 33, 10, 5), BO_CONTIG, "", BO_SLICE, "table");
    bo_case_views(add_get_rows(l, bo_dense(SC_TYPE_F16), 64, 10, 3), BO_CONTIG, "", BO_SLICE, "table");
    bo_case_views(add_get_rows(l, bo_dense(SC_TYPE_BF16), 4097, 5, 2), BO_CONTIG, "", BO_SLICE, "table");
}

void bo_cases_select(bo_list *l) {
    cases_top_k_argmax(l);
    cases_cpy(l);
    cases_get_rows(l);
}

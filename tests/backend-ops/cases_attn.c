/*
 * tests/backend-ops/cases_attn.c - the paged KV cache: kv_write, attention.
 *
 * Layout (strixcore.h): cache [head_dim, n_kv_heads, block_size, n_blocks],
 * block_table i32 [max_blocks, n_seqs], pos and seq i32 [n_tokens].
 * Every case gives the sequences blocks drawn from a shuffled pool with three
 * spare blocks, so the table is neither contiguous nor ordered and the cache
 * holds random data where no query may look: reading the wrong block shows.
 * Tokens of two sequences are interleaved in the batch.
 *
 * Error bounds:
 *  - KV_WRITE: exact. It stores f32 rounded to the cache type (nearest even).
 *    The whole cache is compared, so a write to a wrong slot shows too.
 *  - ATTENTION with an f32 cache: 1e-6 (online vs two-pass softmax and the
 *    order of the sums only).
 *  - ATTENTION with an f16/bf16 cache: 5e-4, ggml's bound for flash
 *    attention: a backend may round q and the softmax weights to the cache
 *    type to use 16-bit dot products, and accumulate in f16 on GPUs.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bo.h"

static int64_t max_blocks(const bo_p_paged *p) {
    int64_t m = p->ctx[0];
    if (p->n_seqs > 1 && p->ctx[1] > m) m = p->ctx[1];
    return (m + p->block - 1) / p->block;
}

/* Block table, positions and sequence ids for the new tokens: sequence s
 * gets positions ctx[s] - new_tok[s] .. ctx[s] - 1. */
bool bo_make_paged(bo_env *e, const bo_p_paged *p, bo_paged *in) {
    int64_t mb = max_blocks(p);
    in->n_blocks = p->n_seqs * mb + 3;
    in->n_tokens = p->new_tok[0] + (p->n_seqs > 1 ? p->new_tok[1] : 0);
    int32_t *pool = malloc((size_t)in->n_blocks * sizeof *pool);
    int32_t *pos = malloc((size_t)in->n_tokens * sizeof *pos);
    int32_t *seq = malloc((size_t)in->n_tokens * sizeof *seq);
    if (!pool || !pos || !seq) {
        free(pool);
        free(pos);
        free(seq);
        e->err = SC_ENOMEM;
        return false;
    }
    for (int64_t i = 0; i < in->n_blocks; i++) pool[i] = (int32_t)i;
    bo_shuffle_i32(e, pool, in->n_blocks);

    /* round-robin over the sequences until each has its tokens */
    int64_t done[2] = {0, 0}, t = 0;
    while (t < in->n_tokens) {
        for (int s = 0; s < p->n_seqs; s++) {
            if (done[s] == p->new_tok[s]) continue;
            pos[t] = (int32_t)(p->ctx[s] - p->new_tok[s] + done[s]);
            seq[t] = s;
            done[s]++;
            t++;
        }
    }
    int64_t bt_ne[2] = {mb, p->n_seqs};
    in->bt = bo_leaf_i32(e, 2, bt_ne, pool);
    in->pos = bo_leaf_i32(e, 1, &in->n_tokens, pos);
    in->seq = p->use_seq ? bo_leaf_i32(e, 1, &in->n_tokens, seq) : NULL;
    free(pool);
    free(pos);
    free(seq);
    return true;
}

static sc_tensor *cache_leaf(bo_env *e, const bo_p_paged *p, int64_t n_blocks) {
    int64_t ne[4] = {p->hd, p->n_kv, p->block, n_blocks};
    return bo_leaf_uniform(e, (sc_type)p->cache, 4, ne, -1.0f, 1.0f);
}

/* ---- KV_WRITE: src f32 [hd, n_kv, n_tokens] (layout view[0]) into the cache */
static sc_tensor *build_kv_write(bo_env *e, const bo_case *c) {
    const bo_p_paged *p = &c->p.pg;
    bo_paged in;
    if (!bo_make_paged(e, p, &in)) return NULL;
    sc_tensor *cache = cache_leaf(e, p, in.n_blocks);
    int64_t ne[4] = {p->hd, p->n_kv, in.n_tokens, 1};
    sc_tensor *src = bo_leaf_view(e, SC_TYPE_F32, ne, c->view[0], -1.0f, 1.0f);
    return sc_kv_write(e->ctx, cache, src, in.bt, in.pos, in.seq);
}

/* ---- ATTENTION: q f32 [hd, n_heads, n_tokens] (layout view[0]) -> f32 [hd, n_heads, n_tokens]
 * with_write: the new tokens' k and v are written by kv_write in the same
 * graph, and attention reads the caches through those nodes. */
static sc_tensor *build_attention(bo_env *e, const bo_case *c) {
    const bo_p_paged *p = &c->p.pg;
    bo_paged in;
    if (!bo_make_paged(e, p, &in)) return NULL;
    int64_t qne[4] = {p->hd, p->n_heads, in.n_tokens, 1};
    /* |q| up to 2 gives logits of std ~1.3 after the 1/sqrt(hd) scale: a
     * softmax that is neither flat nor one-hot */
    sc_tensor *q = bo_leaf_view(e, SC_TYPE_F32, qne, c->view[0], -2.0f, 2.0f);
    sc_tensor *k = cache_leaf(e, p, in.n_blocks);
    sc_tensor *v = cache_leaf(e, p, in.n_blocks);
    if (p->with_write) {
        int64_t ne[3] = {p->hd, p->n_kv, in.n_tokens};
        sc_tensor *k_new = bo_leaf_uniform(e, SC_TYPE_F32, 3, ne, -1.0f, 1.0f);
        sc_tensor *v_new = bo_leaf_uniform(e, SC_TYPE_F32, 3, ne, -1.0f, 1.0f);
        k = sc_kv_write(e->ctx, k, k_new, in.bt, in.pos, in.seq);
        v = sc_kv_write(e->ctx, v, v_new, in.bt, in.pos, in.seq);
    }
    float scale = 1.0f / sqrtf((float)p->hd);
    return sc_attention(e->ctx, q, k, v, in.bt, in.pos, in.seq, scale);
}

/* ---- ATTENTION, then the output projection of its rows (q4g128 W [hd*H, 2*hd]):
 * the decode layer's attention -> o_proj. On Vulkan's int8-activation GEMV the
 * attention writes the int8 copy the projection reads ("shared x"). */
static sc_tensor *build_attn_oproj(bo_env *e, const bo_case *c) {
    sc_tensor *a = build_attention(e, c);
    if (!a) return NULL;
    const int64_t K = a->ne[0] * a->ne[1], T = a->ne[2], ne2[2] = {K, T};
    const bo_wtype w = bo_qg(4, 128, false, false);
    sc_tensor *wo = bo_leaf_weight(e, &w, K, 2 * a->ne[0], 1, 1, BO_CONTIG);
    return sc_mul_mat(e->ctx, wo, sc_reshape(e->ctx, a, 2, ne2));
}

static bo_case *add_paged(bo_list *l, int32_t op, bo_p_paged pg) {
    double bound = op == SC_OP_KV_WRITE ? BO_EXACT : pg.cache == SC_TYPE_F32 ? 1e-6 : 5e-4;
    bo_case *c = bo_list_add(l, op, op == SC_OP_KV_WRITE ? build_kv_write : build_attention, bound);
    if (!c) return NULL;
    c->p.pg = pg;
    char seqs[96];
    if (pg.n_seqs > 1)
        snprintf(seqs, sizeof seqs, "ctx=[%lld,%lld],new=[%lld,%lld]", (long long)pg.ctx[0], (long long)pg.ctx[1],
                 (long long)pg.new_tok[0], (long long)pg.new_tok[1]);
    else
        snprintf(seqs, sizeof seqs, "ctx=[%lld],new=[%lld]", (long long)pg.ctx[0], (long long)pg.new_tok[0]);
    char heads[32] = "";
    if (op == SC_OP_ATTENTION) snprintf(heads, sizeof heads, "heads=%lld,", (long long)pg.n_heads);
    bo_case_name(c, "hd=%lld,%skv_heads=%lld,block=%lld,kv=%s,%s,seq=%s%s", (long long)pg.hd, heads,
                 (long long)pg.n_kv, (long long)pg.block, sc_type_name(pg.cache), seqs, pg.use_seq ? "ids" : "null",
                 pg.with_write ? ",kv_write" : "");
    return c;
}

static bo_p_paged paged(int64_t hd, int64_t n_kv, int64_t gqa, int64_t block, int32_t cache, int n_seqs,
                        int64_t ctx0, int64_t new0, int64_t ctx1, int64_t new1) {
    return (bo_p_paged){.hd = hd, .n_kv = n_kv, .n_heads = n_kv * gqa, .block = block, .cache = cache,
                        .n_seqs = n_seqs, .use_seq = n_seqs > 1, .ctx = {ctx0, ctx1}, .new_tok = {new0, new1}};
}

void bo_cases_attn(bo_list *l) {
    static const int32_t caches[] = {SC_TYPE_F32, SC_TYPE_F16, SC_TYPE_BF16};

    for (size_t ci = 0; ci < 3; ci++) {
        int32_t ct = caches[ci];
        add_paged(l, SC_OP_KV_WRITE, paged(64, 2, 1, 16, ct, 1, 7, 7, 0, 0));       /* prefill from empty */
        add_paged(l, SC_OP_KV_WRITE, paged(128, 8, 1, 16, ct, 2, 37, 1, 20, 1));   /* decode, two sequences */
        add_paged(l, SC_OP_KV_WRITE, paged(64, 1, 1, 1, ct, 2, 9, 4, 4, 2));       /* one token per block */
        add_paged(l, SC_OP_KV_WRITE, paged(128, 4, 1, 32, ct, 2, 70, 5, 33, 33));  /* crosses block edges */
    }
    /* k and v sliced out of a fused projection, or read through a permute */
    bo_case_views(add_paged(l, SC_OP_KV_WRITE, paged(64, 2, 1, 16, SC_TYPE_F16, 2, 20, 3, 9, 2)), BO_SLICE, "src",
                  BO_CONTIG, "");
    bo_case_views(add_paged(l, SC_OP_KV_WRITE, paged(64, 2, 1, 16, SC_TYPE_F32, 2, 20, 3, 9, 2)), BO_PERM, "src",
                  BO_CONTIG, "");

    /* every GQA ratio x head_dim x cache type; block size and the sequences'
     * shape vary along with them */
    static const int64_t gqas[] = {1, 2, 4, 8};
    static const int64_t hds[] = {64, 128};
    static const int64_t blocks[] = {16, 32, 1, 256};
    static const int64_t seqcfg[][4] = {{37, 1, 20, 4}, {100, 2, 3, 3}, {17, 1, 64, 1}};
    int i = 0;
    for (size_t g = 0; g < 4; g++) {
        for (size_t h = 0; h < 2; h++) {
            for (size_t ci = 0; ci < 3; ci++, i++) {
                const int64_t *s = seqcfg[i % 3];
                int64_t n_kv = gqas[g] == 8 ? 1 : 2;
                add_paged(l, SC_OP_ATTENTION,
                          paged(hds[h], n_kv, gqas[g], blocks[i % 4], caches[ci], 2, s[0], s[1], s[2], s[3]));
            }
        }
    }
    bo_p_paged pg = paged(128, 2, 4, 16, SC_TYPE_F16, 1, 13, 13, 0, 0);    /* prefill, seq NULL */
    add_paged(l, SC_OP_ATTENTION, pg);
    pg = paged(64, 4, 1, 16, SC_TYPE_F32, 1, 600, 1, 0, 0);                 /* a long decode */
    add_paged(l, SC_OP_ATTENTION, pg);
    pg = paged(128, 2, 8, 32, SC_TYPE_BF16, 1, 257, 3, 0, 0);
    add_paged(l, SC_OP_ATTENTION, pg);
    pg = paged(128, 2, 4, 16, SC_TYPE_F16, 2, 1, 1, 5, 5);                  /* a sequence at position 0 */
    add_paged(l, SC_OP_ATTENTION, pg);

    pg = paged(128, 2, 4, 16, SC_TYPE_F16, 2, 48, 16, 30, 9);               /* two prompts' chunks */
    add_paged(l, SC_OP_ATTENTION, pg);
    pg = paged(64, 2, 2, 16, SC_TYPE_F32, 2, 30, 4, 12, 2);
    bo_case_views(add_paged(l, SC_OP_ATTENTION, pg), BO_SLICE, "q", BO_CONTIG, "");
    pg.cache = SC_TYPE_F16;
    bo_case_views(add_paged(l, SC_OP_ATTENTION, pg), BO_PERM, "q", BO_CONTIG, "");

    /* attention -> the output projection (decode; int8 copy from the attention on Vulkan) */
    static const struct { int64_t hd, n_kv, gqa; int32_t cache; int n_seqs; int64_t c0, n0, c1, n1; } oproj[] = {
        {128, 2, 4, SC_TYPE_F16, 1, 37, 1, 0, 0}, {64, 4, 2, SC_TYPE_F32, 2, 20, 1, 9, 1}, {128, 1, 8, SC_TYPE_BF16, 1, 5, 1, 0, 0},
    };
    for (size_t oi = 0; oi < sizeof oproj / sizeof oproj[0]; oi++) {
        pg = paged(oproj[oi].hd, oproj[oi].n_kv, oproj[oi].gqa, 16, oproj[oi].cache, oproj[oi].n_seqs, oproj[oi].c0,
                   oproj[oi].n0, oproj[oi].c1, oproj[oi].n1);
        bo_case *c = bo_list_add(l, SC_OP_MUL_MAT, build_attn_oproj, 1e-4);
        if (!c) continue;
        c->p.pg = pg;
        bo_case_name(c, "dp4_attn_oproj(hd=%lld,heads=%lld,kv_heads=%lld,kv=%s,tokens=%lld)", (long long)pg.hd,
                     (long long)pg.n_heads, (long long)pg.n_kv, sc_type_name(pg.cache),
                     (long long)(pg.new_tok[0] + (pg.n_seqs > 1 ? pg.new_tok[1] : 0)));
    }

    /* kv_write then attention in one graph */
    for (size_t ci = 0; ci < 3; ci++) {
        pg = paged(64, 2, 2, 16, caches[ci], 2, 21, 3, 9, 1);
        pg.with_write = 1;
        add_paged(l, SC_OP_ATTENTION, pg);
        pg = paged(128, 2, 4, 1, caches[ci], 1, 6, 6, 0, 0);
        pg.with_write = 1;
        add_paged(l, SC_OP_ATTENTION, pg);
    }
}

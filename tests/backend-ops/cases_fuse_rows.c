/*
 * tests/backend-ops/cases_fuse_rows.c - the chains the Vulkan row fusers take
 * (backends/vulkan/vk_fuse_rows.c), built the way core/src/model_qwen3.c
 * builds them, each compared at its last node:
 *
 *   fuse_norm_rope(q,...)  x = reshape(MUL_MAT(wq, h)) -> RMS_NORM(x, q_norm) -> ROPE
 *   fuse_norm_rope(k,...)  the same -> KV_WRITE into a paged cache: the whole
 *                          cache is compared
 *   fuse_norm_rope(ky,...) the K chain whose ROPE result is also read outside
 *                          it (by an ATTENTION with it as q): the group stops
 *                          at the ROPE, whose result it writes
 *   fuse_norm_rope(layer,...) q and k chains, the v KV_WRITE and ATTENTION
 *   fuse_moe_route(norm|plain,...)  SOFTMAX -> TOP_K -> MUL_MAT_ID over the
 *                          one-hot "moe_eye" stack [-> SOFTMAX of the k
 *                          (norm_topk_prob)]; "+ids" cases ADD the weights
 *                          and a GET_ROWS by the ids, so wrong ids show;
 *                          "+p" cases also ADD p, read outside the group
 *
 * Run on Vulkan with STRIXCORE_VK_FUSE_LOG=1 the fuser logs one "fused
 * NAME: N nodes ..." line per group; the ctests (tests/backend-ops/
 * CMakeLists.txt) require one, of the right size, before every case's
 * result; they run backend-ops with `--log info` so those lines show.
 *
 * Error bounds: ROPE's (1e-6: two correct angle roundings differ by an ulp of
 * theta) for the rotated heads; 1e-8 for the cache they go to (compared
 * whole: everything but the new rows must match exactly, and an f16/bf16
 * element of them rounds the other way only once in a while); ATTENTION's (1e-5 over
 * an f32 cache, 5e-4 over f16/bf16, as cases_attn.c) for the layer; 1e-7 for
 * the routing weights (softmax: f32 sums in another order).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bo.h"

#define NMSE_ROPE 1e-6
#define NMSE_CACHE 1e-8 /* the whole cache is compared: most of it must match exactly */
#define NMSE_ROUTE 1e-7

/* ---- parameters: kept in the case's union (bo.h has no slot of ours) -------------- */
enum { NR_Q, NR_K, NR_KY, NR_LAYER };
enum { SRC_MM, SRC_SLICE, SRC_PERM }; /* where the heads come from: a projection, or a strided leaf */

typedef struct nr_p {
    int32_t kind, src;
    int32_t hd, H, Hkv, n_rot; /* H: q heads (the chain's heads for q, layer); Hkv: k/v heads */
    float base;
    int32_t cache, block, n_seqs;
    int32_t ctx[2], new_tok[2]; /* sequence s gets positions ctx[s] - new_tok[s] .. ctx[s] - 1 */
} nr_p;

typedef struct mr_p {
    int32_t E, k, T;
    int32_t norm;  /* norm_topk_prob: gather the logits and renormalise */
    int32_t ties;  /* > 0: logits drawn from this many levels only */
    int32_t tail;  /* 0: end at the weights; 1: + get_rows by ids; 2: also + p */
    int32_t mm;    /* logits = MUL_MAT(router, h) instead of a leaf */
    float amp;
} mr_p;

_Static_assert(sizeof(nr_p) <= sizeof(((bo_case *)0)->p) && sizeof(mr_p) <= sizeof(((bo_case *)0)->p),
               "parameters must fit the case's union");

static nr_p nr_of(const bo_case *c) {
    nr_p p;
    memcpy(&p, &c->p, sizeof p);
    return p;
}

static mr_p mr_of(const bo_case *c) {
    mr_p p;
    memcpy(&p, &c->p, sizeof p);
    return p;
}

/* ---- norm_rope ---------------------------------------------------------------------- */

/* The chain's paged cache inputs (bo_make_paged); seq only with two sequences. */
static bool make_paged(bo_env *e, const nr_p *p, bo_paged *out) {
    const bo_p_paged pg = {
        .hd = p->hd, .n_kv = p->Hkv, .block = p->block, .cache = p->cache, .n_seqs = p->n_seqs,
        .use_seq = p->n_seqs > 1, .ctx = {p->ctx[0], p->ctx[1]}, .new_tok = {p->new_tok[0], p->new_tok[1]},
    };
    return bo_make_paged(e, &pg, out);
}

/* [hd, n_heads, T] heads: reshape(MUL_MAT(w [16, n_heads * hd], h [16, T])) as
 * the model's projection, or a strided leaf */
static sc_tensor *heads(bo_env *e, const nr_p *p, sc_tensor *h, int64_t n_heads, int64_t T) {
    if (p->src == SRC_MM) {
        const int64_t wne[2] = {16, n_heads * p->hd};
        sc_tensor *w = bo_leaf_uniform(e, SC_TYPE_F32, 2, wne, -0.5f, 0.5f);
        const int64_t ne[3] = {p->hd, n_heads, T};
        return sc_reshape(e->ctx, sc_mul_mat(e->ctx, w, h), 3, ne);
    }
    const int64_t ne[4] = {p->hd, n_heads, T, 1};
    return bo_leaf_view(e, SC_TYPE_F32, ne, p->src == SRC_SLICE ? BO_SLICE : BO_PERM, -1.0f, 1.0f);
}

/* model_qwen3.c qk_heads(): per-head RMSNorm, then RoPE */
static sc_tensor *qk_chain(bo_env *e, const nr_p *p, sc_tensor *h, int64_t n_heads, const bo_paged *pg) {
    sc_tensor *x = heads(e, p, h, n_heads, pg->n_tokens);
    const int64_t wne[1] = {p->hd};
    sc_tensor *w = bo_leaf_uniform(e, SC_TYPE_F32, 1, wne, 0.5f, 1.5f);
    return sc_rope(e->ctx, sc_rms_norm(e->ctx, x, w, 1e-6f), pg->pos, p->n_rot, p->base);
}

static sc_tensor *cache_leaf(bo_env *e, const nr_p *p, int64_t n_blocks) {
    const int64_t ne[4] = {p->hd, p->Hkv, p->block, n_blocks};
    return bo_leaf_uniform(e, (sc_type)p->cache, 4, ne, -1.0f, 1.0f);
}

static sc_tensor *build_norm_rope(bo_env *e, const bo_case *c) {
    const nr_p p = nr_of(c);
    bo_paged pg;
    if (!make_paged(e, &p, &pg)) return NULL;
    const int64_t hne[2] = {16, pg.n_tokens};
    sc_tensor *h = bo_leaf_uniform(e, SC_TYPE_F32, 2, hne, -1.0f, 1.0f);
    const float scale = 1.0f / sqrtf((float)p.hd);
    switch (p.kind) {
    case NR_Q: return qk_chain(e, &p, h, p.H, &pg);
    case NR_K: {
        sc_tensor *cache = cache_leaf(e, &p, pg.n_blocks);
        return sc_kv_write(e->ctx, cache, qk_chain(e, &p, h, p.Hkv, &pg), pg.bt, pg.pos, pg.seq);
    }
    case NR_KY: { /* the rotated k is also the query: the KV_WRITE is not its only reader */
        sc_tensor *k = qk_chain(e, &p, h, p.Hkv, &pg);
        sc_tensor *kc = sc_kv_write(e->ctx, cache_leaf(e, &p, pg.n_blocks), k, pg.bt, pg.pos, pg.seq);
        return sc_attention(e->ctx, k, kc, cache_leaf(e, &p, pg.n_blocks), pg.bt, pg.pos, pg.seq, scale);
    }
    default: { /* a layer's attention: q and k chains, v written as it is */
        sc_tensor *q = qk_chain(e, &p, h, p.H, &pg);
        sc_tensor *k = qk_chain(e, &p, h, p.Hkv, &pg);
        sc_tensor *kc = sc_kv_write(e->ctx, cache_leaf(e, &p, pg.n_blocks), k, pg.bt, pg.pos, pg.seq);
        nr_p pv = p;
        pv.src = SRC_MM;
        sc_tensor *v = heads(e, &pv, h, p.Hkv, pg.n_tokens);
        sc_tensor *vc = sc_kv_write(e->ctx, cache_leaf(e, &p, pg.n_blocks), v, pg.bt, pg.pos, pg.seq);
        return sc_attention(e->ctx, q, kc, vc, pg.bt, pg.pos, pg.seq, scale);
    }
    }
}

static void add_norm_rope(bo_list *l, nr_p p) {
    static const char *const kinds[] = {"q", "k", "ky", "layer"};
    static const char *const srcs[] = {"mm", "slice", "perm"};
    double bound = p.kind == NR_K ? NMSE_CACHE : NMSE_ROPE;
    if (p.kind == NR_KY || p.kind == NR_LAYER) bound = p.cache == SC_TYPE_F32 ? 1e-5 : 5e-4;
    const int32_t op = p.kind == NR_Q ? SC_OP_ROPE : p.kind == NR_K ? SC_OP_KV_WRITE : SC_OP_ATTENTION;
    bo_case *c = bo_list_add(l, op, build_norm_rope, bound);
    if (!c) return;
    memcpy(&c->p, &p, sizeof p);
    char seqs[64];
    if (p.n_seqs > 1)
        snprintf(seqs, sizeof seqs, "ctx=[%d,%d],new=[%d,%d]", p.ctx[0], p.ctx[1], p.new_tok[0], p.new_tok[1]);
    else
        snprintf(seqs, sizeof seqs, "ctx=[%d],new=[%d]", p.ctx[0], p.new_tok[0]);
    snprintf(c->name, sizeof c->name, "fuse_norm_rope(%s,hd=%d,n_rot=%d,heads=%d,kv_heads=%d,base=%g,x=%s,kv=%s,block=%d,%s)",
             kinds[p.kind], p.hd, p.n_rot, p.H, p.Hkv, (double)p.base, srcs[p.src], sc_type_name(p.cache), p.block,
             seqs);
}

static nr_p nr(int32_t kind, int32_t hd, int32_t n_rot, int32_t H, int32_t Hkv, int32_t cache, int32_t block,
               int32_t n_seqs, int32_t ctx0, int32_t new0, int32_t ctx1, int32_t new1) {
    return (nr_p){.kind = kind, .src = SRC_MM, .hd = hd, .H = H, .Hkv = Hkv, .n_rot = n_rot, .base = 1000000.0f,
                  .cache = cache, .block = block, .n_seqs = n_seqs, .ctx = {ctx0, ctx1}, .new_tok = {new0, new1}};
}

static void cases_norm_rope(bo_list *l) {
    static const int32_t caches[] = {SC_TYPE_F16, SC_TYPE_BF16, SC_TYPE_F32};
    /* Q path: decode (one token, Qwen3's 32 x 128 heads at a long position),
     * two sequences, a prefill chunk, hd 64, partial rotary, strided inputs */
    add_norm_rope(l, nr(NR_Q, 128, 128, 32, 4, SC_TYPE_F16, 16, 1, 4000, 1, 0, 0));
    add_norm_rope(l, nr(NR_Q, 128, 128, 8, 2, SC_TYPE_F16, 16, 2, 37, 1, 900, 1));
    add_norm_rope(l, nr(NR_Q, 128, 128, 4, 2, SC_TYPE_F16, 16, 1, 21, 21, 0, 0));
    add_norm_rope(l, nr(NR_Q, 64, 64, 6, 2, SC_TYPE_F16, 16, 2, 70, 5, 33, 9));
    nr_p p = nr(NR_Q, 128, 64, 3, 1, SC_TYPE_F16, 16, 1, 300, 4, 0, 0);
    p.base = 10000.0f;
    add_norm_rope(l, p);
    p = nr(NR_Q, 64, 64, 4, 2, SC_TYPE_F16, 16, 1, 50, 3, 0, 0);
    p.src = SRC_SLICE;
    add_norm_rope(l, p);
    p.src = SRC_PERM;
    add_norm_rope(l, p);

    /* K path: every cache type, decode (at a long position, and in a small
     * cache where a wrong rounding shows) and prefill, hd 64 and 128 */
    for (int ci = 0; ci < 3; ci++) {
        add_norm_rope(l, nr(NR_K, 128, 128, 32, 4, caches[ci], 16, 1, 4000, 1, 0, 0));
        add_norm_rope(l, nr(NR_K, 128, 128, 32, 4, caches[ci], 8, 1, 12, 1, 0, 0));
        add_norm_rope(l, nr(NR_K, 128, 128, 16, 2, caches[ci], 16, 2, 70, 5, 33, 33)); /* crosses blocks */
        add_norm_rope(l, nr(NR_K, 64, 64, 8, 2, caches[ci], 1, 2, 9, 4, 4, 2));        /* a token per block */
    }
    p = nr(NR_K, 128, 32, 2, 2, SC_TYPE_BF16, 32, 1, 17, 17, 0, 0); /* partial rotary, prefill from 0 */
    p.base = 10000.0f;
    add_norm_rope(l, p);
    p = nr(NR_K, 64, 64, 2, 2, SC_TYPE_F16, 16, 2, 20, 3, 9, 2);
    p.src = SRC_SLICE;
    add_norm_rope(l, p);

    /* the K result read outside the group too */
    add_norm_rope(l, nr(NR_KY, 128, 128, 4, 4, SC_TYPE_F16, 16, 2, 21, 3, 9, 1));
    add_norm_rope(l, nr(NR_KY, 64, 64, 2, 2, SC_TYPE_F32, 16, 1, 6, 6, 0, 0));

    /* whole attention blocks: decode and prefill, GQA 4 and 8 */
    add_norm_rope(l, nr(NR_LAYER, 128, 128, 16, 4, SC_TYPE_F16, 16, 2, 40, 1, 25, 1));
    add_norm_rope(l, nr(NR_LAYER, 128, 128, 8, 1, SC_TYPE_BF16, 32, 1, 13, 13, 0, 0));
    add_norm_rope(l, nr(NR_LAYER, 64, 64, 4, 2, SC_TYPE_F32, 16, 2, 21, 3, 9, 2));
}

/* ---- moe_route ---------------------------------------------------------------------- */

static sc_tensor *reshape(bo_env *e, sc_tensor *a, int64_t n0, int64_t n1, int64_t n2) {
    const int64_t ne[3] = {n0, n1, n2};
    return sc_reshape(e->ctx, a, 3, ne);
}

/* moe_eye: the model's [E, 1, E] one-hot stack (model_weights.c) */
static sc_tensor *moe_eye(bo_env *e, int64_t E) {
    float *v = calloc((size_t)(E * E), sizeof *v);
    if (!v) {
        e->err = SC_ENOMEM;
        return NULL;
    }
    for (int64_t i = 0; i < E; i++) v[i * E + i] = 1.0f;
    const int64_t ne[3] = {E, 1, E};
    sc_tensor *t = bo_leaf_f32(e, 3, ne, v);
    free(v);
    if (t) {
        t->flags |= SC_TENSOR_WEIGHT | SC_TENSOR_ONE_HOT;
        sc_tensor_set_name(t, "moe_eye");
    }
    return t;
}

static sc_tensor *router_logits(bo_env *e, const mr_p *p) {
    const int64_t E = p->E, T = p->T;
    if (p->mm) { /* the router's projection: logits [E, T] */
        const int64_t wne[2] = {32, E}, hne[2] = {32, T};
        sc_tensor *w = bo_leaf_uniform(e, SC_TYPE_F32, 2, wne, -p->amp / 16, p->amp / 16);
        return sc_mul_mat(e->ctx, w, bo_leaf_uniform(e, SC_TYPE_F32, 2, hne, -1.0f, 1.0f));
    }
    float *v = malloc((size_t)(E * T) * sizeof *v);
    if (!v) {
        e->err = SC_ENOMEM;
        return NULL;
    }
    for (int64_t i = 0; i < E * T; i++) {
        if (p->ties > 1) /* few levels: many exact ties, ordered by index */
            v[i] = p->amp * (2.0f * (float)bo_randint(e, p->ties) / (float)(p->ties - 1) - 1.0f);
        else
            v[i] = bo_uniform(e, -p->amp, p->amp);
    }
    const int64_t ne[2] = {E, T};
    sc_tensor *t = bo_leaf_f32(e, 2, ne, v);
    free(v);
    return t;
}

/* model_qwen3.c moe()'s routing, then the tail that makes ids (and p) visible */
static sc_tensor *build_moe_route(bo_env *e, const bo_case *c) {
    const mr_p p = mr_of(c);
    const int64_t E = p.E, k = p.k, T = p.T;
    sc_tensor *logits = router_logits(e, &p);
    if (!logits) return NULL;
    sc_tensor *sm = sc_softmax(e->ctx, logits, 1.0f);                                 /* [T, E] */
    sc_tensor *ids = sc_top_k(e->ctx, sm, (int)k);                                    /* i32 [T, k] */
    sc_tensor *src = p.norm ? logits : sm;
    sc_tensor *w = sc_mul_mat_id(e->ctx, moe_eye(e, E), reshape(e, src, E, 1, T), ids); /* [T, k, 1] */
    if (p.norm) {
        w = sc_softmax(e->ctx, reshape(e, w, k, T, 1), 1.0f); /* [T, k] */
        if (!p.tail) return w; /* the model views it as [T, k, 1]; the runner compares the node */
        w = reshape(e, w, 1, k, T);
    }
    if (!p.tail || !w) return w;
    /* [Dt, k * T]: a leaf plus the weights (src[0] first: the graph walks the
     * routing chain before the tail, so its nodes stay consecutive, as the
     * model's early sc_graph_expand keeps them), plus rows of a table by ids */
    const int64_t Dt = p.tail == 2 ? E : 4, tne[2] = {Dt, E}, ane[2] = {Dt, k * T}, flat = k * T;
    sc_tensor *a = bo_leaf_uniform(e, SC_TYPE_F32, 2, ane, -0.01f, 0.01f);
    sc_tensor *out = sc_add(e->ctx, a, reshape(e, w, 1, flat, 1));
    sc_tensor *table = bo_leaf_uniform(e, SC_TYPE_F32, 2, tne, -0.01f, 0.01f);
    out = sc_add(e->ctx, out, sc_get_rows(e->ctx, table, sc_reshape(e->ctx, ids, 1, &flat)));
    return p.tail == 2 ? sc_add(e->ctx, out, sm) : out; /* p [E, T] broadcast over the k slots */
}

static void add_moe_route(bo_list *l, int32_t E, int32_t k, int32_t T, int32_t norm, int32_t ties, int32_t tail,
                          int32_t mm) {
    bo_case *c = bo_list_add(l, tail ? SC_OP_GET_ROWS : norm ? SC_OP_SOFTMAX : SC_OP_MUL_MAT_ID, build_moe_route,
                             NMSE_ROUTE);
    if (!c) return;
    const mr_p p = {.E = E, .k = k, .T = T, .norm = norm, .ties = ties, .tail = tail, .mm = mm, .amp = 4.0f};
    memcpy(&c->p, &p, sizeof p);
    char extra[64] = "";
    if (ties) snprintf(extra, sizeof extra, ",ties=%d", ties);
    snprintf(c->name, sizeof c->name, "fuse_moe_route(%s,E=%d,k=%d,T=%d,logits=%s%s%s)", norm ? "norm" : "plain", E, k,
             T, mm ? "mm" : "leaf", extra, tail == 2 ? ",+ids+p" : tail ? ",+ids" : "");
}

static void cases_moe_route(bo_list *l) {
    for (int norm = 1; norm >= 0; norm--) {
        add_moe_route(l, 128, 8, 1, norm, 0, 1, 1);   /* Qwen3-30B-A3B decode */
        add_moe_route(l, 128, 8, 1, norm, 0, 0, 1);   /* ending at the weights */
        add_moe_route(l, 128, 8, 7, norm, 0, 1, 1);   /* prefill */
        add_moe_route(l, 128, 8, 5, norm, 4, 1, 0);   /* four levels: ties by index */
        add_moe_route(l, 64, 6, 3, norm, 0, 1, 0);    /* DeepSeek-V2-Lite-like */
        add_moe_route(l, 60, 4, 9, norm, 0, 1, 0);    /* Qwen2-MoE-like: E not a power of two */
        add_moe_route(l, 512, 10, 2, norm, 0, 1, 0);  /* Qwen3-Next */
        add_moe_route(l, 512, 16, 3, norm, 16, 1, 0); /* the largest shapes, with ties */
        add_moe_route(l, 16, 16, 4, norm, 3, 1, 0);   /* k == E */
        add_moe_route(l, 32, 1, 3, norm, 0, 1, 0);    /* k == 1 */
        add_moe_route(l, 128, 8, 3, norm, 0, 2, 0);   /* p read outside the group */
    }
}

void bo_cases_fuse_rows(bo_list *l) {
    cases_norm_rope(l);
    cases_moe_route(l);
}
